//! MySQL and MariaDB column types mapped to Kafka Connect schemas and values the way
//! Debezium's binlog connectors map them. A column's type is read from
//! `information_schema.COLUMNS` (its `DATA_TYPE` and `COLUMN_TYPE`); its values arrive as
//! [`Cell`]s, decoded from a binlog row image or from a snapshot query's text.

mod text;
mod values;

pub use text::parse_text;
pub use values::{json_text, value};

use crate::event::{Schema, SchemaType, Value};
use crate::sources::mysql::config::{BigintUnsignedMode, TypeModes};
use crate::sources::options::{BinaryMode, DecimalMode, TimeMode};

/// A column type, as far as the mapping cares.
#[derive(Debug, Clone, PartialEq)]
pub enum MySqlType {
    /// `bit(1)`.
    Bool,
    /// `bit(n)`, n > 1.
    Bits(u32),
    /// An integer of `bytes` bytes (1, 2, 3, 4 or 8).
    Int {
        bytes: u8,
        unsigned: bool,
    },
    Float,
    Double,
    Decimal {
        precision: u32,
        scale: u32,
    },
    Date,
    /// `datetime(fsp)`.
    DateTime(u32),
    /// `timestamp(fsp)`.
    Timestamp(u32),
    /// `time(fsp)`.
    Time(u32),
    Year,
    /// char, varchar, text types (also MariaDB's JSON, a longtext), with the column's
    /// character set when it is not UTF-8 (binlog images hold the column's own bytes).
    Text(Option<&'static encoding_rs::Encoding>),
    /// binary, varbinary, blob types; `binary(n)` pads values to `n` bytes.
    Binary {
        pad: Option<u32>,
    },
    /// MySQL's JSON type.
    Json,
    Enum(Vec<String>),
    Set(Vec<String>),
    Point,
    /// Any other spatial type.
    Geometry,
    /// A type this mapping does not know, by name: written as its text.
    Unknown(String),
}

/// A column value before conversion: from a binlog row image or a snapshot's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    UInt(u64),
    Float(f32),
    Double(f64),
    /// A decimal's text (`-12.340`).
    Decimal(String),
    /// Character or binary data, an enum or set label list read as text, MariaDB JSON.
    Bytes(&'a [u8]),
    Date {
        year: u32,
        month: u32,
        day: u32,
    },
    DateTime {
        year: u32,
        month: u32,
        day: u32,
        micros_of_day: u64,
    },
    /// Seconds and microseconds since the epoch (a `timestamp`).
    Timestamp {
        seconds: i64,
        micros: u32,
    },
    /// A `time`, in signed microseconds.
    Time(i64),
    Year(u32),
    /// A bit value, big-endian bytes.
    Bits(&'a [u8]),
    /// An enum's 1-based index (0 is the empty error value).
    Enum(u16),
    /// A set's member bits.
    Set(u64),
    /// A MySQL binary JSON value.
    JsonBinary(&'a [u8]),
}

fn named(kind: SchemaType, name: &str) -> Schema {
    Schema::new(kind).named(name).versioned(1)
}

/// The `(precision, scale)` parameters of a Decimal schema.
fn decimal_schema(precision: u32, scale: u32) -> Schema {
    named(SchemaType::Bytes, "org.apache.kafka.connect.data.Decimal")
        .parameter("scale", scale.to_string())
        .parameter("connect.decimal.precision", precision.to_string())
}

impl MySqlType {
    /// The type of a column from `information_schema.COLUMNS`: its `DATA_TYPE` (`int`,
    /// `varchar`, …), `COLUMN_TYPE` (`int(10) unsigned`, `enum('a','b')`, …) and
    /// `DATETIME_PRECISION`.
    pub fn from_catalog(
        data_type: &str,
        column_type: &str,
        fsp: Option<u32>,
        charset: Option<&str>,
    ) -> MySqlType {
        let data_type = data_type.to_ascii_lowercase();
        let column_type_lower = column_type.to_ascii_lowercase();
        let unsigned = column_type_lower.contains("unsigned");
        let args = column_type
            .find('(')
            .and_then(|start| {
                column_type[start + 1..]
                    .rfind(')')
                    .map(|end| &column_type[start + 1..start + 1 + end])
            })
            .unwrap_or("");
        let numbers: Vec<u32> = args
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect();
        let fsp = fsp.unwrap_or(0);
        match data_type.as_str() {
            "bit" => match numbers.first() {
                None | Some(1) => MySqlType::Bool,
                Some(&n) => MySqlType::Bits(n),
            },
            "tinyint" | "bool" | "boolean" => MySqlType::Int { bytes: 1, unsigned },
            "smallint" => MySqlType::Int { bytes: 2, unsigned },
            "mediumint" => MySqlType::Int { bytes: 3, unsigned },
            "int" | "integer" => MySqlType::Int { bytes: 4, unsigned },
            "bigint" => MySqlType::Int { bytes: 8, unsigned },
            "float" => MySqlType::Float,
            "double" | "real" | "double precision" => MySqlType::Double,
            "decimal" | "numeric" | "dec" | "fixed" => MySqlType::Decimal {
                precision: numbers.first().copied().unwrap_or(10),
                scale: numbers.get(1).copied().unwrap_or(0),
            },
            "date" => MySqlType::Date,
            "datetime" => MySqlType::DateTime(fsp),
            "timestamp" => MySqlType::Timestamp(fsp),
            "time" => MySqlType::Time(fsp),
            "year" => MySqlType::Year,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
                MySqlType::Text(charset.and_then(encoding))
            }
            "binary" => MySqlType::Binary {
                pad: Some(numbers.first().copied().unwrap_or(1)),
            },
            "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                MySqlType::Binary { pad: None }
            }
            "json" => MySqlType::Json,
            "enum" => MySqlType::Enum(quoted_list(args)),
            "set" => MySqlType::Set(quoted_list(args)),
            "point" => MySqlType::Point,
            "geometry" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" | "geomcollection" => MySqlType::Geometry,
            other => MySqlType::Unknown(other.to_owned()),
        }
    }

    /// True for a type this mapping does not know.
    pub fn is_unknown(&self) -> bool {
        matches!(self, MySqlType::Unknown(_))
    }

    /// The Connect schema Debezium gives a column of this type.
    pub fn schema(&self, optional: bool, modes: &TypeModes) -> Schema {
        let schema = match self {
            MySqlType::Bool => Schema::new(SchemaType::Boolean),
            MySqlType::Bits(length) => named(SchemaType::Bytes, "io.debezium.data.Bits")
                .parameter("length", length.to_string()),
            MySqlType::Int { bytes, unsigned } => match (bytes, unsigned) {
                (1, _) | (2, false) => Schema::new(SchemaType::Int16),
                (2, true) | (3, _) | (4, false) => Schema::new(SchemaType::Int32),
                (8, true) if modes.bigint_unsigned == BigintUnsignedMode::Precise => {
                    decimal_schema(20, 0)
                }
                _ => Schema::new(SchemaType::Int64),
            },
            MySqlType::Float => Schema::new(SchemaType::Float32),
            MySqlType::Double => Schema::new(SchemaType::Float64),
            MySqlType::Decimal { precision, scale } => match modes.decimal {
                DecimalMode::Precise => decimal_schema(*precision, *scale),
                DecimalMode::Double => Schema::new(SchemaType::Float64),
                DecimalMode::String => Schema::new(SchemaType::String),
            },
            MySqlType::Date => match modes.time {
                TimeMode::Connect => named(SchemaType::Int32, "org.apache.kafka.connect.data.Date"),
                _ => named(SchemaType::Int32, "io.debezium.time.Date"),
            },
            MySqlType::DateTime(fsp) => match modes.time {
                TimeMode::Connect => {
                    named(SchemaType::Int64, "org.apache.kafka.connect.data.Timestamp")
                }
                _ if *fsp <= 3 => named(SchemaType::Int64, "io.debezium.time.Timestamp"),
                _ => named(SchemaType::Int64, "io.debezium.time.MicroTimestamp"),
            },
            MySqlType::Timestamp(_) => named(SchemaType::String, "io.debezium.time.ZonedTimestamp"),
            MySqlType::Time(_) => match modes.time {
                TimeMode::Connect => named(SchemaType::Int32, "org.apache.kafka.connect.data.Time"),
                _ => named(SchemaType::Int64, "io.debezium.time.MicroTime"),
            },
            MySqlType::Year => named(SchemaType::Int32, "io.debezium.time.Year"),
            MySqlType::Text(_) | MySqlType::Unknown(_) => Schema::new(SchemaType::String),
            MySqlType::Binary { .. } => match modes.binary {
                BinaryMode::Bytes => Schema::new(SchemaType::Bytes),
                BinaryMode::Base64 | BinaryMode::Hex => Schema::new(SchemaType::String),
            },
            MySqlType::Json => named(SchemaType::String, "io.debezium.data.Json"),
            MySqlType::Enum(labels) => named(SchemaType::String, "io.debezium.data.Enum")
                .parameter("allowed", labels.join(",")),
            MySqlType::Set(labels) => named(SchemaType::String, "io.debezium.data.EnumSet")
                .parameter("allowed", labels.join(",")),
            MySqlType::Point => {
                let double = || Schema::new(SchemaType::Float64);
                let mut point = named(SchemaType::Struct, "io.debezium.data.geometry.Point")
                    .field("x", double())
                    .field("y", double())
                    .field("wkb", Schema::new(SchemaType::Bytes).optional())
                    .field("srid", Schema::new(SchemaType::Int32).optional());
                point.doc = Some("Geometry (POINT)".into());
                point
            }
            MySqlType::Geometry => {
                let mut geometry = named(SchemaType::Struct, "io.debezium.data.geometry.Geometry")
                    .field("wkb", Schema::new(SchemaType::Bytes))
                    .field("srid", Schema::new(SchemaType::Int32).optional());
                geometry.doc = Some("Geometry".into());
                geometry
            }
        };
        if optional { schema.optional() } else { schema }
    }

    /// The schema default Debezium derives from a column's `COLUMN_DEFAULT`: a constant's
    /// value for the types whose defaults it reads; nothing for `NULL`, expressions such as
    /// `current_timestamp()`, or a constant it cannot convert.
    pub fn default_value(&self, expression: Option<&str>, modes: &TypeModes) -> Option<Value> {
        let expression = expression?.trim();
        if expression.eq_ignore_ascii_case("null") {
            return None;
        }
        // MariaDB quotes string defaults ('ab'); MySQL gives the bare text.
        let literal = match expression.strip_prefix('\'') {
            Some(rest) => rest.strip_suffix('\'')?.replace("''", "'"),
            None if expression.contains('(') => return None,
            None => expression.to_owned(),
        };
        let cell = parse_text(self, literal.as_bytes()).ok()?;
        value(self, &cell, modes, true)
            .ok()
            .filter(|v| !v.is_null())
    }
}

/// The encoding of a MySQL character set other than UTF-8 (`None` for UTF-8 and ASCII, and
/// for a character set this mapping does not know, whose bytes are then read as UTF-8).
pub fn encoding(charset: &str) -> Option<&'static encoding_rs::Encoding> {
    use encoding_rs::*;
    Some(match charset.to_ascii_lowercase().as_str() {
        "utf8" | "utf8mb3" | "utf8mb4" | "ascii" | "binary" => return None,
        // MySQL's latin1 is Windows-1252.
        "latin1" => WINDOWS_1252,
        "latin2" => ISO_8859_2,
        "latin5" => WINDOWS_1254,
        "latin7" => ISO_8859_13,
        "greek" => ISO_8859_7,
        "hebrew" => ISO_8859_8,
        "cp1250" => WINDOWS_1250,
        "cp1251" => WINDOWS_1251,
        "cp1256" => WINDOWS_1256,
        "cp1257" => WINDOWS_1257,
        "cp866" => IBM866,
        "koi8r" => KOI8_R,
        "koi8u" => KOI8_U,
        "gbk" | "gb2312" => GBK,
        "gb18030" => GB18030,
        "big5" => BIG5,
        "sjis" | "cp932" => SHIFT_JIS,
        "ujis" | "eucjpms" => EUC_JP,
        "euckr" => EUC_KR,
        "ucs2" | "utf16" => UTF_16BE,
        "utf16le" => UTF_16LE,
        other => {
            tracing::warn!(
                charset = other,
                "unknown character set: its bytes are read as UTF-8"
            );
            return None;
        }
    })
}

/// The labels of `'a','b''c'` (an enum or set definition).
fn quoted_list(args: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut chars = args.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    label.push('\'');
                } else {
                    break;
                }
            } else {
                label.push(c);
            }
        }
        labels.push(label);
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_types_resolve() {
        assert_eq!(
            MySqlType::from_catalog("int", "int(10) unsigned", None, None),
            MySqlType::Int {
                bytes: 4,
                unsigned: true
            }
        );
        assert_eq!(
            MySqlType::from_catalog("enum", "enum('a','b''c')", None, None),
            MySqlType::Enum(vec!["a".into(), "b'c".into()])
        );
        assert_eq!(
            MySqlType::from_catalog("decimal", "decimal(10,3)", None, None),
            MySqlType::Decimal {
                precision: 10,
                scale: 3
            }
        );
        assert_eq!(
            MySqlType::from_catalog("bit", "bit(12)", None, None),
            MySqlType::Bits(12)
        );
        assert_eq!(
            MySqlType::from_catalog("binary", "binary(4)", None, None),
            MySqlType::Binary { pad: Some(4) }
        );
        assert_eq!(
            MySqlType::from_catalog("datetime", "datetime(6)", Some(6), None),
            MySqlType::DateTime(6)
        );
        assert!(MySqlType::from_catalog("vector", "vector(3)", None, None).is_unknown());
        assert_eq!(
            MySqlType::from_catalog("varchar", "varchar(5)", None, Some("latin1")),
            MySqlType::Text(Some(encoding_rs::WINDOWS_1252))
        );
    }

    #[test]
    fn schemas_match_debezium() {
        let m = TypeModes::default();
        assert_eq!(
            MySqlType::Decimal {
                precision: 10,
                scale: 3
            }
            .schema(true, &m)
            .json(),
            r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"3","connect.decimal.precision":"10"}}"#
        );
        assert_eq!(
            MySqlType::Set(vec!["a".into(), "b".into()])
                .schema(true, &m)
                .json(),
            r#"{"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"parameters":{"allowed":"a,b"}}"#
        );
        let precise = TypeModes {
            bigint_unsigned: BigintUnsignedMode::Precise,
            ..m
        };
        assert_eq!(
            MySqlType::Int {
                bytes: 8,
                unsigned: true
            }
            .schema(false, &precise)
            .kind,
            SchemaType::Bytes
        );
    }

    #[test]
    fn defaults_follow_debezium() {
        let m = TypeModes::default();
        let int = MySqlType::Int {
            bytes: 4,
            unsigned: false,
        };
        assert_eq!(int.default_value(Some("42"), &m), Some(Value::Int32(42)));
        assert_eq!(int.default_value(Some("NULL"), &m), None);
        assert_eq!(
            MySqlType::Text(None).default_value(Some("'it''s'"), &m),
            Some(Value::String("it's".into()))
        );
        assert_eq!(
            MySqlType::Timestamp(0).default_value(Some("current_timestamp()"), &m),
            None
        );
        assert_eq!(
            MySqlType::Decimal {
                precision: 10,
                scale: 3
            }
            .default_value(Some("1.500"), &m),
            Some(Value::Bytes(vec![0x05, 0xdc]))
        );
    }
}
