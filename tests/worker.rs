//! `tidemark worker` managed over Kafka Connect's REST API, against a real Postgres: create,
//! status, a failing connector beside a running one, pause, resume, stop, restart, config
//! changes, delete, connectors that come back after the worker restarts, offsets read,
//! changed and reset (KIP-875), log levels changed while running, and a fleet of connectors.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value as Json, json};
use tidemark_tests::postgres::{PASSWORD, Postgres};
use tidemark_tests::process::{free_port, read_lines, wait_until};
use tidemark_tests::worker::{ADVERTISED_HOST, TIMEOUT, WorkerProcess, pg_connector};

/// A Debezium Postgres connector config for database `db`, writing to `sink`.
fn connector(server: &Postgres, db: &str, sink: &Path) -> Json {
    pg_connector(server, db, sink, &[])
}

/// The `after.id` of every change event in `path` (values with or without schemas).
fn ids(path: &Path) -> Vec<i64> {
    read_lines(path)
        .iter()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter_map(|e| {
            e.pointer("/value/after/id")
                .or_else(|| e.pointer("/value/payload/after/id"))
                .and_then(Json::as_i64)
        })
        .collect()
}

fn slot_active(server: &Postgres, db: &str) -> bool {
    server
        .psql(
            db,
            &format!("SELECT active FROM pg_replication_slots WHERE slot_name = 'slot_{db}'"),
        )
        .trim()
        == "t"
}

fn insert(server: &Postgres, db: &str, from: i64, to: i64) {
    server.psql(
        db,
        &format!("INSERT INTO t SELECT g, 'v' FROM generate_series({from}, {to}) g"),
    );
}

fn wait_ids(path: &Path, expected: &[i64]) {
    wait_until(
        &format!("ids {expected:?} in {}", path.display()),
        TIMEOUT,
        || {
            let seen = ids(path);
            expected.iter().all(|id| seen.contains(id))
        },
    );
}

#[test]
fn connectors_are_managed_over_connects_rest_api() {
    let server = Postgres::start();
    for db in ["alpha", "beta"] {
        server.create_database(db);
        server.psql(db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    }
    insert(&server, "alpha", 1, 3);
    let dir = tempfile::tempdir().unwrap();
    let (alpha_out, beta_out) = (
        dir.path().join("alpha.jsonl"),
        dir.path().join("beta.jsonl"),
    );
    let port = free_port();
    let worker = WorkerProcess::start(dir.path(), port);

    // Create, as `curl -X POST :8083/connectors -d @connector.json` does.
    let alpha = connector(&server, "alpha", &alpha_out);
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "alpha", "config": alpha})),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["name"], "alpha");
    assert_eq!(body["type"], "source");
    assert_eq!(body["config"]["database.dbname"], "alpha");
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "alpha", "config": alpha})),
    );
    assert_eq!(
        (code, body["error_code"].clone()),
        (409, json!(409)),
        "{body}"
    );
    // Every problem of an invalid config in one 400, each naming its property.
    let mut invalid = connector(&server, "gamma", &dir.path().join("gamma.jsonl"));
    invalid["snapshot.mode"] = json!("sometimes");
    invalid["errors.tolerance"] = json!("most");
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "gamma", "config": invalid})),
    );
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("2 error(s)")
            && message.contains("snapshot.mode")
            && message.contains("errors.tolerance"),
        "{message}"
    );
    assert_eq!(worker.call("GET", "/connectors/gamma", None).0, 404);

    worker.wait_state("alpha", "RUNNING", Some("RUNNING"));
    wait_ids(&alpha_out, &[1, 2, 3]);
    // The worker id is the advertised address, as Connect's.
    let (_, status) = worker.call("GET", "/connectors/alpha/status", None);
    let advertised = format!("{ADVERTISED_HOST}:{port}");
    assert_eq!(
        status["connector"]["worker_id"],
        advertised.as_str(),
        "{status}"
    );
    assert_eq!(
        status["tasks"][0]["worker_id"],
        advertised.as_str(),
        "{status}"
    );

    // Log levels change while running: the pipeline's debug lines appear only after.
    let log = || std::fs::read_to_string(&worker.log).unwrap_or_default();
    assert!(!log().contains("offset committed"));
    let (code, body) = worker.call(
        "PUT",
        "/admin/loggers/tidemark::pipeline",
        Some(json!({"level": "DEBUG"})),
    );
    assert_eq!((code, body), (200, json!(["tidemark::pipeline"])));
    let (_, loggers) = worker.call("GET", "/admin/loggers", None);
    assert_eq!(loggers["tidemark::pipeline"]["level"], "DEBUG", "{loggers}");
    assert_eq!(
        worker
            .call("GET", "/admin/loggers/tidemark::pipeline::outputs", None)
            .1["level"],
        "DEBUG"
    );
    // An unknown level is a 404, as in Connect.
    assert_eq!(
        worker
            .call("PUT", "/admin/loggers/root", Some(json!({"level": "LOUD"})))
            .0,
        404
    );
    insert(&server, "alpha", 100, 100);
    wait_until("a debug line of the pipeline", TIMEOUT, || {
        log().contains("offset committed")
    });
    worker.call(
        "PUT",
        "/admin/loggers/tidemark::pipeline",
        Some(json!({"level": "INFO"})),
    );

    // A connector with a wrong password fails alone, with its trace.
    let mut beta = connector(&server, "beta", &beta_out);
    beta["database.password"] = json!("wrong-password");
    assert_eq!(
        worker
            .call(
                "POST",
                "/connectors",
                Some(json!({"name": "beta", "config": beta}))
            )
            .0,
        201
    );
    worker.wait_state("beta", "RUNNING", Some("FAILED"));
    let (_, status) = worker.call("GET", "/connectors/beta/status", None);
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(trace.contains("password"), "{trace}");
    insert(&server, "alpha", 4, 4);
    wait_ids(&alpha_out, &[4]);
    assert_eq!(worker.state("alpha").1.as_deref(), Some("RUNNING"));

    // PATCH fixes the password (null removes a key); the connector restarts with it.
    let (code, body) = worker.call(
        "PATCH",
        "/connectors/beta/config",
        Some(json!({"database.password": PASSWORD, "value.converter.schemas.enable": null})),
    );
    assert_eq!(code, 200, "{body}");
    assert!(
        body["config"]
            .get("value.converter.schemas.enable")
            .is_none()
    );
    worker.wait_state("beta", "RUNNING", Some("RUNNING"));
    insert(&server, "beta", 1, 2);
    wait_ids(&beta_out, &[1, 2]);

    // Pause: nothing more is read, the connection (and the slot) stay.
    assert_eq!(worker.call("PUT", "/connectors/alpha/pause", None).0, 202);
    worker.wait_state("alpha", "PAUSED", Some("PAUSED"));
    insert(&server, "alpha", 5, 6);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !ids(&alpha_out).contains(&5),
        "a paused connector writes nothing"
    );
    assert!(
        slot_active(&server, "alpha"),
        "a paused connector keeps its connection"
    );
    assert_eq!(worker.call("PUT", "/connectors/alpha/resume", None).0, 202);
    worker.wait_state("alpha", "RUNNING", Some("RUNNING"));
    wait_ids(&alpha_out, &[5, 6]);

    // Stop releases the connection; resume continues from the committed offset.
    assert_eq!(worker.call("PUT", "/connectors/alpha/stop", None).0, 204);
    worker.wait_state("alpha", "STOPPED", None);
    let (_, status) = worker.call("GET", "/connectors/alpha/status", None);
    assert_eq!(status["tasks"], json!([]));
    wait_until("alpha's slot to be released", TIMEOUT, || {
        !slot_active(&server, "alpha")
    });
    insert(&server, "alpha", 7, 8);
    assert_eq!(worker.call("PUT", "/connectors/alpha/resume", None).0, 202);
    worker.wait_state("alpha", "RUNNING", Some("RUNNING"));
    wait_ids(&alpha_out, &[7, 8]);

    // Restart: 204 without options, 202 with the states it moves to with them.
    assert_eq!(
        worker.call("POST", "/connectors/alpha/restart", None).0,
        204
    );
    let (code, body) = worker.call(
        "POST",
        "/connectors/alpha/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        body["connector"]["state"], "RUNNING",
        "not failed: not restarted"
    );
    worker.wait_state("alpha", "RUNNING", Some("RUNNING"));

    let (_, list) = worker.call("GET", "/connectors?expand=status&expand=info", None);
    assert_eq!(
        list["alpha"]["status"]["tasks"][0]["state"], "RUNNING",
        "{list}"
    );
    assert_eq!(
        list["beta"]["info"]["config"]["database.dbname"], "beta",
        "{list}"
    );
    // Active topics, kept across restarts until reset.
    let (_, topics) = worker.call("GET", "/connectors/alpha/topics", None);
    assert_eq!(topics, json!({"alpha": {"topics": ["alpha.public.t"]}}));
    assert_eq!(
        worker.call("PUT", "/connectors/alpha/topics/reset", None).0,
        202
    );
    let (_, topics) = worker.call("GET", "/connectors/alpha/topics", None);
    assert_eq!(topics, json!({"alpha": {"topics": []}}));
    let (_, tasks) = worker.call("GET", "/connectors/alpha/tasks", None);
    assert_eq!(tasks[0]["id"], json!({"connector": "alpha", "task": 0}));
    assert_eq!(
        worker
            .call("GET", "/connectors/alpha/tasks/0/status", None)
            .1["state"],
        "RUNNING"
    );
    assert_eq!(
        worker
            .call("GET", "/connectors/alpha/tasks/1/status", None)
            .0,
        404
    );

    // The worker restarts: its connectors come back from config.storage.file.
    worker.stop();
    insert(&server, "alpha", 9, 9);
    insert(&server, "beta", 3, 3);
    let worker = WorkerProcess::start(dir.path(), port);
    let (_, names) = worker.call("GET", "/connectors", None);
    assert_eq!(names, json!(["alpha", "beta"]));
    wait_ids(&alpha_out, &[9]);
    wait_ids(&beta_out, &[3]);
    for (out, count) in [(&alpha_out, 9), (&beta_out, 3)] {
        let mut seen = ids(out);
        seen.retain(|id| *id != 100);
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen,
            (1..=count).collect::<Vec<_>>(),
            "every row once at least"
        );
    }

    // Delete: gone, its connection released, the other one untouched.
    assert_eq!(worker.call("DELETE", "/connectors/alpha", None).0, 204);
    assert_eq!(worker.call("GET", "/connectors/alpha/status", None).0, 404);
    wait_until("alpha's slot to be released", TIMEOUT, || {
        !slot_active(&server, "alpha")
    });
    assert_eq!(worker.call("GET", "/connectors", None).1, json!(["beta"]));
    worker.stop();
}

/// The op of every change event in `path` with its `after.id`.
fn ops(path: &Path) -> Vec<(String, i64)> {
    read_lines(path)
        .iter()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter_map(|e| {
            let value = e.get("value")?;
            let value = value.get("payload").unwrap_or(value);
            Some((
                value.get("op")?.as_str()?.to_owned(),
                value.pointer("/after/id")?.as_i64()?,
            ))
        })
        .collect()
}

#[test]
fn offsets_are_read_changed_and_reset_while_stopped() {
    let server = Postgres::start();
    server.create_database("gamma");
    server.psql("gamma", "CREATE TABLE t (id int PRIMARY KEY, v text)");
    insert(&server, "gamma", 1, 3);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gamma.jsonl");
    let worker = WorkerProcess::start(dir.path(), free_port());
    let config = connector(&server, "gamma", &out);
    let created = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "gamma", "config": config})),
    );
    assert_eq!(created.0, 201, "{}", created.1);
    wait_ids(&out, &[1, 2, 3]);
    insert(&server, "gamma", 4, 4);
    wait_ids(&out, &[4]);
    let partition = json!({"server": "gamma"});
    wait_until("an offset with an lsn", TIMEOUT, || {
        let (_, body) = worker.call("GET", "/connectors/gamma/offsets", None);
        body["offsets"][0]["partition"] == partition && body["offsets"][0]["offset"]["lsn"].is_u64()
    });

    // Changing offsets needs a stopped connector, its own partition and a valid offset.
    let change = |offset: Json, partition: &Json| json!({"offsets": [{"partition": partition, "offset": offset}]});
    let (code, body) = worker.call(
        "PATCH",
        "/connectors/gamma/offsets",
        Some(change(json!({"lsn": 1}), &partition)),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("STOPPED"),
        "{body}"
    );
    assert_eq!(worker.call("PUT", "/connectors/gamma/stop", None).0, 204);
    worker.wait_state("gamma", "STOPPED", None);
    let (code, body) = worker.call(
        "PATCH",
        "/connectors/gamma/offsets",
        Some(change(json!({"lsn": 1}), &json!({"server": "other"}))),
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = worker.call(
        "PATCH",
        "/connectors/gamma/offsets",
        Some(change(json!({"position": 1}), &partition)),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("lsn"), "{body}");

    // Skip rows 5 and 6: the offset moves past their commit.
    insert(&server, "gamma", 5, 6);
    let lsn: u64 = server
        .psql("gamma", "SELECT pg_current_wal_insert_lsn() - '0/0'")
        .trim()
        .parse()
        .unwrap();
    let (code, body) = worker.call(
        "PATCH",
        "/connectors/gamma/offsets",
        Some(change(json!({"lsn": lsn}), &partition)),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        worker.call("GET", "/connectors/gamma/offsets", None).1["offsets"][0]["offset"]["lsn"],
        json!(lsn)
    );
    assert_eq!(worker.call("PUT", "/connectors/gamma/resume", None).0, 202);
    insert(&server, "gamma", 7, 7);
    wait_ids(&out, &[7]);
    let seen = ids(&out);
    assert!(
        !seen.contains(&5) && !seen.contains(&6),
        "rows before the altered offset are skipped: {seen:?} (offset lsn {lsn})\n{}",
        std::fs::read_to_string(&worker.log).unwrap_or_default()
    );

    // Reset: no offset, so the next start snapshots again (snapshot.mode=initial), and the
    // stream meets the snapshot exactly: row 8, written after the last commit, comes once.
    assert_eq!(worker.call("PUT", "/connectors/gamma/stop", None).0, 204);
    worker.wait_state("gamma", "STOPPED", None);
    insert(&server, "gamma", 8, 8);
    let before_reset = ops(&out).len();
    let (code, body) = worker.call("DELETE", "/connectors/gamma/offsets", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        worker.call("GET", "/connectors/gamma/offsets", None).1,
        json!({"offsets": []})
    );
    assert_eq!(worker.call("PUT", "/connectors/gamma/resume", None).0, 202);
    wait_until("a second snapshot", TIMEOUT, || {
        let snapshot: Vec<i64> = ops(&out)
            .into_iter()
            .filter(|(op, _)| op == "r")
            .map(|(_, id)| id)
            .collect();
        [5, 6, 7, 8].iter().all(|id| snapshot.contains(id))
    });
    insert(&server, "gamma", 9, 9);
    wait_ids(&out, &[9]);
    let after_reset: Vec<(String, i64)> = ops(&out).split_off(before_reset);
    let eights: Vec<&(String, i64)> = after_reset.iter().filter(|(_, id)| *id == 8).collect();
    assert_eq!(
        eights,
        [&("r".to_owned(), 8)],
        "row 8 once, from the snapshot"
    );
    worker.stop();
}

/// Connectors of the fleet test: one per database, as one per tenant.
const FLEET: usize = 50;

#[test]
fn a_fleet_of_connectors_in_one_worker_delivers_every_row() {
    let server = Postgres::start_with(&[
        "wal_level = logical",
        "max_connections = 300",
        "max_replication_slots = 80",
        "max_wal_senders = 80",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start(dir.path(), free_port());
    let started = std::time::Instant::now();
    for i in 0..FLEET {
        let db = format!("tenant{i}");
        server.create_database(&db);
        server.psql(&db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        insert(&server, &db, 1, 5);
        let out = dir.path().join(format!("{db}.jsonl"));
        let (code, body) = worker.call(
            "POST",
            "/connectors",
            Some(json!({"name": db, "config": connector(&server, &db, &out)})),
        );
        assert_eq!(code, 201, "{body}");
    }
    wait_until("every connector RUNNING", TIMEOUT, || {
        let (_, all) = worker.call("GET", "/connectors?expand=status", None);
        all.as_object().is_some_and(|all| {
            all.len() == FLEET
                && all
                    .values()
                    .all(|c| c["status"]["tasks"][0]["state"] == "RUNNING")
        })
    });
    for i in 0..FLEET {
        insert(&server, &format!("tenant{i}"), 6, 10);
    }
    let expected: Vec<i64> = (1..=10).collect();
    for i in 0..FLEET {
        let out = dir.path().join(format!("tenant{i}.jsonl"));
        wait_ids(&out, &expected);
        let mut seen = ids(&out);
        seen.sort();
        assert_eq!(seen, expected, "tenant{i}: every row exactly once");
    }
    eprintln!(
        "{FLEET} connectors created, snapshotted and streamed in {:.1?}",
        started.elapsed()
    );
    let (_, metrics) = worker.call("GET", "/metrics", None);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert_eq!(
        metrics
            .lines()
            .filter(|l| l.starts_with("tidemark_records_out_total{connector=\"tenant"))
            .count(),
        FLEET,
        "one series per connector"
    );
    let stopping = std::time::Instant::now();
    worker.stop();
    eprintln!(
        "{FLEET} connectors stopped, each with its final commit, in {:.1?}",
        stopping.elapsed()
    );
    // The connectors' commits to the one shared offsets file (grouped into few writes) kept
    // every connector's newest offset: at or past the last change it delivered.
    let offsets: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("offsets.json")).unwrap())
            .unwrap();
    for i in 0..FLEET {
        let db = format!("tenant{i}");
        let key = json!([db, {"server": db}]).to_string();
        let committed = offsets[&key]["lsn"].as_u64();
        let out = dir.path().join(format!("{db}.jsonl"));
        let delivered = read_lines(&out)
            .iter()
            .filter_map(|line| serde_json::from_str::<Json>(line).ok())
            .filter_map(|event| event["value"]["source"]["lsn"].as_u64())
            .max();
        assert!(
            committed.is_some() && committed >= delivered,
            "{db}: committed {committed:?}, delivered up to {delivered:?} in {offsets}"
        );
    }
}
