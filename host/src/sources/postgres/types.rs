//! Postgres column types mapped to Kafka Connect schemas and values the way Debezium's
//! Postgres connector maps them, from the types' text output (what `pgoutput` sends in text
//! mode and what a text-mode query returns). Sessions must use `DateStyle=ISO`,
//! `TimeZone=UTC` and `extra_float_digits=3` so the text is unambiguous.

use std::sync::Arc;

use crate::event::{Schema, SchemaType, Value};

/// How Debezium represents some types (`decimal.handling.mode`, `time.precision.mode`,
/// `binary.handling.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeOptions {
    pub decimal: DecimalMode,
    pub time: TimeMode,
    pub binary: BinaryMode,
}

impl Default for TypeOptions {
    fn default() -> TypeOptions {
        TypeOptions {
            decimal: DecimalMode::Precise,
            time: TimeMode::Adaptive,
            binary: BinaryMode::Bytes,
        }
    }
}

/// `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMode {
    Precise,
    Double,
    String,
}

/// `time.precision.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    Adaptive,
    AdaptiveTimeMicroseconds,
    Connect,
}

/// `binary.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryMode {
    Bytes,
    Base64,
    Hex,
}

/// A Postgres type, as far as the mapping cares.
#[derive(Debug, Clone, PartialEq)]
pub enum PgType {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(precision, scale)`; `None` when declared without them.
    Numeric(Option<(u32, u32)>),
    Money,
    Bool,
    Text,
    Bytea,
    Date,
    /// `time(p)`; precision defaults to 6.
    Time(u32),
    TimeTz,
    /// `timestamp(p)`; precision defaults to 6.
    Timestamp(u32),
    TimestampTz,
    Uuid,
    Json,
    Xml,
    /// Types Debezium writes as plain strings (inet, cidr, macaddr, …).
    PlainString,
    /// A one-dimensional array of an element type.
    Array(Box<PgType>),
    /// A type this mapping does not know, by name: written as its text, with a warning.
    Unknown(String),
}

impl PgType {
    /// The type of a column, from its type OID and modifier (`atttypmod`).
    pub fn from_oid(oid: u32, modifier: i32) -> PgType {
        let precision = |default: u32| {
            if modifier >= 0 {
                modifier as u32
            } else {
                default
            }
        };
        match oid {
            21 => PgType::Int2,
            23 => PgType::Int4,
            20 => PgType::Int8,
            700 => PgType::Float4,
            701 => PgType::Float8,
            1700 => PgType::Numeric(if modifier >= 4 {
                let m = (modifier - 4) as u32;
                Some((m >> 16, m & 0xffff))
            } else {
                None
            }),
            790 => PgType::Money,
            16 => PgType::Bool,
            25 | 1043 | 1042 | 19 | 18 => PgType::Text,
            17 => PgType::Bytea,
            1082 => PgType::Date,
            1083 => PgType::Time(precision(6)),
            1266 => PgType::TimeTz,
            1114 => PgType::Timestamp(precision(6)),
            1184 => PgType::TimestampTz,
            2950 => PgType::Uuid,
            114 | 3802 => PgType::Json,
            142 => PgType::Xml,
            869 | 650 | 829 | 774 => PgType::PlainString,
            1005 => PgType::Array(Box::new(PgType::Int2)),
            1007 => PgType::Array(Box::new(PgType::Int4)),
            1016 => PgType::Array(Box::new(PgType::Int8)),
            1021 => PgType::Array(Box::new(PgType::Float4)),
            1022 => PgType::Array(Box::new(PgType::Float8)),
            1000 => PgType::Array(Box::new(PgType::Bool)),
            1009 | 1015 | 1014 => PgType::Array(Box::new(PgType::Text)),
            1231 => PgType::Array(Box::new(PgType::Numeric(None))),
            2951 => PgType::Array(Box::new(PgType::Uuid)),
            1182 => PgType::Array(Box::new(PgType::Date)),
            1185 => PgType::Array(Box::new(PgType::TimestampTz)),
            other => PgType::Unknown(format!("oid {other}")),
        }
    }

    /// The Connect schema Debezium gives a column of this type.
    pub fn schema(&self, optional: bool, options: &TypeOptions) -> Schema {
        let schema = match self {
            PgType::Int2 => Schema::new(SchemaType::Int16),
            PgType::Int4 => Schema::new(SchemaType::Int32),
            PgType::Int8 => Schema::new(SchemaType::Int64),
            PgType::Float4 => Schema::new(SchemaType::Float32),
            PgType::Float8 => Schema::new(SchemaType::Float64),
            PgType::Numeric(spec) => decimal_schema(*spec, options),
            PgType::Money => decimal_schema(Some((0, 2)), options),
            PgType::Bool => Schema::new(SchemaType::Boolean),
            PgType::Text | PgType::PlainString | PgType::Unknown(_) => {
                Schema::new(SchemaType::String)
            }
            PgType::Bytea => match options.binary {
                BinaryMode::Bytes => Schema::new(SchemaType::Bytes),
                BinaryMode::Base64 | BinaryMode::Hex => Schema::new(SchemaType::String),
            },
            PgType::Date => match options.time {
                TimeMode::Connect => Schema::new(SchemaType::Int32)
                    .named("org.apache.kafka.connect.data.Date")
                    .versioned(1),
                _ => Schema::new(SchemaType::Int32)
                    .named("io.debezium.time.Date")
                    .versioned(1),
            },
            PgType::Time(p) => match options.time {
                TimeMode::Connect => Schema::new(SchemaType::Int32)
                    .named("org.apache.kafka.connect.data.Time")
                    .versioned(1),
                TimeMode::Adaptive if *p <= 3 => Schema::new(SchemaType::Int32)
                    .named("io.debezium.time.Time")
                    .versioned(1),
                _ => Schema::new(SchemaType::Int64)
                    .named("io.debezium.time.MicroTime")
                    .versioned(1),
            },
            PgType::Timestamp(p) => match options.time {
                TimeMode::Connect => Schema::new(SchemaType::Int64)
                    .named("org.apache.kafka.connect.data.Timestamp")
                    .versioned(1),
                _ if *p <= 3 => Schema::new(SchemaType::Int64)
                    .named("io.debezium.time.Timestamp")
                    .versioned(1),
                _ => Schema::new(SchemaType::Int64)
                    .named("io.debezium.time.MicroTimestamp")
                    .versioned(1),
            },
            PgType::TimeTz => Schema::new(SchemaType::String)
                .named("io.debezium.time.ZonedTime")
                .versioned(1),
            PgType::TimestampTz => Schema::new(SchemaType::String)
                .named("io.debezium.time.ZonedTimestamp")
                .versioned(1),
            PgType::Uuid => Schema::new(SchemaType::String)
                .named("io.debezium.data.Uuid")
                .versioned(1),
            PgType::Json => Schema::new(SchemaType::String)
                .named("io.debezium.data.Json")
                .versioned(1),
            PgType::Xml => Schema::new(SchemaType::String)
                .named("io.debezium.data.Xml")
                .versioned(1),
            PgType::Array(element) => Schema::array(Arc::new(element.schema(true, options))),
        };
        if optional { schema.optional() } else { schema }
    }

    /// Converts a value's text output to the Connect value of [`PgType::schema`].
    pub fn value(&self, text: &str, options: &TypeOptions) -> Result<Value, String> {
        let bad = || format!("cannot read {text:?} as {self:?}");
        Ok(match self {
            PgType::Int2 => Value::Int16(text.parse().map_err(|_| bad())?),
            PgType::Int4 => Value::Int32(text.parse().map_err(|_| bad())?),
            PgType::Int8 => Value::Int64(text.parse().map_err(|_| bad())?),
            PgType::Float4 => Value::Float32(parse_float(text).ok_or_else(bad)? as f32),
            PgType::Float8 => Value::Float64(parse_float(text).ok_or_else(bad)?),
            PgType::Numeric(spec) => decimal_value(text, *spec, options)?,
            PgType::Money => {
                let plain: String = text.chars().filter(|c| !matches!(c, '$' | ',')).collect();
                decimal_value(&plain, Some((0, 2)), options)?
            }
            PgType::Bool => match text {
                "t" | "true" => Value::Boolean(true),
                "f" | "false" => Value::Boolean(false),
                _ => return Err(bad()),
            },
            PgType::Text
            | PgType::PlainString
            | PgType::Unknown(_)
            | PgType::Uuid
            | PgType::Json
            | PgType::Xml => Value::String(text.to_owned()),
            PgType::Bytea => {
                let bytes = parse_bytea(text).ok_or_else(bad)?;
                match options.binary {
                    BinaryMode::Bytes => Value::Bytes(bytes),
                    BinaryMode::Base64 => {
                        use base64::Engine as _;
                        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
                    }
                    BinaryMode::Hex => {
                        Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect())
                    }
                }
            }
            PgType::Date => Value::Int32(parse_date(text).ok_or_else(bad)? as i32),
            PgType::Time(p) => {
                let micros = parse_time(text).ok_or_else(bad)?;
                match options.time {
                    TimeMode::Connect => Value::Int32((micros / 1000) as i32),
                    TimeMode::Adaptive if *p <= 3 => Value::Int32((micros / 1000) as i32),
                    _ => Value::Int64(micros),
                }
            }
            PgType::Timestamp(p) => {
                let micros = parse_timestamp(text).ok_or_else(bad)?;
                match options.time {
                    TimeMode::Connect => Value::Int64(micros.div_euclid(1000)),
                    _ if *p <= 3 => Value::Int64(micros.div_euclid(1000)),
                    _ => Value::Int64(micros),
                }
            }
            PgType::TimestampTz => Value::String(zoned_timestamp(text).ok_or_else(bad)?),
            PgType::TimeTz => Value::String(text.to_owned()),
            PgType::Array(element) => Value::Array(
                parse_array(text)
                    .ok_or_else(bad)?
                    .into_iter()
                    .map(|item| match item {
                        None => Ok(Value::Null),
                        Some(t) => element.value(&t, options),
                    })
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

fn decimal_schema(spec: Option<(u32, u32)>, options: &TypeOptions) -> Schema {
    match (options.decimal, spec) {
        (DecimalMode::Double, _) => Schema::new(SchemaType::Float64),
        (DecimalMode::String, _) => Schema::new(SchemaType::String),
        (DecimalMode::Precise, Some((precision, scale))) => {
            let schema = Schema::new(SchemaType::Bytes)
                .named("org.apache.kafka.connect.data.Decimal")
                .versioned(1)
                .parameter("scale", scale.to_string());
            if precision > 0 {
                schema.parameter("connect.decimal.precision", precision.to_string())
            } else {
                schema
            }
        }
        (DecimalMode::Precise, None) => Schema::new(SchemaType::Struct)
            .named("io.debezium.data.VariableScaleDecimal")
            .versioned(1)
            .field("scale", Schema::new(SchemaType::Int32))
            .field("value", Schema::new(SchemaType::Bytes)),
    }
}

fn decimal_value(
    text: &str,
    spec: Option<(u32, u32)>,
    options: &TypeOptions,
) -> Result<Value, String> {
    match options.decimal {
        DecimalMode::Double => {
            return Ok(Value::Float64(
                parse_float(text).ok_or_else(|| format!("cannot read {text:?} as a number"))?,
            ));
        }
        DecimalMode::String => return Ok(Value::String(text.to_owned())),
        DecimalMode::Precise => {}
    }
    let (unscaled, scale) = parse_decimal(text)?;
    match spec {
        Some((_, column_scale)) => {
            let shift = column_scale.checked_sub(scale).ok_or_else(|| {
                format!("{text:?} has more fraction digits than the column's scale {column_scale}")
            })?;
            let unscaled = unscaled
                .checked_mul(10i128.pow(shift))
                .ok_or_else(|| format!("{text:?} is too large for a 38-digit decimal"))?;
            Ok(Value::Bytes(twos_complement(unscaled)))
        }
        None => Ok(Value::Struct(vec![
            Value::Int32(scale as i32),
            Value::Bytes(twos_complement(unscaled)),
        ])),
    }
}

/// Parses a decimal literal into its unscaled value and scale.
fn parse_decimal(text: &str) -> Result<(i128, u32), String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return Err(format!(
            "cannot read {text:?} as a decimal (NaN and infinities have no Decimal form)"
        ));
    }
    let all: String = format!("{int}{frac}");
    let unscaled: i128 = all
        .parse()
        .map_err(|_| format!("{text:?} is too large for a 38-digit decimal"))?;
    Ok((
        if negative { -unscaled } else { unscaled },
        frac.len() as u32,
    ))
}

/// Java's `BigInteger.toByteArray`: minimal big-endian two's complement.
fn twos_complement(n: i128) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

fn parse_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` (with ` BC` for years before 1) as days since the epoch.
fn parse_date(text: &str) -> Option<i64> {
    let (text, bc) = match text.strip_suffix(" BC") {
        Some(t) => (t, true),
        None => (text, false),
    };
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let year = if bc { 1 - year } else { year };
    Some(days_from_civil(year, month, day))
}

/// `HH:MM:SS[.ffffff]` as microseconds past midnight.
fn parse_time(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, ':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec = parts.next()?;
    let (s, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let s: i64 = s.parse().ok()?;
    let frac_micros: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").get(..6)?.parse().ok()?
    };
    Some(((h * 60 + m) * 60 + s) * 1_000_000 + frac_micros)
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` as microseconds since the epoch.
fn parse_timestamp(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(' ')?;
    Some(parse_date(date)? * 86_400_000_000 + parse_time(time)?)
}

/// A `timestamptz` in UTC text (`2024-01-02 03:04:05.123456+00`) as Debezium's
/// ZonedTimestamp: ISO-8601 with six fraction digits and `Z`; infinities as PG writes them.
fn zoned_timestamp(text: &str) -> Option<String> {
    if text == "infinity" || text == "-infinity" {
        return Some(text.to_owned());
    }
    let body = text.strip_suffix("+00")?;
    let (date, time) = body.split_once(' ')?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    Some(format!("{date}T{hms}.{frac:0<6}Z"))
}

/// A one-dimensional array literal `{a,"b c",NULL}` into its elements' texts.
fn parse_array(text: &str) -> Option<Vec<Option<String>>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: PgType, text: &str) -> Value {
        t.value(text, &TypeOptions::default()).unwrap()
    }

    #[test]
    fn decimals_match_debezium_bytes() {
        let t = PgType::from_oid(1700, ((12 << 16) | 2) + 4);
        assert_eq!(t, PgType::Numeric(Some((12, 2))));
        // The golden file's base64: J0I= (100.50), /Ss= (-7.25), AA== (0.00), AOjUpQ// (9999999999.99)
        assert_eq!(value(t.clone(), "100.50"), Value::Bytes(vec![0x27, 0x42]));
        assert_eq!(value(t.clone(), "-7.25"), Value::Bytes(vec![0xfd, 0x2b]));
        assert_eq!(value(t.clone(), "0.00"), Value::Bytes(vec![0x00]));
        assert_eq!(
            value(t.clone(), "9999999999.99"),
            Value::Bytes(vec![0x00, 0xe8, 0xd4, 0xa5, 0x0f, 0xff])
        );
        let schema = t.schema(true, &TypeOptions::default());
        assert_eq!(
            schema.json(),
            r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"12"}}"#
        );
        assert!(
            PgType::Numeric(Some((4, 1)))
                .value("1.25", &TypeOptions::default())
                .is_err()
        );
    }

    #[test]
    fn arrays_and_text_types() {
        assert_eq!(
            value(
                PgType::Array(Box::new(PgType::Text)),
                r#"{"a,b","c\"d",NULL,x}"#
            ),
            Value::Array(vec!["a,b".into(), "c\"d".into(), Value::Null, "x".into()])
        );
        assert_eq!(
            value(PgType::Array(Box::new(PgType::Text)), "{}"),
            Value::Array(vec![])
        );
        assert_eq!(
            value(PgType::Bytea, "\\xdeadbeef"),
            Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(value(PgType::Bool, "t"), Value::Boolean(true));
    }

    #[test]
    fn times_follow_debezium() {
        assert_eq!(value(PgType::Date, "1970-01-02"), Value::Int32(1));
        assert_eq!(value(PgType::Date, "1969-12-31"), Value::Int32(-1));
        assert_eq!(
            value(PgType::Time(6), "01:00:00.5"),
            Value::Int64(3_600_500_000)
        );
        assert_eq!(
            value(PgType::Timestamp(3), "1970-01-01 00:00:01.5"),
            Value::Int64(1500)
        );
        assert_eq!(
            value(PgType::TimestampTz, "2024-01-02 03:04:05.123456+00"),
            Value::String("2024-01-02T03:04:05.123456Z".into())
        );
        assert_eq!(
            value(PgType::TimestampTz, "2023-12-31 21:59:59+00"),
            Value::String("2023-12-31T21:59:59.000000Z".into())
        );
        assert_eq!(
            value(PgType::TimestampTz, "infinity"),
            Value::String("infinity".into())
        );
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(PgType::Int4.value("x", &TypeOptions::default()).is_err());
        assert!(
            PgType::Bytea
                .value("\\xZZ", &TypeOptions::default())
                .is_err()
        );
    }
}
