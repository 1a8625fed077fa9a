//! Binlog streaming against a real mariadbd: a crash and a restart that resumes by GTID,
//! 200 databases in one connector, `snapshot.mode` variants, a binlog purged past the stored
//! offset (a clear error, or with `when_needed` a new snapshot), a restart inside a
//! transaction with transaction metadata, the schema history in Kafka (a throwaway Apache Kafka
//! broker), and clear errors for servers it cannot read. Every wait has a time limit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;
use tidemark_tests::capture::{Capture, maria_properties, read_offset};
use tidemark_tests::kafka::{Consumed, Kafka, partitions, wait_for};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::process::{self, read_lines, spawn_tidemark};
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

fn wait_until(what: &str, done: impl FnMut() -> bool) {
    process::wait_until(what, TIMEOUT, done);
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
    // Each excluded insert (tenant_7's table, the database `other`) is followed by an
    // included one: once that one arrived, the excluded one would have come before it.
    changes.push_str("INSERT INTO other.orders VALUES (1);\n");
    changes.push_str("INSERT INTO tenant_0.orders VALUES (3, 'c');");
    server.sql("", &changes);
    capture.wait_until(
        "the insert after the excluded database's",
        TIMEOUT,
        |lines| {
            parse(lines)
                .iter()
                .any(|e| e["topic"] == "dbz.tenant_0.orders" && after(e, "id") == &Json::from(3))
        },
    );
    let events = parse(&capture.stop_after_quiet());
    let topics: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["topic"].as_str()).collect();
    assert!(!topics.contains("dbz.tenant_7.orders"), "{topics:?}");
    assert!(!topics.contains("dbz.other.orders"), "{topics:?}");
    assert_eq!(
        events.len(),
        399,
        "nothing from tenant_7 or other, nothing twice"
    );
    assert_eq!(topics.len(), 199);
    assert!(topics.contains("dbz.tenant_199.orders"));
    let reads = events.iter().filter(|e| op(e) == Some("r")).count();
    let creates = events.iter().filter(|e| op(e) == Some("c")).count();
    assert_eq!((reads, creates), (199, 200));
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

/// Waits until the committed offset satisfies `done`, and returns it.
fn wait_offset(capture: &Capture, what: &str, done: impl Fn(&Json) -> bool) -> Json {
    let mut found = None;
    wait_until(what, || {
        found = capture.offset().filter(|o| done(o));
        found.is_some()
    });
    found.unwrap()
}

/// Whether an offset is a streaming one (no snapshot marker).
fn streaming(offset: &Json) -> bool {
    offset.get("snapshot").is_none() && offset.get("snapshot_completed").is_none()
}

/// The ids of the events of one `op` among `lines`.
fn ids_of(lines: &[String], wanted: &str) -> Vec<i64> {
    parse(lines)
        .iter()
        .filter(|e| op(e) == Some(wanted))
        .filter_map(|e| after(e, "id").as_i64())
        .collect()
}

/// A first run on `dbz.t`: rows 1–3 snapshotted, row 4 streamed and its offset committed;
/// then, with the connector stopped, rows 5 and 6 written and every binlog file but a new
/// one purged, so the changes after the stored offset are gone.
fn run_then_purge(server: &MariaDb, dir: &Path) {
    server.sql(
        "",
        "CREATE DATABASE dbz; CREATE TABLE dbz.t (id int PRIMARY KEY); INSERT INTO dbz.t VALUES (1), (2), (3)",
    );
    let mut capture = Capture::start(dir.to_owned(), maria_properties(server, dir, &[]));
    capture.wait_lines(3, TIMEOUT);
    server.wait_binlog_dump();
    server.sql("dbz", "INSERT INTO t VALUES (4)");
    capture.wait_lines(4, TIMEOUT);
    wait_offset(&capture, "the streamed row's offset", |o| {
        streaming(o) && o["gtids"].is_string()
    });
    capture.stop().expect("the first run stops cleanly");
    server.sql("dbz", "INSERT INTO t VALUES (5); INSERT INTO t VALUES (6)");
    server.purge_binlogs();
}

/// Removes `gtids` from the stored offset, so the connector resumes by file and position.
fn forget_gtids(offsets: &Path) {
    let mut all: Json = serde_json::from_str(&std::fs::read_to_string(offsets).unwrap()).unwrap();
    for offset in all.as_object_mut().unwrap().values_mut() {
        offset.as_object_mut().unwrap().remove("gtids");
    }
    std::fs::write(offsets, all.to_string()).unwrap();
}

#[test]
fn a_binlog_purged_past_the_offset_is_a_clear_error() {
    let server = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    run_then_purge(&server, dir.path());
    let stored = read_offset(&dir.path().join("offsets.json")).unwrap();
    let gtids = stored["gtids"].as_str().unwrap().to_owned();
    let file = stored["file"].as_str().unwrap().to_owned();

    // Resuming by GTID: the server's error 1236 on the binlog stream.
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(&server, dir.path(), &[]),
    );
    let err = capture
        .end_within(TIMEOUT)
        .expect_err("resuming from a purged GTID position fails")
        .to_string();
    assert!(
        err.contains("the binlog position the connector must resume from is gone")
            && err.contains(&gtids)
            && err.contains("set snapshot.mode=when_needed"),
        "{err}"
    );
    assert_eq!(capture.lines().len(), 4, "nothing more was written");

    // Resuming by file and position: the stored file is no longer listed.
    forget_gtids(&dir.path().join("offsets.json"));
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(&server, dir.path(), &[]),
    );
    let err = capture
        .end_within(TIMEOUT)
        .expect_err("resuming from a purged binlog file fails")
        .to_string();
    assert!(
        err.contains("the binlog position the connector must resume from is gone")
            && err.contains(&format!(
                "binlog file {file} is not among the server's binlogs"
            ))
            && err.contains("set snapshot.mode=when_needed"),
        "{err}"
    );
    assert_eq!(capture.lines().len(), 4, "nothing more was written");
}

#[test]
fn when_needed_snapshots_again_after_a_purge() {
    let server = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    run_then_purge(&server, dir.path());
    let when_needed = maria_properties(&server, dir.path(), &[("snapshot.mode", "when_needed")]);

    // Resuming by GTID fails on the stream; a new snapshot has every row, then streaming goes
    // on from the new snapshot's position, whose offset replaces the old one.
    let mut capture = Capture::start(dir.path().to_owned(), when_needed.clone());
    let lines = capture.wait_until("a new snapshot of rows 1-6", TIMEOUT, |lines| {
        ids_of(&lines[4.min(lines.len())..], "r").len() >= 6
    });
    assert_eq!(ids_of(&lines[4..], "r"), [1, 2, 3, 4, 5, 6]);
    server.wait_binlog_dump();
    server.sql("dbz", "INSERT INTO t VALUES (7)");
    let lines = capture.wait_lines(11, TIMEOUT);
    assert_eq!(ids_of(&lines[10..], "c"), [7]);
    let current = server.current_binlog();
    let offset = wait_offset(&capture, "the new stream's offset", |o| {
        streaming(o) && o["file"] == current.as_str()
    });
    assert!(
        offset["gtids"]
            .as_str()
            .is_some_and(|g| g.starts_with("0-1-")),
        "{offset}"
    );
    capture.stop().expect("the connector stops cleanly");

    // Resuming by file and position from a file that is gone: the same.
    server.sql("dbz", "INSERT INTO t VALUES (8)");
    server.purge_binlogs();
    forget_gtids(&dir.path().join("offsets.json"));
    let mut capture = Capture::start(dir.path().to_owned(), when_needed);
    let lines = capture.wait_until("a new snapshot of rows 1-8", TIMEOUT, |lines| {
        ids_of(&lines[11.min(lines.len())..], "r").len() >= 8
    });
    assert_eq!(ids_of(&lines[11..], "r"), [1, 2, 3, 4, 5, 6, 7, 8]);
    let current = server.current_binlog();
    wait_offset(&capture, "the offset of the new snapshot", |o| {
        o["file"] == current.as_str()
    });
    capture.stop().expect("the connector stops cleanly");
}

/// The `ddl` of each schema history record.
fn history_ddl(records: &[Consumed]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.value_json()["ddl"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn schema_history_goes_to_a_kafka_topic() {
    let broker = Kafka::shared();
    let bootstrap = broker.bootstrap();
    let server = MariaDb::start();
    server.sql(
        "",
        "CREATE DATABASE dbz; CREATE TABLE dbz.t (id int PRIMARY KEY); INSERT INTO dbz.t VALUES (1)",
    );
    let dir = tempfile::tempdir().unwrap();
    let history = [
        (
            "schema.history.internal",
            "io.debezium.storage.kafka.history.KafkaSchemaHistory",
        ),
        ("schema.history.internal.kafka.topic", "dbz-history"),
        (
            "schema.history.internal.kafka.bootstrap.servers",
            bootstrap.as_str(),
        ),
        // Debezium's recovery settings are accepted (the history is not read back).
        (
            "schema.history.internal.kafka.recovery.poll.interval.ms",
            "500",
        ),
    ];
    let mut props = maria_properties(&server, dir.path(), &history);
    props.retain(|(k, _)| k != "schema.history.internal.file.filename");
    let mut capture = Capture::start(dir.path().to_owned(), props.clone());
    capture.wait_lines(1, TIMEOUT);
    server.wait_binlog_dump();
    server.sql(
        "dbz",
        "ALTER TABLE t ADD COLUMN note varchar(10); INSERT INTO t VALUES (2, 'x')",
    );
    let lines = capture.wait_lines(2, TIMEOUT);
    assert_eq!(after(&parse(&lines)[1], "note"), &Json::from("x"));
    let records = wait_for(
        &bootstrap,
        &["dbz-history"],
        false,
        TIMEOUT,
        "the ALTER TABLE in the history topic",
        |r| history_ddl(r).iter().any(|d| d.starts_with("ALTER TABLE")),
    );
    capture.stop().expect("the connector stops cleanly");

    // One partition, no keys, each record Debezium's history record.
    assert_eq!(partitions(&bootstrap, "dbz-history"), Some(1));
    assert!(records.iter().all(|r| r.key.is_none() && r.partition == 0));
    let ddl = history_ddl(&records);
    assert!(ddl[0].starts_with("SET character_set_server="), "{ddl:?}");
    for statement in [
        "DROP TABLE IF EXISTS `dbz`.`t`",
        "CREATE DATABASE `dbz`",
        "USE `dbz`",
    ] {
        assert!(
            ddl.iter().any(|d| d.starts_with(statement)),
            "{statement} in {ddl:?}"
        );
    }
    assert!(
        ddl.iter().any(|d| d.starts_with("CREATE TABLE `t`")),
        "{ddl:?}"
    );
    let alter = records.last().unwrap().value_json();
    assert_eq!(
        alter["ddl"], "ALTER TABLE t ADD COLUMN note varchar(10)",
        "{alter}"
    );
    assert_eq!(alter["source"]["server"], "dbz");
    assert_eq!(alter["databaseName"], "dbz");
    assert!(
        alter["position"]["gtids"]
            .as_str()
            .is_some_and(|g| g.starts_with("0-1-")),
        "{alter}"
    );
    assert_eq!(alter["tableChanges"][0]["type"], "ALTER", "{alter}");
    let columns = &alter["tableChanges"][0]["table"]["columns"];
    assert_eq!(columns[1]["name"], "note", "{alter}");

    // A restart appends to the existing topic.
    let capture = Capture::start(dir.path().to_owned(), props);
    server.sql("dbz", "CREATE TABLE t2 (id int PRIMARY KEY)");
    let again = wait_for(
        &bootstrap,
        &["dbz-history"],
        false,
        TIMEOUT,
        "the CREATE TABLE after the restart",
        |r| {
            history_ddl(r)
                .iter()
                .any(|d| d.starts_with("CREATE TABLE t2"))
        },
    );
    assert_eq!(history_ddl(&again)[..ddl.len()], ddl[..]);
    assert_eq!(again.len(), ddl.len() + 1);
    capture.stop().expect("the connector stops cleanly");
}

#[test]
fn always_snapshots_at_every_start_and_when_needed_only_without_a_usable_offset() {
    let server = MariaDb::start();
    server.sql(
        "",
        "CREATE DATABASE dbz; CREATE TABLE dbz.t (id int PRIMARY KEY); INSERT INTO dbz.t VALUES (1), (2)",
    );
    let dir = tempfile::tempdir().unwrap();
    let with_mode = |mode: &str| maria_properties(&server, dir.path(), &[("snapshot.mode", mode)]);

    // when_needed without an offset: a snapshot, then the stream.
    let mut capture = Capture::start(dir.path().to_owned(), with_mode("when_needed"));
    capture.wait_lines(2, TIMEOUT);
    server.wait_binlog_dump();
    server.sql("dbz", "INSERT INTO t VALUES (3)");
    let lines = capture.wait_lines(3, TIMEOUT);
    assert_eq!(
        (ids_of(&lines, "r"), ids_of(&lines, "c")),
        (vec![1, 2], vec![3])
    );
    wait_offset(&capture, "the streamed row's offset", |o| {
        streaming(o) && o["gtids"].is_string()
    });
    capture.stop().unwrap();

    // always, with a valid offset: a new snapshot of every row, then the stream from the
    // new snapshot's position.
    let mut capture = Capture::start(dir.path().to_owned(), with_mode("always"));
    let lines = capture.wait_lines(6, TIMEOUT);
    assert_eq!(ids_of(&lines[3..], "r"), [1, 2, 3]);
    server.wait_binlog_dump();
    server.sql("dbz", "INSERT INTO t VALUES (4)");
    let lines = capture.wait_lines(7, TIMEOUT);
    assert_eq!(ids_of(&lines[6..], "c"), [4]);
    wait_offset(&capture, "the offset after row 4", |o| {
        streaming(o) && o["gtids"].is_string()
    });
    capture.stop().unwrap();

    // when_needed with a valid offset: no snapshot, the stream from the offset (row 5 was
    // written while the connector was down).
    server.sql("dbz", "INSERT INTO t VALUES (5)");
    let mut capture = Capture::start(dir.path().to_owned(), with_mode("when_needed"));
    let lines = capture.wait_lines(8, TIMEOUT);
    server.wait_binlog_dump();
    server.sql("dbz", "INSERT INTO t VALUES (6)");
    capture.wait_lines(9, TIMEOUT);
    let all = capture.lines_after_quiet();
    assert_eq!(all.len(), 9, "nothing else: no snapshot");
    let lines = all[lines.len() - 1..].to_vec();
    assert_eq!(
        (ids_of(&lines, "r"), ids_of(&lines, "c")),
        (vec![], vec![5, 6])
    );
    capture.stop().unwrap();
}

#[test]
fn a_restart_inside_a_transaction_continues_its_metadata() {
    let server = MariaDb::start();
    server.sql("", "CREATE DATABASE dbz");
    server.sql_file("dbz", &tidemark_tests::workload("maria-txn.sql"));
    let dir = tempfile::tempdir().unwrap();
    let props = maria_properties(
        &server,
        dir.path(),
        &[
            ("provide.transaction.metadata", "true"),
            ("table.include.list", "dbz.customers,dbz.orders"),
        ],
    );
    let mut capture = Capture::start(dir.path().to_owned(), props.clone());
    capture.wait_lines(4, TIMEOUT);
    server.wait_binlog_dump();
    server.sql_file("dbz", &tidemark_tests::workload("maria-txn-stream.sql"));
    let lines = capture.wait_lines(33, TIMEOUT);
    let last = parse(&lines).pop().unwrap();
    assert_eq!(last["value"]["payload"]["status"], "END", "{last}");
    let id = last["value"]["payload"]["id"].as_str().unwrap().to_owned();
    wait_offset(&capture, "the offset after the last transaction", |o| {
        o["gtids"] == id.as_str()
    });
    capture.stop().unwrap();

    // An offset stored after two of the five rows of the last transaction (one rows event),
    // as the connector stores it there.
    let (domain_server, seq) = id.rsplit_once('-').unwrap();
    let seq: u64 = seq.parse().unwrap();
    let offsets_path = dir.path().join("offsets.json");
    let mut offsets: Json =
        serde_json::from_str(&std::fs::read_to_string(&offsets_path).unwrap()).unwrap();
    let offset = offsets
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    offset["gtids"] = Json::from(format!("{domain_server}-{}", seq - 1));
    offset["row"] = Json::from(2);
    offset["transaction_id"] = Json::from(id.as_str());
    offset["transaction_data_collection_order_dbz.orders"] = Json::from(2);
    std::fs::write(&offsets_path, offsets.to_string()).unwrap();

    let mut capture = Capture::start(dir.path().to_owned(), props);
    capture.wait_lines(37, TIMEOUT);
    let lines = capture.stop_after_quiet();
    let resumed = parse(&lines[33..]);
    assert_eq!(
        resumed.len(),
        4,
        "three rows and the END, no BEGIN: {lines:?}"
    );
    for (event, (row, order)) in resumed[..3].iter().zip([(102, 3), (103, 4), (104, 5)]) {
        assert_eq!(after(event, "id"), &Json::from(row));
        let block = &event["value"]["payload"]["transaction"];
        assert_eq!(block["id"], id.as_str());
        assert_eq!(block["total_order"], order);
        assert_eq!(block["data_collection_order"], order);
    }
    let end = &resumed[3]["value"]["payload"];
    assert_eq!(end["status"], "END");
    assert_eq!(end["event_count"], 5);
    assert_eq!(
        end["data_collections"],
        serde_json::json!([{"data_collection": "dbz.orders", "event_count": 5}])
    );
}
