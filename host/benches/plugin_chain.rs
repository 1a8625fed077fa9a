//! Plugin-boundary throughput: records per second on one core through chains of `noop` and
//! `regex-router` plugins, at batch sizes 1, 64 and 1024, on a Debezium-shaped record with a
//! 10-column row, beside the same work done natively in Rust; and the Debezium user's usual
//! chain (ExtractNewRecordState, RegexRouter, MaskField, Filter) as bundled Wasm plugins.
//!
//! Run with `cargo xtask bench` (it builds the plugins first). Prints a Markdown table.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tidemark::event::{Data, Record, Schema, SchemaType, Value};
use tidemark::plugin::{Chain, Runtime, RuntimeOptions, Step};

/// How long each configuration is measured (after an equal warm-up).
const MEASURE: Duration = Duration::from_millis(1500);

fn plugin_path(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} missing: run `cargo xtask plugins`",
        path.display()
    );
    path
}

/// A change event as Debezium's Postgres connector emits it for a 10-column table.
fn debezium_record() -> Record {
    let string = || Arc::new(Schema::new(SchemaType::String).optional());
    let row = Arc::new(
        Schema::new(SchemaType::Struct)
            .optional()
            .named("dbz.public.customers.Value")
            .field(
                "id",
                Schema::new(SchemaType::Int32).with_default(Value::Int32(0)),
            )
            .field("name", string())
            .field("email", string())
            .field(
                "balance",
                Schema::new(SchemaType::Bytes)
                    .optional()
                    .named("org.apache.kafka.connect.data.Decimal")
                    .versioned(1)
                    .parameter("scale", "2")
                    .parameter("connect.decimal.precision", "12"),
            )
            .field("active", Schema::new(SchemaType::Boolean).optional())
            .field("score", Schema::new(SchemaType::Float64).optional())
            .field("visits", Schema::new(SchemaType::Int64).optional())
            .field(
                "created_at",
                Schema::new(SchemaType::String)
                    .optional()
                    .named("io.debezium.time.ZonedTimestamp")
                    .versioned(1),
            )
            .field("note", string())
            .field("updated_ms", Schema::new(SchemaType::Int64).optional()),
    );
    let source = Arc::new(
        Schema::new(SchemaType::Struct)
            .named("io.debezium.connector.postgresql.Source")
            .field("version", Schema::new(SchemaType::String))
            .field("connector", Schema::new(SchemaType::String))
            .field("name", Schema::new(SchemaType::String))
            .field("ts_ms", Schema::new(SchemaType::Int64))
            .field("db", Schema::new(SchemaType::String))
            .field("schema", Schema::new(SchemaType::String))
            .field("table", Schema::new(SchemaType::String))
            .field("lsn", Schema::new(SchemaType::Int64).optional()),
    );
    let envelope = Arc::new(
        Schema::new(SchemaType::Struct)
            .named("dbz.public.customers.Envelope")
            .versioned(2)
            .field("before", row.clone())
            .field("after", row)
            .field("source", source)
            .field("op", Schema::new(SchemaType::String))
            .field("ts_ms", Schema::new(SchemaType::Int64).optional()),
    );
    let after = Value::Struct(vec![
        Value::Int32(42),
        "Ada Lovelace".into(),
        "ada@example.com".into(),
        Value::Bytes(vec![0x01, 0xe2, 0x40]),
        Value::Boolean(true),
        Value::Float64(98.5),
        Value::Int64(1234),
        "2026-11-21T10:00:00.000000Z".into(),
        "first customer".into(),
        Value::Int64(1_763_719_200_000),
    ]);
    let source = Value::Struct(vec![
        "3.6.3.Final".into(),
        "postgresql".into(),
        "dbz".into(),
        Value::Int64(1_763_719_200_000),
        "shop".into(),
        "public".into(),
        "customers".into(),
        Value::Int64(26_543_120),
    ]);
    let key_schema = Arc::new(
        Schema::new(SchemaType::Struct)
            .named("dbz.public.customers.Key")
            .field("id", Schema::new(SchemaType::Int32)),
    );
    Record::new(
        "dbz.public.customers",
        Some(Data::new(key_schema, Value::Struct(vec![Value::Int32(42)]))),
        Some(Data::new(
            envelope,
            Value::Struct(vec![
                Value::Null,
                after,
                source,
                "c".into(),
                Value::Int64(1_763_719_200_001),
            ]),
        )),
    )
}

/// Records per second of `work`, which processes `batch` records per call and hands them back.
fn measure(batch: usize, mut work: impl FnMut(Vec<Record>) -> Vec<Record>) -> f64 {
    let mut records = vec![debezium_record(); batch];
    let warm_until = Instant::now() + MEASURE / 2;
    while Instant::now() < warm_until {
        records = work(records);
    }
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < MEASURE {
        records = work(records);
        done += batch as u64;
    }
    assert_eq!(records.len(), batch, "the work must keep every record");
    done as f64 / started.elapsed().as_secs_f64()
}

/// Records per second of `work` on fresh copies of the record in every call, for work that
/// changes records' shape (an unwrapped record would not be unwrapped again); only the time
/// inside `work` counts, not making the copies.
fn measure_fresh(batch: usize, mut work: impl FnMut(Vec<Record>) -> Vec<Record>) -> f64 {
    let template = debezium_record();
    let warm_until = Instant::now() + MEASURE / 2;
    while Instant::now() < warm_until {
        black_box(work(vec![template.clone(); batch]));
    }
    let mut inside = Duration::ZERO;
    let mut done = 0u64;
    while inside < MEASURE {
        let records = vec![template.clone(); batch];
        let started = Instant::now();
        let out = work(records);
        inside += started.elapsed();
        assert_eq!(out.len(), batch, "the work must keep every record");
        drop(black_box(out));
        done += batch as u64;
    }
    done as f64 / inside.as_secs_f64()
}

fn chain(runtime: &Runtime, steps: &[(&str, &[(&str, &str)])]) -> Chain {
    let steps = steps
        .iter()
        .map(|(name, settings)| Step {
            plugin: runtime.load_file(&plugin_path(name)).expect("plugin loads"),
            config: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            condition: None,
            name: None,
        })
        .collect();
    Chain::new(runtime, steps).expect("chain builds")
}

/// Routes every topic to itself, so each batch does the full match-and-replace work.
const ROUTE: &[(&str, &str)] = &[
    ("regex", r"(dbz)\.public\.(.*)"),
    ("replacement", "$1.public.$2"),
];

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters rows by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let mut rows: Vec<(String, usize, f64)> = Vec::new();
    // `fresh`: the work reshapes records, so it gets fresh copies in every call.
    let mut run = |name: &str,
                   batch: usize,
                   fresh: bool,
                   work: &mut dyn FnMut(Vec<Record>) -> Vec<Record>| {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            return;
        }
        let rate = if fresh {
            measure_fresh(batch, work)
        } else {
            measure(batch, work)
        };
        eprintln!("{name:<40} batch {batch:>5}: {rate:>14.0} records/s");
        rows.push((name.to_owned(), batch, rate));
    };

    let noop: &[(&str, &[(&str, &str)])] = &[("noop", &[])];
    let noop4: &[(&str, &[(&str, &str)])] =
        &[("noop", &[]), ("noop", &[]), ("noop", &[]), ("noop", &[])];
    let router: &[(&str, &[(&str, &str)])] = &[("regex-router", ROUTE)];
    for batch in [1, 64, 1024] {
        let mut c = chain(&runtime, noop);
        run("1 x noop (wasm)", batch, false, &mut |r| {
            c.process(r).expect("noop")
        });
        let mut c = chain(&runtime, noop4);
        run("4 x noop (wasm)", batch, false, &mut |r| {
            c.process(r).expect("noop chain")
        });
        let mut c = chain(&runtime, router);
        run("regex-router (wasm)", batch, false, &mut |r| {
            c.process(r).expect("router")
        });
    }

    let mut native_noop = |records: Vec<Record>| black_box(records);
    run("noop (native Rust)", 1024, false, &mut native_noop);
    let native_router = <regex_router::RegexRouter as tidemark_sdk::Transform>::configure(
        tidemark_sdk::Config::from_pairs(ROUTE),
    )
    .expect("router config");
    run(
        "regex-router (native Rust)",
        1024,
        false,
        &mut |mut records: Vec<Record>| {
            for r in &mut records {
                if let Some(topic) = native_router.route(&r.topic) {
                    r.topic = topic;
                }
            }
            records
        },
    );

    // The chain of bench/pg.sh's chain mode: unwrap + route + mask + filter (a CEL condition
    // that keeps every record, so each batch pays for the full evaluation).
    let usual: &[(&str, &[(&str, &str)])] = &[
        (
            "extract-new-record-state",
            &[("add.fields", "op,source.ts_ms")],
        ),
        (
            "regex-router",
            &[("regex", r"dbz\.public\.(.*)"), ("replacement", "cdc.$1")],
        ),
        ("mask-field", &[("part", "value"), ("fields", "email")]),
        (
            "filter",
            &[
                ("language", "jsr223.groovy"),
                ("condition", "value.id > 0 && value.__op != 'd'"),
            ],
        ),
    ];
    for batch in [64, 1024] {
        let mut c = chain(&runtime, usual);
        run(
            "unwrap + route + mask + filter (wasm)",
            batch,
            true,
            &mut |r| c.process(r).expect("usual chain"),
        );
    }
    // Its prefixes, so each step's cost is the difference between two rows.
    let names = ["unwrap", "unwrap + route", "unwrap + route + mask"];
    for (n, name) in names.iter().enumerate() {
        let mut c = chain(&runtime, &usual[..=n]);
        run(&format!("{name} (wasm)"), 1024, true, &mut |r| {
            c.process(r).expect("chain prefix")
        });
    }

    let mut c = chain(
        &runtime,
        &[("noop", &[("read.fields", "after.id,after.email")])],
    );
    run("noop reading 2 fields (wasm)", 1024, false, &mut |r| {
        c.process(r).expect("noop")
    });
    let mut c = chain(&runtime, &[("noop", &[("read.fields", ".")])]);
    run(
        "noop copying the whole value (wasm)",
        1024,
        false,
        &mut |r| c.process(r).expect("noop"),
    );

    println!("| work | batch | records/s/core |");
    println!("|---|---:|---:|");
    for (name, batch, rate) in &rows {
        println!("| {name} | {batch} | {:.0} |", rate);
    }
}
