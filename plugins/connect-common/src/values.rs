//! Connect's `Values` conversions: a value as text (what `SimpleHeaderConverter` writes into
//! a header) and text as a number.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tidemark_sdk::{Schema, Value};

use crate::calendar::DateTime;
use crate::decimal::BigDecimal;
use crate::javafmt::{double_to_string, float_to_string};
use crate::logical::{Logical, MILLIS_PER_DAY, logical};
use crate::structs::field_value;

/// `Values.convertToString(schema, value)`; `None` for null. Logical values (which Connect
/// holds as `BigDecimal` and `java.util.Date`) are recognised by their schema; struct fields
/// take their defaults when null, as `Struct.get` does. Dates are printed in UTC.
pub fn convert_to_string(schema: Option<&Schema>, value: &Value) -> Option<String> {
    if value.is_null() {
        return None;
    }
    let mut out = String::new();
    append(&mut out, schema, value, false);
    Some(out)
}

/// `Values.convertToLong(null, text)`: the text read as a `BigDecimal`, truncated to its low
/// 64 bits.
pub fn text_to_long(text: &str) -> Result<i64, String> {
    Ok(parse_number(text)?.long_value())
}

/// `Values.convertToDouble(null, text)`: the text read as a `BigDecimal`, rounded to a double.
pub fn text_to_double(text: &str) -> Result<f64, String> {
    Ok(parse_number(text)?.to_f64())
}

fn parse_number(text: &str) -> Result<BigDecimal, String> {
    BigDecimal::parse(text)
        .map_err(|_| format!("Unable to convert {text} (class java.lang.String) to a number"))
}

fn append(out: &mut String, schema: Option<&Schema>, value: &Value, embedded: bool) {
    if let Some(logical) = schema.and_then(logical)
        && append_logical(out, logical, value)
    {
        return;
    }
    let child = |pick: fn(&Schema) -> Option<&Schema>| schema.and_then(pick);
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(n) => out.push_str(&n.to_string()),
        Value::Int16(n) => out.push_str(&n.to_string()),
        Value::Int32(n) => out.push_str(&n.to_string()),
        Value::Int64(n) => out.push_str(&n.to_string()),
        Value::Float32(f) => out.push_str(&float_to_string(*f)),
        Value::Float64(f) => out.push_str(&double_to_string(*f)),
        Value::String(s) => {
            if embedded {
                out.push('"');
                out.push_str(&s.replace('\\', "\\\\").replace('"', "\\\""));
                out.push('"');
            } else {
                out.push_str(s);
            }
        }
        Value::Bytes(b) => {
            let text = STANDARD.encode(b);
            if embedded {
                out.push('"');
                out.push_str(&text);
                out.push('"');
            } else {
                out.push_str(&text);
            }
        }
        Value::Array(items) => {
            let items_schema = child(|s| s.values.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, items_schema, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let keys = child(|s| s.keys.as_deref());
            let values = child(|s| s.values.as_deref());
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
        Value::Struct(fields) => {
            out.push('{');
            let named = schema.map(|s| s.fields.as_slice()).unwrap_or_default();
            for (i, (v, (name, field_schema))) in fields.iter().zip(named).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, None, &Value::String(name.clone()), true);
                out.push(':');
                let v = field_value(v, field_schema, true);
                append(out, Some(field_schema), &v, true);
            }
            out.push('}');
        }
    }
}

/// Appends a logical value as Connect's Java object would print; false when the physical
/// value does not fit (it is then printed as a plain value).
fn append_logical(out: &mut String, logical: Logical, value: &Value) -> bool {
    let millis = match (logical, value) {
        (Logical::Decimal(scale), Value::Bytes(b)) => {
            out.push_str(&BigDecimal::from_unscaled_bytes(b, scale).to_java_string());
            return true;
        }
        (Logical::Date, Value::Int32(days)) => i64::from(*days) * MILLIS_PER_DAY,
        (Logical::Time, Value::Int32(ms)) => i64::from(*ms),
        (Logical::Timestamp, Value::Int64(ms)) => *ms,
        _ => return false,
    };
    out.push_str(&format_date(millis));
    true
}

/// `Values.dateFormatFor(date).format(date)` in UTC: a time of day (`HH:mm:ss.SSS'Z'`) for
/// instants before the end of 1970-01-01 (negative ones included), a date (`yyyy-MM-dd`)
/// for midnights, else both (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`).
pub fn format_date(millis: i64) -> String {
    let t = DateTime::from_millis(millis);
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    );
    let date = format!(
        "{:04}-{:02}-{:02}",
        t.date.year_of_era(),
        t.date.month,
        t.date.day
    );
    if millis < MILLIS_PER_DAY {
        time
    } else if millis % MILLIS_PER_DAY == 0 {
        date
    } else {
        format!("{date}T{time}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logical::{DECIMAL, date_schema, timestamp_schema};
    use tidemark_sdk::SchemaType;

    fn text(schema: Option<&Schema>, value: Value) -> Option<String> {
        convert_to_string(schema, &value)
    }

    #[test]
    fn primitives_print_as_java() {
        assert_eq!(text(None, Value::Null), None);
        assert_eq!(text(None, "a\"b".into()).as_deref(), Some("a\"b"));
        assert_eq!(text(None, Value::Int64(-5)).as_deref(), Some("-5"));
        assert_eq!(text(None, Value::Float64(1e7)).as_deref(), Some("1.0E7"));
        assert_eq!(text(None, Value::Boolean(true)).as_deref(), Some("true"));
        assert_eq!(
            text(None, Value::Bytes(vec![0xde, 0xad])).as_deref(),
            Some("3q0=")
        );
    }

    #[test]
    fn containers_quote_embedded_strings() {
        let v = Value::Map(vec![
            ("k".into(), Value::Array(vec!["x\\y".into(), Value::Null])),
            ("n".into(), Value::Int64(1)),
        ]);
        assert_eq!(
            text(None, v).as_deref(),
            Some(r#"{"k":["x\\y",null],"n":1}"#)
        );
    }

    #[test]
    fn structs_use_field_names_defaults_and_logical_types() {
        let mut with_default = Schema::new(SchemaType::Int32);
        with_default.default = Some(Value::Int32(7));
        let mut dec = Schema::new(SchemaType::Bytes).named(DECIMAL).optional();
        dec.parameters.push(("scale".into(), "2".into()));
        let schema = Schema::new(SchemaType::Struct)
            .field("a", with_default)
            .field("d", date_schema(true))
            .field("m", dec)
            .field("s", Schema::optional_string());
        let v = Value::Struct(vec![
            Value::Null,
            Value::Int32(19_724),
            Value::Bytes(vec![0x27, 0x42]),
            "x".into(),
        ]);
        assert_eq!(
            text(Some(&schema), v).as_deref(),
            Some(r#"{"a":7,"d":2024-01-02,"m":100.50,"s":"x"}"#)
        );
    }

    #[test]
    fn dates_pick_their_format_by_value() {
        let ts = timestamp_schema(false);
        let at = |ms: i64| text(Some(&ts), Value::Int64(ms)).unwrap();
        assert_eq!(at(1_704_164_645_123), "2024-01-02T03:04:05.123Z");
        assert_eq!(at(1_704_153_600_000), "2024-01-02");
        assert_eq!(at(3_600_000), "01:00:00.000Z");
        assert_eq!(at(-1), "23:59:59.999Z");
    }

    #[test]
    fn numbers_from_text() {
        assert_eq!(text_to_long("12.9"), Ok(12));
        assert_eq!(text_to_double("1e3"), Ok(1000.0));
        assert!(text_to_long("abc").unwrap_err().contains("abc"));
        assert!(text_to_double("NaN").is_err());
    }
}
