//! `timestamp-converter`: Kafka Connect's
//! `org.apache.kafka.connect.transforms.TimestampConverter$Key` and `$Value` (the host passes
//! `part=key` or `part=value`; without it, the value).
//!
//! Settings: `target.type` (`string`, `unix`, `Date`, `Time` or `Timestamp`), `field` (a
//! top-level field; empty, the default, converts the whole key or value), `format` (a Java
//! `SimpleDateFormat` pattern, needed for `string` targets and to read strings),
//! `unix.precision` (`seconds`, `milliseconds` (default), `microseconds`, `nanoseconds`: the
//! unit of Unix times read and written), `replace.null.with.default` (default true).
//!
//! What a field holds is judged from its schema as Connect does: Connect `Timestamp`, `Date`
//! and `Time`, else any string is text in `format` and any int64 a Unix time. So Debezium's
//! `io.debezium.time.MicroTimestamp` and `NanoTimestamp` (int64) are read in `unix.precision`
//! units, milliseconds unless set (as in Connect: a `MicroTimestamp` then reads as a date
//! thousands of years ahead; set `unix.precision=microseconds`), `ZonedTimestamp` (string) is
//! parsed with `format`, and int32 types such as `io.debezium.time.Date` are refused.
//! Everything passes through milliseconds since the epoch in UTC: finer precision is lost.
//! Patterns support every `SimpleDateFormat` letter for formatting (English names, UTC);
//! parsing is lenient like Java's (text after the pattern is ignored, `.SSS` takes all digits
//! as milliseconds, month 13 rolls over), but the week-based letters `Y`, `w`, `W`, `F` cannot
//! be parsed and zone names are limited to UTC/GMT and the common US and central European
//! abbreviations. Two-digit years land within 80 years before and 20 after the current time
//! (2025-01-01 when the plugin's clock is not granted). The converted field's schema is the
//! target type's, optional if the field was; the struct keeps its name, optionality and
//! default.
//!
//! A null key or value passes unchanged; a null field stays null. Where Connect fails a record
//! (a schema type that is not a timestamp, text that does not match, a schemaless `Date`,
//! `Time` or `Timestamp` result, which `JsonConverter` cannot write), the record fails: the
//! host applies `errors.tolerance` (stop, or dead-letter queue).

mod convert;
mod parse;
mod pattern;

use std::rc::Rc;

use connect_common::cache::IdCache;
use connect_common::calendar::{DateTime, days_from_civil};
use connect_common::logical::MILLIS_PER_DAY;
use connect_common::operand::{self, Rewrite};
use connect_common::settings;
use connect_common::structs::{
    check_put, field_value, map_get, map_put, require_map, require_struct, struct_basics,
};
use tidemark_sdk::{
    Config, ConfigDef, Data, Importance, Key, KeyType, Outcome, Part, Record, Schema, Transform,
    Value, export_transform,
};

pub use convert::{Converter, Kind, Precision};
pub use pattern::Pattern;

const PURPOSE: &str = "converting timestamp formats";

/// What TimestampConverter makes of a schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The whole key or value is converted: what it holds, and the new schema.
    Whole {
        from: Result<Kind, String>,
        schema: Schema,
    },
    /// One field of a struct is converted.
    Field(FieldPlan),
}

/// The conversion of one struct field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPlan {
    input: Schema,
    updated: Schema,
    /// The converted field's position and what it holds (absent: nothing to convert).
    target: Option<(usize, Result<Kind, String>)>,
}

/// The settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    field: String,
    converter: Converter,
    replace_null_with_default: bool,
}

impl Conversion {
    /// Plans the conversion of values of `schema`.
    pub fn plan(&self, schema: Schema) -> Result<Plan, String> {
        if self.field.is_empty() {
            return Ok(Plan::Whole {
                from: Kind::of_schema(&schema),
                schema: self.converter.target.schema(schema.optional),
            });
        }
        let mut updated = struct_basics(&schema);
        updated.optional = schema.optional;
        let mut target = None;
        for (i, (name, field)) in schema.fields.iter().enumerate() {
            if *name == self.field {
                target = Some((i, Kind::of_schema(field)));
                let converted = self.converter.target.schema(field.optional);
                updated.fields.push((name.clone(), converted));
            } else {
                updated.fields.push((name.clone(), field.clone()));
            }
        }
        let mut plan = FieldPlan {
            input: schema,
            updated,
            target,
        };
        if let Some(Value::Struct(values)) = &plan.input.default {
            let converted = self.convert_struct(&plan, values)?;
            plan.updated.default = Some(Value::Struct(converted));
        }
        Ok(Plan::Field(plan))
    }

    /// The values of a struct with its field converted.
    pub fn convert_struct(&self, plan: &FieldPlan, values: &[Value]) -> Result<Vec<Value>, String> {
        let fields = plan.input.fields.iter().zip(&plan.updated.fields);
        fields
            .zip(values)
            .enumerate()
            .map(|(i, (((name, field_schema), (_, new_schema)), value))| {
                let value = field_value(value, field_schema, self.replace_null_with_default);
                let value = match &plan.target {
                    Some((at, from)) if *at == i => {
                        self.converter.convert(&value, from.clone()?)?
                    }
                    _ => value,
                };
                check_put(name, new_schema, &value)?;
                Ok(value)
            })
            .collect()
    }

    /// A schemaless map with its field converted (a missing field is added as null).
    pub fn convert_map(&self, entries: &[(Value, Value)]) -> Result<Vec<(Value, Value)>, String> {
        let mut out = entries.to_vec();
        let value = map_get(entries, &self.field).unwrap_or(&Value::Null);
        map_put(&mut out, &self.field, self.convert_schemaless(value)?);
        Ok(out)
    }

    /// A schemaless value converted by what it holds. A `Date`, `Time` or `Timestamp` has no
    /// schemaless form in JSON, so Connect's `JsonConverter` fails on it.
    pub fn convert_schemaless(&self, value: &Value) -> Result<Value, String> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let converted = self.converter.convert(value, Kind::of_value(value)?)?;
        match self.converter.target {
            Kind::String | Kind::Unix => Ok(converted),
            _ => Err(
                "Java class class java.util.Date does not have corresponding schema type \
                      (a schemaless Date, Time or Timestamp cannot be written)"
                    .into(),
            ),
        }
    }
}

/// The TimestampConverter transform.
#[derive(Debug)]
pub struct TimestampConverter {
    part: Part,
    conversion: Conversion,
    plans: IdCache<Rc<Plan>>,
}

impl TimestampConverter {
    fn rewrite(&mut self, record: &Record<'_>) -> Result<Rewrite, String> {
        let conversion = &self.conversion;
        let read = operand::read(record, self.part, &mut self.plans, |s| {
            conversion.plan(s).map(Rc::new)
        })?;
        let Some(value) = read.value else {
            return Ok(Rewrite::Unchanged);
        };
        let data = match read.derived {
            None if value.is_null() => return Ok(Rewrite::Unchanged),
            None if conversion.field.is_empty() => Data {
                schema: None,
                value: conversion.convert_schemaless(&value)?,
            },
            None => Data {
                schema: None,
                value: Value::Map(conversion.convert_map(require_map(&value, PURPOSE)?)?),
            },
            Some(plan) => match &*plan {
                Plan::Whole { from, schema } => Data {
                    value: conversion.converter.convert(&value, from.clone()?)?,
                    schema: Some(schema.clone()),
                },
                Plan::Field(plan) => Data {
                    value: if value.is_null() {
                        Value::Null
                    } else {
                        Value::Struct(
                            conversion.convert_struct(plan, require_struct(&value, PURPOSE)?)?,
                        )
                    },
                    schema: Some(plan.updated.clone()),
                },
            },
        };
        Ok(Rewrite::Replace(Some(data)))
    }
}

/// The start of the century for two-digit years: 80 years before now, read from the
/// plugin's clock.
fn century_start() -> i64 {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0);
    century_start_at(clock)
}

/// 80 years before `now` (milliseconds), as Java's `SimpleDateFormat` places two-digit
/// years; a `now` before 2025-01-01 (a plugin's clock is frozen at the epoch unless granted)
/// counts as 2025-01-01.
fn century_start_at(now: i64) -> i64 {
    const EARLIEST_NOW: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z
    let now = DateTime::from_millis(now.max(EARLIEST_NOW));
    let date = now.date;
    days_from_civil(date.year - 80, date.month.into(), date.day.into())
        .map_or(0, |days| days * MILLIS_PER_DAY + now.millis_of_day)
}

/// Connect's keys, with the implied `part`.
fn definition() -> ConfigDef {
    ConfigDef::new()
        .key(
            Key::new(
                "field",
                KeyType::String,
                Importance::High,
                "The field holding the timestamp; empty: the whole key or value.",
            )
            .default_value(""),
        )
        .key(
            Key::new(
                "target.type",
                KeyType::String,
                Importance::High,
                "What the timestamp becomes: string, unix, Date, Time or Timestamp.",
            )
            .required()
            .allowed(&["string", "unix", "Date", "Time", "Timestamp"]),
        )
        .key(
            Key::new(
                "format",
                KeyType::String,
                Importance::Medium,
                "A SimpleDateFormat pattern, to read strings and to write them (needed for target.type=string).",
            )
            .default_value(""),
        )
        .key(
            Key::new(
                "unix.precision",
                KeyType::String,
                Importance::Low,
                "The unit of unix timestamps: seconds, milliseconds, microseconds or nanoseconds.",
            )
            .default_value("milliseconds")
            .allowed(&["seconds", "milliseconds", "microseconds", "nanoseconds"]),
        )
        .key(settings::replace_null_key())
        .key(settings::part_key())
}

impl Transform for TimestampConverter {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        let target_text = parsed.string("target.type").unwrap_or_default();
        let target = Kind::parse(target_text)
            .ok_or_else(|| format!("setting 'target.type' has no meaning for {target_text:?}"))?;
        let precision_text = parsed.string("unix.precision").unwrap_or_default();
        let precision = Precision::parse(precision_text).ok_or_else(|| {
            format!("setting 'unix.precision' has no meaning for {precision_text:?}")
        })?;
        let format = match parsed.string("format") {
            Some(text) if !text.is_empty() => Some(Pattern::compile(text).map_err(|e| {
                format!(
                    "setting 'format' needs a SimpleDateFormat-compatible pattern, not \
                     {text:?}: {e}"
                )
            })?),
            _ => None,
        };
        if target == Kind::String && format.is_none() {
            return Err("setting 'format' is required when 'target.type' is string".into());
        }
        Ok(TimestampConverter {
            part: settings::part(&parsed),
            conversion: Conversion {
                field: parsed.string("field").unwrap_or_default().to_owned(),
                converter: Converter {
                    target,
                    format,
                    precision,
                    century_start: century_start(),
                },
                replace_null_with_default: settings::replace_null_with_default(&parsed),
            },
            plans: IdCache::default(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        let rewrite = self.rewrite(record);
        operand::commit(record, self.part, rewrite)
    }
}

export_transform!(TimestampConverter);

#[cfg(test)]
mod tests {
    use super::*;
    use connect_common::logical::{TIMESTAMP, timestamp_schema};
    use tidemark_sdk::SchemaType;

    fn conversion(entries: &[(&str, &str)]) -> Result<Conversion, String> {
        TimestampConverter::configure(Config::from_pairs(entries)).map(|t| t.conversion)
    }

    fn row_schema() -> Schema {
        Schema::new(SchemaType::Struct)
            .named("db.t.Value")
            .optional()
            .field("id", Schema::new(SchemaType::Int32))
            .field(
                "updated_at",
                Schema::new(SchemaType::Int64)
                    .named("io.debezium.time.MicroTimestamp")
                    .optional(),
            )
    }

    #[test]
    fn field_conversion_changes_that_field_only() {
        let c = conversion(&[
            ("field", "updated_at"),
            ("target.type", "string"),
            ("format", "yyyy-MM-dd HH:mm:ss"),
            ("unix.precision", "microseconds"),
        ])
        .unwrap();
        let Plan::Field(plan) = c.plan(row_schema()).unwrap() else {
            panic!("a field plan");
        };
        assert_eq!(plan.updated.name.as_deref(), Some("db.t.Value"));
        assert!(plan.updated.optional);
        assert_eq!(plan.updated.fields[1].1, Schema::optional_string());
        let values = [Value::Int32(1), Value::Int64(1_704_164_645_123_456)];
        assert_eq!(
            c.convert_struct(&plan, &values).unwrap(),
            vec![Value::Int32(1), "2024-01-02 03:04:05".into()]
        );
        assert_eq!(
            c.convert_struct(&plan, &[Value::Int32(1), Value::Null])
                .unwrap(),
            vec![Value::Int32(1), Value::Null]
        );
    }

    #[test]
    fn whole_value_conversion_replaces_the_schema() {
        let c = conversion(&[("target.type", "Timestamp")]).unwrap();
        let plan = c.plan(Schema::new(SchemaType::Int64)).unwrap();
        let Plan::Whole { from, schema } = plan else {
            panic!("a whole plan");
        };
        assert_eq!(from, Ok(Kind::Unix));
        assert_eq!(schema, timestamp_schema(false));
        assert_eq!(schema.name.as_deref(), Some(TIMESTAMP));
        let Plan::Whole { from, .. } = c.plan(Schema::new(SchemaType::Boolean)).unwrap() else {
            panic!("a whole plan");
        };
        assert!(from.is_err());
    }

    #[test]
    fn schemaless_values_are_inferred() {
        let c = conversion(&[
            ("field", "ts"),
            ("target.type", "unix"),
            ("format", "yyyy-MM-dd"),
        ])
        .unwrap();
        let entries = vec![("ts".into(), "2024-01-02".into())];
        assert_eq!(
            c.convert_map(&entries).unwrap(),
            vec![("ts".into(), Value::Int64(1_704_153_600_000))]
        );
        assert_eq!(
            c.convert_map(&[]).unwrap(),
            vec![("ts".into(), Value::Null)]
        );
        let c = conversion(&[("target.type", "Date")]).unwrap();
        assert!(c.convert_schemaless(&Value::Int64(0)).is_err());
        assert!(c.convert_schemaless(&Value::Float64(0.0)).is_err());
    }

    #[test]
    fn settings_are_checked() {
        assert!(conversion(&[]).unwrap_err().contains("'target.type'"));
        assert!(conversion(&[("target.type", "date")]).is_err());
        assert!(
            conversion(&[("target.type", "string")])
                .unwrap_err()
                .contains("'format'")
        );
        assert!(conversion(&[("target.type", "string"), ("format", "yyyy-bb")]).is_err());
        assert!(conversion(&[("target.type", "unix"), ("unix.precision", "days")]).is_err());
        assert_eq!(century_start_at(0), -788_918_400_000, "1945-01-01");
        assert_eq!(century_start_at(1_704_164_645_123), century_start_at(0));
        // 2030-06-01T12:00:00Z gives 1950-06-01T12:00:00Z.
        assert_eq!(century_start_at(1_906_545_600_000), -618_062_400_000);
    }
}
