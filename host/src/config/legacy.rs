//! Debezium's deprecated property names (1.x configs), read as the names that replaced them,
//! each with a warning naming the old and the new key: `database.server.name` is
//! `topic.prefix`, the `*.whitelist` / `*.blacklist` filters are the `*.include.list` /
//! `*.exclude.list` ones, and `database.history*` is `schema.history.internal*` (with the
//! history classes' old names mapped too). Setting an old name and its new one to different
//! values is an error naming both. The old names are the declarations' [`super::Key::renamed_from`].

use super::{ConfigDef, ConfigError, Properties};

/// The schema history classes' names before Debezium 2.0, and their names since.
const RENAMED_HISTORY_CLASSES: &[(&str, &str)] = &[
    (
        "io.debezium.relational.history.FileDatabaseHistory",
        "io.debezium.storage.file.history.FileSchemaHistory",
    ),
    (
        "io.debezium.relational.history.KafkaDatabaseHistory",
        "io.debezium.storage.kafka.history.KafkaSchemaHistory",
    ),
    (
        "io.debezium.relational.history.MemoryDatabaseHistory",
        "io.debezium.relational.history.MemorySchemaHistory",
    ),
];

/// The key that replaced a deprecated one, if `key` is deprecated: a declaration's
/// [`super::Key::renamed_from`], the exact ones before the families (`database.history.*`).
fn replacement(def: &ConfigDef, key: &str) -> Option<String> {
    let renamed = || {
        def.keys()
            .iter()
            .filter_map(|k| Some((k, k.renamed_from.as_deref()?)))
    };
    if let Some((new, _)) = renamed().find(|(new, old)| !new.is_family() && *old == key) {
        return Some(new.name.to_string());
    }
    renamed().find_map(|(new, old)| {
        let rest = key.strip_prefix(old.strip_suffix('*')?)?;
        Some(format!("{}{rest}", new.name.strip_suffix('*')?))
    })
}

/// The properties with every deprecated key renamed to the key that replaced it (and the
/// old history class names in `database.history` to their new names), each logged as a
/// warning naming both keys. An old key and its new one set to different values are an
/// error naming both.
pub fn rename_legacy_keys(
    mut props: Properties,
    def: &ConfigDef,
) -> Result<Properties, ConfigError> {
    let legacy: Vec<(String, String, String)> = props
        .entries
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), replacement(def, key)?, value.clone())))
        .collect();
    for (old, new, mut value) in legacy {
        props.entries.remove(&old);
        if new == "schema.history.internal"
            && let Some((_, class)) = RENAMED_HISTORY_CLASSES
                .iter()
                .find(|(old_class, _)| *old_class == value.trim())
        {
            value = (*class).to_owned();
        }
        match props.entries.get(&new) {
            Some(current) if current.trim() != value.trim() => {
                return Err(ConfigError::Invalid {
                    key: old.clone(),
                    value,
                    problem: format!(
                        "it is Debezium's deprecated name for '{new}', which is set to \
                         {current:?}: set only '{new}'"
                    ),
                });
            }
            Some(_) => {
                tracing::warn!(
                    deprecated = %old,
                    replacement = %new,
                    "'{old}' is deprecated and set to the same value as '{new}': remove '{old}'"
                );
            }
            None => {
                tracing::warn!(
                    deprecated = %old,
                    replacement = %new,
                    "'{old}' is deprecated: read as '{new}'; rename it to '{new}'"
                );
                props.entries.insert(new, value);
            }
        }
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Key;

    /// Debezium's renamed keys, declared as the sources declare them.
    fn def() -> ConfigDef {
        let renamed = |new: &'static str, old: &'static str| Key::string(new).renamed_from(old);
        ConfigDef::new([
            renamed("topic.prefix", "database.server.name"),
            renamed("database.include.list", "database.whitelist"),
            renamed("database.exclude.list", "database.blacklist"),
            renamed("schema.include.list", "schema.whitelist"),
            renamed("schema.exclude.list", "schema.blacklist"),
            renamed("table.include.list", "table.whitelist"),
            renamed("table.exclude.list", "table.blacklist"),
            renamed("column.include.list", "column.whitelist"),
            renamed("column.exclude.list", "column.blacklist"),
            renamed("schema.history.internal", "database.history"),
            renamed(
                "schema.history.internal.store.only.captured.tables.ddl",
                "database.history.store.only.monitored.tables.ddl",
            ),
            renamed("schema.history.internal.*", "database.history.*"),
        ])
    }

    fn renamed(pairs: &[(&str, &str)]) -> Result<Properties, ConfigError> {
        rename_legacy_keys(Properties::from_pairs(pairs.iter().copied()), &def())
    }

    #[test]
    fn deprecated_keys_are_read_as_their_replacements() {
        let p = renamed(&[
            ("database.server.name", "legacy"),
            ("table.whitelist", "public.a"),
            ("table.blacklist", "public.b"),
            ("schema.whitelist", "s"),
            ("schema.blacklist", "t"),
            ("database.whitelist", "d"),
            ("database.blacklist", "e"),
            ("column.whitelist", "public.a.x"),
            ("column.blacklist", "public.a.secret"),
            ("snapshot.mode", "initial"),
        ])
        .unwrap();
        assert_eq!(p.get("topic.prefix"), Some("legacy"));
        assert_eq!(p.get("table.include.list"), Some("public.a"));
        assert_eq!(p.get("table.exclude.list"), Some("public.b"));
        assert_eq!(p.get("schema.include.list"), Some("s"));
        assert_eq!(p.get("schema.exclude.list"), Some("t"));
        assert_eq!(p.get("database.include.list"), Some("d"));
        assert_eq!(p.get("database.exclude.list"), Some("e"));
        assert_eq!(p.get("column.include.list"), Some("public.a.x"));
        assert_eq!(p.get("column.exclude.list"), Some("public.a.secret"));
        assert_eq!(p.get("snapshot.mode"), Some("initial"));
        // The old names are gone, so nothing is left unread or reported as unknown.
        assert_eq!(p.get("database.server.name"), None);
        assert_eq!(p.get("table.whitelist"), None);
        assert_eq!(p.unread(), Vec::<String>::new());
    }

    /// What `rename_legacy_keys` logs for these properties.
    fn warnings(pairs: &[(&str, &str)]) -> String {
        #[derive(Clone, Default)]
        struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Log {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // Another test's thread may have cached the warning's callsite as of no interest
            // before this subscriber existed.
            tracing::callsite::rebuild_interest_cache();
            renamed(pairs).unwrap()
        });
        String::from_utf8(log.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn each_deprecated_key_is_a_warning_naming_both_keys() {
        let log = warnings(&[
            ("database.server.name", "legacy"),
            ("column.blacklist", "public.a.secret"),
        ]);
        assert!(
            log.contains("WARN")
                && log.contains("'database.server.name' is deprecated: read as 'topic.prefix'")
                && log.contains("'column.blacklist' is deprecated: read as 'column.exclude.list'"),
            "{log}"
        );
        let log = warnings(&[("table.whitelist", "a"), ("table.include.list", "a")]);
        assert!(
            log.contains(
                "'table.whitelist' is deprecated and set to the same value as \
                 'table.include.list'"
            ),
            "{log}"
        );
        assert_eq!(warnings(&[("topic.prefix", "dbz")]), "");
    }

    #[test]
    fn database_history_is_the_schema_history() {
        let p = renamed(&[
            (
                "database.history",
                "io.debezium.relational.history.FileDatabaseHistory",
            ),
            ("database.history.file.filename", "history.jsonl"),
            ("database.history.kafka.topic", "schema-changes"),
            ("database.history.kafka.bootstrap.servers", "localhost:9092"),
            ("database.history.producer.acks", "all"),
            ("database.history.store.only.monitored.tables.ddl", "true"),
        ])
        .unwrap();
        assert_eq!(
            p.get("schema.history.internal"),
            Some("io.debezium.storage.file.history.FileSchemaHistory")
        );
        assert_eq!(
            p.get("schema.history.internal.file.filename"),
            Some("history.jsonl")
        );
        assert_eq!(
            p.get("schema.history.internal.kafka.topic"),
            Some("schema-changes")
        );
        assert_eq!(
            p.get("schema.history.internal.kafka.bootstrap.servers"),
            Some("localhost:9092")
        );
        assert_eq!(p.get("schema.history.internal.producer.acks"), Some("all"));
        assert_eq!(
            p.get("schema.history.internal.store.only.captured.tables.ddl"),
            Some("true")
        );
        let p = renamed(&[(
            "database.history",
            "io.debezium.relational.history.KafkaDatabaseHistory",
        )])
        .unwrap();
        assert_eq!(
            p.get("schema.history.internal"),
            Some("io.debezium.storage.kafka.history.KafkaSchemaHistory")
        );
        // A class with no old name passes as it is (the source rejects what it cannot use).
        let p = renamed(&[("database.history", "com.example.History")]).unwrap();
        assert_eq!(
            p.get("schema.history.internal"),
            Some("com.example.History")
        );
    }

    #[test]
    fn old_and_new_names_must_agree() {
        let err = renamed(&[("database.server.name", "old"), ("topic.prefix", "new")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "property 'database.server.name' has an invalid value \"old\": it is Debezium's \
             deprecated name for 'topic.prefix', which is set to \"new\": set only 'topic.prefix'"
        );
        let err = renamed(&[
            ("database.history.kafka.topic", "a"),
            ("schema.history.internal.kafka.topic", "b"),
        ])
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("'database.history.kafka.topic'")
                && message.contains("'schema.history.internal.kafka.topic'"),
            "{message}"
        );
        // The old class name and the new one are the same setting.
        let p = renamed(&[
            (
                "database.history",
                "io.debezium.relational.history.FileDatabaseHistory",
            ),
            (
                "schema.history.internal",
                "io.debezium.storage.file.history.FileSchemaHistory",
            ),
            ("table.whitelist", "public.a"),
            ("table.include.list", "public.a"),
        ])
        .unwrap();
        assert_eq!(p.get("table.include.list"), Some("public.a"));
        assert_eq!(p.get("table.whitelist"), None);
    }
}
