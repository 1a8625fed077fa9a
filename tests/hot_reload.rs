//! Hot reload against a real stream: plugins in the plugin directory are swapped between
//! batches while rows flow, and broken versions are refused while the running one goes on.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tidemark::plugin::read_state;
use tidemark_tests::capture::{Capture, pg_properties};
use tidemark_tests::plugin_path;
use tidemark_tests::postgres::{PASSWORD, PG_BIN, Postgres};

const TIMEOUT: Duration = Duration::from_secs(120);

/// Replaces a plugin file atomically, as a deployment would (write aside, then rename).
fn deploy(from: &Path, dir: &Path, name: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join(format!("{name}.wasm"))).unwrap();
}

fn header<'a>(event: &'a Json, key: &str) -> Option<&'a str> {
    event["headers"]
        .as_array()?
        .iter()
        .rev()
        .find(|h| h["key"] == key)
        .and_then(|h| h["value"].as_str())
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

fn connector(server: &Postgres, dir: &Path, plugins: &Path) -> Capture {
    let plugin_dir = plugins.display().to_string();
    Capture::start(
        dir.to_owned(),
        pg_properties(
            server,
            "shop",
            dir,
            &[
                ("transforms", "s"),
                ("transforms.s.type", "stamp"),
                ("plugin.path", plugin_dir.as_str()),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
                ("offset.flush.interval.ms", "200"),
            ],
        ),
    )
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
    let mut capture = connector(&server, dir.path(), plugins.path());
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
    let lines = capture.wait_lines(rows, TIMEOUT);
    std::thread::sleep(Duration::from_millis(300));
    capture.stop().unwrap();

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
    // version, or the same version swapped in again after one that saw no batch), the first
    // record is in the new instance's first batch; within an instance calls only grow.
    let mut runs = 1;
    let mut previous: Option<(&str, u64)> = None;
    for event in &events {
        let version = header(event, "version").expect("every record is stamped");
        let call: u64 = header(event, "call").unwrap().parse().unwrap();
        if let Some((last_version, last_call)) = previous
            && (version != last_version || call < last_call)
        {
            runs += 1;
            assert_eq!(call, 1, "a new instance starts with a new batch");
        }
        previous = Some((version, call));
    }
    let state = read_state(plugins.path());
    let reloads = state["stamp"].reloads;
    assert!(
        runs >= 10,
        "swaps took effect while the stream ran ({runs} runs)"
    );
    assert!(
        runs - 1 <= reloads as usize,
        "{runs} runs from {reloads} reloads"
    );
    assert!(state["stamp"].users.contains("test-connector"));
}

#[test]
fn broken_versions_are_refused_and_the_running_one_continues() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE t (id int PRIMARY KEY)");
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    deploy(&plugin_path("stamp-v1"), plugins.path(), "stamp");
    let mut capture = connector(&server, dir.path(), plugins.path());
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
    // A component whose configure refuses the running configuration.
    deploy(&plugin_path("regex-router"), plugins.path(), "stamp");
    wait_for_error("rejected its configuration");
    // The file disappears: the running version is in memory and goes on.
    std::fs::remove_file(plugins.path().join("stamp.wasm")).unwrap();

    server.psql("shop", "INSERT INTO t VALUES (2)");
    let lines = capture.wait_lines(2, TIMEOUT);
    capture.stop().unwrap();
    let last: Json = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(last["value"]["after"]["id"], 2);
    assert_eq!(
        header(&last, "version"),
        Some("1"),
        "the first version still runs"
    );
}
