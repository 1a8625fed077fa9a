//! The shape of a JSON answer, as the conformance test compares Kafka Connect's and Tidemark's:
//! object keys (recursively) and value types, arrays by the union of their elements' shapes,
//! and the values of a few keys whose value is part of the contract (states, types, error
//! codes, names). Everything else (worker ids, traces, versions, commit ids, offsets' numbers,
//! messages) is masked: only its type counts. `null` goes with any type (Connect answers
//! `null` where a value is absent, e.g. a `default_value`), so a `null` on one side and a
//! string on the other is no difference.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

/// Keys whose scalar values are compared, not only their types.
const VALUE_KEYS: &[&str] = &["state", "type", "error_code", "connector", "task"];

/// The merged shape of one or more JSON values.
#[derive(Debug, Default, Clone)]
pub struct Shape {
    /// The JSON types seen: `null`, `bool`, `number`, `string`, `array`, `object`.
    types: BTreeSet<&'static str>,
    /// The keys of the objects seen, each with the merged shape of its values.
    keys: Option<BTreeMap<String, Shape>>,
    /// The merged shape of the elements of the arrays seen (no types: only empty arrays).
    items: Option<Box<Shape>>,
    /// The values seen, for the keys in [`VALUE_KEYS`].
    values: BTreeSet<String>,
}

impl Shape {
    /// The shape of `json`. With `keyed`, the top object's keys are data (logger names) and
    /// its values are merged under one key, `<key>`.
    pub fn of(json: &Json, keyed: bool) -> Shape {
        let mut shape = Shape::default();
        if keyed && let Json::Object(map) = json {
            let mut merged = Shape::default();
            for value in map.values() {
                merged.add(value, false);
            }
            shape.types.insert("object");
            shape.keys = Some(BTreeMap::from([("<key>".to_owned(), merged)]));
            return shape;
        }
        shape.add(json, false);
        shape
    }

    fn add(&mut self, json: &Json, compare_value: bool) {
        if compare_value && !json.is_object() && !json.is_array() {
            self.values.insert(json.to_string());
        }
        match json {
            Json::Null => {
                self.types.insert("null");
            }
            Json::Bool(_) => {
                self.types.insert("bool");
            }
            Json::Number(_) => {
                self.types.insert("number");
            }
            Json::String(_) => {
                self.types.insert("string");
            }
            Json::Array(items) => {
                self.types.insert("array");
                let merged = self.items.get_or_insert_with(Box::default);
                for item in items {
                    merged.add(item, false);
                }
            }
            Json::Object(map) => {
                self.types.insert("object");
                let keys = self.keys.get_or_insert_with(BTreeMap::new);
                for (key, value) in map {
                    keys.entry(key.clone())
                        .or_default()
                        .add(value, VALUE_KEYS.contains(&key.as_str()));
                }
            }
        }
    }

    fn types_but_null(&self) -> BTreeSet<&'static str> {
        self.types
            .iter()
            .copied()
            .filter(|t| *t != "null")
            .collect()
    }
}

/// Every difference between Connect's shape (`a`) and Tidemark's (`b`), each as
/// `(path, what differs)`; paths are `$`, `$.key`, `$.key[]`. Without `values`, the contract
/// keys' values and whether arrays are empty are not compared (answers listing data).
pub fn differences(a: &Shape, b: &Shape, values: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    compare("$", a, b, values, &mut out);
    out
}

fn compare(path: &str, a: &Shape, b: &Shape, values: bool, out: &mut Vec<(String, String)>) {
    let (ta, tb) = (a.types_but_null(), b.types_but_null());
    if !ta.is_empty() && !tb.is_empty() && ta != tb {
        out.push((
            path.to_owned(),
            format!("types: Connect {ta:?}, Tidemark {tb:?}"),
        ));
    }
    if values && !a.values.is_empty() && !b.values.is_empty() && a.values != b.values {
        out.push((
            path.to_owned(),
            format!("values: Connect {:?}, Tidemark {:?}", a.values, b.values),
        ));
    }
    if let (Some(ka), Some(kb)) = (&a.keys, &b.keys) {
        for key in ka.keys().filter(|k| !kb.contains_key(*k)) {
            out.push((format!("{path}.{key}"), "only in Connect's answer".into()));
        }
        for key in kb.keys().filter(|k| !ka.contains_key(*k)) {
            out.push((format!("{path}.{key}"), "only in Tidemark's answer".into()));
        }
        for (key, sa) in ka {
            if let Some(sb) = kb.get(key) {
                compare(&format!("{path}.{key}"), sa, sb, values, out);
            }
        }
    }
    if let (Some(ia), Some(ib)) = (&a.items, &b.items) {
        let (empty_a, empty_b) = (ia.types.is_empty(), ib.types.is_empty());
        if empty_a != empty_b && values {
            out.push((
                format!("{path}[]"),
                format!(
                    "Connect's array is {}, Tidemark's is {}",
                    if empty_a { "empty" } else { "not empty" },
                    if empty_b { "empty" } else { "not empty" }
                ),
            ));
        } else if !empty_a && !empty_b {
            compare(&format!("{path}[]"), ia, ib, values, out);
        }
    }
}

#[test]
fn shapes_compare_keys_types_and_contract_values() {
    use serde_json::json;
    let connect = json!({"name": "c", "connector": {"state": "RUNNING", "worker_id": "a:1"},
        "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "a:1"}], "type": "source"});
    let same = json!({"name": "c", "connector": {"state": "RUNNING", "worker_id": "b:2"},
        "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "b:2"}], "type": "source"});
    assert!(differences(&Shape::of(&connect, false), &Shape::of(&same, false), true).is_empty());
    let other = json!({"name": "c", "connector": {"state": "PAUSED", "worker_id": 3},
        "tasks": [], "extra": null, "type": "source"});
    let found = differences(&Shape::of(&connect, false), &Shape::of(&other, false), true);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.extra",
            "$.connector.state",
            "$.connector.worker_id",
            "$.tasks[]"
        ],
        "{found:?}"
    );
    let loggers = json!({"root": {"level": "INFO"}, "org.x": {"level": "WARN"}});
    let ours = json!({"root": {"level": "INFO"}, "tidemark": {"level": "DEBUG"}});
    assert!(differences(&Shape::of(&loggers, true), &Shape::of(&ours, true), true).is_empty());
}
