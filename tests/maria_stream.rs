//! Binlog streaming against a real mariadbd: a crash and a restart that resumes by GTID,
//! 200 databases in one connector, `snapshot.mode` variants, and clear errors for servers it
//! cannot read.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tidemark_tests::capture::{Capture, maria_properties};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::{tidemark_binary, write_properties};

const TIMEOUT: Duration = Duration::from_secs(90);

fn parse(lines: &[String]) -> Vec<Json> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The `op` of an event (`None` for a tombstone).
fn op(event: &Json) -> Option<&str> {
    event.pointer("/value/payload/op").and_then(Json::as_str)
}

/// A field of an event's `after` row.
fn after<'a>(event: &'a Json, field: &str) -> &'a Json {
    event
        .pointer(&format!("/value/payload/after/{field}"))
        .unwrap_or(&Json::Null)
}

fn spawn_tidemark(config: &Path, log: &Path) -> Child {
    Command::new(tidemark_binary())
        .arg("run")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("tidemark starts")
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `tidemark run` to its end and returns its stderr; it must fail.
fn failing_run(config: &Path) -> String {
    let output = Command::new(tidemark_binary())
        .arg("run")
        .arg(config)
        .output()
        .expect("tidemark runs");
    assert!(!output.status.success(), "tidemark fails");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_crash_mid_stream_resumes_by_gtid_without_gap() {
    let server = MariaDb::start();
    server.sql(
        "",
        "CREATE DATABASE dbz; CREATE TABLE dbz.orders (id int PRIMARY KEY, note varchar(20))",
    );
    let dir = tempfile::tempdir().unwrap();
    let props = maria_properties(&server, dir.path(), &[("offset.flush.interval.ms", "200")]);
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let out = dir.path().join("out.jsonl");

    let mut first = spawn_tidemark(&config, &dir.path().join("first.log"));
    server.wait_binlog_dump();
    // 300 transactions of two 5-row statements each, committed one by one.
    let mut script = String::new();
    for i in 0..300 {
        let values = |from: u32| -> String {
            (from..from + 5)
                .map(|id| format!("({id}, 'n')"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        script.push_str(&format!(
            "START TRANSACTION; INSERT INTO orders VALUES {}; INSERT INTO orders VALUES {}; COMMIT; DO SLEEP(0.01);\n",
            values(i * 10 + 1),
            values(i * 10 + 6)
        ));
    }
    let socket_server = &server;
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || socket_server.sql("dbz", &script));
        wait_until("the first run to write 800 events", || {
            read_lines(&out).len() >= 800
        });
        first.kill().unwrap();
        first.wait().unwrap();
        writer.join().unwrap();
    });
    let written_by_first = read_lines(&out).len();
    // Resuming must not need the file and position: point them elsewhere (as after a
    // failover to a replica whose binlog files are named differently).
    let offsets_path = dir.path().join("offsets.json");
    let mut offsets: Json =
        serde_json::from_str(&std::fs::read_to_string(&offsets_path).unwrap()).unwrap();
    let offset = offsets
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .expect("the first run committed an offset");
    assert!(
        offset["gtids"]
            .as_str()
            .is_some_and(|g| g.starts_with("0-1-")),
        "the offset has MariaDB GTIDs: {offset}"
    );
    offset["file"] = Json::from("other-replica-bin.000042");
    offset["pos"] = Json::from(4);
    std::fs::write(&offsets_path, offsets.to_string()).unwrap();

    let mut second = spawn_tidemark(&config, &dir.path().join("second.log"));
    wait_until("every row to arrive", || {
        let events = parse(&read_lines(&out));
        let ids: std::collections::BTreeSet<i64> = events
            .iter()
            .filter_map(|e| after(e, "id").as_i64())
            .collect();
        ids.len() == 3000
    });
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(
        second.wait().unwrap().success(),
        "the second run stops cleanly"
    );
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(log.contains("resuming by GTID"), "{log}");

    let events = parse(&read_lines(&out));
    let ids: Vec<i64> = events
        .iter()
        .filter_map(|e| after(e, "id").as_i64())
        .collect();
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for id in &ids {
        *counts.entry(*id).or_default() += 1;
    }
    assert_eq!(counts.len(), 3000, "every row arrives");
    assert!(
        counts.values().all(|&n| n <= 2),
        "a row arrives at most twice"
    );
    let cut = written_by_first.min(ids.len());
    let first_max = ids[..cut].iter().max().copied().unwrap_or(0);
    let second_run = &ids[cut..];
    assert!(
        second_run.first().copied().unwrap_or(0) <= first_max + 1,
        "no gap at the restart"
    );
    assert!(
        second_run.windows(2).all(|w| w[0] < w[1]),
        "the resumed stream is in order"
    );
    assert!(
        ids.len() - counts.len() < written_by_first,
        "only the uncommitted tail repeats"
    );
}

#[test]
fn two_hundred_databases_in_one_connector() {
    let server = MariaDb::start();
    let mut setup = String::new();
    for i in 0..200 {
        setup.push_str(&format!(
            "CREATE DATABASE tenant_{i}; CREATE TABLE tenant_{i}.orders (id int PRIMARY KEY, v varchar(10)); \
             INSERT INTO tenant_{i}.orders VALUES (1, 'a');\n"
        ));
    }
    setup.push_str("CREATE DATABASE other; CREATE TABLE other.orders (id int PRIMARY KEY);");
    server.sql("", &setup);
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(
            &server,
            dir.path(),
            &[
                ("database.include.list", "tenant_.*"),
                ("table.exclude.list", "tenant_7\\.orders"),
            ],
        ),
    );
    capture.wait_lines(199, TIMEOUT);
    server.wait_binlog_dump();
    let mut changes = String::new();
    for i in 0..200 {
        changes.push_str(&format!("INSERT INTO tenant_{i}.orders VALUES (2, 'b');\n"));
    }
    changes.push_str("INSERT INTO other.orders VALUES (1);");
    server.sql("", &changes);
    let lines = capture.wait_lines(398, TIMEOUT);
    std::thread::sleep(Duration::from_millis(500));
    capture.stop().expect("the connector stops cleanly");
    let events = parse(&lines);
    assert_eq!(events.len(), 398, "nothing from tenant_7 or other");
    let topics: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["topic"].as_str()).collect();
    assert_eq!(topics.len(), 199);
    assert!(topics.contains("dbz.tenant_199.orders"));
    assert!(!topics.contains("dbz.tenant_7.orders"));
    let reads = events.iter().filter(|e| op(e) == Some("r")).count();
    let creates = events.iter().filter(|e| op(e) == Some("c")).count();
    assert_eq!((reads, creates), (199, 199));
}

#[test]
fn snapshot_modes_follow_debezium() {
    let server = MariaDb::start();
    server.sql(
        "",
        "CREATE DATABASE dbz; CREATE TABLE dbz.t (id int PRIMARY KEY); INSERT INTO dbz.t VALUES (1), (2)",
    );
    // initial_only: the rows, then the connector ends.
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(&server, dir.path(), &[("snapshot.mode", "initial_only")]),
    );
    capture.join().expect("initial_only ends");
    let events = parse(&capture.lines());
    assert_eq!(
        events.iter().map(|e| op(e).unwrap()).collect::<Vec<_>>(),
        ["r", "r"]
    );

    // no_data: no rows read, changes streamed from the current position.
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(&server, dir.path(), &[("snapshot.mode", "no_data")]),
    );
    server.wait_binlog_dump();
    server.sql("dbz", "INSERT INTO t VALUES (3)");
    let lines = capture.wait_lines(1, TIMEOUT);
    assert_eq!(after(&parse(&lines)[0], "id"), &Json::from(3));
    capture.stop().unwrap();

    // never: the whole binlog the server still has, from its first file.
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(&server, dir.path(), &[("snapshot.mode", "never")]),
    );
    let lines = capture.wait_lines(3, TIMEOUT);
    let ids: Vec<i64> = parse(&lines)
        .iter()
        .filter_map(|e| after(e, "id").as_i64())
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    assert!(parse(&lines).iter().all(|e| op(e) == Some("c")));
    capture.stop().unwrap();
}

#[test]
fn servers_it_cannot_read_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connector.properties");
    for (option, variable) in [
        ("--binlog-format=MIXED", "binlog_format=MIXED"),
        (
            "--binlog-row-metadata=MINIMAL",
            "binlog_row_metadata=MINIMAL",
        ),
    ] {
        let server = MariaDb::start_with(&[option]);
        write_properties(&config, &maria_properties(&server, dir.path(), &[]));
        let err = failing_run(&config);
        assert!(err.contains(variable) && err.contains("needs"), "{err}");
    }
    let server = MariaDb::start();
    write_properties(
        &config,
        &maria_properties(
            &server,
            dir.path(),
            &[(
                "connector.class",
                "io.debezium.connector.mysql.MySqlConnector",
            )],
        ),
    );
    let err = failing_run(&config);
    assert!(
        err.contains("io.debezium.connector.mariadb.MariaDbConnector"),
        "{err}"
    );
    write_properties(
        &config,
        &maria_properties(&server, dir.path(), &[("database.password", "wrong")]),
    );
    let err = failing_run(&config);
    assert!(
        err.contains("cannot connect to the database at 127.0.0.1"),
        "{err}"
    );
}
