//! A compacted topic read from its beginning and followed for as long as the worker runs
//! (Kafka Connect's `KafkaBasedLog`): every record is handed to the log's reader in order, and
//! a write can wait until the reader has seen it (read-your-writes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::BaseRecord;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::ClusterError;
use crate::kafka::client::high_watermark;
use crate::kafka::{Admin, ClientSettings, Shared, TopicSettings};

/// What reads the log: each record's key and value (`None`: a tombstone), in order.
pub type Reader = Box<dyn FnMut(&str, Option<&[u8]>) + Send>;

/// How far the reader got: the next offset of each partition.
type Positions = Arc<(Mutex<Vec<i64>>, Condvar)>;

/// A followed topic and its producer.
pub struct TopicLog {
    topic: String,
    producer: Arc<Shared>,
    /// Asks the brokers for the partitions' ends.
    ends: BaseConsumer,
    positions: Positions,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl TopicLog {
    /// Creates the topic unless it exists, then follows it from its beginning on a thread
    /// of its own, handing each record to `reader`.
    pub fn open(
        kafka: &ClientSettings,
        topic: &str,
        creation: &TopicSettings,
        reader: Reader,
    ) -> Result<TopicLog, ClusterError> {
        let error = |reason: String| ClusterError::Topic {
            topic: topic.to_owned(),
            reason,
        };
        let admin =
            Admin::new(&kafka.client(&[("allow.auto.create.topics", "false")])).map_err(error)?;
        admin.create_topic(topic, creation).map_err(error)?;
        let partitions = admin
            .wait_for_partitions(topic, Instant::now() + super::READ_TIMEOUT)
            .map_err(error)?;
        let producer = Shared::create(&kafka.client(&[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("partitioner", "murmur2_random"),
        ]))
        .map_err(|e| error(e.to_string()))?;
        let consumer = |purpose: &str| -> Result<BaseConsumer, ClusterError> {
            kafka
                .client(&[
                    ("group.id", &format!("tidemark-{purpose}")),
                    ("enable.auto.commit", "false"),
                    ("isolation.level", "read_uncommitted"),
                    ("auto.offset.reset", "earliest"),
                ])
                .create()
                .map_err(|e| error(format!("cannot create a consumer: {e}")))
        };
        let tail = consumer("log-reader")?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions as i32 {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .map_err(|e| error(e.to_string()))?;
        }
        tail.assign(&assignment)
            .map_err(|e| error(format!("cannot read the topic: {e}")))?;
        let positions: Positions = Arc::new((Mutex::new(vec![0; partitions]), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name(format!("log-{topic}"))
            .spawn({
                let (positions, stop) = (positions.clone(), stop.clone());
                let topic = topic.to_owned();
                move || follow(tail, &topic, reader, &positions, &stop)
            })
            .map_err(|e| error(format!("cannot start its reader: {e}")))?;
        Ok(TopicLog {
            topic: topic.to_owned(),
            producer,
            ends: consumer("log-ends")?,
            positions,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    fn error(&self, reason: impl ToString) -> ClusterError {
        ClusterError::Topic {
            topic: self.topic.clone(),
            reason: reason.to_string(),
        }
    }

    /// Sends a record (`None`: a tombstone) without waiting for the broker.
    pub fn send(&self, key: &str, value: Option<&str>) -> Result<(), ClusterError> {
        let mut record = BaseRecord::<'_, str, str>::to(&self.topic).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        self.producer.send(record).map_err(|e| self.error(e))
    }

    /// Waits until the broker has every record sent.
    pub fn flush(&self) -> Result<(), ClusterError> {
        self.producer.flush().map_err(|e| self.error(e))
    }

    /// Waits until the reader has seen every record the topic holds now (and so every
    /// record this worker wrote before).
    pub fn read_to_end(&self, timeout: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        let (positions, seen) = &*self.positions;
        let count = positions.lock().map(|p| p.len()).unwrap_or(0);
        let mut ends = Vec::with_capacity(count);
        for partition in 0..count as i32 {
            ends.push(
                high_watermark(&self.ends, &self.topic, partition, deadline)
                    .map_err(|e| self.error(e))?,
            );
        }
        let mut guard = positions
            .lock()
            .map_err(|_| self.error("a reader panicked"))?;
        while guard.iter().zip(&ends).any(|(at, end)| at < end) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.error(format!(
                    "not read to its end within {timeout:?} (read up to {:?} of {ends:?})",
                    *guard
                )));
            }
            guard = seen
                .wait_timeout(guard, left)
                .map_err(|_| self.error("a reader panicked"))?
                .0;
        }
        Ok(())
    }

    /// Stops following the topic.
    pub fn close(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

/// The reader's thread: hands each record to `reader` and notes how far it got.
fn follow(
    tail: BaseConsumer,
    topic: &str,
    mut reader: Reader,
    positions: &Positions,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Acquire) {
        match tail.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(message)) => {
                if let Some(key) = message.key() {
                    reader(&String::from_utf8_lossy(key), message.payload());
                }
                let (at, seen) = &**positions;
                if let Ok(mut at) = at.lock()
                    && let Some(next) = at.get_mut(message.partition() as usize)
                {
                    *next = message.offset() + 1;
                }
                seen.notify_all();
            }
            Some(Err(error)) => tracing::warn!(%error, topic, "reading a worker topic"),
        }
    }
}
