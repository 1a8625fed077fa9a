//! Hot-reload latency and the throughput dip around a reload.
//!
//! A pipeline-shaped loop runs batches of 1024 records through the `stamp` test plugin and
//! takes new chains between batches, as the pipeline does. The plugin file in a watched
//! plugin directory is then replaced (write to a temporary name, rename) by the other version,
//! again and again; for each replacement we measure the time from the rename to the start of
//! the first batch run by the new version, and the longest gap between two batches while the
//! reload was under way, against the median batch time.
//!
//! "cold": a version never seen before (a unique custom section makes its content new), so
//! it is compiled; "warm": a version compiled before (a rollback), read from the cache.
//!
//! Run with `cargo xtask bench --bench reload` (it builds the plugins first). Prints a Markdown
//! table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use tidemark::event::{Data, Record, Schema, SchemaType};
use tidemark::plugin::reload::{self, CANARY_RECORDS};
use tidemark::plugin::{Chain, PluginDirectory, Runtime, RuntimeOptions, Step};

const BATCH: usize = 1024;
const ROUNDS: usize = 20;

/// One batch as the loop ran it.
struct Ran {
    started: Instant,
    ended: Instant,
    version: String,
}

fn test_plugin(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-plugins")
        .join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run `cargo xtask plugins`", path.display()))
}

/// The component with a custom section appended, which makes its content (and hash) new.
fn with_custom_section(bytes: &[u8], tag: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                break;
            }
        }
    }
    let name = b"tidemark-bench";
    let mut content = Vec::new();
    leb(name.len(), &mut content);
    content.extend_from_slice(name);
    content.extend_from_slice(tag.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    leb(content.len(), &mut out);
    out.extend_from_slice(&content);
    out
}

fn replace(file: &Path, bytes: &[u8]) -> Instant {
    let tmp = file.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).expect("write the new version");
    std::fs::rename(&tmp, file).expect("rename it into place");
    Instant::now()
}

fn record(i: usize) -> Record {
    let schema = Arc::new(Schema::new(SchemaType::String).optional());
    Record::new(
        "bench.public.t",
        None,
        Some(Data::new(schema, format!("row {i}").into())),
    )
}

/// The pipeline's loop: swap between batches, keep a canary, run the chain.
fn pipeline(
    mut chain: Chain,
    reloading: reload::Reloading,
    stop: Arc<AtomicBool>,
    ran: std::sync::mpsc::Sender<Ran>,
) {
    let batch: Vec<Record> = (0..BATCH).map(record).collect();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        while let Ok(new) = reloading.swaps.try_recv() {
            chain = new;
        }
        if let Ok(mut canary) = reloading.canary.lock() {
            canary.clear();
            canary.extend(batch.iter().take(CANARY_RECORDS).cloned());
        }
        let out = chain.process(batch.clone()).expect("the chain runs");
        let version = out[0]
            .headers
            .iter()
            .find(|h| h.key == "version")
            .and_then(|h| h.value.clone())
            .unwrap_or_default();
        let _ = ran.send(Ran {
            started,
            ended: Instant::now(),
            version,
        });
    }
}

/// What one replacement cost.
struct Reload {
    latency: Duration,
    longest_gap: Duration,
    /// Of the latency, loading the new version (compiling it, or reading the cache).
    load: Duration,
}

/// Waits for the first batch run by `version` after `written`; returns the latency and the
/// longest gap between batch ends from `written` to that batch's end. Batch times seen on the
/// way go to `batch_times`.
fn wait_live(
    ran: &Receiver<Ran>,
    written: Instant,
    version: &str,
    batch_times: &mut Vec<Duration>,
) -> Reload {
    let mut last_end = written;
    let mut longest_gap = Duration::ZERO;
    loop {
        let batch = ran
            .recv_timeout(Duration::from_secs(30))
            .expect("the new version goes live within 30 s");
        batch_times.push(batch.ended - batch.started);
        if batch.ended < written {
            continue;
        }
        longest_gap = longest_gap.max(batch.ended - last_end);
        last_end = batch.ended;
        if batch.version == version && batch.started >= written {
            return Reload {
                latency: batch.started - written,
                longest_gap,
                load: Duration::ZERO,
            };
        }
    }
}

fn percentile(mut values: Vec<Duration>, p: f64) -> Duration {
    values.sort();
    values[((values.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let work = std::env::temp_dir().join(format!("tidemark-reload-bench-{}", std::process::id()));
    let plugins = work.join("plugins");
    std::fs::create_dir_all(&plugins).expect("bench dir");
    let versions = [
        ("1", test_plugin("stamp-v1")),
        ("2", test_plugin("stamp-v2")),
    ];
    let file = plugins.join("stamp.wasm");
    std::fs::write(&file, &versions[0].1).expect("first version");

    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(work.join("cache")),
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    let directory = PluginDirectory::new(&plugins, runtime.clone());
    let plugin = directory.load(&file, "bench").expect("stamp loads");
    let chain = || Chain::new(&runtime, vec![Step::new(plugin.clone(), BTreeMap::new())]);
    let reloading = reload::start(&directory, chain().expect("chain")).expect("reloader");
    let stop = Arc::new(AtomicBool::new(false));
    let (ran_tx, ran) = channel();
    let worker = {
        let stop = stop.clone();
        let chain = chain().expect("chain");
        std::thread::spawn(move || pipeline(chain, reloading, stop, ran_tx))
    };

    let mut batch_times = Vec::new();
    // The longest gap between batch ends in each steady 300 ms between reloads: what the
    // machine does to the loop without any reload, to compare the reload gaps with.
    let mut steady_gaps = Vec::new();
    let mut table: Vec<(&str, Vec<Reload>)> = Vec::new();
    let mut current = 0;
    for kind in ["cold", "warm"] {
        let mut reloads = Vec::new();
        for round in 0..ROUNDS {
            // steady state between reloads, which also gives the batch-time baseline
            let until = Instant::now() + Duration::from_millis(300);
            let mut last_end: Option<Instant> = None;
            let mut longest = Duration::ZERO;
            while Instant::now() < until {
                if let Ok(batch) = ran.recv_timeout(Duration::from_millis(50)) {
                    batch_times.push(batch.ended - batch.started);
                    if let Some(last) = last_end {
                        longest = longest.max(batch.ended.saturating_duration_since(last));
                    }
                    last_end = Some(batch.ended);
                }
            }
            steady_gaps.push(longest);
            current = 1 - current;
            let (version, bytes) = &versions[current];
            let bytes = match kind {
                "cold" => with_custom_section(bytes, &format!("round {round}")),
                _ => bytes.clone(),
            };
            let written = replace(&file, &bytes);
            let mut reload = wait_live(&ran, written, version, &mut batch_times);
            let state = directory.state();
            let load_ms = state["stamp"].versions.last().map_or(0.0, |v| v.load_ms);
            reload.load = Duration::from_secs_f64(load_ms / 1000.0);
            reloads.push(reload);
        }
        table.push((kind, reloads));
    }
    stop.store(true, Ordering::Relaxed);
    drop(ran);
    let _ = worker.join();
    let _ = std::fs::remove_dir_all(&work);

    let median_batch = percentile(batch_times, 0.5);
    println!("median batch time ({BATCH} records): {}", ms(median_batch));
    println!(
        "longest gap between batches in 300 ms without a reload: p50 {}, max {}",
        ms(percentile(steady_gaps.clone(), 0.5)),
        ms(percentile(steady_gaps, 1.0))
    );
    println!();
    println!(
        "| version | reloads | latency p50 | latency p95 | latency max | of which loading (p50) | longest gap between batches (max) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, reloads) in &table {
        let latencies: Vec<Duration> = reloads.iter().map(|r| r.latency).collect();
        let gaps: Vec<Duration> = reloads.iter().map(|r| r.longest_gap).collect();
        let loads: Vec<Duration> = reloads.iter().map(|r| r.load).collect();
        println!(
            "| {kind} | {} | {} | {} | {} | {} | {} |",
            reloads.len(),
            ms(percentile(latencies.clone(), 0.5)),
            ms(percentile(latencies.clone(), 0.95)),
            ms(percentile(latencies, 1.0)),
            ms(percentile(loads, 0.5)),
            ms(percentile(gaps, 1.0)),
        );
    }
}
