//! Every key of a connector, as data: the connector-level keys declared here
//! (`connector.class`, `transforms`, `predicates`, `offset.storage`), and the whole
//! [`ConfigDef`] of each connector class Tidemark runs — its source's keys, the sinks', the
//! offset stores', the worker's — which drives `config/validate`, the unknown-key warning and
//! `docs/config.md`.

use crate::config::{self, Checked, ConfigDef, ConfigError, Key, Properties, declare_keys};
use std::path::Path;

use super::connector::ConnectorError;
use crate::kafka;
use crate::offsets;
use crate::plugin::{SharedPlugins, catalog, resolve};
use crate::sinks;
use crate::sources::{self, mysql, postgres};

declare_keys! {
    /// `connector.class`.
    CONNECTOR_CLASS = Key::class("connector.class")
        .required("io.debezium.connector.postgresql.PostgresConnector")
        .group("Connector")
        .doc("The connector: io.debezium.connector.postgresql.PostgresConnector (or \
              postgres), io.debezium.connector.mysql.MySqlConnector (or mysql) or \
              io.debezium.connector.mariadb.MariaDbConnector (or mariadb).");
    /// `transforms`.
    TRANSFORMS = Key::list("transforms")
        .group("Transforms")
        .doc("The aliases of the transforms, in the order they run; each is configured by \
              transforms.<alias>.*.");
    /// `transforms.<alias>.type`.
    TRANSFORM_TYPE = Key::string("transforms.<alias>.type")
        .group("Transforms")
        .doc("A transform's class (Kafka Connect's or Debezium's name) or plugin name.");
    /// `transforms.<alias>.predicate`.
    TRANSFORM_PREDICATE = Key::string("transforms.<alias>.predicate")
        .group("Transforms")
        .doc("The predicate (an alias of predicates) that decides which records the \
              transform applies to.");
    /// `transforms.<alias>.negate`.
    TRANSFORM_NEGATE = Key::boolean("transforms.<alias>.negate")
        .default("false")
        .group("Transforms")
        .doc("Apply the transform to the records its predicate does not match.");
    /// `transforms.<alias>.*`.
    TRANSFORM_CONFIG = Key::string("transforms.<alias>.*")
        .group("Transforms")
        .doc("A transform's own settings, and the host's plugin.* limits and grants.");
    /// `predicates`.
    PREDICATES = Key::list("predicates")
        .group("Transforms")
        .doc("The aliases of the predicates transforms may name; each is configured by \
              predicates.<alias>.*.");
    /// `predicates.<alias>.type`.
    PREDICATE_TYPE = Key::string("predicates.<alias>.type")
        .group("Transforms")
        .doc("A predicate's class: Kafka Connect's TopicNameMatches, HasHeaderKey or \
              RecordIsTombstone.");
    /// `predicates.<alias>.*`.
    PREDICATE_CONFIG = Key::string("predicates.<alias>.*")
        .group("Transforms")
        .doc("A predicate's own settings (e.g. pattern for TopicNameMatches).");
    /// `offset.storage`.
    OFFSET_STORAGE = Key::class("offset.storage")
        .check(offset_storage)
        .group("Offsets")
        .doc("Where offsets are kept: org.apache.kafka.connect.storage.FileOffsetBackingStore \
              (file, the default) or …KafkaOffsetBackingStore (kafka; also chosen by setting \
              offset.storage.topic).");
}

/// `offset.storage`'s classes (or `file`, `kafka`).
fn offset_storage(class: &str) -> Result<(), String> {
    let known = ["file", "kafka"].contains(&class)
        || class.ends_with(".FileOffsetBackingStore")
        || class.ends_with(".KafkaOffsetBackingStore");
    if known {
        Ok(())
    } else {
        Err(
            "expected org.apache.kafka.connect.storage.FileOffsetBackingStore (file) or \
             org.apache.kafka.connect.storage.KafkaOffsetBackingStore (kafka)"
                .into(),
        )
    }
}

/// A connector class Tidemark runs, as `GET /connector-plugins` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectorPlugin {
    /// Debezium's class name.
    pub class: &'static str,
    /// The names `connector.class` also accepts.
    pub aliases: &'static [&'static str],
    source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Postgres,
    MySql,
}

/// The connectors Tidemark runs, each with Debezium's class name.
pub const CONNECTORS: &[ConnectorPlugin] = &[
    ConnectorPlugin {
        class: "io.debezium.connector.postgresql.PostgresConnector",
        aliases: &["postgres", "postgresql"],
        source: Source::Postgres,
    },
    ConnectorPlugin {
        class: "io.debezium.connector.mysql.MySqlConnector",
        aliases: &["mysql"],
        source: Source::MySql,
    },
    ConnectorPlugin {
        class: "io.debezium.connector.mariadb.MariaDbConnector",
        aliases: &["mariadb"],
        source: Source::MySql,
    },
];

impl ConnectorPlugin {
    /// The connector a name selects: its class, an alias, or the class's simple name
    /// (`PostgresConnector`), as Connect accepts them; case-insensitive for the short names.
    pub fn find(name: &str) -> Option<ConnectorPlugin> {
        let name = name.trim();
        CONNECTORS.iter().copied().find(|c| {
            c.class == name
                || c.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
                || c.simple_name().eq_ignore_ascii_case(name)
        })
    }

    /// The class's name without its package (`PostgresConnector`).
    pub fn simple_name(&self) -> &'static str {
        self.class.rsplit('.').next().unwrap_or(self.class)
    }

    /// Every key this connector reads.
    pub fn def(&self) -> ConfigDef {
        let mut def = ConfigDef::new(shared());
        match self.source {
            Source::Postgres => def.extend(postgres::keys::keys()),
            Source::MySql => def.extend(mysql::keys::keys()),
        }
        def
    }
}

/// The keys every connector reads: the connector's, both sources', error handling, sinks,
/// offsets, the worker's, config providers.
pub fn shared() -> Vec<Key> {
    [
        keys(),
        sources::options::keys(),
        sources::reconnect::keys(),
        sources::usage::keys(),
        sources::notify::keys(),
        sources::signals::keys(),
        sources::signal_kafka::keys(),
        super::errors::keys(),
        sinks::keys::keys(),
        sinks::kafka::config::keys(),
        kafka::keys::keys(),
        offsets::kafka::keys(),
        config::worker::keys(),
        config::providers::keys(),
    ]
    .concat()
}

/// Every key of every connector: for properties whose connector is unknown (Debezium's old
/// names are renamed with it, and a misspelt key is compared with every known one).
pub fn all() -> ConfigDef {
    let mut def = ConfigDef::default();
    for connector in CONNECTORS {
        def.extend(connector.def().keys().iter().cloned());
    }
    def
}

/// The definition of the connector `connector.class` names, else of every connector.
pub fn def_of(props: &Properties) -> ConfigDef {
    props
        .get("connector.class")
        .and_then(ConnectorPlugin::find)
        .map_or_else(all, |c| c.def())
}

/// Every key of the connector the properties describe, with its value and problems: each
/// value checked against its declaration, the connector's own checks
/// ([`super::connector::check`]) attributed to the key they name, and its transforms' and
/// predicates' declared keys (Connect's "enriched" definition) with theirs.
pub fn check(props: &Properties, plugins: &SharedPlugins) -> Vec<Checked> {
    let mut def = def_of(props);
    let mut more: Vec<ConfigError> = Vec::new();
    let renamed = match config::rename_legacy_keys(props.clone(), &def) {
        Ok(renamed) => renamed,
        Err(error) => {
            more.push(error);
            props.clone()
        }
    };
    for problem in super::connector::check(props).err().unwrap_or_default() {
        match problem {
            ConnectorError::Config(error) => {
                if !more.iter().any(|m| m.to_string() == error.to_string()) {
                    more.push(error);
                }
            }
            other => more.push(ConfigError::Invalid {
                key: CONNECTOR_CLASS.name.to_string(),
                value: props.get(&CONNECTOR_CLASS.name).unwrap_or("").to_owned(),
                problem: other.to_string(),
            }),
        }
    }
    let enriched = match plugins.runtime() {
        Ok(runtime) => {
            let plugin_path = renamed
                .get(&config::worker::PLUGIN_PATH.name)
                .map(Path::new);
            catalog::enrich(&renamed, &runtime, &resolve::search_dirs(plugin_path))
        }
        Err(error) => catalog::Enriched {
            problems: vec![ConfigError::Invalid {
                key: TRANSFORMS.name.to_string(),
                value: renamed.get(&TRANSFORMS.name).unwrap_or("").to_owned(),
                problem: format!("the plugin runtime cannot start: {error}"),
            }],
            ..Default::default()
        },
    };
    def.extend(enriched.keys);
    more.extend(enriched.problems);
    let mut checked = def.check(&renamed, more);
    for unknown in enriched.unknown {
        if let Some(entry) = checked.iter_mut().find(|c| *c.key.name == unknown.key) {
            entry.key.group = "Unknown".into();
            entry.key.documentation = match unknown.closest {
                Some(closest) => {
                    format!("Not a key its transform declares: ignored. Did you mean {closest}?")
                }
                None => "Not a key its transform declares: ignored.".to_owned(),
            }
            .into();
        }
    }
    checked
}

/// The problems of a connector's properties, each a sentence naming its key: what
/// `POST /connectors` and `PUT …/config` refuse.
pub fn errors(checked: &[Checked]) -> Vec<String> {
    checked
        .iter()
        .flat_map(|c| c.errors.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_are_found_by_class_alias_or_simple_name() {
        let postgres = ConnectorPlugin::find("io.debezium.connector.postgresql.PostgresConnector");
        assert_eq!(postgres, ConnectorPlugin::find("PostgresConnector"));
        assert_eq!(postgres, ConnectorPlugin::find("postgres"));
        assert_eq!(
            ConnectorPlugin::find("MariaDbConnector").map(|c| c.class),
            Some("io.debezium.connector.mariadb.MariaDbConnector")
        );
        assert_eq!(ConnectorPlugin::find("NoSuchConnector"), None);
        let def = postgres.unwrap().def();
        assert!(def.find("slot.name").is_some());
        assert!(def.find("database.server.id").is_none());
        assert!(def.find("transforms.route.regex").is_some());
    }

    /// The renames `config::legacy`'s tests exercise are the ones the sources declare.
    #[test]
    fn debeziums_old_names_are_declared() {
        let old = Properties::from_pairs([
            ("database.server.name", "a"),
            ("database.whitelist", "b"),
            ("database.blacklist", "c"),
            ("schema.whitelist", "d"),
            ("schema.blacklist", "e"),
            ("table.whitelist", "f"),
            ("table.blacklist", "g"),
            ("column.whitelist", "h"),
            ("column.blacklist", "i"),
            (
                "database.history",
                "io.debezium.relational.history.FileDatabaseHistory",
            ),
            ("database.history.file.filename", "j"),
            ("database.history.store.only.monitored.tables.ddl", "true"),
        ]);
        let new = config::rename_legacy_keys(old, &all()).unwrap().to_map();
        let expected = [
            ("topic.prefix", "a"),
            ("database.include.list", "b"),
            ("database.exclude.list", "c"),
            ("schema.include.list", "d"),
            ("schema.exclude.list", "e"),
            ("table.include.list", "f"),
            ("table.exclude.list", "g"),
            ("column.include.list", "h"),
            ("column.exclude.list", "i"),
            (
                "schema.history.internal",
                "io.debezium.storage.file.history.FileSchemaHistory",
            ),
            ("schema.history.internal.file.filename", "j"),
            (
                "schema.history.internal.store.only.captured.tables.ddl",
                "true",
            ),
        ];
        assert_eq!(
            new,
            expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        );
    }

    #[test]
    fn a_misspelt_key_gets_the_closest_declared_one() {
        let def = ConnectorPlugin::find("postgres").unwrap().def();
        assert_eq!(def.closest("snapshot.mod"), Some("snapshot.mode"));
        assert_eq!(def.closest("databse.hostname"), Some("database.hostname"));
        assert_eq!(def.closest("slot.nmae"), Some("slot.name"));
        let props = Properties::from_pairs([
            ("snapshot.mod", "never"),
            ("tasks.max", "1"),
            ("slot.drop.on.stop", "false"),
        ]);
        let unread: Vec<String> = def.unread(&props).iter().map(ToString::to_string).collect();
        assert_eq!(unread, ["snapshot.mod (did you mean snapshot.mode?)"]);
    }
}
