//! `extract-new-record-state`: Debezium's `io.debezium.transforms.ExtractNewRecordState`
//! (Debezium 3.6). Replaces a change event envelope by the row state it carries.
//!
//! Settings:
//! - `delete.tombstone.handling.mode`: `tombstone` (default: a delete becomes a record whose
//!   value is null but keeps the row schema; Debezium's tombstones are dropped), `drop`
//!   (deletes and tombstones removed), `rewrite` (deletes become their `before` row; every
//!   row gets a `__deleted` optional string field, `"true"` or `"false"`; tombstones
//!   dropped), `rewrite-with-tombstone` (the same, tombstones kept), `delete-to-tombstone`
//!   (a delete becomes a real tombstone; tombstones dropped).
//! - The legacy `drop.tombstones` and `delete.handling.mode` (`drop`, `none`, `rewrite`),
//!   which Debezium 3 no longer reads, still apply here as Debezium 2 read them, with a
//!   deprecation warning; `delete.tombstone.handling.mode` wins when also set.
//! - `add.fields` / `add.fields.prefix` (default `__`): envelope or source fields appended
//!   to the row (`op`, `ts_ms`, `lsn`, `source.ts_ms` → `__source_ts_ms`,
//!   `field:new_name`), with the source field's schema made optional.
//! - `add.headers` / `add.headers.prefix` (default `__`): the same fields as headers.
//! - `route.by.field`: the topic becomes the value of this row field.
//! - `replace.null.with.default` (default true): in the rewrite modes, null columns take
//!   their schema default.
//! - `drop.fields.header.name`, `drop.fields.from.key`, `drop.fields.keep.schema.compatible`.
//!
//! Truncate events are dropped; records that are not envelopes (schemaless, heartbeats, schema
//! changes) pass unchanged. A record Debezium would fail on (a missing `route.by.field` field,
//! an added field clashing with a column, …) fails: the host applies `errors.tolerance`.

mod drop_fields;
mod field_ref;
mod java;
mod settings;
mod unwrap;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use tidemark_sdk::{
    Config, Header, LogLevel, Outcome, Part, Piece, Pieces, Record, Records, Schema, SchemaId,
    Transform, Value, define_schema, export_transform,
};

use settings::{Settings, Tombstones};
use unwrap::Layout;

/// How many value schemas keep their worked-out layout.
const LAYOUT_CACHE_SIZE: usize = 64;

/// The ExtractNewRecordState transform.
pub struct ExtractNewRecordState {
    settings: Settings,
    /// Layouts by value schema id.
    layouts: HashMap<u64, Cached>,
}

/// What one value schema gives: its layout, and how its inserts, updates and reads are
/// unwrapped in the host when they can be.
struct Cached {
    layout: Layout,
    upsert: Option<HostUpsert>,
}

/// An upsert unwrapped in the host: `after` is not null, so the row becomes a struct of
/// `schema` built from `pieces`, and no value crosses the boundary.
struct HostUpsert {
    after: String,
    schema: SchemaId,
    pieces: Pieces,
}

impl Cached {
    fn new(schema: Schema, settings: &Settings) -> Cached {
        let mut layout = Layout::new(schema, settings);
        let upsert = if layout.is_envelope {
            layout.host_upsert(settings).and_then(|(schema, pieces)| {
                let after = match pieces.first() {
                    Some(Piece::FieldsOf(after)) => after.clone(),
                    _ => return None,
                };
                Some(HostUpsert {
                    after,
                    schema: define_schema(&schema).ok()?,
                    pieces: Pieces::new(pieces),
                })
            })
        } else {
            None
        };
        Cached { layout, upsert }
    }
}

impl Transform for ExtractNewRecordState {
    fn config_def() -> Option<tidemark_sdk::ConfigDef> {
        Some(settings::definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let (settings, warnings) = Settings::parse(&config)?;
        for warning in warnings {
            tidemark_sdk::log(LogLevel::Warn, &warning);
        }
        Ok(ExtractNewRecordState {
            settings,
            layouts: HashMap::new(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        self.process(record).unwrap_or_else(Outcome::Fail)
    }

    /// Unwraps the inserts, updates and reads of each value schema in the host with one call
    /// per schema; every other record goes through `apply`.
    fn apply_batch(&mut self, records: &Records<'_>) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Keep; records.len() as usize];
        let (groups, mut one_by_one) = records.by_schema(Part::Value);
        for (id, group) in groups {
            // Only the schemas whose upserts unwrap in the host go batch-wide.
            let host = match self.cached(&records.record(group[0]), id) {
                Ok(Cached {
                    upsert: Some(host), ..
                }) => host,
                _ => {
                    one_by_one.extend(group);
                    continue;
                }
            };
            let Ok(nulls) = records.null_flags(&group, Part::Value, &host.after) else {
                one_by_one.extend(group);
                continue;
            };
            // A null `after` (a delete) is unwrapped record by record.
            let mut upserts = Vec::with_capacity(group.len());
            for (index, after_is_null) in group.into_iter().zip(nulls) {
                if after_is_null {
                    one_by_one.push(index);
                } else {
                    upserts.push(index);
                }
            }
            if records
                .rebuild_many(&upserts, Part::Value, host.schema, &host.pieces)
                .is_err()
            {
                one_by_one.extend(upserts);
            }
        }
        one_by_one.sort_unstable();
        records.apply_each(self, one_by_one, &mut outcomes);
        outcomes
    }
}

impl ExtractNewRecordState {
    /// What value schema `id` gives, worked out from `record`'s schema on first sight.
    fn cached(&mut self, record: &Record<'_>, id: u64) -> Result<&Cached, String> {
        if self.layouts.len() >= LAYOUT_CACHE_SIZE && !self.layouts.contains_key(&id) {
            self.layouts.clear();
        }
        match self.layouts.entry(id) {
            Entry::Occupied(cached) => Ok(cached.into_mut()),
            Entry::Vacant(slot) => {
                let schema = record
                    .schema(Part::Value, "")
                    .map_err(|e| format!("cannot read the value schema: {e:?}"))?
                    .ok_or("the value has no schema")?;
                Ok(slot.insert(Cached::new(schema, &self.settings)))
            }
        }
    }

    fn process(&mut self, record: &mut Record<'_>) -> Result<Outcome, String> {
        // A null value (a tombstone) has no schema id, and schemaless values are not
        // envelopes: only records without an id need the tombstone check.
        let Some(id) = record.schema_id(Part::Value) else {
            if record.is_tombstone() {
                return Ok(self.tombstone(record));
            }
            return Ok(Outcome::Keep);
        };
        self.cached(record, id)?;
        let Some(Cached { layout, upsert }) = self.layouts.get_mut(&id) else {
            return Ok(Outcome::Keep);
        };
        if !layout.is_envelope {
            return Ok(Outcome::Keep);
        }
        if let Some(host) = upsert {
            let after_is_null = record
                .is_null(Part::Value, &host.after)
                .map_err(|e| format!("cannot read the envelope: {e:?}"))?;
            if !after_is_null {
                record
                    .rebuild(Part::Value, host.schema, &host.pieces)
                    .map_err(|e| format!("the host refused the unwrapped value: {e:?}"))?;
                return Ok(Outcome::Keep);
            }
        }
        let envelope = match record.get(Part::Value, "") {
            Ok(Some(Value::Struct(fields))) => fields,
            Ok(_) => return Err("the envelope is not a struct".into()),
            Err(e) => return Err(format!("cannot read the envelope: {e:?}")),
        };
        let added = layout.headers(&envelope)?;
        let wants_headers = self.settings.drop_fields.is_some() || !added.is_empty();
        let mut headers = if wants_headers {
            record.headers()
        } else {
            Vec::new()
        };
        headers.extend(added.iter().cloned());
        let Some(unwrapped) = layout.unwrap(&self.settings, &envelope, &headers)? else {
            return Ok(Outcome::Drop);
        };
        let key = self.key_without(record, &unwrapped.drop_from_key)?;
        record
            .replace(Part::Value, unwrapped.value)
            .map_err(|e| format!("the host refused the unwrapped value: {e:?}"))?;
        if let Some(key) = key {
            record
                .replace(Part::Key, Some(key))
                .map_err(|e| format!("the host refused the key: {e:?}"))?;
        }
        if let Some(topic) = unwrapped.topic {
            record.set_topic(&topic);
        }
        if !added.is_empty() {
            record.set_headers(headers);
        }
        Ok(Outcome::Keep)
    }

    /// Debezium's tombstones: kept (with the `op` headers) only in `rewrite-with-tombstone`.
    fn tombstone(&self, record: &mut Record<'_>) -> Outcome {
        if self.settings.handling.tombstones == Tombstones::Drop {
            return Outcome::Drop;
        }
        let added: Vec<Header> = unwrap::tombstone_headers(&self.settings);
        if !added.is_empty() {
            let mut headers = record.headers();
            headers.extend(added);
            record.set_headers(headers);
        }
        Outcome::Keep
    }

    /// The key without the fields `drop.fields.from.key` removes, when there are any.
    fn key_without(
        &self,
        record: &Record<'_>,
        names: &[String],
    ) -> Result<Option<tidemark_sdk::Data>, String> {
        let (Some(drop), false) = (&self.settings.drop_fields, names.is_empty()) else {
            return Ok(None);
        };
        let Some(key) = record.data(Part::Key).filter(|k| !k.value.is_null()) else {
            return Ok(None);
        };
        let dropped =
            drop_fields::to_drop(key.schema.as_ref(), names, drop.keep_schema_compatible)?;
        if dropped.is_empty() {
            return Ok(None);
        }
        drop_fields::exclude(key, &dropped).map(Some)
    }
}

export_transform!(ExtractNewRecordState);
