//! Which sink and offset store a connector writes to, from the worker properties:
//!
//! - `bootstrap.servers` set: the Kafka sink; else the sink `sink.type` names (`file`, the
//!   default: `sink.file`, JSON lines, stdout by default; or `wasm`, a sink plugin). Kafka
//!   together with `sink.file` or another `sink.type` is an error.
//! - Offsets in Kafka when `offset.storage` names Connect's `KafkaOffsetBackingStore` (or is
//!   `kafka`), or when `offset.storage` is unset and `offset.storage.topic` is set; this
//!   needs `bootstrap.servers` and `offset.storage.topic`. Otherwise offsets go to the file
//!   `offset.storage.file.filename` (`offset.storage` may name `FileOffsetBackingStore` or
//!   `file`). Any other `offset.storage` is an error.
//! - `exactly.once.support=required|requested` needs both in Kafka: the records and the
//!   offset of each commit go in one Kafka transaction.

use super::connector::ConnectorError;
use crate::config::{ConfigError, Properties, WorkerConfig, worker};
use crate::offsets::kafka as offsets_kafka;
use crate::offsets::{FileOffsetStore, KafkaOffsetSettings, KafkaOffsetStore, OffsetStore};
use crate::plugin::SharedPlugins;
use crate::sinks::Sink;
use crate::sinks::kafka::config::EXACTLY_ONCE;
use crate::sinks::kafka::{KafkaConfig, KafkaSink};
use crate::sinks::keys::SINK_TYPE;

/// A connector's sink and offset store.
pub struct Outputs {
    pub sink: Box<dyn Sink>,
    pub store: Box<dyn OffsetStore>,
}

/// Where offsets are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    File,
    Kafka,
}

fn storage(props: &Properties) -> Result<Storage, ConfigError> {
    let topic = props.value(&offsets_kafka::TOPIC)?;
    match props.value(&super::keys::OFFSET_STORAGE)? {
        Some(class) if class == "kafka" || class.ends_with(".KafkaOffsetBackingStore") => {
            Ok(Storage::Kafka)
        }
        Some(class) if class == "file" || class.ends_with(".FileOffsetBackingStore") => {
            if let Some(topic) = topic {
                return Err(ConfigError::Invalid {
                    key: "offset.storage.topic".into(),
                    value: topic.into(),
                    problem: format!(
                        "offset.storage={class} keeps offsets in a file: remove offset.storage.topic, \
                         or set offset.storage=org.apache.kafka.connect.storage.KafkaOffsetBackingStore"
                    ),
                });
            }
            Ok(Storage::File)
        }
        // Any other class is refused by the declaration's validator.
        Some(_) => Ok(Storage::File),
        None if topic.is_some() => Ok(Storage::Kafka),
        None => Ok(Storage::File),
    }
}

/// Opens only the offset store the properties choose (for reading or changing a stopped
/// connector's offsets): offsets in Kafka get a producer of their own.
pub fn open_store(
    props: &Properties,
    worker: &WorkerConfig,
    connector: &str,
) -> Result<Box<dyn OffsetStore>, ConnectorError> {
    match (
        storage(props)?,
        KafkaConfig::from_properties(props, connector, worker.json)?,
    ) {
        (Storage::Kafka, Some(kafka)) => {
            let settings = KafkaOffsetSettings::from_properties(props)?;
            Ok(Box::new(KafkaOffsetStore::open(
                &kafka.common,
                &settings,
                None,
            )?))
        }
        (Storage::Kafka, None) => Err(ConfigError::Missing {
            key: "bootstrap.servers".into(),
            hint: "offsets in Kafka (offset.storage.topic) need the Kafka brokers".into(),
        }
        .into()),
        (Storage::File, _) => Ok(Box::new(FileOffsetStore::open(&worker.offset_file)?)),
    }
}

/// Opens the sink and the offset store the properties choose (a sink plugin runs in the
/// shared plugin runtime).
pub fn open(
    props: &Properties,
    worker: &WorkerConfig,
    connector: &str,
    plugins: &SharedPlugins,
) -> Result<Outputs, ConnectorError> {
    let kafka = KafkaConfig::from_properties(props, connector, worker.json)?;
    let storage = storage(props)?;
    if let (Some(_), Some(file)) = (&kafka, &worker.sink_file) {
        return Err(ConfigError::Invalid {
            key: "sink.file".into(),
            value: file.clone(),
            problem: "bootstrap.servers selects the Kafka sink: set either sink.file or \
                      bootstrap.servers"
                .into(),
        }
        .into());
    }
    if let (Some(_), Some(kind)) = (&kafka, props.get(&SINK_TYPE.name))
        && kind.trim() != "kafka"
    {
        return Err(ConfigError::Invalid {
            key: "sink.type".into(),
            value: kind.to_owned(),
            problem: "bootstrap.servers selects the Kafka sink: set either sink.type or \
                      bootstrap.servers"
                .into(),
        }
        .into());
    }
    let Some(kafka) = kafka else {
        if storage == Storage::Kafka {
            return Err(ConfigError::Missing {
                key: "bootstrap.servers".into(),
                hint: "offsets in Kafka (offset.storage.topic) need the Kafka brokers".into(),
            }
            .into());
        }
        if props.choose(&EXACTLY_ONCE)? != "disabled" {
            return Err(ConfigError::Missing {
                key: "bootstrap.servers".into(),
                hint: "exactly.once.support needs the Kafka sink and offsets in Kafka".into(),
            }
            .into());
        }
        return Ok(Outputs {
            sink: crate::sinks::open(props, worker, connector, plugins)?,
            store: Box::new(FileOffsetStore::open(&worker.offset_file)?),
        });
    };
    if kafka.exactly_once && storage == Storage::File {
        return Err(ConfigError::Missing {
            key: "offset.storage.topic".into(),
            hint: "exactly.once.support commits records and offsets in one Kafka transaction, \
                   so offsets must be in Kafka: set offset.storage.topic"
                .into(),
        }
        .into());
    }
    let offsets = match storage {
        Storage::Kafka => Some(KafkaOffsetSettings::from_properties(props)?),
        Storage::File => None,
    };
    if offsets.is_some() && props.get(&worker::OFFSET_FILE.name).is_some() {
        tracing::warn!(
            "offsets are kept in Kafka (offset.storage.topic): offset.storage.file.filename is not used"
        );
    }
    let sink = KafkaSink::open(kafka.clone())?;
    let store: Box<dyn OffsetStore> = match offsets {
        Some(settings) => {
            let transactional = kafka.exactly_once.then(|| sink.shared());
            Box::new(KafkaOffsetStore::open(
                &kafka.common,
                &settings,
                transactional,
            )?)
        }
        None => Box::new(FileOffsetStore::open(&worker.offset_file)?),
    };
    Ok(Outputs {
        sink: Box::new(sink),
        store,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(pairs: &[(&str, &str)]) -> String {
        let props = Properties::from_pairs(pairs.iter().copied());
        let worker = WorkerConfig::from_properties(&props).unwrap();
        let plugins = SharedPlugins::new(crate::plugin::RuntimeOptions { cache_dir: None });
        match open(&props, &worker, "c", &plugins) {
            Ok(_) => panic!("{pairs:?} should be refused"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn misconfigurations_are_clear_errors() {
        let e = problem(&[("bootstrap.servers", "k:9092"), ("sink.file", "out.jsonl")]);
        assert!(
            e.contains("sink.file") && e.contains("bootstrap.servers"),
            "{e}"
        );
        let e = problem(&[("offset.storage.topic", "connect-offsets")]);
        assert!(e.contains("'bootstrap.servers' is required"), "{e}");
        let e = problem(&[
            ("bootstrap.servers", "k:9092"),
            (
                "offset.storage",
                "org.apache.kafka.connect.storage.KafkaOffsetBackingStore",
            ),
        ]);
        assert!(e.contains("'offset.storage.topic' is required"), "{e}");
        let e = problem(&[(
            "offset.storage",
            "org.apache.kafka.connect.storage.MemoryOffsetBackingStore",
        )]);
        assert!(e.contains("'offset.storage'"), "{e}");
        let e = problem(&[
            (
                "offset.storage",
                "org.apache.kafka.connect.storage.FileOffsetBackingStore",
            ),
            ("offset.storage.topic", "connect-offsets"),
        ]);
        assert!(e.contains("offset.storage.topic"), "{e}");
        let e = problem(&[
            ("bootstrap.servers", "k:9092"),
            ("exactly.once.support", "required"),
        ]);
        assert!(e.contains("offset.storage.topic"), "{e}");
        let e = problem(&[("exactly.once.support", "required")]);
        assert!(e.contains("bootstrap.servers"), "{e}");
    }
}
