//! Settings every Kafka client shares, and the translation of Kafka's Java client properties
//! into librdkafka's.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;

use crate::config::{ConfigError, Properties};

/// Worker properties that every Kafka client gets, as a Connect worker passes them to its
/// producers, consumers and admin client.
const COMMON_PREFIXES: &[&str] = &["security.protocol", "ssl.", "sasl.", "client.dns.lookup"];

/// The settings every client of one Kafka cluster shares (producer, admin client, offset
/// consumer): the bootstrap servers and the connection and security settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    properties: BTreeMap<String, String>,
}

impl ClientSettings {
    /// The shared settings from `bootstrap.servers` (`servers`) and the worker's connection
    /// and security properties.
    pub fn from_properties(props: &Properties, servers: &str) -> ClientSettings {
        let mut properties = BTreeMap::new();
        properties.insert("bootstrap.servers".to_owned(), servers.trim().to_owned());
        for prefix in COMMON_PREFIXES {
            for (rest, value) in props.with_prefix(prefix) {
                properties.insert(format!("{prefix}{rest}"), value);
            }
        }
        ClientSettings { properties }
    }

    /// `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.properties["bootstrap.servers"]
    }

    /// The librdkafka properties.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// A librdkafka config with the shared settings and `extra`.
    pub fn client(&self, extra: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (k, v) in &self.properties {
            config.set(k, v);
        }
        for (k, v) in extra {
            config.set(*k, *v);
        }
        config
    }
}

/// Translates the Java producer properties that librdkafka names differently.
pub fn java_producer_property(key: &str, value: String) -> Result<(String, String), ConfigError> {
    match key {
        // Bytes in Java, kilobytes in librdkafka.
        "buffer.memory" => {
            let bytes: u64 = value.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "producer.buffer.memory".into(),
                value: value.clone(),
                problem: "expected a number of bytes".into(),
            })?;
            Ok((
                "queue.buffering.max.kbytes".into(),
                bytes.div_ceil(1024).max(1).to_string(),
            ))
        }
        "key.serializer" | "value.serializer" => Err(ConfigError::Invalid {
            key: format!("producer.{key}"),
            value,
            problem: "keys and values are serialised by the JsonConverter; remove this property"
                .into(),
        }),
        _ => Ok((key.to_owned(), value)),
    }
}

/// Checks librdkafka accepts every property (names and values), without connecting.
/// `property` gives the name the user wrote for a librdkafka property.
pub fn check_client_config(
    properties: &BTreeMap<String, String>,
    property: impl Fn(&str) -> String,
) -> Result<(), ConfigError> {
    let mut config = ClientConfig::new();
    for (k, v) in properties {
        config.set(k, v);
    }
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(KafkaError::ClientConfig(_, description, key, value)) => Err(ConfigError::Invalid {
            key: property(&key),
            value,
            problem: description,
        }),
        Err(other) => Err(ConfigError::Invalid {
            key: "producer.*".into(),
            value: String::new(),
            problem: other.to_string(),
        }),
    }
}
