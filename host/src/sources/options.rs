//! Settings both sources read the same way, under Debezium's property names.

use regex::Regex;

use crate::config::{ConfigError, Importance, Key, Properties, declare_keys};

/// Importance and group of the connection keys.
const CONNECTION: &str = "Connection";
/// Group of the keys that choose what is captured.
const FILTERS: &str = "Filters";
/// Group of the keys that shape the events.
const EVENTS: &str = "Events";

/// A list of regular expressions, checked as the connector reads them.
fn regex_list(value: &str) -> Result<(), String> {
    for pattern in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        Regex::new(pattern)
            .map_err(|e| format!("{pattern:?} is not a valid regular expression: {e}"))?;
    }
    Ok(())
}

/// A filter list: `renamed` is Debezium's 1.x name of the key.
pub(crate) fn filter(name: &'static str, renamed: &'static str, what: &'static str) -> Key {
    Key::list(name)
        .check(regex_list)
        .renamed_from(renamed)
        .group(FILTERS)
        .doc(what)
}

declare_keys! {
    /// `name`: the connector's name.
    NAME = Key::string("name")
        .default("tidemark")
        .importance(Importance::High)
        .group("Connector")
        .doc("The connector's name: its offsets' key and its name in the REST API.");
    /// `database.hostname`.
    HOSTNAME = Key::string("database.hostname")
        .required("the database server's host name")
        .group(CONNECTION)
        .doc("The database server's host name or IP address.");
    /// `database.password`.
    PASSWORD = Key::password("database.password")
        .importance(Importance::High)
        .group(CONNECTION)
        .doc("The password of database.user (a ${provider:path:key} variable keeps it out of \
              the config).");
    /// `topic.prefix`.
    TOPIC_PREFIX = Key::string("topic.prefix")
        .required("the logical server name, first part of every topic")
        .renamed_from("database.server.name")
        .group("Connector")
        .doc("The logical server name: the first part of every topic and the source \
              partition of the offsets.");
    /// `table.include.list`.
    TABLE_INCLUDE = filter("table.include.list", "table.whitelist",
        "Regular expressions (comma-separated) matching the whole schema.table (or db.table) \
         names to capture; unset captures every table.");
    /// `table.exclude.list`.
    TABLE_EXCLUDE = filter("table.exclude.list", "table.blacklist",
        "Regular expressions matching the tables not to capture (not with table.include.list).");
    /// `column.include.list`.
    COLUMN_INCLUDE = filter("column.include.list", "column.whitelist",
        "Regular expressions matching the whole names of the columns to include in events.");
    /// `column.exclude.list`.
    COLUMN_EXCLUDE = filter("column.exclude.list", "column.blacklist",
        "Regular expressions matching the columns left out of events (not with \
         column.include.list).");
    /// `decimal.handling.mode`.
    DECIMAL_MODE = Key::string("decimal.handling.mode")
        .default("precise")
        .choices(&["precise", "double", "string"])
        .group(EVENTS)
        .doc("How DECIMAL and NUMERIC values are written: precise (Connect's Decimal, bytes), \
              double, or string.");
    /// `binary.handling.mode`.
    BINARY_MODE = Key::string("binary.handling.mode")
        .default("bytes")
        .choices(&["bytes", "base64", "hex"])
        .group(EVENTS)
        .doc("How binary columns are written: bytes, base64 or hex.");
    /// `tombstones.on.delete`.
    TOMBSTONES = Key::boolean("tombstones.on.delete")
        .default("true")
        .group(EVENTS)
        .doc("Follow each delete event with a tombstone (null value), for log compaction.");
    /// `heartbeat.interval.ms`.
    HEARTBEAT_INTERVAL = Key::long("heartbeat.interval.ms")
        .default("0")
        .range(Some(0), None)
        .group("Heartbeats")
        .doc("How often, in milliseconds, a heartbeat event is written; 0 writes none.");
    /// `topic.heartbeat.name`.
    HEARTBEAT_TOPIC = Key::string("topic.heartbeat.name")
        .group("Heartbeats")
        .doc("The heartbeat topic; unset: <topic.heartbeat.prefix>.<topic.prefix>.");
    /// `topic.heartbeat.prefix`.
    HEARTBEAT_PREFIX = Key::string("topic.heartbeat.prefix")
        .default("__debezium-heartbeat")
        .group("Heartbeats")
        .doc("The heartbeat topic's prefix when topic.heartbeat.name is unset.");
    /// `skipped.operations`.
    SKIPPED_OPERATIONS = Key::list("skipped.operations")
        .default("t")
        .check(skipped_ops)
        .group(EVENTS)
        .doc("Change kinds not written: c (create), u (update), d (delete), t (truncate), \
              or none.");
    /// `max.batch.size`.
    MAX_BATCH_SIZE = Key::int("max.batch.size")
        .default("2048")
        .range(Some(1), None)
        .group("Performance")
        .doc("Changes per batch handed to the transforms and the sink.");
    /// `event.converting.failure.handling.mode`.
    CONVERT_FAILURE = Key::string("event.converting.failure.handling.mode")
        .default("warn")
        .choices(&["fail", "warn", "skip"])
        .group(EVENTS)
        .doc("A value that cannot be converted: fail stops the connector naming the column, \
              warn writes null and logs a warning, skip writes null.");
    /// `provide.transaction.metadata`.
    TRANSACTION_METADATA = Key::boolean("provide.transaction.metadata")
        .default("false")
        .group(EVENTS)
        .doc("Write BEGIN and END events of each transaction to <topic.prefix>.<topic.transaction> \
              and a transaction block in each event.");
    /// `topic.transaction`.
    TRANSACTION_TOPIC = Key::string("topic.transaction")
        .default("transaction")
        .group(EVENTS)
        .doc("The transaction metadata topic's name after <topic.prefix>.");
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

/// `event.converting.failure.handling.mode`: what a value that cannot be converted does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertFailure {
    /// Stop the connector with an error naming the column.
    Fail,
    /// Write the field as null and log a warning (Debezium's default).
    Warn,
    /// Write the field as null.
    Skip,
}

impl ConvertFailure {
    /// Reads `event.converting.failure.handling.mode` (default `warn`).
    pub fn parse(props: &Properties) -> Result<ConvertFailure, ConfigError> {
        Ok(match props.choose(&CONVERT_FAILURE)?.as_str() {
            "fail" => ConvertFailure::Fail,
            "skip" => ConvertFailure::Skip,
            _ => ConvertFailure::Warn,
        })
    }
}

/// The heartbeat topic: `topic.heartbeat.name`, else
/// `<topic.heartbeat.prefix>.<topic.prefix>`.
pub fn heartbeat_topic(props: &Properties, topic_prefix: &str) -> Result<String, ConfigError> {
    Ok(match props.value(&HEARTBEAT_TOPIC)? {
        Some(name) => name.to_owned(),
        None => format!("{}.{topic_prefix}", props.required(&HEARTBEAT_PREFIX)?),
    })
}

/// The transaction metadata topic (`<topic.prefix>.<topic.transaction>`) when
/// `provide.transaction.metadata` is on.
pub fn transaction_topic(props: &Properties) -> Result<Option<String>, ConfigError> {
    if !props.flag(&TRANSACTION_METADATA)? {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}.{}",
        props.value(&TOPIC_PREFIX)?.unwrap_or(""),
        props.required(&TRANSACTION_TOPIC)?
    )))
}

/// `skipped.operations`: change kinds not emitted (Debezium's default skips truncates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkippedOps {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    pub truncate: bool,
}

impl SkippedOps {
    /// Reads `skipped.operations` (default `t`).
    pub fn parse(props: &Properties) -> Result<SkippedOps, ConfigError> {
        let mut skipped = SkippedOps::default();
        for op in props.items(&SKIPPED_OPERATIONS)? {
            match op.as_str() {
                "c" => skipped.create = true,
                "u" => skipped.update = true,
                "d" => skipped.delete = true,
                "t" => skipped.truncate = true,
                _ => {}
            }
        }
        Ok(skipped)
    }
}

/// `skipped.operations`'s items: c, u, d, t or none.
fn skipped_ops(value: &str) -> Result<(), String> {
    match value
        .split(',')
        .map(str::trim)
        .find(|op| !["c", "u", "d", "t", "none", ""].contains(op))
    {
        None => Ok(()),
        Some(op) => Err(format!(
            "{op:?}: expected a comma-separated list of c, u, d, t, or none"
        )),
    }
}

/// The regular expressions of a comma-separated list property; each must match a whole name,
/// case-insensitively.
pub fn regexes(props: &Properties, key: &Key) -> Result<Vec<Regex>, ConfigError> {
    props
        .items(key)?
        .into_iter()
        .map(|pattern| {
            Regex::new(&format!("(?i)^(?:{pattern})$")).map_err(|e| ConfigError::Invalid {
                key: key.name.to_string(),
                value: pattern.clone(),
                problem: format!("not a valid regular expression: {e}"),
            })
        })
        .collect()
}

/// Reads an include list and its exclude twin: setting both is an error naming both.
pub fn include_exclude(
    props: &Properties,
    include: &Key,
    exclude: &Key,
) -> Result<(Vec<Regex>, Vec<Regex>), ConfigError> {
    if props.get(&include.name).is_some()
        && let Some(excluded) = props.get(&exclude.name)
    {
        return Err(ConfigError::Invalid {
            key: exclude.name.to_string(),
            value: excluded.to_owned(),
            problem: format!("set either {} or {}, not both", include.name, exclude.name),
        });
    }
    Ok((regexes(props, include)?, regexes(props, exclude)?))
}
