//! The conformance script: the requests both workers get, in order, and the waits between
//! them (the same for both, polled with one deadline).

use serde_json::{Value as Json, json};
use tidemark_tests::postgres::{PASSWORD, Postgres};

use super::{Body, Compare, Conformance, MISSING, NAME, POSTGRES, SECOND, THIRD, USER};

/// Each side's config of `name`.
fn configs(run: &Conformance, name: &str) -> [Json; 2] {
    [0, 1].map(|i| run.sides[i].config(name))
}

/// Each side's request to create `name`.
fn create_requests(run: &Conformance, name: &str) -> [Json; 2] {
    configs(run, name).map(|config| json!({"name": name, "config": config}))
}

/// Create, list, inspect, pause, resume, change, restart, topics, stop and offsets.
pub fn lifecycle(run: &mut Conformance, server: &Postgres) {
    let c = format!("/connectors/{NAME}");
    run.call("GET", "/", Body::None);
    run.call(
        "POST",
        "/connectors",
        Body::Each(create_requests(run, NAME)),
    );
    run.call(
        "POST",
        "/connectors",
        Body::Each(create_requests(run, NAME)),
    );
    run.wait_state(NAME, "RUNNING");
    run.call("GET", "/connectors", Body::None);
    run.call("GET", "/connectors?expand=status", Body::None);
    run.call("GET", "/connectors?expand=info", Body::None);
    run.call("GET", "/connectors?expand=status&expand=info", Body::None);
    for path in [
        "",
        "/config",
        "/status",
        "/tasks",
        "/tasks/0/status",
        "/tasks/7/status",
    ] {
        run.call("GET", &format!("{c}{path}"), Body::None);
    }

    run.call("PUT", &format!("{c}/pause"), Body::None);
    run.wait_state(NAME, "PAUSED");
    run.call("GET", &format!("{c}/status"), Body::None);
    run.call("PUT", &format!("{c}/resume"), Body::None);
    run.wait_state(NAME, "RUNNING");
    run.call("GET", &format!("{c}/status"), Body::None);

    // Configs: replaced, created by PUT, patched (null removes a key).
    let mut changed = configs(run, NAME);
    for config in &mut changed {
        config["tombstones.on.delete"] = json!("false");
    }
    let before = run.slot_holders(server, NAME);
    run.call("PUT", &format!("{c}/config"), Body::Each(changed));
    run.wait_state(NAME, "RUNNING");
    run.wait_streaming(server, NAME, &before);
    run.call(
        "PUT",
        &format!("/connectors/{SECOND}/config"),
        Body::Each(configs(run, SECOND)),
    );
    run.wait_state(SECOND, "RUNNING");
    let before = run.slot_holders(server, NAME);
    run.call(
        "PATCH",
        &format!("{c}/config"),
        Body::Json(json!({"tombstones.on.delete": null, "snapshot.mode": "initial"})),
    );
    run.wait_state(NAME, "RUNNING");
    run.wait_streaming(server, NAME, &before);
    run.call("GET", &format!("{c}/config"), Body::None);

    // Restarts (the connector alone restarts no task in Connect: no new slot holder).
    run.call("POST", &format!("{c}/restart"), Body::None);
    run.wait_state(NAME, "RUNNING");
    let before = run.slot_holders(server, NAME);
    run.call(
        "POST",
        &format!("{c}/restart?includeTasks=true&onlyFailed=false"),
        Body::None,
    );
    run.wait_state(NAME, "RUNNING");
    run.wait_streaming(server, NAME, &before);
    let before = run.slot_holders(server, NAME);
    run.call("POST", &format!("{c}/tasks/0/restart"), Body::None);
    run.wait_state(NAME, "RUNNING");
    run.wait_streaming(server, NAME, &before);

    // Active topics: the snapshot's, then none after a reset.
    run.wait_until("topics written", &format!("{c}/topics"), |code, body| {
        code == 200
            && body[NAME]["topics"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
    });
    run.call("GET", &format!("{c}/topics"), Body::None);
    run.call("PUT", &format!("{c}/topics/reset"), Body::None);
    run.wait_until("topics reset", &format!("{c}/topics"), |code, body| {
        code == 200 && body[NAME]["topics"].as_array().is_some_and(Vec::is_empty)
    });
    run.call("GET", &format!("{c}/topics"), Body::None);

    // Two transactions streamed, so that each offset is a streaming one past a commit. The
    // second transaction's first record starts at or after the WAL's end once the first has
    // committed: exactly there when that end is 8-byte aligned, and Debezium's offset is that
    // record's own LSN (it has no event for a commit).
    server.psql("shop", "INSERT INTO orders VALUES (4, 'n4')");
    let before: u64 = server
        .psql("shop", "SELECT pg_current_wal_lsn() - '0/0'")
        .trim()
        .parse()
        .expect("an lsn");
    server.psql("shop", "INSERT INTO orders VALUES (5, 'n5')");
    run.wait_until(
        "an offset past the second transaction",
        &format!("{c}/offsets"),
        |code, body| {
            code == 200
                && body["offsets"][0]["offset"]["lsn"]
                    .as_u64()
                    .is_some_and(|lsn| lsn >= before)
        },
    );

    // Stopped: no tasks; offsets read, altered and reset.
    run.call("PUT", &format!("{c}/stop"), Body::None);
    run.wait_state(NAME, "STOPPED");
    for path in ["/status", "", "/tasks", "/tasks/0/status", "/offsets"] {
        run.call("GET", &format!("{c}{path}"), Body::None);
    }
    let [(_, connect), (_, tidemark)] = run.call("GET", &format!("{c}/offsets"), Body::None);
    let alter = [connect, tidemark].map(|answer| {
        let entry = &answer["offsets"][0];
        json!({"offsets": [{"partition": entry["partition"], "offset": {"lsn": entry["offset"]["lsn"]}}]})
    });
    run.call("PATCH", &format!("{c}/offsets"), Body::Each(alter.clone()));
    run.call("GET", &format!("{c}/offsets"), Body::None);
    run.call("DELETE", &format!("{c}/offsets"), Body::None);
    run.call("GET", &format!("{c}/offsets"), Body::None);

    // Running again: offsets cannot change.
    run.call("PUT", &format!("{c}/resume"), Body::None);
    run.wait_state(NAME, "RUNNING");
    run.call("PATCH", &format!("{c}/offsets"), Body::Each(alter));
    run.call("DELETE", &format!("{c}/offsets"), Body::None);
}

/// A task that fails (its role may no longer log in): its status with the trace, a restart
/// of the failed tasks only, and a restart once it may log in again.
pub fn failure(run: &mut Conformance, server: &Postgres) {
    let c = format!("/connectors/{NAME}");
    server.psql(
        "shop",
        &format!("ALTER ROLE {USER} NOSUPERUSER NOREPLICATION"),
    );
    run.call("POST", &format!("{c}/tasks/0/restart"), Body::None);
    let failed = |code: u16, status: &Json| code == 200 && status["tasks"][0]["state"] == "FAILED";
    run.wait_until("the task FAILED", &format!("{c}/status"), failed);
    run.call("GET", &format!("{c}/status"), Body::None);
    run.call("GET", &format!("{c}/tasks/0/status"), Body::None);
    run.call("GET", "/connectors?expand=status", Body::None);
    run.call(
        "POST",
        &format!("{c}/restart?includeTasks=true&onlyFailed=true"),
        Body::None,
    );
    run.wait_until("the task FAILED again", &format!("{c}/status"), failed);
    server.psql("shop", &format!("ALTER ROLE {USER} SUPERUSER REPLICATION"));
    run.call("POST", &format!("{c}/tasks/0/restart"), Body::None);
    run.wait_until(
        "the task restarted",
        &format!("{c}/status"),
        |code, status| code == 200 && status["tasks"][0]["state"] != "FAILED",
    );
    run.wait_state(NAME, "RUNNING");
    run.call("GET", &format!("{c}/status"), Body::None);
}

/// Unknown connectors on every verb, bodies that are not JSON or not a valid request.
pub fn errors(run: &mut Conformance) {
    let m = format!("/connectors/{MISSING}");
    let offsets = json!({"offsets": [{"partition": {"server": "x"}, "offset": {"lsn": 1}}]});
    for (method, path, body) in [
        ("GET", "", Body::None),
        ("GET", "/config", Body::None),
        ("PATCH", "/config", Body::Json(json!({"a": "b"}))),
        ("GET", "/status", Body::None),
        ("GET", "/tasks", Body::None),
        ("GET", "/tasks/0/status", Body::None),
        ("PUT", "/pause", Body::None),
        ("PUT", "/resume", Body::None),
        ("PUT", "/stop", Body::None),
        ("POST", "/restart", Body::None),
        (
            "POST",
            "/restart?includeTasks=true&onlyFailed=false",
            Body::None,
        ),
        ("POST", "/tasks/0/restart", Body::None),
        ("GET", "/topics", Body::None),
        ("PUT", "/topics/reset", Body::None),
        ("GET", "/offsets", Body::None),
        ("PATCH", "/offsets", Body::Json(offsets)),
        ("DELETE", "/offsets", Body::None),
        ("DELETE", "", Body::None),
    ] {
        run.call(method, &format!("{m}{path}"), body);
    }

    let c = format!("/connectors/{NAME}");
    run.call("POST", "/connectors", Body::Raw("{not json"));
    run.call("PUT", &format!("{c}/config"), Body::Raw("{not json"));
    run.call("PATCH", &format!("{c}/config"), Body::Raw("{not json"));
    run.call("PATCH", &format!("{c}/offsets"), Body::Raw("{not json"));
    run.call_noted(
        "no config",
        "POST",
        "/connectors",
        Body::Json(json!({"name": "no-config"})),
    );
    let mut invalid = create_requests(run, "invalid");
    for request in &mut invalid {
        request["config"]["snapshot.mode"] = json!("sometimes");
    }
    run.call_noted("invalid config", "POST", "/connectors", Body::Each(invalid));
    let mut renamed = configs(run, NAME);
    for config in &mut renamed {
        config["name"] = json!("another-name");
    }
    run.call("PUT", &format!("{c}/config"), Body::Each(renamed));
    let mut classless = create_requests(run, "classless");
    for request in &mut classless {
        request["config"]
            .as_object_mut()
            .expect("a config object")
            .remove("connector.class");
    }
    run.call_noted(
        "no connector.class",
        "POST",
        "/connectors",
        Body::Each(classless),
    );
}

/// Connector plugins (list, config definitions, validation) and log levels.
pub fn plugins_and_loggers(run: &mut Conformance, server: &Postgres) {
    run.call("GET", "/connector-plugins", Body::None);
    run.call("GET", "/connector-plugins?connectorsOnly=false", Body::None);
    let plugin = format!("/connector-plugins/{POSTGRES}");
    run.call_compared(
        Compare::ShapeOnly,
        "GET",
        &format!("{plugin}/config"),
        Body::None,
    );
    let invalid = json!({
        "connector.class": POSTGRES,
        "name": "validated",
        "topic.prefix": "validated",
        "database.hostname": "127.0.0.1",
        "database.port": server.port.to_string(),
        "database.user": "postgres",
        "database.password": PASSWORD,
        "database.dbname": "shop",
        "plugin.name": "pgoutput",
        "snapshot.mode": "sometimes",
    });
    run.call_compared(
        Compare::ShapeOnly,
        "PUT",
        &format!("{plugin}/config/validate"),
        Body::Json(invalid),
    );
    run.call(
        "GET",
        "/connector-plugins/NoSuchConnector/config",
        Body::None,
    );
    // A connector by its simple name, as Connect accepts it.
    run.call_compared(
        Compare::ShapeOnly,
        "GET",
        "/connector-plugins/PostgresConnector/config",
        Body::None,
    );
    run.call_noted(
        "no connector.class",
        "PUT",
        &format!("{plugin}/config/validate"),
        Body::Json(json!({"name": "validated", "topic.prefix": "validated"})),
    );
    run.call(
        "PUT",
        "/connector-plugins/NoSuchConnector/config/validate",
        Body::Json(json!({"connector.class": "NoSuchConnector", "name": "validated"})),
    );

    run.call_compared(Compare::Keyed, "GET", "/admin/loggers", Body::None);
    run.call(
        "PUT",
        "/admin/loggers/{logger}",
        Body::Json(json!({"level": "DEBUG"})),
    );
    run.call("GET", "/admin/loggers/{logger}", Body::None);
    run.call(
        "PUT",
        "/admin/loggers/{logger}",
        Body::Json(json!({"level": "LOUD"})),
    );
    run.call(
        "PUT",
        "/admin/loggers/{logger}",
        Body::Json(json!({"level": "INFO"})),
    );
}

/// Deleting both connectors; the deleted one is gone.
pub fn delete(run: &mut Conformance) {
    // Created stopped (KIP-980): no tasks, nothing runs.
    let [connect, tidemark] = create_requests(run, THIRD);
    let stopped = [connect, tidemark].map(|mut request| {
        request["initial_state"] = json!("STOPPED");
        request
    });
    run.call_noted(
        "initial_state STOPPED",
        "POST",
        "/connectors",
        Body::Each(stopped),
    );
    run.wait_state(THIRD, "STOPPED");
    run.call("GET", &format!("/connectors/{THIRD}/status"), Body::None);
    run.call("GET", &format!("/connectors/{THIRD}"), Body::None);
    run.call("DELETE", &format!("/connectors/{THIRD}"), Body::None);

    run.call("DELETE", &format!("/connectors/{NAME}"), Body::None);
    run.call("GET", &format!("/connectors/{NAME}"), Body::None);
    run.call("DELETE", &format!("/connectors/{SECOND}"), Body::None);
    run.call("GET", "/connectors", Body::None);
}
