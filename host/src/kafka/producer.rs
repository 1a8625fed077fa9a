//! The librdkafka producer shared by the sink and, with exactly-once, the offset store: its
//! delivery reports, sending with backpressure, and waiting until the broker acknowledged
//! everything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::security;

/// How often a wait for the broker says it is still waiting.
const WAIT_REPORT: Duration = Duration::from_secs(10);

/// Client callbacks: librdkafka's log and errors go to `tracing`; failed deliveries are
/// remembered until the next [`Shared::flush`] reports them, and a failure no wait can mend
/// (authentication, TLS handshake: see [`security::fatal_problem`]) until [`Context::fatal`]
/// is asked.
#[derive(Default)]
pub struct Context {
    /// The first delivery that failed for good since the last flush.
    failed: Mutex<Option<String>>,
    /// The first authentication or TLS failure.
    fatal: Mutex<Option<String>>,
    /// Who the client is, for that failure's error.
    identity: security::Identity,
}

impl Context {
    /// The context of a client with this config.
    pub fn new(config: &ClientConfig) -> Context {
        Context {
            identity: security::Identity {
                user: config.get("sasl.username").map(str::to_owned),
                mechanism: config.get("sasl.mechanism").map(str::to_owned),
            },
            ..Context::default()
        }
    }

    /// The authentication or TLS failure librdkafka reported, if any: the client cannot
    /// reach the broker until its settings change.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().ok().and_then(|f| f.clone())
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            // Errors also reach `error` below, which reports them once.
            RDKafkaLogLevel::Warning => tracing::warn!(facility = fac, "librdkafka: {log_message}"),
            _ => tracing::debug!(facility = fac, "librdkafka: {log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(problem) = security::fatal_problem(&error, reason, &self.identity) {
            tracing::error!("Kafka client: {problem}");
            if let Ok(mut fatal) = self.fatal.lock() {
                fatal.get_or_insert(problem);
            }
            return;
        }
        // Connection failures are retried by librdkafka; they are worth a warning, not a stop.
        tracing::warn!(%error, "Kafka client: {reason}");
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, message)) = result {
            use rdkafka::Message as _;
            let text = format!("topic {}: {error}", message.topic());
            if let Ok(mut failed) = self.failed.lock() {
                failed.get_or_insert(text);
            }
        }
    }
}

/// A producer and its transaction state, shared by the sink and the offset store.
pub struct Shared {
    pub producer: ThreadedProducer<Context>,
    /// True with `transactional.id`: records go in transactions.
    pub transactional: bool,
    /// A transaction is open.
    in_transaction: AtomicBool,
}

/// Failures of the producer, as text for the sink's and the store's errors.
pub type ProduceError = String;

impl Shared {
    /// Creates the producer; a transactional one is initialised (which fences and aborts what
    /// an earlier run with the same `transactional.id` left open).
    pub fn create(config: &ClientConfig) -> Result<Arc<Shared>, ProduceError> {
        let producer: ThreadedProducer<Context> = config
            .create_with_context(Context::new(config))
            .map_err(|e| format!("cannot create the Kafka producer: {e}"))?;
        let transactional = config.get("transactional.id").is_some();
        if transactional {
            wait_for_broker(producer.context(), "initialising transactions", || {
                producer.init_transactions(Duration::from_secs(30))
            })?;
        }
        Ok(Arc::new(Shared {
            producer,
            transactional,
            in_transaction: AtomicBool::new(false),
        }))
    }

    /// Opens a transaction unless one is open (transactional producers only).
    pub fn ensure_transaction(&self) -> Result<(), ProduceError> {
        if self.transactional && !self.in_transaction.load(Ordering::Acquire) {
            self.producer
                .begin_transaction()
                .map_err(|e| format!("cannot begin a Kafka transaction: {e}"))?;
            self.in_transaction.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Sends a record, waiting while the producer's queue is full: the queue's bound
    /// (`queue.buffering.max.messages`, `queue.buffering.max.kbytes`) is what stops the
    /// pipeline, and through it the source, while the broker is slow or away.
    pub fn send<K, P>(&self, mut record: BaseRecord<'_, K, P>) -> Result<(), ProduceError>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let mut waiting_since: Option<Instant> = None;
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    if let Some(problem) = self.producer.context().fatal() {
                        return Err(problem);
                    }
                    let since = *waiting_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= WAIT_REPORT {
                        tracing::warn!(
                            unacknowledged = self.producer.in_flight_count(),
                            "the Kafka producer's queue is full: waiting for the broker"
                        );
                        waiting_since = Some(Instant::now());
                    }
                    // The polling thread serves delivery reports meanwhile.
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, back)) => {
                    return Err(format!("cannot send to topic {}: {error}", back.topic));
                }
            }
        }
    }

    /// Waits until the broker acknowledged every record sent so far, however long an
    /// outage lasts; then reports the first record it refused for good, if any.
    pub fn flush(&self) -> Result<(), ProduceError> {
        wait_for_broker(self.producer.context(), "delivering records", || {
            self.producer.flush(WAIT_REPORT)
        })?;
        match self.producer.context().failed.lock() {
            Ok(mut failed) => match failed.take() {
                Some(problem) => Err(format!("Kafka did not accept a record: {problem}")),
                None => Ok(()),
            },
            Err(_) => Err("the delivery report lock is poisoned".into()),
        }
    }

    /// Commits the open transaction, opening (and so committing an empty one) if none is.
    pub fn commit_transaction(&self) -> Result<(), ProduceError> {
        self.ensure_transaction()?;
        let result = wait_for_broker(
            self.producer.context(),
            "committing the transaction",
            || self.producer.commit_transaction(WAIT_REPORT),
        );
        if let Err(problem) = result {
            // Leave nothing half-done: the records go again after a restart.
            let _ = self.producer.abort_transaction(Duration::from_secs(30));
            self.in_transaction.store(false, Ordering::Release);
            return Err(problem);
        }
        self.in_transaction.store(false, Ordering::Release);
        self.flush()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Records of an uncommitted transaction have no committed offset: a restart sends
        // them again, so this transaction must not survive.
        if self.in_transaction.load(Ordering::Acquire) {
            let _ = self.producer.abort_transaction(Duration::from_secs(10));
        }
    }
}

/// Runs `attempt` until it succeeds, as long as it fails only because the broker did not
/// answer in time (an outage): each time out is logged and tried again, unless the client
/// failed meanwhile in a way no wait can mend (see [`Context::fatal`]).
fn wait_for_broker(
    context: &Context,
    what: &str,
    mut attempt: impl FnMut() -> Result<(), KafkaError>,
) -> Result<(), ProduceError> {
    loop {
        match attempt() {
            Ok(()) => return Ok(()),
            Err(error) if is_timeout(&error) => {
                if let Some(problem) = context.fatal() {
                    return Err(problem);
                }
                tracing::warn!(%error, "waiting for the Kafka broker: {what}");
            }
            Err(error) => return Err(format!("{what}: {error}")),
        }
    }
}

fn is_timeout(error: &KafkaError) -> bool {
    if let KafkaError::Transaction(e) = error
        && e.is_retriable()
        && !e.txn_requires_abort()
    {
        return true;
    }
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::MessageTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
        )
    )
}
