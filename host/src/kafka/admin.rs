//! The Kafka admin client: creating a topic unless it exists, waiting through an outage.

use std::collections::BTreeMap;
use std::time::Duration;

use std::ffi::CStr;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
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

/// Waits for a future on the calling thread, calling `check` between polls: its error ends
/// the wait. The admin client's futures are completed by its own polling thread, so no async
/// runtime is needed (the pipeline thread, where plugins run, must not have one).
fn block_on<F: Future>(
    future: F,
    check: impl Fn() -> Result<(), String>,
) -> Result<F::Output, String> {
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
            return Ok(output);
        }
        check()?;
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

/// librdkafka's syslog level as rdkafka names it.
fn log_level(level: i32) -> RDKafkaLogLevel {
    match level {
        ..=0 => RDKafkaLogLevel::Emerg,
        1 => RDKafkaLogLevel::Alert,
        2 => RDKafkaLogLevel::Critical,
        3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}

/// Serves the events librdkafka puts on a client's main queue (errors, log lines), which
/// rdkafka's admin client never polls: without this a failed authentication would never
/// reach [`Context::error`], and the queue would grow for as long as the client lives.
fn serve_main_queue(client: &Client<Context>) {
    use rdkafka::bindings as rd;
    // SAFETY: the client (and so its handle) outlives this call; the queue reference from
    // rd_kafka_queue_get_main is released with rd_kafka_queue_destroy, each event polled
    // with rd_kafka_event_destroy, and the strings read from an event are copied before it
    // is destroyed.
    unsafe {
        let queue = rd::rd_kafka_queue_get_main(client.native_ptr());
        if queue.is_null() {
            return;
        }
        loop {
            let event = rd::rd_kafka_queue_poll(queue, 0);
            if event.is_null() {
                break;
            }
            match rd::rd_kafka_event_type(event) {
                rd::RD_KAFKA_EVENT_ERROR => {
                    let code: RDKafkaErrorCode = rd::rd_kafka_event_error(event).into();
                    let text = rd::rd_kafka_event_error_string(event);
                    let reason = if text.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(text).to_string_lossy().into_owned()
                    };
                    client.context().error(KafkaError::Global(code), &reason);
                }
                rd::RD_KAFKA_EVENT_LOG => {
                    let mut facility = std::ptr::null();
                    let mut text = std::ptr::null();
                    let mut level = 0;
                    if rd::rd_kafka_event_log(event, &mut facility, &mut text, &mut level) == 0
                        && !facility.is_null()
                        && !text.is_null()
                    {
                        let facility = CStr::from_ptr(facility).to_string_lossy().into_owned();
                        let text = CStr::from_ptr(text).to_string_lossy().into_owned();
                        client
                            .context()
                            .log(log_level(level), facility.trim(), text.trim());
                    }
                }
                _ => {}
            }
            rd::rd_kafka_event_destroy(event);
        }
        rd::rd_kafka_queue_destroy(queue);
    }
}

impl Admin {
    /// An admin client with the given client settings.
    pub fn new(config: &ClientConfig) -> Result<Admin, String> {
        let client = config
            .create_with_context(Context::new(config))
            .map_err(|e| format!("cannot create the Kafka admin client: {e}"))?;
        Ok(Admin { client })
    }

    /// Creates a topic unless it exists. A broker that does not answer is waited for (with
    /// a warning every attempt); a refusal is an error naming the topic and the reason.
    pub fn create_topic(&self, topic: &str, settings: &TopicSettings) -> Result<(), String> {
        // Asking first spares a CreateTopics request (and its permission) for a topic that
        // exists, and works with brokers that cannot create topics.
        if self.exists(topic)? {
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
            let answer = block_on(self.client.create_topics([&new], &options), || self.fatal())?;
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
                    self.fatal()?;
                    std::thread::sleep(waits.next().unwrap_or(Duration::from_secs(5)));
                }
                other => {
                    // A broker that may not create topics (no CreateTopics API, no ACL) is
                    // fine when the topic is there already.
                    if self.exists(topic)? {
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
    /// The failure that waiting will not mend (a wrong password or CA), if librdkafka
    /// reported one.
    fn fatal(&self) -> Result<(), String> {
        serve_main_queue(self.client.inner());
        match self.client.inner().context().fatal() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// How many partitions the topic has (0: the broker does not know it); `None` when the
    /// broker does not answer within [`REQUEST_TIMEOUT`]. Asked in short requests, so that a
    /// failure that waiting will not mend ends the wait.
    fn describe(&self, topic: &str) -> Result<Option<usize>, String> {
        let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            self.fatal()?;
            match self
                .client
                .inner()
                .fetch_metadata(Some(topic), Duration::from_secs(1))
            {
                Ok(m) => {
                    return Ok(Some(
                        m.topics()
                            .iter()
                            .find(|t| t.name() == topic && t.error().is_none())
                            .map_or(0, |t| t.partitions().len()),
                    ));
                }
                Err(_) if std::time::Instant::now() < deadline => {}
                Err(_) => return Ok(None),
            }
        }
    }

    /// How many partitions the topic has, once the brokers' metadata shows them, waiting
    /// until `deadline`: a topic created a moment ago may be unknown (or leaderless) for a
    /// while, and reading it then would read none of its partitions. A broker that does not
    /// answer is waited for too, with a warning.
    pub fn wait_for_partitions(
        &self,
        topic: &str,
        deadline: std::time::Instant,
    ) -> Result<usize, String> {
        let started = std::time::Instant::now();
        loop {
            match self.describe(topic)? {
                Some(count) if count > 0 => return Ok(count),
                Some(_) => {}
                None => tracing::warn!(topic, "waiting for the topic's metadata: no answer"),
            }
            if std::time::Instant::now() >= deadline {
                return Err(format!(
                    "topic {topic} shows no partitions in the brokers' metadata after {:?}: \
                     check that it exists and that its partitions have leaders",
                    started.elapsed()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many partitions the topic has (0: the broker does not know it).
    pub fn partitions(&self, topic: &str) -> Result<usize, String> {
        self.describe(topic)?.ok_or_else(|| {
            format!("cannot describe topic {topic}: no answer within {REQUEST_TIMEOUT:?}")
        })
    }

    /// Grows the topic to at least `total` partitions (a topic that has them already is
    /// left as it is).
    pub fn grow(&self, topic: &str, total: usize) -> Result<(), String> {
        if self.partitions(topic)? >= total {
            return Ok(());
        }
        let options = AdminOptions::new()
            .request_timeout(Some(REQUEST_TIMEOUT))
            .operation_timeout(Some(REQUEST_TIMEOUT));
        let new = rdkafka::admin::NewPartitions::new(topic, total);
        let answer = block_on(self.client.create_partitions([&new], &options), || {
            self.fatal()
        })?
        .map_err(|e| format!("cannot add partitions to topic {topic}: {e}"))?;
        match answer.into_iter().next() {
            Some(Err((_, code))) if self.partitions(topic)? < total => Err(format!(
                "cannot grow topic {topic} to {total} partitions: {code}"
            )),
            _ => Ok(()),
        }
    }

    /// Whether the broker knows the topic; false when it does not answer within
    /// [`REQUEST_TIMEOUT`].
    fn exists(&self, topic: &str) -> Result<bool, String> {
        Ok(self
            .describe(topic)?
            .is_some_and(|partitions| partitions > 0))
    }
}
