//! The Kafka admin client: creating a topic unless it exists, waiting through an outage.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;

use super::producer::Context;

/// How a topic that does not exist yet is created.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSettings {
    /// `partitions`; -1 is the broker's default.
    pub partitions: i32,
    /// `replication.factor`; -1 is the broker's default.
    pub replication_factor: i32,
    /// Topic configs such as `cleanup.policy`.
    pub configs: BTreeMap<String, String>,
}

/// How long one CreateTopics request may take before it is tried again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An admin client, used from blocking code.
pub struct Admin {
    client: AdminClient<Context>,
}

/// Waits for a future on the calling thread. The admin client's futures are completed by its
/// own polling thread, so no async runtime is needed (the pipeline thread, where plugins run,
/// must not have one).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

impl Admin {
    /// An admin client with the given client settings.
    pub fn new(config: &ClientConfig) -> Result<Admin, String> {
        let client = config
            .create_with_context(Context::default())
            .map_err(|e| format!("cannot create the Kafka admin client: {e}"))?;
        Ok(Admin { client })
    }

    /// Creates a topic unless it exists. A broker that does not answer is waited for (with
    /// a warning every attempt); a refusal is an error naming the topic and the reason.
    pub fn create_topic(&self, topic: &str, settings: &TopicSettings) -> Result<(), String> {
        // Asking first spares a CreateTopics request (and its permission) for a topic that
        // exists, and works with brokers that cannot create topics.
        if self.exists(topic) {
            return Ok(());
        }
        let replication = TopicReplication::Fixed(settings.replication_factor);
        let mut new = NewTopic::new(topic, settings.partitions, replication);
        for (key, value) in &settings.configs {
            new = new.set(key, value);
        }
        let options = AdminOptions::new()
            .request_timeout(Some(REQUEST_TIMEOUT))
            .operation_timeout(Some(REQUEST_TIMEOUT));
        // Waits while the broker is away: 200 ms doubling to 5 s, with jitter.
        let mut waits = backon::BackoffBuilder::build(
            backon::ExponentialBuilder::new()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(5))
                .with_jitter()
                .without_max_times(),
        );
        loop {
            let answer = block_on(self.client.create_topics([&new], &options));
            let code = match answer {
                Ok(results) => match results.into_iter().next() {
                    Some(Ok(_)) | None => return Ok(()),
                    Some(Err((_, code))) => code,
                },
                Err(error) => match error.rdkafka_error_code() {
                    Some(code) => code,
                    None => return Err(format!("cannot create topic {topic}: {error}")),
                },
            };
            match code {
                RDKafkaErrorCode::TopicAlreadyExists => return Ok(()),
                RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::NotController
                | RDKafkaErrorCode::BrokerNotAvailable => {
                    tracing::warn!(topic, error = %code, "waiting for the Kafka broker to create a topic");
                    std::thread::sleep(waits.next().unwrap_or(Duration::from_secs(5)));
                }
                other => {
                    // A broker that may not create topics (no CreateTopics API, no ACL) is
                    // fine when the topic is there already.
                    if self.exists(topic) {
                        tracing::debug!(topic, error = %other, "topic not created, but it exists");
                        return Ok(());
                    }
                    return Err(format!(
                        "cannot create topic {topic} (partitions {}, replication factor {}): {other}",
                        settings.partitions, settings.replication_factor
                    ));
                }
            }
        }
    }
}

impl Admin {
    /// Whether the broker knows the topic.
    fn exists(&self, topic: &str) -> bool {
        self.client
            .inner()
            .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
            .is_ok_and(|m| {
                m.topics()
                    .iter()
                    .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            })
    }
}
