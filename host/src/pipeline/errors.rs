//! `errors.tolerance`, `errors.log.enable` and the dead-letter queue
//! (`errors.deadletterqueue.topic.name`): what happens to a record a transform fails on.
//!
//! With `errors.tolerance=none` (Connect's default) a failure stops the pipeline. With `all`,
//! a failed batch is run again record by record: the records that pass go on in their
//! places; each one that fails goes, as it entered the chain, to the dead-letter topic with
//! the error in Connect's `__connect.errors.*` headers (or is skipped when no topic is set).

use crate::config::{ConfigError, Key, Properties, declare_keys};
use crate::event::{Header, Record};
use crate::plugin::{Chain, PluginError};

declare_keys! {
    /// `errors.tolerance`.
    TOLERANCE = Key::string("errors.tolerance")
        .default("none")
        .choices(&["none", "all"])
        .group("Error handling")
        .doc("What a record a transform fails on does: none stops the connector; all skips it \
              (to the dead-letter topic when one is set) and goes on.");
    /// `errors.log.enable`.
    LOG = Key::boolean("errors.log.enable")
        .default("false")
        .group("Error handling")
        .doc("Log each record a transform failed on (with errors.tolerance=all).");
    /// `errors.deadletterqueue.topic.name`.
    DEAD_LETTER_TOPIC = Key::string("errors.deadletterqueue.topic.name")
        .group("Error handling")
        .doc("The dead-letter topic: each record a transform failed on is written there as \
              it entered the chain, with the error in Connect's __connect.errors.* headers.");
}

/// How transform failures are handled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorPolicy {
    /// `errors.tolerance=all`.
    pub tolerate: bool,
    /// `errors.log.enable`: log each failed record.
    pub log: bool,
    /// `errors.deadletterqueue.topic.name`.
    pub dead_letter_topic: Option<String>,
}

impl ErrorPolicy {
    /// Reads Kafka Connect's error-handling properties.
    pub fn from_properties(props: &Properties) -> Result<ErrorPolicy, ConfigError> {
        Ok(ErrorPolicy {
            tolerate: props.choose(&TOLERANCE)? == "all",
            log: props.flag(&LOG)?,
            dead_letter_topic: props.value(&DEAD_LETTER_TOPIC)?.map(str::to_owned),
        })
    }
}

/// The records a chain made of a batch, and the dead letters of the records it failed on.
pub struct Outcome {
    pub records: Vec<Record>,
    pub dead_letters: Vec<Record>,
    /// Records a transform failed on (dead-lettered or skipped).
    pub failed: u64,
}

/// Runs a batch through the chain under the policy.
pub fn run(
    chain: &mut Chain,
    records: Vec<Record>,
    policy: &ErrorPolicy,
) -> Result<Outcome, PluginError> {
    if !policy.tolerate {
        return Ok(Outcome {
            records: chain.process(records)?,
            dead_letters: Vec::new(),
            failed: 0,
        });
    }
    let originals = records.clone();
    match chain.process(records) {
        Ok(records) => Ok(Outcome {
            records,
            dead_letters: Vec::new(),
            failed: 0,
        }),
        Err(_) => {
            let mut outcome = Outcome {
                records: Vec::new(),
                dead_letters: Vec::new(),
                failed: 0,
            };
            for record in originals {
                match chain.process(vec![record.clone()]) {
                    Ok(out) => outcome.records.extend(out),
                    Err(error) => {
                        outcome.failed += 1;
                        if policy.log {
                            tracing::error!(topic = %record.topic, %error, "a transform failed on a record (errors.tolerance=all)");
                        }
                        if let Some(topic) = &policy.dead_letter_topic {
                            outcome
                                .dead_letters
                                .push(dead_letter(record, topic, &error));
                        } else {
                            tracing::warn!(topic = %record.topic, %error, "record skipped: a transform failed on it and no errors.deadletterqueue.topic.name is set");
                        }
                    }
                }
            }
            Ok(outcome)
        }
    }
}

/// The dead letter of a record: the record on the dead-letter topic, with the error.
fn dead_letter(mut record: Record, topic: &str, error: &PluginError) -> Record {
    let plugin = match error {
        PluginError::Timeout { plugin, .. }
        | PluginError::MemoryLimit { plugin, .. }
        | PluginError::OutOfFuel { plugin, .. }
        | PluginError::StackOverflow { plugin }
        | PluginError::Trap { plugin, .. }
        | PluginError::BadOutput { plugin, .. }
        | PluginError::RecordFailed { plugin, .. }
        | PluginError::Configure { plugin, .. } => plugin.clone(),
        _ => String::new(),
    };
    let header = |key: &str, value: String| Header {
        key: key.to_owned(),
        value: Some(value),
    };
    let original = std::mem::replace(&mut record.topic, topic.to_owned());
    record.headers.extend([
        header("__connect.errors.topic", original),
        header("__connect.errors.stage", "TRANSFORMATION".into()),
        header("__connect.errors.class.name", plugin),
        header(
            "__connect.errors.exception.class.name",
            error_kind(error).into(),
        ),
        header("__connect.errors.exception.message", error.to_string()),
    ]);
    record
}

fn error_kind(error: &PluginError) -> &'static str {
    match error {
        PluginError::Timeout { .. } => "tidemark.plugin.Timeout",
        PluginError::MemoryLimit { .. } => "tidemark.plugin.MemoryLimit",
        PluginError::OutOfFuel { .. } => "tidemark.plugin.OutOfFuel",
        PluginError::StackOverflow { .. } => "tidemark.plugin.StackOverflow",
        PluginError::Trap { .. } => "tidemark.plugin.Trap",
        PluginError::BadOutput { .. } => "tidemark.plugin.BadOutput",
        PluginError::RecordFailed { .. } => "tidemark.plugin.RecordFailed",
        _ => "tidemark.plugin.Error",
    }
}
