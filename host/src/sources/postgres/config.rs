//! The Postgres connector's settings, read from Debezium's property names and checked before
//! anything connects.

use regex::Regex;

use super::keys::*;
use super::tls::PgTls;
use super::types::{BinaryMode, DecimalMode, TimeMode, TypeOptions};
use crate::config::{ConfigError, Properties};
use crate::sources::options::*;
pub use crate::sources::options::{ConvertFailure, SkippedOps};

/// `connector.class` values that select this connector.
pub const CLASSES: &[&str] = &[
    "io.debezium.connector.postgresql.PostgresConnector",
    "postgres",
    "postgresql",
];

/// `snapshot.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    Initial,
    NoData,
    Never,
    InitialOnly,
    Always,
    WhenNeeded,
}

/// `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationMode {
    AllTables,
    Filtered,
    Disabled,
}

/// Include/exclude filters over `schema`, `schema.table` and `schema.table.column`, each a
/// comma-separated list of regular expressions that must match the whole name.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    schema_include: Vec<Regex>,
    schema_exclude: Vec<Regex>,
    table_include: Vec<Regex>,
    table_exclude: Vec<Regex>,
    column_include: Vec<Regex>,
    column_exclude: Vec<Regex>,
}

fn matches(list: &[Regex], name: &str) -> bool {
    list.iter().any(|r| r.is_match(name))
}

impl Filters {
    /// Whether a table is captured.
    pub fn table(&self, schema: &str, table: &str) -> bool {
        let full = format!("{schema}.{table}");
        let schema_ok = (self.schema_include.is_empty() || matches(&self.schema_include, schema))
            && !matches(&self.schema_exclude, schema);
        let table_ok = (self.table_include.is_empty() || matches(&self.table_include, &full))
            && !matches(&self.table_exclude, &full);
        schema_ok && table_ok
    }

    /// Where a table comes in the snapshot: the position of the first `table.include.list`
    /// entry that matches it (tables are then ordered by name within an entry).
    pub fn snapshot_rank(&self, schema: &str, table: &str) -> usize {
        let full = format!("{schema}.{table}");
        self.table_include
            .iter()
            .position(|r| r.is_match(&full))
            .unwrap_or(0)
    }

    /// Whether a column is captured.
    pub fn column(&self, schema: &str, table: &str, column: &str) -> bool {
        let full = format!("{schema}.{table}.{column}");
        (self.column_include.is_empty() || matches(&self.column_include, &full))
            && !matches(&self.column_exclude, &full)
    }
}

/// Settings of one Postgres connector.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// The connector's name (`name`), used in offsets.
    pub name: String,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    /// `database.sslmode` and its certificate files.
    pub tls: PgTls,
    /// `topic.prefix`: the logical server name, first part of every topic.
    pub topic_prefix: String,
    /// Where notifications about the snapshot go (`notification.*`).
    pub notifications: crate::sources::notify::Notifier,
    /// Where signals come from, and how incremental snapshots read (`signal.*`,
    /// `incremental.snapshot.*`).
    pub signals: crate::sources::signals::SignalConfig,
    pub filters: Filters,
    /// `table.include.list` as written, to check that literal entries name real tables.
    pub table_include_list: Vec<String>,
    pub slot_name: String,
    /// `slot.max.retries`: how many more looks at a slot another process holds.
    pub slot_max_retries: u32,
    /// `slot.retry.delay.ms`: the wait between two of them.
    pub slot_retry_delay: std::time::Duration,
    pub publication_name: String,
    pub publication_mode: PublicationMode,
    pub snapshot_mode: SnapshotMode,
    pub types: TypeOptions,
    pub tombstones_on_delete: bool,
    /// `heartbeat.interval.ms`; 0 disables heartbeats.
    pub heartbeat_interval_ms: u64,
    /// `heartbeat.action.query`, run on each heartbeat.
    pub heartbeat_action_query: Option<String>,
    /// The heartbeat topic: `topic.heartbeat.name`, else
    /// `<topic.heartbeat.prefix>.<topic.prefix>` (prefix `__debezium-heartbeat`).
    pub heartbeat_topic: String,
    /// `skipped.operations`.
    pub skipped: SkippedOps,
    /// `max.batch.size`: records per batch handed to the pipeline.
    pub max_batch_size: usize,
    /// `snapshot.max.threads`: connections reading the initial snapshot.
    pub snapshot_threads: usize,
    /// `event.converting.failure.handling.mode`.
    pub convert_failure: ConvertFailure,
    /// With `provide.transaction.metadata=true`, the topic of the BEGIN/END events:
    /// `<topic.prefix>.<topic.transaction>` (`transaction` by default).
    pub transaction_topic: Option<String>,
    /// How the source reconnects after a retriable failure.
    pub reconnect: crate::sources::reconnect::ReconnectPolicy,
}

impl PostgresConfig {
    /// Reads and checks the connector's properties.
    pub fn from_properties(props: &Properties) -> Result<PostgresConfig, ConfigError> {
        props.value(&PLUGIN_NAME)?;
        let tls = PgTls::from_properties(props)?;
        let (schema_include, schema_exclude) =
            include_exclude(props, &SCHEMA_INCLUDE, &SCHEMA_EXCLUDE)?;
        let (table_include, table_exclude) =
            include_exclude(props, &TABLE_INCLUDE, &TABLE_EXCLUDE)?;
        let (column_include, column_exclude) =
            include_exclude(props, &COLUMN_INCLUDE, &COLUMN_EXCLUDE)?;
        let filters = Filters {
            schema_include,
            schema_exclude,
            table_include,
            table_exclude,
            column_include,
            column_exclude,
        };
        let snapshot_mode = match props.choose(&SNAPSHOT_MODE)?.as_str() {
            "initial" => SnapshotMode::Initial,
            "no_data" => SnapshotMode::NoData,
            "never" => SnapshotMode::Never,
            "initial_only" => SnapshotMode::InitialOnly,
            "always" => SnapshotMode::Always,
            _ => SnapshotMode::WhenNeeded,
        };
        let publication_mode = match props.choose(&PUBLICATION_MODE)?.as_str() {
            "all_tables" => PublicationMode::AllTables,
            "filtered" => PublicationMode::Filtered,
            _ => PublicationMode::Disabled,
        };
        let types = TypeOptions {
            decimal: match props.choose(&DECIMAL_MODE)?.as_str() {
                "precise" => DecimalMode::Precise,
                "double" => DecimalMode::Double,
                _ => DecimalMode::String,
            },
            time: match props.choose(&TIME_MODE)?.as_str() {
                "adaptive" => TimeMode::Adaptive,
                "connect" => TimeMode::Connect,
                _ => TimeMode::AdaptiveTimeMicroseconds,
            },
            binary: match props.choose(&BINARY_MODE)?.as_str() {
                "bytes" => BinaryMode::Bytes,
                "base64" => BinaryMode::Base64,
                _ => BinaryMode::Hex,
            },
            snapshot: false,
        };
        let hostname = props.required(&HOSTNAME)?.to_owned();
        let port = props.number(&PORT)?;
        let user = props.required(&USER)?.to_owned();
        let dbname = props.required(&DBNAME)?.to_owned();
        let topic_prefix = props.required(&TOPIC_PREFIX)?.to_owned();
        Ok(PostgresConfig {
            name: props.required(&NAME)?.to_owned(),
            hostname,
            port,
            user,
            password: props.value(&PASSWORD)?.unwrap_or("").to_owned(),
            dbname,
            tls,
            filters,
            table_include_list: props.items(&TABLE_INCLUDE)?,
            slot_name: props.required(&SLOT_NAME)?.to_owned(),
            slot_max_retries: props.number(&SLOT_MAX_RETRIES)?,
            slot_retry_delay: std::time::Duration::from_millis(props.number(&SLOT_RETRY_DELAY)?),
            publication_name: props.required(&PUBLICATION_NAME)?.to_owned(),
            publication_mode,
            snapshot_mode,
            types,
            tombstones_on_delete: props.flag(&TOMBSTONES)?,
            heartbeat_interval_ms: props.number(&HEARTBEAT_INTERVAL)?,
            snapshot_threads: props.number(&SNAPSHOT_THREADS)?,
            heartbeat_action_query: props.value(&HEARTBEAT_QUERY)?.map(str::to_owned),
            heartbeat_topic: heartbeat_topic(props, &topic_prefix)?,
            notifications: crate::sources::notify::Notifier::from_properties(props, &topic_prefix)?,
            signals: crate::sources::signals::SignalConfig::from_properties(props)?,
            topic_prefix,
            skipped: SkippedOps::parse(props)?,
            convert_failure: ConvertFailure::parse(props)?,
            transaction_topic: crate::sources::options::transaction_topic(props)?,
            reconnect: crate::sources::reconnect::ReconnectPolicy::from_properties(props)?,
            max_batch_size: props.number(&MAX_BATCH_SIZE)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("database.hostname", "127.0.0.1"),
            ("database.user", "postgres"),
            ("database.dbname", "shop"),
            ("topic.prefix", "dbz"),
        ]
    }

    #[test]
    fn defaults_follow_debezium() {
        let c = PostgresConfig::from_properties(&Properties::from_pairs(base())).unwrap();
        assert_eq!(c.port, 5432);
        assert_eq!(c.slot_name, "debezium");
        assert_eq!(c.publication_name, "dbz_publication");
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert!(c.tombstones_on_delete);
        assert!(c.filters.table("public", "anything"));
    }

    #[test]
    fn filters_match_whole_names() {
        let mut p = base();
        p.push(("table.include.list", "public.cust.*,inv\\.orders"));
        let c = PostgresConfig::from_properties(&Properties::from_pairs(p)).unwrap();
        assert!(c.filters.table("public", "customers"));
        assert!(c.filters.table("inv", "orders"));
        assert!(!c.filters.table("inv", "orders2"));
        assert!(!c.filters.table("xpublic", "customers"));
    }

    #[test]
    fn invalid_values_fail_before_connecting() {
        let mut p = base();
        p.push(("snapshot.mode", "sometimes"));
        let err = PostgresConfig::from_properties(&Properties::from_pairs(p)).unwrap_err();
        assert!(err.to_string().contains("'snapshot.mode'"), "{err}");
        let err = PostgresConfig::from_properties(&Properties::from_pairs(vec![(
            "database.hostname",
            "h",
        )]))
        .unwrap_err();
        assert!(
            err.to_string().contains("'database.user' is required"),
            "{err}"
        );
        let mut p = base();
        p.push(("plugin.name", "decoderbufs"));
        assert!(PostgresConfig::from_properties(&Properties::from_pairs(p)).is_err());
    }
}
