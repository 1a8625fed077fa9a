//! The unwrapping itself: from a change event envelope to the row it carries, as
//! Debezium's `ExtractNewRecordState` builds it.

use tidemark_sdk::{Data, Header, Piece, Schema, SchemaType, Value};

use crate::drop_fields;
use crate::field_ref::Resolved;
use crate::java;
use crate::settings::{Deletes, Settings};
use connect_common::values::convert_to_string as header_text;

/// The field the rewrite modes add to every row.
pub const DELETED_FIELD: &str = "__deleted";

/// What an envelope becomes (when it is not dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrapped {
    /// The new value; `None` is a tombstone.
    pub value: Option<Data>,
    /// The new topic (`route.by.field`), if it changes.
    pub topic: Option<String>,
    /// Fields to remove from the key (`drop.fields.from.key`).
    pub drop_from_key: Vec<String>,
}

/// The two shapes an unwrapped row takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Branch {
    /// Inserts, updates and snapshot reads: the `after` row.
    Upsert,
    /// Deletes rewritten: the `before` row.
    Delete,
}

/// Output schemas of one branch.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    /// The row after the `__deleted` field is added (the row itself outside rewrite modes).
    rewritten: Schema,
    /// `rewritten` with the `add.fields` fields: the output schema.
    full: Schema,
}

/// What one envelope schema looks like to the transform, worked out once per schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// True when the schema's name ends with `.Envelope`; other records pass unchanged.
    pub is_envelope: bool,
    envelope: Schema,
    before: Option<usize>,
    after: Option<usize>,
    fields: Vec<Result<Option<Resolved>, String>>,
    headers: Vec<Result<Option<Resolved>, String>>,
    upsert: Option<Result<Shape, String>>,
    delete: Option<Result<Shape, String>>,
}

impl Layout {
    /// Looks at a value schema.
    pub fn new(envelope: Schema, settings: &Settings) -> Layout {
        let is_envelope = envelope
            .name
            .as_deref()
            .is_some_and(|n| n.ends_with(".Envelope"));
        let resolve = |refs: &[crate::field_ref::FieldRef]| {
            if is_envelope {
                refs.iter().map(|r| r.resolve(&envelope)).collect()
            } else {
                Vec::new()
            }
        };
        let fields = resolve(&settings.add_fields);
        let headers = resolve(&settings.add_headers);
        Layout {
            is_envelope,
            before: envelope.field_index("before"),
            after: envelope.field_index("after"),
            fields,
            headers,
            envelope,
            upsert: None,
            delete: None,
        }
    }

    /// The `add.headers` headers of an envelope (null fields give null headers; fields the
    /// envelope lacks give none).
    pub fn headers(&self, envelope: &[Value]) -> Result<Vec<Header>, String> {
        let mut out = Vec::new();
        for resolved in &self.headers {
            if let Some(r) = resolved.clone()? {
                let value = r.field_value(envelope)?;
                out.push(Header {
                    key: r.name.clone(),
                    value: header_text(Some(&r.schema), &value),
                });
            }
        }
        Ok(out)
    }

    /// Unwraps an envelope (its struct fields); `None` drops the record. `headers` are the record's headers, read
    /// for `drop.fields.header.name`.
    pub fn unwrap(
        &mut self,
        settings: &Settings,
        envelope: &[Value],
        headers: &[Header],
    ) -> Result<Option<Unwrapped>, String> {
        let after_index = self.after.ok_or("the envelope has no 'after' field")?;
        let after = envelope.get(after_index).unwrap_or(&Value::Null);
        if !after.is_null() {
            return self.upsert(settings, envelope, after, headers);
        }
        let before_index = self.before.ok_or("the envelope has no 'before' field")?;
        match envelope.get(before_index).unwrap_or(&Value::Null) {
            // Truncate events (and anything else without a row) are dropped.
            Value::Null => Ok(None),
            before => self.delete(settings, envelope, before, after_index, headers),
        }
    }

    fn upsert(
        &mut self,
        settings: &Settings,
        envelope: &[Value],
        after: &Value,
        headers: &[Header],
    ) -> Result<Option<Unwrapped>, String> {
        let row = java::struct_fields(after).ok_or("the 'after' field is not a struct")?;
        let shape = self.shape(Branch::Upsert, settings)?;
        let mut values = if settings.handling.rewrite() {
            with_deleted(
                &shape.rewritten,
                row,
                "false",
                settings.replace_null_with_default,
            )
        } else {
            row.to_vec()
        };
        let topic = route(settings, &shape.rewritten, &values)?;
        values.extend(self.added_values(envelope)?);
        let mut value = Data {
            schema: Some(shape.full),
            value: Value::Struct(values),
        };
        let mut drop_from_key = Vec::new();
        if let Some(drop) = &settings.drop_fields {
            let names = drop_fields::listed(headers, &drop.header);
            if !names.is_empty() {
                let dropped = drop_fields::to_drop(
                    value.schema.as_ref(),
                    &names,
                    drop.keep_schema_compatible,
                )?;
                value = drop_fields::exclude(value, &dropped)?;
                if drop.from_key {
                    drop_from_key = names;
                }
            }
        }
        Ok(Some(Unwrapped {
            value: Some(value),
            topic,
            drop_from_key,
        }))
    }

    fn delete(
        &mut self,
        settings: &Settings,
        envelope: &[Value],
        before: &Value,
        after_index: usize,
        headers: &[Header],
    ) -> Result<Option<Unwrapped>, String> {
        let before_row = java::struct_fields(before).ok_or("the 'before' field is not a struct")?;
        let mut value = match settings.handling.deletes {
            Deletes::Drop => return Ok(None),
            Deletes::NullValue => Some(Data {
                schema: Some(self.envelope.fields[after_index].1.clone()),
                value: Value::Null,
            }),
            Deletes::Tombstone => None,
            Deletes::Rewrite => {
                let rewritten = self.shape(Branch::Delete, settings)?.rewritten;
                let values = with_deleted(
                    &rewritten,
                    before_row,
                    "true",
                    settings.replace_null_with_default,
                );
                Some(Data {
                    schema: Some(rewritten),
                    value: Value::Struct(values),
                })
            }
        };
        let before_schema = self
            .before
            .map(|b| &self.envelope.fields[b].1)
            .ok_or("the envelope has no 'before' field")?;
        let topic = route(settings, before_schema, before_row)?;
        let mut drop_from_key = Vec::new();
        let mut dropped_any = false;
        if let Some(drop) = &settings.drop_fields {
            let names = drop_fields::listed(headers, &drop.header);
            if !names.is_empty() {
                let schema = value.as_ref().and_then(|v| v.schema.as_ref());
                let dropped = drop_fields::to_drop(schema, &names, drop.keep_schema_compatible)?;
                if let Some(v) = value.take() {
                    value = Some(drop_fields::exclude(v, &dropped)?);
                }
                dropped_any = !dropped.is_empty();
                if drop.from_key {
                    drop_from_key = names;
                }
            }
        }
        // Only rewritten deletes carry a row to add fields to.
        let value = match value {
            Some(Data {
                schema: Some(schema),
                value: Value::Struct(mut values),
            }) => {
                let full = if dropped_any {
                    add_fields_schema(&schema, &self.fields)?
                } else {
                    self.shape(Branch::Delete, settings)?.full
                };
                values.extend(self.added_values(envelope)?);
                Some(Data {
                    schema: Some(full),
                    value: Value::Struct(values),
                })
            }
            other => other,
        };
        Ok(Some(Unwrapped {
            value,
            topic,
            drop_from_key,
        }))
    }

    /// The output schemas of a branch, computed once.
    fn shape(&mut self, branch: Branch, settings: &Settings) -> Result<Shape, String> {
        let slot = match branch {
            Branch::Upsert => &mut self.upsert,
            Branch::Delete => &mut self.delete,
        };
        if let Some(shape) = slot {
            return shape.clone();
        }
        let row_field = match branch {
            Branch::Upsert => self.after,
            Branch::Delete => self.before,
        };
        let shape = row_field
            .map(|i| &self.envelope.fields[i].1)
            .ok_or_else(|| "the envelope has no row field".to_owned())
            .and_then(|row| {
                let rewritten = if settings.handling.rewrite() {
                    deleted_schema(row)?
                } else {
                    row.clone()
                };
                let full = add_fields_schema(&rewritten, &self.fields)?;
                Ok(Shape { rewritten, full })
            });
        let slot = match branch {
            Branch::Upsert => &mut self.upsert,
            Branch::Delete => &mut self.delete,
        };
        *slot = Some(shape.clone());
        shape
    }

    /// What an insert, update or read becomes, as the row schema and the pieces that build
    /// it in the host (the fields of `after`, `__deleted`, the `add.fields` fields), when
    /// that needs none of the row's values: `None` with `route.by.field`, `add.headers` or
    /// `drop.fields.header.name`, when rewriting would replace nulls by defaults, or when a
    /// field cannot be read by path.
    pub fn host_upsert(&mut self, settings: &Settings) -> Option<(Schema, Vec<Piece>)> {
        if settings.route_by_field.is_some()
            || settings.drop_fields.is_some()
            || !self.headers.is_empty()
        {
            return None;
        }
        let (after_name, row) = self.envelope.fields.get(self.after?)?;
        if row.kind != SchemaType::Struct || after_name.contains('.') {
            return None;
        }
        let rewrite = settings.handling.rewrite();
        if rewrite
            && settings.replace_null_with_default
            && row.fields.iter().any(|(_, f)| f.default.is_some())
        {
            return None;
        }
        let mut pieces = vec![Piece::FieldsOf(after_name.clone())];
        if rewrite {
            pieces.push(Piece::Value(Value::from("false")));
        }
        for resolved in &self.fields {
            let Some(r) = resolved.as_ref().ok()? else {
                continue;
            };
            if matches!(r.schema.kind, SchemaType::Struct | SchemaType::Map) {
                return None;
            }
            pieces.push(Piece::Copy(r.path(&self.envelope)?));
        }
        let full = self.shape(Branch::Upsert, settings).ok()?.full;
        Some((full, pieces))
    }

    /// The values of the `add.fields` fields the envelope has.
    fn added_values(&self, envelope: &[Value]) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        for resolved in &self.fields {
            if let Some(r) = resolved.as_ref().map_err(Clone::clone)? {
                out.push(r.field_value(envelope)?);
            }
        }
        Ok(out)
    }
}

/// The headers Debezium adds to a tombstone: `op` references give `d`, others nothing.
pub fn tombstone_headers(settings: &Settings) -> Vec<Header> {
    settings
        .add_headers
        .iter()
        .filter(|r| r.is_op())
        .map(|r| Header {
            key: r.new_name().to_owned(),
            value: Some("d".into()),
        })
        .collect()
}

/// The row schema with `__deleted` (optional string) appended (as `InsertField` builds it:
/// required, no default).
fn deleted_schema(row: &Schema) -> Result<Schema, String> {
    let mut schema = java::copy_struct(row);
    java::add_field(&mut schema, DELETED_FIELD, Schema::optional_string())?;
    Ok(schema)
}

/// The row's values (nulls replaced by field defaults when asked) and `__deleted`.
fn with_deleted(schema: &Schema, row: &[Value], flag: &str, replace_null: bool) -> Vec<Value> {
    let mut values: Vec<Value> = if replace_null {
        row.iter()
            .zip(&schema.fields)
            .map(|(v, (_, f))| java::with_default(v, f))
            .collect()
    } else {
        row.to_vec()
    };
    values.push(Value::from(flag));
    values
}

/// The row schema (made a required struct) with the `add.fields` fields appended.
fn add_fields_schema(
    row: &Schema,
    fields: &[Result<Option<Resolved>, String>],
) -> Result<Schema, String> {
    let mut schema = java::copy_struct(row);
    for resolved in fields {
        if let Some(r) = resolved.as_ref().map_err(Clone::clone)? {
            java::add_field(&mut schema, &r.name, r.schema.clone())?;
        }
    }
    Ok(schema)
}

/// `route.by.field`: the topic named by a string field of the row; a null or blank value
/// keeps the topic.
fn route(settings: &Settings, row: &Schema, values: &[Value]) -> Result<Option<String>, String> {
    let Some(field) = &settings.route_by_field else {
        return Ok(None);
    };
    let index = row
        .field_index(field)
        .ok_or_else(|| format!("route.by.field: the row has no field '{field}'"))?;
    let schema = &row.fields[index].1;
    if schema.kind != SchemaType::String {
        return Err(format!("route.by.field: field '{field}' is not a string"));
    }
    let value = java::with_default(values.get(index).unwrap_or(&Value::Null), schema);
    Ok(value
        .as_str()
        .filter(|t| !java::is_blank(t))
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::Config;

    fn settings(entries: &[(&str, &str)]) -> Settings {
        Settings::parse(&Config::from_pairs(entries)).unwrap().0
    }

    fn row_schema() -> Schema {
        let mut id = Schema::new(SchemaType::Int32);
        id.default = Some(Value::Int32(0));
        let mut tenant = Schema::optional_string();
        tenant.default = Some(Value::from("none"));
        Schema::new(SchemaType::Struct)
            .optional()
            .named("dbz.public.t.Value")
            .field("id", id)
            .field("tenant", tenant)
    }

    fn envelope_schema() -> Schema {
        let mut snapshot = Schema::optional_string().named("io.debezium.data.Enum");
        snapshot.default = Some(Value::from("false"));
        let source = Schema::new(SchemaType::Struct)
            .named("io.debezium.connector.postgresql.Source")
            .field("ts_ms", Schema::new(SchemaType::Int64))
            .field("snapshot", snapshot)
            .field("lsn", Schema::new(SchemaType::Int64).optional());
        Schema::new(SchemaType::Struct)
            .named("dbz.public.t.Envelope")
            .field("before", row_schema())
            .field("after", row_schema())
            .field("source", source)
            .field("op", Schema::new(SchemaType::String))
            .field("ts_ms", Schema::new(SchemaType::Int64).optional())
    }

    fn row(id: i32, tenant: Option<&str>) -> Value {
        Value::Struct(vec![
            Value::Int32(id),
            tenant.map_or(Value::Null, Value::from),
        ])
    }

    fn envelope(before: Value, after: Value, op: &str) -> Vec<Value> {
        let source = Value::Struct(vec![Value::Int64(1000), Value::Null, Value::Int64(42)]);
        vec![before, after, source, Value::from(op), Value::Int64(2000)]
    }

    fn run(entries: &[(&str, &str)], env: &[Value]) -> Result<Option<Unwrapped>, String> {
        let s = settings(entries);
        let mut layout = Layout::new(envelope_schema(), &s);
        layout.unwrap(&s, env, &[])
    }

    fn unwrapped(decision: Option<Unwrapped>) -> (Option<Data>, Option<String>) {
        let u = decision.expect("dropped");
        (u.value, u.topic)
    }

    fn field_names(schema: &Schema) -> Vec<&str> {
        schema.fields.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn non_envelopes_are_recognised_by_name() {
        let s = settings(&[]);
        assert!(Layout::new(envelope_schema(), &s).is_envelope);
        let other = Schema::new(SchemaType::Struct).named("io.debezium.connector.common.Heartbeat");
        assert!(!Layout::new(other, &s).is_envelope);
    }

    #[test]
    fn default_mode_unwraps_after_as_required_row() {
        let env = envelope(Value::Null, row(1, None), "c");
        let (value, topic) = unwrapped(run(&[], &env).unwrap());
        let value = value.unwrap();
        let schema = value.schema.unwrap();
        assert_eq!(schema.name.as_deref(), Some("dbz.public.t.Value"));
        assert!(!schema.optional);
        assert_eq!(field_names(&schema), ["id", "tenant"]);
        // Outside the rewrite modes nulls stay null.
        assert_eq!(value.value, row(1, None));
        assert_eq!(topic, None);
    }

    #[test]
    fn tombstone_mode_delete_keeps_row_schema_with_null_value() {
        let env = envelope(row(2, Some("a")), Value::Null, "d");
        let (value, _) = unwrapped(run(&[], &env).unwrap());
        let value = value.unwrap();
        assert_eq!(value.value, Value::Null);
        assert_eq!(value.schema, Some(row_schema()));
    }

    #[test]
    fn delete_to_tombstone_and_drop_modes() {
        let env = envelope(row(2, Some("a")), Value::Null, "d");
        let mode = |m| [("delete.tombstone.handling.mode", m)];
        let (value, _) = unwrapped(run(&mode("delete-to-tombstone"), &env).unwrap());
        assert_eq!(value, None);
        assert_eq!(run(&mode("drop"), &env).unwrap(), None);
    }

    #[test]
    fn truncates_are_dropped() {
        let env = envelope(Value::Null, Value::Null, "t");
        for mode in ["tombstone", "rewrite", "rewrite-with-tombstone", "drop"] {
            let d = run(&[("delete.tombstone.handling.mode", mode)], &env).unwrap();
            assert_eq!(d, None, "{mode}");
        }
    }

    #[test]
    fn rewrite_adds_deleted_then_fields() {
        let cfg = [
            ("delete.tombstone.handling.mode", "rewrite"),
            ("add.fields", "op,source.ts_ms,lsn,snapshot"),
        ];
        let env = envelope(Value::Null, row(1, None), "u");
        let (value, _) = unwrapped(run(&cfg, &env).unwrap());
        let value = value.unwrap();
        let schema = value.schema.unwrap();
        assert_eq!(
            field_names(&schema),
            [
                "id",
                "tenant",
                "__deleted",
                "__op",
                "__source_ts_ms",
                "__lsn",
                "__snapshot"
            ]
        );
        assert!(schema.fields[3..].iter().all(|(_, s)| s.optional));
        // The copied `snapshot` schema keeps its name but loses its default.
        assert_eq!(
            schema.fields[6].1.name.as_deref(),
            Some("io.debezium.data.Enum")
        );
        assert_eq!(schema.fields[6].1.default, None);
        assert_eq!(
            value.value,
            Value::Struct(vec![
                Value::Int32(1),
                // Rewriting replaces a null with the field's default.
                Value::from("none"),
                Value::from("false"),
                Value::from("u"),
                Value::Int64(1000),
                Value::Int64(42),
                Value::Null,
            ])
        );

        let env = envelope(row(2, Some("a")), Value::Null, "d");
        let (value, _) = unwrapped(run(&cfg, &env).unwrap());
        let value = value.unwrap();
        assert_eq!(
            value.value,
            Value::Struct(vec![
                Value::Int32(2),
                Value::from("a"),
                Value::from("true"),
                Value::from("d"),
                Value::Int64(1000),
                Value::Int64(42),
                Value::Null,
            ])
        );
    }

    #[test]
    fn replace_null_with_default_off_keeps_nulls() {
        let cfg = [
            ("delete.tombstone.handling.mode", "rewrite"),
            ("replace.null.with.default", "false"),
        ];
        let env = envelope(Value::Null, row(1, None), "c");
        let (value, _) = unwrapped(run(&cfg, &env).unwrap());
        assert_eq!(
            value.unwrap().value,
            Value::Struct(vec![Value::Int32(1), Value::Null, Value::from("false")])
        );
    }

    #[test]
    fn upserts_are_built_in_the_host_when_no_value_is_needed() {
        let s = settings(&[("add.fields", "op,source.ts_ms")]);
        let mut layout = Layout::new(envelope_schema(), &s);
        let (schema, pieces) = layout.host_upsert(&s).expect("a host plan");
        assert_eq!(
            field_names(&schema),
            ["id", "tenant", "__op", "__source_ts_ms"]
        );
        assert_eq!(
            pieces,
            [
                Piece::FieldsOf("after".into()),
                Piece::Copy("op".into()),
                Piece::Copy("source.ts_ms".into())
            ]
        );
        // Rewriting with defaults to fill in, and routing by a row field, need the values.
        for cfg in [
            &[("delete.tombstone.handling.mode", "rewrite")][..],
            &[("route.by.field", "tenant")][..],
            &[("add.headers", "op")][..],
        ] {
            let s = settings(cfg);
            assert_eq!(
                Layout::new(envelope_schema(), &s).host_upsert(&s),
                None,
                "{cfg:?}"
            );
        }
        let s = settings(&[
            ("delete.tombstone.handling.mode", "rewrite"),
            ("replace.null.with.default", "false"),
        ]);
        let (_, pieces) = Layout::new(envelope_schema(), &s).host_upsert(&s).unwrap();
        assert_eq!(pieces[1], Piece::Value(Value::from("false")));
    }

    #[test]
    fn added_field_clashing_with_a_column_is_an_error() {
        let cfg = [("add.fields", "op:id"), ("add.fields.prefix", "")];
        let env = envelope(Value::Null, row(1, None), "c");
        assert!(run(&cfg, &env).unwrap_err().contains("'id'"));
    }

    #[test]
    fn routes_by_row_field() {
        let cfg = [("route.by.field", "tenant")];
        let (_, topic) =
            unwrapped(run(&cfg, &envelope(Value::Null, row(1, Some("acme")), "c")).unwrap());
        assert_eq!(topic.as_deref(), Some("acme"));
        // Deletes route by the before state, even when only a null value is left.
        let (_, topic) =
            unwrapped(run(&cfg, &envelope(row(1, Some("x")), Value::Null, "d")).unwrap());
        assert_eq!(topic.as_deref(), Some("x"));
        // A null value reads as the field default; a blank one keeps the topic.
        let (_, topic) = unwrapped(run(&cfg, &envelope(Value::Null, row(1, None), "c")).unwrap());
        assert_eq!(topic.as_deref(), Some("none"));
        let (_, topic) =
            unwrapped(run(&cfg, &envelope(Value::Null, row(1, Some(" ")), "c")).unwrap());
        assert_eq!(topic, None);
        let err = run(
            &[("route.by.field", "nope")],
            &envelope(Value::Null, row(1, None), "c"),
        );
        assert!(err.unwrap_err().contains("'nope'"));
    }

    #[test]
    fn headers_and_tombstone_headers() {
        let s = settings(&[
            ("add.headers", "op,source.ts_ms,lsn:LSN"),
            ("add.headers.prefix", "h_"),
        ]);
        let layout = Layout::new(envelope_schema(), &s);
        let env = envelope(Value::Null, row(1, None), "c");
        let headers = layout.headers(&env).unwrap();
        let pairs: Vec<(&str, Option<&str>)> = headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("h_op", Some("c")),
                ("h_source_ts_ms", Some("1000")),
                ("h_LSN", Some("42"))
            ]
        );
        let tomb = tombstone_headers(&s);
        assert_eq!(tomb.len(), 1);
        assert_eq!(
            (tomb[0].key.as_str(), tomb[0].value.as_deref()),
            ("h_op", Some("d"))
        );
    }

    #[test]
    fn drop_fields_header_removes_optional_fields() {
        let cfg = [
            ("drop.fields.header.name", "drop"),
            ("drop.fields.from.key", "true"),
            ("add.fields", "op"),
        ];
        let s = settings(&cfg);
        let mut layout = Layout::new(envelope_schema(), &s);
        let headers = vec![Header {
            key: "drop".into(),
            value: Some(r#"["tenant","id"]"#.into()),
        }];
        let env = envelope(Value::Null, row(1, Some("a")), "c");
        let u = layout.unwrap(&s, &env, &headers).unwrap().expect("dropped");
        let value = u.value.unwrap();
        // `id` is required, so it stays.
        assert_eq!(field_names(value.schema.as_ref().unwrap()), ["id", "__op"]);
        assert_eq!(
            value.value,
            Value::Struct(vec![Value::Int32(1), Value::from("c")])
        );
        assert_eq!(u.drop_from_key, ["tenant", "id"]);
    }
}
