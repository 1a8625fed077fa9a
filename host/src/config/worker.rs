//! Worker settings: what Kafka Connect's standalone worker (or Debezium Server) configures
//! around a connector — offsets, plugins, converters and, in Tidemark, the embedded sink.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Properties};
use crate::event::JsonOptions;

/// Where offsets go when `offset.storage.file.filename` is not set (Debezium Server's
/// default place, with Tidemark's JSON format).
pub const DEFAULT_OFFSET_FILE: &str = "data/offsets.json";

/// Worker-level settings of a run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `offset.storage.file.filename`.
    pub offset_file: PathBuf,
    /// `offset.flush.interval.ms` (Kafka Connect's default: 60 s).
    pub flush_interval: Duration,
    /// `plugin.path`: the plugin directory.
    pub plugin_path: Option<PathBuf>,
    /// `sink.file`: JSON lines to this file; `None` or `-` for stdout.
    pub sink_file: Option<String>,
    /// `key.converter.schemas.enable`, `value.converter.schemas.enable`,
    /// `value.converter.replace.null.with.default`.
    pub json: JsonOptions,
    /// Where the REST API listens: Kafka Connect's `listeners` (`http://host:port`, the
    /// first entry), else `rest.port` with `rest.host.name`; `None` runs no API.
    pub rest_address: Option<SocketAddr>,
}

impl WorkerConfig {
    /// `task.shutdown.graceful.timeout.ms` (Connect's default: 5 s): how long a stop request
    /// may take before the process ends without waiting further. Read by the process before
    /// the connector starts, on its own: the rest of the worker settings are read after
    /// config providers are resolved.
    pub fn shutdown_timeout(props: &Properties) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(props.parse(
            "task.shutdown.graceful.timeout.ms",
            5_000,
            "milliseconds",
        )?))
    }

    /// The REST API's address: Kafka Connect's `listeners` (`http://host:port`, the first
    /// entry), else `rest.port` with `rest.host.name`; `None` when neither is set.
    pub fn rest_address(props: &Properties) -> Result<Option<SocketAddr>, ConfigError> {
        rest_address(props)
    }

    /// Connect's `worker_id` for a REST API bound to `bound`: the advertised URL's
    /// `host:port`. The host is `rest.advertised.host.name`, else the listener's host as
    /// written, else (listening on every address) this machine's host name; the port is
    /// `rest.advertised.port`, else the bound port. `rest.advertised.listener` may only be
    /// `http`, the one protocol the API serves.
    pub fn advertised_id(props: &Properties, bound: SocketAddr) -> Result<String, ConfigError> {
        advertised_id(props, bound)
    }

    /// Reads the worker settings.
    pub fn from_properties(props: &Properties) -> Result<WorkerConfig, ConfigError> {
        check_converters(props)?;
        // The process applies it (`tidemark run`); checked here too, so that a connector run
        // any other way reports a bad value and does not call the key unknown.
        Self::shutdown_timeout(props)?;
        Self::advertised_id(props, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let flush_ms: u64 = props.parse("offset.flush.interval.ms", 60_000, "milliseconds")?;
        Ok(WorkerConfig {
            offset_file: PathBuf::from(
                props.get_or("offset.storage.file.filename", DEFAULT_OFFSET_FILE),
            ),
            flush_interval: Duration::from_millis(flush_ms.max(1)),
            plugin_path: props.get("plugin.path").map(PathBuf::from),
            sink_file: props.get("sink.file").map(str::to_owned),
            rest_address: rest_address(props)?,
            json: JsonOptions {
                key_schemas: props.parse("key.converter.schemas.enable", true, "true or false")?,
                value_schemas: props.parse(
                    "value.converter.schemas.enable",
                    true,
                    "true or false",
                )?,
                replace_null_with_default: props.parse(
                    "value.converter.replace.null.with.default",
                    true,
                    "true or false",
                )?,
            },
        })
    }
}

/// The converters Tidemark can honour, by property: keys and values are written as Kafka
/// Connect's JsonConverter writes them, header values as strings (what SimpleHeaderConverter,
/// Connect's default, and StringConverter write for a string).
const CONVERTERS: &[(&str, &[&str])] = &[
    (
        "key.converter",
        &["org.apache.kafka.connect.json.JsonConverter"],
    ),
    (
        "value.converter",
        &["org.apache.kafka.connect.json.JsonConverter"],
    ),
    (
        "header.converter",
        &[
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "org.apache.kafka.connect.storage.StringConverter",
        ],
    ),
];

/// A converter set to a class Tidemark does not implement is an error naming the ones it
/// does, never a silent change of format.
fn check_converters(props: &Properties) -> Result<(), ConfigError> {
    for (key, supported) in CONVERTERS {
        if let Some(class) = props.get(key)
            && !supported.contains(&class.trim())
        {
            return Err(ConfigError::Invalid {
                key: (*key).to_owned(),
                value: class.to_owned(),
                problem: format!(
                    "Tidemark supports only {}: set one of them or remove the property",
                    supported.join(" or ")
                ),
            });
        }
    }
    Ok(())
}

/// The REST API's address from `listeners` or `rest.port` / `rest.host.name`.
fn rest_address(props: &Properties) -> Result<Option<SocketAddr>, ConfigError> {
    if let Some(listeners) = props.get("listeners") {
        let first = listeners.split(',').next().unwrap_or("").trim();
        let invalid = |problem: &str| ConfigError::Invalid {
            key: "listeners".into(),
            value: listeners.to_owned(),
            problem: problem.to_owned(),
        };
        let rest = first
            .strip_prefix("http://")
            .ok_or_else(|| invalid("expected http://host:port (https is not supported)"))?;
        let (host, port) = rest
            .trim_end_matches('/')
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected http://host:port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| invalid("the port must be a number from 0 to 65535"))?;
        let ip = host_ip(host).ok_or_else(|| {
            invalid("the host must be an IP address, localhost, or empty for every address")
        })?;
        return Ok(Some(SocketAddr::new(ip, port)));
    }
    let Some(port) = props.get("rest.port") else {
        return Ok(None);
    };
    let port: u16 = port.trim().parse().map_err(|_| ConfigError::Invalid {
        key: "rest.port".into(),
        value: port.to_owned(),
        problem: "expected a port number from 0 to 65535".into(),
    })?;
    let host = props.get_or("rest.host.name", "");
    let ip = host_ip(host).ok_or_else(|| ConfigError::Invalid {
        key: "rest.host.name".into(),
        value: host.to_owned(),
        problem: "expected an IP address or localhost".into(),
    })?;
    Ok(Some(SocketAddr::new(ip, port)))
}

fn advertised_id(props: &Properties, bound: SocketAddr) -> Result<String, ConfigError> {
    if let Some(listener) = props.get("rest.advertised.listener")
        && !listener.trim().eq_ignore_ascii_case("http")
    {
        return Err(ConfigError::Invalid {
            key: "rest.advertised.listener".into(),
            value: listener.to_owned(),
            problem: "the REST API serves http only: set it to http or remove it".into(),
        });
    }
    let port: u16 = props.parse("rest.advertised.port", bound.port(), "a port number")?;
    let written = match props.get("listeners") {
        Some(listeners) => {
            let first = listeners.split(',').next().unwrap_or("").trim();
            let authority = first.strip_prefix("http://").unwrap_or(first);
            let authority = authority.trim_end_matches('/');
            authority
                .rsplit_once(':')
                .map_or(authority, |(host, _)| host)
                .to_owned()
        }
        None => props.get_or("rest.host.name", "").to_owned(),
    };
    let host = match props.get("rest.advertised.host.name") {
        Some(host) => host.trim().to_owned(),
        None if !written.is_empty() && written != "0.0.0.0" => written,
        None => machine_host_name().unwrap_or_else(|| bound.ip().to_string()),
    };
    Ok(format!("{host}:{port}"))
}

/// This machine's host name, as a worker listening on every address advertises itself.
fn machine_host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

fn host_ip(host: &str) -> Option<IpAddr> {
    match host.trim_matches(['[', ']']) {
        "" | "0.0.0.0" => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        "localhost" => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_id_is_the_advertised_address() {
        let bound: SocketAddr = "127.0.0.1:38083".parse().unwrap();
        let id = |pairs: &[(&str, &str)]| {
            WorkerConfig::advertised_id(&Properties::from_pairs(pairs.iter().copied()), bound)
        };
        assert_eq!(id(&[]).unwrap(), machine_host_name().unwrap() + ":38083");
        assert_eq!(
            id(&[("listeners", "http://localhost:0")]).unwrap(),
            "localhost:38083"
        );
        assert_eq!(
            id(&[
                ("listeners", "http://127.0.0.1:0"),
                ("rest.advertised.host.name", "worker-7.example.com"),
                ("rest.advertised.port", "443"),
                ("rest.advertised.listener", "HTTP"),
            ])
            .unwrap(),
            "worker-7.example.com:443"
        );
        let err = id(&[("rest.advertised.listener", "https")]).unwrap_err();
        assert!(
            err.to_string().contains("rest.advertised.listener"),
            "{err}"
        );
        let err = id(&[("rest.advertised.port", "x")]).unwrap_err();
        assert!(err.to_string().contains("rest.advertised.port"), "{err}");
    }

    #[test]
    fn connect_defaults_and_overrides() {
        let w = WorkerConfig::from_properties(&Properties::from_pairs([("x", "y")])).unwrap();
        assert_eq!(w.offset_file, PathBuf::from(DEFAULT_OFFSET_FILE));
        assert_eq!(w.flush_interval, Duration::from_secs(60));
        assert!(w.json.key_schemas && w.json.value_schemas);
        let w = WorkerConfig::from_properties(&Properties::from_pairs([
            ("value.converter.schemas.enable", "false"),
            ("offset.flush.interval.ms", "100"),
            ("sink.file", "out.jsonl"),
        ]))
        .unwrap();
        assert!(!w.json.value_schemas);
        assert_eq!(w.flush_interval, Duration::from_millis(100));
        assert_eq!(w.sink_file.as_deref(), Some("out.jsonl"));
        let err = WorkerConfig::from_properties(&Properties::from_pairs([(
            "key.converter.schemas.enable",
            "maybe",
        )]))
        .unwrap_err();
        assert!(
            err.to_string().contains("key.converter.schemas.enable"),
            "{err}"
        );
    }

    #[test]
    fn rest_listener_from_connect_keys() {
        let address = |pairs: &[(&str, &str)]| {
            WorkerConfig::from_properties(&Properties::from_pairs(pairs.iter().copied()))
                .map(|w| w.rest_address.map(|a| a.to_string()))
        };
        assert_eq!(address(&[]).unwrap(), None);
        assert_eq!(
            address(&[("listeners", "http://localhost:8083")]).unwrap(),
            Some("127.0.0.1:8083".into())
        );
        assert_eq!(
            address(&[("listeners", "http://:8083,http://127.0.0.1:9000")]).unwrap(),
            Some("0.0.0.0:8083".into())
        );
        assert_eq!(
            address(&[("rest.port", "8084"), ("rest.host.name", "127.0.0.1")]).unwrap(),
            Some("127.0.0.1:8084".into())
        );
        let err = address(&[("listeners", "https://:8443")]).unwrap_err();
        assert!(err.to_string().contains("listeners"), "{err}");
        let err = address(&[("rest.port", "eighty")]).unwrap_err();
        assert!(err.to_string().contains("rest.port"), "{err}");
    }

    #[test]
    fn only_the_converters_tidemark_writes_are_accepted() {
        let worker = |pairs: &[(&str, &str)]| {
            WorkerConfig::from_properties(&Properties::from_pairs(pairs.iter().copied()))
        };
        let json = "org.apache.kafka.connect.json.JsonConverter";
        worker(&[
            ("key.converter", json),
            ("value.converter", json),
            (
                "header.converter",
                "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            ),
        ])
        .unwrap();
        worker(&[(
            "header.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )])
        .unwrap();
        let err =
            worker(&[("value.converter", "io.confluent.connect.avro.AvroConverter")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "property 'value.converter' has an invalid value \"io.confluent.connect.avro.AvroConverter\": \
             Tidemark supports only org.apache.kafka.connect.json.JsonConverter: set one of them or \
             remove the property"
        );
        let err = worker(&[(
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )])
        .unwrap_err();
        assert!(err.to_string().contains("'key.converter'"), "{err}");
        let err = worker(&[("header.converter", json)]).unwrap_err();
        assert!(
            err.to_string().contains(
                "supports only org.apache.kafka.connect.storage.SimpleHeaderConverter or \
                 org.apache.kafka.connect.storage.StringConverter"
            ),
            "{err}"
        );
    }
}
