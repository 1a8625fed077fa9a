//! The pipeline: batches from a source run through the transform chain into the sink; every
//! `offset.flush.interval.ms` the sink is flushed, then the newest offset whose records are
//! all flushed is committed, then the source is told how far it may acknowledge.
//!
//! The pipeline runs on threads of its own (the plugins and the sink block), fed by a
//! bounded channel: when it falls behind, the source waits, and through it the database.
//! With transforms, one thread runs the chain and another writes to the sink, joined by a
//! second bounded channel, so that the chain of one batch runs while the batch before it is
//! serialized and written. Memory is bounded by the channels' capacities times the batch size.

pub mod config_docs;
pub mod connector;
pub mod control;
pub mod errors;
pub mod keys;
pub mod outputs;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::event::Record;
use crate::offsets::{OffsetError, OffsetMap, OffsetStore};
use crate::plugin::reload::{CANARY_RECORDS, Reloading};
use crate::plugin::{Chain, ChainCosts, PluginError};
use crate::sinks::{Sink, SinkError};
use crate::sources::metrics::{SourceMetrics, now_ms};
use crate::sources::{Batch, Checkpoint};
use errors::ErrorPolicy;

/// Batches waiting between the source and the pipeline.
pub const CHANNEL_BATCHES: usize = 4;

/// Transformed batches waiting between the transform thread and the sink thread.
const TRANSFORMED_BATCHES: usize = 2;

/// What stopped the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Transform(#[from] PluginError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Offsets(#[from] OffsetError),
    #[error("the pipeline thread failed: {0}")]
    Thread(String),
}

/// Settings of one pipeline.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// The connector's name, first part of its offset key.
    pub connector: String,
    /// The source partition, second part of its offset key.
    pub partition: OffsetMap,
    /// `offset.flush.interval.ms`.
    pub flush_interval: Duration,
    /// `errors.tolerance` and the dead-letter queue.
    pub errors: ErrorPolicy,
    /// Closed while the connector is paused.
    pub gate: control::Gate,
    /// The source's metrics, told which batches were acknowledged (for the lag).
    pub source: Option<Arc<SourceMetrics>>,
}

/// Counters of a pipeline, readable while it runs.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub records_in: std::sync::atomic::AtomicU64,
    pub records_out: std::sync::atomic::AtomicU64,
    pub commits: std::sync::atomic::AtomicU64,
    /// Reconnects of the source after retriable failures (the source counts them).
    pub reconnects: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The topics records were written to (Connect's active topics).
    pub topics: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Records a transform failed on under `errors.tolerance=all` (Debezium's erroneous
    /// events).
    pub erroneous: std::sync::atomic::AtomicU64,
    /// What each transform costs, counted across hot reloads.
    pub plugin_costs: Option<Arc<ChainCosts>>,
    /// Sink calls retried after a retriable failure (the sink counts them).
    pub sink_retries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// When the pipeline started, in ms since the epoch.
    pub started_ms: std::sync::atomic::AtomicI64,
    /// When offsets were last committed, in ms since the epoch (0: not yet).
    pub last_commit_ms: std::sync::atomic::AtomicI64,
}

impl PipelineStats {
    /// Notes the topics of `records`.
    fn saw_topics(&self, records: &[Record]) {
        let Ok(mut topics) = self.topics.lock() else {
            return;
        };
        let mut last: Option<&str> = None;
        for record in records {
            // Consecutive records mostly share a topic: look each run up once.
            if last != Some(record.topic.as_str()) && !topics.contains(&record.topic) {
                topics.insert(record.topic.clone());
            }
            last = Some(&record.topic);
        }
    }
}

/// The source's ends of a running pipeline.
pub struct PipelineInput {
    /// Send batches here; dropping it ends the pipeline after a final flush and commit.
    pub batches: flume::Sender<Batch>,
    /// The newest committed checkpoint; closed once the pipeline ended.
    pub committed: watch::Receiver<Option<Checkpoint>>,
}

/// A running pipeline.
pub struct Pipeline {
    pub stats: Arc<PipelineStats>,
    /// The thread that runs the transform chain, when there is one.
    transform: Option<std::thread::JoinHandle<Result<(), PipelineError>>>,
    /// The thread that writes to the sink and commits offsets.
    sink: std::thread::JoinHandle<Result<(), PipelineError>>,
}

impl Pipeline {
    /// Starts the pipeline's threads: the sink thread, and the transform thread when there
    /// is a chain (or hot reload may bring one).
    pub fn start(
        chain: Option<Chain>,
        reloading: Option<Reloading>,
        sink: Box<dyn Sink>,
        store: Box<dyn OffsetStore>,
        settings: PipelineSettings,
    ) -> Result<(Pipeline, PipelineInput), PipelineError> {
        let (batches, receiver) = flume::bounded(CHANNEL_BATCHES);
        let (committed_tx, committed) = watch::channel(None);
        let mut chain = chain;
        let costs = chain.as_ref().map(|c| Arc::new(c.new_costs()));
        if let (Some(chain), Some(costs)) = (chain.as_mut(), &costs) {
            chain.count_costs_in(costs.clone());
        }
        let stats = Arc::new(PipelineStats {
            plugin_costs: costs.clone(),
            sink_retries: sink.retries().unwrap_or_default(),
            started_ms: now_ms().into(),
            ..PipelineStats::default()
        });
        let transforms = chain.is_some() || reloading.is_some();
        let PipelineSettings {
            connector,
            partition,
            flush_interval,
            errors,
            gate,
            source,
        } = settings;
        let worker = Worker {
            sink,
            store,
            flush_interval,
            connector,
            partition,
            committed: committed_tx,
            stats: stats.clone(),
            count_in: !transforms,
            pending: None,
            gate,
            source,
            written: 0,
            pending_written: 0,
        };
        let spawn = |name: &str, run: Box<dyn FnOnce() -> Result<(), PipelineError> + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(run)
                .map_err(|e| PipelineError::Thread(e.to_string()))
        };
        let (transform, sink) = if transforms {
            let (transformed, transformed_rx) = flume::bounded(TRANSFORMED_BATCHES);
            let transformer = Transformer {
                chain,
                costs,
                reloading,
                errors,
                stats: stats.clone(),
            };
            let sink = spawn(
                "tidemark-pipeline",
                Box::new(move || worker.run(transformed_rx)),
            )?;
            let transform = spawn(
                "tidemark-transform",
                Box::new(move || transformer.run(receiver, transformed)),
            )?;
            (Some(transform), sink)
        } else {
            let sink = spawn("tidemark-pipeline", Box::new(move || worker.run(receiver)))?;
            (None, sink)
        };
        Ok((
            Pipeline {
                stats,
                transform,
                sink,
            },
            PipelineInput { batches, committed },
        ))
    }

    /// Waits for the pipeline to end: after every sender is dropped (with a final flush and
    /// commit), or on its own error. A transform error is reported before a sink error (a
    /// failed chain ends the sink thread too, after it flushed and committed what came
    /// before).
    pub fn join(self) -> Result<(), PipelineError> {
        let join = |thread: std::thread::JoinHandle<Result<(), PipelineError>>| {
            thread
                .join()
                .map_err(|_| PipelineError::Thread("a pipeline thread panicked".into()))?
        };
        let transformed = self.transform.map_or(Ok(()), join);
        let written = join(self.sink);
        transformed.and(written)
    }
}

/// A batch after the transform chain: the records to write, the dead letters of records
/// the chain failed on, and the source position after the batch.
#[derive(Debug)]
struct Transformed {
    records: Vec<Record>,
    dead_letters: Vec<Record>,
    checkpoint: Option<Checkpoint>,
}

impl From<Batch> for Transformed {
    fn from(batch: Batch) -> Transformed {
        Transformed {
            records: batch.records,
            dead_letters: Vec::new(),
            checkpoint: batch.checkpoint,
        }
    }
}

/// The transform thread: runs each batch through the chain, taking hot-reloaded chains
/// between batches.
struct Transformer {
    chain: Option<Chain>,
    /// Where every chain (the first, and each hot reload brings) counts its steps' costs.
    costs: Option<Arc<ChainCosts>>,
    /// New chains from hot reload, taken between batches.
    reloading: Option<Reloading>,
    errors: ErrorPolicy,
    stats: Arc<PipelineStats>,
}

impl Transformer {
    /// Transforms batches until every sender is gone or the sink thread has ended. No async
    /// runtime runs on this thread: WASI calls from plugins must not find one.
    fn run(
        mut self,
        receiver: flume::Receiver<Batch>,
        transformed: flume::Sender<Transformed>,
    ) -> Result<(), PipelineError> {
        for batch in receiver.iter() {
            let batch = self.transform(batch)?;
            if transformed.send(batch).is_err() {
                // The sink thread ended on an error of its own, which join reports.
                break;
            }
        }
        Ok(())
    }

    fn transform(&mut self, batch: Batch) -> Result<Transformed, PipelineError> {
        let Batch {
            records,
            checkpoint,
        } = batch;
        if let Some(reloading) = &self.reloading {
            // A swap happens here, between two batches: every record of a batch goes through
            // one version of each plugin.
            while let Ok(mut chain) = reloading.swaps.try_recv() {
                if let Some(costs) = &self.costs {
                    chain.count_costs_in(costs.clone());
                }
                self.chain = Some(chain);
            }
            if !records.is_empty()
                && let Ok(mut canary) = reloading.canary.lock()
            {
                canary.clear();
                canary.extend(records.iter().take(CANARY_RECORDS).cloned());
            }
        }
        self.stats
            .records_in
            .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let outcome = match &mut self.chain {
            Some(chain) if !records.is_empty() => errors::run(chain, records, &self.errors)?,
            _ => errors::Outcome {
                records,
                dead_letters: Vec::new(),
                failed: 0,
            },
        };
        self.stats
            .erroneous
            .fetch_add(outcome.failed, std::sync::atomic::Ordering::Relaxed);
        Ok(Transformed {
            records: outcome.records,
            dead_letters: outcome.dead_letters,
            checkpoint,
        })
    }
}

/// When the next commit is due: an interval from now, or, for a store that groups commits,
/// at the next multiple of the interval on the wall clock, so that the connectors of a worker
/// with the same `offset.flush.interval.ms` commit at the same moments and their commits share
/// a write instead of taking one each, spread over the interval. (Only there: connectors
/// whose offsets go to Kafka in a transaction keep their own schedules. With aligned
/// commits, a `read_committed` reader of an exactly-once connector's offsets topic stopped
/// reaching the partition's end in `tests/kafka_eos.rs`; the cause is not known yet.)
fn commit_due(interval: Duration, aligned: bool) -> Instant {
    if !aligned {
        return Instant::now() + interval;
    }
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Instant::now() + until_next_multiple(interval, since_epoch)
}

/// How long from `since_epoch` (wall-clock time) to the next multiple of `interval`: a whole
/// interval when it is one already, `interval` itself when it is zero or too large.
fn until_next_multiple(interval: Duration, since_epoch: Duration) -> Duration {
    let Some(period) = u64::try_from(interval.as_nanos()).ok().filter(|p| *p > 0) else {
        return interval;
    };
    let into_period = (since_epoch.as_nanos() % u128::from(period)) as u64;
    Duration::from_nanos(period - into_period)
}

/// The sink thread: writes batches, flushes and commits.
struct Worker {
    sink: Box<dyn Sink>,
    store: Box<dyn OffsetStore>,
    flush_interval: Duration,
    connector: String,
    partition: OffsetMap,
    committed: watch::Sender<Option<Checkpoint>>,
    stats: Arc<PipelineStats>,
    /// Count records in here (no transform thread does).
    count_in: bool,
    /// The newest checkpoint whose records are written but not yet flushed.
    pending: Option<Checkpoint>,
    /// Closed while the connector is paused: everything written is committed, then nothing
    /// more is read until it opens.
    gate: control::Gate,
    /// The source's metrics, told how many batches a commit acknowledged.
    source: Option<Arc<SourceMetrics>>,
    /// Batches written so far, and when the pending checkpoint's batch was written.
    written: u64,
    pending_written: u64,
}

impl Worker {
    /// Writes batches until every sender is gone, committing every flush interval: when the
    /// channel is idle at the deadline, and also while it never empties (a source faster than
    /// the sink), so a saturated sink still commits on time.
    fn run<B: Into<Transformed>>(
        mut self,
        receiver: flume::Receiver<B>,
    ) -> Result<(), PipelineError> {
        let aligned = self.store.groups_commits();
        let mut next_commit = commit_due(self.flush_interval, aligned);
        loop {
            let gate = self.gate.clone();
            gate.pass(|| self.commit())?;
            match receiver.recv_deadline(next_commit) {
                Ok(batch) => {
                    // Paused while this batch came: it waits for the resume too.
                    gate.pass(|| self.commit())?;
                    self.write(batch.into())?
                }
                Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_commit {
                self.commit()?;
                next_commit = commit_due(self.flush_interval, aligned);
            }
        }
        self.commit()
    }

    fn write(&mut self, batch: Transformed) -> Result<(), PipelineError> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.count_in {
            self.stats
                .records_in
                .fetch_add(batch.records.len() as u64, Relaxed);
        }
        for records in [batch.records, batch.dead_letters] {
            if !records.is_empty() {
                self.sink.write(&records)?;
                self.stats
                    .records_out
                    .fetch_add(records.len() as u64, Relaxed);
                self.stats.saw_topics(&records);
            }
        }
        self.written += 1;
        if batch.checkpoint.is_some() {
            self.pending = batch.checkpoint;
            self.pending_written = self.written;
        }
        Ok(())
    }

    /// Flushes the sink, then stores the newest pending checkpoint and publishes its ack.
    fn commit(&mut self) -> Result<(), PipelineError> {
        let Some(checkpoint) = self.pending.take() else {
            return Ok(());
        };
        self.sink.flush()?;
        self.store
            .commit(&self.connector, &self.partition, &checkpoint.offset)?;
        self.stats
            .commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.stats
            .last_commit_ms
            .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
        if let Some(source) = &self.source {
            source.acknowledged(self.pending_written);
        }
        tracing::debug!(offset = ?checkpoint.offset, "offset committed");
        self.committed.send_replace(Some(checkpoint));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Data, Value};
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);

    impl Log {
        fn push(&self, entry: String) {
            self.0.lock().unwrap().push(entry);
        }
        fn entries(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    struct LogSink(Log);

    impl Sink for LogSink {
        fn write(&mut self, records: &[Record]) -> Result<(), SinkError> {
            for r in records {
                self.0.push(format!("write {}", r.topic));
            }
            Ok(())
        }
        fn flush(&mut self) -> Result<(), SinkError> {
            self.0.push("flush".into());
            Ok(())
        }
    }

    struct LogStore(Log);

    impl OffsetStore for LogStore {
        fn load(&self, _: &str, _: &OffsetMap) -> Result<Option<OffsetMap>, OffsetError> {
            Ok(None)
        }
        fn commit(
            &mut self,
            _: &str,
            _: &OffsetMap,
            offset: &OffsetMap,
        ) -> Result<(), OffsetError> {
            self.0.push(format!(
                "commit {}",
                serde_json::Value::Object(offset.clone())
            ));
            Ok(())
        }
        fn offsets(&self, _: &str) -> Result<Vec<crate::offsets::Partition>, OffsetError> {
            Ok(Vec::new())
        }
        fn reset(&mut self, _: &str, _: &OffsetMap) -> Result<(), OffsetError> {
            self.0.push("reset".into());
            Ok(())
        }
    }

    #[test]
    fn aligned_commits_fall_on_the_same_moments_whatever_the_start() {
        let interval = Duration::from_millis(200);
        for now_ms in [0u64, 1, 37, 199, 200, 1_796_601_702_215] {
            let now = Duration::from_millis(now_ms);
            let at = now + until_next_multiple(interval, now);
            assert_eq!(at.as_millis() % 200, 0, "from {now_ms} ms");
            assert!(at > now && at <= now + interval, "from {now_ms} ms: {at:?}");
        }
        assert_eq!(
            until_next_multiple(Duration::ZERO, Duration::from_millis(5)),
            Duration::ZERO
        );
        assert!(commit_due(Duration::ZERO, true) <= Instant::now());
    }

    fn checkpoint(n: u64) -> Option<Checkpoint> {
        let mut offset = OffsetMap::new();
        offset.insert("lsn".into(), n.into());
        Some(Checkpoint { offset, ack: n })
    }

    fn record(topic: &str) -> Record {
        Record::new(topic, None, Some(Data::schemaless(Value::Int32(1))))
    }

    /// A sink that takes `delay` for every write, as a slow Kafka or Wasm sink does.
    struct SlowSink {
        delay: Duration,
    }

    impl Sink for SlowSink {
        fn write(&mut self, _: &[Record]) -> Result<(), SinkError> {
            std::thread::sleep(self.delay);
            Ok(())
        }
        fn flush(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn commits_every_interval_while_the_sink_is_saturated() {
        let log = Log::default();
        let (pipeline, input) = Pipeline::start(
            None,
            None,
            Box::new(SlowSink {
                delay: Duration::from_millis(10),
            }),
            Box::new(LogStore(log.clone())),
            PipelineSettings {
                connector: "c".into(),
                partition: OffsetMap::new(),
                flush_interval: Duration::from_millis(50),
                errors: ErrorPolicy::default(),
                gate: Default::default(),
                source: None,
            },
        )
        .unwrap();
        let PipelineInput { batches, .. } = input;
        // The source stays ahead of the sink: the channel is never empty while it sends.
        for n in 1..=100 {
            batches
                .send_async(Batch {
                    records: vec![record("t")],
                    checkpoint: checkpoint(n),
                })
                .await
                .unwrap();
        }
        let before_the_end = log.entries().len();
        drop(batches);
        tokio::task::spawn_blocking(move || pipeline.join())
            .await
            .unwrap()
            .unwrap();
        // ~1 s of writes with a 50 ms interval: about 20 commits before the queue drained.
        assert!(
            before_the_end >= 10,
            "only {before_the_end} commits while the sink was saturated"
        );
        let entries = log.entries();
        assert_eq!(
            entries.last().map(String::as_str),
            Some("commit {\"lsn\":100}")
        );
    }

    #[tokio::test]
    async fn commits_only_after_the_sink_flushed() {
        let log = Log::default();
        let (pipeline, input) = Pipeline::start(
            None,
            None,
            Box::new(LogSink(log.clone())),
            Box::new(LogStore(log.clone())),
            PipelineSettings {
                connector: "c".into(),
                partition: OffsetMap::new(),
                flush_interval: Duration::from_secs(3600),
                errors: ErrorPolicy::default(),
                gate: Default::default(),
                source: None,
            },
        )
        .unwrap();
        let PipelineInput {
            batches,
            mut committed,
        } = input;
        for (topic, n) in [("a", 1), ("b", 2)] {
            batches
                .send_async(Batch {
                    records: vec![record(topic)],
                    checkpoint: checkpoint(n),
                })
                .await
                .unwrap();
        }
        batches
            .send_async(Batch {
                records: vec![record("c")],
                checkpoint: None,
            })
            .await
            .unwrap();
        drop(batches);
        tokio::task::spawn_blocking(move || pipeline.join())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            log.entries(),
            vec![
                "write a",
                "write b",
                "write c",
                "flush",
                "commit {\"lsn\":2}"
            ]
        );
        committed.changed().await.ok();
        assert_eq!(committed.borrow().as_ref().map(|c| c.ack), Some(2));
    }
}
