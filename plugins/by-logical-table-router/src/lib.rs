//! `by-logical-table-router`: Debezium's `io.debezium.transforms.ByLogicalTableRouter`
//! (Debezium 3.6). Sends the change events of several physical tables (shards) to one
//! logical topic.
//!
//! Settings: `topic.regex` (must match the whole topic) and `topic.replacement` (Java
//! replacement syntax) give the new topic; topics that do not match pass unchanged.
//! `key.enforce.uniqueness` (default true) adds to the key a required string field
//! `key.field.name` (default `__dbz__physicalTableIdentifier`) holding the original topic,
//! or its rewrite by `key.field.regex` / `key.field.replacement` when that regex matches.
//! `schema.name.adjustment.mode` (`none` by default, `avro`, `avro_unicode`) adjusts the new
//! schema names. `logical.table.cache.size` is accepted (caches here are per schema).
//!
//! What changes: the topic; the key schema's name becomes `<topic>.Key` (a null key stays null
//! and loses its schema); for change event envelopes, the envelope schema's name becomes
//! `<topic>.Envelope` and the `before`/`after` row schema's name `<topic>.Value` (other
//! envelope fields, versions, docs and optionality are kept). Tombstones and other values
//! (heartbeats, schema changes, schemaless values) keep their value. A record Debezium would
//! fail on (a schemaless or non-struct key, …) fails: the host applies `errors.tolerance`.

mod rewrite;
mod settings;

use std::collections::HashMap;

use tidemark_sdk::{
    Config, Data, LogLevel, Outcome, Part, Record, Schema, Transform, Value, export_transform,
};

use connect_common::avro_names::{Kind, NameAdjuster};
use settings::Settings;

/// Entries each cache keeps before it starts over.
const CACHE_SIZE: usize = 256;

/// An envelope schema and its rewrite for one new topic (`None`: not an envelope).
type EnvelopeSchemas = Option<(Schema, Schema)>;

/// The ByLogicalTableRouter transform.
pub struct ByLogicalTableRouter {
    settings: Settings,
    adjuster: NameAdjuster,
    /// New topic by original topic (`None`: the regex does not match).
    topics: HashMap<String, Option<String>>,
    /// New key schema by original key schema id and new topic.
    key_schemas: HashMap<(u64, String), Schema>,
    /// Envelope schemas by original value schema id and new topic.
    envelopes: HashMap<(u64, String), EnvelopeSchemas>,
}

impl Transform for ByLogicalTableRouter {
    fn config_def() -> Option<tidemark_sdk::ConfigDef> {
        Some(settings::definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let settings = Settings::parse(&config)?;
        Ok(ByLogicalTableRouter {
            adjuster: NameAdjuster::new(settings.mode, Kind::Schema),
            settings,
            topics: HashMap::new(),
            key_schemas: HashMap::new(),
            envelopes: HashMap::new(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        match self.process(record) {
            Ok(()) => Outcome::Keep,
            Err(error) => Outcome::Fail(error),
        }
    }
}

/// What becomes of the key.
enum KeyChange {
    Unchanged,
    Null,
    New(Data),
}

impl ByLogicalTableRouter {
    fn process(&mut self, record: &mut Record<'_>) -> Result<(), String> {
        let old_topic = record.topic();
        let Some(new_topic) = self.new_topic(&old_topic) else {
            return Ok(());
        };
        if new_topic.is_empty() {
            tidemark_sdk::log(
                LogLevel::Warn,
                "Routing regex returned an empty topic name, propagating original record",
            );
            return Ok(());
        }
        let key = self.new_key(record, &old_topic, &new_topic)?;
        let value = if record.is_tombstone() {
            None
        } else {
            self.new_envelope(record, &new_topic)?
        };
        match key {
            KeyChange::Unchanged => {}
            KeyChange::Null => record
                .replace(Part::Key, None)
                .map_err(|e| format!("the host refused the key: {e:?}"))?,
            KeyChange::New(key) => record
                .replace(Part::Key, Some(key))
                .map_err(|e| format!("the host refused the new key: {e:?}"))?,
        }
        if let Some(value) = value {
            record
                .replace(Part::Value, Some(value))
                .map_err(|e| format!("the host refused the new envelope: {e:?}"))?;
        }
        record.set_topic(&new_topic);
        Ok(())
    }

    fn new_topic(&mut self, old: &str) -> Option<String> {
        if let Some(known) = self.topics.get(old) {
            return known.clone();
        }
        let new = self.settings.topic.replace_whole(old);
        if self.topics.len() >= CACHE_SIZE {
            self.topics.clear();
        }
        self.topics.insert(old.to_owned(), new.clone());
        new
    }

    fn new_key(
        &mut self,
        record: &Record<'_>,
        old_topic: &str,
        new_topic: &str,
    ) -> Result<KeyChange, String> {
        let values = match record.get(Part::Key, "") {
            Ok(None) => return Ok(KeyChange::Unchanged),
            Ok(Some(Value::Null)) => return Ok(KeyChange::Null),
            Ok(Some(Value::Struct(values))) => values,
            Ok(Some(_)) => return Err("the key is not a struct".into()),
            Err(e) => return Err(format!("cannot read the key: {e:?}")),
        };
        let id = record
            .schema_id(Part::Key)
            .ok_or("the key is not a struct (it has no schema)")?;
        let cache_key = (id, new_topic.to_owned());
        let schema = match self.key_schemas.get(&cache_key) {
            Some(schema) => schema.clone(),
            None => {
                let old = record
                    .schema(Part::Key, "")
                    .map_err(|e| format!("cannot read the key schema: {e:?}"))?
                    .ok_or("the key has no schema")?;
                let name = self.adjuster.adjust(&format!("{new_topic}.Key"))?;
                let id_field = self
                    .settings
                    .enforce_uniqueness
                    .then_some(self.settings.key_field_name.as_str());
                let schema = rewrite::key_schema(&old, name, id_field)?;
                if self.key_schemas.len() >= CACHE_SIZE {
                    self.key_schemas.clear();
                }
                self.key_schemas.insert(cache_key, schema.clone());
                schema
            }
        };
        let identifier = self.settings.enforce_uniqueness.then(|| {
            self.settings
                .key_field
                .as_ref()
                .and_then(|r| r.replace_whole(old_topic))
                .unwrap_or_else(|| old_topic.to_owned())
        });
        Ok(KeyChange::New(Data {
            schema: Some(schema),
            value: rewrite::key_value(values, identifier),
        }))
    }

    /// The rewritten envelope, or `None` when the value is not an envelope.
    fn new_envelope(
        &mut self,
        record: &Record<'_>,
        new_topic: &str,
    ) -> Result<Option<Data>, String> {
        let Some(id) = record.schema_id(Part::Value) else {
            return Ok(None);
        };
        let cache_key = (id, new_topic.to_owned());
        if !self.envelopes.contains_key(&cache_key) {
            let old = record
                .schema(Part::Value, "")
                .map_err(|e| format!("cannot read the value schema: {e:?}"))?
                .ok_or("the value has no schema")?;
            let schemas = if old
                .name
                .as_deref()
                .is_some_and(|n| n.ends_with(".Envelope"))
            {
                let value_name = self.adjuster.adjust(&format!("{new_topic}.Value"))?;
                let envelope_name = self.adjuster.adjust(&format!("{new_topic}.Envelope"))?;
                let new = rewrite::envelope_schema(&old, value_name, envelope_name)?;
                Some((old, new))
            } else {
                None
            };
            if self.envelopes.len() >= CACHE_SIZE {
                self.envelopes.clear();
            }
            self.envelopes.insert(cache_key.clone(), schemas);
        }
        let Some(Some((old, new))) = self.envelopes.get(&cache_key) else {
            return Ok(None);
        };
        let values = match record.get(Part::Value, "") {
            Ok(Some(Value::Struct(values))) => values,
            Ok(_) => return Err("the envelope is not a struct".into()),
            Err(e) => return Err(format!("cannot read the envelope: {e:?}")),
        };
        Ok(Some(Data {
            schema: Some(new.clone()),
            value: rewrite::envelope_value(old, new, values)?,
        }))
    }
}

export_transform!(ByLogicalTableRouter);
