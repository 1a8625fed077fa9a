//! Debezium's JSON survives a read and write unchanged, byte for byte.

use tidemark::event::{self, JsonOptions};
use tidemark_tests::golden;

fn round_trip(file: &str) {
    let text = std::fs::read_to_string(golden(file)).unwrap();
    let mut lines = 0;
    for (n, line) in text.lines().enumerate() {
        let record = event::read_line(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", n + 1));
        let mut out = String::new();
        event::write_line(&mut out, &record, JsonOptions::default());
        // Debezium's lines have no headers; ours add an empty list at the end.
        let expected = format!("{},\"headers\":[]}}", line.strip_suffix('}').unwrap());
        assert_eq!(out, expected, "{file}:{}", n + 1);
        lines += 1;
    }
    assert!(lines > 5, "{file} has too few lines to mean anything");
}

#[test]
fn debezium_postgres_events_round_trip_exactly() {
    round_trip("dbz/pg-basic.jsonl");
}

#[test]
fn debezium_smt_output_round_trips_exactly() {
    round_trip("dbz/pg-smt.jsonl");
    round_trip("dbz/pg-smt-tombstone-mode.jsonl");
}

#[test]
fn schemas_can_be_left_out() {
    let text = std::fs::read_to_string(golden("dbz/pg-basic.jsonl")).unwrap();
    let first = text.lines().next().unwrap();
    let record = event::read_line(first).unwrap();
    let mut out = String::new();
    event::write_line(
        &mut out,
        &record,
        JsonOptions {
            key_schemas: false,
            value_schemas: false,
            ..JsonOptions::default()
        },
    );
    let ours: serde_json::Value = serde_json::from_str(&out).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(ours["key"], theirs["key"]["payload"]);
    assert_eq!(ours["value"], theirs["value"]["payload"]);
}

#[test]
fn malformed_lines_say_where() {
    let err = event::read_line(
        r#"{"topic":"t","value":{"schema":{"type":"int32","optional":false},"payload":"x"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "value.payload: expected int32 but found \"x\""
    );
    let err = event::read_line(r#"{"key":null}"#).unwrap_err();
    assert_eq!(err.to_string(), "record: \"topic\" must be a string");
    assert!(
        event::read_line("{")
            .unwrap_err()
            .to_string()
            .starts_with("not valid JSON")
    );
}

#[test]
fn control_characters_are_escaped_as_jackson_does() {
    // Jackson escapes control characters without a short form as `\u00XX`, hex in upper case.
    let line = r#"{"topic":"t","key":null,"value":{"schema":{"type":"string","optional":true},"payload":"a\u001Fb\u000B\t\u0000"}}"#;
    let record = event::read_line(line).unwrap();
    let mut out = String::new();
    event::write_line(&mut out, &record, JsonOptions::default());
    let expected = format!("{},\"headers\":[]}}", line.strip_suffix('}').unwrap());
    assert_eq!(out, expected);
}
