//! From an outbox row's change event to the event record, as Debezium's
//! `EventRouterDelegate` builds it.

use std::collections::HashMap;

use tidemark_sdk::{Data, Header, Schema, SchemaType, Value};

use crate::json_schema::{self, Expansion};
use crate::settings::{Placement, Settings};
use connect_common::avro_names::{Kind, NameAdjuster};
use connect_common::values::convert_to_string as header_text;

/// How many value schemas are remembered before starting over.
const CACHE_SIZE: usize = 10_000;

/// What becomes of a change event of the outbox table.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// A delete: removed.
    Delete,
    /// An update, which an outbox table should not see: removed, after the configured
    /// complaint.
    Update,
    /// The event to emit instead.
    Event(Box<Event>),
}

/// The record that replaces the change event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub topic: String,
    pub key: Data,
    /// `None`: a tombstone.
    pub value: Option<Data>,
    /// Headers to append (`id`, then the `header` placements).
    pub headers: Vec<Header>,
    pub timestamp: Option<i64>,
    /// Things Debezium logs as warnings for this record.
    pub warnings: Vec<String>,
}

/// The outbox row: the `after` struct with its schema.
struct Row<'a> {
    schema: &'a Schema,
    values: &'a [Value],
}

impl<'a> Row<'a> {
    /// A field's value (a null reads as the field's default) and schema; an error when the
    /// row has no such field.
    fn get(&self, name: &str) -> Result<(Value, &'a Schema), String> {
        let index = self
            .schema
            .field_index(name)
            .ok_or_else(|| format!("{name} is not a valid field name"))?;
        let schema = &self.schema.fields[index].1;
        let value = match (self.values.get(index), &schema.default) {
            (None | Some(Value::Null), Some(default)) => default.clone(),
            (Some(value), _) => value.clone(),
            (None, None) => Value::Null,
        };
        Ok((value, schema))
    }

    /// A field that must be of one type.
    fn typed(&self, name: &str, kind: SchemaType) -> Result<Value, String> {
        let (value, schema) = self.get(name)?;
        if schema.kind != kind {
            return Err(format!("Field '{name}' is not of type {kind:?}"));
        }
        Ok(value)
    }

    fn has(&self, name: &str) -> bool {
        self.schema.field_index(name).is_some()
    }
}

/// The outbox router's state: settings, the field namer and the value schema caches.
pub struct Router {
    settings: Settings,
    namer: NameAdjuster,
    /// Value schemas by payload schema (Debezium's cache ignores the routed topic).
    value_schemas: HashMap<String, Schema>,
    /// Value schemas by event schema version.
    versioned: HashMap<Option<i32>, Schema>,
}

impl Router {
    /// A router with these settings.
    pub fn new(settings: Settings) -> Router {
        Router {
            namer: NameAdjuster::new(settings.field_names, Kind::Field),
            settings,
            value_schemas: HashMap::new(),
            versioned: HashMap::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Routes one change event (envelope schema and fields).
    pub fn route(&mut self, envelope: &Schema, fields: &[Value]) -> Result<Routed, String> {
        let envelope_row = Row {
            schema: envelope,
            values: fields,
        };
        match envelope_row.typed("op", SchemaType::String)? {
            Value::String(op) if op == "d" => return Ok(Routed::Delete),
            Value::String(op) if op == "u" => return Ok(Routed::Update),
            Value::String(_) => {}
            _ => return Err("the event has no operation".into()),
        }
        let (after, row_schema) = envelope_row.get("after")?;
        let Value::Struct(values) = &after else {
            return Err("Only Struct objects supported for [Read Outbox Event]".into());
        };
        let row = Row {
            schema: row_schema,
            values,
        };
        let s = &self.settings;
        if !row.has(&s.payload) {
            return Err(format!(
                "Unable to find payload field {} in event",
                s.payload
            ));
        }
        let timestamp = self.timestamp(&envelope_row, &row)?;
        let (event_id, id_schema) = row.get(&s.event_id)?;
        let (mut payload, payload_schema) = row.get(&s.payload)?;
        let mut payload_schema = payload_schema.clone();
        let mut headers = vec![header(&s.event_id, "id", &event_id, id_schema)?];
        let mut warnings = Vec::new();
        if s.expand_json {
            match &payload {
                Value::String(text) => {
                    match json_schema::expand(text, &s.payload, s.json_nulls, &mut self.namer) {
                        Expansion::Expanded(schema, value) => {
                            payload_schema = schema;
                            payload = value;
                        }
                        Expansion::Kept(reason) => {
                            warnings.push(format!("JSON expansion failed: {reason}"))
                        }
                        Expansion::Failed(reason) => {
                            return Err(format!("JSON expansion failed: {reason}"));
                        }
                    }
                }
                Value::Null => {}
                _ => warnings.push(
                    "Expand JSON payload is turned on but payload is not a string".to_owned(),
                ),
            }
        }
        let s = &self.settings;
        let envelope_value = if s.payload_only() {
            None
        } else {
            let schema = self.value_schema(&payload_schema, &row)?;
            Some(self.value_struct(schema, &payload, &row)?)
        };
        let s = &self.settings;
        for additional in &s.additional {
            if s.ignore_missing && !row.has(&additional.field) {
                continue;
            }
            match additional.placement {
                Placement::Envelope => {}
                Placement::Header => {
                    let (value, schema) = row.get(&additional.field)?;
                    headers.push(header(
                        &additional.field,
                        &additional.alias,
                        &value,
                        schema,
                    )?);
                }
                Placement::Partition => {
                    row.typed(&additional.field, SchemaType::Int32)?;
                }
            }
        }
        let is_delete = match &payload {
            Value::Null => true,
            Value::String(text) => text.trim_matches(|c: char| c <= ' ').is_empty(),
            _ => false,
        };
        let value = if is_delete && s.tombstone_on_empty_payload {
            None
        } else if let Some(value) = envelope_value {
            Some(value)
        } else {
            Some(Data {
                schema: Some(payload_schema),
                value: payload,
            })
        };
        let (key, key_schema) = row.get(&s.event_key)?;
        let routed = match row.typed(&s.route_by, SchemaType::String)? {
            Value::String(routed) => routed,
            _ => {
                return Err(format!(
                    "the route.by.field column '{}' is null",
                    s.route_by
                ));
            }
        };
        let topic = s.route.replace_whole(&routed).unwrap_or(routed);
        Ok(Routed::Event(Box::new(Event {
            topic,
            key: Data {
                schema: Some(key_schema.clone()),
                value: key,
            },
            value,
            headers,
            timestamp,
            warnings,
        })))
    }

    /// The record timestamp: the event timestamp column (a Debezium `Timestamp`,
    /// `MicroTimestamp` or `NanoTimestamp`) when configured and not null, else the
    /// envelope's `ts_ms`.
    fn timestamp(&self, envelope: &Row<'_>, row: &Row<'_>) -> Result<Option<i64>, String> {
        let from_envelope = || {
            envelope
                .typed("ts_ms", SchemaType::Int64)
                .map(|v| v.as_i64())
        };
        let Some(field) = &self.settings.timestamp else {
            return from_envelope();
        };
        if !row.has(field) {
            return Err(format!("Unable to find timestamp field {field} in event"));
        }
        let Some(ts) = row.typed(field, SchemaType::Int64)?.as_i64() else {
            return from_envelope();
        };
        let (_, schema) = row.get(field)?;
        match schema.name.as_deref() {
            Some("io.debezium.time.Timestamp") => Ok(Some(ts)),
            Some("io.debezium.time.MicroTimestamp") => Ok(Some(ts / 1_000)),
            Some("io.debezium.time.NanoTimestamp") => Ok(Some(ts / 1_000_000)),
            Some(other) => Err(format!(
                "Unsupported field type {other} for event timestamp"
            )),
            None => Err(format!(
                "Unsupported field type {:?} (without logical schema name) for event timestamp",
                schema.kind
            )),
        }
    }

    /// The value schema when additional columns go into the value: `payload` and those
    /// columns, named after the row schema and the routed value. Cached by payload schema
    /// (or by event schema version), as Debezium caches it.
    fn value_schema(&mut self, payload: &Schema, row: &Row<'_>) -> Result<Schema, String> {
        let s = &self.settings;
        let version = match &s.schema_version {
            Some(field) => Some(
                row.typed(field, SchemaType::Int32)?
                    .as_i64()
                    .map(|v| v as i32),
            ),
            None => None,
        };
        if let Some(version) = version
            && let Some(schema) = self.versioned.get(&version)
        {
            return Ok(schema.clone());
        }
        let cache_key = format!("{payload:?}");
        if version.is_none()
            && let Some(schema) = self.value_schemas.get(&cache_key)
        {
            return Ok(schema.clone());
        }
        let routed = row.typed(&s.route_by, SchemaType::String)?;
        let routed = routed.as_str().unwrap_or("null");
        let mut schema = Schema::new(SchemaType::Struct);
        schema.name = Some(schema_name(row.schema.name.as_deref(), routed));
        schema.fields.push(("payload".to_owned(), payload.clone()));
        for additional in s
            .additional
            .iter()
            .filter(|a| a.placement == Placement::Envelope)
        {
            match row.schema.field_schema(&additional.field) {
                Some(field) => {
                    if schema.field_index(&additional.alias).is_some() {
                        return Err(format!(
                            "Cannot create field because of field name duplication {}",
                            additional.alias
                        ));
                    }
                    schema
                        .fields
                        .push((additional.alias.clone(), field.clone()));
                }
                None if s.ignore_missing => {}
                None => {
                    return Err(format!(
                        "Unable to find field {} in event",
                        additional.field
                    ));
                }
            }
        }
        match version {
            Some(version) => {
                schema.version = version;
                self.versioned.insert(version, schema.clone());
            }
            None => {
                if self.value_schemas.len() >= CACHE_SIZE {
                    self.value_schemas.clear();
                }
                self.value_schemas.insert(cache_key, schema.clone());
            }
        }
        Ok(schema)
    }

    /// The value struct: `payload` and the `envelope` placements, by name.
    fn value_struct(&self, schema: Schema, payload: &Value, row: &Row<'_>) -> Result<Data, String> {
        let s = &self.settings;
        let mut values = vec![Value::Null; schema.fields.len()];
        values[0] = payload.clone();
        for additional in s
            .additional
            .iter()
            .filter(|a| a.placement == Placement::Envelope)
        {
            if s.ignore_missing && !row.has(&additional.field) {
                continue;
            }
            let index = schema
                .field_index(&additional.alias)
                .ok_or_else(|| format!("{} is not a valid field name", additional.alias))?;
            values[index] = row.get(&additional.field)?.0;
        }
        Ok(Data {
            schema: Some(schema),
            value: Value::Struct(values),
        })
    }
}

/// A header from a column (Connect refuses a null for a required schema).
fn header(column: &str, key: &str, value: &Value, schema: &Schema) -> Result<Header, String> {
    if value.is_null() && !schema.optional {
        return Err(format!(
            "column '{column}' is null but its schema is required"
        ));
    }
    Ok(Header {
        key: key.to_owned(),
        value: header_text(Some(schema), value),
    })
}

/// `<row schema namespace>.<routed>.<row schema simple name>`.
fn schema_name(row_schema_name: Option<&str>, routed: &str) -> String {
    match row_schema_name {
        None => routed.to_owned(),
        Some(name) => match name.rfind('.') {
            Some(dot) => format!("{}{routed}.{}", &name[..=dot], &name[dot + 1..]),
            None => format!("{routed}.{name}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::Config;

    fn router(entries: &[(&str, &str)]) -> Router {
        let config = Config::from_pairs(entries);
        Router::new(Settings::parse(&config).unwrap().0)
    }

    fn row_schema() -> Schema {
        let json = Schema::optional_string().named("io.debezium.data.Json");
        let mut version = Schema::new(SchemaType::Int32).optional();
        version.default = Some(Value::Int32(1));
        let ts = Schema::new(SchemaType::Int64)
            .optional()
            .named("io.debezium.time.MicroTimestamp");
        Schema::new(SchemaType::Struct)
            .optional()
            .named("dbz.public.outbox.Value")
            .field(
                "id",
                Schema::new(SchemaType::String).named("io.debezium.data.Uuid"),
            )
            .field("aggregatetype", Schema::optional_string())
            .field("aggregateid", Schema::optional_string())
            .field("type", Schema::optional_string())
            .field("payload", json)
            .field("v", version)
            .field("created", ts)
    }

    fn envelope_schema() -> Schema {
        Schema::new(SchemaType::Struct)
            .named("dbz.public.outbox.Envelope")
            .field("before", row_schema())
            .field("after", row_schema())
            .field("op", Schema::new(SchemaType::String))
            .field("ts_ms", Schema::new(SchemaType::Int64).optional())
    }

    fn envelope(op: &str, aggregate: &str, payload: Option<&str>) -> Vec<Value> {
        let after = Value::Struct(vec![
            Value::from("0f5b"),
            Value::from(aggregate),
            Value::from("3"),
            Value::from("OrderCreated"),
            payload.map_or(Value::Null, Value::from),
            Value::Null,
            Value::Int64(1_700_000_000_123_456),
        ]);
        vec![Value::Null, after, Value::from(op), Value::Int64(99)]
    }

    fn event(r: &mut Router, env: &[Value]) -> Event {
        match r.route(&envelope_schema(), env).unwrap() {
            Routed::Event(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_event_is_the_payload() {
        let mut r = router(&[]);
        let e = event(&mut r, &envelope("c", "Order", Some(r#"{"id": 3}"#)));
        assert_eq!(e.topic, "outbox.event.Order");
        assert_eq!(e.key.value, Value::from("3"));
        assert_eq!(e.key.schema, Some(Schema::optional_string()));
        let value = e.value.unwrap();
        assert_eq!(value.value, Value::from(r#"{"id": 3}"#));
        assert_eq!(
            value.schema.unwrap().name.as_deref(),
            Some("io.debezium.data.Json")
        );
        assert_eq!(
            e.headers,
            vec![Header {
                key: "id".into(),
                value: Some("0f5b".into())
            }]
        );
        assert_eq!(e.timestamp, Some(99));
    }

    #[test]
    fn deletes_and_updates_are_not_events() {
        let mut r = router(&[]);
        assert_eq!(
            r.route(&envelope_schema(), &envelope("d", "Order", None)),
            Ok(Routed::Delete)
        );
        assert_eq!(
            r.route(&envelope_schema(), &envelope("u", "Order", None)),
            Ok(Routed::Update)
        );
        // A truncate has no row.
        let mut truncate = envelope("t", "Order", None);
        truncate[1] = Value::Null;
        assert!(r.route(&envelope_schema(), &truncate).is_err());
    }

    #[test]
    fn envelope_placement_builds_a_struct_named_after_the_route() {
        let mut r = router(&[(
            "table.fields.additional.placement",
            "type:envelope:eventType,type:header,aggregateid:envelope",
        )]);
        let e = event(&mut r, &envelope("c", "Order", Some("{}")));
        let value = e.value.unwrap();
        let schema = value.schema.unwrap();
        assert_eq!(
            schema.name.as_deref(),
            Some("dbz.public.outbox.Order.Value")
        );
        let names: Vec<&str> = schema.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["payload", "eventType", "aggregateid"]);
        assert_eq!(
            value.value,
            Value::Struct(vec![
                Value::from("{}"),
                Value::from("OrderCreated"),
                Value::from("3")
            ])
        );
        assert_eq!(
            e.headers[1],
            Header {
                key: "type".into(),
                value: Some("OrderCreated".into())
            }
        );
        // Debezium caches the schema by payload schema only: the first route's name sticks.
        let e = event(&mut r, &envelope("c", "Customer", Some("{}")));
        assert_eq!(e.topic, "outbox.event.Customer");
        let name = e.value.unwrap().schema.unwrap().name;
        assert_eq!(name.as_deref(), Some("dbz.public.outbox.Order.Value"));
    }

    #[test]
    fn empty_payload_tombstones_when_asked() {
        let mut r = router(&[("route.tombstone.on.empty.payload", "true")]);
        assert_eq!(
            event(&mut r, &envelope("c", "Order", Some("  "))).value,
            None
        );
        assert_eq!(event(&mut r, &envelope("c", "Order", None)).value, None);
        let mut r = router(&[]);
        let value = event(&mut r, &envelope("c", "Order", None)).value.unwrap();
        assert_eq!(value.value, Value::Null);
    }

    #[test]
    fn expanded_payload_and_failed_expansion() {
        let mut r = router(&[("table.expand.json.payload", "true")]);
        let e = event(&mut r, &envelope("c", "Order", Some(r#"{"id": 3}"#)));
        let value = e.value.unwrap();
        assert_eq!(value.schema.unwrap().name.as_deref(), Some("payload"));
        assert_eq!(value.value, Value::Struct(vec![Value::Int32(3)]));
        let e = event(&mut r, &envelope("c", "Order", Some("plain text")));
        assert_eq!(e.value.unwrap().value, Value::from("plain text"));
        assert_eq!(e.warnings.len(), 1);
        assert!(
            r.route(&envelope_schema(), &envelope("c", "Order", Some("[1]")))
                .is_err()
        );
    }

    #[test]
    fn timestamps_routes_and_versions() {
        let mut r = router(&[
            ("table.field.event.timestamp", "created"),
            ("route.topic.regex", "(?<t>Ord.*)"),
            ("route.topic.replacement", "orders.${t}"),
            ("table.field.event.schema.version", "v"),
            ("table.fields.additional.placement", "type:envelope"),
        ]);
        let e = event(&mut r, &envelope("r", "Order", Some("{}")));
        assert_eq!(e.timestamp, Some(1_700_000_000_123));
        assert_eq!(e.topic, "orders.Order");
        // The version column is null and reads as its default.
        assert_eq!(e.value.unwrap().schema.unwrap().version, Some(1));
        // Routed values the regex does not match are the topic.
        assert_eq!(
            event(&mut r, &envelope("c", "Customer", Some("{}"))).topic,
            "Customer"
        );
        let mut r = router(&[("table.field.event.timestamp", "type")]);
        assert!(
            r.route(&envelope_schema(), &envelope("c", "Order", None))
                .is_err()
        );
    }

    #[test]
    fn missing_columns() {
        let mut r = router(&[("table.fields.additional.placement", "nope:header")]);
        assert!(
            r.route(&envelope_schema(), &envelope("c", "Order", None))
                .is_err()
        );
        let mut r = router(&[
            ("table.fields.additional.placement", "nope:header"),
            ("table.field.additional.missing", "ignore"),
        ]);
        assert_eq!(
            event(&mut r, &envelope("c", "Order", None)).headers.len(),
            1
        );
        let mut r = router(&[("table.field.event.key", "nope")]);
        assert!(
            r.route(&envelope_schema(), &envelope("c", "Order", None))
                .is_err()
        );
    }

    #[test]
    fn schema_names() {
        assert_eq!(schema_name(Some("a.b.Value"), "X"), "a.b.X.Value");
        assert_eq!(schema_name(Some("Value"), "X"), "X.Value");
        assert_eq!(schema_name(None, "X"), "X");
    }
}
