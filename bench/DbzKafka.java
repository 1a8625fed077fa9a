import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;

/**
 * Debezium 3.6.3's embedded engine writing its events to Kafka with the Java producer, as
 * Debezium Server's Kafka sink does (Kafka Connect's standalone worker cannot start from the
 * jars available here: see docs/kafka.md). Used by bench/kafka.sh.
 *
 * Usage: DbzKafka CONNECTOR.properties TOPIC
 *
 * The properties hold the connector's settings plus bootstrap.servers. TOPIC is created with
 * one partition first. Each batch is sent, every send acknowledged (acks=all, idempotent),
 * then the batch is marked processed so its offsets may be committed.
 */
public class DbzKafka {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (var r = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) {
            props.load(r);
        }
        String bootstrap = props.getProperty("bootstrap.servers");
        Properties client = new Properties();
        client.put("bootstrap.servers", bootstrap);
        try (Admin admin = Admin.create(client)) {
            admin.createTopics(List.of(new NewTopic(args[1], 1, (short) 1))).all().get();
        } catch (Exception e) {
            System.err.println("topic not created: " + e);
        }
        client.put("key.serializer", StringSerializer.class.getName());
        client.put("value.serializer", StringSerializer.class.getName());
        client.put("acks", "all");
        client.put("enable.idempotence", "true");
        KafkaProducer<String, String> producer = new KafkaProducer<>(client);

        props.putIfAbsent("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
        DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
                .using(props)
                .notifying((records, committer) -> {
                    List<Future<RecordMetadata>> sent = new ArrayList<>(records.size());
                    for (ChangeEvent<String, String> r : records) {
                        sent.add(producer.send(new ProducerRecord<>(r.destination(), r.key(), r.value())));
                    }
                    for (Future<RecordMetadata> f : sent) {
                        try {
                            f.get();
                        } catch (Exception e) {
                            throw new InterruptedException("send failed: " + e);
                        }
                    }
                    for (ChangeEvent<String, String> r : records) {
                        committer.markProcessed(r);
                    }
                    committer.markBatchFinished();
                })
                .build();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                engine.close();
                producer.close();
            } catch (Exception ignored) {
            }
        }));
        executor.shutdown();
        while (!executor.awaitTermination(1, java.util.concurrent.TimeUnit.SECONDS)) {
            // runs until killed
        }
    }
}
