//! Masking one value as `MaskField` does: by the Java class Connect holds it as.

use connect_common::decimal::BigDecimal;
use connect_common::logical::{Logical, logical};
use connect_common::structs::java_class;
use connect_common::values::{text_to_double, text_to_long};
use tidemark_sdk::{Schema, Value};

/// The masked form of `value` (whose schema is `schema`, `None` when schemaless).
///
/// Without a replacement: numbers become 0 of their type, strings "", booleans false,
/// arrays and maps empty, `Decimal` 0 and `Date`/`Time`/`Timestamp` the epoch; bytes and
/// structs cannot be masked. With a replacement, only numbers, decimals and strings can be:
/// the replacement is read as the field's type. Nulls stay null.
pub fn mask(
    value: &Value,
    schema: Option<&Schema>,
    replacement: Option<&str>,
) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let logical = schema.and_then(logical);
    match replacement {
        None => mask_empty(value, logical),
        Some(text) => mask_with(value, logical, text),
    }
}

fn mask_empty(value: &Value, logical: Option<Logical>) -> Result<Value, String> {
    Ok(match (logical, value) {
        // BigDecimal.ZERO: unscaled 0 reads as zero at any scale.
        (Some(Logical::Decimal(_)), Value::Bytes(_)) => Value::Bytes(vec![0]),
        // new java.util.Date(0), in the logical type's physical form.
        (Some(Logical::Date | Logical::Time), Value::Int32(_)) => Value::Int32(0),
        (Some(Logical::Timestamp), Value::Int64(_)) => Value::Int64(0),
        (_, Value::Boolean(_)) => Value::Boolean(false),
        (_, Value::Int8(_)) => Value::Int8(0),
        (_, Value::Int16(_)) => Value::Int16(0),
        (_, Value::Int32(_)) => Value::Int32(0),
        (_, Value::Int64(_)) => Value::Int64(0),
        (_, Value::Float32(_)) => Value::Float32(0.0),
        (_, Value::Float64(_)) => Value::Float64(0.0),
        (_, Value::String(_)) => Value::String(String::new()),
        (_, Value::Array(_)) => Value::Array(Vec::new()),
        (_, Value::Map(_)) => Value::Map(Vec::new()),
        (_, other) => {
            return Err(format!(
                "Cannot mask value of type: class {}",
                java_class(other)
            ));
        }
    })
}

fn mask_with(value: &Value, logical: Option<Logical>, text: &str) -> Result<Value, String> {
    Ok(match (logical, value) {
        (Some(Logical::Decimal(scale)), Value::Bytes(_)) => {
            let number = BigDecimal::parse(text).map_err(|_| not_a_number(text))?;
            let scaled = number.with_scale(scale).ok_or_else(|| {
                format!("replacement {text} does not fit the field's decimal scale {scale}")
            })?;
            Value::Bytes(scaled.to_unscaled_bytes())
        }
        (Some(Logical::Date | Logical::Time | Logical::Timestamp), _) => {
            return Err(cannot_replace("java.util.Date"));
        }
        // Values.convertTo{Byte,Short,Integer}: the long value narrowed as a Java cast does.
        (_, Value::Int8(_)) => Value::Int8(text_to_long(text)? as i8),
        (_, Value::Int16(_)) => Value::Int16(text_to_long(text)? as i16),
        (_, Value::Int32(_)) => Value::Int32(text_to_long(text)? as i32),
        (_, Value::Int64(_)) => Value::Int64(text_to_long(text)?),
        (_, Value::Float32(_)) => Value::Float32(text_to_double(text)? as f32),
        (_, Value::Float64(_)) => Value::Float64(text_to_double(text)?),
        (_, Value::String(_)) => Value::String(text.to_owned()),
        (_, other) => return Err(cannot_replace(java_class(other))),
    })
}

fn not_a_number(text: &str) -> String {
    format!("Unable to convert {text} (class java.lang.String) to number")
}

fn cannot_replace(class: &str) -> String {
    format!("Cannot mask value of type class {class} with custom replacement.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_common::logical::{DECIMAL, date_schema, timestamp_schema};
    use tidemark_sdk::SchemaType;

    fn decimal(scale: &str) -> Schema {
        let mut s = Schema::new(SchemaType::Bytes).named(DECIMAL).optional();
        s.parameters.push(("scale".into(), scale.into()));
        s
    }

    #[test]
    fn empty_values_keep_the_type() {
        let m = |v: Value| mask(&v, None, None).unwrap();
        assert_eq!(m(Value::Int8(5)), Value::Int8(0));
        assert_eq!(m(Value::Int64(-5)), Value::Int64(0));
        assert_eq!(m(Value::Float32(1.5)), Value::Float32(0.0));
        assert_eq!(m("secret".into()), Value::from(""));
        assert_eq!(m(Value::Boolean(true)), Value::Boolean(false));
        assert_eq!(m(Value::Array(vec![Value::Int64(1)])), Value::Array(vec![]));
        assert_eq!(
            m(Value::Map(vec![("a".into(), Value::Null)])),
            Value::Map(vec![])
        );
        assert_eq!(m(Value::Null), Value::Null);
    }

    #[test]
    fn logical_types_mask_to_zero_and_epoch() {
        let dec = decimal("2");
        assert_eq!(
            mask(&Value::Bytes(vec![0x27, 0x42]), Some(&dec), None).unwrap(),
            Value::Bytes(vec![0])
        );
        let ts = timestamp_schema(true);
        assert_eq!(
            mask(&Value::Int64(1), Some(&ts), None).unwrap(),
            Value::Int64(0)
        );
        let date = date_schema(true);
        assert_eq!(
            mask(&Value::Int32(9), Some(&date), None).unwrap(),
            Value::Int32(0)
        );
    }

    #[test]
    fn bytes_and_structs_cannot_be_masked() {
        let err = mask(&Value::Bytes(vec![1]), None, None).unwrap_err();
        assert_eq!(err, "Cannot mask value of type: class [B");
        assert!(mask(&Value::Struct(vec![]), None, None).is_err());
    }

    #[test]
    fn replacements_are_read_as_the_field_type() {
        let r = |v: Value, text: &str| mask(&v, None, Some(text));
        assert_eq!(r(Value::Int32(1), "42"), Ok(Value::Int32(42)));
        assert_eq!(r(Value::Int32(1), "12.9"), Ok(Value::Int32(12)));
        assert_eq!(
            r(Value::Int32(1), "3000000000"),
            Ok(Value::Int32(-1_294_967_296))
        );
        assert_eq!(r(Value::Float64(1.0), "2.5"), Ok(Value::Float64(2.5)));
        assert_eq!(r("x".into(), "***"), Ok(Value::from("***")));
        assert!(r(Value::Int64(1), "***").unwrap_err().contains("***"));
        assert!(
            r(Value::Boolean(true), "false")
                .unwrap_err()
                .contains("Boolean")
        );
        assert!(r(Value::Array(vec![]), "1").is_err());
    }

    #[test]
    fn decimal_replacements_take_the_schema_scale() {
        let dec = decimal("2");
        let v = Value::Bytes(vec![0x27, 0x42]);
        assert_eq!(
            mask(&v, Some(&dec), Some("0.00")),
            Ok(Value::Bytes(vec![0]))
        );
        assert_eq!(
            mask(&v, Some(&dec), Some("1.5")),
            Ok(Value::Bytes(vec![0, 150]))
        );
        assert!(
            mask(&v, Some(&dec), Some("1.234"))
                .unwrap_err()
                .contains("scale 2")
        );
        assert!(mask(&v, Some(&dec), Some("abc")).is_err());
        let err = mask(&Value::Int64(5), Some(&timestamp_schema(false)), Some("0")).unwrap_err();
        assert!(err.contains("java.util.Date"), "{err}");
    }
}
