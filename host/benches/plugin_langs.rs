//! The same transform written in Rust, Python, JavaScript and C
//! (`examples/plugins/<lang>`: mask an email column, route deletes to an audit topic), in one
//! run: records per second on one core, batches of 1024 of Debezium's own change events
//! (`tests/golden/dbz/pg-basic.jsonl`, repeated), each batch a fresh copy (only the time inside
//! the chain counts).
//!
//! Run with `cargo xtask bench --bench plugin_langs`: it builds the examples into
//! `target/example-plugins/` first (a language whose toolchain is missing is listed as such).
//! Prints a Markdown table.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tidemark::event::{self, Record};
use tidemark::plugin::{Chain, Runtime, RuntimeOptions, Step};

const MEASURE: Duration = Duration::from_millis(3000);
const BATCH: usize = 1024;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn batch() -> Vec<Record> {
    let text = std::fs::read_to_string(root().join("tests/golden/dbz/pg-basic.jsonl"))
        .expect("the golden file");
    let records: Vec<Record> = text
        .lines()
        .map(|l| event::read_line(l).expect("a golden line"))
        .collect();
    records.iter().cycle().take(BATCH).cloned().collect()
}

/// Records per second through the chain, counting only the time inside it.
fn measure(chain: &mut Chain, template: &[Record]) -> f64 {
    let warm_until = Instant::now() + MEASURE / 3;
    while Instant::now() < warm_until {
        black_box(chain.process(template.to_vec()).expect("the chain runs"));
    }
    let mut inside = Duration::ZERO;
    let mut done = 0u64;
    while inside < MEASURE {
        let records = template.to_vec();
        let started = Instant::now();
        let out = chain.process(records).expect("the chain runs");
        inside += started.elapsed();
        assert_eq!(out.len(), template.len());
        drop(black_box(out));
        done += template.len() as u64;
    }
    done as f64 / inside.as_secs_f64()
}

fn main() {
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let template = batch();
    println!("| language | component size | records/s/core | µs per record |");
    println!("|---|---:|---:|---:|");
    for lang in ["rust", "c", "js", "python"] {
        let path = root()
            .join("target/example-plugins")
            .join(format!("mask-email-{lang}.wasm"));
        let Ok(size) = std::fs::metadata(&path).map(|m| m.len()) else {
            println!("| {lang} | not built (toolchain missing?) | | |");
            continue;
        };
        let plugin = runtime.load_file(&path).expect("the plugin loads");
        let config: BTreeMap<String, String> = [
            ("plugin.memory.limit.bytes", "256MiB"),
            ("plugin.timeout.ms", "10000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut chain =
            Chain::new(&runtime, vec![Step::new(plugin, config)]).expect("the chain builds");
        let rate = measure(&mut chain, &template);
        println!(
            "| {lang} | {:.1} MB | {:.0} | {:.2} |",
            size as f64 / 1e6,
            rate,
            1e6 / rate
        );
    }
}
