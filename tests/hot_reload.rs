//! Hot reload against a real stream: plugins in the plugin directory are swapped between
//! batches while rows flow, and broken versions are refused while the running one goes on.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tidemark::plugin::{Tier, read_state};
use tidemark_tests::capture::{Capture, pg_properties};
use tidemark_tests::postgres::{PASSWORD, PG_BIN, Postgres};
use tidemark_tests::{last_header as header, never_seen_version, plugin_path};

const TIMEOUT: Duration = Duration::from_secs(120);

/// Replaces a plugin file atomically, as a deployment would (write aside, then rename).
fn deploy(from: &Path, dir: &Path, name: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join(format!("{name}.wasm"))).unwrap();
}

/// Inserts `batches` transactions of 100 rows, ~100 a second, in the background.
fn writer(server: &Postgres, batches: u32) -> std::thread::JoinHandle<bool> {
    let port = server.port;
    std::thread::spawn(move || {
        Command::new(Path::new(PG_BIN).join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "shop",
                "-qAtX",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .arg("-p")
            .arg(port.to_string())
            .env("PGPASSWORD", PASSWORD)
            .arg("-c")
            .arg(format!(
                "DO $$ BEGIN FOR i IN 0..{} LOOP \
                   INSERT INTO t SELECT g FROM generate_series(i * 100 + 1, i * 100 + 100) g; \
                   COMMIT; PERFORM pg_sleep(0.01); END LOOP; END $$",
                batches - 1
            ))
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

fn connector(server: &Postgres, dir: &Path, plugins: &Path, extra: &[(&str, &str)]) -> Capture {
    let plugin_dir = plugins.display().to_string();
    let mut settings = vec![
        ("transforms", "s"),
        ("transforms.s.type", "stamp"),
        ("plugin.path", plugin_dir.as_str()),
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
        ("offset.flush.interval.ms", "200"),
    ];
    settings.extend_from_slice(extra);
    Capture::start(
        dir.to_owned(),
        pg_properties(server, "shop", dir, &settings),
    )
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` from the REST API: the status code and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// The value of the sample of `metric` whose labels contain `labels`.
fn sample(metrics: &str, metric: &str, labels: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(&format!("{metric}{{")) && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn swapping_a_plugin_100_times_mid_stream_keeps_every_record_in_order() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE t (id int PRIMARY KEY)");
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let (v1, v2) = (plugin_path("stamp-v1"), plugin_path("stamp-v2"));
    deploy(&v1, plugins.path(), "stamp");
    let mut capture = connector(&server, dir.path(), plugins.path(), &[]);
    server.wait_slot_active("shop", "tidemark_slot");

    const BATCHES: u32 = 1000;
    let rows = BATCHES as usize * 100;
    let writing = writer(&server, BATCHES);
    for swap in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        deploy(
            if swap % 2 == 0 { &v2 } else { &v1 },
            plugins.path(),
            "stamp",
        );
    }
    assert!(writing.join().unwrap(), "the workload ran");
    capture.wait_lines(rows, TIMEOUT);
    assert!(
        read_state(plugins.path())["stamp"]
            .users
            .contains("test-connector"),
        "a running connector is a user of its plugins"
    );
    // Every line written by the stop: a duplicated record fails the check below.
    let lines = capture.stop_after_quiet();

    let events: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e["value"]["after"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=rows as i64).collect::<Vec<_>>(),
        "every row once, in order"
    );
    // Versions change only at batch boundaries: whenever the instance changes (another
    // version, or the same version swapped in again after one that saw no batch, or its
    // optimized code after its baseline code), the first record is in the new instance's
    // first batch; within an instance calls only grow.
    let runs = instances(&events).len();
    let state = read_state(plugins.path());
    let (reloads, upgrades) = (state["stamp"].reloads, state["stamp"].upgrades);
    assert!(
        runs >= 10,
        "swaps took effect while the stream ran ({runs} runs)"
    );
    assert!(
        runs - 1 <= (reloads + upgrades) as usize,
        "{runs} runs from {reloads} reloads and {upgrades} swaps to optimized code"
    );
    assert!(
        state["stamp"].users.is_empty() && state["stamp"].live.is_empty(),
        "a stopped connector uses no plugin: {:?}",
        state["stamp"]
    );
}

/// Inserts ids `after + 1 ..= after + 100` into `t` in one transaction.
fn insert_batch(server: &Postgres, after: usize) {
    server.psql(
        "shop",
        &format!(
            "INSERT INTO t SELECT g FROM generate_series({}, {}) g",
            after + 1,
            after + 100
        ),
    );
}

/// The instances (version, number of batches) that stamped the events, in order: a new
/// instance starts whenever the version changes or the batch counter starts again.
fn instances(events: &[Json]) -> Vec<(String, u64)> {
    let mut runs: Vec<(String, u64)> = Vec::new();
    for event in events {
        let version = header(event, "version").expect("every record is stamped");
        let call: u64 = header(event, "call").unwrap().parse().unwrap();
        match runs.last_mut() {
            Some((v, calls)) if v == version && call >= *calls => *calls = call,
            _ => {
                assert_eq!(call, 1, "a new instance starts with a new batch");
                runs.push((version.to_owned(), call));
            }
        }
    }
    runs
}

#[test]
fn a_never_seen_version_goes_live_with_baseline_code_then_its_optimized_code() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE t (id int PRIMARY KEY)");
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    deploy(&plugin_path("stamp-v1"), plugins.path(), "stamp");
    let mut capture = connector(&server, dir.path(), plugins.path(), &[]);
    server.wait_slot_active("shop", "tidemark_slot");

    const BATCHES: u32 = 300;
    let mut rows = BATCHES as usize * 100;
    let writing = writer(&server, BATCHES);
    std::thread::sleep(Duration::from_millis(500));
    // Version 2 with content no cache has seen: compiled by the baseline compiler first.
    let fresh = dir.path().join("stamp-v2-fresh.wasm");
    let tag = format!("{:?}", std::time::SystemTime::now());
    let v2 = std::fs::read(plugin_path("stamp-v2")).unwrap();
    std::fs::write(&fresh, never_seen_version(&v2, &tag)).unwrap();
    deploy(&fresh, plugins.path(), "stamp");
    // The optimized code is compiled at the lowest priority and swapped in at the next batch
    // boundary: on a busy machine it can be ready only after the workload ended, so batches
    // keep coming (one every half second) until the swap happened.
    let mut last_batch = Instant::now();
    let deadline = Instant::now() + TIMEOUT;
    let state = loop {
        let state = read_state(plugins.path());
        let stamp = &state["stamp"];
        if stamp.upgrades >= 1 {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "no swap to optimized code: {stamp:?}"
        );
        if writing.is_finished() && last_batch.elapsed() > Duration::from_millis(500) {
            insert_batch(&server, rows);
            rows += 100;
            last_batch = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(writing.join().unwrap(), "the workload ran");
    // One more batch, so that a batch follows the swap to optimized code.
    insert_batch(&server, rows);
    let rows = rows + 100;
    capture.wait_lines(rows, TIMEOUT);
    let lines = capture.stop_after_quiet();

    let stamp = &state["stamp"];
    let version = stamp.versions.last().unwrap();
    assert_eq!(version.tier, Tier::Optimized, "{stamp:?}");
    assert_eq!(version.accepted, Some(true), "{stamp:?}");
    assert_eq!((stamp.reloads, stamp.upgrades), (1, 1), "{stamp:?}");

    let events: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e["value"]["after"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=rows as i64).collect::<Vec<_>>(),
        "every row once, in order"
    );
    // Version 1, then version 2 in two instances: its baseline code, then its optimized code,
    // each swapped in between two batches. When the optimized code is ready before a batch
    // boundary follows the baseline swap, the pipeline takes only the newest chain: version 2
    // then runs in one instance (the state above shows both swaps happened).
    let runs = instances(&events);
    let versions: Vec<&str> = runs.iter().map(|(v, _)| v.as_str()).collect();
    assert!(
        versions == ["1", "2", "2"] || versions == ["1", "2"],
        "{runs:?}"
    );
}

#[test]
fn broken_versions_are_refused_and_the_running_one_continues() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE t (id int PRIMARY KEY)");
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    deploy(&plugin_path("stamp-v1"), plugins.path(), "stamp");
    let port = free_port();
    let listeners = format!("http://127.0.0.1:{port}");
    let mut capture = connector(
        &server,
        dir.path(),
        plugins.path(),
        &[("listeners", listeners.as_str())],
    );
    server.wait_slot_active("shop", "tidemark_slot");
    server.psql("shop", "INSERT INTO t VALUES (1)");
    capture.wait_lines(1, TIMEOUT);

    let wait_for_error = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = read_state(plugins.path());
            if let Some(error) = state.get("stamp").and_then(|s| s.last_error.clone())
                && error.contains(what)
            {
                return error;
            }
            assert!(
                Instant::now() < deadline,
                "no rejection mentioning {what:?}: {state:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // Not a component at all.
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"not wasm").unwrap();
    deploy(&garbage, plugins.path(), "stamp");
    wait_for_error("not a valid WebAssembly component");
    // A component whose declared configuration refuses the running one (RegexRouter needs
    // regex and replacement), named with the connector that refused it.
    deploy(&plugin_path("regex-router"), plugins.path(), "stamp");
    wait_for_error(
        "connector test-connector: plugin 'stamp (transforms.s)' has an invalid configuration",
    );
    // The REST API shows the rejections as metrics and in the plugin list.
    let (status, metrics) = get(port, "/metrics");
    assert_eq!(status, 200);
    let failures = sample(
        &metrics,
        "tidemark_plugin_reload_failures_total",
        "plugin=\"stamp\"",
    );
    assert_eq!(failures, Some(2.0), "{metrics}");
    assert_eq!(
        sample(
            &metrics,
            "tidemark_plugin_reloads_total",
            "plugin=\"stamp\""
        ),
        Some(0.0),
        "{metrics}"
    );
    let error = sample(&metrics, "tidemark_plugin_reload_error", "plugin=\"stamp\"");
    assert_eq!(error, Some(1.0), "{metrics}");
    assert!(
        sample(&metrics, "tidemark_records_in_total", "test-connector").unwrap() >= 1.0,
        "{metrics}"
    );
    // The transform's cost, counted across the versions it ran.
    let step = "transform=\"s\",plugin=\"stamp\"";
    assert!(
        sample(&metrics, "tidemark_plugin_records_total", step).unwrap() >= 1.0,
        "{metrics}"
    );
    assert!(
        sample(&metrics, "tidemark_plugin_seconds_total", step).unwrap() > 0.0,
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "tidemark_plugin_errors_total", step),
        Some(0.0),
        "{metrics}"
    );
    let (_, plugins_json) = get(port, "/plugins");
    let listed: Json = serde_json::from_str(&plugins_json).unwrap();
    // the first version and the one configure refused (the garbage never loaded)
    assert_eq!(listed["stamp"]["versions"].as_array().unwrap().len(), 2);
    assert_eq!(listed["stamp"]["rejected"], 2);
    let (_, status) = get(port, "/connectors/test-connector/status");
    let status: Json = serde_json::from_str(&status).unwrap();
    assert_eq!(status["connector"]["state"], "RUNNING");
    assert_eq!(get(port, "/connectors/other/status").0, 404);

    // The file disappears: the running version is in memory and goes on.
    std::fs::remove_file(plugins.path().join("stamp.wasm")).unwrap();

    server.psql("shop", "INSERT INTO t VALUES (2)");
    capture.wait_lines(2, TIMEOUT);
    let lines = capture.stop_after_quiet();
    assert_eq!(lines.len(), 2, "each row once: {lines:?}");
    let last: Json = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(last["value"]["after"]["id"], 2);
    assert_eq!(
        header(&last, "version"),
        Some("1"),
        "the first version still runs"
    );
}
