//! `header-from`: Kafka Connect's `org.apache.kafka.connect.transforms.HeaderFrom$Key` and
//! `$Value` (the host passes `part=key` or `part=value`; without it, the value).
//!
//! Settings: `fields` and `headers` (lists of the same length: field `i` goes to header `i`),
//! `operation` (`move`: the fields leave the key or value; `copy`: they stay),
//! `replace.null.with.default` (default true: a null field with a default is read as the
//! default). Headers are appended, as text: Tidemark's headers are strings, written as
//! Connect's default `SimpleHeaderConverter` writes a header (`Values.convertToString`: strings
//! as they are, numbers and booleans as Java prints them, decimals as `BigDecimal` text,
//! `Date`/`Time`/`Timestamp` as ISO-8601 in UTC, bytes as base64, structs, maps and arrays as
//! `{"name":value,…}` / `[…]`); a null field gives a header with a null value. After `move`
//! the struct schema keeps the original's name, version, doc and parameters but, as in
//! Connect, is required and has no default. Schemaless maps work the same way.
//!
//! Differences from Connect: a null key or value (a tombstone) passes unchanged, where Connect
//! fails the record. Where Connect fails a record (a field missing from the schema, a value
//! that is not a struct or map), the record fails: the host applies `errors.tolerance` (stop,
//! or dead-letter queue).

use std::rc::Rc;

use connect_common::cache::IdCache;
use connect_common::operand::{self, Rewrite};
use connect_common::settings;
use connect_common::structs::{
    add_field, check_put, field_value, map_get, map_remove, require_map, require_struct,
    struct_basics,
};
use connect_common::values::convert_to_string;
use tidemark_sdk::{
    Config, ConfigDef, Data, Header, Importance, Key, KeyType, Outcome, Part, Record, Schema,
    Transform, Value, export_transform,
};

/// What becomes of the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Removed from the key or value.
    Move,
    /// Left in the key or value.
    Copy,
}

/// The fields, their headers and the operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Hoist {
    fields: Vec<String>,
    headers: Vec<String>,
    operation: Operation,
    replace_null_with_default: bool,
}

/// What HeaderFrom makes of a schema: the original, and after `move` the schema without
/// the fields and where each remaining field was.
#[derive(Debug)]
struct Plan {
    input: Schema,
    moved: Option<(Schema, Vec<usize>)>,
}

impl Hoist {
    fn purpose(&self) -> &'static str {
        match self.operation {
            Operation::Move => "header move",
            Operation::Copy => "header copy",
        }
    }

    /// The schema without the moved fields, and the original index of each field left.
    pub fn moved_schema(&self, schema: &Schema) -> Result<(Schema, Vec<usize>), String> {
        let mut out = struct_basics(schema);
        let mut sources = Vec::new();
        for (i, (name, field)) in schema.fields.iter().enumerate() {
            if !self.fields.contains(name) {
                add_field(&mut out, name, field.clone())?;
                sources.push(i);
            }
        }
        Ok((out, sources))
    }

    /// The values of the struct after `move`.
    pub fn moved_struct(
        &self,
        schema: &Schema,
        sources: &[usize],
        values: &[Value],
    ) -> Result<Vec<Value>, String> {
        sources
            .iter()
            .map(|&i| {
                let (name, field_schema) = schema
                    .fields
                    .get(i)
                    .ok_or_else(|| format!("field {i} is missing from the schema"))?;
                let value = values.get(i).unwrap_or(&Value::Null);
                let value = field_value(value, field_schema, self.replace_null_with_default);
                check_put(name, field_schema, &value)?;
                Ok(value)
            })
            .collect()
    }

    /// The headers made from a struct's fields.
    pub fn struct_headers(&self, schema: &Schema, values: &[Value]) -> Result<Vec<Header>, String> {
        self.fields
            .iter()
            .zip(&self.headers)
            .map(|(field, header)| {
                let i = schema.field_index(field).ok_or_else(|| {
                    format!("field '{field}' is not in the schema (Connect fails on a null field)")
                })?;
                let field_schema = &schema.fields[i].1;
                let value = values.get(i).unwrap_or(&Value::Null);
                let value = field_value(value, field_schema, self.replace_null_with_default);
                if value.is_null() && !field_schema.optional {
                    return Err(format!(
                        "A null value requires an optional schema (field '{field}')"
                    ));
                }
                Ok(Header {
                    key: header.clone(),
                    value: convert_to_string(Some(field_schema), &value),
                })
            })
            .collect()
    }

    /// The headers made from a schemaless map's entries (null for absent ones).
    pub fn map_headers(&self, entries: &[(Value, Value)]) -> Vec<Header> {
        self.fields
            .iter()
            .zip(&self.headers)
            .map(|(field, header)| Header {
                key: header.clone(),
                value: map_get(entries, field).and_then(|v| convert_to_string(None, v)),
            })
            .collect()
    }

    /// The map after `move`.
    pub fn moved_map(&self, entries: &[(Value, Value)]) -> Vec<(Value, Value)> {
        let mut out = entries.to_vec();
        for field in &self.fields {
            map_remove(&mut out, field);
        }
        out
    }
}

/// The HeaderFrom transform.
#[derive(Debug)]
pub struct HeaderFrom {
    part: Part,
    hoist: Hoist,
    plans: IdCache<Rc<Plan>>,
}

impl HeaderFrom {
    /// The new headers to append and what becomes of the key or value.
    fn hoist(&mut self, record: &Record<'_>) -> Result<Option<(Vec<Header>, Rewrite)>, String> {
        let hoist = &self.hoist;
        let read = operand::read_non_null(record, self.part, &mut self.plans, |input| {
            let moved = match hoist.operation {
                Operation::Move => Some(hoist.moved_schema(&input)?),
                Operation::Copy => None,
            };
            Ok(Rc::new(Plan { input, moved }))
        })?;
        let Some((plan, value)) = read else {
            return Ok(None);
        };
        Ok(Some(match plan {
            None => {
                let entries = require_map(&value, hoist.purpose())?;
                let headers = hoist.map_headers(entries);
                let rewrite = match hoist.operation {
                    Operation::Copy => Rewrite::Unchanged,
                    Operation::Move => Rewrite::Replace(Some(Data {
                        schema: None,
                        value: Value::Map(hoist.moved_map(entries)),
                    })),
                };
                (headers, rewrite)
            }
            Some(plan) => {
                let values = require_struct(&value, hoist.purpose())?;
                let headers = hoist.struct_headers(&plan.input, values)?;
                let rewrite = match &plan.moved {
                    None => Rewrite::Unchanged,
                    Some((schema, sources)) => Rewrite::Replace(Some(Data {
                        value: Value::Struct(hoist.moved_struct(&plan.input, sources, values)?),
                        schema: Some(schema.clone()),
                    })),
                };
                (headers, rewrite)
            }
        }))
    }
}

/// Connect's keys, with the implied `part`.
fn definition() -> ConfigDef {
    ConfigDef::new()
        .key(
            Key::new(
                "fields",
                KeyType::List,
                Importance::High,
                "The fields whose values become headers (a non-empty list).",
            )
            .required(),
        )
        .key(
            Key::new(
                "headers",
                KeyType::List,
                Importance::High,
                "The header names, one for each field, in the same order.",
            )
            .required(),
        )
        .key(
            Key::new(
                "operation",
                KeyType::String,
                Importance::High,
                "move (the fields are removed) or copy (they are kept).",
            )
            .required()
            .allowed(&["move", "copy"]),
        )
        .key(settings::replace_null_key())
        .key(settings::part_key())
}

impl Transform for HeaderFrom {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        let fields = settings::non_empty_list(&parsed, "fields")?;
        let headers = settings::non_empty_list(&parsed, "headers")?;
        if fields.len() != headers.len() {
            return Err(
                "'fields' config must have the same number of elements as 'headers' config.".into(),
            );
        }
        let operation = match parsed.string("operation") {
            Some("move") => Operation::Move,
            _ => Operation::Copy,
        };
        Ok(HeaderFrom {
            part: settings::part(&parsed),
            hoist: Hoist {
                fields,
                headers,
                operation,
                replace_null_with_default: settings::replace_null_with_default(&parsed),
            },
            plans: IdCache::default(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        match self.hoist(record) {
            Ok(None) => Outcome::Keep,
            Ok(Some((added, rewrite))) => {
                let outcome = operand::commit(record, self.part, Ok(rewrite));
                if outcome == Outcome::Keep {
                    let mut headers = record.headers();
                    headers.extend(added);
                    record.set_headers(headers);
                }
                outcome
            }
            Err(reason) => Outcome::Fail(reason),
        }
    }
}

export_transform!(HeaderFrom);

#[cfg(test)]
mod tests {
    use super::*;
    use connect_common::logical::timestamp_schema;
    use tidemark_sdk::SchemaType;

    fn hoist(entries: &[(&str, &str)]) -> Result<Hoist, String> {
        HeaderFrom::configure(Config::from_pairs(entries)).map(|t| t.hoist)
    }

    fn schema() -> Schema {
        Schema::new(SchemaType::Struct)
            .named("t.Value")
            .field("id", Schema::new(SchemaType::Int32))
            .field("name", Schema::optional_string())
            .field("at", timestamp_schema(true))
    }

    fn header(key: &str, value: Option<&str>) -> Header {
        Header {
            key: key.into(),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn struct_fields_become_text_headers() {
        let h = hoist(&[
            ("fields", "id,name,at"),
            ("headers", "h_id,h_name,h_at"),
            ("operation", "copy"),
        ])
        .unwrap();
        let values = [
            Value::Int32(7),
            Value::Null,
            Value::Int64(1_704_164_645_123),
        ];
        assert_eq!(
            h.struct_headers(&schema(), &values).unwrap(),
            vec![
                header("h_id", Some("7")),
                header("h_name", None),
                header("h_at", Some("2024-01-02T03:04:05.123Z"))
            ]
        );
        let missing =
            hoist(&[("fields", "nope"), ("headers", "h"), ("operation", "copy")]).unwrap();
        assert!(missing.struct_headers(&schema(), &values).is_err());
    }

    #[test]
    fn move_drops_the_fields() {
        let h = hoist(&[("fields", "name"), ("headers", "n"), ("operation", "move")]).unwrap();
        let (moved, sources) = h.moved_schema(&schema()).unwrap();
        assert_eq!(sources, [0, 2]);
        assert_eq!(moved.name.as_deref(), Some("t.Value"));
        let values = [Value::Int32(7), "x".into(), Value::Null];
        assert_eq!(
            h.moved_struct(&schema(), &sources, &values).unwrap(),
            vec![Value::Int32(7), Value::Null]
        );
        let entries = vec![("name".into(), "x".into()), ("id".into(), Value::Int64(1))];
        assert_eq!(h.moved_map(&entries), vec![("id".into(), Value::Int64(1))]);
        assert_eq!(h.map_headers(&entries), vec![header("n", Some("x"))]);
    }

    #[test]
    fn settings_are_checked() {
        assert!(
            hoist(&[("fields", "a,b"), ("headers", "h"), ("operation", "copy")])
                .unwrap_err()
                .contains("same number")
        );
        assert!(hoist(&[("fields", "a"), ("headers", "h"), ("operation", "Move")]).is_err());
        assert!(
            hoist(&[("fields", "a"), ("headers", "h")])
                .unwrap_err()
                .contains("'operation'")
        );
    }
}
