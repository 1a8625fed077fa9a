//! The MySQL/MariaDB connector's settings, read from Debezium's property names and checked
//! before anything connects.

use std::collections::BTreeMap;
use std::path::PathBuf;

use regex::Regex;

use super::keys::*;
use super::tls::MySqlTls;
use crate::config::{ConfigError, Key, Properties};
use crate::kafka::{ClientSettings, java_producer_property};
use crate::sources::options::*;

/// `connector.class` values that select the MySQL flavour.
pub const MYSQL_CLASSES: &[&str] = &["io.debezium.connector.mysql.MySqlConnector", "mysql"];
/// `connector.class` values that select the MariaDB flavour.
pub const MARIADB_CLASSES: &[&str] = &["io.debezium.connector.mariadb.MariaDbConnector", "mariadb"];

/// Which server family the connector is for: it decides the source block's name, the GTID
/// format and a few statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MySql,
    MariaDb,
}

impl Flavor {
    /// The flavour a `connector.class` selects, if it is one of this connector's.
    pub fn from_class(class: &str) -> Option<Flavor> {
        if MYSQL_CLASSES.contains(&class) {
            Some(Flavor::MySql)
        } else if MARIADB_CLASSES.contains(&class) {
            Some(Flavor::MariaDb)
        } else {
            None
        }
    }

    /// `source.connector`.
    pub fn connector(self) -> &'static str {
        match self {
            Flavor::MySql => "mysql",
            Flavor::MariaDb => "mariadb",
        }
    }
}

/// `snapshot.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when there is no offset, then stream.
    Initial,
    /// Snapshot when there is no offset, then stop.
    InitialOnly,
    /// Capture the schemas but no rows, then stream (`no_data`, formerly `schema_only`).
    NoData,
    /// Never snapshot: stream from the stored offset or the start of the binlog.
    Never,
    /// Snapshot at every start.
    Always,
    /// Snapshot when there is no offset or the binlog it names is gone.
    WhenNeeded,
}

/// `snapshot.locking.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockingMode {
    /// Without a consistent-snapshot position from the server, a global read lock is held
    /// only while the binlog position is read.
    Minimal,
    /// Never lock.
    None,
}

/// `bigint.unsigned.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BigintUnsignedMode {
    /// An int64 (values above `i64::MAX` wrap, as Debezium's `long`).
    Long,
    /// A Decimal with scale 0.
    Precise,
}

/// How values are represented (`decimal.handling.mode`, `time.precision.mode`,
/// `bigint.unsigned.handling.mode`, `binary.handling.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeModes {
    pub decimal: DecimalMode,
    pub time: TimeMode,
    pub bigint_unsigned: BigintUnsignedMode,
    pub binary: BinaryMode,
}

impl Default for TypeModes {
    fn default() -> TypeModes {
        TypeModes {
            decimal: DecimalMode::Precise,
            time: TimeMode::AdaptiveTimeMicroseconds,
            bigint_unsigned: BigintUnsignedMode::Long,
            binary: BinaryMode::Bytes,
        }
    }
}

/// A comma-separated list of whole-name regular expressions, with its exclude twin.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl NameFilter {
    fn read(props: &Properties, include: &Key, exclude: &Key) -> Result<NameFilter, ConfigError> {
        let (include, exclude) = include_exclude(props, include, exclude)?;
        Ok(NameFilter { include, exclude })
    }

    /// Whether a name passes the filter.
    pub fn allows(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(name)))
            && !self.exclude.iter().any(|r| r.is_match(name))
    }

    /// The position of the first include entry matching `name` (snapshot order).
    pub fn rank(&self, name: &str) -> usize {
        self.include
            .iter()
            .position(|r| r.is_match(name))
            .unwrap_or(0)
    }
}

/// Include/exclude filters of databases (`db`), tables (`db.table`) and columns
/// (`db.table.column`).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub databases: NameFilter,
    pub tables: NameFilter,
    pub columns: NameFilter,
}

/// Databases no connector captures.
const SYSTEM_DATABASES: &[&str] = &["mysql", "sys", "performance_schema", "information_schema"];

impl Filters {
    /// Whether a database's changes may be captured at all.
    pub fn database(&self, db: &str) -> bool {
        !SYSTEM_DATABASES.contains(&db) && self.databases.allows(db)
    }

    /// Whether a table is captured.
    pub fn table(&self, db: &str, table: &str) -> bool {
        self.database(db) && self.tables.allows(&format!("{db}.{table}"))
    }

    /// Whether a column is captured.
    pub fn column(&self, db: &str, table: &str, column: &str) -> bool {
        self.columns.allows(&format!("{db}.{table}.{column}"))
    }
}

/// `schema.history.internal`: where the connector records the DDL it has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryStore {
    /// `io.debezium.storage.file.history.FileSchemaHistory` with its file.
    File(PathBuf),
    /// `io.debezium.storage.kafka.history.KafkaSchemaHistory` with its topic and brokers.
    Kafka(KafkaHistoryConfig),
    /// No history store configured: DDL is still applied in memory.
    None,
}

/// Where `KafkaSchemaHistory` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaHistoryConfig {
    /// `schema.history.internal.kafka.topic`.
    pub topic: String,
    /// The producer's (and the admin client's) librdkafka properties: `bootstrap.servers`
    /// from `schema.history.internal.kafka.bootstrap.servers`, every
    /// `schema.history.internal.producer.*` without its prefix (Java's security properties
    /// translated), and Tidemark's defaults for what they leave unset.
    pub producer: BTreeMap<String, String>,
}

/// The history producer's defaults: acknowledged by every in-sync replica, in order, and
/// retried through an outage instead of dropped.
const HISTORY_PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("message.timeout.ms", "0"),
];

impl KafkaHistoryConfig {
    fn from_properties(props: &Properties) -> Result<KafkaHistoryConfig, ConfigError> {
        let topic = props.required(&HISTORY_TOPIC)?.to_owned();
        let servers = props.required(&HISTORY_SERVERS)?.to_owned();
        // As Debezium's: the history's clients take only their own prefixes, not the
        // worker's settings.
        let servers_key = HISTORY_SERVERS.name.as_ref();
        let mut producer = ClientSettings::layered(
            props,
            (servers_key, &servers),
            &["schema.history.internal.producer."],
            java_producer_property,
        )?;
        producer.set_default(
            "client.id",
            &format!("{}-schemahistory", props.required(&NAME)?),
        );
        for (key, value) in HISTORY_PRODUCER_DEFAULTS {
            producer.set_default(key, value);
        }
        producer.check()?;
        // The history is written, never read back (see docs/mysql.md): the consumer's
        // security settings are checked like the producer's, its other settings and the
        // recovery settings Debezium's configs carry have nothing to set.
        ClientSettings::layered(
            props,
            (servers_key, &servers),
            &["schema.history.internal.consumer."],
            |_, key, value| Ok((key.to_owned(), value)),
        )?;
        props.with_prefix("schema.history.internal.kafka.");
        let producer = producer.properties().clone();
        Ok(KafkaHistoryConfig { topic, producer })
    }
}

/// Settings of one MySQL or MariaDB connector.
#[derive(Debug, Clone)]
pub struct MySqlConfig {
    /// The connector's name (`name`), used in offsets.
    pub name: String,
    pub flavor: Flavor,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// `database.ssl.mode` and its trust and key stores.
    pub tls: MySqlTls,
    /// `database.server.id`: the replica id this connector registers with.
    pub server_id: u32,
    /// `topic.prefix`: the logical server name, first part of every topic.
    pub topic_prefix: String,
    /// Where notifications about the snapshot go (`notification.*`).
    pub notifications: crate::sources::notify::Notifier,
    pub filters: Filters,
    /// `table.include.list` as written, to check that literal entries name real tables.
    pub table_include_list: Vec<String>,
    /// `gtid.source.includes` / `gtid.source.excludes`: which GTID sources (MySQL server
    /// UUIDs, MariaDB `domain-server`) the stored GTID set keeps.
    pub gtid_sources: NameFilter,
    pub snapshot_mode: SnapshotMode,
    pub locking_mode: LockingMode,
    /// `include.schema.changes`: emit schema change events on the `<prefix>` topic.
    pub include_schema_changes: bool,
    pub history: HistoryStore,
    pub types: TypeModes,
    pub tombstones_on_delete: bool,
    pub skipped: SkippedOps,
    /// `max.batch.size`: records per batch handed to the pipeline.
    pub max_batch_size: usize,
    /// `snapshot.max.threads`: connections reading the initial snapshot (MariaDB).
    pub snapshot_threads: usize,
    /// `heartbeat.interval.ms`; 0 disables heartbeats.
    pub heartbeat_interval_ms: u64,
    /// The heartbeat topic: `topic.heartbeat.name`, else `__debezium-heartbeat.<prefix>`.
    pub heartbeat_topic: String,
    pub convert_failure: ConvertFailure,
    /// With `provide.transaction.metadata=true`, the topic of the BEGIN/END events:
    /// `<topic.prefix>.<topic.transaction>` (`transaction` by default).
    pub transaction_topic: Option<String>,
    /// How the source reconnects after a retriable failure.
    pub reconnect: crate::sources::reconnect::ReconnectPolicy,
    /// Where signals come from, and how incremental snapshots read (`signal.*`,
    /// `incremental.snapshot.*`); MariaDB only.
    pub signals: crate::sources::signals::SignalConfig,
}

impl MySqlConfig {
    /// Reads and checks the connector's properties for the flavour `flavor`.
    pub fn from_properties(props: &Properties, flavor: Flavor) -> Result<MySqlConfig, ConfigError> {
        if flavor == Flavor::MySql {
            crate::sources::signals::refuse_signals(
                props,
                "the MySQL connector (incremental snapshots need MariaDB's \
                 binlog_snapshot_position; this release has them for Postgres and MariaDB)",
            )?;
        }
        let snapshot_threads: usize = props.number(&SNAPSHOT_THREADS)?;
        if flavor == Flavor::MySql && snapshot_threads > 1 {
            return Err(ConfigError::Invalid {
                key: SNAPSHOT_THREADS.name.to_string(),
                value: snapshot_threads.to_string(),
                problem: "the MySQL connector reads its snapshot with one connection (several \
                          need MariaDB's binlog_snapshot_position); remove the key or set it to 1"
                    .into(),
            });
        }
        let filters = Filters {
            databases: NameFilter::read(props, &DATABASE_INCLUDE, &DATABASE_EXCLUDE)?,
            tables: NameFilter::read(props, &TABLE_INCLUDE, &TABLE_EXCLUDE)?,
            columns: NameFilter::read(props, &COLUMN_INCLUDE, &COLUMN_EXCLUDE)?,
        };
        let snapshot_mode = match props.choose(&SNAPSHOT_MODE)?.as_str() {
            "initial" => SnapshotMode::Initial,
            "initial_only" => SnapshotMode::InitialOnly,
            "no_data" | "schema_only" => SnapshotMode::NoData,
            "never" => SnapshotMode::Never,
            "always" => SnapshotMode::Always,
            _ => SnapshotMode::WhenNeeded,
        };
        let locking_mode = match props.choose(&LOCKING_MODE)?.as_str() {
            "minimal" => LockingMode::Minimal,
            _ => LockingMode::None,
        };
        let history = match props.value(&HISTORY_CLASS)? {
            None => HistoryStore::None,
            Some(FILE_HISTORY) => HistoryStore::File(PathBuf::from(props.required(&HISTORY_FILE)?)),
            Some(_) => HistoryStore::Kafka(KafkaHistoryConfig::from_properties(props)?),
        };
        let types = TypeModes {
            decimal: match props.choose(&DECIMAL_MODE)?.as_str() {
                "precise" => DecimalMode::Precise,
                "double" => DecimalMode::Double,
                _ => DecimalMode::String,
            },
            time: match props.choose(&TIME_MODE)?.as_str() {
                "connect" => TimeMode::Connect,
                _ => TimeMode::AdaptiveTimeMicroseconds,
            },
            bigint_unsigned: match props.choose(&BIGINT_MODE)?.as_str() {
                "precise" => BigintUnsignedMode::Precise,
                _ => BigintUnsignedMode::Long,
            },
            binary: match props.choose(&BINARY_MODE)?.as_str() {
                "bytes" => BinaryMode::Bytes,
                "base64" => BinaryMode::Base64,
                _ => BinaryMode::Hex,
            },
        };
        let name = props.required(&NAME)?.to_owned();
        // Debezium picks a random id in 5400..6400; a stable one keeps restarts recognisable.
        let default_server_id = 5400
            + name
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
                % 1000;
        let server_id = props.typed(&SERVER_ID)?.unwrap_or(default_server_id);
        let tls = MySqlTls::from_properties(props)?;
        let hostname = props.required(&HOSTNAME)?.to_owned();
        let port = props.number(&PORT)?;
        let user = props.required(&USER)?.to_owned();
        let topic_prefix = props.required(&TOPIC_PREFIX)?.to_owned();
        Ok(MySqlConfig {
            tls,
            name,
            flavor,
            hostname,
            port,
            user,
            password: props.value(&PASSWORD)?.unwrap_or("").to_owned(),
            server_id,
            filters,
            table_include_list: props.items(&TABLE_INCLUDE)?,
            gtid_sources: NameFilter::read(props, &GTID_INCLUDE, &GTID_EXCLUDE)?,
            snapshot_mode,
            locking_mode,
            include_schema_changes: props.flag(&SCHEMA_CHANGES)?,
            history,
            types,
            tombstones_on_delete: props.flag(&TOMBSTONES)?,
            skipped: SkippedOps::parse(props)?,
            max_batch_size: props.number(&MAX_BATCH_SIZE)?,
            snapshot_threads,
            heartbeat_interval_ms: props.number(&HEARTBEAT_INTERVAL)?,
            heartbeat_topic: heartbeat_topic(props, &topic_prefix)?,
            notifications: crate::sources::notify::Notifier::from_properties(props, &topic_prefix)?,
            topic_prefix,
            convert_failure: ConvertFailure::parse(props)?,
            transaction_topic: crate::sources::options::transaction_topic(props)?,
            reconnect: crate::sources::reconnect::ReconnectPolicy::from_properties(props)?,
            signals: crate::sources::signals::SignalConfig::from_properties(props)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("database.hostname", "127.0.0.1"),
            ("database.user", "root"),
            ("topic.prefix", "dbz"),
        ]
    }

    fn config(extra: &[(&'static str, &'static str)]) -> Result<MySqlConfig, ConfigError> {
        let mut p = base();
        p.extend_from_slice(extra);
        MySqlConfig::from_properties(&Properties::from_pairs(p), Flavor::MariaDb)
    }

    #[test]
    fn defaults_follow_debezium() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 3306);
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(c.locking_mode, LockingMode::Minimal);
        assert!(c.include_schema_changes);
        assert_eq!(c.types, TypeModes::default());
        assert!((5400..6400).contains(&c.server_id));
        assert!(c.filters.table("shop", "orders"));
        assert!(!c.filters.table("mysql", "user"));
        assert_eq!(Flavor::from_class("mariadb"), Some(Flavor::MariaDb));
        assert_eq!(
            Flavor::from_class("io.debezium.connector.mysql.MySqlConnector"),
            Some(Flavor::MySql)
        );
    }

    #[test]
    fn filters_match_whole_names() {
        let c = config(&[
            ("database.include.list", "tenant_.*"),
            ("table.exclude.list", ".*\\.audit"),
            ("gtid.source.includes", "0-1"),
        ])
        .unwrap();
        assert!(c.filters.table("tenant_7", "orders"));
        assert!(!c.filters.table("tenant_7", "audit"));
        assert!(!c.filters.table("other", "orders"));
        assert!(c.gtid_sources.allows("0-1"));
        assert!(!c.gtid_sources.allows("0-12"));
    }

    #[test]
    fn invalid_values_fail_before_connecting() {
        let err = config(&[("snapshot.locking.mode", "extended")]).unwrap_err();
        assert!(err.to_string().contains("snapshot.locking.mode"), "{err}");
        let err = config(&[(
            "schema.history.internal",
            "io.debezium.storage.kafka.history.KafkaSchemaHistory",
        )])
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("schema.history.internal.kafka.topic"),
            "{err}"
        );
        let err = config(&[
            (
                "schema.history.internal",
                "io.debezium.storage.kafka.history.KafkaSchemaHistory",
            ),
            ("schema.history.internal.kafka.topic", "history"),
            (
                "schema.history.internal.kafka.bootstrap.servers",
                "127.0.0.1:9092",
            ),
            ("schema.history.internal.producer.acks", "several"),
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("schema.history.internal.producer.acks"),
            "{err}"
        );
        let err = config(&[(
            "schema.history.internal",
            "io.debezium.storage.redis.history.RedisSchemaHistory",
        )])
        .unwrap_err();
        assert!(err.to_string().contains("KafkaSchemaHistory"), "{err}");
        let err = config(&[
            ("database.include.list", "a"),
            ("database.exclude.list", "b"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        let err = config(&[("database.server.id", "0")]).unwrap_err();
        assert!(err.to_string().contains("database.server.id"), "{err}");
    }
}
