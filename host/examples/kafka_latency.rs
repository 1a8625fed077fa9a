//! Reads a topic of Debezium change events as they arrive and reports, as one JSON line, how
//! many arrived, the end-to-end rate and the commit-to-Kafka latency of each (the time it was
//! readable from Kafka minus `source.ts_ms`, its transaction's commit time). Used by
//! `bench/kafka.sh`. Two rates: `commit_rows_per_s` = events / (first commit time -> last
//! event readable), `rows_per_s` = events / (first event's `ts_ms`, the connector's
//! processing time -> last event readable).
//!
//!     kafka_latency BOOTSTRAP TOPIC ROWS [TIMEOUT_S] [FROM]
//!
//! Stops after ROWS change events or TIMEOUT_S (default 300) seconds. FROM is `beginning`
//! (the default: every event of the topic) or `end` (only events written after the topic's
//! end offsets were read at start). Besides p50/p99/max over all events it reports the median
//! latency of the first and of the last tenth of the events (in arrival order): a connector
//! that keeps up with an offered load has both about equal, one that falls behind has the
//! last tenth's grow with the length of the run.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Deserialize;

/// A change event's value, as the JsonConverter writes it with schemas (the change under
/// `payload`) or without (the change itself). Only the two times are kept: serde skips the
/// rest without building it, so the reader takes little of the machine it measures on.
#[derive(Deserialize)]
struct Event {
    payload: Option<Change>,
    source: Option<Source>,
    ts_ms: Option<i64>,
}

/// The parts of Debezium's envelope the latency needs.
#[derive(Deserialize)]
struct Change {
    source: Option<Source>,
    /// When the connector processed the event.
    ts_ms: Option<i64>,
}

/// `source`: `ts_ms` is the transaction's commit time.
#[derive(Deserialize)]
struct Source {
    ts_ms: Option<i64>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of unsorted latencies (0 for none).
fn median_of(latencies: &[i64]) -> i64 {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 50.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: kafka_latency BOOTSTRAP TOPIC ROWS [TIMEOUT_S] [beginning|end]".into());
    }
    let (bootstrap, topic) = (&args[1], &args[2]);
    let rows: usize = args[3].parse()?;
    let timeout = Duration::from_secs(args.get(4).map(|t| t.parse()).transpose()?.unwrap_or(300));
    let from_end = match args.get(5).map(String::as_str) {
        None | Some("beginning") => false,
        Some("end") => true,
        Some(other) => {
            return Err(format!("FROM must be `beginning` or `end`, not `{other}`").into());
        }
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "tidemark-bench")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .set("fetch.min.bytes", "1")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()?;
    let deadline = Instant::now() + timeout;
    // Wait for the topic, then read all of its partitions from the beginning.
    let partitions = loop {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
        let n = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len())
            .unwrap_or(0);
        if n > 0 {
            break n;
        }
        if Instant::now() > deadline {
            return Err(format!("topic {topic} never appeared").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        let offset = if from_end {
            let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
            Offset::Offset(high)
        } else {
            Offset::Beginning
        };
        assignment.add_partition_offset(topic, p, offset)?;
    }
    consumer.assign(&assignment)?;
    // bench/kafka.sh starts the workload once this line is out.
    eprintln!("kafka_latency: reading {topic} from {assignment:?}");
    let mut latencies = Vec::with_capacity(rows);
    let mut first_event_ms = i64::MAX;
    let mut first_commit_ms = i64::MAX;
    let mut last_seen_ms = 0;
    while latencies.len() < rows && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        let seen = now_ms();
        let Some(payload) = message.payload() else {
            continue;
        };
        let event: Event = serde_json::from_slice(payload)?;
        let change = event.payload.unwrap_or(Change {
            source: event.source,
            ts_ms: event.ts_ms,
        });
        let (Some(commit), Some(processed)) = (change.source.and_then(|s| s.ts_ms), change.ts_ms)
        else {
            continue;
        };
        first_event_ms = first_event_ms.min(processed);
        first_commit_ms = first_commit_ms.min(commit);
        last_seen_ms = seen;
        latencies.push(seen - commit);
    }
    let tenth = if latencies.is_empty() {
        0
    } else {
        (latencies.len() / 10).max(1)
    };
    let head_p50 = median_of(&latencies[..tenth]);
    let tail_p50 = median_of(&latencies[latencies.len() - tenth..]);
    latencies.sort_unstable();
    let span_ms = (last_seen_ms - first_event_ms).max(1);
    let commit_span_ms = (last_seen_ms - first_commit_ms).max(1);
    println!(
        "{}",
        serde_json::json!({
            "rows": latencies.len(),
            "rows_per_s": (latencies.len() as f64 * 1000.0 / span_ms as f64).round(),
            "commit_rows_per_s": (latencies.len() as f64 * 1000.0 / commit_span_ms as f64).round(),
            "p50_ms": percentile(&latencies, 50.0),
            "p99_ms": percentile(&latencies, 99.0),
            "max_ms": latencies.last().copied().unwrap_or(0),
            "head_p50_ms": head_p50,
            "tail_p50_ms": tail_p50,
        })
    );
    Ok(())
}
