//! Debezium's notifications about the initial snapshot (`notification.enabled.channels=sink,log`)
//! from a worker against a real Postgres: the records equal the real Debezium's
//! (`tests/golden/pg-notifications*.jsonl`, recorded with the oracle in `../shared/dbz` on the
//! same workload) but for their random id and timestamp, come in the same order among the
//! snapshot's rows, are logged in Debezium's form, and a restart after the snapshot notifies
//! `SKIPPED`.

use serde_json::{Value as Json, json};
use tidemark_tests::golden_lines;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{free_port, read_lines, wait_until};
use tidemark_tests::worker::{TIMEOUT, WorkerProcess, pg_connector};

const TOPIC: &str = "tidemark-notifications";

/// The workload the golden files were recorded with.
const WORKLOAD: &str = "\
    CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL); \
    INSERT INTO public.customers VALUES (1,'Ada'),(2,'Grace'),(3,'Linus'); \
    CREATE TABLE public.orders (id int PRIMARY KEY, customer_id int NOT NULL \
        REFERENCES public.customers(id), amount numeric(10,2) NOT NULL); \
    INSERT INTO public.orders VALUES (1,1,10.50),(2,1,20.00),(3,2,5.25),(4,3,99.99),(5,2,1.00);";

/// A notification record with its volatile fields (the id and the timestamp) checked and
/// blanked.
fn normalized(mut record: Json) -> Json {
    let id = record["value"]["payload"]["id"].as_str().map(str::to_owned);
    assert!(
        id.as_deref().is_some_and(|id| id.len() == 36),
        "a UUID: {record}"
    );
    assert_eq!(
        record["key"]["payload"]["id"].as_str(),
        id.as_deref(),
        "the key carries the value's id"
    );
    assert!(record["value"]["payload"]["timestamp"].is_i64(), "{record}");
    record["key"]["payload"]["id"] = Json::Null;
    record["value"]["payload"]["id"] = Json::Null;
    record["value"]["payload"]["timestamp"] = Json::Null;
    // The file sink writes the record's headers (none here); the oracle writes no field.
    if let Some(object) = record.as_object_mut()
        && object.get("headers") == Some(&json!([]))
    {
        object.remove("headers");
    }
    record
}

fn golden(path: &str) -> Vec<Json> {
    golden_lines(path)
        .iter()
        .map(|l| normalized(serde_json::from_str(l).unwrap()))
        .collect()
}

/// The sink's records, parsed.
fn records(path: &std::path::Path) -> Vec<Json> {
    read_lines(path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `N <type> [<table>]` for a notification, `D <table> <id>` for a row.
fn marker(record: &Json) -> String {
    if record["topic"] == TOPIC {
        let payload = &record["value"]["payload"];
        let data = &payload["additional_data"];
        let table = data["current_collection_in_progress"]
            .as_str()
            .or(data["scanned_collection"].as_str())
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        format!("N {}{table}", payload["type"].as_str().unwrap())
    } else {
        format!(
            "D {} {}",
            record["topic"].as_str().unwrap(),
            record["value"]["payload"]["after"]["id"]
        )
    }
}

#[test]
fn snapshot_notifications_equal_debeziums_in_the_sink_and_the_log_and_a_restart_is_skipped() {
    let server = Postgres::start();
    server.create_database("dbz");
    server.psql("dbz", WORKLOAD);
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start(dir.path(), free_port());
    let sink = dir.path().join("dbz.jsonl");
    let mut config = pg_connector(
        &server,
        "dbz",
        &sink,
        &[
            ("notification.enabled.channels", json!("sink,log")),
            ("notification.sink.topic.name", json!(TOPIC)),
        ],
    );
    // Schemas on, as the oracle wrote the golden records.
    config["key.converter.schemas.enable"] = json!("true");
    config["value.converter.schemas.enable"] = json!("true");
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "dbz", "config": config})),
    );
    assert_eq!(code, 201, "{body}");
    wait_until("8 rows and 6 notifications", TIMEOUT, || {
        read_lines(&sink).len() >= 14
    });
    let written = records(&sink);
    let notifications: Vec<Json> = written
        .iter()
        .filter(|r| r["topic"] == TOPIC)
        .cloned()
        .map(normalized)
        .collect();
    assert_eq!(notifications, golden("pg-notifications.jsonl"));
    // Among the rows as in Debezium's stream (tests/golden/README-notifications.md): a row is
    // emitted once the next is read, so a table's last row follows its TABLE_SCAN_COMPLETED.
    let order: Vec<String> = written.iter().map(marker).collect();
    assert_eq!(
        order,
        [
            "N STARTED",
            "N IN_PROGRESS public.customers",
            "D dbz.public.customers 1",
            "D dbz.public.customers 2",
            "N TABLE_SCAN_COMPLETED public.customers",
            "N IN_PROGRESS public.orders",
            "D dbz.public.customers 3",
            "D dbz.public.orders 1",
            "D dbz.public.orders 2",
            "D dbz.public.orders 3",
            "D dbz.public.orders 4",
            "N TABLE_SCAN_COMPLETED public.orders",
            "D dbz.public.orders 5",
            "N COMPLETED",
        ]
    );
    // The log channel, in Debezium's form.
    let log = worker.log();
    let logged: Vec<&str> = log
        .lines()
        .filter_map(|l| {
            l.split_once("[Notification Service]  {id='")
                .map(|(_, rest)| rest)
        })
        .collect();
    assert_eq!(logged.len(), 6, "{log}");
    assert!(
        logged[0].contains(
            "', aggregateType='Initial Snapshot', type='STARTED', additionalData={connector_name=dbz}, timestamp="
        ),
        "{}",
        logged[0]
    );
    assert!(
        logged[2].contains("type='TABLE_SCAN_COMPLETED'")
            && logged[2].contains("total_rows_scanned=3")
            && logged[2].contains("status=SUCCEEDED"),
        "{}",
        logged[2]
    );

    // A restart after the snapshot: SKIPPED, and nothing else.
    let (code, body) = worker.call("PUT", "/connectors/dbz/stop", None);
    assert_eq!(code, 204, "{body}");
    worker.wait_state("dbz", "STOPPED", None);
    let (code, body) = worker.call("PUT", "/connectors/dbz/resume", None);
    assert_eq!(code, 202, "{body}");
    wait_until("the restart's notification", TIMEOUT, || {
        read_lines(&sink).len() > written.len()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let after: Vec<Json> = records(&sink)
        .into_iter()
        .skip(written.len())
        .map(normalized)
        .collect();
    assert_eq!(after, golden("pg-notifications-restart.jsonl"));
    worker.stop();
}
