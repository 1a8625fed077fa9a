//! Plugins' declared configuration keys (wit/config.wit), end to end against a real Postgres:
//!
//! - `tidemark run` with a misspelt ExtractNewRecordState key runs, and its log names the key
//!   and the declared key it most looks like (`transforms.unwrap.add.feilds` → `…add.fields`);
//! - a value outside a key's allowed values is refused at start, naming
//!   `transforms.unwrap.delete.tombstone.handling.mode`, the value and the values it accepts,
//!   before anything is read from the database;
//! - `tidemark worker`'s `GET /connector-plugins/{class}/config` lists the plugin's declared
//!   keys, `?connectorsOnly=false` lists the transforms and predicates, and a connector's
//!   `config/validate` reports the bad transform value on its full key.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tidemark_tests::capture::pg_properties;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{free_port, read_lines, signal, spawn_tidemark, wait_until};
use tidemark_tests::rest::Rest;
use tidemark_tests::{plugin_path, tidemark_binary, write_properties};

const TIMEOUT: Duration = Duration::from_secs(60);
const UNWRAP: &str = "io.debezium.transforms.ExtractNewRecordState";

/// A Postgres with one table and one row, and a scratch directory.
fn setup(db: &str) -> (Postgres, tempfile::TempDir) {
    // The bundled plugins next to the binary (target/plugins) are what `tidemark` loads;
    // this panics with what to run when they are not built.
    plugin_path("extract-new-record-state");
    let pg = Postgres::start();
    pg.create_database(db);
    pg.psql(
        db,
        "CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'one');",
    );
    (pg, tempfile::tempdir().unwrap())
}

fn unwrap_props(
    pg: &Postgres,
    db: &str,
    dir: &Path,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut all = vec![("transforms", "unwrap"), ("transforms.unwrap.type", UNWRAP)];
    all.extend_from_slice(extra);
    pg_properties(pg, db, dir, &all)
}

#[test]
fn a_misspelt_transform_key_is_warned_with_the_closest_key() {
    let (pg, dir) = setup("keys_warn");
    let config = dir.path().join("c.properties");
    write_properties(
        &config,
        &unwrap_props(
            &pg,
            "keys_warn",
            dir.path(),
            &[("transforms.unwrap.add.feilds", "op")],
        ),
    );
    let log = dir.path().join("run.log");
    let mut child = spawn_tidemark(&config, &log);
    let out = dir.path().join("out.jsonl");
    wait_until("the snapshot's row in the output", TIMEOUT, || {
        read_lines(&out).iter().any(|l| l.contains("\"one\""))
    });
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("transforms.unwrap.add.feilds")
            && log.contains("did you mean transforms.unwrap.add.fields?"),
        "the warning names the key and the closest one:\n{log}"
    );
    // The key is ignored, as the warning says: no __op field is added.
    let row = read_lines(&out)
        .into_iter()
        .find(|l| l.contains("\"one\""))
        .unwrap();
    assert!(!row.contains("__op"), "{row}");
}

#[test]
fn a_value_outside_the_allowed_ones_is_refused_at_start() {
    let (pg, dir) = setup("keys_refuse");
    let config = dir.path().join("c.properties");
    write_properties(
        &config,
        &unwrap_props(
            &pg,
            "keys_refuse",
            dir.path(),
            &[("transforms.unwrap.delete.tombstone.handling.mode", "keep")],
        ),
    );
    let output = Command::new(tidemark_binary())
        .arg("run")
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it must not start:\n{stderr}");
    assert!(
        stderr.contains("transforms.unwrap.delete.tombstone.handling.mode")
            && stderr.contains("\"keep\"")
            && stderr
                .contains("drop, tombstone, rewrite, rewrite-with-tombstone, delete-to-tombstone"),
        "the error names the key, the value and what it accepts:\n{stderr}"
    );
    assert!(
        !dir.path().join("out.jsonl").exists()
            || read_lines(&dir.path().join("out.jsonl")).is_empty(),
        "nothing was read"
    );
}

#[test]
fn the_worker_lists_and_validates_declared_keys() {
    let (pg, dir) = setup("keys_rest");
    let port = free_port();
    let worker_config = dir.path().join("worker.properties");
    std::fs::write(
        &worker_config,
        format!(
            "listeners=http://127.0.0.1:{port}\noffset.storage.file.filename={}\n",
            dir.path().join("offsets.json").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("worker.log");
    let mut child = Command::new(tidemark_binary())
        .arg("worker")
        .arg(&worker_config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let rest = Rest::new(port);
    wait_until("the worker's REST API", TIMEOUT, || {
        rest.try_request("GET", "/", None).is_ok()
    });

    let (code, keys) = rest.request("GET", &format!("/connector-plugins/{UNWRAP}/config"), None);
    assert_eq!(code, 200, "{keys}");
    let mode = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "delete.tombstone.handling.mode")
        .unwrap_or_else(|| panic!("the mode is listed: {keys}"));
    assert_eq!(mode["type"], "STRING");
    assert_eq!(mode["default_value"], "tombstone");
    assert_eq!(mode["importance"], "MEDIUM");
    assert!(mode["documentation"].as_str().unwrap().contains("rewrite"));
    for name in ["add.fields", "route.by.field", "replace.null.with.default"] {
        assert!(
            keys.as_array().unwrap().iter().any(|k| k["name"] == name),
            "{name} is listed: {keys}"
        );
    }
    // A class whose `part` is implied does not list it.
    let (code, mask) = rest.request(
        "GET",
        "/connector-plugins/org.apache.kafka.connect.transforms.MaskField$Value/config",
        None,
    );
    assert_eq!(code, 200, "{mask}");
    assert!(
        mask.as_array().unwrap().iter().all(|k| k["name"] != "part"),
        "{mask}"
    );
    assert!(
        mask.as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "fields")
    );

    let (code, plugins) = rest.request("GET", "/connector-plugins?connectorsOnly=false", None);
    assert_eq!(code, 200, "{plugins}");
    let has = |class: &str, kind: &str| {
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == class && p["type"] == kind && p["version"].is_string())
    };
    assert!(has(UNWRAP, "transformation"), "{plugins}");
    assert!(
        has(
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicate"
        ),
        "{plugins}"
    );

    let mut config: serde_json::Map<String, Json> = unwrap_props(
        &pg,
        "keys_rest",
        dir.path(),
        &[("transforms.unwrap.delete.tombstone.handling.mode", "keep")],
    )
    .into_iter()
    .map(|(k, v)| (k, Json::String(v)))
    .collect();
    config.remove("sink.file");
    config.remove("offset.storage.file.filename");
    let (code, validated) = rest.request(
        "PUT",
        "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate",
        Some(&json!(config)),
    );
    assert_eq!(code, 200, "{validated}");
    assert!(
        validated["error_count"].as_u64().unwrap() >= 1,
        "{validated}"
    );
    let entry = validated["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "transforms.unwrap.delete.tombstone.handling.mode")
        .unwrap_or_else(|| panic!("the transform's key is validated: {validated}"));
    let errors = entry["value"]["errors"].to_string();
    assert!(errors.contains("tombstone"), "{errors}");
    assert_eq!(entry["definition"]["default_value"], "tombstone");

    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
}

#[test]
fn chains_and_sinks_check_their_plugins_declarations() {
    use std::collections::BTreeMap;

    use tidemark::plugin::PluginError;
    use tidemark::plugin::sink::SinkPlugin;
    use tidemark_tests::{chain, load, runtime, step};

    // Connect's ValidString is exact: the plugin's declaration says so, and the host refuses
    // before `configure`, naming the full key.
    let mut header_from = step(
        "header-from",
        &[("fields", "a"), ("headers", "h"), ("operation", "Move")],
    );
    header_from.name = Some("hoist".into());
    match chain(vec![header_from]) {
        Err(PluginError::InvalidConfig { problems, .. }) => {
            let problem = problems.join("; ");
            assert!(
                problem.contains("transforms.hoist.operation=\"Move\" is invalid")
                    && problem.contains("move, copy")
                    && problem.contains("the case matters"),
                "{problem}"
            );
        }
        Err(other) => panic!("expected the declaration's error, got: {other}"),
        Ok(_) => panic!("operation=Move must be refused"),
    }
    // A misspelt key is only a warning: the chain is built.
    assert!(
        chain(vec![step(
            "extract-new-record-state",
            &[("add.feilds", "op")]
        )])
        .is_ok()
    );
    let declared = load("extract-new-record-state")
        .declaration()
        .unwrap()
        .unwrap();
    let findings = declared.check("transforms.unwrap.", &[("add.feilds".into(), "op".into())]);
    assert_eq!(
        findings.warnings,
        [
            "transforms.unwrap.add.feilds is not a key of this plugin and is ignored; did you mean \
          transforms.unwrap.add.fields?"
        ]
    );
    // A sink's keys are named sink.config.<key>; its header.* family is declared.
    let config: BTreeMap<String, String> = [
        ("url", "http://127.0.0.1:9/x"),
        ("timeout.ms", "soon"),
        ("header.Authorization", "Bearer x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    match SinkPlugin::new(runtime(), load("http-sink"), &config) {
        Err(PluginError::InvalidConfig { problems, .. }) => {
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].contains("sink.config.timeout.ms=\"soon\" is invalid"),
                "{problems:?}"
            );
        }
        Err(other) => panic!("expected the declaration's error, got: {other}"),
        Ok(_) => panic!("timeout.ms=soon must be refused"),
    }
    // `tidemark plugin inspect` lists a plugin's declared keys.
    let inspect = Command::new(tidemark_binary())
        .args(["plugin", "inspect"])
        .arg(plugin_path("extract-new-record-state"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.status.success(), "{text}");
    assert!(
        text.contains(
            "delete.tombstone.handling.mode (STRING, default \"tombstone\", one of drop, tombstone"
        ),
        "{text}"
    );
    // A plugin that declares nothing (the SDK's `config_def` left at its default) is
    // configured as before, unchecked.
    assert!(load("tagger").declaration().unwrap().is_none());
}
