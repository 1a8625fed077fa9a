//! Streaming behaviour against a real Postgres: crashes and restarts, what is confirmed to
//! the server, `snapshot.mode` on restart, filters, heartbeats, memory, and clear errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;
use tidemark_tests::capture::{Capture, pg_properties};
use tidemark_tests::postgres::{Postgres, psql_command};
use tidemark_tests::process::{self, read_lines, signal, spawn_tidemark};
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

fn ops(events: &[Json]) -> Vec<&str> {
    events
        .iter()
        .map(|e| op(e).unwrap_or("tombstone"))
        .collect()
}

fn wait_until(what: &str, done: impl FnMut() -> bool) {
    process::wait_until(what, TIMEOUT, done);
}

#[test]
fn a_crash_mid_stream_loses_nothing() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY, note text)",
    );
    let dir = tempfile::tempdir().unwrap();
    let props = pg_properties(
        &server,
        "shop",
        dir.path(),
        &[("offset.flush.interval.ms", "200")],
    );
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let out = dir.path().join("out.jsonl");

    let mut first = spawn_tidemark(&config, &dir.path().join("first.log"));
    server.wait_slot_active("shop", "tidemark_slot");
    // 300 transactions of 10 rows, committed one by one over a few seconds.
    let port = server.port;
    let writer = std::thread::spawn(move || {
        psql_command(port, "shop")
            .arg("-c")
            .arg(
                "DO $$ BEGIN FOR i IN 0..299 LOOP \
                   INSERT INTO orders SELECT g, 'n' || g FROM generate_series(i * 10 + 1, i * 10 + 10) g; \
                   COMMIT; PERFORM pg_sleep(0.01); END LOOP; END $$",
            )
            .status()
            .expect("psql runs")
    });
    wait_until("the first run to write 800 events", || {
        read_lines(&out).len() >= 800
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let written_by_first = read_lines(&out).len();

    let mut second = spawn_tidemark(&config, &dir.path().join("second.log"));
    assert!(writer.join().unwrap().success());
    wait_until("every row to arrive", || {
        let events = parse(&read_lines(&out));
        let ids: std::collections::BTreeSet<i64> = events
            .iter()
            .filter_map(|e| after(e, "id").as_i64())
            .collect();
        ids.len() == 3000
    });
    signal(&second, "-TERM");
    assert!(
        second.wait().unwrap().success(),
        "the second run stops cleanly on SIGTERM"
    );

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
    // Duplicates come only from the first run's uncommitted tail: the second run starts at
    // or before where the first stopped, and after that the stream is in commit order.
    let second_run = &ids[written_by_first.min(ids.len())..];
    let first_max = ids[..written_by_first.min(ids.len())]
        .iter()
        .max()
        .copied()
        .unwrap_or(0);
    assert!(
        second_run.first().copied().unwrap_or(0) <= first_max + 1,
        "no gap at the restart"
    );
    assert!(
        second_run.windows(2).all(|w| w[0] < w[1]),
        "the resumed stream is in order"
    );
    let duplicates = ids.len() - counts.len();
    assert!(
        duplicates < written_by_first,
        "only the uncommitted tail repeats ({duplicates} duplicates)"
    );
}

#[test]
fn the_server_is_told_only_what_was_committed() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE t (id int PRIMARY KEY)");
    let dir = tempfile::tempdir().unwrap();
    // Offsets are committed only when the connector stops.
    let props = pg_properties(
        &server,
        "shop",
        dir.path(),
        &[("offset.flush.interval.ms", "3600000")],
    );
    let mut capture = Capture::start(dir.path().to_owned(), props);
    server.wait_slot_active("shop", "tidemark_slot");
    let before = server.confirmed_flush("shop", "tidemark_slot");
    for i in 1..=5 {
        server.psql("shop", &format!("INSERT INTO t VALUES ({i})"));
    }
    let after_inserts: u64 = server
        .psql("shop", "SELECT (pg_current_wal_lsn() - '0/0')::bigint")
        .trim()
        .parse()
        .unwrap();
    capture.wait_lines(5, TIMEOUT);
    // Standby status goes out every second; give it three.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        server.confirmed_flush("shop", "tidemark_slot"),
        before,
        "nothing is confirmed before the sink flushed and the offset was committed"
    );
    assert!(capture.offset().is_none(), "no offset committed yet");
    capture.stop().unwrap();
    let offset = tidemark_tests::capture::read_offset(&dir.path().join("offsets.json"))
        .expect("committed at stop");
    let committed = offset["lsn_commit"].as_u64().unwrap();
    assert!(
        committed >= after_inserts - 200,
        "the offset covers the inserts: {offset}"
    );
    let confirmed = server.confirmed_flush("shop", "tidemark_slot");
    assert!(
        confirmed > before,
        "the final commit is confirmed to the server"
    );
    assert!(
        confirmed <= after_inserts.max(committed) + 1024,
        "never beyond what was received"
    );
}

#[test]
fn snapshot_modes_on_restart_follow_debezium() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)",
    );
    let dir = tempfile::tempdir().unwrap();
    let run = |mode: &str, insert: Option<i32>| -> Vec<Json> {
        let out = dir.path().join("out.jsonl");
        let _ = std::fs::remove_file(&out);
        let props = pg_properties(&server, "shop", dir.path(), &[("snapshot.mode", mode)]);
        let mut capture = Capture::start(dir.path().to_owned(), props);
        if mode == "initial_only" {
            capture.join().expect("initial_only ends by itself");
            return parse(&capture.lines());
        }
        server.wait_slot_active("shop", "tidemark_slot");
        let mut expected = 0;
        if let Some(id) = insert {
            server.psql("shop", &format!("INSERT INTO t VALUES ({id})"));
            expected = 1;
        }
        std::thread::sleep(Duration::from_millis(300));
        let snapshot_rows = parse(&capture.lines())
            .iter()
            .filter(|e| op(e) == Some("r"))
            .count();
        let lines = capture.wait_lines(snapshot_rows + expected, TIMEOUT);
        std::thread::sleep(Duration::from_millis(300));
        capture.stop().unwrap();
        parse(&lines)
    };
    assert_eq!(ops(&run("initial_only", None)), ["r", "r"]);
    assert_eq!(
        server
            .psql("shop", "SELECT count(*) FROM pg_replication_slots")
            .trim(),
        "0",
        "initial_only leaves no slot behind"
    );
    assert_eq!(
        ops(&run("initial_only", None)),
        Vec::<&str>::new(),
        "its snapshot is complete"
    );
    std::fs::remove_file(dir.path().join("offsets.json")).unwrap();

    assert_eq!(ops(&run("initial", Some(3))), ["r", "r", "c"]);
    assert_eq!(
        ops(&run("initial", Some(4))),
        ["c"],
        "initial does not snapshot again"
    );
    assert_eq!(ops(&run("always", Some(5))), ["r", "r", "r", "r", "c"]);
    assert_eq!(ops(&run("no_data", Some(6))), ["c"]);
    assert_eq!(
        ops(&run("when_needed", Some(7))),
        ["c"],
        "offsets and slot exist: no snapshot"
    );
    server.psql("shop", "SELECT pg_drop_replication_slot('tidemark_slot')");
    let resnapshot = run("when_needed", Some(8));
    assert_eq!(
        ops(&resnapshot),
        ["r"; 7].iter().copied().chain(["c"]).collect::<Vec<_>>(),
        "when_needed re-snapshots when the slot is gone"
    );
}

#[test]
fn filters_shape_the_publication_and_the_events() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE SCHEMA other; \
         CREATE TABLE a (id int PRIMARY KEY, name text, secret text); \
         CREATE TABLE b (id int PRIMARY KEY); \
         CREATE TABLE other.c (id int PRIMARY KEY, shape box)",
    );
    let dir = tempfile::tempdir().unwrap();
    let props = pg_properties(
        &server,
        "shop",
        dir.path(),
        &[
            ("publication.autocreate.mode", "filtered"),
            ("table.include.list", "public\\.a,OTHER\\..*"),
            ("column.exclude.list", "public.a.secret"),
        ],
    );
    let mut capture = Capture::start(dir.path().to_owned(), props);
    server.wait_slot_active("shop", "tidemark_slot");
    assert_eq!(
        server.psql(
            "shop",
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables ORDER BY 1"
        ),
        "other.c\npublic.a\n",
        "a filtered publication holds exactly the captured tables"
    );
    server.psql(
        "shop",
        "INSERT INTO b VALUES (1); INSERT INTO a VALUES (1, 'x', 'hidden'); \
         INSERT INTO other.c VALUES (1, '((0,0),(1,1))')",
    );
    let events = parse(&capture.wait_lines(2, TIMEOUT));
    std::thread::sleep(Duration::from_millis(300));
    capture.stop().unwrap();
    let topics: Vec<&str> = events
        .iter()
        .map(|e| e["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["dbz.public.a", "dbz.other.c"]);
    let row = events[0].pointer("/value/payload/after").unwrap();
    assert_eq!(
        row,
        &serde_json::json!({"id": 1, "name": "x"}),
        "the excluded column is left out"
    );
    assert_eq!(
        events[0].pointer("/key/payload"),
        Some(&serde_json::json!({"id": 1}))
    );
    // A type Debezium has no mapping for: its text, as a string.
    assert_eq!(after(&events[1], "shape"), "(1,1),(0,0)");
}

#[test]
fn heartbeats_are_emitted_and_run_their_query() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE beats (at timestamptz)",
    );
    let dir = tempfile::tempdir().unwrap();
    let props = pg_properties(
        &server,
        "shop",
        dir.path(),
        &[
            ("heartbeat.interval.ms", "100"),
            ("heartbeat.action.query", "INSERT INTO beats VALUES (now())"),
            ("table.include.list", "public.t"),
        ],
    );
    let mut capture = Capture::start(dir.path().to_owned(), props);
    let lines = capture.wait_lines(3, TIMEOUT);
    capture.stop().unwrap();
    let events = parse(&lines);
    assert!(
        events
            .iter()
            .all(|e| e["topic"] == "__debezium-heartbeat.dbz")
    );
    assert_eq!(
        events[0].pointer("/key/payload"),
        Some(&serde_json::json!({"serverName": "dbz"}))
    );
    assert!(events[0].pointer("/value/payload/ts_ms").unwrap().is_i64());
    let beats: u32 = server
        .psql("shop", "SELECT count(*) FROM beats")
        .trim()
        .parse()
        .unwrap();
    assert!(beats >= 2, "heartbeat.action.query ran ({beats} times)");
}

#[test]
fn a_large_transaction_streams_in_bounded_memory() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE big (id int PRIMARY KEY, pad text)");
    let dir = tempfile::tempdir().unwrap();
    let props = pg_properties(
        &server,
        "shop",
        dir.path(),
        &[("offset.flush.interval.ms", "1000")],
    );
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let out = dir.path().join("out.jsonl");
    let mut child = spawn_tidemark(&config, &dir.path().join("run.log"));
    server.wait_slot_active("shop", "tidemark_slot");
    const ROWS: usize = 200_000;
    server.psql(
        "shop",
        &format!("INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, {ROWS}) g"),
    );
    // About 1.4 GB of JSON: far more than a bounded pipeline may hold.
    let status = format!("/proc/{}/status", child.id());
    wait_until("the whole transaction", || {
        let out = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        out > 0 && read_lines_count(&dir.path().join("out.jsonl")) >= ROWS
    });
    let peak_kb: u64 = std::fs::read_to_string(&status)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    signal(&child, "-TERM");
    child.wait().unwrap();
    assert!(
        peak_kb < 150 * 1024,
        "peak RSS {peak_kb} kB while streaming a {ROWS}-row transaction"
    );
}

fn read_lines_count(path: &Path) -> usize {
    use std::io::BufRead;
    std::fs::File::open(path)
        .map(|f| std::io::BufReader::new(f).lines().count())
        .unwrap_or(0)
}

#[test]
fn bad_settings_and_servers_give_clear_errors() {
    let server = Postgres::start();
    server.create_database("shop");
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[(&str, &str)], port: u16| -> String {
        let mut props = pg_properties(&server, "shop", dir.path(), extra);
        props.retain(|(k, _)| k != "database.port");
        props.push(("database.port".into(), port.to_string()));
        let config = dir.path().join("bad.properties");
        write_properties(&config, &props);
        let output = Command::new(tidemark_binary())
            .arg("run")
            .arg(&config)
            .output()
            .expect("tidemark runs");
        assert!(!output.status.success(), "tidemark fails");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let err = run(&[("database.password", "wrong")], server.port);
    assert!(
        err.contains("refused user 'postgres'")
            && err.contains("check database.user and database.password"),
        "{err}"
    );
    let err = run(&[("table.include.list", "public.nope")], server.port);
    assert!(
        err.contains("table.include.list entry 'public.nope' matches no table in database 'shop'"),
        "{err}"
    );
    // Checked before connecting: no server listens on port 1.
    let err = run(&[("snapshot.mode", "sometimes")], 1);
    assert!(
        err.contains("property 'snapshot.mode' has an invalid value \"sometimes\""),
        "{err}"
    );
    let err = run(&[], 1);
    assert!(
        err.contains("cannot connect to Postgres at 127.0.0.1:1"),
        "{err}"
    );

    let replica = Postgres::start_with(&["wal_level = replica"]);
    replica.create_database("shop");
    let err = run(&[], replica.port);
    assert!(
        err.contains("has wal_level=replica") && err.contains("wal_level=logical"),
        "{err}"
    );
}

#[test]
fn deprecated_debezium_keys_are_read_as_their_replacements() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY); \
         INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)",
    );
    let dir = tempfile::tempdir().unwrap();
    // Debezium 1.x names: `database.server.name` for `topic.prefix`, `table.whitelist` for
    // `table.include.list`.
    let mut props = pg_properties(
        &server,
        "shop",
        dir.path(),
        &[
            ("database.server.name", "legacy"),
            ("table.whitelist", "public\\.a"),
        ],
    );
    props.retain(|(k, _)| k != "topic.prefix");
    let mut capture = Capture::start(dir.path().to_owned(), props);
    capture.wait_streaming(&server, "shop");
    server.psql(
        "shop",
        "INSERT INTO b VALUES (2); INSERT INTO a VALUES (2); INSERT INTO b VALUES (3)",
    );
    capture.wait_lines(2, TIMEOUT);
    // Anything more (an event of table b) would come within a moment.
    std::thread::sleep(Duration::from_millis(500));
    let out = capture.out.clone();
    capture.stop().unwrap();
    let events = parse(&read_lines(&out));
    let seen: Vec<(&str, Option<&str>, &Json)> = events
        .iter()
        .map(|e| (e["topic"].as_str().unwrap(), op(e), after(e, "id")))
        .collect();
    assert_eq!(
        seen,
        [
            ("legacy.public.a", Some("r"), &Json::from(1)),
            ("legacy.public.a", Some("c"), &Json::from(2)),
        ],
        "the topic prefix is database.server.name's and only the whitelisted table is captured"
    );
    assert_eq!(
        events[1].pointer("/value/payload/source/name"),
        Some(&Json::from("legacy"))
    );

    // A converter Tidemark does not write is an error before anything connects.
    let other = tempfile::tempdir().unwrap();
    let props = pg_properties(
        &server,
        "shop",
        other.path(),
        &[("value.converter", "io.confluent.connect.avro.AvroConverter")],
    );
    let err = Capture::start(other.path().to_owned(), props)
        .end_within(TIMEOUT)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'value.converter'")
            && err.contains("supports only org.apache.kafka.connect.json.JsonConverter"),
        "{err}"
    );
}
