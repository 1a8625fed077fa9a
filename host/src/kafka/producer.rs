//! The librdkafka producer shared by the sink and, with exactly-once, the offset store: its
//! delivery reports, sending with backpressure, and waiting until the broker acknowledged
//! everything.

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
    /// The first delivery that failed for good since the last flush: its topic and error.
    failed: Mutex<Option<(String, KafkaError)>>,
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
            if let Ok(mut failed) = self.failed.lock() {
                failed.get_or_insert_with(|| (message.topic().to_owned(), error.clone()));
            }
        }
    }
}

/// What went wrong producing to Kafka. Waits through outages happen inside [`Shared`]; what
/// reaches the caller is fatal for the stage that produced it: retrying cannot fix it, the
/// pipeline stops.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// A newer producer with the same `transactional.id` initialised its transactions: this
    /// one is a zombie, its open transaction was aborted and it may write nothing more.
    #[error(
        "fenced by another instance with transactional id {transactional_id}: it took over this \
         connector's transactions, so this instance stops without writing more ({reason}). Run \
         one instance per connector name, or give each instance its own producer.transactional.id"
    )]
    Fenced {
        transactional_id: String,
        reason: String,
    },
    /// The broker aborted the open transaction because it stayed open longer than
    /// `transaction.timeout.ms`.
    #[error(
        "the Kafka transaction was open for {open_ms} ms, longer than transaction.timeout.ms \
         ({timeout_ms} ms), and the broker aborted it ({reason}): none of its records is visible \
         to read_committed consumers and a restart sends them again. A snapshot is one \
         transaction: raise producer.transaction.timeout.ms (up to the broker's \
         transaction.max.timeout.ms, 15 minutes by default), or take the snapshot with \
         exactly.once.support=disabled"
    )]
    TransactionTimedOut {
        open_ms: u64,
        timeout_ms: u64,
        reason: String,
    },
    /// `transaction.timeout.ms` is above the broker's `transaction.max.timeout.ms`.
    #[error(
        "the broker refused transaction.timeout.ms={timeout_ms}: it is above the broker's \
         transaction.max.timeout.ms. Lower producer.transaction.timeout.ms or raise the broker's \
         transaction.max.timeout.ms ({reason})"
    )]
    TransactionTimeoutTooLong { timeout_ms: u64, reason: String },
    /// Anything else: the client could not be created, a record was refused, an operation
    /// failed for good.
    #[error("{0}")]
    Failed(String),
}

/// A producer and its transaction state, shared by the sink and the offset store.
pub struct Shared {
    pub producer: ThreadedProducer<Context>,
    /// `transactional.id` when there is one: records go in transactions.
    transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the broker lets a transaction stay open.
    transaction_timeout: Duration,
    /// When the open transaction began; `None` while none is open.
    open_since: Mutex<Option<Instant>>,
}

/// librdkafka's default `transaction.timeout.ms`.
const DEFAULT_TRANSACTION_TIMEOUT_MS: u64 = 60_000;

impl Shared {
    /// Creates the producer; a transactional one is initialised (which fences and aborts what
    /// an earlier run with the same `transactional.id` left open).
    pub fn create(config: &ClientConfig) -> Result<Arc<Shared>, ProduceError> {
        let producer: ThreadedProducer<Context> = config
            .create_with_context(Context::new(config))
            .map_err(|e| ProduceError::Failed(format!("cannot create the Kafka producer: {e}")))?;
        let transaction_timeout = Duration::from_millis(
            config
                .get("transaction.timeout.ms")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(DEFAULT_TRANSACTION_TIMEOUT_MS),
        );
        let shared = Shared {
            producer,
            transactional_id: config.get("transactional.id").map(str::to_owned),
            transaction_timeout,
            open_since: Mutex::new(None),
        };
        if shared.transactional_id.is_some() {
            shared.wait_for_broker("initialising transactions", || {
                shared.producer.init_transactions(Duration::from_secs(30))
            })?;
        }
        Ok(Arc::new(shared))
    }

    /// True with `transactional.id`: records go in transactions.
    pub fn transactional(&self) -> bool {
        self.transactional_id.is_some()
    }

    /// Opens a transaction unless one is open (transactional producers only).
    pub fn ensure_transaction(&self) -> Result<(), ProduceError> {
        if !self.transactional() || self.open_since().is_some() {
            return Ok(());
        }
        self.producer
            .begin_transaction()
            .map_err(|e| self.classify("cannot begin a Kafka transaction", &e))?;
        self.set_open_since(Some(Instant::now()));
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
                    if let Some(fatal) = self.fatal() {
                        return Err(fatal);
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
                    let what = format!("cannot send to topic {}", back.topic);
                    return Err(self.classify(&what, &error));
                }
            }
        }
    }

    /// Waits until the broker acknowledged every record sent so far, however long an
    /// outage lasts; then reports the first record it refused for good, if any.
    pub fn flush(&self) -> Result<(), ProduceError> {
        self.wait_for_broker("delivering records", || self.producer.flush(WAIT_REPORT))?;
        let failed = match self.producer.context().failed.lock() {
            Ok(mut failed) => failed.take(),
            Err(_) => {
                return Err(ProduceError::Failed(
                    "the delivery report lock is poisoned".into(),
                ));
            }
        };
        match failed {
            Some((topic, error)) => {
                let what = format!("Kafka did not accept a record: topic {topic}");
                Err(self.classify(&what, &error))
            }
            None => Ok(()),
        }
    }

    /// Commits the open transaction, opening (and so committing an empty one) if none is.
    pub fn commit_transaction(&self) -> Result<(), ProduceError> {
        self.ensure_transaction()?;
        let result = self.wait_for_broker("committing the transaction", || {
            self.producer.commit_transaction(WAIT_REPORT)
        });
        if let Err(problem) = result {
            // Leave nothing half-done: the records go again after a restart.
            let _ = self.producer.abort_transaction(Duration::from_secs(30));
            self.set_open_since(None);
            return Err(problem);
        }
        self.set_open_since(None);
        self.flush()
    }

    fn open_since(&self) -> Option<Instant> {
        self.open_since.lock().ok().and_then(|since| *since)
    }

    fn set_open_since(&self, value: Option<Instant>) {
        if let Ok(mut since) = self.open_since.lock() {
            *since = value;
        }
    }

    /// Runs `attempt` until it succeeds, as long as it fails only because the broker did not
    /// answer in time (an outage): each time out is logged and tried again, unless the
    /// producer has failed for good meanwhile (fenced), which no wait can mend.
    fn wait_for_broker(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Result<(), KafkaError>,
    ) -> Result<(), ProduceError> {
        loop {
            match attempt() {
                Ok(()) => return Ok(()),
                Err(error) if is_timeout(&error) => {
                    if let Some(fatal) = self.fatal() {
                        return Err(fatal);
                    }
                    tracing::warn!(%error, "waiting for the Kafka broker: {what}");
                }
                Err(error) => return Err(self.classify(what, &error)),
            }
        }
    }

    /// The producer's fatal error, if it has one (librdkafka raises one when it is fenced).
    fn fatal(&self) -> Option<ProduceError> {
        if let Some(problem) = self.producer.context().fatal() {
            return Some(ProduceError::Failed(problem));
        }
        let (code, reason) = self.producer.client().fatal_error()?;
        Some(self.explain(code, reason))
    }

    /// The error of a failed operation: the producer's fatal error when it has one, else
    /// what `error` says.
    fn classify(&self, what: &str, error: &KafkaError) -> ProduceError {
        if let Some(fatal) = self.fatal() {
            return fatal;
        }
        match error.rdkafka_error_code() {
            Some(code) if fencing(code) || code == RDKafkaErrorCode::InvalidTransactionTimeout => {
                self.explain(code, format!("{what}: {error}"))
            }
            _ => ProduceError::Failed(format!("{what}: {error}")),
        }
    }

    /// Names a fencing for what it is: the broker's abort of a transaction that outlived
    /// `transaction.timeout.ms` (which fences the producer's epoch too), or another instance
    /// with the same transactional id.
    fn explain(&self, code: RDKafkaErrorCode, reason: String) -> ProduceError {
        let timeout_ms = self.transaction_timeout.as_millis() as u64;
        if code == RDKafkaErrorCode::InvalidTransactionTimeout {
            return ProduceError::TransactionTimeoutTooLong { timeout_ms, reason };
        }
        let Some(transactional_id) = self.transactional_id.clone().filter(|_| fencing(code)) else {
            return ProduceError::Failed(format!("the Kafka producer failed for good: {reason}"));
        };
        match self.open_since().map(|since| since.elapsed()) {
            Some(open) if open >= self.transaction_timeout => ProduceError::TransactionTimedOut {
                open_ms: open.as_millis() as u64,
                timeout_ms,
                reason,
            },
            _ => ProduceError::Fenced {
                transactional_id,
                reason,
            },
        }
    }
}

/// The words of [`ProduceError::Fenced`] that survive its errors' wrapping as text.
const FENCED_WORDS: &str = "fenced by another instance with transactional id";

/// Whether an error's text (a connector's trace) says a producer was fenced.
pub fn names_fencing(text: &str) -> bool {
    text.contains(FENCED_WORDS)
}

/// Codes by which the broker or librdkafka say a newer epoch of the transactional id exists.
fn fencing(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Records of an uncommitted transaction have no committed offset: a restart sends
        // them again, so this transaction must not survive.
        if self.open_since().is_some() {
            let _ = self.producer.abort_transaction(Duration::from_secs(10));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fenced_error_is_recognised_in_its_text() {
        let fenced = ProduceError::Fenced {
            transactional_id: "tidemark-a".into(),
            reason: "Broker: Producer attempted an operation with an old epoch".into(),
        };
        assert!(names_fencing(&format!("sink: {fenced}")));
        assert!(!names_fencing(
            &ProduceError::Failed("the broker is away".into()).to_string()
        ));
    }
}
