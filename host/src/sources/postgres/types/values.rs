//! Values from Postgres' text output, as Debezium converts them.

use base64::Engine as _;

use super::temporal::{self, TIMESTAMP_INFINITY_MICROS, TIMESTAMP_NEG_INFINITY_MICROS};
use super::{BinaryMode, DecimalMode, PgType, TimeMode, TypeOptions};
use crate::event::{Schema, SchemaType, Value};
use crate::sources::decimal::Decimal;

/// Converts a value's text to the Connect value of [`PgType::schema`].
pub fn value(pg_type: &PgType, text: &str, options: &TypeOptions) -> Result<Value, String> {
    let bad = || format!("cannot read {text:?} as {pg_type:?}");
    Ok(match pg_type {
        PgType::Int2 => Value::Int16(text.parse().map_err(|_| bad())?),
        PgType::Int4 => Value::Int32(text.parse().map_err(|_| bad())?),
        PgType::Int8 | PgType::Oid => Value::Int64(text.parse().map_err(|_| bad())?),
        PgType::Float4 => Value::Float32(parse_float(text).ok_or_else(bad)? as f32),
        PgType::Float8 => Value::Float64(parse_float(text).ok_or_else(bad)?),
        PgType::Numeric(spec) => numeric(text, *spec, options)?,
        PgType::Money => money(text, options).ok_or_else(bad)?,
        PgType::Bool => match text {
            "t" | "true" => Value::Boolean(true),
            "f" | "false" => Value::Boolean(false),
            _ => return Err(bad()),
        },
        PgType::Text
        | PgType::Unknown(_)
        | PgType::NamedString(_)
        | PgType::Uuid
        | PgType::Json
        | PgType::Xml
        | PgType::Enum(_) => Value::String(text.into()),
        PgType::Bytea => {
            let bytes = parse_bytea(text).ok_or_else(bad)?;
            match options.binary {
                BinaryMode::Bytes => Value::Bytes(bytes),
                BinaryMode::Base64 => Value::String(
                    base64::engine::general_purpose::STANDARD
                        .encode(bytes)
                        .into(),
                ),
                BinaryMode::Hex => Value::String(
                    bytes
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                        .into(),
                ),
            }
        }
        PgType::Date => Value::Int32(match (text, options.snapshot) {
            ("infinity", false) => DATE_INFINITY,
            ("-infinity", false) => DATE_NEG_INFINITY,
            ("infinity", true) => SNAPSHOT_DATE_INFINITY,
            ("-infinity", true) => SNAPSHOT_DATE_NEG_INFINITY,
            _ => i32::try_from(temporal::parse_date(text).ok_or_else(bad)?).map_err(|_| bad())?,
        }),
        PgType::Time(p) => {
            let micros = temporal::parse_time(text).ok_or_else(bad)?;
            match options.time {
                TimeMode::Connect => Value::Int32((micros / 1000) as i32),
                TimeMode::Adaptive if *p <= 3 => Value::Int32((micros / 1000) as i32),
                _ => Value::Int64(micros),
            }
        }
        PgType::Timestamp(p) => {
            let micros = temporal::parse_timestamp(text).ok_or_else(bad)?;
            let millis = match micros {
                TIMESTAMP_INFINITY_MICROS | TIMESTAMP_NEG_INFINITY_MICROS => micros / 1000,
                _ => micros.div_euclid(1000),
            };
            match options.time {
                TimeMode::Connect => Value::Int64(millis),
                _ if *p <= 3 => Value::Int64(millis),
                _ => Value::Int64(micros),
            }
        }
        PgType::TimestampTz(p) => {
            Value::String(temporal::zoned_timestamp(text, *p).ok_or_else(bad)?.into())
        }
        PgType::TimeTz => Value::String(temporal::zoned_time(text).ok_or_else(bad)?.into()),
        PgType::Interval => Value::Int64(temporal::interval_micros(text).ok_or_else(bad)?),
        PgType::Bit1 => match text {
            "1" => Value::Boolean(true),
            "0" => Value::Boolean(false),
            _ => return Err(bad()),
        },
        PgType::Bits(_) => Value::Bytes(bits(text).ok_or_else(bad)?),
        PgType::Hstore => Value::String(hstore_json(text).ok_or_else(bad)?.into()),
        PgType::Point => point(text).ok_or_else(bad)?,
        PgType::Array(element) => array(element, text, options).ok_or_else(bad)??,
    })
}

/// An array. Debezium reads elements as a snapshot does, and writes the whole array as
/// null when an element has no value its schema allows (a NaN numeric, a null enum).
fn array(element: &PgType, text: &str, options: &TypeOptions) -> Option<Result<Value, String>> {
    let element_options = TypeOptions {
        snapshot: true,
        ..*options
    };
    let nullable = !matches!(element, PgType::Enum(_));
    let mut items = Vec::new();
    for item in parse_array(text)? {
        let value = match item {
            None if nullable => Value::Null,
            None => return Some(Ok(Value::Null)),
            // Debezium reads array elements through JDBC, which turns -infinity into the
            // earliest instant it can hold.
            Some(t) if t == "-infinity" && matches!(element, PgType::TimestampTz(_)) => {
                let PgType::TimestampTz(p) = element else {
                    unreachable!()
                };
                let frac = if *p > 0 {
                    format!(".{}", "0".repeat(*p.min(&6) as usize))
                } else {
                    String::new()
                };
                Value::String(format!("+292269055-12-02T23:00:00{frac}Z").into())
            }
            Some(t) => match element.value(&t, &element_options) {
                Ok(Value::Null) => return Some(Ok(Value::Null)),
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            },
        };
        items.push(value);
    }
    Some(Ok(Value::Array(items)))
}

/// `date 'infinity'` as Debezium's streaming writes it.
const DATE_INFINITY: i32 = -2_147_472_692;
/// `date '-infinity'` as Debezium's streaming writes it.
const DATE_NEG_INFINITY: i32 = -2_147_472_691;
/// `date 'infinity'` as Debezium's snapshot (JDBC) writes it.
const SNAPSHOT_DATE_INFINITY: i32 = -622_191_234;
/// `date '-infinity'` as Debezium's snapshot (JDBC) writes it.
const SNAPSHOT_DATE_NEG_INFINITY: i32 = -625_821_272;

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// A numeric: a Decimal (bytes of the unscaled value at the column's scale), a
/// VariableScaleDecimal (trailing zeros stripped), a double or a string, per
/// `decimal.handling.mode`. NaN and infinities have no decimal form: null, as Debezium.
fn numeric(text: &str, spec: Option<(u32, u32)>, options: &TypeOptions) -> Result<Value, String> {
    let special = matches!(text, "NaN" | "Infinity" | "-Infinity");
    match options.decimal {
        DecimalMode::Double => {
            return parse_float(text)
                .map(Value::Float64)
                .ok_or_else(|| format!("cannot read {text:?} as a number"));
        }
        DecimalMode::String => {
            return Ok(Value::String(
                if text == "NaN" { "NAN" } else { text }.into(),
            ));
        }
        DecimalMode::Precise if special => {
            tracing::warn!(
                value = text,
                "a numeric special value has no Decimal form; written as null (set decimal.handling.mode=string or double to keep it)"
            );
            return Ok(Value::Null);
        }
        DecimalMode::Precise => {}
    }
    let decimal = Decimal::parse(text)?;
    Ok(match spec {
        Some((_, column_scale)) => {
            Value::Bytes(decimal.rescale(column_scale, text)?.unscaled_bytes())
        }
        None => {
            let decimal = decimal.strip_trailing_zeros();
            Value::Struct(vec![
                Value::Int32(decimal.scale as i32),
                Value::Bytes(decimal.unscaled_bytes()),
            ])
        }
    })
}

/// `money` as Debezium reads it: a decimal with two fraction digits (`-$1,234.56`; the
/// session's `lc_monetary` is C).
fn money(text: &str, options: &TypeOptions) -> Option<Value> {
    let negative = text.starts_with('-') || text.starts_with('(');
    let digits: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let plain = if negative {
        format!("-{digits}")
    } else {
        digits
    };
    Some(match options.decimal {
        DecimalMode::Precise => Value::Bytes(
            Decimal::parse(&plain)
                .ok()?
                .rescale(2, text)
                .ok()?
                .unscaled_bytes(),
        ),
        DecimalMode::Double => Value::Float64(plain.parse().ok()?),
        DecimalMode::String => Value::String(plain.into()),
    })
}

fn parse_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A bit string as Debezium's Bits: the rightmost bit is bit 0; minimal little-endian bytes
/// (no bytes at all for zero).
fn bits(text: &str) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; text.len().div_ceil(8)];
    for (i, c) in text.bytes().rev().enumerate() {
        match c {
            b'1' => bytes[i / 8] |= 1 << (i % 8),
            b'0' => {}
            _ => return None,
        }
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    Some(bytes)
}

/// A point `(x,y)` as Debezium's Point struct `{x, y, wkb, srid}` with WKB little-endian.
fn point(text: &str) -> Option<Value> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let (x, y) = inner.split_once(',')?;
    let (x, y): (f64, f64) = (parse_float(x.trim())?, parse_float(y.trim())?);
    let mut wkb = vec![1u8, 1, 0, 0, 0];
    wkb.extend(x.to_le_bytes());
    wkb.extend(y.to_le_bytes());
    Some(Value::Struct(vec![
        Value::Float64(x),
        Value::Float64(y),
        Value::Bytes(wkb),
        Value::Null,
    ]))
}

/// An hstore's text (`"a"=>"1", "b"=>NULL`) as the JSON object Debezium writes: keys in
/// the iteration order of a Java `HashMap` filled in text order.
fn hstore_json(text: &str) -> Option<String> {
    let pairs = parse_hstore(text)?;
    let mut capacity = 16usize;
    while pairs.len() as f64 > capacity as f64 * 0.75 {
        capacity *= 2;
    }
    let bucket = |key: &str| {
        let h = key
            .encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32)) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by_key(|&i| (bucket(&pairs[i].0), i));
    let object: serde_json::Map<String, serde_json::Value> = order
        .into_iter()
        .map(|i| &pairs[i])
        .map(|(k, v)| {
            (
                k.clone(),
                v.clone()
                    .map_or(serde_json::Value::Null, serde_json::Value::String),
            )
        })
        .collect();
    serde_json::to_string(&object).ok()
}

/// Parses hstore text output: `"k"=>"v"` pairs separated by `, `, values may be `NULL`.
fn parse_hstore(text: &str) -> Option<Vec<(String, Option<String>)>> {
    let mut chars = text.chars().peekable();
    let mut pairs = Vec::new();
    let quoted = |chars: &mut std::iter::Peekable<std::str::Chars>| -> Option<String> {
        if chars.next()? != '"' {
            return None;
        }
        let mut s = String::new();
        loop {
            match chars.next()? {
                '\\' => s.push(chars.next()?),
                '"' => return Some(s),
                c => s.push(c),
            }
        }
    };
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(pairs);
        }
        let key = quoted(&mut chars)?;
        if chars.next()? != '=' || chars.next()? != '>' {
            return None;
        }
        let value = if chars.peek() == Some(&'"') {
            Some(quoted(&mut chars)?)
        } else {
            let word: String =
                std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_alphabetic())).collect();
            if word != "NULL" {
                return None;
            }
            None
        };
        pairs.push((key, value));
    }
}

/// A one-dimensional array literal `{a,"b c",NULL}` into its elements' texts.
fn parse_array(text: &str) -> Option<Vec<Option<String>>> {
    // A lower bound decoration (`[0:1]={…}`) may precede the braces.
    let text = match text.find("={") {
        Some(at) if text.starts_with('[') => &text[at + 1..],
        _ => text,
    };
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut item = String::new();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            items.push(Some(item));
        } else {
            let mut item = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                item.push(c);
                chars.next();
            }
            items.push(if item == "NULL" { None } else { Some(item) });
        }
        match chars.next() {
            Some(',') => continue,
            None => return Some(items),
            Some(_) => return None,
        }
    }
}

/// The literal of a default expression as Debezium reads it: `Some(Some(text))` for a
/// constant (`'x'::text`, `42`, `true`), `Some(None)` for `NULL`, `None` for a function call
/// or keyword such as `now()`, `nextval(…)` or `CURRENT_TIMESTAMP`.
pub fn default_literal(expression: &str) -> Option<Option<String>> {
    let e = expression.trim();
    let lower = e.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "current_timestamp" | "current_time" | "current_date" | "localtime" | "localtimestamp"
    ) || is_function_call(e)
    {
        return None;
    }
    if lower.starts_with("null") {
        return Some(None);
    }
    if let Some(start) = e.find('\'') {
        let rest = &e[start + 1..];
        let end = rest.find('\'')?;
        return Some(Some(rest[..end].to_owned()));
    }
    let bare = e.trim_start_matches('(').trim_end_matches(')');
    Some(Some(bare.to_owned()))
}

/// `^[(]?[A-Za-z0-9_.]+\(`: a function call, as Debezium recognises one.
fn is_function_call(e: &str) -> bool {
    let e = e.strip_prefix('(').unwrap_or(e);
    let name_len = e
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
        .count();
    name_len > 0 && e[name_len..].starts_with('(')
}

/// The zero Debezium falls back to for a NOT NULL column without a usable value.
pub fn zero(schema: &Schema) -> Option<Value> {
    Some(match (schema.kind, schema.name.as_deref()) {
        (_, Some("io.debezium.time.ZonedTimestamp")) => {
            Value::String("1970-01-01T00:00:00Z".into())
        }
        (_, Some("io.debezium.time.ZonedTime")) => Value::String("00:00:00Z".into()),
        (_, Some("io.debezium.data.Uuid")) => {
            Value::String("00000000-0000-0000-0000-000000000000".into())
        }
        (_, Some("io.debezium.data.Json")) => Value::String("{}".into()),
        (SchemaType::Int8, _) => Value::Int8(0),
        (SchemaType::Int16, _) => Value::Int16(0),
        (SchemaType::Int32, _) => Value::Int32(0),
        (SchemaType::Int64, _) => Value::Int64(0),
        (SchemaType::Float32, _) => Value::Float32(0.0),
        (SchemaType::Float64, _) => Value::Float64(0.0),
        (SchemaType::Boolean, _) => Value::Boolean(false),
        (SchemaType::String, _) => Value::String(Default::default()),
        (SchemaType::Bytes, Some("org.apache.kafka.connect.data.Decimal")) => Value::Bytes(vec![0]),
        (SchemaType::Bytes, _) => Value::Bytes(Vec::new()),
        (SchemaType::Array, _) => Value::Array(Vec::new()),
        (SchemaType::Map | SchemaType::Struct, _) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: PgType, text: &str) -> Value {
        value(&t, text, &TypeOptions::default()).unwrap()
    }

    #[test]
    fn decimals_match_debezium_bytes() {
        let t = PgType::Numeric(Some((12, 2)));
        // The golden file's base64: J0I= (100.50), /Ss= (-7.25), AA== (0.00), AOjUpQ// (9999999999.99)
        assert_eq!(v(t.clone(), "100.50"), Value::Bytes(vec![0x27, 0x42]));
        assert_eq!(v(t.clone(), "-7.25"), Value::Bytes(vec![0xfd, 0x2b]));
        assert_eq!(v(t.clone(), "0.00"), Value::Bytes(vec![0x00]));
        assert_eq!(
            v(t.clone(), "9999999999.99"),
            Value::Bytes(vec![0x00, 0xe8, 0xd4, 0xa5, 0x0f, 0xff])
        );
        assert_eq!(v(t, "NaN"), Value::Null);
        assert_eq!(
            v(PgType::Numeric(None), "1.500"),
            Value::Struct(vec![Value::Int32(1), Value::Bytes(vec![15])])
        );
        assert_eq!(
            v(PgType::Numeric(None), "100"),
            Value::Struct(vec![Value::Int32(0), Value::Bytes(vec![100])])
        );
        assert_eq!(
            v(PgType::Money, "-$1,234.56"),
            v(PgType::Numeric(Some((0, 2))), "-1234.56")
        );
    }

    #[test]
    fn other_types() {
        assert_eq!(
            v(
                PgType::Array(Box::new(PgType::Text)),
                r#"{"a,b","c\"d",NULL,x}"#
            ),
            Value::Array(vec!["a,b".into(), "c\"d".into(), Value::Null, "x".into()])
        );
        assert_eq!(
            v(PgType::Array(Box::new(PgType::Int4)), "[0:1]={1,2}"),
            Value::Array(vec![Value::Int32(1), Value::Int32(2)])
        );
        assert_eq!(
            v(PgType::Bytea, "\\xdeadbeef"),
            Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(v(PgType::Bits(8), "10100101"), Value::Bytes(vec![0xa5]));
        assert_eq!(
            v(PgType::Bits(10), "0101010101"),
            Value::Bytes(vec![0x55, 0x01])
        );
        assert_eq!(v(PgType::Bits(8), "00000000"), Value::Bytes(vec![]));
        assert_eq!(
            v(PgType::Hstore, r#""a"=>"1", "b"=>NULL, "k é"=>"v""#),
            Value::String(r#"{"a":"1","b":null,"k é":"v"}"#.into())
        );
        let Value::Struct(p) = v(PgType::Point, "(1.5,-2.25)") else {
            panic!()
        };
        use base64::Engine as _;
        assert_eq!(
            p[2],
            Value::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode("AQEAAAAAAAAAAAD4PwAAAAAAAALA")
                    .unwrap()
            )
        );
        assert_eq!(
            v(PgType::Timestamp(3), "1969-12-31 23:59:59.999"),
            Value::Int64(-1)
        );
        assert_eq!(
            v(PgType::Timestamp(3), "-infinity"),
            Value::Int64(-9_223_372_036_832_400)
        );
    }

    #[test]
    fn default_expressions() {
        assert_eq!(default_literal("nextval('t_id_seq'::regclass)"), None);
        assert_eq!(default_literal("now()"), None);
        assert_eq!(default_literal("CURRENT_TIMESTAMP"), None);
        assert_eq!(default_literal("'x'::text"), Some(Some("x".into())));
        assert_eq!(default_literal("42"), Some(Some("42".into())));
        assert_eq!(default_literal("NULL::text"), Some(None));
        assert_eq!(default_literal("'-1'::integer"), Some(Some("-1".into())));
    }

    #[test]
    fn bad_text_is_an_error() {
        let o = TypeOptions::default();
        assert!(value(&PgType::Int4, "x", &o).is_err());
        assert!(value(&PgType::Bytea, "\\xZZ", &o).is_err());
        assert!(value(&PgType::Bits(3), "1x1", &o).is_err());
    }
}
