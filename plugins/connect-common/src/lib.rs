//! `connect-common`: what Tidemark's transforms share — the Kafka Connect ones (`MaskField`,
//! `InsertField`, `ReplaceField`, `ValueToKey`, `ExtractField`, `TimestampConverter`,
//! `HeaderFrom`) and Debezium's (`ExtractNewRecordState`, `EventRouter`,
//! `ByLogicalTableRouter`).
//!
//! - [`settings`]: Kafka `ConfigDef` parsing (booleans, lists) and the `part` setting that a
//!   `$Key`/`$Value` class implies.
//! - [`cache`]: per-schema caches keyed by the host's schema id.
//! - [`operand`]: reading the key or value a transform works on, schema cached.
//! - [`structs`]: struct field access with Connect's default-value rule, schema building as
//!   `SchemaUtil.copySchemaBasics` does, schemaless map helpers.
//! - [`logical`]: Connect's logical types (`Decimal`, `Date`, `Time`, `Timestamp`).
//! - [`decimal`]: `BigDecimal` text and unscaled-bytes conversions.
//! - [`calendar`]: Java's `GregorianCalendar` day arithmetic (Julian before 1582-10-15).
//! - [`javafmt`]: Java's `Double.toString` / `Float.toString`.
//! - [`values`]: Connect's `Values.convertToString` (what `SimpleHeaderConverter` writes) and
//!   the string-to-number conversions `MaskField` uses for replacements.
//! - [`java_regex`]: Java's whole-match-then-`replaceFirst` with Java's replacement syntax,
//!   as Debezium's routers use it.
//! - [`avro_names`]: Debezium's Avro schema and field name adjustment.

pub mod avro_names;
pub mod cache;
pub mod calendar;
pub mod decimal;
pub mod java_regex;
pub mod javafmt;
pub mod logical;
pub mod operand;
pub mod settings;
pub mod structs;
pub mod values;
