//! Converting one timestamp between Connect's representations, through milliseconds since
//! the epoch as `TimestampConverter` does (sub-millisecond precision is lost).

use connect_common::logical::{
    Logical, MILLIS_PER_DAY, date_schema, logical, plain_schema, time_schema, timestamp_schema,
};
use connect_common::structs::{java_class, type_name};
use tidemark_sdk::{Schema, SchemaType, Value};

use crate::parse::parse;
use crate::pattern::Pattern;

/// A timestamp representation (`target.type`, or what a schema or value says it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text in the `format` pattern.
    String,
    /// An int64 count of `unix.precision` units since the epoch.
    Unix,
    /// Connect `Date`: int32 days.
    Date,
    /// Connect `Time`: int32 milliseconds of the day.
    Time,
    /// Connect `Timestamp`: int64 milliseconds.
    Timestamp,
}

impl Kind {
    /// Reads a `target.type` value.
    pub fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            "Timestamp" => Kind::Timestamp,
            _ => return None,
        })
    }

    /// What a schema holds, as Connect judges it: its logical type, else a string is text
    /// in the pattern and an int64 a Unix time (so Debezium's `MicroTimestamp`, an int64, is
    /// read in `unix.precision` units, milliseconds by default).
    pub fn of_schema(schema: &Schema) -> Result<Kind, String> {
        match (logical(schema), schema.kind) {
            (Some(Logical::Timestamp), _) => Ok(Kind::Timestamp),
            (Some(Logical::Date), _) => Ok(Kind::Date),
            (Some(Logical::Time), _) => Ok(Kind::Time),
            (_, SchemaType::String) => Ok(Kind::String),
            (_, SchemaType::Int64) => Ok(Kind::Unix),
            _ => Err(format!(
                "Schema {} does not correspond to a known timestamp type format",
                describe(schema)
            )),
        }
    }

    /// What a schemaless value holds: an int64 is a Unix time, a string text in the pattern.
    pub fn of_value(value: &Value) -> Result<Kind, String> {
        match value {
            Value::Int64(_) => Ok(Kind::Unix),
            Value::String(_) => Ok(Kind::String),
            other => Err(format!(
                "TimestampConverter does not support class {} objects as timestamps",
                java_class(other)
            )),
        }
    }

    /// The schema of this representation (`optional` as the schema it replaces).
    pub fn schema(self, optional: bool) -> Schema {
        match self {
            Kind::String => plain_schema(SchemaType::String, optional),
            Kind::Unix => plain_schema(SchemaType::Int64, optional),
            Kind::Date => date_schema(optional),
            Kind::Time => time_schema(optional),
            Kind::Timestamp => timestamp_schema(optional),
        }
    }
}

/// A schema as Connect's `ConnectSchema.toString` prints it: `Schema{name:TYPE}`.
fn describe(schema: &Schema) -> String {
    let name = schema
        .name
        .as_deref()
        .map(|n| format!("{n}:"))
        .unwrap_or_default();
    format!("Schema{{{name}{}}}", type_name(schema.kind))
}

/// `unix.precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl Precision {
    /// Reads a `unix.precision` value.
    pub fn parse(text: &str) -> Option<Precision> {
        Some(match text {
            "seconds" => Precision::Seconds,
            "milliseconds" => Precision::Milliseconds,
            "microseconds" => Precision::Microseconds,
            "nanoseconds" => Precision::Nanoseconds,
            _ => return None,
        })
    }

    /// Units to milliseconds: finer units truncate toward zero, seconds saturate (Java's
    /// `TimeUnit`).
    fn to_millis(self, units: i64) -> i64 {
        match self {
            Precision::Seconds => units.saturating_mul(1000),
            Precision::Milliseconds => units,
            Precision::Microseconds => units / 1000,
            Precision::Nanoseconds => units / 1_000_000,
        }
    }

    /// Milliseconds to units.
    fn units_of(self, millis: i64) -> i64 {
        match self {
            Precision::Seconds => millis / 1000,
            Precision::Milliseconds => millis,
            Precision::Microseconds => millis.saturating_mul(1000),
            Precision::Nanoseconds => millis.saturating_mul(1_000_000),
        }
    }
}

/// The conversion settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Converter {
    pub target: Kind,
    pub format: Option<Pattern>,
    pub precision: Precision,
    /// Start of the hundred years two-digit years fall in (milliseconds since the epoch).
    pub century_start: i64,
}

impl Converter {
    /// Converts `value`, held as `from`, to the target representation; null stays null.
    pub fn convert(&self, value: &Value, from: Kind) -> Result<Value, String> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let millis = self.to_millis(value, from)?;
        Ok(self.to_target(millis))
    }

    fn to_millis(&self, value: &Value, from: Kind) -> Result<i64, String> {
        let found = || java_class(value);
        match (from, value) {
            (Kind::String, Value::String(text)) => {
                let format = self
                    .format
                    .as_ref()
                    .ok_or("setting 'format' is needed to read string timestamps")?;
                parse(format, text, self.century_start)
            }
            (Kind::String, _) => Err(format!(
                "Expected string timestamp to be a String, but found class {}",
                found()
            )),
            (Kind::Unix, Value::Int64(units)) => Ok(self.precision.to_millis(*units)),
            (Kind::Unix, _) => Err(format!(
                "Expected Unix timestamp to be a Long, but found class {}",
                found()
            )),
            (Kind::Date, Value::Int32(days)) => Ok(i64::from(*days) * MILLIS_PER_DAY),
            (Kind::Time, Value::Int32(millis)) => Ok(i64::from(*millis)),
            (Kind::Timestamp, Value::Int64(millis)) => Ok(*millis),
            (kind, _) => Err(format!(
                "Expected {kind:?} to be a java.util.Date, but found class {}",
                found()
            )),
        }
    }

    fn to_target(&self, millis: i64) -> Value {
        match self.target {
            // The configuration guarantees a format for string targets.
            Kind::String => Value::String(
                self.format
                    .as_ref()
                    .map_or_else(String::new, |f| f.format(millis)),
            ),
            Kind::Unix => Value::Int64(self.precision.units_of(millis)),
            // Connect's Date keeps the UTC day, cast to int as Java does.
            Kind::Date => Value::Int32(millis.div_euclid(MILLIS_PER_DAY) as i32),
            Kind::Time => Value::Int32(millis.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Int64(millis),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_common::logical::DATE;

    fn converter(target: Kind, format: Option<&str>, precision: Precision) -> Converter {
        Converter {
            target,
            format: format.map(|f| Pattern::compile(f).unwrap()),
            precision,
            century_start: 0,
        }
    }

    #[test]
    fn kinds_from_schemas_follow_connect() {
        assert_eq!(
            Kind::of_schema(&timestamp_schema(true)),
            Ok(Kind::Timestamp)
        );
        assert_eq!(Kind::of_schema(&date_schema(false)), Ok(Kind::Date));
        let micro = Schema::new(SchemaType::Int64).named("io.debezium.time.MicroTimestamp");
        assert_eq!(Kind::of_schema(&micro), Ok(Kind::Unix));
        let zoned = Schema::new(SchemaType::String).named("io.debezium.time.ZonedTimestamp");
        assert_eq!(Kind::of_schema(&zoned), Ok(Kind::String));
        let dbz_date = Schema::new(SchemaType::Int32).named("io.debezium.time.Date");
        assert!(
            Kind::of_schema(&dbz_date)
                .unwrap_err()
                .contains("io.debezium.time.Date")
        );
        assert!(Kind::of_schema(&Schema::new(SchemaType::Int64).named(DATE)).is_ok());
        assert!(
            Kind::of_value(&Value::Float64(1.0))
                .unwrap_err()
                .contains("Double")
        );
    }

    #[test]
    fn unix_precision_applies_both_ways() {
        let micros = 1_704_164_645_123_456;
        let c = converter(
            Kind::String,
            Some("yyyy-MM-dd HH:mm:ss.SSS"),
            Precision::Microseconds,
        );
        assert_eq!(
            c.convert(&Value::Int64(micros), Kind::Unix),
            Ok("2024-01-02 03:04:05.123".into())
        );
        // Connect's default reads a MicroTimestamp as milliseconds.
        let c = converter(
            Kind::String,
            Some("yyyy-MM-dd HH:mm:ss"),
            Precision::Milliseconds,
        );
        assert_eq!(
            c.convert(&Value::Int64(micros), Kind::Unix),
            Ok("55972-10-29 20:05:23".into())
        );
        let c = converter(Kind::Unix, None, Precision::Nanoseconds);
        assert_eq!(
            c.convert(&Value::Int64(5), Kind::Timestamp),
            Ok(Value::Int64(5_000_000))
        );
        let c = converter(Kind::Unix, None, Precision::Seconds);
        assert_eq!(
            c.convert(&Value::Int64(-1500), Kind::Timestamp),
            Ok(Value::Int64(-1))
        );
        assert_eq!(
            c.convert(&Value::Int64(i64::MAX / 10), Kind::Unix),
            Ok(Value::Int64(i64::MAX / 1000))
        );
    }

    #[test]
    fn dates_and_times_split_the_utc_day() {
        let c = converter(Kind::Date, None, Precision::Milliseconds);
        assert_eq!(
            c.convert(&Value::Int64(-1), Kind::Timestamp),
            Ok(Value::Int32(-1))
        );
        assert_eq!(
            c.convert(&Value::Int64(1_704_164_645_123), Kind::Unix),
            Ok(Value::Int32(19_724))
        );
        let c = converter(Kind::Time, None, Precision::Milliseconds);
        assert_eq!(
            c.convert(&Value::Int64(-1), Kind::Timestamp),
            Ok(Value::Int32(86_399_999))
        );
        let c = converter(Kind::Timestamp, None, Precision::Milliseconds);
        assert_eq!(
            c.convert(&Value::Int32(2), Kind::Date),
            Ok(Value::Int64(2 * MILLIS_PER_DAY))
        );
        assert_eq!(c.convert(&Value::Null, Kind::Date), Ok(Value::Null));
        let c = converter(Kind::Timestamp, Some("yyyy-MM-dd"), Precision::Milliseconds);
        assert_eq!(
            c.convert(&"2024-01-02".into(), Kind::String),
            Ok(Value::Int64(1_704_153_600_000))
        );
        assert!(
            c.convert(&Value::Int32(1), Kind::Unix)
                .unwrap_err()
                .contains("Long")
        );
    }
}
