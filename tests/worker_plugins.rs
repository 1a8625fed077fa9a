//! Plugins shared by a worker's connectors, against a real Postgres: a fleet of connectors
//! using the same transforms from one plugin directory compiles each plugin once, one file
//! replaced swaps it for every connector (each keeping its own configuration), and a version
//! one connector's configuration refuses leaves that connector on the old version. A sink
//! plugin's new version goes live right after a flush in the connectors whose settings it
//! accepts. The worker's memory is measured with the fleet running.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{free_port, read_lines, wait_until};
use tidemark_tests::tidemark_binary;
use tidemark_tests::worker::{WorkerProcess, pg_connector};
use tidemark_tests::{last_header as header, plugin_path};

const TIMEOUT: Duration = Duration::from_secs(120);

/// The binary under test: `TIDEMARK_BIN` when set (to measure another build, such as the one
/// before a change: its memory figures print before the assertions), else this tree's.
fn binary() -> PathBuf {
    std::env::var_os("TIDEMARK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(tidemark_binary)
}

/// Starts a `tidemark worker` with a plugin directory and its own compiled-plugin cache.
fn start_worker(dir: &Path, plugins: &Path, cache: &Path) -> WorkerProcess {
    WorkerProcess::start_with(
        &binary(),
        dir,
        free_port(),
        &format!("plugin.path={}\n", plugins.display()),
        &[("TIDEMARK_CACHE_DIR", cache)],
    )
}

/// The worker's `GET /plugins`.
fn listed_plugins(worker: &WorkerProcess) -> Json {
    worker.call("GET", "/plugins", None).1
}

/// Waits until `count` connectors are on the worker, each with its task RUNNING.
fn wait_all_running(worker: &WorkerProcess, count: usize) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (_, all) = worker.call("GET", "/connectors?expand=status", None);
        let all = all.as_object().cloned().unwrap_or_default();
        let others: Vec<String> = all
            .iter()
            .filter(|(_, c)| c["status"]["tasks"][0]["state"] != "RUNNING")
            .map(|(name, c)| format!("{name}: {}", c["status"]["tasks"][0]))
            .collect();
        if all.len() == count && others.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} connectors not RUNNING (RSS {:.1} MiB): {others:#?}",
            others.len(),
            worker.rss_mib()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Replaces a plugin file atomically, as a deployment would (write aside, then rename).
fn deploy(from: &Path, plugins: &Path, name: &str) {
    let tmp = plugins.join(format!(".{name}.tmp"));
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, plugins.join(format!("{name}.wasm"))).unwrap();
}

/// A Debezium Postgres connector for database `db` writing to `sink`, with `extra` settings.
fn connector(server: &Postgres, db: &str, sink: &Path, extra: &[(&str, &str)]) -> Json {
    let extra: Vec<(&str, Json)> = extra.iter().map(|(k, v)| (*k, json!(v))).collect();
    pg_connector(server, db, sink, &extra)
}

/// The change events written to `path`.
fn events(path: &Path) -> Vec<Json> {
    read_lines(path)
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn id(event: &Json) -> Option<i64> {
    event.pointer("/value/after/id").and_then(Json::as_i64)
}

/// Waits until `path` holds an event for each of `ids`, and returns the events.
fn wait_ids(path: &Path, ids: &[i64]) -> Vec<Json> {
    let mut found = Vec::new();
    wait_until(
        &format!("ids {ids:?} in {}", path.display()),
        TIMEOUT,
        || {
            found = events(path);
            ids.iter().all(|i| found.iter().any(|e| id(e) == Some(*i)))
        },
    );
    found
}

fn insert(server: &Postgres, db: &str, from: i64, to: i64) {
    server.psql(
        db,
        &format!("INSERT INTO t SELECT g, 'v' FROM generate_series({from}, {to}) g"),
    );
}

/// Connectors of the fleet, each with its own database: 50, or `TIDEMARK_FLEET` (to measure
/// the memory of other fleet sizes).
fn fleet() -> usize {
    std::env::var("TIDEMARK_FLEET")
        .ok()
        .map(|n| n.parse().expect("TIDEMARK_FLEET is a number of connectors"))
        .unwrap_or(50)
}

#[test]
fn a_fleet_compiles_each_plugin_once_and_a_new_version_reaches_every_connector() {
    let server = Postgres::start_with(&[
        "wal_level = logical",
        "max_connections = 300",
        "max_replication_slots = 80",
        "max_wal_senders = 80",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    deploy(&plugin_path("stamp-v1"), plugins.path(), "stamp");
    deploy(&plugin_path("tagger"), plugins.path(), "tagger");
    let worker = start_worker(dir.path(), plugins.path(), cache.path());
    let idle_rss = worker.rss_mib();
    let fleet = fleet();
    let started = Instant::now();
    let names: Vec<String> = (0..fleet).map(|i| format!("tenant{i}")).collect();
    for db in &names {
        server.create_database(db);
        server.psql(db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        insert(&server, db, 1, 5);
        let out = dir.path().join(format!("{db}.jsonl"));
        // Two transforms from the plugin directory; the tagger's tag is the connector's own.
        let config = connector(
            &server,
            db,
            &out,
            &[
                ("transforms", "stamp,tag"),
                ("transforms.stamp.type", "stamp"),
                ("transforms.tag.type", "tagger"),
                ("transforms.tag.tag", db),
            ],
        );
        let (code, body) = worker.call(
            "POST",
            "/connectors",
            Some(json!({"name": db, "config": config})),
        );
        assert_eq!(code, 201, "{body}");
    }
    wait_all_running(&worker, fleet);
    for db in &names {
        let events = wait_ids(&dir.path().join(format!("{db}.jsonl")), &[1, 2, 3, 4, 5]);
        for event in &events {
            assert_eq!(header(event, "version"), Some("1"), "{db}: {event}");
            assert_eq!(header(event, "trail"), Some(db.as_str()), "{db}: {event}");
        }
    }
    let running = started.elapsed();
    // Let the background work of the start (baseline code compiled ahead) finish.
    std::thread::sleep(Duration::from_secs(3));
    let fleet_rss = worker.rss_mib();
    let threads = worker.proc_status("Threads");
    eprintln!(
        "{fleet} connectors x 2 transforms: snapshots delivered in {running:.1?}; RSS {idle_rss:.1} MiB idle, \
         {fleet_rss:.1} MiB with the fleet running; {threads} threads"
    );

    // (a) Each plugin compiled once for the whole fleet, the plugin listed once with every
    // connector using it.
    let compiled = |tier: &str| {
        worker
            .metric(
                "tidemark_plugin_compilations_total",
                &format!("tier=\"{tier}\""),
            )
            .unwrap_or_else(|| panic!("no compilation count for {tier} code"))
    };
    assert_eq!(compiled("optimized"), 2.0, "stamp and tagger, once each");
    assert!(
        compiled("baseline") <= 2.0,
        "baseline code at most once each"
    );
    let listed = listed_plugins(&worker);
    for plugin in ["stamp", "tagger"] {
        let users: Vec<&str> = listed[plugin]["users"]
            .as_array()
            .unwrap_or_else(|| panic!("{plugin} listed: {listed}"))
            .iter()
            .filter_map(Json::as_str)
            .collect();
        let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(users, expected, "{plugin}: every connector uses it");
        assert_eq!(listed[plugin]["versions"].as_array().unwrap().len(), 1);
    }

    // (b) One file replaced: the new version runs in every connector, each with its own tag.
    let reload_started = Instant::now();
    deploy(&plugin_path("stamp-v2"), plugins.path(), "stamp");
    let deadline = Instant::now() + TIMEOUT;
    let v2 = loop {
        let stamp = listed_plugins(&worker)["stamp"].take();
        if let Some(hash) = stamp["versions"]
            .as_array()
            .and_then(|v| v.last())
            .and_then(|v| v["hash"].as_str())
            && stamp["versions"].as_array().unwrap().len() == 2
            && names.iter().all(|db| stamp["live"][db] == hash)
        {
            break hash.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "stamp v2 not live in every connector within {TIMEOUT:?}; the plugin's listing: {stamp:#}\nworker's log:\n{}",
            worker.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let reload_time = reload_started.elapsed();
    for db in &names {
        insert(&server, db, 6, 8);
    }
    for db in &names {
        let events = wait_ids(&dir.path().join(format!("{db}.jsonl")), &[6, 7, 8]);
        for event in events.iter().filter(|e| id(e).is_some_and(|i| i >= 6)) {
            assert_eq!(header(event, "version"), Some("2"), "{db}: {event}");
            assert_eq!(header(event, "trail"), Some(db.as_str()), "{db}: {event}");
        }
    }
    let reloaded_rss = worker.rss_mib();
    eprintln!(
        "stamp v2 ({}) live in all {fleet} connectors {reload_time:.1?} after the rename; RSS {reloaded_rss:.1} MiB after",
        &v2[..12]
    );
    // The optimized code compiles on the low-priority pool after the baseline code went live:
    // on a busy machine, later than the new records.
    wait_until("the new version's optimized code", TIMEOUT, || {
        compiled("optimized") >= 3.0
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        compiled("optimized"),
        3.0,
        "the new version's optimized code compiled once for the fleet"
    );
    assert!(compiled("baseline") <= 3.0);
    assert_eq!(
        worker.metric("tidemark_plugin_reloads_total", "plugin=\"stamp\""),
        Some(fleet as f64),
        "one swap per connector"
    );

    // A deleted connector no longer uses the plugins.
    let (code, _) = worker.call("DELETE", "/connectors/tenant0", None);
    assert_eq!(code, 204);
    wait_until("tenant0 no longer a user of stamp", TIMEOUT, || {
        let listed = listed_plugins(&worker);
        let users = listed["stamp"]["users"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        users.len() == fleet - 1 && !users.iter().any(|u| u == "tenant0")
    });
    worker.stop();
}

#[test]
fn a_version_one_connector_refuses_leaves_that_connector_on_the_old_version() {
    let server = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    // `route` is the stamp plugin at first, which takes any configuration.
    deploy(&plugin_path("stamp-v1"), plugins.path(), "route");
    let worker = start_worker(dir.path(), plugins.path(), cache.path());
    for db in ["routed", "plain"] {
        server.create_database(db);
        server.psql(db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        insert(&server, db, 1, 1);
        let mut settings = vec![("transforms", "r"), ("transforms.r.type", "route")];
        if db == "routed" {
            // What the next version, RegexRouter, needs; `plain` lacks it.
            settings.extend([
                ("transforms.r.regex", "(.*)"),
                ("transforms.r.replacement", "moved.$1"),
            ]);
        }
        let out = dir.path().join(format!("{db}.jsonl"));
        let config = connector(&server, db, &out, &settings);
        let (code, body) = worker.call(
            "POST",
            "/connectors",
            Some(json!({"name": db, "config": config})),
        );
        assert_eq!(code, 201, "{body}");
    }
    wait_all_running(&worker, 2);
    for db in ["routed", "plain"] {
        let events = wait_ids(&dir.path().join(format!("{db}.jsonl")), &[1]);
        assert_eq!(header(&events[0], "version"), Some("1"), "{db}");
    }
    let v1 = listed_plugins(&worker)["route"]["versions"][0]["hash"]
        .as_str()
        .unwrap()
        .to_owned();

    deploy(&plugin_path("regex-router"), plugins.path(), "route");
    let mut listed = Json::Null;
    wait_until(
        "routed on the new version, plain's refusal",
        TIMEOUT,
        || {
            listed = listed_plugins(&worker);
            let route = &listed["route"];
            route["live"]["routed"].as_str().is_some_and(|h| h != v1) && route["rejected"] == 1
        },
    );
    let route = &listed["route"];
    assert_eq!(route["live"]["plain"], v1.as_str(), "{listed}");
    let error = route["last_error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("connector plain:") && error.contains("regex"),
        "the rejection names the connector and why: {error}"
    );
    assert!(
        worker
            .log()
            .lines()
            .any(|l| l.contains("rejected") && l.contains("plain") && l.contains("route")),
        "one error line names the connector and the plugin:\n{}",
        worker.log()
    );

    for db in ["routed", "plain"] {
        insert(&server, db, 2, 2);
    }
    let routed = wait_ids(&dir.path().join("routed.jsonl"), &[2]);
    let new = routed.iter().find(|e| id(e) == Some(2)).unwrap();
    assert_eq!(new["topic"], "moved.routed.public.t", "{new}");
    assert_eq!(header(new, "version"), None, "no longer stamped: {new}");
    let plain = wait_ids(&dir.path().join("plain.jsonl"), &[2]);
    let old = plain.iter().find(|e| id(e) == Some(2)).unwrap();
    assert_eq!(old["topic"], "plain.public.t", "{old}");
    assert_eq!(header(old, "version"), Some("1"), "still version 1: {old}");
    for db in ["routed", "plain"] {
        let (_, status) = worker.call("GET", &format!("/connectors/{db}/status"), None);
        assert_eq!(status["connector"]["state"], "RUNNING", "{db}: {status}");
    }
    worker.stop();
}

/// One line the `stamp-sink` test plugin logged: a batch it was given, or a flush.
#[derive(Debug, Clone, PartialEq)]
struct SinkCall {
    version: u32,
    /// The batch's number in its instance; `None` for a flush.
    call: Option<u64>,
    ids: Vec<i64>,
}

/// What the `stamp-sink` plugin logged in the worker's log for the connector labelled
/// `label`, in order.
fn sink_calls(log: &str, label: &str) -> Vec<SinkCall> {
    log.lines()
        .filter_map(|line| {
            // `stamp-sink version=1 label=moved call=3 ids=1,2,3`, or `… flush`.
            let at = line.find("stamp-sink version=")?;
            let fields: std::collections::BTreeMap<&str, &str> = line[at..]
                .split_whitespace()
                .filter_map(|field| field.split_once('='))
                .collect();
            if fields.get("label") != Some(&label) {
                return None;
            }
            Some(SinkCall {
                version: fields["version"].parse().ok()?,
                call: fields.get("call").map(|c| c.parse().unwrap()),
                ids: fields
                    .get("ids")
                    .map(|ids| ids.split(',').map(|id| id.parse().unwrap()).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The ids of every batch in `calls`, in order.
fn delivered(calls: &[SinkCall]) -> Vec<i64> {
    calls.iter().flat_map(|c| c.ids.iter().copied()).collect()
}

#[test]
fn a_new_sink_plugin_version_goes_live_after_a_flush_in_the_connectors_that_accept_it() {
    let server = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    deploy(&plugin_path("stamp-sink-v1"), plugins.path(), "stamp-sink");
    let worker = start_worker(dir.path(), plugins.path(), cache.path());
    // `moved` sets `format`, which version 2 requires (and version 1 ignores); `kept` does
    // not, so version 2 refuses its configuration.
    let connectors = [("moved", 0), ("kept", 1_000_000)];
    for (db, _) in connectors {
        server.create_database(db);
        server.psql(db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        let mut extra = vec![
            ("sink.file", Json::Null),
            ("sink.type", json!("wasm")),
            ("sink.plugin", json!("stamp-sink")),
            ("sink.config.label", json!(db)),
        ];
        if db == "moved" {
            extra.push(("sink.config.format", json!("lines")));
        }
        let config = pg_connector(&server, db, Path::new("unused"), &extra);
        let (code, body) = worker.call(
            "POST",
            "/connectors",
            Some(json!({"name": db, "config": config})),
        );
        assert_eq!(code, 201, "{body}");
    }
    wait_all_running(&worker, 2);
    let mut next = 1;
    let batch = |next: &mut i64| {
        for (db, base) in connectors {
            insert(&server, db, base + *next, base + *next + 99);
        }
        *next += 100;
    };
    batch(&mut next);
    wait_until("the first batch through version 1", TIMEOUT, || {
        connectors
            .iter()
            .all(|(db, base)| delivered(&sink_calls(&worker.log(), db)).contains(&(base + 100)))
    });
    let v1 = listed_plugins(&worker)["stamp-sink"]["versions"][0]["hash"]
        .as_str()
        .unwrap()
        .to_owned();

    // Version 2 is new to the worker: it goes live with baseline code, then its optimized
    // code; each swap needs a flush after it is ready, so batches keep coming until both.
    deploy(&plugin_path("stamp-sink-v2"), plugins.path(), "stamp-sink");
    let deadline = Instant::now() + TIMEOUT;
    let listed = loop {
        batch(&mut next);
        std::thread::sleep(Duration::from_millis(300));
        let listed = listed_plugins(&worker);
        let sink = &listed["stamp-sink"];
        if sink["live"]["moved"].as_str().is_some_and(|h| h != v1)
            && sink["upgrades"] == 1
            && sink["rejected"] == 1
        {
            break listed;
        }
        assert!(
            Instant::now() < deadline,
            "moved on version 2's optimized code, kept's refusal: {listed:#}\n{}",
            worker
                .log()
                .lines()
                .filter(|l| !l.contains("stamp-sink version="))
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    batch(&mut next);
    let last = next - 1;
    wait_until("the last batch delivered", TIMEOUT, || {
        connectors
            .iter()
            .all(|(db, base)| delivered(&sink_calls(&worker.log(), db)).contains(&(base + last)))
    });

    let sink = &listed["stamp-sink"];
    assert_eq!(sink["live"]["kept"], v1.as_str(), "{listed}");
    let error = sink["last_error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("connector kept:") && error.contains("format"),
        "the rejection names the connector and the key: {error}"
    );
    let log = worker.log();
    for (db, base) in connectors {
        let calls = sink_calls(&log, db);
        assert_eq!(
            delivered(&calls),
            (base + 1..=base + last).collect::<Vec<_>>(),
            "{db}: every row once, in order"
        );
        // A new instance (call 1) starts only at the beginning or right after a flush of the
        // one before: nothing the old version was given is left unflushed when it goes.
        let writes: Vec<(usize, &SinkCall)> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| c.call.is_some())
            .collect();
        for pair in writes.windows(2) {
            let ((_, before), (at, after)) = (pair[0], pair[1]);
            if after.call == Some(1) {
                assert_eq!(calls[at - 1].call, None, "{db}: swapped after a flush");
                assert_eq!(calls[at - 1].version, before.version, "{db}");
            } else {
                assert_eq!(after.call, before.call.map(|c| c + 1), "{db}: {after:?}");
                assert_eq!(after.version, before.version, "{db}: {after:?}");
            }
        }
        let versions: Vec<u32> = writes.iter().map(|(_, c)| c.version).collect();
        let swaps = writes.iter().filter(|(_, c)| c.call == Some(1)).count();
        if db == "moved" {
            let first_v2 = versions
                .iter()
                .position(|v| *v == 2)
                .expect("version 2 ran");
            assert!(
                versions[..first_v2].iter().all(|v| *v == 1)
                    && versions[first_v2..].iter().all(|v| *v == 2),
                "moved: version 1, then version 2: {versions:?}"
            );
            // Version 1, version 2's baseline code, its optimized code (two swaps, unless both
            // were ready at the same flush: then only the newest instance is used).
            assert!((2..=3).contains(&swaps), "moved: {swaps} instances");
        } else {
            assert!(versions.iter().all(|v| *v == 1), "kept: {versions:?}");
            assert_eq!(swaps, 1, "kept: one instance throughout");
        }
    }
    worker.stop();
}
