//! Reliability against real servers: offsets committed while a slow sink drains a backlog,
//! reconnecting through Postgres and MariaDB restarts and a 20 s outage, and a replication
//! slot the server invalidated (`max_slot_wal_keep_size`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tidemark_tests::capture::{Capture, maria_properties, pg_properties};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::postgres::{Postgres, psql_command};
use tidemark_tests::process::{free_port, read_lines, signal, spawn_tidemark, wait_until};
use tidemark_tests::rest::Rest;
use tidemark_tests::{tidemark_binary, write_properties};

const TIMEOUT: Duration = Duration::from_secs(120);

/// The ids in `after` of the change events among `lines`.
fn ids(lines: &[String]) -> Vec<i64> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| {
            e.pointer("/value/payload/after/id")
                .and_then(|v| v.as_i64())
        })
        .collect()
}

#[test]
fn offsets_are_committed_while_a_slow_sink_drains_a_backlog() {
    const ROWS: usize = 300_000;
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE orders (id int PRIMARY KEY)");
    let dir = tempfile::tempdir().unwrap();
    let props = pg_properties(
        &server,
        "shop",
        dir.path(),
        &[
            ("sink.file", "-"),
            ("offset.flush.interval.ms", "200"),
            ("key.converter.schemas.enable", "false"),
            ("value.converter.schemas.enable", "false"),
        ],
    );
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let offsets = dir.path().join("offsets.json");
    let mut child = Command::new(tidemark_binary())
        .arg("run")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("run.log")).unwrap())
        .spawn()
        .expect("tidemark starts");
    server.wait_slot_active("shop", "tidemark_slot");
    // The backlog: 300 transactions of 1000 rows, written faster than the sink drains them.
    server.psql(
        "shop",
        "DO $$ BEGIN FOR i IN 0..299 LOOP \
           INSERT INTO orders SELECT g FROM generate_series(i * 1000 + 1, i * 1000 + 1000) g; \
           COMMIT; END LOOP; END $$",
    );
    // What the offsets file and the slot say while the sink drains.
    let draining = Arc::new(AtomicBool::new(true));
    let watcher = {
        let draining = draining.clone();
        let offsets = offsets.clone();
        let port = server.port;
        std::thread::spawn(move || {
            let (mut files, mut flushed) = (BTreeSet::new(), BTreeSet::new());
            while draining.load(Ordering::Relaxed) {
                if let Ok(text) = std::fs::read_to_string(&offsets) {
                    files.insert(text);
                }
                let lsn = psql_command(port, "shop")
                    .arg("-c")
                    .arg("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tidemark_slot'")
                    .output()
                    .expect("psql runs");
                flushed.insert(String::from_utf8_lossy(&lsn.stdout).trim().to_owned());
                std::thread::sleep(Duration::from_millis(100));
            }
            (files, flushed)
        })
    };
    // The slow sink: a reader taking at most ~16 lines a millisecond.
    let mut seen = 0;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while seen < ROWS {
        let line = lines
            .next()
            .expect("tidemark's output ended early")
            .unwrap();
        if line.contains("\"op\":\"c\"") {
            seen += 1;
        }
        if seen % 16 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    draining.store(false, Ordering::Relaxed);
    let (files, flushed) = watcher.join().unwrap();
    signal(&child, "-TERM");
    drop(lines);
    assert!(child.wait().unwrap().success());
    assert!(
        files.len() >= 5,
        "the offsets file changed only {} times while the sink drained {ROWS} rows",
        files.len()
    );
    assert!(
        flushed.len() >= 5,
        "the slot's confirmed_flush_lsn moved only {} times while the sink drained: {flushed:?}",
        flushed.len()
    );
}

/// Writes rows `from..=to` one small transaction at a time with psql, each retried until the
/// server takes it (it may be restarting or down); returns when all are in.
fn write_through_outages(port: u16, from: i64, to: i64) {
    for id in (from..=to).step_by(10) {
        let sql = format!(
            "INSERT INTO orders SELECT g, 'n' || g FROM generate_series({id}, {}) g ON CONFLICT DO NOTHING",
            id + 9
        );
        loop {
            let ok = psql_command(port, "shop")
                .args(["-c", &sql])
                .stderr(Stdio::null())
                .status()
                .expect("psql runs")
                .success();
            if ok {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_connector_reconnects_through_a_restart_and_an_outage() {
    let api_port = free_port();
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
        &[
            ("retriable.restart.connector.wait.ms", "200"),
            ("errors.retry.delay.max.ms", "2000"),
            ("listeners", &format!("http://127.0.0.1:{api_port}")),
        ],
    );
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let out = dir.path().join("out.jsonl");
    let log = dir.path().join("run.log");
    let mut child = spawn_tidemark(&config, &log);
    server.wait_slot_active("shop", "tidemark_slot");

    // A fast restart while rows stream.
    let port = server.port;
    let writer = std::thread::spawn(move || write_through_outages(port, 1, 2000));
    wait_until("the first rows", TIMEOUT, || {
        ids(&read_lines(&out)).len() >= 300
    });
    server.restart_fast();
    writer.join().unwrap();
    wait_until("every row written around the restart", TIMEOUT, || {
        ids(&read_lines(&out))
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len()
            == 2000
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process stayed up through the restart: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // A server down for 20 s while rows wait to be written.
    server.stop();
    let writer = std::thread::spawn(move || write_through_outages(port, 2001, 3000));
    std::thread::sleep(Duration::from_secs(20));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process stays up while the server is down"
    );
    // Meanwhile the connector is RUNNING, as Connect shows a task that retries, and the
    // metrics count its reconnects (the restart's, and the outage's so far).
    let api = Rest::new(api_port);
    let (code, status) = api.request("GET", "/connectors/test-connector/status", None);
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["connector"]["state"], "RUNNING", "{status}");
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    let (_, metrics) = api.request("GET", "/metrics", None);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    let reconnects: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "tidemark_source_reconnects_total{connector=\"test-connector\",task=\"0\"} ",
            )
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no reconnect counter in the metrics: {metrics}"));
    assert!(reconnects >= 2, "reconnects counted: {reconnects}");
    server.start_again();
    writer.join().unwrap();
    wait_until("every row written after the outage", TIMEOUT, || {
        ids(&read_lines(&out))
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len()
            == 3000
    });
    // SIGTERM while the server is down and the connector waits to reconnect: it stops at
    // once, within task.shutdown.graceful.timeout.ms.
    server.stop();
    std::thread::sleep(Duration::from_secs(1));
    let asked = Instant::now();
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success(), "stops cleanly on SIGTERM");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopped {:?} after SIGTERM, with the server down",
        asked.elapsed()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("reconnecting from the committed offset"),
        "the log tells of the reconnects: {text}"
    );
    let all = ids(&read_lines(&out));
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(unique, (1..=3000).collect(), "every row arrives");
}

#[test]
fn a_slot_invalidated_by_max_slot_wal_keep_size_is_a_clear_error_or_a_new_snapshot() {
    let server = Postgres::start_with(&[
        "wal_level = logical",
        "max_slot_wal_keep_size = 1MB",
        "min_wal_size = 32MB",
        "max_wal_size = 64MB",
    ]);
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE orders (id int PRIMARY KEY)");
    server.psql("shop", "INSERT INTO orders SELECT generate_series(1, 10)");
    let dir = tempfile::tempdir().unwrap();
    let props = |extra: &[(&str, &str)]| pg_properties(&server, "shop", dir.path(), extra);

    let mut capture = Capture::start(dir.path().to_owned(), props(&[]));
    capture.wait_streaming(&server, "shop");
    capture.wait_lines(10, TIMEOUT);
    capture.stop().expect("the first run stops cleanly");

    // WAL the stopped slot would need is written and removed: the server invalidates it.
    server.psql("shop", "INSERT INTO orders SELECT generate_series(11, 20)");
    wait_until("the slot to be invalidated", TIMEOUT, || {
        server.psql("shop", "INSERT INTO orders SELECT max(id) + 1 FROM orders");
        server.psql("shop", "SELECT pg_switch_wal()");
        server.psql("shop", "CHECKPOINT");
        server
            .psql(
                "shop",
                "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'tidemark_slot'",
            )
            .trim()
            == "lost"
    });

    let mut failing = Capture::start(dir.path().to_owned(), props(&[]));
    let error = failing
        .end_within(TIMEOUT)
        .expect_err("a lost slot stops the connector")
        .to_string();
    assert!(
        error.contains("max_slot_wal_keep_size") && error.contains("snapshot.mode=when_needed"),
        "the error names the setting and the way out: {error}"
    );

    let before = read_lines(&dir.path().join("out.jsonl")).len();
    let mut resnapshot = Capture::start(
        dir.path().to_owned(),
        props(&[("snapshot.mode", "when_needed")]),
    );
    resnapshot.wait_streaming(&server, "shop");
    let total: usize = server
        .psql("shop", "SELECT count(*) FROM orders")
        .trim()
        .parse()
        .unwrap();
    let lines = resnapshot.wait_lines(before + total, TIMEOUT);
    let snapshot: BTreeSet<String> = lines[before..]
        .iter()
        .filter(|l| l.contains("\"op\":\"r\""))
        .cloned()
        .collect();
    assert_eq!(snapshot.len(), total, "a new snapshot of every row");
    server.psql("shop", "INSERT INTO orders VALUES (100000)");
    let lines = resnapshot.wait_lines(before + total + 1, TIMEOUT);
    assert!(
        lines.last().unwrap().contains("100000"),
        "streaming goes on on the new slot"
    );
    resnapshot.stop().unwrap();
}

#[test]
fn the_mariadb_connector_reconnects_through_a_restart() {
    let mut server = MariaDb::start();
    server.create_database("dbz");
    server.sql("dbz", "CREATE TABLE orders (id INT PRIMARY KEY, note TEXT)");
    let dir = tempfile::tempdir().unwrap();
    let props = maria_properties(
        &server,
        dir.path(),
        &[
            ("retriable.restart.connector.wait.ms", "200"),
            ("errors.retry.delay.max.ms", "2000"),
        ],
    );
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let out = dir.path().join("out.jsonl");
    let log = dir.path().join("run.log");
    let mut child = spawn_tidemark(&config, &log);
    server.wait_binlog_dump();

    // Rows written one small transaction at a time, each retried until the server takes it.
    let commands: Vec<Command> = (0..200)
        .map(|i| {
            server.sql_command(
                "dbz",
                &format!(
                    "INSERT IGNORE INTO orders SELECT seq, CONCAT('n', seq) FROM seq_{}_to_{}",
                    i * 10 + 1,
                    i * 10 + 10
                ),
            )
        })
        .collect();
    let writer = std::thread::spawn(move || {
        for mut command in commands {
            while !command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("the client runs")
                .success()
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    wait_until("the first rows", TIMEOUT, || {
        ids(&read_lines(&out)).len() >= 300
    });
    server.stop();
    std::thread::sleep(Duration::from_secs(2));
    server.start_again();
    writer.join().unwrap();
    wait_until("every row written around the restart", TIMEOUT, || {
        ids(&read_lines(&out))
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len()
            == 2000
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process stayed up through the restart"
    );
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success(), "stops cleanly on SIGTERM");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("reconnecting from the committed offset"),
        "the log tells of the reconnect: {text}"
    );
}
