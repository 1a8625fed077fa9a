//! Plugins in Python, JavaScript and C beside Rust, built on this machine by
//! `tidemark plugin build` with each language's own toolchain and run through the host on
//! Debezium's records:
//!
//! - `example_<lang>`: examples/plugins/<lang> (mask an email column, route deletes to an
//!   audit topic) gives exactly the output of the Rust version, examples/plugins/rust, on
//!   Debezium's golden output for the pg-basic workload, with default and custom settings;
//!   a bad setting is refused with the plugin's message;
//! - `new_<lang>_transform` / `new_<lang>_sink`: `tidemark plugin new` → `build` → `test`
//!   (a transform over records) or a sink taking a batch through the wasm sink adapter;
//! - `connector_python`: the Python example in a real connector against a throwaway
//!   Postgres, compared with the Rust example over Debezium's events.
//!
//! A language whose toolchain is not installed (sdk/install-toolchains.sh installs them; .ci/run
//! calls it) is reported as **skipped, with the reason**, and counted as skipped, not passed:
//! this file has its own runner (`harness = false`) that ends with `N passed, N failed, N
//! skipped`. Whether a toolchain is installed is checked directly (its tools and files, as
//! sdk/install-toolchains.sh checks them), so a `tidemark plugin new` or `build` that fails
//! with the toolchain there is a failure, never a skip. With `CI=true` a skip is a failure
//! too: CI installs every toolchain. Arguments that are not flags filter the cases by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tidemark::event::{self, JsonOptions, Record};
use tidemark::plugin::{Chain, Step};
use tidemark::sinks::Sink;
use tidemark::sinks::wasm::{RetryPolicy, WasmSink};
use tidemark_tests::capture::{Capture, normalize, pg_properties};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::{
    golden_records, plugin_path, runtime, tidemark_binary, workload, workspace_root,
};

const LANGS: [&str; 3] = ["python", "js", "c"];

/// How a case ended.
enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

type Case = Box<dyn FnOnce() -> Outcome>;

/// Fails the case with a message.
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Outcome::Failed(format!($($arg)*));
        }
    };
}

/// Unwraps a result or fails the case with the error.
macro_rules! attempt {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(format!("{}: {e:#}", stringify!($e))),
        }
    };
}

fn main() {
    // Compiled components are cached where the other tests keep theirs, also for the
    // connector's own runtime and the `tidemark` subprocesses: a Python component takes
    // minutes to compile in a debug build, so it must be compiled once, not once per use.
    // SAFETY: no other thread runs yet.
    unsafe {
        std::env::set_var(
            "TIDEMARK_CACHE_DIR",
            workspace_root().join("target").join("test-plugin-cache"),
        );
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut cases: Vec<(String, Case)> = Vec::new();
    for lang in LANGS {
        cases.push((format!("example_{lang}"), Box::new(move || example(lang))));
    }
    for lang in ["rust", "python", "js", "c"] {
        cases.push((
            format!("new_{lang}_transform"),
            Box::new(move || new_transform(lang)),
        ));
        cases.push((format!("new_{lang}_sink"), Box::new(move || new_sink(lang))));
    }
    cases.push(("connector_python".into(), Box::new(connector_python)));

    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, case) in cases {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let started = Instant::now();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(case)).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Outcome::Failed(format!("panicked: {message}"))
            });
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            Outcome::Passed => {
                passed += 1;
                println!("test {name} ... ok ({secs:.1} s)");
            }
            Outcome::Failed(why) => {
                failed += 1;
                println!("test {name} ... FAILED ({secs:.1} s)\n{why}\n");
            }
            Outcome::Skipped(why) if on_ci() => {
                failed += 1;
                println!(
                    "test {name} ... FAILED: skipped with CI=true, where every toolchain must be installed: {why}\n"
                );
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                println!("test {name} ... SKIPPED: {why}");
            }
        }
    }
    println!();
    println!("plugin_langs: {passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Whether this runs on CI (`CI=true`), where a skipped case fails.
fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The directory sdk/install-toolchains.sh installs the Python and JavaScript toolchains
/// into (as `tidemark plugin build` finds it).
fn toolchain_dir() -> PathBuf {
    match std::env::var_os("TIDEMARK_TOOLCHAINS") {
        Some(dir) => PathBuf::from(dir),
        None => home().join(".cache").join("tidemark").join("toolchains"),
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Whether an executable `name` is on `PATH` or in one of `extra`.
fn has_tool(name: &str, extra: &[PathBuf]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .any(|dir| dir.join(name).is_file())
}

/// `None` when the language's toolchain is installed; else what is missing. Checked
/// directly, by the tools and files sdk/install-toolchains.sh checks, never by running
/// `tidemark plugin new` or `build`: those failing with the toolchain there is a failure.
fn missing_toolchain(lang: &str) -> Option<String> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map_or_else(|| home().join(".cargo"), PathBuf::from)
        .join("bin");
    let mut missing: Vec<String> = Vec::new();
    let mut tool = |name: &str, extra: &[PathBuf]| {
        if !has_tool(name, extra) {
            let places: Vec<String> = extra.iter().map(|d| d.display().to_string()).collect();
            missing.push(format!("{name} (on PATH or in {})", places.join(", ")));
        }
    };
    let mut files: Vec<PathBuf> = Vec::new();
    match lang {
        "rust" => {
            tool("cargo", std::slice::from_ref(&cargo_bin));
            match Command::new("rustc").args(["--print", "sysroot"]).output() {
                Ok(out) if out.status.success() => files.push(
                    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
                        .join("lib/rustlib/wasm32-wasip2"),
                ),
                _ => missing.push("rustc".into()),
            }
        }
        "python" => tool("componentize-py", &[toolchain_dir().join("python/bin")]),
        "js" => {
            let bin = toolchain_dir().join("js/node_modules/.bin");
            tool("componentize-js", std::slice::from_ref(&bin));
            tool("rolldown", &[bin]);
        }
        "c" => {
            tool("clang-16", &[]);
            tool("wasm-ld-16", &[]);
            tool("wit-bindgen", std::slice::from_ref(&cargo_bin));
            tool("wasm-tools", &[cargo_bin]);
            if std::env::var_os("WASI_SYSROOT").is_none() {
                files.push("/usr/include/wasm32-wasi/stdlib.h".into());
                files.push(
                    "/usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a".into(),
                );
            }
        }
        other => panic!("no toolchain check for {other:?}"),
    }
    missing.extend(
        files
            .iter()
            .filter(|f| !f.exists())
            .map(|f| f.display().to_string()),
    );
    (!missing.is_empty()).then(|| {
        format!(
            "the {lang} toolchain is not installed, missing: {} (sdk/install-toolchains.sh installs it)",
            missing.join(", ")
        )
    })
}

/// Runs the tidemark binary; the error is its stderr.
fn tidemark(args: &[&str], paths: &[&Path]) -> Result<String, String> {
    let output = Command::new(tidemark_binary())
        // Rust projects share one target directory, so their dependencies build once.
        .env(
            "CARGO_TARGET_DIR",
            workspace_root().join("target").join("plugin-projects"),
        )
        .args(args)
        .args(paths)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Builds a project with `tidemark plugin build` into `out`.
fn build(project: &Path, out: &Path) -> Result<(), String> {
    tidemark(&["plugin", "build"], &[project, Path::new("-o"), out]).map(drop)
}

/// The built example of a language, in `target/example-plugins/` (the benchmark uses it too).
fn built_example(lang: &str) -> PathBuf {
    workspace_root()
        .join("target")
        .join("example-plugins")
        .join(format!("mask-email-{lang}.wasm"))
}

fn run_chain(
    plugin: &Path,
    config: &[(&str, &str)],
    records: Vec<Record>,
) -> Result<Vec<String>, String> {
    let plugin = runtime().load_file(plugin).map_err(|e| e.to_string())?;
    let config: BTreeMap<String, String> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut chain =
        Chain::new(runtime(), vec![Step::new(plugin, config)]).map_err(|e| e.to_string())?;
    let out = chain.process(records).map_err(|e| e.to_string())?;
    Ok(out
        .iter()
        .map(|r| {
            let mut line = String::new();
            event::write_line(&mut line, r, JsonOptions::default());
            line
        })
        .collect())
}

fn example(lang: &str) -> Outcome {
    if let Some(why) = missing_toolchain(lang) {
        return Outcome::Skipped(why);
    }
    let out = built_example(lang);
    attempt!(build(
        &workspace_root().join("examples/plugins").join(lang),
        &out
    ));
    let rust = plugin_path("mask-email-rust");
    let records = golden_records("dbz/pg-basic.jsonl");
    let settings: [&[(&str, &str)]; 2] = [
        &[],
        &[
            ("mask", "#"),
            ("field", "name"),
            ("audit.topic", "audit.custom"),
        ],
    ];
    for config in settings {
        let want = attempt!(run_chain(&rust, config, records.clone()));
        let got = attempt!(run_chain(&out, config, records.clone()));
        check!(
            got.len() == want.len(),
            "{} records from {lang}, {} from Rust",
            got.len(),
            want.len()
        );
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            check!(
                g == w,
                "record {i} with {config:?} differs:\n{lang}: {g}\nrust: {w}"
            );
        }
    }
    // The Rust version does the job (so the comparison means something).
    let want = attempt!(run_chain(&rust, &[], records.clone()));
    check!(
        !want.iter().any(|l| l.contains("alice@")),
        "an email is not masked"
    );
    check!(
        want.iter().any(|l| l.contains("***@example.com")),
        "no masked email"
    );
    let audited = want
        .iter()
        .filter(|l| {
            l.starts_with("{\"topic\":\"audit.deletes\"") && l.contains("tidemark.audit.source")
        })
        .count();
    let deletes = records
        .iter()
        .filter(|r| {
            r.value
                .as_ref()
                .is_some_and(|d| event::payload_json(d).contains("\"op\":\"d\""))
        })
        .count();
    check!(
        audited == deletes && deletes > 0,
        "{audited} audited records for {deletes} deletes"
    );
    // A bad setting is refused with the plugin's own message.
    let err = run_chain(&out, &[("field", "")], records[..1].to_vec()).unwrap_err();
    check!(
        err.contains("'field'") && err.contains("rejected its configuration"),
        "{err}"
    );
    Outcome::Passed
}

fn new_transform(lang: &str) -> Outcome {
    if let Some(why) = missing_toolchain(lang) {
        return Outcome::Skipped(why);
    }
    let dir = attempt!(tempfile::tempdir());
    let project = dir.path().join("hello");
    attempt!(tidemark(
        &["plugin", "new", "hello", "--lang", lang, "--dir"],
        &[&project]
    ));
    let wasm = dir.path().join("hello.wasm");
    attempt!(build(&project, &wasm));
    let input = workspace_root().join("tests/golden/dbz/pg-basic.jsonl");
    let cache = workspace_root().join("target/test-plugin-cache");
    let printed = attempt!(tidemark(
        &["plugin", "test"],
        &[
            &wasm,
            Path::new("--input"),
            &input,
            Path::new("--cache-dir"),
            &cache
        ]
    ));
    let lines: Vec<&str> = printed.lines().collect();
    check!(
        lines.len() == golden_records("dbz/pg-basic.jsonl").len(),
        "{} lines",
        lines.len()
    );
    for line in lines {
        let record = attempt!(event::read_line(line));
        let header = record.headers.iter().find(|h| h.key == "processed-by");
        check!(
            header.and_then(|h| h.value.as_deref()) == Some("hello"),
            "no processed-by header in {line}"
        );
    }
    Outcome::Passed
}

fn new_sink(lang: &str) -> Outcome {
    if let Some(why) = missing_toolchain(lang) {
        return Outcome::Skipped(why);
    }
    let dir = attempt!(tempfile::tempdir());
    let project = dir.path().join("counter");
    attempt!(tidemark(
        &[
            "plugin", "new", "counter", "--kind", "sink", "--lang", lang, "--dir"
        ],
        &[&project]
    ));
    let wasm = dir.path().join("counter.wasm");
    attempt!(build(&project, &wasm));
    let info = attempt!(tidemark(&["plugin", "inspect"], &[&wasm]));
    check!(info.contains("tidemark:plugin/sink@0.1.0"), "{info}");
    let mut sink = attempt!(WasmSink::open(
        runtime(),
        &wasm,
        &BTreeMap::new(),
        RetryPolicy::default()
    ));
    attempt!(sink.write(&golden_records("dbz/pg-basic.jsonl")));
    attempt!(sink.flush());
    Outcome::Passed
}

fn connector_python() -> Outcome {
    if let Some(why) = missing_toolchain("python") {
        return Outcome::Skipped(why);
    }
    let plugin = built_example("python");
    if !plugin.is_file() {
        attempt!(build(
            &workspace_root().join("examples/plugins/python"),
            &plugin
        ));
    }
    let pg = Postgres::start();
    pg.create_database("dbz");
    pg.psql_file("dbz", &workload("pg-basic.sql"));
    let dir = attempt!(tempfile::tempdir());
    let plugin_text = plugin.display().to_string();
    let props = pg_properties(
        &pg,
        "dbz",
        dir.path(),
        &[
            ("transforms", "mask"),
            ("transforms.mask.type", &plugin_text),
            ("transforms.mask.plugin.memory.limit.bytes", "256MiB"),
        ],
    );
    let golden = golden_records("dbz/pg-basic.jsonl");
    let want = attempt!(run_chain(&plugin_path("mask-email-rust"), &[], golden));
    let mut capture = Capture::start(dir.path().to_owned(), props);
    capture.wait_streaming(&pg, "dbz");
    pg.psql_file("dbz", &workload("pg-basic-stream.sql"));
    capture.wait_lines(want.len(), Duration::from_secs(120));
    // Every line written by the stop, so an extra or duplicated event fails the count.
    let ours = capture.stop_after_quiet();
    check!(
        ours.len() == want.len(),
        "{} lines, want {}",
        ours.len(),
        want.len()
    );
    for (i, (o, w)) in ours.iter().zip(&want).enumerate() {
        check!(
            normalize(o) == normalize(w),
            "event {i} differs:\nours: {o}\nwant: {w}"
        );
    }
    Outcome::Passed
}
