//! Settings every Kafka client shares, and the translation of Kafka's Java client properties
//! into librdkafka's, layered as Kafka Connect layers them (worker-level keys, then a
//! client's prefix such as `producer.`, then a connector-level override such as
//! `producer.override.`).

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;

use super::security::{JavaSecurity, is_security_key};
use crate::config::{ConfigError, Properties};

/// Worker properties besides the security ones (see [`is_security_key`]) that every Kafka
/// client gets, as a Connect worker passes them to its producers, consumers and admin client.
const COMMON_KEYS: &[&str] = &["client.dns.lookup"];

/// The settings of one Kafka client (or of every client of one cluster): the bootstrap
/// servers, the connection and security settings translated for librdkafka, and whatever
/// else its prefixes set.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    properties: BTreeMap<String, String>,
    /// The property the user wrote for each librdkafka property that came from one.
    origins: BTreeMap<String, String>,
}

impl ClientSettings {
    /// The worker-level settings: `bootstrap.servers` (`servers`) and the worker's
    /// connection and security properties.
    pub fn from_properties(
        props: &Properties,
        servers: &str,
    ) -> Result<ClientSettings, ConfigError> {
        ClientSettings::layered(
            props,
            ("bootstrap.servers", servers),
            &[""],
            |_, key, value| Ok((key.to_owned(), value)),
        )
    }

    /// A client's settings from `servers` (the property that gave them, and their value)
    /// and the properties under each of `layers`, a later layer overriding an earlier one key
    /// by key, as Connect does. The layer `""` is the worker level: only its security and
    /// connection properties. In a prefixed layer, the security properties are translated
    /// with the rest of the client's security settings; `other` turns every other property
    /// (its written name, its name without the prefix, its value) into a librdkafka one. Keys
    /// under a longer layer (`producer.override.` beside `producer.`) belong to that layer.
    pub fn layered(
        props: &Properties,
        servers: (&str, &str),
        layers: &[&str],
        other: impl Fn(&str, &str, String) -> Result<(String, String), ConfigError>,
    ) -> Result<ClientSettings, ConfigError> {
        let mut settings = ClientSettings {
            properties: BTreeMap::new(),
            origins: BTreeMap::new(),
        };
        settings.insert("bootstrap.servers", servers.1.trim().to_owned(), servers.0);
        let mut security = JavaSecurity::default();
        for layer in layers {
            for (key, value) in layer_entries(props, layer) {
                let written = format!("{layer}{key}");
                let deeper = layers
                    .iter()
                    .any(|l| l.len() > layer.len() && written.starts_with(l));
                if deeper {
                    continue;
                }
                if is_security_key(&key) {
                    security.set(&key, written, value);
                } else if layer.is_empty() {
                    if COMMON_KEYS.contains(&key.as_str()) {
                        settings.insert(&key, value, &written);
                    }
                } else {
                    let (key, value) = other(&written, &key, value)?;
                    settings.insert(&key, value, &written);
                }
            }
        }
        for property in security.translate()? {
            settings.insert(&property.key, property.value, &property.origin);
        }
        Ok(settings)
    }

    fn insert(&mut self, key: &str, value: String, origin: &str) {
        self.properties.insert(key.to_owned(), value);
        self.origins.insert(key.to_owned(), origin.to_owned());
    }

    /// Sets a librdkafka property unless the user's properties set it.
    pub fn set_default(&mut self, key: &str, value: &str) {
        self.properties
            .entry(key.to_owned())
            .or_insert_with(|| value.to_owned());
    }

    /// `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.properties["bootstrap.servers"]
    }

    /// The librdkafka properties.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// A librdkafka config with these settings and `extra`.
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

    /// Checks librdkafka accepts every property (names and values), without connecting; an
    /// error names the property the user wrote.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self.client(&[]).create_native_config() {
            Ok(_) => Ok(()),
            Err(KafkaError::ClientConfig(_, description, key, value)) => {
                let key = self.origins.get(&key).cloned().unwrap_or(key);
                let value = if key.contains("password") || key.contains("jaas") {
                    "(hidden)".to_owned()
                } else {
                    value
                };
                Err(ConfigError::Invalid {
                    key,
                    value,
                    problem: description,
                })
            }
            Err(other) => Err(ConfigError::Invalid {
                key: "bootstrap.servers".into(),
                value: self.bootstrap().to_owned(),
                problem: other.to_string(),
            }),
        }
    }
}

/// The properties of one layer, without its prefix: for the worker level (`""`) only the
/// security and connection ones (the others are not a client's).
fn layer_entries(props: &Properties, layer: &str) -> BTreeMap<String, String> {
    if !layer.is_empty() {
        return props.with_prefix(layer);
    }
    let mut entries = BTreeMap::new();
    for prefix in ["security.protocol", "ssl.", "sasl."]
        .iter()
        .chain(COMMON_KEYS)
    {
        for (rest, value) in props.with_prefix(prefix) {
            entries.insert(format!("{prefix}{rest}"), value);
        }
    }
    entries
}

/// Translates a Java producer property that librdkafka names differently (`key`, without
/// its prefix; `written` is the name the user wrote, for errors).
pub fn java_producer_property(
    written: &str,
    key: &str,
    value: String,
) -> Result<(String, String), ConfigError> {
    match key {
        // Bytes in Java, kilobytes in librdkafka.
        "buffer.memory" => {
            let bytes: u64 = value.trim().parse().map_err(|_| ConfigError::Invalid {
                key: written.into(),
                value: value.clone(),
                problem: "expected a number of bytes".into(),
            })?;
            Ok((
                "queue.buffering.max.kbytes".into(),
                bytes.div_ceil(1024).max(1).to_string(),
            ))
        }
        "key.serializer" | "value.serializer" => Err(ConfigError::Invalid {
            key: written.into(),
            value,
            problem: "keys and values are serialised by the JsonConverter; remove this property"
                .into(),
        }),
        _ => Ok((key.to_owned(), value)),
    }
}

/// A partition's high watermark (its end as a `read_uncommitted` consumer sees it), asked
/// again until `deadline` while the broker cannot answer yet (a topic just created has no
/// leader for a moment).
pub fn high_watermark(
    consumer: &rdkafka::consumer::BaseConsumer,
    topic: &str,
    partition: i32,
    deadline: std::time::Instant,
) -> Result<i64, String> {
    use rdkafka::consumer::Consumer;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match consumer.fetch_watermarks(
            topic,
            partition,
            left.max(std::time::Duration::from_secs(1)),
        ) {
            Ok((_, high)) => return Ok(high),
            Err(error) if left.is_zero() => {
                return Err(format!(
                    "cannot ask for partition {partition}'s end: {error}"
                ));
            }
            Err(error) => {
                tracing::debug!(%error, topic, partition, "asking for a partition's end again");
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
}
