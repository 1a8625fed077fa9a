//! The Postgres connector's settings, read from Debezium's property names and checked before
//! anything connects.

use regex::Regex;

use super::tls::PgTls;
use super::types::{BinaryMode, DecimalMode, TimeMode, TypeOptions};
use crate::config::{ConfigError, Properties};
pub use crate::sources::options::{ConvertFailure, SkippedOps, regexes};

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
    pub filters: Filters,
    /// `table.include.list` as written, to check that literal entries name real tables.
    pub table_include_list: Vec<String>,
    pub slot_name: String,
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
        props.choice("plugin.name", "pgoutput", &["pgoutput"])?;
        let tls = PgTls::from_properties(props)?;
        for level in ["schema", "table", "column"] {
            let (include, exclude) = (
                format!("{level}.include.list"),
                format!("{level}.exclude.list"),
            );
            if props.get(&include).is_some() && props.get(&exclude).is_some() {
                return Err(ConfigError::Invalid {
                    key: exclude,
                    value: props
                        .get_or(&format!("{level}.exclude.list"), "")
                        .to_owned(),
                    problem: format!("set either {include} or {level}.exclude.list, not both"),
                });
            }
        }
        let filters = Filters {
            schema_include: regexes(props, "schema.include.list")?,
            schema_exclude: regexes(props, "schema.exclude.list")?,
            table_include: regexes(props, "table.include.list")?,
            table_exclude: regexes(props, "table.exclude.list")?,
            column_include: regexes(props, "column.include.list")?,
            column_exclude: regexes(props, "column.exclude.list")?,
        };
        let snapshot_mode = match props
            .choice(
                "snapshot.mode",
                "initial",
                &[
                    "initial",
                    "no_data",
                    "never",
                    "initial_only",
                    "always",
                    "when_needed",
                ],
            )?
            .as_str()
        {
            "initial" => SnapshotMode::Initial,
            "no_data" => SnapshotMode::NoData,
            "never" => SnapshotMode::Never,
            "initial_only" => SnapshotMode::InitialOnly,
            "always" => SnapshotMode::Always,
            _ => SnapshotMode::WhenNeeded,
        };
        let publication_mode = match props
            .choice(
                "publication.autocreate.mode",
                "all_tables",
                &["all_tables", "filtered", "disabled"],
            )?
            .as_str()
        {
            "all_tables" => PublicationMode::AllTables,
            "filtered" => PublicationMode::Filtered,
            _ => PublicationMode::Disabled,
        };
        let types = TypeOptions {
            decimal: match props
                .choice(
                    "decimal.handling.mode",
                    "precise",
                    &["precise", "double", "string"],
                )?
                .as_str()
            {
                "precise" => DecimalMode::Precise,
                "double" => DecimalMode::Double,
                _ => DecimalMode::String,
            },
            time: match props
                .choice(
                    "time.precision.mode",
                    "adaptive",
                    &["adaptive", "adaptive_time_microseconds", "connect"],
                )?
                .as_str()
            {
                "adaptive" => TimeMode::Adaptive,
                "connect" => TimeMode::Connect,
                _ => TimeMode::AdaptiveTimeMicroseconds,
            },
            binary: match props
                .choice("binary.handling.mode", "bytes", &["bytes", "base64", "hex"])?
                .as_str()
            {
                "bytes" => BinaryMode::Bytes,
                "base64" => BinaryMode::Base64,
                _ => BinaryMode::Hex,
            },
            snapshot: false,
        };
        Ok(PostgresConfig {
            name: props.get_or("name", "tidemark").to_owned(),
            hostname: props
                .require("database.hostname", "the Postgres server's host name")?
                .to_owned(),
            port: props.parse("database.port", 5432, "a port number")?,
            user: props
                .require(
                    "database.user",
                    "the user to connect as (needs REPLICATION)",
                )?
                .to_owned(),
            password: props.get_or("database.password", "").to_owned(),
            dbname: props
                .require("database.dbname", "the database to capture")?
                .to_owned(),
            tls,
            topic_prefix: props
                .require(
                    "topic.prefix",
                    "the logical server name, first part of every topic",
                )?
                .to_owned(),
            filters,
            table_include_list: props.list("table.include.list"),
            slot_name: props.get_or("slot.name", "debezium").to_owned(),
            publication_name: props
                .get_or("publication.name", "dbz_publication")
                .to_owned(),
            publication_mode,
            snapshot_mode,
            types,
            tombstones_on_delete: props.parse("tombstones.on.delete", true, "true or false")?,
            heartbeat_interval_ms: props.parse("heartbeat.interval.ms", 0, "milliseconds")?,
            heartbeat_action_query: props.get("heartbeat.action.query").map(str::to_owned),
            heartbeat_topic: match props.get("topic.heartbeat.name") {
                Some(name) => name.to_owned(),
                None => format!(
                    "{}.{}",
                    props.get_or("topic.heartbeat.prefix", "__debezium-heartbeat"),
                    props.get_or("topic.prefix", "")
                ),
            },
            skipped: SkippedOps::parse(props)?,
            convert_failure: ConvertFailure::parse(props)?,
            transaction_topic: crate::sources::options::transaction_topic(props)?,
            reconnect: crate::sources::reconnect::ReconnectPolicy::from_properties(props)?,
            max_batch_size: match props.parse("max.batch.size", 2048usize, "a positive number")? {
                0 => {
                    return Err(ConfigError::Invalid {
                        key: "max.batch.size".into(),
                        value: "0".into(),
                        problem: "expected a positive number".into(),
                    });
                }
                n => n,
            },
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
