//! Debezium's snapshot and streaming metrics as Prometheus users of its JMX exporter see them:
//! `debezium_metrics_<Attribute>` with labels `plugin` (`postgres`, `mariadb`, `mysql`), `name`
//! (the `topic.prefix`), `context` (`snapshot` or `streaming`), plus `connector`, so two
//! connectors with one prefix stay apart. Booleans are 0 or 1; attributes that are text in
//! JMX (and that the exporter therefore drops) are left out, except where the value is a
//! number (`LastTransactionId` for Postgres, `SourceEventPosition` with its key as a label).

use std::sync::atomic::Ordering::Relaxed;

use super::ConnectorView;
use super::families::{Families, Labels, Value};
use crate::sources::metrics::{Events, SnapshotStatus, SnapshotView, SourceMetrics};

fn labels(connector: &str, source: &SourceMetrics, context: &str) -> Labels {
    vec![
        ("connector".into(), connector.to_owned()),
        ("context".into(), context.into()),
        ("name".into(), source.server.clone()),
        ("plugin".into(), source.plugin.into()),
    ]
}

/// One connector's source with its snapshot view, read once per scrape.
struct Source<'a> {
    connector: &'a str,
    metrics: &'a SourceMetrics,
    records_in: u64,
    /// Records a transform failed on (`errors.tolerance=all`).
    erroneous: u64,
    snapshot: SnapshotView,
}

/// Adds the `debezium_metrics_*` families of every connector that ran.
pub fn families(out: &mut Families, connectors: &[ConnectorView<'_>]) {
    let sources: Vec<Source<'_>> = connectors
        .iter()
        .filter_map(|c| {
            c.source.map(|metrics| Source {
                connector: c.name,
                metrics,
                records_in: c.pipeline.map_or(0, |p| p.records_in.load(Relaxed)),
                erroneous: c.pipeline.map_or(0, |p| p.erroneous.load(Relaxed)),
                snapshot: metrics.snapshot.view(),
            })
        })
        .collect();
    common(out, &sources);
    snapshot(out, &sources);
    streaming(out, &sources);
}

/// A gauge over every source, in both contexts.
fn both(
    out: &mut Families,
    sources: &[Source<'_>],
    name: &str,
    help: &str,
    value: &dyn Fn(&Source<'_>, &Events) -> Value,
) {
    let mut samples = Vec::new();
    for source in sources {
        for (context, events) in [
            ("snapshot", &source.metrics.snapshot.events),
            ("streaming", &source.metrics.streaming.events),
        ] {
            samples.push((
                labels(source.connector, source.metrics, context),
                value(source, events),
            ));
        }
    }
    out.gauge(name, help, samples);
}

fn common(out: &mut Families, sources: &[Source<'_>]) {
    let count =
        |get: fn(&Events) -> u64| move |_: &Source<'_>, e: &Events| Value::Int(get(e) as i64);
    both(
        out,
        sources,
        "debezium_metrics_TotalNumberOfEventsSeen",
        "Events seen (filtered ones included).",
        &count(|e| e.seen.load(Relaxed)),
    );
    both(
        out,
        sources,
        "debezium_metrics_TotalNumberOfCreateEventsSeen",
        "Create (insert) events seen.",
        &count(|e| e.creates.load(Relaxed)),
    );
    both(
        out,
        sources,
        "debezium_metrics_TotalNumberOfUpdateEventsSeen",
        "Update events seen.",
        &count(|e| e.updates.load(Relaxed)),
    );
    both(
        out,
        sources,
        "debezium_metrics_TotalNumberOfDeleteEventsSeen",
        "Delete events seen.",
        &count(|e| e.deletes.load(Relaxed)),
    );
    both(
        out,
        sources,
        "debezium_metrics_NumberOfEventsFiltered",
        "Events of tables the connector does not capture.",
        &count(|e| e.filtered.load(Relaxed)),
    );
    both(
        out,
        sources,
        "debezium_metrics_MilliSecondsSinceLastEvent",
        "Milliseconds since the last event; -1 before the first.",
        &|_, e| Value::Int(e.since_last_ms()),
    );
    both(
        out,
        sources,
        "debezium_metrics_QueueTotalCapacity",
        "Records the queue between the source and the pipeline holds at most.",
        &|s, _| Value::Int(s.metrics.queue_capacity as i64),
    );
    both(
        out,
        sources,
        "debezium_metrics_QueueRemainingCapacity",
        "Records the queue can still take.",
        &|s, _| {
            let queued = s
                .metrics
                .records_sent
                .load(Relaxed)
                .saturating_sub(s.records_in);
            Value::Int(s.metrics.queue_capacity.saturating_sub(queued) as i64)
        },
    );
}

fn snapshot(out: &mut Families, sources: &[Source<'_>]) {
    let gauge =
        |out: &mut Families, name: &str, help: &str, value: &dyn Fn(&SnapshotView) -> i64| {
            out.gauge(
                name,
                help,
                sources
                    .iter()
                    .map(|s| {
                        (
                            labels(s.connector, s.metrics, "snapshot"),
                            Value::Int(value(&s.snapshot)),
                        )
                    })
                    .collect(),
            );
        };
    let is = |status: SnapshotStatus| move |v: &SnapshotView| i64::from(v.status == status);
    gauge(
        out,
        "debezium_metrics_SnapshotRunning",
        "1 while a snapshot runs.",
        &is(SnapshotStatus::Running),
    );
    gauge(
        out,
        "debezium_metrics_SnapshotCompleted",
        "1 once the snapshot completed.",
        &is(SnapshotStatus::Completed),
    );
    gauge(
        out,
        "debezium_metrics_SnapshotAborted",
        "1 if the snapshot was aborted.",
        &is(SnapshotStatus::Aborted),
    );
    gauge(
        out,
        "debezium_metrics_SnapshotSkipped",
        "1 if no snapshot was needed.",
        &is(SnapshotStatus::Skipped),
    );
    gauge(
        out,
        "debezium_metrics_SnapshotDurationInSeconds",
        "Seconds the snapshot ran (so far, while it runs).",
        &|v| v.duration_s,
    );
    gauge(
        out,
        "debezium_metrics_TotalTableCount",
        "Tables in the snapshot.",
        &|v| v.tables.len() as i64,
    );
    gauge(
        out,
        "debezium_metrics_RemainingTableCount",
        "Tables of the snapshot not yet read to their end.",
        &|v| v.tables.iter().filter(|t| !t.2).count() as i64,
    );
    let per_table = |value: &dyn Fn(&(String, u64, bool)) -> i64| {
        sources
            .iter()
            .flat_map(|s| {
                s.snapshot.tables.iter().map(move |table| {
                    let mut l = labels(s.connector, s.metrics, "snapshot");
                    l.push(("table".into(), table.0.clone()));
                    (l, Value::Int(value(table)))
                })
            })
            .collect::<Vec<_>>()
    };
    out.gauge(
        "debezium_metrics_RowsScanned",
        "Rows of the table the snapshot has read.",
        per_table(&|t| t.1 as i64),
    );
    out.gauge(
        "debezium_metrics_CapturedTables",
        "1 for each table in the snapshot (Debezium's CapturedTables list, one series per table).",
        per_table(&|_| 1),
    );
}

fn streaming(out: &mut Families, sources: &[Source<'_>]) {
    let gauge = |out: &mut Families,
                 name: &str,
                 help: &str,
                 value: &dyn Fn(&SourceMetrics) -> Option<Value>| {
        out.gauge(
            name,
            help,
            sources
                .iter()
                .filter_map(|s| {
                    value(s.metrics).map(|v| (labels(s.connector, s.metrics, "streaming"), v))
                })
                .collect(),
        );
    };
    let int = |v: i64| Some(Value::Int(v));
    gauge(
        out,
        "debezium_metrics_Connected",
        "1 while the connector streams from the database.",
        &|m| int(i64::from(m.streaming.connected.load(Relaxed))),
    );
    gauge(
        out,
        "debezium_metrics_MilliSecondsBehindSource",
        "Milliseconds between the last change's commit in the database and its reading by the connector; -1 before the first change. Updated per change, so it does not grow while nothing is read (see tidemark_source_lag_seconds).",
        &|m| int(m.streaming.behind_ms.load(Relaxed)),
    );
    gauge(
        out,
        "debezium_metrics_MilliSecondsBehindSourceMinValue",
        "Smallest MilliSecondsBehindSource seen.",
        &|m| {
            Some(m.streaming.behind_min_ms.load(Relaxed))
                .filter(|v| *v != i64::MAX)
                .map(Value::Int)
        },
    );
    gauge(
        out,
        "debezium_metrics_MilliSecondsBehindSourceMaxValue",
        "Largest MilliSecondsBehindSource seen.",
        &|m| {
            Some(m.streaming.behind_max_ms.load(Relaxed))
                .filter(|v| *v >= 0)
                .map(Value::Int)
        },
    );
    gauge(
        out,
        "debezium_metrics_MilliSecondsBehindSourceAverageValue",
        "Mean of the MilliSecondsBehindSource observations.",
        &|m| {
            let h = &m.streaming.behind;
            (h.count() > 0).then(|| Value::Float(h.sum() * 1000.0 / h.count() as f64))
        },
    );
    for (name, q) in [("P50", 0.5), ("P95", 0.95), ("P99", 0.99)] {
        gauge(
            out,
            &format!("debezium_metrics_MilliSecondsBehindSource{name}"),
            &format!(
                "The {name} of the MilliSecondsBehindSource observations, estimated from a histogram's buckets."
            ),
            &|m| {
                m.streaming
                    .behind
                    .quantile(q)
                    .map(|s| Value::Float(s * 1000.0))
            },
        );
    }
    out.gauge(
        "debezium_metrics_NumberOfErroneousEvents",
        "Events a transform failed on (dead-lettered or skipped under errors.tolerance=all).",
        sources
            .iter()
            .map(|s| {
                (
                    labels(s.connector, s.metrics, "streaming"),
                    Value::Int(s.erroneous as i64),
                )
            })
            .collect(),
    );
    gauge(
        out,
        "debezium_metrics_NumberOfCommittedTransactions",
        "Transactions whose changes the connector read.",
        &|m| int(m.streaming.transactions.load(Relaxed) as i64),
    );
    gauge(
        out,
        "debezium_metrics_LastTransactionId",
        "The last transaction's id (Postgres's txId).",
        &|m| {
            Some(m.streaming.last_transaction_id.load(Relaxed))
                .filter(|v| *v >= 0)
                .map(Value::Int)
        },
    );
    gauge(
        out,
        "debezium_metrics_BinlogPosition",
        "The binlog position of the last change read (MariaDB/MySQL).",
        &|m| {
            let position = m.streaming.position.load(Relaxed);
            (m.plugin != "postgres" && position >= 0).then_some(Value::Int(position))
        },
    );
    let key = |m: &SourceMetrics| if m.plugin == "postgres" { "lsn" } else { "pos" };
    out.gauge(
        "debezium_metrics_SourceEventPosition",
        "The last change's position: Postgres's lsn, or the binlog pos (key label).",
        sources
            .iter()
            .filter_map(|s| {
                let position = s.metrics.streaming.position.load(Relaxed);
                (position >= 0).then(|| {
                    let mut l = labels(s.connector, s.metrics, "streaming");
                    l.push(("key".into(), key(s.metrics).into()));
                    (l, Value::Int(position))
                })
            })
            .collect(),
    );
}
