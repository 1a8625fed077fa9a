//! Kafka Connect values, schemas and headers as CEL values.

use std::collections::HashMap;
use std::sync::Arc;

use cel_interpreter::Value as Cel;
use cel_interpreter::objects::{Key, Map};
use connect_common::structs::type_name;
use tidemark_sdk::{Header, Schema, Value};

/// The logical name of Kafka Connect's `Decimal`, carried as unscaled big-endian bytes.
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";

/// A key or value as CEL sees it: structs become maps keyed by field name, every integer an
/// `int`, every float a `double`, arrays lists and maps maps. A `Decimal` becomes a `double`
/// (its scale applied). `schema` is `None` for schemaless data.
pub fn value(value: &Value, schema: Option<&Schema>) -> Cel {
    match value {
        Value::Null => Cel::Null,
        Value::Boolean(b) => Cel::Bool(*b),
        Value::Int8(n) => Cel::Int((*n).into()),
        Value::Int16(n) => Cel::Int((*n).into()),
        Value::Int32(n) => Cel::Int((*n).into()),
        Value::Int64(n) => Cel::Int(*n),
        Value::Float32(f) => Cel::Float((*f).into()),
        Value::Float64(f) => Cel::Float(*f),
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Bytes(b) => match decimal_scale(schema) {
            Some(scale) => Cel::Float(decimal(b, scale)),
            None => Cel::Bytes(Arc::new(b.clone())),
        },
        Value::Array(items) => {
            let items_schema = schema.and_then(|s| s.values.as_deref());
            Cel::List(Arc::new(
                items.iter().map(|v| self::value(v, items_schema)).collect(),
            ))
        }
        Value::Map(entries) => {
            let values_schema = schema.and_then(|s| s.values.as_deref());
            map(entries
                .iter()
                .filter_map(|(k, v)| Some((key(k)?, self::value(v, values_schema)))))
        }
        Value::Struct(fields) => match schema {
            Some(schema) => {
                map(schema
                    .fields
                    .iter()
                    .zip(fields)
                    .map(|((name, field_schema), v)| {
                        (key_str(name), self::value(v, Some(field_schema)))
                    }))
            }
            // A struct always has a schema; without one its fields are only positional.
            None => Cel::List(Arc::new(
                fields.iter().map(|v| self::value(v, None)).collect(),
            )),
        },
    }
}

/// A schema as a CEL map with `name`, `type` (Java's `Schema.Type` name, e.g. `STRUCT`),
/// `optional`, `version`, `doc`, `parameters`, `fields` (struct fields by name, each a schema),
/// and `keySchema`/`valueSchema` for maps and arrays.
pub fn schema(schema: &Schema) -> Cel {
    let text = |s: &Option<String>| s.as_ref().map_or(Cel::Null, |s| string(s));
    let mut entries = vec![
        ("name", text(&schema.name)),
        ("type", string(type_name(schema.kind))),
        ("optional", Cel::Bool(schema.optional)),
        (
            "version",
            schema.version.map_or(Cel::Null, |v| Cel::Int(v.into())),
        ),
        ("doc", text(&schema.doc)),
        (
            "parameters",
            map(schema
                .parameters
                .iter()
                .map(|(k, v)| (key_str(k), string(v)))),
        ),
        (
            "fields",
            map(schema
                .fields
                .iter()
                .map(|(name, field)| (key_str(name), self::schema(field)))),
        ),
    ];
    if let Some(keys) = &schema.keys {
        entries.push(("keySchema", self::schema(keys)));
    }
    if let Some(values) = &schema.values {
        entries.push(("valueSchema", self::schema(values)));
    }
    map(entries.into_iter().map(|(k, v)| (key_str(k), v)))
}

/// Headers as Debezium binds them: a map from header name to `{value}` (the last header of a
/// name wins, as in Java's `HashMap`). Header values are strings or null.
pub fn headers(headers: &[Header]) -> Cel {
    map(headers.iter().map(|h| {
        let value = h.value.as_deref().map_or(Cel::Null, string);
        (key_str(&h.key), map([(key_str("value"), value)]))
    }))
}

/// A CEL string.
pub fn string(s: &str) -> Cel {
    Cel::String(Arc::new(s.to_owned()))
}

fn key_str(s: &str) -> Key {
    Key::String(Arc::new(s.to_owned()))
}

/// A map key CEL can hold: strings, integers and booleans. Other keys are left out.
fn key(value: &Value) -> Option<Key> {
    match value {
        Value::String(s) => Some(key_str(s)),
        Value::Boolean(b) => Some(Key::Bool(*b)),
        other => other.as_i64().map(Key::Int),
    }
}

fn map(entries: impl IntoIterator<Item = (Key, Cel)>) -> Cel {
    let map: HashMap<Key, Cel> = entries.into_iter().collect();
    Cel::Map(Map { map: Arc::new(map) })
}

fn decimal_scale(schema: Option<&Schema>) -> Option<i32> {
    let schema = schema?;
    if schema.name.as_deref() != Some(DECIMAL) {
        return None;
    }
    schema
        .parameters
        .iter()
        .find(|(k, _)| k == "scale")
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// The value of a `Decimal`: big-endian two's-complement unscaled bytes divided by
/// 10^scale, as a double (exact up to 2^53 unscaled).
fn decimal(bytes: &[u8], scale: i32) -> f64 {
    let unsigned = bytes
        .iter()
        .fold(0f64, |acc, &b| acc * 256.0 + f64::from(b));
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let unscaled = if negative {
        unsigned - 2f64.powi(8 * i32::try_from(bytes.len()).unwrap_or(i32::MAX))
    } else {
        unsigned
    };
    unscaled / 10f64.powi(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::SchemaType;

    fn get<'a>(cel: &'a Cel, name: &str) -> &'a Cel {
        match cel {
            Cel::Map(m) => m.get(&key_str(name)).unwrap_or(&Cel::Null),
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn structs_become_maps_by_field_name() {
        let schema = Schema::new(SchemaType::Struct)
            .field("id", Schema::new(SchemaType::Int32))
            .field("small", Schema::new(SchemaType::Int8))
            .field("ratio", Schema::new(SchemaType::Float32))
            .field("name", Schema::optional_string())
            .field("photo", Schema::new(SchemaType::Bytes).optional());
        let value = Value::Struct(vec![
            Value::Int32(7),
            Value::Int8(-3),
            Value::Float32(0.5),
            Value::Null,
            Value::Bytes(vec![1, 2]),
        ]);
        let cel = super::value(&value, Some(&schema));
        assert_eq!(get(&cel, "id"), &Cel::Int(7));
        assert_eq!(get(&cel, "small"), &Cel::Int(-3));
        assert_eq!(get(&cel, "ratio"), &Cel::Float(0.5));
        assert_eq!(get(&cel, "name"), &Cel::Null);
        assert_eq!(get(&cel, "photo"), &Cel::Bytes(Arc::new(vec![1, 2])));
    }

    #[test]
    fn decimals_apply_their_scale() {
        let mut schema = Schema::new(SchemaType::Bytes).named(DECIMAL);
        schema.parameters.push(("scale".into(), "2".into()));
        // 0x2742 = 10050 -> 100.50; 0xFD2B = -725 -> -7.25.
        let positive = super::value(&Value::Bytes(vec![0x27, 0x42]), Some(&schema));
        let negative = super::value(&Value::Bytes(vec![0xFD, 0x2B]), Some(&schema));
        assert_eq!(positive, Cel::Float(100.5));
        assert_eq!(negative, Cel::Float(-7.25));
        // Plain bytes stay bytes.
        let plain = super::value(&Value::Bytes(vec![0x27]), None);
        assert_eq!(plain, Cel::Bytes(Arc::new(vec![0x27])));
    }

    #[test]
    fn schemaless_maps_arrays_and_keys() {
        let value = Value::Map(vec![
            (Value::String("op".into()), Value::String("c".into())),
            (
                Value::Int64(3),
                Value::Array(vec![Value::Int64(1), Value::Float64(2.5)]),
            ),
            (Value::Float64(1.5), Value::Boolean(true)),
        ]);
        let cel = super::value(&value, None);
        let Cel::Map(m) = &cel else {
            panic!("not a map: {cel:?}")
        };
        assert_eq!(
            m.map.len(),
            2,
            "a float key has no CEL form and is left out"
        );
        assert_eq!(get(&cel, "op"), &string("c"));
        assert_eq!(
            m.get(&Key::Int(3)),
            Some(&Cel::List(Arc::new(vec![Cel::Int(1), Cel::Float(2.5)])))
        );
    }

    #[test]
    fn schemas_and_headers() {
        let schema = Schema::new(SchemaType::Struct)
            .named("dbz.public.customers.Envelope")
            .field("op", Schema::new(SchemaType::String));
        let cel = super::schema(&schema);
        assert_eq!(get(&cel, "name"), &string("dbz.public.customers.Envelope"));
        assert_eq!(get(&cel, "type"), &string("STRUCT"));
        assert_eq!(
            get(get(get(&cel, "fields"), "op"), "type"),
            &string("STRING")
        );
        let headers = super::headers(&[
            Header {
                key: "h".into(),
                value: Some("1".into()),
            },
            Header {
                key: "h".into(),
                value: Some("2".into()),
            },
            Header {
                key: "n".into(),
                value: None,
            },
        ]);
        assert_eq!(get(get(&headers, "h"), "value"), &string("2"));
        assert_eq!(get(get(&headers, "n"), "value"), &Cel::Null);
    }
}
