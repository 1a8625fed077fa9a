//! Hot-reload latency and the throughput dip around a reload.
//!
//! A pipeline-shaped loop runs batches of 1024 records through a test plugin and takes new
//! chains between batches, as the pipeline does. The plugin file in a watched plugin
//! directory is then replaced (write to a temporary name, rename) by another version, again
//! and again; for each replacement we measure the time from the rename to the start of the
//! first batch run by the new version and, for a cold version, to the first batch run by its
//! optimized code; the longest stall (from the end of one batch to the start of the next)
//! while the reload was under way, against the median batch time; and the dip: the share of
//! the steady rate's batches that did not run in the second after the rename.
//!
//! "cold": a version never seen before (a unique custom section makes its content new), so
//! it is compiled, first by the baseline compiler; "warm": a version compiled before (a
//! rollback), read from the cache.
//!
//! The plugins measured, one after the other, are `RELOAD_PLUGINS` (default `stamp
//! extract-new-record-state filter`): `stamp` is a small test plugin (80 kB, its versions
//! `stamp-v1` and `stamp-v2`), the others are plugins of `target/plugins` (ExtractNewRecordState
//! 260 kB, Filter 2.3 MB with its CEL interpreter), their versions the plugin and a copy with
//! a custom section.
//!
//! Run with `cargo xtask bench --bench reload` (it builds the plugins first). Prints a Markdown
//! table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use tidemark::event::{Data, Record, Schema, SchemaType, Value};
use tidemark::plugin::reload::{self, CANARY_RECORDS};
use tidemark::plugin::{Chain, PluginDirectory, Runtime, RuntimeOptions, Step};

const BATCH: usize = 1024;
const ROUNDS: usize = 20;
/// The window after a rename in which the dip is measured.
const DIP_WINDOW: Duration = Duration::from_secs(1);

/// One batch as the loop ran it.
struct Ran {
    started: Instant,
    ended: Instant,
    /// New chains taken just before this batch (two when the optimized code came before the
    /// baseline code's first batch).
    swapped: usize,
}

fn plugin_bytes(dir: &str, name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(dir)
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

/// A Debezium-shaped insert event.
fn record(i: usize) -> Record {
    let row = Arc::new(
        Schema::new(SchemaType::Struct)
            .optional()
            .named("bench.public.t.Value")
            .field("id", Schema::new(SchemaType::Int64))
            .field("v", Schema::new(SchemaType::String).optional()),
    );
    let envelope = Arc::new(
        Schema::new(SchemaType::Struct)
            .named("bench.public.t.Envelope")
            .field("before", row.clone())
            .field("after", row)
            .field("op", Schema::new(SchemaType::String)),
    );
    let value = Value::Struct(vec![
        Value::Null,
        Value::Struct(vec![Value::Int64(i as i64), format!("row {i}").into()]),
        "c".into(),
    ]);
    Record::new("bench.public.t", None, Some(Data::new(envelope, value)))
}

/// The pipeline's loop: swap between batches, keep a canary, run the chain.
fn pipeline(
    mut chain: Chain,
    reloading: reload::Reloading,
    stop: Arc<AtomicBool>,
    ran: Sender<Ran>,
) {
    let batch: Vec<Record> = (0..BATCH).map(record).collect();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let mut swapped = 0;
        while let Ok(new) = reloading.swaps.try_recv() {
            chain = new;
            swapped += 1;
        }
        if let Ok(mut canary) = reloading.canary.lock() {
            canary.clear();
            canary.extend(batch.iter().take(CANARY_RECORDS).cloned());
        }
        let out = chain.process(batch.clone()).expect("the chain runs");
        assert!(!out.is_empty(), "the chain keeps the records");
        let _ = ran.send(Ran {
            started,
            ended: Instant::now(),
            swapped,
        });
    }
}

/// What one replacement cost.
struct Reload {
    /// Rename → first batch of the new version.
    live: Duration,
    /// Rename → first batch of the new version's optimized code (cold versions).
    optimized: Option<Duration>,
    /// Of `live`, loading the new version (compiling it, or reading the cache).
    load: Duration,
    /// The longest time from the end of a batch to the start of the next, from the rename
    /// until the last swap.
    stall: Duration,
    /// The longest batch from the rename until the last swap.
    longest_batch: Duration,
    /// Batches run in the second after the rename.
    batches_in_window: usize,
}

/// Follows the batches after `written` until `swaps` new chains went live and the dip
/// window is over.
fn follow(
    ran: &Receiver<Ran>,
    written: Instant,
    swaps: usize,
    batch_times: &mut Vec<Duration>,
) -> Reload {
    let mut lives = Vec::new();
    let mut last_end: Option<Instant> = None;
    let mut stall = Duration::ZERO;
    let mut longest_batch = Duration::ZERO;
    let mut batches_in_window = 0;
    loop {
        let batch = ran
            .recv_timeout(Duration::from_secs(30))
            .expect("the new version goes live within 30 s");
        if batch.ended < written {
            continue;
        }
        batch_times.push(batch.ended - batch.started);
        if batch.started < written + DIP_WINDOW {
            batches_in_window += 1;
        }
        if lives.len() < swaps {
            if let Some(end) = last_end {
                stall = stall.max(batch.started.saturating_duration_since(end));
            }
            longest_batch = longest_batch.max(batch.ended - batch.started);
            if batch.started >= written {
                lives.extend(std::iter::repeat_n(batch.started - written, batch.swapped));
            }
        }
        last_end = Some(batch.ended);
        if lives.len() >= swaps && batch.started >= written + DIP_WINDOW {
            return Reload {
                live: lives[0],
                optimized: lives.get(1).copied(),
                load: Duration::ZERO,
                stall,
                longest_batch,
                batches_in_window,
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

/// A plugin under test: its two versions and its configuration.
fn plugin_under_test(name: &str) -> ([Vec<u8>; 2], BTreeMap<String, String>) {
    if name == "stamp" {
        let versions = [
            plugin_bytes("test-plugins", "stamp-v1"),
            plugin_bytes("test-plugins", "stamp-v2"),
        ];
        return (versions, BTreeMap::new());
    }
    let bytes = plugin_bytes("plugins", name);
    let config: &[(&str, &str)] = match name {
        "filter" => &[("language", "cel"), ("condition", "value.op != 'd'")],
        "regex-router" => &[("regex", r"bench\.public\.(.*)"), ("replacement", "cdc.$1")],
        "mask-field" => &[("fields", "after.v")],
        _ => &[],
    };
    let config = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let second = with_custom_section(&bytes, "second version");
    ([bytes, second], config)
}

fn main() {
    let names = std::env::var("RELOAD_PLUGINS")
        .unwrap_or_else(|_| "stamp extract-new-record-state filter".into());
    for name in names.split_whitespace() {
        bench(name);
        println!();
    }
}

/// Measures cold and warm reloads of one plugin and prints them.
fn bench(name: &str) {
    let work = std::env::temp_dir().join(format!(
        "tidemark-reload-bench-{}-{name}",
        std::process::id()
    ));
    let plugins = work.join("plugins");
    std::fs::create_dir_all(&plugins).expect("bench dir");
    let (versions, config) = plugin_under_test(name);
    let file = plugins.join(format!("{name}.wasm"));
    std::fs::write(&file, &versions[0]).expect("first version");

    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(work.join("cache")),
    })
    .expect("runtime");
    let directory = PluginDirectory::new(&plugins, runtime.clone());
    let lease = directory.lease("bench");
    let plugin = directory.load(&file, &lease).expect("the plugin loads");
    // The second version compiled ahead (as `tidemark plugin inspect` does), for warm reloads.
    runtime
        .load(name, &versions[1])
        .expect("the second version loads");
    let chain = || Chain::new(&runtime, vec![Step::new(plugin.clone(), config.clone())]);
    let reloading = reload::start(lease, chain().expect("chain")).expect("reloader");
    let stop = Arc::new(AtomicBool::new(false));
    let (ran_tx, ran) = channel();
    let worker = {
        let stop = stop.clone();
        let chain = chain().expect("chain");
        std::thread::spawn(move || pipeline(chain, reloading, stop, ran_tx))
    };

    let mut batch_times = Vec::new();
    // Steady windows of 1 s between reloads: the longest stall and the number of batches
    // without any reload, to compare the reloads' windows with.
    let mut steady_stalls = Vec::new();
    let mut steady_batches = Vec::new();
    let mut table: Vec<(&str, Vec<Reload>)> = Vec::new();
    let mut current = 0;
    for kind in ["cold", "warm"] {
        let mut reloads = Vec::new();
        for round in 0..ROUNDS {
            let from = Instant::now() + Duration::from_millis(100);
            let until = from + DIP_WINDOW;
            let mut last_end: Option<Instant> = None;
            let (mut stall, mut batches) = (Duration::ZERO, 0);
            while Instant::now() < until {
                if let Ok(batch) = ran.recv_timeout(Duration::from_millis(50)) {
                    if batch.started < from {
                        continue;
                    }
                    batch_times.push(batch.ended - batch.started);
                    batches += 1;
                    if let Some(last) = last_end {
                        stall = stall.max(batch.started.saturating_duration_since(last));
                    }
                    last_end = Some(batch.ended);
                }
            }
            steady_stalls.push(stall);
            steady_batches.push(batches);
            current = 1 - current;
            let bytes = match kind {
                "cold" => with_custom_section(&versions[current], &format!("round {round}")),
                _ => versions[current].clone(),
            };
            let written = replace(&file, &bytes);
            let swaps = if kind == "cold" { 2 } else { 1 };
            let mut reload = follow(&ran, written, swaps, &mut batch_times);
            let state = directory.state();
            let load_ms = state[name].versions.last().map_or(0.0, |v| v.load_ms);
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
    steady_batches.sort();
    let steady = steady_batches[steady_batches.len() / 2];
    println!(
        "plugin {name} ({} bytes); median batch time ({BATCH} records): {}; batches per second without a reload: {steady} (median)",
        versions[0].len(),
        ms(median_batch)
    );
    println!(
        "longest stall between batches in 1 s without a reload: p50 {}, max {}",
        ms(percentile(steady_stalls.clone(), 0.5)),
        ms(percentile(steady_stalls, 1.0))
    );
    println!();
    println!(
        "| version | reloads | live p50 | live p95 | live max | of which loading (p50) | optimized code live (p50) | longest stall (max) | longest batch (max) | dip in the 1 s after the rename (p50) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (kind, reloads) in &table {
        let lives: Vec<Duration> = reloads.iter().map(|r| r.live).collect();
        let optimized: Vec<Duration> = reloads.iter().filter_map(|r| r.optimized).collect();
        let loads: Vec<Duration> = reloads.iter().map(|r| r.load).collect();
        let stalls: Vec<Duration> = reloads.iter().map(|r| r.stall).collect();
        let batches: Vec<Duration> = reloads.iter().map(|r| r.longest_batch).collect();
        let mut dips: Vec<f64> = reloads
            .iter()
            .map(|r| 1.0 - r.batches_in_window as f64 / steady.max(1) as f64)
            .collect();
        dips.sort_by(f64::total_cmp);
        println!(
            "| {kind} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1}% |",
            reloads.len(),
            ms(percentile(lives.clone(), 0.5)),
            ms(percentile(lives.clone(), 0.95)),
            ms(percentile(lives, 1.0)),
            ms(percentile(loads, 0.5)),
            if optimized.is_empty() {
                "–".to_owned()
            } else {
                ms(percentile(optimized, 0.5))
            },
            ms(percentile(stalls, 1.0)),
            ms(percentile(batches, 1.0)),
            dips[dips.len() / 2] * 100.0,
        );
    }
}
