//! Postgres column types mapped to Kafka Connect schemas and values the way Debezium's
//! Postgres connector maps them, from the types' text output (what `pgoutput` sends in text
//! mode and what `COPY … TO STDOUT` writes). Sessions use [`SESSION_OPTIONS`] so the text is
//! unambiguous (ISO dates, UTC, round-tripping floats, ISO 8601 intervals, hex bytea).
//!
//! [`SESSION_OPTIONS`]: super::catalog::SESSION_OPTIONS

mod temporal;
mod values;

use std::sync::Arc;

use super::catalog::TypeRegistry;
use crate::event::{Schema, SchemaType, Value};
pub use crate::sources::options::{BinaryMode, DecimalMode, TimeMode};

/// How Debezium represents some types (`decimal.handling.mode`, `time.precision.mode`,
/// `binary.handling.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeOptions {
    pub decimal: DecimalMode,
    pub time: TimeMode,
    pub binary: BinaryMode,
    /// Values read by a snapshot. Debezium reads those through JDBC, which renders the date
    /// infinities as other numbers than its streaming path does; Tidemark matches both.
    pub snapshot: bool,
}

impl Default for TypeOptions {
    fn default() -> TypeOptions {
        TypeOptions {
            decimal: DecimalMode::Precise,
            time: TimeMode::Adaptive,
            binary: BinaryMode::Bytes,
            snapshot: false,
        }
    }
}

/// The placeholder Debezium writes for an unchanged TOAST value it was not sent.
pub const UNAVAILABLE: &str = "__debezium_unavailable_value";

/// A Postgres type, as far as the mapping cares.
#[derive(Debug, Clone, PartialEq)]
pub enum PgType {
    Int2,
    Int4,
    Int8,
    /// `oid`, as an int64.
    Oid,
    Float4,
    Float8,
    /// `numeric(precision, scale)`; `None` when declared without them.
    Numeric(Option<(u32, u32)>),
    Money,
    Bool,
    /// text, varchar, char, name, "char", and types Debezium writes as plain strings
    /// (inet, cidr, macaddr, macaddr8, citext, ltree, …).
    Text,
    Bytea,
    Date,
    /// `time(p)`; precision defaults to 6.
    Time(u32),
    TimeTz,
    /// `timestamp(p)`; precision defaults to 6.
    Timestamp(u32),
    /// `timestamptz(p)`; precision defaults to 6.
    TimestampTz(u32),
    Interval,
    Uuid,
    Json,
    Xml,
    /// `bit(1)`.
    Bit1,
    /// `bit(n)` and `varbit(n)`, with the declared length.
    Bits(u32),
    Hstore,
    Point,
    /// A string with a Debezium semantic name (`tsvector`, `ltree`).
    NamedString(&'static str),
    /// An enum with its labels.
    Enum(Vec<String>),
    /// A one-dimensional array of an element type.
    Array(Box<PgType>),
    /// A type this mapping does not know, by name: written as its text.
    Unknown(String),
}

/// Type OIDs of the built-in types (`pg_type.dat`).
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const XML: u32 = 142;
    pub const POINT: u32 = 600;
    pub const CIDR: u32 = 650;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const MACADDR8: u32 = 774;
    pub const MONEY: u32 = 790;
    pub const MACADDR: u32 = 829;
    pub const INET: u32 = 869;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
    pub const TSVECTOR: u32 = 3614;

    /// Types whose column defaults Debezium reads (others never get a schema default).
    pub const WITH_DEFAULTS: &[u32] = &[
        BOOL,
        BPCHAR,
        VARCHAR,
        TEXT,
        NUMERIC,
        FLOAT4,
        FLOAT8,
        INT2,
        INT4,
        INT8,
        JSON,
        JSONB,
        XML,
        UUID,
        DATE,
        TIME,
        TIMESTAMP,
        TIMESTAMPTZ,
        INTERVAL,
        BIT,
        VARBIT,
    ];
}

impl PgType {
    /// The type of a column from its type OID and modifier (`atttypmod`), resolving enums,
    /// domains, arrays and extension types through the database's types.
    pub fn resolve(type_oid: u32, modifier: i32, types: &TypeRegistry) -> PgType {
        PgType::resolve_depth(type_oid, modifier, types, 0)
    }

    fn resolve_depth(type_oid: u32, modifier: i32, types: &TypeRegistry, depth: u32) -> PgType {
        if let Some(builtin) = PgType::builtin(type_oid, modifier) {
            return builtin;
        }
        let Some(info) = types.get(type_oid) else {
            return PgType::Unknown(format!("oid {type_oid}"));
        };
        if depth > 8 {
            return PgType::Unknown(info.name.clone());
        }
        match info.kind {
            b'e' => PgType::Enum(info.labels.clone()),
            b'd' => {
                let modifier = if modifier >= 0 {
                    modifier
                } else {
                    info.base_modifier
                };
                PgType::resolve_depth(info.base, modifier, types, depth + 1)
            }
            _ if info.category == b'A' && info.element != 0 => PgType::Array(Box::new(
                PgType::resolve_depth(info.element, modifier, types, depth + 1),
            )),
            b'r' | b'm' => PgType::Text,
            _ => match info.name.as_str() {
                "hstore" => PgType::Hstore,
                "ltree" => PgType::NamedString("io.debezium.data.Ltree"),
                "citext" | "isbn" | "isbn13" | "issn" | "ean13" => PgType::Text,
                other => PgType::Unknown(other.to_owned()),
            },
        }
    }

    fn builtin(type_oid: u32, modifier: i32) -> Option<PgType> {
        let precision = |default: u32| {
            if modifier >= 0 {
                modifier as u32
            } else {
                default
            }
        };
        Some(match type_oid {
            oid::INT2 => PgType::Int2,
            oid::INT4 => PgType::Int4,
            oid::INT8 => PgType::Int8,
            oid::OID => PgType::Oid,
            oid::FLOAT4 => PgType::Float4,
            oid::FLOAT8 => PgType::Float8,
            oid::NUMERIC => PgType::Numeric(if modifier >= 4 {
                let m = (modifier - 4) as u32;
                Some((m >> 16, m & 0xffff))
            } else {
                None
            }),
            oid::MONEY => PgType::Money,
            oid::BOOL => PgType::Bool,
            oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::CHAR => PgType::Text,
            oid::INET | oid::CIDR | oid::MACADDR | oid::MACADDR8 => PgType::Text,
            oid::BYTEA => PgType::Bytea,
            oid::DATE => PgType::Date,
            oid::TIME => PgType::Time(precision(6)),
            oid::TIMETZ => PgType::TimeTz,
            oid::TIMESTAMP => PgType::Timestamp(precision(6)),
            oid::TIMESTAMPTZ => PgType::TimestampTz(precision(6)),
            oid::TSVECTOR => PgType::NamedString("io.debezium.data.Tsvector"),
            oid::INTERVAL => PgType::Interval,
            oid::UUID => PgType::Uuid,
            oid::JSON | oid::JSONB => PgType::Json,
            oid::XML => PgType::Xml,
            oid::BIT | oid::VARBIT if modifier == 1 => PgType::Bit1,
            oid::BIT | oid::VARBIT => PgType::Bits(if modifier > 0 {
                modifier as u32
            } else {
                i32::MAX as u32
            }),
            oid::POINT => PgType::Point,
            _ => return None,
        })
    }

    /// True for a type this mapping does not know.
    pub fn is_unknown(&self) -> bool {
        match self {
            PgType::Unknown(_) => true,
            PgType::Array(element) => element.is_unknown(),
            _ => false,
        }
    }

    /// The Connect schema Debezium gives a column of this type.
    pub fn schema(&self, optional: bool, options: &TypeOptions) -> Schema {
        let schema = match self {
            PgType::Int2 => Schema::new(SchemaType::Int16),
            PgType::Int4 => Schema::new(SchemaType::Int32),
            PgType::Int8 | PgType::Oid => Schema::new(SchemaType::Int64),
            PgType::Float4 => Schema::new(SchemaType::Float32),
            PgType::Float8 => Schema::new(SchemaType::Float64),
            PgType::Numeric(spec) => decimal_schema(*spec, options),
            PgType::Money => match options.decimal {
                DecimalMode::Precise => Schema::new(SchemaType::Bytes)
                    .named("org.apache.kafka.connect.data.Decimal")
                    .versioned(1)
                    .parameter("scale", "2"),
                _ => decimal_schema(None, options),
            },
            PgType::Bool | PgType::Bit1 => Schema::new(SchemaType::Boolean),
            PgType::Text | PgType::Unknown(_) => Schema::new(SchemaType::String),
            PgType::Bytea => match options.binary {
                BinaryMode::Bytes => Schema::new(SchemaType::Bytes),
                BinaryMode::Base64 | BinaryMode::Hex => Schema::new(SchemaType::String),
            },
            PgType::Date => match options.time {
                TimeMode::Connect => named(SchemaType::Int32, "org.apache.kafka.connect.data.Date"),
                _ => named(SchemaType::Int32, "io.debezium.time.Date"),
            },
            PgType::Time(p) => match options.time {
                TimeMode::Connect => named(SchemaType::Int32, "org.apache.kafka.connect.data.Time"),
                TimeMode::Adaptive if *p <= 3 => named(SchemaType::Int32, "io.debezium.time.Time"),
                _ => named(SchemaType::Int64, "io.debezium.time.MicroTime"),
            },
            PgType::Timestamp(p) => match options.time {
                TimeMode::Connect => {
                    named(SchemaType::Int64, "org.apache.kafka.connect.data.Timestamp")
                }
                _ if *p <= 3 => named(SchemaType::Int64, "io.debezium.time.Timestamp"),
                _ => named(SchemaType::Int64, "io.debezium.time.MicroTimestamp"),
            },
            PgType::TimeTz => named(SchemaType::String, "io.debezium.time.ZonedTime"),
            PgType::TimestampTz(_) => named(SchemaType::String, "io.debezium.time.ZonedTimestamp"),
            PgType::NamedString(name) => named(SchemaType::String, name),
            PgType::Interval => named(SchemaType::Int64, "io.debezium.time.MicroDuration"),
            PgType::Uuid => named(SchemaType::String, "io.debezium.data.Uuid"),
            PgType::Json | PgType::Hstore => named(SchemaType::String, "io.debezium.data.Json"),
            PgType::Xml => named(SchemaType::String, "io.debezium.data.Xml"),
            PgType::Bits(length) => named(SchemaType::Bytes, "io.debezium.data.Bits")
                .parameter("length", length.to_string()),
            PgType::Enum(labels) => named(SchemaType::String, "io.debezium.data.Enum")
                .parameter("allowed", labels.join(",")),
            PgType::Point => {
                let double = || Schema::new(SchemaType::Float64);
                let mut point = named(SchemaType::Struct, "io.debezium.data.geometry.Point")
                    .field("x", double())
                    .field("y", double())
                    .field("wkb", Schema::new(SchemaType::Bytes).optional())
                    .field("srid", Schema::new(SchemaType::Int32).optional());
                point.doc = Some("Geometry (POINT)".into());
                point
            }
            // Debezium makes enum elements required, every other element optional.
            PgType::Array(element) => Schema::array(Arc::new(
                element.schema(!matches!(**element, PgType::Enum(_)), options),
            )),
        };
        if optional { schema.optional() } else { schema }
    }

    /// Converts a value's text to the Connect value of [`PgType::schema`].
    pub fn value(&self, text: &str, options: &TypeOptions) -> Result<Value, String> {
        values::value(self, text, options)
    }

    /// The value Debezium writes for an unchanged TOAST value the server did not send.
    pub fn unavailable(&self, options: &TypeOptions) -> Value {
        match self.schema(true, options).kind {
            SchemaType::Bytes => Value::Bytes(UNAVAILABLE.as_bytes().to_vec()),
            SchemaType::Array => Value::Array(vec![Value::String(UNAVAILABLE.into())]),
            _ => Value::String(UNAVAILABLE.into()),
        }
    }

    /// The `default` Debezium puts in the schema of a column of type `type_oid` with the
    /// default expression `expression`: a constant's value; for a function call such as
    /// `nextval(…)` or `now()`, the type's zero; nothing for `NULL`, for types whose defaults
    /// Debezium does not read, or for a constant it cannot convert.
    pub fn default_value(
        &self,
        type_oid: u32,
        types: &TypeRegistry,
        expression: Option<&str>,
        options: &TypeOptions,
    ) -> Option<Value> {
        let expression = expression?;
        let supported = oid::WITH_DEFAULTS.contains(&type_oid)
            || types.get(type_oid).is_some_and(|t| t.kind == b'e');
        if !supported {
            return None;
        }
        let text = match values::default_literal(expression) {
            Some(Some(text)) => text.trim().to_owned(),
            Some(None) => return None,
            None => self.function_default()?.to_owned(),
        };
        let text = match self {
            PgType::Timestamp(_) if !text.contains(' ') => format!("{text} 00:00:00"),
            PgType::TimestampTz(_) if !text.contains(' ') => format!("{text} 00:00:00+00"),
            _ => text,
        };
        self.value(&text, options).ok().filter(|v| !v.is_null())
    }

    /// The text Debezium substitutes for a default computed by a function.
    fn function_default(&self) -> Option<&'static str> {
        Some(match self {
            PgType::Int2 | PgType::Int4 | PgType::Int8 => "0",
            PgType::Numeric(_) | PgType::Float4 | PgType::Float8 => "0.0",
            PgType::Bool => "false",
            PgType::Text | PgType::Xml => "",
            PgType::Json => "{}",
            PgType::Uuid => "00000000-0000-0000-0000-000000000000",
            PgType::Date | PgType::Timestamp(_) | PgType::TimestampTz(_) => "1970-01-01",
            PgType::Time(_) => "00:00:00",
            PgType::Interval => "PT0S",
            PgType::Bit1 => "0",
            PgType::Bits(_) => "0",
            _ => return None,
        })
    }

    /// The value a NOT NULL column takes when the server sends no value for it (a key-only
    /// old row): its schema default, else the type's zero, as Debezium falls back.
    pub fn required_fallback(&self, default: Option<&Value>, options: &TypeOptions) -> Value {
        default
            .cloned()
            .or_else(|| values::zero(&self.schema(false, options)))
            .unwrap_or(Value::Null)
    }
}

fn named(kind: SchemaType, name: &str) -> Schema {
    Schema::new(kind).named(name).versioned(1)
}

fn decimal_schema(spec: Option<(u32, u32)>, options: &TypeOptions) -> Schema {
    match (options.decimal, spec) {
        (DecimalMode::Double, _) => Schema::new(SchemaType::Float64),
        (DecimalMode::String, _) => Schema::new(SchemaType::String),
        (DecimalMode::Precise, Some((precision, scale))) => {
            let schema = named(SchemaType::Bytes, "org.apache.kafka.connect.data.Decimal")
                .parameter("scale", scale.to_string());
            if precision > 0 {
                schema.parameter("connect.decimal.precision", precision.to_string())
            } else {
                schema
            }
        }
        (DecimalMode::Precise, None) => {
            let mut schema = named(SchemaType::Struct, "io.debezium.data.VariableScaleDecimal")
                .field("scale", Schema::new(SchemaType::Int32))
                .field("value", Schema::new(SchemaType::Bytes));
            schema.doc = Some("Variable scaled decimal".into());
            schema
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog::TypeInfo;
    use super::*;

    fn registry() -> TypeRegistry {
        let base = |oid, name: &str, kind, category| TypeInfo {
            oid,
            name: name.into(),
            kind,
            base: 0,
            base_modifier: -1,
            element: 0,
            category,
            labels: Vec::new(),
        };
        TypeRegistry::from_types([
            TypeInfo {
                labels: vec!["sad".into(), "ok".into()],
                ..base(90001, "mood", b'e', b'E')
            },
            TypeInfo {
                base: 1700,
                base_modifier: ((10 << 16) | 2) + 4,
                ..base(90002, "money2", b'd', b'N')
            },
            TypeInfo {
                element: 90001,
                ..base(90003, "_mood", b'b', b'A')
            },
            base(90004, "hstore", b'b', b'U'),
            base(90005, "tsvector", b'b', b'U'),
        ])
    }

    #[test]
    fn resolves_enums_domains_arrays_and_extensions() {
        let r = registry();
        assert_eq!(
            PgType::resolve(90001, -1, &r),
            PgType::Enum(vec!["sad".into(), "ok".into()])
        );
        assert_eq!(
            PgType::resolve(90002, -1, &r),
            PgType::Numeric(Some((10, 2)))
        );
        assert_eq!(
            PgType::resolve(90003, -1, &r),
            PgType::Array(Box::new(PgType::Enum(vec!["sad".into(), "ok".into()])))
        );
        assert_eq!(PgType::resolve(90004, -1, &r), PgType::Hstore);
        assert!(PgType::resolve(90005, -1, &r).is_unknown());
        assert!(PgType::resolve(12345678, -1, &r).is_unknown());
        assert_eq!(PgType::resolve(1560, 1, &r), PgType::Bit1);
        assert_eq!(PgType::resolve(1560, 8, &r), PgType::Bits(8));
    }

    #[test]
    fn schemas_match_debezium() {
        let o = TypeOptions::default();
        assert_eq!(
            PgType::Numeric(Some((12, 2))).schema(true, &o).json(),
            r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"12"}}"#
        );
        assert_eq!(
            PgType::Numeric(None).schema(true, &o).json(),
            r#"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":true,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal"}"#
        );
        assert_eq!(
            PgType::Point.schema(true, &o).json(),
            r#"{"type":"struct","fields":[{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":true,"name":"io.debezium.data.geometry.Point","version":1,"doc":"Geometry (POINT)"}"#
        );
    }

    #[test]
    fn defaults_follow_debezium() {
        let o = TypeOptions::default();
        let r = registry();
        let d = |t: PgType, oid: u32, e: &str| t.default_value(oid, &r, Some(e), &o);
        assert_eq!(
            d(PgType::Int4, 23, "nextval('t_id_seq'::regclass)"),
            Some(Value::Int32(0))
        );
        assert_eq!(
            d(PgType::Text, 25, "'x'::text"),
            Some(Value::String("x".into()))
        );
        assert_eq!(d(PgType::Int4, 23, "42"), Some(Value::Int32(42)));
        assert_eq!(d(PgType::Int4, 23, "'-1'::integer"), Some(Value::Int32(-1)));
        assert_eq!(d(PgType::Text, 25, "NULL::text"), None);
        assert_eq!(
            d(PgType::TimestampTz(6), 1184, "now()"),
            Some(Value::String("1970-01-01T00:00:00.000000Z".into()))
        );
        assert_eq!(
            d(PgType::Enum(vec!["sad".into()]), 90001, "'sad'::mood"),
            Some(Value::String("sad".into()))
        );
        // money, inet and domains never get a default
        assert_eq!(d(PgType::Money, 790, "0"), None);
        assert_eq!(d(PgType::Text, 869, "'1.2.3.4'::inet"), None);
        assert_eq!(d(PgType::Numeric(Some((10, 2))), 90002, "0"), None);
        assert_eq!(PgType::Int4.default_value(23, &r, None, &o), None);
    }

    #[test]
    fn toast_placeholders_fit_the_schema() {
        let o = TypeOptions::default();
        assert_eq!(
            PgType::Text.unavailable(&o),
            Value::String(UNAVAILABLE.into())
        );
        assert_eq!(
            PgType::Bytea.unavailable(&o),
            Value::Bytes(UNAVAILABLE.as_bytes().to_vec())
        );
    }
}
