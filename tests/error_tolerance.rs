//! Hostile plugins in a running pipeline: each misbehaviour is contained and reported; with
//! `errors.tolerance=all` the pipeline goes on and the failed records land in the dead-letter
//! topic, with `none` it stops with a clear error; no record is lost either way.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;
use tidemark_tests::capture::{Capture, pg_properties};
use tidemark_tests::plugin_path;
use tidemark_tests::postgres::Postgres;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Misbehaviours that fail the record, each on a table of its own, and the limit settings
/// that contain them quickly.
const MODES: &[(&str, &[(&str, &str)])] = &[
    ("panic", &[]),
    ("loop", &[("plugin.timeout.ms", "200")]),
    ("alloc", &[("plugin.memory.limit.bytes", "16MiB")]),
    ("recurse", &[]),
    ("file", &[("path", "/etc/hostname")]),
    ("socket", &[("address", "127.0.0.1:9")]),
];

fn setup(server: &Postgres) {
    server.create_database("shop");
    let mut sql = String::from("CREATE TABLE good (id int PRIMARY KEY);");
    for (mode, _) in MODES {
        sql.push_str(&format!("CREATE TABLE bad_{mode} (id int PRIMARY KEY);"));
    }
    server.psql("shop", &sql);
}

/// Connector properties: one hostile step per mode, each triggered by its own table.
fn properties(
    server: &Postgres,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let hostile = plugin_path("hostile").display().to_string();
    let names: Vec<String> = MODES.iter().map(|(m, _)| m.to_string()).collect();
    let mut settings: Vec<(String, String)> = vec![("transforms".into(), names.join(","))];
    for (mode, limits) in MODES {
        let key = |k: &str| format!("transforms.{mode}.{k}");
        settings.push((key("type"), hostile.clone()));
        settings.push((key("mode"), mode.to_string()));
        settings.push((key("trigger"), format!("dbz.public.bad_{mode}")));
        for (k, v) in *limits {
            settings.push((key(k), v.to_string()));
        }
    }
    let mut all: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(&[
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
    ]);
    all.extend_from_slice(extra);
    pg_properties(server, "shop", dir, &all)
}

fn workload(server: &Postgres, first: i32) {
    let mut sql = format!("INSERT INTO good VALUES ({first});");
    for (mode, _) in MODES {
        sql.push_str(&format!("INSERT INTO bad_{mode} VALUES ({first});"));
    }
    sql.push_str(&format!("INSERT INTO good VALUES ({});", first + 1));
    server.psql("shop", &sql);
}

fn header<'a>(event: &'a Json, key: &str) -> Option<&'a str> {
    event["headers"]
        .as_array()?
        .iter()
        .find(|h| h["key"] == key)
        .and_then(|h| h["value"].as_str())
}

#[test]
fn with_tolerance_all_failed_records_go_to_the_dead_letter_topic() {
    let server = Postgres::start();
    setup(&server);
    let dir = tempfile::tempdir().unwrap();
    let port = tidemark_tests::process::free_port();
    let listeners = format!("http://127.0.0.1:{port}");
    let props = properties(
        &server,
        dir.path(),
        &[
            ("errors.tolerance", "all"),
            ("errors.log.enable", "true"),
            ("errors.deadletterqueue.topic.name", "dlq"),
            ("listeners", listeners.as_str()),
        ],
    );
    let mut capture = Capture::start(dir.path().to_owned(), props);
    server.wait_slot_active("shop", "tidemark_slot");
    workload(&server, 1);
    capture.wait_lines(2 + MODES.len(), TIMEOUT);
    // The failures are counted: Debezium's erroneous events, and each transform's errors.
    let (_, metrics) = tidemark_tests::rest::Rest::new(port).request("GET", "/metrics", None);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    let erroneous = format!(
        "debezium_metrics_NumberOfErroneousEvents{{connector=\"test-connector\",context=\"streaming\",name=\"dbz\",plugin=\"postgres\"}} {}\n",
        MODES.len()
    );
    assert!(metrics.contains(&erroneous), "{erroneous} in\n{metrics}");
    for (mode, _) in MODES {
        let errors = metrics
            .lines()
            .find(|l| {
                l.starts_with("tidemark_plugin_errors_total{")
                    && l.contains(&format!("transform=\"{mode}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
        assert!(
            errors.is_some_and(|n| n >= 1.0),
            "{mode}: {errors:?}\n{metrics}"
        );
    }
    // Every line written by the stop (which must be clean: the pipeline went on), so an
    // extra good row or dead letter fails the counts below.
    let lines = capture.stop_after_quiet();
    let events: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let good: Vec<&Json> = events
        .iter()
        .filter(|e| e["topic"] == "dbz.public.good")
        .collect();
    assert_eq!(good.len(), 2, "the good rows pass every plugin");
    let dead: BTreeMap<&str, &Json> = events
        .iter()
        .filter(|e| e["topic"] == "dlq")
        .map(|e| (header(e, "__connect.errors.topic").unwrap(), e))
        .collect();
    assert_eq!(
        dead.len(),
        MODES.len(),
        "one dead letter per hostile table: {dead:?}"
    );
    for (mode, _) in MODES {
        let letter = dead[format!("dbz.public.bad_{mode}").as_str()];
        assert_eq!(letter["value"]["after"]["id"], 1, "the original record");
        assert_eq!(
            header(letter, "__connect.errors.stage"),
            Some("TRANSFORMATION")
        );
        let plugin = header(letter, "__connect.errors.class.name").unwrap();
        assert!(plugin.contains(&format!("transforms.{mode}")), "{plugin}");
        let message = header(letter, "__connect.errors.exception.message").unwrap();
        let expected = match *mode {
            "loop" => "time limit of 200 ms",
            "alloc" => "memory limit",
            "recurse" => "stack",
            _ => "trapped",
        };
        assert!(message.contains(expected), "{mode}: {message}");
    }
}

#[test]
fn with_tolerance_none_the_pipeline_stops_and_loses_nothing() {
    let server = Postgres::start();
    setup(&server);
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(dir.path().to_owned(), properties(&server, dir.path(), &[]));
    server.wait_slot_active("shop", "tidemark_slot");
    workload(&server, 1);
    let error = capture.join().expect_err("the pipeline stops");
    let message = error.to_string();
    assert!(
        message.contains("plugin 'hostile (transforms.panic)' trapped"),
        "{message}"
    );

    // Restarted with tolerance, everything arrives: nothing was acknowledged past the failure.
    let props = properties(
        &server,
        dir.path(),
        &[
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ],
    );
    let _ = std::fs::remove_file(dir.path().join("out.jsonl"));
    let mut capture = Capture::start(dir.path().to_owned(), props);
    capture.wait_lines(2 + MODES.len(), TIMEOUT);
    let lines = capture.stop_after_quiet();
    let topics: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Json>(l).unwrap()["topic"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(topics.iter().filter(|t| *t == "dbz.public.good").count(), 2);
    assert_eq!(topics.iter().filter(|t| *t == "dlq").count(), MODES.len());
}

/// Properties of a chain whose Debezium Filter condition cannot be evaluated for deletes
/// (`value.after` is null there): the plugin fails those records, as Debezium's task would.
fn refusing_properties(
    server: &Postgres,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut all = vec![
        ("transforms", "positive"),
        ("transforms.positive.type", "io.debezium.transforms.Filter"),
        ("transforms.positive.language", "jsr223.groovy"),
        ("transforms.positive.condition", "value.after.n > 0"),
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
    ];
    all.extend_from_slice(extra);
    pg_properties(server, "shop", dir, &all)
}

#[test]
fn a_record_a_transform_refuses_follows_errors_tolerance() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql("shop", "CREATE TABLE t (id int PRIMARY KEY, n int)");
    let dir = tempfile::tempdir().unwrap();
    let plugins = tidemark_tests::workspace_root().join("target/plugins");
    let plugins = plugins.display().to_string();

    // errors.tolerance=none: the connector stops, naming the transform and the condition.
    let props = refusing_properties(&server, dir.path(), &[("plugin.path", &plugins)]);
    let mut capture = Capture::start(dir.path().to_owned(), props);
    server.wait_slot_active("shop", "tidemark_slot");
    server.psql("shop", "INSERT INTO t VALUES (1, 1)");
    capture.wait_lines(1, TIMEOUT);
    server.psql(
        "shop",
        "DELETE FROM t WHERE id = 1; INSERT INTO t VALUES (2, 5)",
    );
    let message = capture.join().expect_err("the pipeline stops").to_string();
    assert!(message.contains("transforms.positive"), "{message}");
    assert!(message.contains("value.after.n > 0"), "{message}");

    // errors.tolerance=all: the refused delete goes to the dead-letter topic as it entered
    // the chain; the records around it keep their order; nothing is lost.
    let props = refusing_properties(
        &server,
        dir.path(),
        &[
            ("plugin.path", &plugins),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ],
    );
    let mut capture = Capture::start(dir.path().to_owned(), props);
    // the delete to the dead-letter topic, its tombstone and the insert of 2
    capture.wait_until("the insert of 2", TIMEOUT, |lines| {
        lines.iter().any(|l| l.contains("\"after\":{\"id\":2"))
    });
    let lines = capture.stop_after_quiet();
    let events: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let shape: Vec<String> = events
        .iter()
        .map(|e| {
            let op = e["value"]["op"].as_str().unwrap_or("tombstone");
            format!("{}:{op}", e["topic"].as_str().unwrap())
        })
        .collect();
    // In the topic, the delete's tombstone and the next insert follow the first insert (once,
    // or twice if its offset was not committed before the stop), in order; the dead letter
    // goes to its own topic, written after its batch's records.
    let topic: Vec<&str> = shape
        .iter()
        .filter(|s| s.starts_with("dbz."))
        .map(String::as_str)
        .collect();
    let (first, rest) = topic.split_at(topic.len().saturating_sub(2));
    assert_eq!(
        rest,
        ["dbz.public.t:tombstone", "dbz.public.t:c"],
        "{shape:?}"
    );
    assert!(
        (1..=2).contains(&first.len()) && first.iter().all(|s| *s == "dbz.public.t:c"),
        "{shape:?}"
    );
    assert_eq!(
        shape.iter().filter(|s| *s == "dlq:d").count(),
        1,
        "{shape:?}"
    );
    let letter = events.iter().find(|e| e["topic"] == "dlq").unwrap();
    assert_eq!(letter["value"]["before"]["id"], 1);
    let message = header(letter, "__connect.errors.exception.message").unwrap();
    assert!(message.contains("value.after.n > 0"), "{message}");
    let class = header(letter, "__connect.errors.class.name").unwrap();
    assert!(class.contains("transforms.positive"), "{class}");
    assert_eq!(
        header(letter, "__connect.errors.exception.class.name"),
        Some("tidemark.plugin.RecordFailed")
    );
}
