//! Debezium's JSON form of records: Kafka Connect's JsonConverter for keys and values
//! (`{"schema": …, "payload": …}` with `schemas.enable=true`, the bare payload without), inside
//! one JSON line per record: `{"topic", "key", "value", "headers"}`.
//!
//! The writer follows the converter byte for byte: schema keys in its order, bytes and
//! decimals as base64, floats as Java prints them, maps with string keys as objects and other
//! maps as arrays of `[key, value]` pairs.

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value as Json;

use super::{Data, Header, Record, Schema, SchemaType, Value};

/// Whether keys and values are written with their schemas (`key.converter.schemas.enable`,
/// `value.converter.schemas.enable`; both default to true, as in Kafka Connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonOptions {
    pub key_schemas: bool,
    pub value_schemas: bool,
    /// Write a null field as its schema's default (`*.converter.replace.null.with.default`,
    /// true in Kafka Connect).
    pub replace_null_with_default: bool,
}

impl Default for JsonOptions {
    fn default() -> JsonOptions {
        JsonOptions {
            key_schemas: true,
            value_schemas: true,
            replace_null_with_default: true,
        }
    }
}

/// A JSON line that is not a valid record.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("not valid JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    #[error("{at}: {problem}")]
    Shape { at: String, problem: String },
}

fn shape(at: &str, problem: impl Into<String>) -> JsonError {
    JsonError::Shape {
        at: at.to_owned(),
        problem: problem.into(),
    }
}

/// Appends one record as a JSON line (without the newline).
pub fn write_line(out: &mut String, record: &Record, options: JsonOptions) {
    out.push_str("{\"topic\":");
    write_str(out, &record.topic);
    out.push_str(",\"key\":");
    let replace = options.replace_null_with_default;
    write_data(out, record.key.as_ref(), options.key_schemas, replace);
    out.push_str(",\"value\":");
    write_data(out, record.value.as_ref(), options.value_schemas, replace);
    out.push_str(",\"headers\":[");
    for (i, header) in record.headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        write_str(out, &header.key);
        out.push_str(",\"value\":");
        match &header.value {
            Some(v) => write_str(out, v),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push_str("]}");
}

/// The JSON of a key or value's payload (what the JsonConverter writes without schemas).
pub fn payload_json(data: &Data) -> String {
    let mut out = String::new();
    write_payload(&mut out, &data.value, data.schema.as_deref(), true);
    out
}

/// Appends a key or value as Kafka Connect's JsonConverter serialises it into a Kafka record.
/// Returns false, having written nothing, when the converter gives no bytes at all: no data,
/// or a null without a schema (a tombstone value, a null key).
pub fn write_converted(
    out: &mut String,
    data: Option<&Data>,
    with_schema: bool,
    options: JsonOptions,
) -> bool {
    match data {
        None => false,
        Some(d) if d.schema.is_none() && d.value.is_null() => false,
        Some(d) => {
            write_data(out, Some(d), with_schema, options.replace_null_with_default);
            true
        }
    }
}

/// Appends a key or value as the JsonConverter writes it.
fn write_data(out: &mut String, data: Option<&Data>, with_schema: bool, replace_null: bool) {
    let Some(data) = data else {
        out.push_str("null");
        return;
    };
    if with_schema {
        out.push_str("{\"schema\":");
        match &data.schema {
            Some(schema) => out.push_str(schema.json()),
            None => out.push_str("null"),
        }
        out.push_str(",\"payload\":");
        write_payload(out, &data.value, data.schema.as_deref(), replace_null);
        out.push('}');
    } else {
        write_payload(out, &data.value, data.schema.as_deref(), replace_null);
    }
}

/// Appends a schema in JsonConverter form; `field` adds the `"field"` key of a struct member.
pub(super) fn write_schema(out: &mut String, schema: &Schema, field: Option<&str>) {
    out.push_str("{\"type\":\"");
    out.push_str(schema.kind.as_str());
    out.push('"');
    match schema.kind {
        SchemaType::Struct => {
            out.push_str(",\"fields\":[");
            for (i, f) in schema.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_schema(out, &f.schema, Some(&f.name));
            }
            out.push(']');
        }
        SchemaType::Array => {
            if let Some(items) = &schema.values {
                out.push_str(",\"items\":");
                write_schema(out, items, None);
            }
        }
        SchemaType::Map => {
            if let Some(keys) = &schema.keys {
                out.push_str(",\"keys\":");
                write_schema(out, keys, None);
            }
            if let Some(values) = &schema.values {
                out.push_str(",\"values\":");
                write_schema(out, values, None);
            }
        }
        _ => {}
    }
    out.push_str(if schema.optional {
        ",\"optional\":true"
    } else {
        ",\"optional\":false"
    });
    if let Some(name) = &schema.name {
        out.push_str(",\"name\":");
        write_str(out, name);
    }
    if let Some(version) = schema.version {
        let _ = write!(out, ",\"version\":{version}");
    }
    if let Some(doc) = &schema.doc {
        out.push_str(",\"doc\":");
        write_str(out, doc);
    }
    if !schema.parameters.is_empty() {
        out.push_str(",\"parameters\":{");
        for (i, (k, v)) in schema.parameters.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(out, k);
            out.push(':');
            write_str(out, v);
        }
        out.push('}');
    }
    if let Some(default) = &schema.default {
        out.push_str(",\"default\":");
        write_value(out, default, Some(schema));
    }
    if let Some(field) = field {
        out.push_str(",\"field\":");
        write_str(out, field);
    }
    out.push('}');
}

/// Appends a value's JSON payload (a schema's default value, say), nulls as null.
pub(super) fn write_value(out: &mut String, value: &Value, schema: Option<&Schema>) {
    write_payload(out, value, schema, false);
}

/// Appends a value's JSON payload. Struct field names come from `schema`; a struct without a
/// schema (which valid data never has) is written as an array of its field values. With
/// `replace_null`, a null whose schema has a default is written as the default, as the
/// JsonConverter does.
fn write_payload(out: &mut String, value: &Value, schema: Option<&Schema>, replace_null: bool) {
    let write_value = |out: &mut String, value: &Value, schema: Option<&Schema>| {
        write_payload(out, value, schema, replace_null)
    };
    match value {
        Value::Null => match schema.and_then(|s| s.default.as_ref()) {
            Some(default) if replace_null => write_value(out, default, schema),
            _ => out.push_str("null"),
        },
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(n) => out.push_str(itoa::Buffer::new().format(*n)),
        Value::Int16(n) => out.push_str(itoa::Buffer::new().format(*n)),
        Value::Int32(n) => out.push_str(itoa::Buffer::new().format(*n)),
        Value::Int64(n) => out.push_str(itoa::Buffer::new().format(*n)),
        Value::Float32(f) => write_java_float(
            out,
            *f as f64,
            legacy_integer_digits(*f as f64, 24).unwrap_or_else(|| format!("{f:e}")),
        ),
        Value::Float64(f) => write_java_float(
            out,
            *f,
            legacy_integer_digits(*f, 53).unwrap_or_else(|| format!("{f:e}")),
        ),
        Value::String(s) => write_str(out, s),
        Value::Bytes(b) => {
            out.push('"');
            BASE64.encode_string(b, out);
            out.push('"');
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.values.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, item_schema);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(|s| s.keys.as_deref());
            let value_schema = schema.and_then(|s| s.values.as_deref());
            let object_mode = match key_schema {
                Some(k) => k.kind == SchemaType::String,
                None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
            };
            if object_mode {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k.as_str().unwrap_or_default());
                    out.push(':');
                    write_value(out, v, value_schema);
                }
                out.push('}');
            } else {
                out.push('[');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    write_value(out, k, key_schema);
                    out.push(',');
                    write_value(out, v, value_schema);
                    out.push(']');
                }
                out.push(']');
            }
        }
        Value::Struct(values) => match schema {
            Some(schema) => {
                if values.is_empty() || schema.fields.is_empty() {
                    out.push('{');
                }
                for ((key, field), v) in schema.field_keys().iter().zip(&schema.fields).zip(values)
                {
                    out.push_str(key);
                    write_value(out, v, Some(&field.schema));
                }
                out.push('}');
            }
            None => write_value(out, &Value::Array(values.clone()), None),
        },
    }
}

/// Digits of an integral float as Java 17's `Float.toString`/`Double.toString` prints them
/// (the JVM the Debezium oracle runs on): integral values of at most 62 bits take a fast
/// path that prints the exact integer, less the digits its precision cannot tell apart,
/// where the shortest form would print fewer (`123456792f` is `1.23456792E8`, not
/// `1.2345679E8`). `None` when the shortest form is what Java prints. In `{:e}` form.
fn legacy_integer_digits(value: f64, significant_bits: i32) -> Option<String> {
    const INSIGNIFICANT: [u32; 64] = [
        0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 8,
        9, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15, 15,
        16, 16, 16, 17, 17, 17, 18, 18, 18, 19,
    ];
    let magnitude = value.abs();
    if !magnitude.is_finite()
        || magnitude < 1.0
        || magnitude.fract() != 0.0
        || magnitude >= 2f64.powi(63)
    {
        return None;
    }
    let bin_exp = ((magnitude.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    if bin_exp <= significant_bits {
        return None;
    }
    let p2 = (bin_exp - significant_bits - 1) as usize;
    let insignificant = if p2 > 1 && p2 < INSIGNIFICANT.len() {
        INSIGNIFICANT[p2]
    } else {
        0
    };
    let mut n = magnitude as u64;
    let pow10 = 10u64.pow(insignificant);
    let residue = n % pow10;
    n /= pow10;
    if insignificant > 0 && residue >= pow10 / 2 {
        n += 1;
    }
    let text = n.to_string();
    let exponent = text.len() as u32 - 1 + insignificant;
    let digits = text.trim_end_matches('0');
    let (first, rest) = digits.split_at(1);
    let sign = if value < 0.0 { "-" } else { "" };
    Some(format!(
        "{sign}{first}.{}e{exponent}",
        if rest.is_empty() { "0" } else { rest }
    ))
}

/// Writes a float as Java's `Double.toString`/`Float.toString` (which Jackson uses):
/// plain notation with at least one fraction digit for 1e-3 <= |x| < 1e7, else
/// `d.dddE±n`. `sci` is Rust's shortest round-trip form in `{:e}` notation, whose digits are
/// the ones Java (JDK 19+) chooses too. Non-finite values are strings, as Jackson writes them.
fn write_java_float(out: &mut String, value: f64, sci: String) {
    if value.is_nan() {
        out.push_str("\"NaN\"");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
        return;
    }
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if negative {
        out.push('-');
    }
    let magnitude = value.abs();
    if magnitude == 0.0 {
        out.push_str("0.0");
    } else if (1e-3..1e7).contains(&magnitude) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        let _ = write!(out, "E{exponent}");
    }
}

/// Bytes a JSON string cannot hold as they are.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Appends a JSON string literal.
pub(super) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    // Most strings need no escaping.
    if !s.bytes().any(|b| NEEDS_ESCAPE[b as usize]) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            // Jackson writes the hex digits in upper case.
            let _ = write!(out, "\\u{b:04X}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Parses one JSON line `{"topic", "key", "value", "headers"?, "timestamp"?}`. A key or value
/// that is an object of exactly `schema` and `payload` is read with its schema; any other
/// JSON is schemaless data. Headers may be an array of `{"key", "value"}` or an object.
pub fn read_line(line: &str) -> Result<Record, JsonError> {
    let json: Json = serde_json::from_str(line)?;
    let Json::Object(mut object) = json else {
        return Err(shape("record", "expected a JSON object"));
    };
    let topic = match object.remove("topic") {
        Some(Json::String(topic)) => topic,
        _ => return Err(shape("record", "\"topic\" must be a string")),
    };
    let key = read_data(object.remove("key").unwrap_or(Json::Null), "key")?;
    let value = read_data(object.remove("value").unwrap_or(Json::Null), "value")?;
    let headers = match object.remove("headers") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Json::Object(mut h) => Ok(Header {
                    key: match h.remove("key") {
                        Some(Json::String(k)) => k,
                        _ => return Err(shape("headers", "each header needs a string \"key\"")),
                    },
                    value: header_value(h.remove("value").unwrap_or(Json::Null)),
                }),
                _ => Err(shape("headers", "each header must be an object")),
            })
            .collect::<Result<_, _>>()?,
        Some(Json::Object(h)) => h
            .into_iter()
            .map(|(key, value)| Header {
                key,
                value: header_value(value),
            })
            .collect(),
        Some(_) => return Err(shape("headers", "expected an array or an object")),
    };
    let timestamp = match object.remove("timestamp") {
        None | Some(Json::Null) => None,
        Some(t) => Some(
            t.as_i64()
                .ok_or_else(|| shape("timestamp", "expected milliseconds as an integer"))?,
        ),
    };
    Ok(Record {
        topic,
        key,
        value,
        headers,
        timestamp,
    })
}

fn header_value(json: Json) -> Option<String> {
    match json {
        Json::Null => None,
        Json::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

fn read_data(json: Json, at: &str) -> Result<Option<Data>, JsonError> {
    match json {
        Json::Null => Ok(None),
        Json::Object(mut envelope)
            if envelope.len() == 2
                && envelope.contains_key("schema")
                && envelope.contains_key("payload") =>
        {
            let payload = envelope.remove("payload").unwrap_or(Json::Null);
            match envelope.remove("schema").unwrap_or(Json::Null) {
                Json::Null => Ok(Some(Data::schemaless(schemaless_value(payload)))),
                schema_json => {
                    let schema = Arc::new(read_schema(&schema_json, &format!("{at}.schema"))?);
                    let value = read_value(payload, &schema, &format!("{at}.payload"))?;
                    Ok(Some(Data::new(schema, value)))
                }
            }
        }
        other => Ok(Some(Data::schemaless(schemaless_value(other)))),
    }
}

/// Parses a JsonConverter schema.
pub(super) fn read_schema(json: &Json, at: &str) -> Result<Schema, JsonError> {
    let object = json
        .as_object()
        .ok_or_else(|| shape(at, "a schema must be an object"))?;
    let type_name = object
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| shape(at, "a schema needs a string \"type\""))?;
    let kind = SchemaType::parse(type_name)
        .ok_or_else(|| shape(at, format!("unknown schema type {type_name:?}")))?;
    let mut schema = Schema::new(kind);
    schema.optional = object
        .get("optional")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    schema.name = object.get("name").and_then(Json::as_str).map(str::to_owned);
    schema.version = object
        .get("version")
        .and_then(Json::as_i64)
        .and_then(|v| i32::try_from(v).ok());
    schema.doc = object.get("doc").and_then(Json::as_str).map(str::to_owned);
    if let Some(params) = object.get("parameters") {
        let params = params
            .as_object()
            .ok_or_else(|| shape(at, "\"parameters\" must be an object"))?;
        for (k, v) in params {
            let v = v
                .as_str()
                .ok_or_else(|| shape(at, format!("parameter {k:?} must be a string")))?;
            schema.parameters.push((k.clone(), v.to_owned()));
        }
    }
    match kind {
        SchemaType::Struct => {
            let fields = object
                .get("fields")
                .and_then(Json::as_array)
                .ok_or_else(|| shape(at, "a struct schema needs a \"fields\" array"))?;
            for (i, f) in fields.iter().enumerate() {
                let field_at = format!("{at}.fields[{i}]");
                let name = f
                    .get("field")
                    .and_then(Json::as_str)
                    .ok_or_else(|| shape(&field_at, "a struct field needs a string \"field\""))?;
                let field_schema = read_schema(f, &field_at)?;
                schema = schema.field(name, field_schema);
            }
        }
        SchemaType::Array => {
            let items = object
                .get("items")
                .ok_or_else(|| shape(at, "an array schema needs \"items\""))?;
            schema.values = Some(Arc::new(read_schema(items, &format!("{at}.items"))?));
        }
        SchemaType::Map => {
            let keys = object
                .get("keys")
                .ok_or_else(|| shape(at, "a map schema needs \"keys\""))?;
            let values = object
                .get("values")
                .ok_or_else(|| shape(at, "a map schema needs \"values\""))?;
            schema.keys = Some(Arc::new(read_schema(keys, &format!("{at}.keys"))?));
            schema.values = Some(Arc::new(read_schema(values, &format!("{at}.values"))?));
        }
        _ => {}
    }
    if let Some(default) = object.get("default").filter(|d| !d.is_null()) {
        schema.default = Some(read_value(
            default.clone(),
            &schema,
            &format!("{at}.default"),
        )?);
    }
    Ok(schema)
}

/// Converts a JSON payload to a value of the given schema, as the JsonConverter reads it:
/// a null or missing field takes the schema's default, else null if the schema is optional.
pub(super) fn read_value(json: Json, schema: &Schema, at: &str) -> Result<Value, JsonError> {
    if json.is_null() {
        return match &schema.default {
            Some(default) => Ok(default.clone()),
            None if schema.optional => Ok(Value::Null),
            None => Err(shape(at, "null for a schema that is not optional")),
        };
    }
    let mismatch = |json: &Json| {
        shape(
            at,
            format!("expected {} but found {json}", schema.kind.as_str()),
        )
    };
    let int = |json: &Json, min: i64, max: i64| {
        json.as_i64()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| mismatch(json))
    };
    Ok(match schema.kind {
        SchemaType::Int8 => Value::Int8(int(&json, i8::MIN.into(), i8::MAX.into())? as i8),
        SchemaType::Int16 => Value::Int16(int(&json, i16::MIN.into(), i16::MAX.into())? as i16),
        SchemaType::Int32 => Value::Int32(int(&json, i32::MIN.into(), i32::MAX.into())? as i32),
        SchemaType::Int64 => Value::Int64(int(&json, i64::MIN, i64::MAX)?),
        SchemaType::Float32 => {
            Value::Float32(read_float(&json).ok_or_else(|| mismatch(&json))? as f32)
        }
        SchemaType::Float64 => Value::Float64(read_float(&json).ok_or_else(|| mismatch(&json))?),
        SchemaType::Boolean => Value::Boolean(json.as_bool().ok_or_else(|| mismatch(&json))?),
        SchemaType::String => match json {
            Json::String(s) => Value::String(s.into()),
            other => return Err(mismatch(&other)),
        },
        SchemaType::Bytes => {
            let text = json.as_str().ok_or_else(|| mismatch(&json))?;
            Value::Bytes(
                BASE64
                    .decode(text)
                    .map_err(|e| shape(at, format!("bytes must be base64: {e}")))?,
            )
        }
        SchemaType::Array => {
            let items_schema = schema
                .values
                .as_deref()
                .ok_or_else(|| shape(at, "array schema without items"))?;
            match json {
                Json::Array(items) => Value::Array(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| read_value(item, items_schema, &format!("{at}[{i}]")))
                        .collect::<Result<_, _>>()?,
                ),
                other => return Err(mismatch(&other)),
            }
        }
        SchemaType::Map => {
            let (Some(key_schema), Some(value_schema)) =
                (schema.keys.as_deref(), schema.values.as_deref())
            else {
                return Err(shape(at, "map schema without keys or values"));
            };
            match json {
                Json::Object(entries) => Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| {
                            let entry_at = format!("{at}.{k}");
                            Ok((
                                read_value(Json::String(k), key_schema, &entry_at)?,
                                read_value(v, value_schema, &entry_at)?,
                            ))
                        })
                        .collect::<Result<_, JsonError>>()?,
                ),
                Json::Array(pairs) => Value::Map(
                    pairs
                        .into_iter()
                        .enumerate()
                        .map(|(i, pair)| {
                            let entry_at = format!("{at}[{i}]");
                            match pair {
                                Json::Array(mut kv) if kv.len() == 2 => {
                                    let v = kv.pop().unwrap_or(Json::Null);
                                    let k = kv.pop().unwrap_or(Json::Null);
                                    Ok((
                                        read_value(k, key_schema, &entry_at)?,
                                        read_value(v, value_schema, &entry_at)?,
                                    ))
                                }
                                _ => Err(shape(&entry_at, "map entries must be [key, value]")),
                            }
                        })
                        .collect::<Result<_, JsonError>>()?,
                ),
                other => return Err(mismatch(&other)),
            }
        }
        SchemaType::Struct => match json {
            Json::Object(mut members) => Value::Struct(
                schema
                    .fields
                    .iter()
                    .map(|f| {
                        let member = members.remove(&f.name).unwrap_or(Json::Null);
                        read_value(member, &f.schema, &format!("{at}.{}", f.name))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(mismatch(&other)),
        },
    })
}

fn read_float(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// Converts schemaless JSON as the JsonConverter does with `schemas.enable=false`: integers
/// become int64, other numbers float64, objects maps with string keys.
fn schemaless_value(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.into()),
        Json::Array(items) => Value::Array(items.into_iter().map(schemaless_value).collect()),
        Json::Object(members) => Value::Map(
            members
                .into_iter()
                .map(|(k, v)| (Value::String(k.into()), schemaless_value(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(value: f64) -> String {
        let mut out = String::new();
        write_java_float(&mut out, value, format!("{value:e}"));
        out
    }

    #[test]
    fn floats_print_as_java_does() {
        assert_eq!(float(100.0), "100.0");
        assert_eq!(float(1.5), "1.5");
        assert_eq!(float(-0.25), "-0.25");
        assert_eq!(float(0.001), "0.001");
        assert_eq!(float(0.0001), "1.0E-4");
        assert_eq!(float(1.0e7), "1.0E7");
        assert_eq!(float(1234567.0), "1234567.0");
        assert_eq!(float(1.2345e-5), "1.2345E-5");
        assert_eq!(float(0.0), "0.0");
        assert_eq!(float(f64::NAN), "\"NaN\"");
        let mut out = String::new();
        write_java_float(&mut out, 2.5e-2f32 as f64, format!("{:e}", 2.5e-2f32));
        assert_eq!(out, "0.025");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é\u{1f}\u{b}\u{8}\u{c}");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é\u001F\u000B\b\f""#);
    }

    #[test]
    fn non_string_map_keys_become_pairs() {
        let schema = Schema::map(
            Schema::new(SchemaType::Int32),
            Schema::new(SchemaType::String),
        );
        let value = Value::Map(vec![(Value::Int32(1), "one".into())]);
        let mut out = String::new();
        write_value(&mut out, &value, Some(&schema));
        assert_eq!(out, r#"[[1,"one"]]"#);
        let back = read_value(serde_json::from_str(&out).unwrap(), &schema, "v").unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn missing_required_field_is_an_error_naming_it() {
        let schema = Schema::new(SchemaType::Struct).field("id", Schema::new(SchemaType::Int32));
        let err = read_value(serde_json::json!({}), &schema, "value.payload").unwrap_err();
        assert_eq!(
            err.to_string(),
            "value.payload.id: null for a schema that is not optional"
        );
    }
}
