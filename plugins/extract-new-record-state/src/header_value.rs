//! Header values as Kafka Connect's `SimpleHeaderConverter` writes them
//! (`Values.convertToString`): strings as they are, numbers and booleans as Java prints them,
//! bytes in base64, arrays, maps and structs in a JSON-like form, `Decimal` as
//! `BigDecimal.toString()` and the `Date`/`Time`/`Timestamp` logical types as ISO-8601 (UTC).

use tidemark_sdk::{Schema, Value};

const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
const MILLIS_PER_DAY: i64 = 86_400_000;

/// The header text of a value with its schema; `None` for null.
pub fn header_text(schema: Option<&Schema>, value: &Value) -> Option<String> {
    if value.is_null() {
        return None;
    }
    let mut out = String::new();
    append(&mut out, schema, value, false);
    Some(out)
}

fn append(out: &mut String, schema: Option<&Schema>, value: &Value, embedded: bool) {
    let logical = schema.and_then(|s| s.name.as_deref());
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(n) => out.push_str(&n.to_string()),
        Value::Int16(n) => out.push_str(&n.to_string()),
        Value::Int32(n) if logical == Some(DATE) => {
            out.push_str(&java_date(i64::from(*n) * MILLIS_PER_DAY))
        }
        Value::Int32(n) if logical == Some(TIME) => out.push_str(&java_date(i64::from(*n))),
        Value::Int32(n) => out.push_str(&n.to_string()),
        Value::Int64(n) if logical == Some(TIMESTAMP) => out.push_str(&java_date(*n)),
        Value::Int64(n) => out.push_str(&n.to_string()),
        Value::Float32(f) => out.push_str(&java_float(f64::from(*f), format!("{f:e}"))),
        Value::Float64(f) => out.push_str(&java_float(*f, format!("{f:e}"))),
        Value::String(s) if embedded => {
            out.push('"');
            out.push_str(&s.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
        }
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) if logical == Some(DECIMAL) => {
            let scale = schema
                .and_then(|s| s.parameters.iter().find(|(k, _)| k == "scale"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            out.push_str(&big_decimal(b, scale));
        }
        Value::Bytes(b) if embedded => {
            out.push('"');
            out.push_str(&base64(b));
            out.push('"');
        }
        Value::Bytes(b) => out.push_str(&base64(b)),
        Value::Array(items) => {
            let element = schema.and_then(|s| s.values.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, element, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let keys = schema.and_then(|s| s.keys.as_deref());
            let values = schema.and_then(|s| s.values.as_deref());
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, keys, k, true);
                out.push(':');
                append(out, values, v, true);
            }
            out.push('}');
        }
        Value::Struct(values) => {
            out.push('{');
            let fields = schema.map(|s| s.fields.as_slice()).unwrap_or_default();
            for (i, ((name, field), v)) in fields.iter().zip(values).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, None, &Value::String(name.clone()), true);
                out.push(':');
                let v = match (v, &field.default) {
                    (Value::Null, Some(default)) => default,
                    _ => v,
                };
                append(out, Some(field), v, true);
            }
            out.push('}');
        }
    }
}

/// Java's `Double.toString` / `Float.toString` from Rust's shortest `{:e}` form.
fn java_float(value: f64, shortest: String) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if value == 0.0 {
        return format!("{sign}0.0");
    }
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let point = exponent + 1;
        if point <= 0 {
            let zeros = "0".repeat(point.unsigned_abs() as usize);
            format!("{sign}0.{zeros}{digits}")
        } else {
            let point = point as usize;
            let padded = format!("{digits:0<point$}");
            let (int, frac) = padded.split_at(point);
            let frac = if frac.is_empty() { "0" } else { frac };
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exponent}")
    }
}

/// `BigDecimal.toString()` of an unscaled big-endian two's-complement integer and a scale.
fn big_decimal(unscaled: &[u8], scale: i32) -> String {
    let negative = unscaled.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = if negative {
        twos_complement_negate(unscaled)
    } else {
        unscaled.to_vec()
    };
    let digits = decimal_digits(&mut magnitude);
    let sign = if negative { "-" } else { "" };
    let len = digits.len() as i64;
    let adjusted = len - 1 - i64::from(scale);
    if scale >= 0 && adjusted >= -6 {
        let scale = scale as usize;
        if scale == 0 {
            format!("{sign}{digits}")
        } else if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            let zeros = "0".repeat(scale - digits.len());
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let plus = if adjusted >= 0 { "+" } else { "" };
        format!("{sign}{first}{point}{rest}E{plus}{adjusted}")
    }
}

fn twos_complement_negate(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for byte in out.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    out
}

/// The decimal digits of a big-endian unsigned integer (consumed).
fn decimal_digits(magnitude: &mut [u8]) -> String {
    let mut digits = Vec::new();
    while magnitude.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in magnitude.iter_mut() {
            let current = (remainder << 8) | u32::from(*byte);
            *byte = (current / 10) as u8;
            remainder = current % 10;
        }
        digits.push(char::from(b'0' + remainder as u8));
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.iter().rev().collect()
}

/// `Values.dateFormatFor(date).format(date)` in UTC: a time below one day, a date at
/// midnight, else a timestamp.
fn java_date(millis: i64) -> String {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let ms = millis.rem_euclid(MILLIS_PER_DAY);
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let time = format!("{h:02}:{m:02}:{s:02}.{milli:03}Z");
    let (y, mo, d) = civil_from_days(days);
    let date = format!("{y:04}-{mo:02}-{d:02}");
    if millis < MILLIS_PER_DAY {
        time
    } else if millis % MILLIS_PER_DAY == 0 {
        date
    } else {
        format!("{date}T{time}")
    }
}

/// Proleptic Gregorian (year, month, day) of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::SchemaType;

    fn text(value: Value) -> Option<String> {
        header_text(None, &value)
    }

    #[test]
    fn primitives_print_as_java_does() {
        assert_eq!(text(Value::Null), None);
        assert_eq!(text(Value::from("d")).as_deref(), Some("d"));
        assert_eq!(
            text(Value::Int64(1795267789425)).as_deref(),
            Some("1795267789425")
        );
        assert_eq!(text(Value::Boolean(true)).as_deref(), Some("true"));
        assert_eq!(text(Value::Float64(1.0)).as_deref(), Some("1.0"));
        assert_eq!(text(Value::Float64(1e7)).as_deref(), Some("1.0E7"));
        assert_eq!(text(Value::Float64(123.456)).as_deref(), Some("123.456"));
        assert_eq!(text(Value::Float64(0.001)).as_deref(), Some("0.001"));
        assert_eq!(text(Value::Float64(-1.5e-4)).as_deref(), Some("-1.5E-4"));
        assert_eq!(text(Value::Float32(0.1)).as_deref(), Some("0.1"));
        assert_eq!(
            text(Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])).as_deref(),
            Some("3q2+7w==")
        );
    }

    #[test]
    fn containers_quote_embedded_strings() {
        let v = Value::Array(vec![Value::from("a\"b"), Value::Null, Value::Int32(1)]);
        assert_eq!(text(v).as_deref(), Some(r#"["a\"b",null,1]"#));
        let schema = Schema::new(SchemaType::Struct)
            .field("x", Schema::new(SchemaType::Int32))
            .field("y", Schema::optional_string());
        let v = Value::Struct(vec![Value::Int32(3), Value::from("z")]);
        assert_eq!(
            header_text(Some(&schema), &v).as_deref(),
            Some(r#"{"x":3,"y":"z"}"#)
        );
    }

    #[test]
    fn logical_types() {
        let decimal = |scale: &str| {
            let mut s = Schema::new(SchemaType::Bytes).named(DECIMAL);
            s.parameters.push(("scale".into(), scale.into()));
            s
        };
        // 10050 at scale 2, -7.25 as 0xFD2B.
        assert_eq!(
            header_text(Some(&decimal("2")), &Value::Bytes(vec![0x27, 0x42])).as_deref(),
            Some("100.50")
        );
        assert_eq!(
            header_text(Some(&decimal("2")), &Value::Bytes(vec![0xfd, 0x2b])).as_deref(),
            Some("-7.25")
        );
        assert_eq!(
            header_text(Some(&decimal("9")), &Value::Bytes(vec![0x01])).as_deref(),
            Some("1E-9")
        );
        let ts = Schema::new(SchemaType::Int64).named(TIMESTAMP);
        assert_eq!(
            header_text(Some(&ts), &Value::Int64(1_704_164_645_123)).as_deref(),
            Some("2024-01-02T03:04:05.123Z")
        );
        let date = Schema::new(SchemaType::Int32).named(DATE);
        assert_eq!(
            header_text(Some(&date), &Value::Int32(19_723)).as_deref(),
            Some("2024-01-01")
        );
    }
}
