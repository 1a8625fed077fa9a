//! Configuration as data, end to end against a real `tidemark worker` and a real Postgres:
//! Connect's plugin endpoints (`GET /connector-plugins`, `…/{plugin}/config`,
//! `PUT …/{plugin}/config/validate`) answer from the key declarations; a config with
//! several problems is refused by `POST /connectors` listing each; a misspelt key is named
//! with the closest known key (in `config/validate` and in the running connector's log).

use std::path::Path;

use serde_json::{Value as Json, json};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{free_port, read_lines, wait_until};
use tidemark_tests::worker::{TIMEOUT, WorkerProcess, pg_connector};

const POSTGRES: &str = "io.debezium.connector.postgresql.PostgresConnector";

/// A valid Postgres connector config for database `db`: the shared one without the keys
/// whose defaults serve (plugin, publication, converters).
fn connector(server: &Postgres, db: &str, sink: &Path) -> Json {
    let defaults = [
        "plugin.name",
        "publication.name",
        "key.converter.schemas.enable",
        "value.converter.schemas.enable",
    ];
    let removed: Vec<(&str, Json)> = defaults.iter().map(|k| (*k, Json::Null)).collect();
    pg_connector(server, db, sink, &removed)
}

/// The entry of `name` in a `ConfigInfos` answer.
fn entry<'a>(infos: &'a Json, name: &str) -> &'a Json {
    infos["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} is in the answer: {infos}"))
}

#[test]
fn plugins_keys_and_validation_come_from_the_declarations() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE t (id int PRIMARY KEY, v text)");
    server.psql("shop", "INSERT INTO t VALUES (1, 'one')");
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start(dir.path(), free_port());
    let call = |method: &str, path: &str, body: Option<Json>| worker.call(method, path, body);

    // The connector classes, as Connect lists them; with connectorsOnly=false the converters.
    let (code, plugins) = call("GET", "/connector-plugins", None);
    assert_eq!(code, 200, "{plugins}");
    let classes: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "source", "{p}");
            assert!(p["version"].is_string(), "{p}");
            p["class"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        classes,
        [
            POSTGRES,
            "io.debezium.connector.mysql.MySqlConnector",
            "io.debezium.connector.mariadb.MariaDbConnector"
        ]
    );
    let (code, all) = call("GET", "/connector-plugins?connectorsOnly=false", None);
    assert_eq!(code, 200, "{all}");
    let has = |class: &str, kind: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == class && p["type"] == kind)
    };
    assert!(
        has("org.apache.kafka.connect.json.JsonConverter", "converter"),
        "{all}"
    );
    assert!(
        has(
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "header_converter"
        ),
        "{all}"
    );
    assert!(has(POSTGRES, "source"), "{all}");

    // The Postgres connector's keys, by its class or its simple name, as ConfigKeyInfo.
    let (code, keys) = call(
        "GET",
        &format!("/connector-plugins/{POSTGRES}/config"),
        None,
    );
    assert_eq!(code, 200, "{keys}");
    let (code, by_alias) = call("GET", "/connector-plugins/PostgresConnector/config", None);
    assert_eq!(code, 200, "{by_alias}");
    assert_eq!(keys, by_alias);
    let key = |name: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed: {keys}"))
            .clone()
    };
    let mode = key("snapshot.mode");
    assert_eq!(mode["type"], "STRING");
    assert_eq!(mode["default_value"], "initial");
    assert_eq!(mode["required"], false);
    assert_eq!(mode["importance"], "HIGH");
    assert_eq!(mode["group"], "Snapshot");
    assert!(mode["order_in_group"].as_u64().unwrap() >= 1);
    assert!(
        mode["documentation"]
            .as_str()
            .unwrap()
            .contains("when_needed")
    );
    assert_eq!(mode["dependents"], json!([]));
    let host = key("database.hostname");
    assert_eq!(host["required"], true);
    assert_eq!(host["default_value"], Json::Null);
    assert_eq!(key("database.port")["type"], "INT");
    assert_eq!(key("database.password")["type"], "PASSWORD");
    assert_eq!(key("tombstones.on.delete")["type"], "BOOLEAN");
    assert!(
        key("tasks.max")["documentation"]
            .as_str()
            .unwrap()
            .contains("ignored"),
        "{keys}"
    );
    // A MySQL key is not a Postgres connector's.
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k["name"] != "database.server.id")
    );
    let (code, body) = call("GET", "/connector-plugins/NoSuchConnector/config", None);
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["error_code"], 404);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("NoSuchConnector"),
        "{body}"
    );

    // A converter's keys: the JsonConverter settings Tidemark honours.
    let (code, json_keys) = call("GET", "/connector-plugins/JsonConverter/config", None);
    assert_eq!(code, 200, "{json_keys}");
    let schemas = json_keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "schemas.enable")
        .unwrap_or_else(|| panic!("schemas.enable is listed: {json_keys}"));
    assert_eq!(schemas["type"], "BOOLEAN");
    assert_eq!(schemas["default_value"], "true");

    // A config with three problems and a misspelt key: each problem on its key.
    let out = dir.path().join("shop.jsonl");
    let mut invalid = connector(&server, "shop", &out);
    invalid["snapshot.mode"] = json!("sometimes");
    invalid["database.port"] = json!("0");
    invalid.as_object_mut().unwrap().remove("database.dbname");
    invalid["snapshot.delay.mode"] = json!("x");
    invalid["slot.nmae"] = json!("slot_shop");
    let (code, infos) = call(
        "PUT",
        "/connector-plugins/PostgresConnector/config/validate",
        Some(invalid.clone()),
    );
    assert_eq!(code, 200, "{infos}");
    assert_eq!(infos["name"], POSTGRES);
    assert_eq!(infos["error_count"], 3, "{infos}");
    assert!(
        infos["groups"]
            .as_array()
            .unwrap()
            .contains(&json!("Snapshot"))
    );
    let mode = entry(&infos, "snapshot.mode");
    assert_eq!(mode["value"]["value"], "sometimes");
    assert!(
        mode["value"]["recommended_values"]
            .as_array()
            .unwrap()
            .contains(&json!("initial"))
    );
    let errors = mode["value"]["errors"].to_string();
    assert!(
        errors.contains("snapshot.mode") && errors.contains("initial"),
        "{errors}"
    );
    assert_eq!(mode["definition"]["default_value"], "initial");
    let port = entry(&infos, "database.port")["value"]["errors"].to_string();
    assert!(port.contains("from 1 to 65535"), "{port}");
    let dbname = entry(&infos, "database.dbname")["value"]["errors"].to_string();
    assert!(dbname.contains("is required"), "{dbname}");
    let password = entry(&infos, "database.password");
    assert_eq!(password["value"]["value"], "[hidden]");
    assert!(password["value"]["errors"].as_array().unwrap().is_empty());
    // The misspelt key: no error (it is ignored, as Connect ignores unknown keys), named with
    // the key it looks like.
    let misspelt = entry(&infos, "slot.nmae");
    assert_eq!(misspelt["value"]["errors"], json!([]));
    assert_eq!(misspelt["definition"]["group"], "Unknown");
    let documentation = misspelt["definition"]["documentation"].as_str().unwrap();
    assert!(
        documentation.contains("Did you mean slot.name?"),
        "{documentation}"
    );
    let (code, body) = call(
        "PUT",
        "/connector-plugins/MySqlConnector/config/validate",
        Some(invalid.clone()),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("does not match"),
        "{body}"
    );
    let (code, body) = call(
        "PUT",
        "/connector-plugins/PostgresConnector/config/validate",
        Some(json!({"topic.prefix": "x"})),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error_code"], 400);

    // Creating it is refused with the same problems, each naming its key.
    let (code, body) = call(
        "POST",
        "/connectors",
        Some(json!({"name": "shop", "config": invalid})),
    );
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("3 error(s)"), "{message}");
    for key in ["'snapshot.mode'", "'database.port'", "'database.dbname'"] {
        assert!(message.contains(key), "{key} in {message}");
    }
    let (_, names) = call("GET", "/connectors", None);
    assert_eq!(names, json!([]));

    // A valid config validates clean; with the misspelt key it runs, and its log names the
    // closest key.
    let mut valid = connector(&server, "shop", &out);
    valid["slot.nmae"] = json!("slot_shop");
    valid["tasks.max"] = json!("1");
    let (code, infos) = call(
        "PUT",
        &format!("/connector-plugins/{POSTGRES}/config/validate"),
        Some(valid.clone()),
    );
    assert_eq!(code, 200, "{infos}");
    assert_eq!(infos["error_count"], 0, "{infos}");
    let (code, body) = call(
        "POST",
        "/connectors",
        Some(json!({"name": "shop", "config": valid})),
    );
    assert_eq!(code, 201, "{body}");
    wait_until("the snapshot's row", TIMEOUT, || {
        read_lines(&out).iter().any(|l| l.contains("\"one\""))
    });
    let log = worker.log.clone();
    wait_until("the unknown-key warning", TIMEOUT, || {
        read_lines(&log)
            .iter()
            .any(|l| l.contains("slot.nmae (did you mean slot.name?)"))
    });
    let warnings: Vec<String> = read_lines(&log)
        .into_iter()
        .filter(|l| l.contains("ignoring unknown properties"))
        .collect();
    assert!(
        warnings.iter().all(|l| !l.contains("tasks.max")),
        "tasks.max is declared as accepted and ignored: {warnings:?}"
    );

    worker.stop();
}
