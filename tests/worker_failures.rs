//! Failures stay with their connector, and the worker's keys are its connectors' defaults,
//! against a real Postgres: a connector whose slot another connector holds fails after
//! `slot.max.retries` looks, one whose transform traps with `errors.tolerance=none` fails
//! with the plugin's trap in its trace, and the connectors beside them go on. A connector
//! without converter settings writes as the worker's properties say; one with its own
//! overrides them.

use std::path::Path;

use serde_json::{Value as Json, json};
use tidemark_tests::plugin_path;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{free_port, read_lines, wait_until};
use tidemark_tests::tidemark_binary;
use tidemark_tests::worker::{TIMEOUT, WorkerProcess, pg_connector};

/// The change events in `path`.
fn events(path: &Path) -> Vec<Json> {
    read_lines(path)
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits until `path` holds `count` change events, and returns them.
fn wait_events(path: &Path, count: usize) -> Vec<Json> {
    wait_until(
        &format!("{count} events in {}", path.display()),
        TIMEOUT,
        || events(path).len() >= count,
    );
    events(path)
}

fn create(worker: &WorkerProcess, name: &str, config: Json) {
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": name, "config": config})),
    );
    assert_eq!(code, 201, "{body}");
}

fn trace(worker: &WorkerProcess, name: &str) -> String {
    let (_, status) = worker.call("GET", &format!("/connectors/{name}/status"), None);
    status["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace in {status}"))
        .to_owned()
}

#[test]
fn failures_stay_with_their_connector_and_worker_keys_are_defaults() {
    let server = Postgres::start();
    for db in ["alpha", "beta"] {
        server.create_database(db);
        server.psql(db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        server.psql(db, "INSERT INTO t VALUES (1, 'one'), (2, 'two')");
    }
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start_with(
        &tidemark_binary(),
        dir.path(),
        free_port(),
        "key.converter.schemas.enable=false\nvalue.converter.schemas.enable=false\n",
        &[],
    );
    let out = |name: &str| dir.path().join(format!("{name}.jsonl"));

    // alpha sets no converter keys: the worker's (no schemas) apply. beta turns value
    // schemas back on for itself.
    let no_converters = [
        ("key.converter.schemas.enable", Json::Null),
        ("value.converter.schemas.enable", Json::Null),
    ];
    create(
        &worker,
        "alpha",
        pg_connector(&server, "alpha", &out("alpha"), &no_converters),
    );
    create(
        &worker,
        "beta",
        pg_connector(
            &server,
            "beta",
            &out("beta"),
            &[
                ("key.converter.schemas.enable", Json::Null),
                ("value.converter.schemas.enable", json!("true")),
            ],
        ),
    );
    let alpha = wait_events(&out("alpha"), 2);
    assert_eq!(alpha[0]["key"], json!({"id": 1}), "{}", alpha[0]);
    assert!(alpha[0]["value"].get("schema").is_none(), "{}", alpha[0]);
    assert_eq!(alpha[0]["value"]["after"]["v"], "one", "{}", alpha[0]);
    let beta = wait_events(&out("beta"), 2);
    assert_eq!(
        beta[0]["key"],
        json!({"id": 1}),
        "the worker's key setting: {}",
        beta[0]
    );
    assert_eq!(beta[0]["value"]["schema"]["type"], "struct", "{}", beta[0]);
    assert_eq!(
        beta[0]["value"]["payload"]["after"]["v"], "one",
        "{}",
        beta[0]
    );

    // gamma is configured with alpha's slot, which alpha holds: after slot.max.retries
    // looks it fails, naming the slot; alpha goes on.
    create(
        &worker,
        "gamma",
        pg_connector(
            &server,
            "alpha",
            &out("gamma"),
            &[
                ("slot.max.retries", json!("2")),
                ("slot.retry.delay.ms", json!("200")),
            ],
        ),
    );
    worker.wait_state("gamma", "RUNNING", Some("FAILED"));
    let gamma = trace(&worker, "gamma");
    assert!(
        gamma.contains("replication slot 'slot_alpha' is in use by another process"),
        "{gamma}"
    );
    assert!(
        worker
            .log()
            .contains("looking again after slot.retry.delay.ms"),
        "the looks are logged"
    );

    // delta's transform traps on its first record; with errors.tolerance=none (the
    // default) the connector fails with the trap in its trace.
    create(
        &worker,
        "delta",
        pg_connector(
            &server,
            "beta",
            &out("delta"),
            &[
                ("slot.name", json!("slot_delta")),
                ("publication.name", json!("pub_delta")),
                ("topic.prefix", json!("delta")),
                ("transforms", json!("boom")),
                (
                    "transforms.boom.type",
                    json!(plugin_path("hostile").display().to_string()),
                ),
                ("transforms.boom.mode", json!("panic")),
                ("transforms.boom.trigger", json!("delta.public.t")),
            ],
        ),
    );
    worker.wait_state("delta", "RUNNING", Some("FAILED"));
    let delta = trace(&worker, "delta");
    assert!(delta.contains("trapped"), "{delta}");
    assert!(events(&out("delta")).is_empty(), "nothing past the trap");

    // The others go on.
    server.psql("alpha", "INSERT INTO t VALUES (3, 'three')");
    server.psql("beta", "INSERT INTO t VALUES (3, 'three')");
    assert_eq!(wait_events(&out("alpha"), 3)[2]["value"]["after"]["id"], 3);
    assert_eq!(
        wait_events(&out("beta"), 3)[2]["value"]["payload"]["after"]["id"],
        3
    );
    for name in ["alpha", "beta"] {
        assert_eq!(
            worker.state(name),
            ("RUNNING".to_owned(), Some("RUNNING".to_owned()))
        );
    }
    worker.stop();
}
