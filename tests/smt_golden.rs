//! Every bundled transform, configured exactly as a Debezium connector config configures it,
//! gives the events Debezium 3.6.3 gives (schemas included, run-dependent fields aside): the
//! connector runs on a real Postgres with the SMT workload of `tests/workloads/` and the
//! `transforms`/`predicates` of each `smt-<name>.properties`, and its output is compared
//! with the golden `tests/golden/dbz/smt-<name>.jsonl` recorded from Debezium.

use std::time::Duration;

use tidemark::config::parse_properties;
use tidemark_tests::capture::{Capture, assert_same_events, pg_properties};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::{golden_lines, workload};

const TIMEOUT: Duration = Duration::from_secs(90);

/// Keys of a golden config that describe Debezium's test set-up, not the behaviour under test.
fn is_setup_key(key: &str) -> bool {
    key.starts_with("database.")
        || key.starts_with("offset.")
        || key.starts_with("dbzrun.")
        || matches!(
            key,
            "name" | "connector.class" | "slot.name" | "publication.name" | "plugin.name"
        )
}

/// Runs a workload with the behaviour keys of `properties` and returns our lines and
/// Debezium's.
fn run(setup: &str, stream: &str, properties: &str, golden: &str) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(workload(properties)).expect("the golden config");
    let config = parse_properties(&text).expect("a valid properties file");
    let plugins = tidemark_tests::workspace_root()
        .join("target")
        .join("plugins");
    let plugins = plugins.display().to_string();
    // Debezium's HeaderToValue step (h2v) only exists to show headers in its output; our
    // output has the headers themselves (see `smt_with_headers`).
    let owned: Vec<(String, String)> = config
        .into_iter()
        .filter(|(k, _)| !is_setup_key(k) && !k.starts_with("transforms.h2v"))
        .map(|(k, v)| match k.as_str() {
            "transforms" => {
                let steps: Vec<&str> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| *s != "h2v")
                    .collect();
                (k, steps.join(","))
            }
            _ => (k, v),
        })
        .collect();
    let mut extra: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    extra.push(("plugin.path", &plugins));
    let server = Postgres::start();
    server.create_database("dbz");
    server.psql_file("dbz", &workload(setup));
    let theirs = golden_lines(golden);
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        pg_properties(&server, "dbz", dir.path(), &extra),
    );
    capture.wait_streaming(&server, "dbz");
    server.psql_file("dbz", &workload(stream));
    let ours = capture.wait_lines(theirs.len(), TIMEOUT);
    std::thread::sleep(Duration::from_millis(500));
    capture.stop().expect("the connector stops cleanly");
    (capture_lines(&ours, &dir), theirs)
}

/// Everything written, once the connector stopped.
fn capture_lines(seen: &[String], dir: &tempfile::TempDir) -> Vec<String> {
    let all: Vec<String> = std::fs::read_to_string(dir.path().join("out.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    if all.len() >= seen.len() {
        all
    } else {
        seen.to_vec()
    }
}

/// Runs a config whose last step, Debezium's `HeaderToValue` (`transforms.h2v`), only made
/// headers visible in the golden output (its runner writes no headers): runs without that
/// step, and checks our headers against the fields it added before comparing the rest.
fn smt_with_headers(name: &str, headers: &[(&str, &str)]) {
    let (ours, theirs) = run(
        "smt-base.sql",
        "smt-stream.sql",
        &format!("smt-{name}.properties"),
        &format!("dbz/smt-{name}.jsonl"),
    );
    let mut stripped = Vec::new();
    for (mine, golden) in ours.iter().zip(&theirs) {
        let mine: serde_json::Value = serde_json::from_str(mine).unwrap();
        let mut golden: serde_json::Value = serde_json::from_str(golden).unwrap();
        for (header, field) in headers {
            let expected = golden["value"]["payload"]
                .as_object_mut()
                .and_then(|p| p.remove(*field))
                .unwrap_or(serde_json::Value::Null);
            if let Some(fields) = golden["value"]["schema"]["fields"].as_array_mut() {
                fields.retain(|f| f["field"] != *field);
            }
            let actual = mine["headers"]
                .as_array()
                .and_then(|h| h.iter().rev().find(|h| h["key"] == *header))
                .map(|h| h["value"].clone())
                .unwrap_or(serde_json::Value::Null);
            assert_eq!(actual, expected, "header {header} of {mine}");
        }
        // HeaderToValue rebuilt the value as a required struct; without it the value keeps
        // its own optionality (checked by the config without headers).
        if let Some(optional) = mine["value"]["schema"].get("optional") {
            golden["value"]["schema"]["optional"] = optional.clone();
        }
        stripped.push(golden.to_string());
    }
    assert_same_events(&ours, &stripped);
}

fn smt(name: &str) {
    let (ours, theirs) = run(
        "smt-base.sql",
        "smt-stream.sql",
        &format!("smt-{name}.properties"),
        &format!("dbz/smt-{name}.jsonl"),
    );
    assert_same_events(&ours, &theirs);
}

#[test]
fn four_smt_chain_matches_debezium() {
    // unwrap (rewrite-with-tombstone, add.fields) -> RegexRouter -> MaskField$Value with a
    // negated RecordIsTombstone predicate -> Filter with a TopicNameMatches predicate.
    let (ours, theirs) = run(
        "pg-basic.sql",
        "pg-basic-stream.sql",
        "pg-smt.properties",
        "dbz/pg-smt.jsonl",
    );
    assert_same_events(&ours, &theirs);
}

#[test]
fn unwrap_default() {
    smt("unwrap-default");
}

#[test]
fn unwrap_drop() {
    smt("unwrap-drop");
}

#[test]
fn unwrap_rewrite() {
    smt("unwrap-rewrite");
}

#[test]
fn unwrap_rewrite_with_tombstone() {
    smt("unwrap-rewrite-tomb");
}

#[test]
fn unwrap_rewrite_with_headers() {
    smt_with_headers(
        "unwrap-rewrite-headers",
        &[("__op", "hdr_op"), ("__db", "hdr_db")],
    );
}

#[test]
fn unwrap_route_by_field() {
    smt("unwrap-route");
}

#[test]
fn mask_field() {
    smt("mask");
}

#[test]
fn mask_field_with_replacement() {
    smt("mask-replacement");
}

#[test]
fn insert_field() {
    smt("insert-field");
}

#[test]
fn replace_field() {
    smt("replace-field");
}

#[test]
fn value_to_key_and_extract_field_key() {
    smt("value-to-key");
}

#[test]
fn extract_field() {
    smt("extract-field");
}

#[test]
fn timestamp_converter() {
    smt("timestamp-converter");
}

#[test]
fn timestamp_converter_micros() {
    smt("timestamp-converter-micros");
}

#[test]
fn header_from() {
    smt("header-from");
}

#[test]
fn outbox_event_router() {
    smt("outbox");
}

#[test]
fn outbox_event_router_expanding_json() {
    smt("outbox-expand");
}

#[test]
fn outbox_event_router_with_headers() {
    smt_with_headers("outbox-expand-headers", &[("id", "hdr_id")]);
}

#[test]
fn by_logical_table_router() {
    smt("logical-table");
}

#[test]
fn filter_by_topic() {
    smt("filter-topic");
}

#[test]
fn filter_by_header() {
    smt("filter-hasheader");
}

#[test]
fn filter_tombstones() {
    smt("filter-tombstone");
}
