//! `insert-field`: Kafka Connect's `org.apache.kafka.connect.transforms.InsertField$Key` and
//! `$Value` (the host passes `part=key` or `part=value`; without it, the value).
//!
//! Settings (at least one field): `topic.field` (string), `partition.field` (int32),
//! `timestamp.field` (Connect `Timestamp`, the record's timestamp), `static.field` with
//! `static.value` (string), each a field name, optional unless suffixed with `!` (`?` also
//! marks optional); `replace.null.with.default` (default true: null fields with a default are
//! copied as the default). Fields are appended in that order to a struct schema that keeps
//! the original's name, version, doc and parameters but, as in Connect, is required and has
//! no default. Schemaless maps get the same entries (the timestamp as a plain int64).
//!
//! Tidemark records come from a source, as in a Connect source connector: there is no Kafka
//! partition, so a partition field stays null (and a required one fails the record), and
//! `offset.field`, which Connect fails on every source record, is refused at configuration. A
//! record without a timestamp gets a null timestamp field (Debezium sets none). A null key or
//! value passes unchanged, as in Connect. Where Connect fails a record (a field name already
//! present, a value that is not a struct or map), the record fails: the host applies
//! `errors.tolerance` (stop, or dead-letter queue).

use std::rc::Rc;

use connect_common::cache::IdCache;
use connect_common::logical::{plain_schema, timestamp_schema};
use connect_common::operand::{self, Rewrite};
use connect_common::settings;
use connect_common::structs::{
    add_field, check_put, field_value, map_put, require_map, require_struct, struct_basics,
};
use tidemark_sdk::{
    Config, ConfigDef, Data, Importance, Key, KeyType, Outcome, Part, Record, Schema, SchemaType,
    Transform, Value, export_transform,
};

const PURPOSE: &str = "field insertion";

/// A field to insert: its name and whether its schema is optional.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub optional: bool,
}

impl Spec {
    /// Reads `name`, `name?` (optional) or `name!` (required); optional by default.
    pub fn parse(text: &str) -> Spec {
        if let Some(name) = text.strip_suffix('?') {
            Spec {
                name: name.into(),
                optional: true,
            }
        } else if let Some(name) = text.strip_suffix('!') {
            Spec {
                name: name.into(),
                optional: false,
            }
        } else {
            Spec {
                name: text.into(),
                optional: true,
            }
        }
    }
}

/// What InsertField reads from a record besides the key or value.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub topic: String,
    pub timestamp: Option<i64>,
}

/// A schema seen before and the schema InsertField makes of it.
type Schemas = Rc<(Schema, Schema)>;

/// The InsertField transform.
#[derive(Debug)]
pub struct InsertField {
    part: Part,
    insertions: Insertions,
    schemas: IdCache<Schemas>,
}

/// What InsertField inserts.
#[derive(Debug)]
pub struct Insertions {
    topic: Option<Spec>,
    partition: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<(Spec, String)>,
    replace_null_with_default: bool,
}

impl Insertions {
    /// The schema with the inserted fields appended.
    pub fn updated_schema(&self, schema: &Schema) -> Result<Schema, String> {
        let mut out = struct_basics(schema);
        for (name, field) in &schema.fields {
            add_field(&mut out, name, field.clone())?;
        }
        let plain = |spec: &Spec, kind| (spec.name.clone(), plain_schema(kind, spec.optional));
        let inserted = [
            self.topic.as_ref().map(|s| plain(s, SchemaType::String)),
            self.partition.as_ref().map(|s| plain(s, SchemaType::Int32)),
            self.timestamp
                .as_ref()
                .map(|s| (s.name.clone(), timestamp_schema(s.optional))),
            self.static_field
                .as_ref()
                .map(|(s, _)| plain(s, SchemaType::String)),
        ];
        for (name, field) in inserted.into_iter().flatten() {
            add_field(&mut out, &name, field)?;
        }
        Ok(out)
    }

    /// The values of the updated struct: the original fields, then the inserted ones (a
    /// partition is never known, so it is null).
    pub fn insert_struct(
        &self,
        schema: &Schema,
        values: &[Value],
        meta: &Meta,
    ) -> Result<Vec<Value>, String> {
        let mut out = Vec::with_capacity(values.len() + 4);
        for ((name, field_schema), value) in schema.fields.iter().zip(values) {
            let value = field_value(value, field_schema, self.replace_null_with_default);
            check_put(name, field_schema, &value)?;
            out.push(value);
        }
        if self.topic.is_some() {
            out.push(Value::String(meta.topic.clone()));
        }
        if self.partition.is_some() {
            out.push(Value::Null);
        }
        if self.timestamp.is_some() {
            out.push(meta.timestamp.map_or(Value::Null, Value::Int64));
        }
        if let Some((_, value)) = &self.static_field {
            out.push(Value::String(value.clone()));
        }
        Ok(out)
    }

    /// The schemaless map with the inserted entries (those with a known value).
    pub fn insert_map(&self, entries: &[(Value, Value)], meta: &Meta) -> Vec<(Value, Value)> {
        let mut out = entries.to_vec();
        if let Some(spec) = &self.topic {
            map_put(&mut out, &spec.name, Value::String(meta.topic.clone()));
        }
        if let (Some(spec), Some(ts)) = (&self.timestamp, meta.timestamp) {
            map_put(&mut out, &spec.name, Value::Int64(ts));
        }
        if let Some((spec, value)) = &self.static_field {
            map_put(&mut out, &spec.name, Value::String(value.clone()));
        }
        out
    }
}

impl InsertField {
    fn rewrite(&mut self, record: &Record<'_>) -> Result<Rewrite, String> {
        let insertions = &self.insertions;
        let read = operand::read_non_null(record, self.part, &mut self.schemas, |s| {
            let updated = insertions.updated_schema(&s)?;
            Ok(Rc::new((s, updated)))
        })?;
        let Some((derived, value)) = read else {
            return Ok(Rewrite::Unchanged);
        };
        let meta = Meta {
            topic: record.topic(),
            timestamp: record.timestamp(),
        };
        let data = match derived {
            None => Data {
                schema: None,
                value: Value::Map(insertions.insert_map(require_map(&value, PURPOSE)?, &meta)),
            },
            Some(schemas) => {
                let (input, updated) = &*schemas;
                let values = require_struct(&value, PURPOSE)?;
                Data {
                    value: Value::Struct(insertions.insert_struct(input, values, &meta)?),
                    schema: Some(updated.clone()),
                }
            }
        };
        Ok(Rewrite::Replace(Some(data)))
    }
}

/// Connect's keys, with the implied `part`.
fn definition() -> ConfigDef {
    let field = |name: &str, doc: &str| Key::new(name, KeyType::String, Importance::Medium, doc);
    ConfigDef::new()
        .key(field(
            "topic.field",
            "The field for the record's topic; a name ending in ! is required, in ? optional (the default).",
        ))
        .key(field(
            "partition.field",
            "The field for the record's Kafka partition; ! required, ? optional.",
        ))
        .key(field(
            "offset.field",
            "The field for a sink record's Kafka offset; not available on source records (refused).",
        ))
        .key(field(
            "timestamp.field",
            "The field for the record's timestamp; ! required, ? optional.",
        ))
        .key(field(
            "static.field",
            "The field for the fixed value static.value; ! required, ? optional.",
        ))
        .key(field("static.value", "The value of static.field."))
        .key(settings::replace_null_key())
        .key(settings::part_key())
}

impl Transform for InsertField {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        let spec = |key: &str| parsed.string(key).map(Spec::parse);
        if parsed.has("offset.field") {
            return Err(
                "setting 'offset.field' needs a sink record's Kafka offset: Tidemark's \
                        records come from a source, on which Kafka Connect fails every record; \
                        remove the setting"
                    .into(),
            );
        }
        let static_field = match (spec("static.field"), parsed.string("static.value")) {
            (None, _) => None,
            (Some(field), Some(value)) => Some((field, value.to_owned())),
            (Some(field), None) => {
                return Err(format!(
                    "setting 'static.value' is missing: no value for static field '{}'",
                    field.name
                ));
            }
        };
        let insertions = Insertions {
            topic: spec("topic.field"),
            partition: spec("partition.field"),
            timestamp: spec("timestamp.field"),
            static_field,
            replace_null_with_default: settings::replace_null_with_default(&parsed),
        };
        if insertions.topic.is_none()
            && insertions.partition.is_none()
            && insertions.timestamp.is_none()
            && insertions.static_field.is_none()
        {
            return Err(
                "no field insertion configured: set at least one of 'topic.field', \
                        'partition.field', 'timestamp.field' or 'static.field'"
                    .into(),
            );
        }
        Ok(InsertField {
            part: settings::part(&parsed),
            insertions,
            schemas: IdCache::default(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        let rewrite = self.rewrite(record);
        operand::commit(record, self.part, rewrite)
    }
}

export_transform!(InsertField);

#[cfg(test)]
mod tests {
    use super::*;
    use connect_common::logical::TIMESTAMP;

    fn inserter(entries: &[(&str, &str)]) -> Result<Insertions, String> {
        InsertField::configure(Config::from_pairs(entries)).map(|t| t.insertions)
    }

    fn meta() -> Meta {
        Meta {
            topic: "t".into(),
            timestamp: Some(1_700_000_000_000),
        }
    }

    #[test]
    fn specs_mark_optionality() {
        assert_eq!(
            Spec::parse("a!"),
            Spec {
                name: "a".into(),
                optional: false
            }
        );
        assert_eq!(
            Spec::parse("a?"),
            Spec {
                name: "a".into(),
                optional: true
            }
        );
        assert_eq!(
            Spec::parse("a"),
            Spec {
                name: "a".into(),
                optional: true
            }
        );
    }

    #[test]
    fn schema_gains_fields_in_connect_order() {
        let i = inserter(&[
            ("static.field", "origin!"),
            ("static.value", "tidemark"),
            ("timestamp.field", "ts"),
            ("topic.field", "topic"),
            ("partition.field", "p"),
        ])
        .unwrap();
        let mut source = Schema::new(SchemaType::Struct)
            .named("t.Value")
            .optional()
            .field("id", Schema::new(SchemaType::Int32));
        source.version = Some(2);
        let out = i.updated_schema(&source).unwrap();
        let names: Vec<&str> = out.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["id", "topic", "p", "ts", "origin"]);
        assert_eq!(
            (out.name.as_deref(), out.version, out.optional),
            (Some("t.Value"), Some(2), false)
        );
        let ts = out.field_schema("ts").unwrap();
        assert_eq!(
            (ts.name.as_deref(), ts.optional, ts.kind),
            (Some(TIMESTAMP), true, SchemaType::Int64)
        );
        assert!(!out.field_schema("origin").unwrap().optional);
        let values = i
            .insert_struct(&source, &[Value::Int32(1)], &meta())
            .unwrap();
        assert_eq!(
            values,
            vec![
                Value::Int32(1),
                "t".into(),
                Value::Null,
                Value::Int64(1_700_000_000_000),
                "tidemark".into()
            ]
        );
        let clash = source.clone().field("topic", Schema::optional_string());
        assert!(
            i.updated_schema(&clash)
                .unwrap_err()
                .contains("duplication")
        );
    }

    #[test]
    fn maps_get_known_values_only() {
        let i = inserter(&[
            ("topic.field", "topic"),
            ("partition.field", "p"),
            ("timestamp.field", "ts"),
        ])
        .unwrap();
        let mut m = meta();
        m.timestamp = None;
        let out = i.insert_map(&[("a".into(), Value::Int64(1))], &m);
        assert_eq!(
            out,
            vec![("a".into(), Value::Int64(1)), ("topic".into(), "t".into())]
        );
    }

    #[test]
    fn settings_are_checked() {
        assert!(inserter(&[]).unwrap_err().contains("no field insertion"));
        assert!(
            inserter(&[("static.field", "s")])
                .unwrap_err()
                .contains("'static.value'")
        );
        assert!(
            inserter(&[("offset.field", "o")])
                .unwrap_err()
                .contains("'offset.field'")
        );
        assert!(inserter(&[("topic.field", "t"), ("replace.null.with.default", "x")]).is_err());
    }
}
