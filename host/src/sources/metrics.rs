//! What a source reports about itself while it runs, read by `/metrics`: Debezium's snapshot
//! and streaming metrics (the attributes of its JMX beans; `docs/metrics.md` maps them), and
//! the changes handed to the pipeline that the sink has not acknowledged yet, for the lag.
//!
//! Most values come from the records themselves as the source sends them ([`BatchSender`]):
//! a change's `op` says which counter it counts in (`r` in the snapshot's, the others in the
//! streaming ones), its `source` block gives the commit time, the transaction and the
//! position. The snapshot's table progress comes from the snapshot code ([`SnapshotMeter`]).

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};

use super::Batch;
use super::notify::Notifier;
use crate::event::{Record, Value};

/// Upper bounds, in seconds, of the buckets of the lag histograms.
pub const LAG_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The metrics of one connector's source.
pub struct SourceMetrics {
    /// `postgres` or `mariadb`: Debezium's bean type (label `plugin`).
    pub plugin: &'static str,
    /// The connector's `topic.prefix` (Debezium's `server`, label `name`).
    pub server: String,
    /// Debezium's snapshot bean.
    pub snapshot: SnapshotMeter,
    /// Debezium's streaming bean.
    pub streaming: StreamingMeter,
    /// How many records the pipeline's queue holds at most.
    pub queue_capacity: u64,
    /// Records sent to the pipeline so far (the pipeline counts those it took).
    pub records_sent: AtomicU64,
    /// Commit → sink acknowledgement, observed per batch when its offsets are committed.
    pub end_to_end: Histogram,
    /// Batches sent, with the commit time of each one's oldest change, until acknowledged.
    in_flight: Mutex<InFlight>,
}

impl std::fmt::Debug for SourceMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceMetrics")
            .field("plugin", &self.plugin)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct InFlight {
    /// Batches sent so far.
    sent: u64,
    /// (batch number, commit time of its oldest change) of the unacknowledged batches.
    waiting: VecDeque<(u64, i64)>,
}

impl SourceMetrics {
    /// The metrics of a `plugin` source (`postgres` or `mariadb`) whose `topic.prefix` is
    /// `server`, sending to a queue of `queue_capacity` records.
    pub fn new(plugin: &'static str, server: &str, queue_capacity: u64) -> SourceMetrics {
        SourceMetrics {
            plugin,
            server: server.to_owned(),
            snapshot: SnapshotMeter::default(),
            streaming: StreamingMeter::default(),
            queue_capacity,
            records_sent: AtomicU64::new(0),
            end_to_end: Histogram::default(),
            in_flight: Mutex::new(InFlight::default()),
        }
    }

    /// Counts a batch the source is about to send: its changes by `op`, their transactions,
    /// the lag and position of the last one, and the commit time of the oldest (until the
    /// batch is acknowledged). Field positions are looked up once per schema, and the shared
    /// counters are updated once per batch.
    fn sending(&self, batch: &Batch) {
        self.records_sent
            .fetch_add(batch.records.len() as u64, Relaxed);
        let mut layout: Option<Layout<'_>> = None;
        let mut counts = OpCounts::default();
        let mut oldest: Option<i64> = None;
        let mut last: Option<Change<'_>> = None;
        let mut previous_tx: Option<&Value> = None;
        let mut last_tx = lock(&self.streaming.last_transaction);
        for record in &batch.records {
            let Some(change) = Change::of(record, &mut layout) else {
                continue;
            };
            oldest = Some(oldest.map_or(change.ts_ms, |o| o.min(change.ts_ms)));
            if counts.count(change.op) {
                continue;
            }
            if let Some(tx) = change.tx {
                let new = match previous_tx {
                    Some(previous) => previous != tx,
                    None => !last_tx.as_ref().is_some_and(|l| l.is(tx)),
                };
                if new {
                    counts.transactions += 1;
                }
                previous_tx = Some(tx);
            }
            last = Some(change);
        }
        if let Some(tx) = previous_tx {
            *last_tx = TxKey::of(tx);
        }
        drop(last_tx);
        counts.add_to(&self.snapshot.events, &self.streaming);
        if let Some(change) = last {
            self.streaming
                .behind(now_ms().saturating_sub(change.ts_ms).max(0));
            self.streaming.at(&change);
        }
        let mut in_flight = lock(&self.in_flight);
        let number = in_flight.sent;
        in_flight.sent += 1;
        if let Some(ts) = oldest {
            in_flight.waiting.push_back((number, ts));
        }
    }

    /// The pipeline committed the offsets of the first `batches` batches sent: their changes
    /// are acknowledged.
    pub fn acknowledged(&self, batches: u64) {
        let now = now_ms();
        let mut in_flight = lock(&self.in_flight);
        while let Some(&(number, ts)) = in_flight.waiting.front() {
            if number >= batches {
                break;
            }
            in_flight.waiting.pop_front();
            self.end_to_end
                .observe((now.saturating_sub(ts)).max(0) as f64 / 1000.0);
        }
    }

    /// Milliseconds since the oldest change sent but not acknowledged committed in the
    /// database; 0 when every change sent is acknowledged.
    pub fn unacknowledged_ms(&self) -> i64 {
        lock(&self.in_flight)
            .waiting
            .front()
            .map_or(0, |&(_, ts)| now_ms().saturating_sub(ts).max(0))
    }
}

/// Where a change event's fields are, for one value schema.
#[derive(Clone, Copy)]
struct Layout<'a> {
    schema: &'a crate::event::Schema,
    op: usize,
    source: usize,
    ts_ms: usize,
    /// `txId` (Postgres) or `gtid` (MariaDB/MySQL).
    tx: Option<usize>,
    /// `lsn` (Postgres) or `pos` (MariaDB/MySQL).
    position: Option<usize>,
    /// `file` (MariaDB/MySQL).
    file: Option<usize>,
}

impl<'a> Layout<'a> {
    fn of(schema: &'a crate::event::Schema) -> Option<Layout<'a>> {
        let source = schema.field_index("source")?;
        let source_schema = &schema.fields.get(source)?.schema;
        let find = |names: &[&str]| names.iter().find_map(|n| source_schema.field_index(n));
        Some(Layout {
            schema,
            op: schema.field_index("op")?,
            source,
            ts_ms: source_schema.field_index("ts_ms")?,
            tx: find(&["txId", "gtid"]),
            position: find(&["lsn", "pos"]),
            file: find(&["file"]),
        })
    }
}

/// What the metrics read from a change event.
struct Change<'a> {
    op: &'a str,
    /// `source.ts_ms`: when the change committed (a snapshot read: when it was read).
    ts_ms: i64,
    /// Its transaction (a non-null `txId` or `gtid`).
    tx: Option<&'a Value>,
    position: Option<i64>,
    file: Option<&'a str>,
}

impl<'a> Change<'a> {
    /// The change a record carries, its fields found through `layout` (looked up again when
    /// the record's schema is another); `None` for other records (heartbeats, transaction
    /// markers, tombstones).
    fn of(record: &'a Record, layout: &mut Option<Layout<'a>>) -> Option<Change<'a>> {
        let data = record.value.as_ref()?;
        let schema = data.schema.as_deref()?;
        let Value::Struct(fields) = &data.value else {
            return None;
        };
        let found = match *layout {
            Some(known) if std::ptr::eq(known.schema, schema) => known,
            _ => {
                let found = Layout::of(schema)?;
                *layout = Some(found);
                found
            }
        };
        let op = fields.get(found.op)?.as_str()?;
        let Value::Struct(source) = fields.get(found.source)? else {
            return None;
        };
        let Value::Int64(ts_ms) = source.get(found.ts_ms)? else {
            return None;
        };
        let at = |index: Option<usize>| index.and_then(|i| source.get(i));
        Some(Change {
            op,
            ts_ms: *ts_ms,
            tx: at(found.tx).filter(|v| !v.is_null()),
            position: match at(found.position) {
                Some(Value::Int64(p)) => Some(*p),
                _ => None,
            },
            file: at(found.file).and_then(Value::as_str),
        })
    }
}

/// A transaction id kept between batches.
#[derive(Debug, Clone, PartialEq)]
enum TxKey {
    Number(i64),
    Text(String),
}

impl TxKey {
    fn of(value: &Value) -> Option<TxKey> {
        match value {
            Value::Int64(id) => Some(TxKey::Number(*id)),
            Value::String(text) => Some(TxKey::Text(text.to_string())),
            _ => None,
        }
    }

    fn is(&self, value: &Value) -> bool {
        match (self, value) {
            (TxKey::Number(a), Value::Int64(b)) => a == b,
            (TxKey::Text(a), Value::String(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// A batch's counts, added to the shared counters once.
#[derive(Default)]
struct OpCounts {
    reads: u64,
    creates: u64,
    updates: u64,
    deletes: u64,
    other: u64,
    transactions: u64,
}

impl OpCounts {
    /// Counts a change; true for a snapshot read (which has no transaction or position).
    fn count(&mut self, op: &str) -> bool {
        match op {
            "r" => self.reads += 1,
            "c" => self.creates += 1,
            "u" => self.updates += 1,
            "d" => self.deletes += 1,
            _ => self.other += 1,
        }
        op == "r"
    }

    fn add_to(&self, snapshot: &Events, streaming: &StreamingMeter) {
        let now = now_ms();
        if self.reads > 0 {
            snapshot.seen.fetch_add(self.reads, Relaxed);
            snapshot.last_event_ms.store(now, Relaxed);
        }
        let changes = self.creates + self.updates + self.deletes + self.other;
        if changes > 0 {
            let events = &streaming.events;
            events.seen.fetch_add(changes, Relaxed);
            events.creates.fetch_add(self.creates, Relaxed);
            events.updates.fetch_add(self.updates, Relaxed);
            events.deletes.fetch_add(self.deletes, Relaxed);
            events.last_event_ms.store(now, Relaxed);
            streaming.transactions.fetch_add(self.transactions, Relaxed);
        }
    }
}

/// Debezium's event counters (`CommonEventMetrics`), one set per bean.
#[derive(Default)]
pub struct Events {
    /// `TotalNumberOfEventsSeen`.
    pub seen: AtomicU64,
    /// `TotalNumberOfCreateEventsSeen`.
    pub creates: AtomicU64,
    /// `TotalNumberOfUpdateEventsSeen`.
    pub updates: AtomicU64,
    /// `TotalNumberOfDeleteEventsSeen`.
    pub deletes: AtomicU64,
    /// `NumberOfEventsFiltered`: changes of tables the connector does not capture.
    pub filtered: AtomicU64,
    /// When the last event was counted, in ms since the epoch (0: none yet).
    pub last_event_ms: AtomicI64,
}

impl Events {
    /// Counts `n` changes the connector filtered out.
    pub fn filtered(&self, n: u64) {
        self.seen.fetch_add(n, Relaxed);
        self.filtered.fetch_add(n, Relaxed);
        self.last_event_ms.store(now_ms(), Relaxed);
    }

    /// `MilliSecondsSinceLastEvent`: -1 before the first event.
    pub fn since_last_ms(&self) -> i64 {
        match self.last_event_ms.load(Relaxed) {
            0 => -1,
            at => now_ms().saturating_sub(at).max(0),
        }
    }
}

/// A histogram of seconds with [`LAG_BUCKETS`].
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; LAG_BUCKETS.len() + 1],
    /// Sum in microseconds.
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, seconds: f64) {
        let bucket = LAG_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LAG_BUCKETS.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6).max(0.0) as u64, Relaxed);
    }

    /// The count of each bucket (not cumulative), the last one above every bound.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        LAG_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().map(|c| c.load(Relaxed)))
            .collect()
    }

    /// Sum of the observations, in seconds.
    pub fn sum(&self) -> f64 {
        self.sum_micros.load(Relaxed) as f64 / 1e6
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// The `q` quantile (0..=1) estimated from the buckets, interpolating linearly inside
    /// the bucket it falls in (as Prometheus's `histogram_quantile` does); `None` without
    /// observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let buckets = self.buckets();
        let total: u64 = buckets.iter().map(|(_, c)| c).sum();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut below = 0u64;
        let mut lower = 0.0;
        for (upper, count) in buckets {
            if count > 0 && (below + count) as f64 >= rank {
                if upper.is_infinite() {
                    return Some(lower);
                }
                let within = (rank - below as f64) / count as f64;
                return Some(lower + (upper - lower) * within);
            }
            below += count;
            if upper.is_finite() {
                lower = upper;
            }
        }
        Some(lower)
    }
}

/// Debezium's streaming bean.
pub struct StreamingMeter {
    /// `Connected`.
    pub connected: AtomicBool,
    /// The change counters.
    pub events: Events,
    /// `MilliSecondsBehindSource`: -1 until the first change.
    pub behind_ms: AtomicI64,
    /// Every `MilliSecondsBehindSource` observation (one per batch of changes).
    pub behind: Histogram,
    /// Lifetime minimum and maximum of the observations (ms; `i64::MAX`/-1 before any).
    pub behind_min_ms: AtomicI64,
    pub behind_max_ms: AtomicI64,
    /// `NumberOfCommittedTransactions`: transactions whose changes were seen.
    pub transactions: AtomicU64,
    /// `LastTransactionId` (Postgres's `txId`; -1 before any).
    pub last_transaction_id: AtomicI64,
    /// `SourceEventPosition`: Postgres's `lsn`, or the binlog `pos` (-1 before any).
    pub position: AtomicI64,
    /// The binlog file of `position` (MariaDB/MySQL).
    pub file: Mutex<Option<String>>,
    /// The transaction of the last change, to count transactions as they change.
    last_transaction: Mutex<Option<TxKey>>,
}

impl Default for StreamingMeter {
    fn default() -> StreamingMeter {
        StreamingMeter {
            connected: AtomicBool::new(false),
            events: Events::default(),
            behind_ms: AtomicI64::new(-1),
            behind: Histogram::default(),
            behind_min_ms: AtomicI64::new(i64::MAX),
            behind_max_ms: AtomicI64::new(-1),
            transactions: AtomicU64::new(0),
            last_transaction_id: AtomicI64::new(-1),
            position: AtomicI64::new(-1),
            file: Mutex::new(None),
            last_transaction: Mutex::new(None),
        }
    }
}

impl StreamingMeter {
    /// Notes the position of the last change of a batch.
    fn at(&self, change: &Change<'_>) {
        if let Some(position) = change.position {
            self.position.store(position, Relaxed);
        }
        if let Some(Value::Int64(id)) = change.tx {
            self.last_transaction_id.store(*id, Relaxed);
        }
        if let Some(file) = change.file {
            let mut known = lock(&self.file);
            if known.as_deref() != Some(file) {
                *known = Some(file.to_owned());
            }
        }
    }

    fn behind(&self, ms: i64) {
        self.behind_ms.store(ms, Relaxed);
        self.behind_min_ms.fetch_min(ms, Relaxed);
        self.behind_max_ms.fetch_max(ms, Relaxed);
        self.behind.observe(ms as f64 / 1000.0);
    }
}

/// Where a snapshot stands (Debezium's `SnapshotRunning`, `SnapshotCompleted`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotStatus {
    /// No snapshot ran yet in this run of the connector.
    #[default]
    NotStarted,
    Running,
    Completed,
    Aborted,
    /// None was needed (the offsets say it was done, or `snapshot.mode` says none).
    Skipped,
}

/// One table of a snapshot.
pub struct TableScan {
    /// `schema.table` (Postgres) or `database.table` (MariaDB/MySQL).
    pub name: String,
    /// `RowsScanned`.
    pub rows: AtomicU64,
    /// Every row of it was read.
    pub done: AtomicBool,
    /// The database's estimate of its rows (`pg_class.reltuples`,
    /// `information_schema.tables.table_rows`); -1 when it has none.
    pub estimate: AtomicI64,
}

impl TableScan {
    /// One more row read.
    pub fn row(&self) {
        self.rows.fetch_add(1, Relaxed);
    }

    /// Every row was read.
    pub fn finished(&self) {
        self.done.store(true, Relaxed);
    }
}

#[derive(Default)]
struct SnapshotState {
    status: SnapshotStatus,
    started_ms: i64,
    stopped_ms: Option<i64>,
    tables: Arc<[TableScan]>,
}

/// Debezium's snapshot bean: the snapshot code reports its tables and rows here; the read
/// events are counted from the records.
#[derive(Default)]
pub struct SnapshotMeter {
    /// The read-event counters.
    pub events: Events,
    state: Mutex<SnapshotState>,
}

/// What [`SnapshotMeter::view`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotView {
    pub status: SnapshotStatus,
    /// `SnapshotDurationInSeconds`.
    pub duration_s: i64,
    /// Each table's name, rows read and whether it is done.
    pub tables: Vec<(String, u64, bool)>,
    /// The rows the database estimates the snapshot's tables hold (`None` when it has no
    /// estimate for some table).
    pub estimated_rows: Option<u64>,
}

impl SnapshotView {
    /// Tables read to their end.
    pub fn tables_done(&self) -> usize {
        self.tables.iter().filter(|t| t.2).count()
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.1).sum()
    }

    /// A one-line summary: tables done, rows read (of the estimate), the rate `rows_per_s`
    /// and, with an estimate and a rate, the time left.
    pub fn summary(&self, rows_per_s: f64) -> String {
        let rows = self.rows();
        let mut line = format!(
            "{}/{} tables, {rows} rows",
            self.tables_done(),
            self.tables.len()
        );
        if let Some(estimate) = self.estimated_rows {
            line.push_str(&format!(" of ~{}", estimate.max(rows)));
        }
        line.push_str(&format!(", {rows_per_s:.0} rows/s"));
        if let Some(estimate) = self.estimated_rows
            && rows_per_s > 0.0
        {
            let left = estimate.saturating_sub(rows) as f64 / rows_per_s;
            line.push_str(&format!(", ETA {left:.0} s"));
        }
        line
    }
}

impl SnapshotMeter {
    /// A snapshot of `tables` starts; the snapshot code counts each table's rows in the
    /// returned scans, in the same order.
    pub fn start(&self, tables: Vec<String>) -> Arc<[TableScan]> {
        let scans: Arc<[TableScan]> = tables
            .into_iter()
            .map(|name| TableScan {
                name,
                rows: AtomicU64::new(0),
                done: AtomicBool::new(false),
                estimate: AtomicI64::new(-1),
            })
            .collect();
        *lock(&self.state) = SnapshotState {
            status: SnapshotStatus::Running,
            started_ms: now_ms(),
            stopped_ms: None,
            tables: scans.clone(),
        };
        scans
    }

    /// The snapshot ended: `Completed`, `Aborted` or (without a start) `Skipped`.
    pub fn end(&self, status: SnapshotStatus) {
        let mut state = lock(&self.state);
        if status == SnapshotStatus::Skipped {
            state.started_ms = now_ms();
        }
        state.status = status;
        state.stopped_ms = Some(now_ms());
    }

    /// Where the snapshot stands.
    pub fn view(&self) -> SnapshotView {
        let state = lock(&self.state);
        let duration_s = match state.status {
            SnapshotStatus::NotStarted => 0,
            _ => (state.stopped_ms.unwrap_or_else(now_ms) - state.started_ms).max(0) / 1000,
        };
        SnapshotView {
            status: state.status,
            duration_s,
            tables: state
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.rows.load(Relaxed), t.done.load(Relaxed)))
                .collect(),
            estimated_rows: state
                .tables
                .iter()
                .map(|t| u64::try_from(t.estimate.load(Relaxed)).ok())
                .sum(),
        }
    }
}

/// Where a source sends its batches: the pipeline's queue, counting each batch in the
/// source's metrics on the way. Cheap to clone.
#[derive(Clone)]
pub struct BatchSender {
    queue: flume::Sender<Batch>,
    metrics: Arc<SourceMetrics>,
}

/// The pipeline is gone (it ended on an error of its own, or the connector stopped).
#[derive(Debug)]
pub struct PipelineGone;

impl BatchSender {
    /// Sends into `queue`, counting in `metrics`.
    pub fn new(queue: flume::Sender<Batch>, metrics: Arc<SourceMetrics>) -> BatchSender {
        BatchSender { queue, metrics }
    }

    /// Sends a batch, waiting while the queue is full.
    pub async fn send_async(&self, batch: Batch) -> Result<(), PipelineGone> {
        self.metrics.sending(&batch);
        self.queue.send_async(batch).await.map_err(|_| PipelineGone)
    }

    /// Sends a notification's record on its own (nothing when the sink channel is off).
    pub async fn notify(&self, record: Option<Record>) -> Result<(), PipelineGone> {
        match record {
            Some(record) => {
                self.send_async(Batch {
                    records: vec![record],
                    checkpoint: None,
                })
                .await
            }
            None => Ok(()),
        }
    }

    /// No snapshot is needed: the snapshot metrics say so, and `notifier` notifies
    /// `SKIPPED`.
    pub async fn snapshot_skipped(&self, notifier: &Notifier) -> Result<(), PipelineGone> {
        self.metrics.snapshot.end(SnapshotStatus::Skipped);
        self.notify(notifier.initial_snapshot("SKIPPED", &[])).await
    }

    /// The snapshot read every table (`result` is `Ok`: the snapshot metrics say completed),
    /// or failed: the metrics say aborted, and `notifier` notifies `ABORTED` if the pipeline
    /// still takes records. Returns `result`.
    pub async fn snapshot_ended<T, E>(
        &self,
        notifier: &Notifier,
        result: Result<T, E>,
    ) -> Result<T, E> {
        match &result {
            Ok(_) => self.metrics.snapshot.end(SnapshotStatus::Completed),
            Err(_) => {
                self.metrics.snapshot.end(SnapshotStatus::Aborted);
                let _ = self.notify(notifier.initial_snapshot("ABORTED", &[])).await;
            }
        }
        result
    }

    /// The source's metrics.
    pub fn metrics(&self) -> &Arc<SourceMetrics> {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for _ in 0..10 {
            h.observe(0.2); // bucket (0.1, 0.25]
        }
        let p50 = h.quantile(0.5).unwrap();
        assert!(p50 > 0.1 && p50 <= 0.25, "{p50}");
        h.observe(1000.0);
        assert_eq!(
            h.quantile(1.0),
            Some(300.0),
            "above every bound: the last bound"
        );
        assert_eq!(h.count(), 11);
        assert!((h.sum() - 1002.0).abs() < 1e-6);
    }

    #[test]
    fn acknowledged_batches_leave_the_lag_and_feed_the_latency() {
        let metrics = SourceMetrics::new("postgres", "p", 100);
        assert_eq!(metrics.unacknowledged_ms(), 0);
        {
            let mut in_flight = lock(&metrics.in_flight);
            in_flight.waiting.push_back((0, now_ms() - 5_000));
            in_flight.waiting.push_back((2, now_ms() - 1_000));
            in_flight.sent = 3;
        }
        assert!(metrics.unacknowledged_ms() >= 5_000);
        metrics.acknowledged(1);
        let lag = metrics.unacknowledged_ms();
        assert!((1_000..5_000).contains(&lag), "{lag}");
        metrics.acknowledged(3);
        assert_eq!(metrics.unacknowledged_ms(), 0);
        assert_eq!(metrics.end_to_end.count(), 2);
    }

    #[test]
    fn a_snapshot_reports_its_tables_and_how_it_ended() {
        let meter = SnapshotMeter::default();
        assert_eq!(meter.view().status, SnapshotStatus::NotStarted);
        let scans = meter.start(vec!["public.a".into(), "public.b".into()]);
        scans[0].row();
        scans[0].row();
        scans[0].finished();
        let view = meter.view();
        assert_eq!(view.status, SnapshotStatus::Running);
        assert_eq!(
            view.tables,
            vec![("public.a".into(), 2, true), ("public.b".into(), 0, false)]
        );
        meter.end(SnapshotStatus::Aborted);
        assert_eq!(meter.view().status, SnapshotStatus::Aborted);
        meter.end(SnapshotStatus::Skipped);
        assert_eq!(meter.view().status, SnapshotStatus::Skipped);
    }
}
