//! Worker settings: what Kafka Connect's standalone worker (or Debezium Server) configures
//! around a connector — offsets, plugins, converters and, in Tidemark, the embedded sink.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Importance, Key, Properties};
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

super::declare_keys! {
    /// `offset.storage.file.filename`.
    OFFSET_FILE = Key::string("offset.storage.file.filename")
        .default(DEFAULT_OFFSET_FILE)
        .group("Worker")
        .importance(Importance::High)
        .doc("The file that keeps each connector's source offsets (JSON). Ignored when \
              offsets go to Kafka (offset.storage.topic).");
    /// `offset.flush.interval.ms`.
    FLUSH_INTERVAL = Key::long("offset.flush.interval.ms")
        .default("60000")
        .range(Some(0), None)
        .group("Worker")
        .doc("How often, in milliseconds, offsets are committed once the sink has flushed \
              (Kafka Connect's default: 60 s).");
    /// `plugin.path`.
    PLUGIN_PATH = Key::string("plugin.path")
        .group("Worker")
        .doc("The plugin directory: transform and sink plugins found there are loaded by \
              name and reloaded when their file changes.");
    /// `sink.file`.
    SINK_FILE = Key::string("sink.file")
        .group("Sink")
        .doc("Write change events as JSON lines to this file; unset or - for standard output \
              (when no Kafka or plugin sink is configured).");
    /// `key.converter.schemas.enable`.
    KEY_SCHEMAS = Key::boolean("key.converter.schemas.enable")
        .default("true")
        .group("Converters")
        .doc("Write each key with its schema (JsonConverter's envelope), as Connect does.");
    /// `value.converter.schemas.enable`.
    VALUE_SCHEMAS = Key::boolean("value.converter.schemas.enable")
        .default("true")
        .group("Converters")
        .doc("Write each value with its schema (JsonConverter's envelope), as Connect does.");
    /// `value.converter.replace.null.with.default`.
    REPLACE_NULL = Key::boolean("value.converter.replace.null.with.default")
        .default("true")
        .group("Converters")
        .doc("Write a null field that has a default as its default, as JsonConverter does.");
    /// `key.converter`.
    KEY_CONVERTER = Key::class("key.converter")
        .check(json_converter)
        .group("Converters")
        .doc("The key converter: Tidemark writes keys as \
              org.apache.kafka.connect.json.JsonConverter does, the only one accepted.");
    /// `value.converter`.
    VALUE_CONVERTER = Key::class("value.converter")
        .check(json_converter)
        .group("Converters")
        .doc("The value converter: Tidemark writes values as \
              org.apache.kafka.connect.json.JsonConverter does, the only one accepted.");
    /// `header.converter`.
    HEADER_CONVERTER = Key::class("header.converter")
        .check(header_converter)
        .group("Converters")
        .doc("The header converter: header values are written as strings, as \
              org.apache.kafka.connect.storage.SimpleHeaderConverter (Connect's default) and \
              StringConverter write them; those two are accepted.");
    /// `listeners`.
    LISTENERS = Key::list("listeners")
        .group("REST")
        .doc("Where the REST API listens: http://host:port (the first entry; an empty host \
              is every address). Unset: rest.port, else no API.");
    /// `rest.port`.
    REST_PORT = Key::int("rest.port")
        .range(Some(0), Some(65535))
        .group("REST")
        .doc("The REST API's port when listeners is unset (Connect's older key).");
    /// `rest.host.name`.
    REST_HOST = Key::string("rest.host.name")
        .group("REST")
        .doc("The REST API's address with rest.port: an IP address or localhost; empty for \
              every address.");
    /// `rest.advertised.host.name`.
    ADVERTISED_HOST = Key::string("rest.advertised.host.name")
        .group("REST")
        .doc("The host in the worker's advertised address (worker_id): else the listener's \
              host, else (listening on every address) the machine's host name.");
    /// `rest.advertised.port`.
    ADVERTISED_PORT = Key::int("rest.advertised.port")
        .range(Some(0), Some(65535))
        .group("REST")
        .doc("The port in the worker's advertised address (worker_id); else the bound port.");
    /// `rest.advertised.listener`.
    ADVERTISED_LISTENER = Key::string("rest.advertised.listener")
        .check(|listener| match listener.eq_ignore_ascii_case("http") {
            true => Ok(()),
            false => Err("the REST API serves http only: set it to http or remove it".into()),
        })
        .group("REST")
        .doc("The advertised protocol: http, the one the REST API serves.");
    /// `errors.retry.delay.max.ms`.
    RETRY_DELAY_MAX = Key::long("errors.retry.delay.max.ms")
        .default("60000")
        .range(Some(0), None)
        .group("Error handling")
        .doc("The longest wait, in milliseconds, between attempts after a retriable failure \
              (the source's reconnects, a sink plugin's retries).");
    /// `errors.retry.timeout`.
    RETRY_TIMEOUT = Key::long("errors.retry.timeout")
        .default("-1")
        .range(Some(-1), None)
        .group("Error handling")
        .doc("How long, in milliseconds, a run of retriable failures may last before the \
              connector fails; -1 retries without limit.");
    /// `task.shutdown.graceful.timeout.ms`.
    SHUTDOWN_TIMEOUT = Key::long("task.shutdown.graceful.timeout.ms")
        .default("5000")
        .range(Some(0), None)
        .group("Worker")
        .doc("How long, in milliseconds, a stop may take before the process ends without \
              waiting further.");
    /// `config.storage.file`.
    CONFIG_STORAGE = Key::string("config.storage.file")
        .group("Worker")
        .doc("Where tidemark worker keeps the connector configs created over REST (default: \
              connectors.json next to the offsets file), so they come back after a restart.");
    /// `tasks.max`.
    TASKS_MAX = Key::int("tasks.max")
        .ignored()
        .group("Worker")
        .doc("Accepted and ignored: a Tidemark connector runs one task, as Debezium's do.");
    /// `offset.flush.timeout.ms`.
    FLUSH_TIMEOUT = Key::long("offset.flush.timeout.ms")
        .ignored()
        .group("Worker")
        .doc("Accepted and ignored: offsets are committed once the sink has flushed.");
    /// `internal.key.converter`.
    INTERNAL_KEY_CONVERTER = Key::class("internal.key.converter")
        .ignored()
        .group("Worker")
        .doc("Accepted and ignored (removed from Kafka Connect; offsets are JSON).");
    /// `internal.value.converter`.
    INTERNAL_VALUE_CONVERTER = Key::class("internal.value.converter")
        .ignored()
        .group("Worker")
        .doc("Accepted and ignored (removed from Kafka Connect; offsets are JSON).");
    /// `status.update.interval.ms`.
    STATUS_INTERVAL = Key::long("status.update.interval.ms")
        .ignored()
        .group("Worker")
        .doc("Accepted and ignored: Debezium's status updates; see the REST API and metrics.");
}

impl WorkerConfig {
    /// `task.shutdown.graceful.timeout.ms` (Connect's default: 5 s): how long a stop request
    /// may take before the process ends without waiting further. Read by the process before
    /// the connector starts, on its own: the rest of the worker settings are read after
    /// config providers are resolved.
    pub fn shutdown_timeout(props: &Properties) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(props.number(&SHUTDOWN_TIMEOUT)?))
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
        props.value(&KEY_CONVERTER)?;
        props.value(&VALUE_CONVERTER)?;
        props.value(&HEADER_CONVERTER)?;
        // The process applies it (`tidemark run`); checked here too, so that a connector run
        // any other way reports a bad value and does not call the key unknown.
        Self::shutdown_timeout(props)?;
        Self::advertised_id(props, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        // Read by `tidemark worker` before any connector; read here so that it is not
        // reported as unknown.
        props.value(&CONFIG_STORAGE)?;
        let flush_ms: u64 = props.number(&FLUSH_INTERVAL)?;
        Ok(WorkerConfig {
            offset_file: PathBuf::from(props.required(&OFFSET_FILE)?),
            flush_interval: Duration::from_millis(flush_ms.max(1)),
            plugin_path: props.value(&PLUGIN_PATH)?.map(PathBuf::from),
            sink_file: props.value(&SINK_FILE)?.map(str::to_owned),
            rest_address: rest_address(props)?,
            json: JsonOptions {
                key_schemas: props.flag(&KEY_SCHEMAS)?,
                value_schemas: props.flag(&VALUE_SCHEMAS)?,
                replace_null_with_default: props.flag(&REPLACE_NULL)?,
            },
        })
    }
}

const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// Keys and values are written as Kafka Connect's JsonConverter writes them: a converter set
/// to another class is an error naming it, never a silent change of format.
fn json_converter(class: &str) -> Result<(), String> {
    supported(class, &[JSON_CONVERTER])
}

/// Header values are written as strings (what SimpleHeaderConverter, Connect's default, and
/// StringConverter write for a string).
fn header_converter(class: &str) -> Result<(), String> {
    supported(
        class,
        &[
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "org.apache.kafka.connect.storage.StringConverter",
        ],
    )
}

fn supported(class: &str, classes: &[&str]) -> Result<(), String> {
    if classes.contains(&class) {
        Ok(())
    } else {
        Err(format!(
            "Tidemark supports only {}: set one of them or remove the property",
            classes.join(" or ")
        ))
    }
}

/// The converter classes Tidemark accepts (`GET /connector-plugins?connectorsOnly=false`):
/// each with Connect's plugin type (`converter` or `header_converter`).
pub const CONVERTER_PLUGINS: &[(&str, &str)] = &[
    (JSON_CONVERTER, "converter"),
    (
        "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        "header_converter",
    ),
    (
        "org.apache.kafka.connect.storage.StringConverter",
        "header_converter",
    ),
];

/// A converter class's keys, as `GET /connector-plugins/{converter}/config` lists them (in a
/// connector's config they take the `key.converter.` or `value.converter.` prefix): the
/// JsonConverter settings Tidemark honours, none for the header converters. `None` for a
/// class Tidemark does not accept; a class may be named by its simple name.
pub fn converter_keys(class: &str) -> Option<(&'static str, Vec<Key>)> {
    let (class, _) = CONVERTER_PLUGINS
        .iter()
        .find(|(c, _)| *c == class || c.rsplit('.').next() == Some(class))?;
    let keys = if *class == JSON_CONVERTER {
        vec![
            VALUE_SCHEMAS
                .instance("schemas.enable")
                .group("Converter")
                .doc("Write the schema with each key or value (JsonConverter's envelope)."),
            REPLACE_NULL
                .instance("replace.null.with.default")
                .group("Converter")
                .doc("Write a null field that has a default as its default."),
        ]
    } else {
        Vec::new()
    };
    Some((class, keys))
}

/// The REST API's address from `listeners` or `rest.port` / `rest.host.name`.
fn rest_address(props: &Properties) -> Result<Option<SocketAddr>, ConfigError> {
    if let Some(listeners) = props.value(&LISTENERS)? {
        let invalid = |problem: &str| ConfigError::Invalid {
            key: "listeners".into(),
            value: listeners.to_owned(),
            problem: problem.to_owned(),
        };
        let (host, port) = first_listener(listeners).map_err(invalid)?;
        let port: u16 = port
            .parse()
            .map_err(|_| invalid("the port must be a number from 0 to 65535"))?;
        let ip = host_ip(host).ok_or_else(|| {
            invalid("the host must be an IP address, localhost, or empty for every address")
        })?;
        return Ok(Some(SocketAddr::new(ip, port)));
    }
    let Some(port) = props.typed::<u16>(&REST_PORT)? else {
        return Ok(None);
    };
    let host = props.value(&REST_HOST)?.unwrap_or("");
    let ip = host_ip(host).ok_or_else(|| ConfigError::Invalid {
        key: "rest.host.name".into(),
        value: host.to_owned(),
        problem: "expected an IP address or localhost".into(),
    })?;
    Ok(Some(SocketAddr::new(ip, port)))
}

/// The host and port of the first of `listeners` (`http://host:port`, as written), or what is
/// wrong with it.
fn first_listener(listeners: &str) -> Result<(&str, &str), &'static str> {
    let first = listeners.split(',').next().unwrap_or("").trim();
    first
        .strip_prefix("http://")
        .ok_or("expected http://host:port (https is not supported)")?
        .trim_end_matches('/')
        .rsplit_once(':')
        .ok_or("expected http://host:port")
}

fn advertised_id(props: &Properties, bound: SocketAddr) -> Result<String, ConfigError> {
    props.value(&ADVERTISED_LISTENER)?;
    let port = props
        .typed::<u16>(&ADVERTISED_PORT)?
        .unwrap_or(bound.port());
    // An invalid `listeners` is not this function's to report: `rest_address` does.
    let written = match props.value(&LISTENERS)? {
        Some(listeners) => first_listener(listeners).map_or("", |(host, _)| host),
        None => props.value(&REST_HOST)?.unwrap_or(""),
    }
    .to_owned();
    let host = match props.value(&ADVERTISED_HOST)? {
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

    #[test]
    fn converters_list_the_keys_tidemark_honours() {
        let (class, keys) = converter_keys("JsonConverter").unwrap();
        assert_eq!(class, JSON_CONVERTER);
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_ref()).collect();
        assert_eq!(names, ["schemas.enable", "replace.null.with.default"]);
        assert_eq!(keys[0].default_value(), Some("true"));
        let (_, keys) =
            converter_keys("org.apache.kafka.connect.storage.SimpleHeaderConverter").unwrap();
        assert!(keys.is_empty());
        assert!(converter_keys("io.confluent.connect.avro.AvroConverter").is_none());
    }
}
