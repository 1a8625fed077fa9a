//! `add.fields` / `add.headers` entries: an envelope field (`op`, `ts_ms`), a field of the
//! `source` or `transaction` struct (`lsn`, `source.ts_ms`, `transaction.id`), optionally
//! renamed (`source.ts_ms:EVENT_TS`), and where each one is found in a given envelope.

use tidemark_sdk::{Schema, SchemaType, Value};

use crate::java;

/// One configured field reference.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// The struct holding the field (`source`, `transaction`), or `None` for top-level
    /// envelope fields.
    parent: Option<String>,
    /// The field's simple name.
    field: String,
    /// The name of the added field or header, prefix included.
    new_name: String,
}

impl FieldRef {
    /// Parses `[struct.]field[:new_name]`. Without a struct, the transaction's `id`,
    /// `total_order` and `data_collection_order` and the envelope's `op`, `ts_ms`, `ts_us`,
    /// `ts_ns` (and MongoDB's `updateDescription`) name themselves; anything else is a
    /// `source` field. The new name is the prefix plus the new name when given, else plus
    /// `struct_field` for a qualified field or `field` for a plain one.
    pub fn parse(prefix: &str, spec: &str) -> Result<FieldRef, String> {
        let parts = java::split(spec, ':');
        let Some(path) = parts.first() else {
            return Err(format!("unexpected field name: {spec:?}"));
        };
        let path = java::split(path, '.');
        let (parent, field) = match path.as_slice() {
            [] => return Err(format!("unexpected field name: {spec:?}")),
            [field] => (implied_parent(field), (*field).to_owned()),
            [parent, field, ..] => (Some((*parent).to_owned()), (*field).to_owned()),
        };
        let new_name = match (parts.len(), path.len()) {
            (1, 1) => format!("{prefix}{field}"),
            (1, _) => format!("{prefix}{}_{field}", parent.as_deref().unwrap_or_default()),
            (2, _) => format!("{prefix}{}", parts[1]),
            _ => return Err(format!("unexpected field name: {spec:?}")),
        };
        Ok(FieldRef {
            parent,
            field,
            new_name,
        })
    }

    /// Parses a comma-separated list setting; an empty setting is an empty list.
    pub fn list(prefix: &str, setting: &str) -> Result<Vec<FieldRef>, String> {
        if setting.is_empty() {
            return Ok(Vec::new());
        }
        java::split(setting, ',')
            .into_iter()
            .map(|spec| FieldRef::parse(prefix, java::trim(spec)))
            .collect()
    }

    /// The name of the added field or header.
    pub fn new_name(&self) -> &str {
        &self.new_name
    }

    /// True when the reference names an `op` field (Debezium then gives tombstones an
    /// `op` header of `d`).
    pub fn is_op(&self) -> bool {
        self.field == "op"
    }

    /// Where the field is in envelopes of this schema: in the named struct, else among the
    /// envelope's own fields (a field another transform added there), else nowhere (`None`:
    /// the field is skipped). An error when the named struct is not in the envelope, as
    /// Debezium fails on such a record.
    pub fn resolve(&self, envelope: &Schema) -> Result<Option<Resolved>, String> {
        let parent = match &self.parent {
            None => None,
            Some(name) => {
                let index = envelope.field_index(name).ok_or_else(|| {
                    format!(
                        "cannot add '{}': the envelope has no '{name}' struct",
                        self.new_name
                    )
                })?;
                let schema = &envelope.fields[index].1;
                if schema.kind != SchemaType::Struct {
                    return Err(format!(
                        "cannot add '{}': envelope field '{name}' is not a struct",
                        self.new_name
                    ));
                }
                Some((index, schema))
            }
        };
        let in_parent = parent.and_then(|(p, schema)| {
            schema.field_index(&self.field).map(|f| {
                (
                    Source::InParent {
                        parent: p,
                        field: f,
                    },
                    &schema.fields[f].1,
                )
            })
        });
        let found = in_parent.or_else(|| {
            envelope.field_index(&self.field).map(|f| {
                let source = match parent {
                    Some((p, _)) => Source::TopIfParent {
                        parent: p,
                        field: f,
                    },
                    None => Source::Top(f),
                };
                (source, &envelope.fields[f].1)
            })
        });
        Ok(found.map(|(source, schema)| Resolved {
            name: self.new_name.clone(),
            schema: java::copy_basics(schema).optional(),
            source,
        }))
    }
}

fn implied_parent(field: &str) -> Option<String> {
    match field {
        "id" | "total_order" | "data_collection_order" => Some("transaction".to_owned()),
        "op" | "ts_ms" | "ts_us" | "ts_ns" => None,
        "updateDescription" => Some("updateDescription".to_owned()),
        _ => Some("source".to_owned()),
    }
}

/// A field reference resolved against one envelope schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The added field's or header's name.
    pub name: String,
    /// The added field's schema: the source field's type, name, version, doc and
    /// parameters, optional, without default.
    pub schema: Schema,
    source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// An envelope field.
    Top(usize),
    /// A field of the envelope struct at `parent`.
    InParent { parent: usize, field: usize },
    /// An envelope field read only when the struct at `parent` is not null.
    TopIfParent { parent: usize, field: usize },
}

impl Resolved {
    /// The field's raw value (defaults not applied) in an envelope's fields.
    pub fn value<'a>(&self, envelope: &'a [Value]) -> &'a Value {
        const NULL: &Value = &Value::Null;
        let parent_present = |p: usize| !matches!(envelope.get(p), None | Some(Value::Null));
        match self.source {
            Source::Top(f) => envelope.get(f).unwrap_or(NULL),
            Source::InParent { parent, field } => envelope
                .get(parent)
                .and_then(java::struct_fields)
                .and_then(|fields| fields.get(field))
                .unwrap_or(NULL),
            Source::TopIfParent { parent, field } if parent_present(parent) => {
                envelope.get(field).unwrap_or(NULL)
            }
            Source::TopIfParent { .. } => NULL,
        }
    }

    /// The field's dotted path in the envelope (`op`, `source.ts_ms`), when reading it there
    /// gives [`value`](Resolved::value): not for a top-level field read only when a struct
    /// is present, nor for names holding a dot.
    pub fn path(&self, envelope: &Schema) -> Option<String> {
        let name = |i: usize, schema: &Schema| {
            schema
                .fields
                .get(i)
                .map(|(n, _)| n.clone())
                .filter(|n| !n.contains('.'))
        };
        match self.source {
            Source::Top(f) => name(f, envelope),
            Source::InParent { parent, field } => {
                let parent_schema = &envelope.fields.get(parent)?.1;
                Some(format!(
                    "{}.{}",
                    name(parent, envelope)?,
                    name(field, parent_schema)?
                ))
            }
            Source::TopIfParent { .. } => None,
        }
    }

    /// The value to store in the added field. A non-null struct or map cannot be stored:
    /// its copied schema has no fields (Connect fails the same way).
    pub fn field_value(&self, envelope: &[Value]) -> Result<Value, String> {
        let value = self.value(envelope);
        match (self.schema.kind, value) {
            (_, Value::Null) => Ok(Value::Null),
            (SchemaType::Struct | SchemaType::Map, _) => Err(format!(
                "cannot add field '{}': a {} value cannot be copied into a new field",
                self.name,
                if self.schema.kind == SchemaType::Struct {
                    "struct"
                } else {
                    "map"
                }
            )),
            _ => Ok(value.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Schema {
        let source = Schema::new(SchemaType::Struct)
            .named("io.debezium.connector.postgresql.Source")
            .field("ts_ms", Schema::new(SchemaType::Int64))
            .field("lsn", Schema::new(SchemaType::Int64).optional());
        let transaction = Schema::new(SchemaType::Struct)
            .optional()
            .field("id", Schema::new(SchemaType::String))
            .field("total_order", Schema::new(SchemaType::Int64));
        Schema::new(SchemaType::Struct)
            .named("dbz.public.t.Envelope")
            .field("before", Schema::new(SchemaType::Struct).optional())
            .field("after", Schema::new(SchemaType::Struct).optional())
            .field("source", source)
            .field("transaction", transaction)
            .field("op", Schema::new(SchemaType::String))
            .field("ts_ms", Schema::new(SchemaType::Int64).optional())
    }

    fn names(prefix: &str, setting: &str) -> Vec<String> {
        FieldRef::list(prefix, setting)
            .unwrap()
            .iter()
            .map(|f| f.new_name().to_owned())
            .collect()
    }

    #[test]
    fn names_follow_debezium() {
        assert_eq!(
            names("__", "op, source.ts_ms,lsn,ts_ms,transaction.id,id"),
            [
                "__op",
                "__source_ts_ms",
                "__lsn",
                "__ts_ms",
                "__transaction_id",
                "__id"
            ]
        );
        assert_eq!(names("", "source.ts_ms:EVENT_TS,op:OP"), ["EVENT_TS", "OP"]);
        assert!(names("__", "").is_empty());
        assert!(FieldRef::parse("__", "a:b:c").is_err());
    }

    #[test]
    fn resolves_in_structs_then_envelope() {
        let env = envelope();
        let values = vec![
            Value::Null,
            Value::Null,
            Value::Struct(vec![Value::Int64(7), Value::Int64(99)]),
            Value::Null,
            Value::from("c"),
            Value::Int64(5),
        ];
        let get = |spec: &str| {
            FieldRef::parse("__", spec)
                .unwrap()
                .resolve(&env)
                .unwrap()
                .map(|r| (r.schema.optional, r.schema.kind, r.value(&values).clone()))
        };
        assert_eq!(
            get("lsn"),
            Some((true, SchemaType::Int64, Value::Int64(99)))
        );
        assert_eq!(
            get("source.ts_ms"),
            Some((true, SchemaType::Int64, Value::Int64(7)))
        );
        assert_eq!(
            get("ts_ms"),
            Some((true, SchemaType::Int64, Value::Int64(5)))
        );
        // Not in source, but an envelope field: read from the envelope.
        assert_eq!(
            get("op"),
            Some((true, SchemaType::String, Value::from("c")))
        );
        assert_eq!(
            get("source.op"),
            Some((true, SchemaType::String, Value::from("c")))
        );
        // The transaction struct is null: its fields read as null.
        assert_eq!(get("id"), Some((true, SchemaType::String, Value::Null)));
        assert_eq!(get("source.nope"), None);
        assert!(
            FieldRef::parse("__", "nope.x")
                .unwrap()
                .resolve(&env)
                .is_err()
        );
    }

    #[test]
    fn struct_values_cannot_be_added() {
        let env = envelope();
        let r = FieldRef::parse("__", "source")
            .unwrap()
            .resolve(&env)
            .unwrap()
            .unwrap();
        assert!(r.schema.fields.is_empty());
        let values = vec![
            Value::Null,
            Value::Null,
            Value::Struct(vec![Value::Int64(7), Value::Null]),
        ];
        assert!(r.field_value(&values).is_err());
    }
}
