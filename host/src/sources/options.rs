//! Settings both sources read the same way, under Debezium's property names.

use regex::Regex;

use crate::config::{ConfigError, Properties};

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
        Ok(
            match props
                .choice(
                    "event.converting.failure.handling.mode",
                    "warn",
                    &["fail", "warn", "skip"],
                )?
                .as_str()
            {
                "fail" => ConvertFailure::Fail,
                "skip" => ConvertFailure::Skip,
                _ => ConvertFailure::Warn,
            },
        )
    }
}

/// The transaction metadata topic (`<topic.prefix>.<topic.transaction>`) when
/// `provide.transaction.metadata` is on.
pub fn transaction_topic(props: &Properties) -> Result<Option<String>, ConfigError> {
    Ok(props
        .parse("provide.transaction.metadata", false, "true or false")?
        .then(|| {
            format!(
                "{}.{}",
                props.get_or("topic.prefix", ""),
                props.get_or("topic.transaction", "transaction")
            )
        }))
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
        for op in props
            .get_or("skipped.operations", "t")
            .split(',')
            .map(str::trim)
        {
            match op {
                "c" => skipped.create = true,
                "u" => skipped.update = true,
                "d" => skipped.delete = true,
                "t" => skipped.truncate = true,
                "none" | "" => {}
                other => {
                    return Err(ConfigError::Invalid {
                        key: "skipped.operations".into(),
                        value: other.into(),
                        problem: "expected a comma-separated list of c, u, d, t, or none".into(),
                    });
                }
            }
        }
        Ok(skipped)
    }
}

/// The regular expressions of a comma-separated list property; each must match a whole name,
/// case-insensitively.
pub fn regexes(props: &Properties, key: &str) -> Result<Vec<Regex>, ConfigError> {
    props
        .list(key)
        .into_iter()
        .map(|pattern| {
            Regex::new(&format!("(?i)^(?:{pattern})$")).map_err(|e| ConfigError::Invalid {
                key: key.to_owned(),
                value: pattern.clone(),
                problem: format!("not a valid regular expression: {e}"),
            })
        })
        .collect()
}
