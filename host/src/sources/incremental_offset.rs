//! An incremental snapshot's progress in a connector's offset, under Debezium's offset keys:
//! the tables left to read (the one being read first), the signal's id, the last position
//! emitted and the table's end. Both sources store it with each checkpoint taken while a
//! snapshot runs, so that a restart resumes after the last chunk emitted.

use serde_json::{Value as Json, json};

use crate::offsets::OffsetMap;

const COLLECTIONS: &str = "incremental_snapshot_collections";
const LAST_KEY: &str = "incremental_snapshot_primary_key";
const MAX_KEY: &str = "incremental_snapshot_maximum_key";
const ID: &str = "incremental_snapshot_correlation_id";
const ENTRY_ID: &str = "incremental_snapshot_collections_id";
const ENTRY_FILTER: &str = "incremental_snapshot_collections_additional_condition";
const ENTRY_SURROGATE: &str = "incremental_snapshot_collections_surrogate_key";
/// Tidemark's mark of a Postgres table read by `ctid` page ranges, in its entry.
const BY_CTID: &str = "tidemark_by_ctid";

/// The id of the incremental snapshot that reads the rest of an interrupted initial
/// snapshot.
pub const INITIAL_REST: &str = "tidemark-initial-snapshot";

/// A table an incremental snapshot reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    /// `schema.table` (Postgres) or `database.table` (MySQL/MariaDB).
    pub name: String,
    /// `additional-conditions`' filter.
    pub filter: Option<String>,
    /// `surrogate-key`.
    pub surrogate: Option<String>,
    /// Read by `ctid` page ranges (Postgres only).
    pub by_ctid: bool,
}

/// An incremental snapshot's progress.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    /// The signal's id.
    pub id: String,
    /// The tables left, the one being read first.
    pub entries: Vec<Entry>,
    /// The first table's last position emitted.
    pub last: Option<Vec<String>>,
    /// The first table's end when its reading began.
    pub max: Option<Vec<String>>,
}

impl Progress {
    /// Adds the progress to an offset.
    pub fn store(&self, offset: &mut OffsetMap) {
        let collections: Vec<Json> = self
            .entries
            .iter()
            .map(|e| {
                let mut entry = json!({
                    ENTRY_ID: e.name,
                    ENTRY_FILTER: e.filter,
                    ENTRY_SURROGATE: e.surrogate,
                });
                if e.by_ctid {
                    entry[BY_CTID] = true.into();
                }
                entry
            })
            .collect();
        offset.insert(
            COLLECTIONS.into(),
            Json::String(Json::Array(collections).to_string()),
        );
        offset.insert(ID.into(), Json::String(self.id.clone()));
        if let Some(last) = &self.last {
            offset.insert(LAST_KEY.into(), Json::String(json!(last).to_string()));
        }
        if let Some(max) = &self.max {
            offset.insert(MAX_KEY.into(), Json::String(json!(max).to_string()));
        }
    }

    /// The progress an offset holds; `None` when it has none. A position Tidemark cannot
    /// read (Debezium's serialized keys) is left out: that table is read from its start.
    pub fn read(offset: &OffsetMap) -> Option<Progress> {
        let text = offset.get(COLLECTIONS)?.as_str()?;
        let collections: Vec<Json> = serde_json::from_str(text).ok()?;
        let field = |c: &Json, name: &str| c.get(name).and_then(Json::as_str).map(str::to_owned);
        let position = |key: &str| -> Option<Vec<String>> {
            offset
                .get(key)
                .and_then(Json::as_str)
                .and_then(|t| serde_json::from_str(t).ok())
        };
        let entries = collections
            .iter()
            .filter_map(|c| {
                Some(Entry {
                    name: field(c, ENTRY_ID)?,
                    filter: field(c, ENTRY_FILTER),
                    surrogate: field(c, ENTRY_SURROGATE),
                    by_ctid: c.get(BY_CTID).and_then(Json::as_bool).unwrap_or(false),
                })
            })
            .collect();
        Some(Progress {
            id: offset
                .get(ID)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
            entries,
            last: position(LAST_KEY),
            max: position(MAX_KEY),
        })
    }
}

/// A table of an offset's progress, found among the captured ones.
#[derive(Debug)]
pub struct Resumed<T> {
    pub table: T,
    pub entry: Entry,
    /// Where the first table's reading goes on.
    pub after: Option<Vec<String>>,
}

/// The signal id and tables of the incremental snapshot an offset left in progress, each
/// found by `table` (by its entry's name); `None` when the offset has none or none of its
/// tables is captured any more (one that is not is left out, with a warning).
pub fn resume<T>(
    offset: &OffsetMap,
    table: impl Fn(&str) -> Option<T>,
) -> Option<(String, Vec<Resumed<T>>)> {
    let progress = Progress::read(offset)?;
    let mut tables = Vec::new();
    for (i, entry) in progress.entries.into_iter().enumerate() {
        match table(&entry.name) {
            Some(found) => tables.push(Resumed {
                table: found,
                entry,
                after: if i == 0 { progress.last.clone() } else { None },
            }),
            None => {
                tracing::warn!(table = %entry.name, "incremental snapshot: the table is no longer captured; left out")
            }
        }
    }
    (!tables.is_empty()).then_some((progress.id, tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_under_debeziums_keys() {
        let progress = Progress {
            id: "ad-hoc-1".into(),
            entries: vec![
                Entry {
                    name: "inv.items".into(),
                    filter: Some("qty > 30".into()),
                    ..Entry::default()
                },
                Entry {
                    name: "public.t".into(),
                    by_ctid: true,
                    ..Entry::default()
                },
            ],
            last: Some(vec!["7".into()]),
            max: Some(vec!["9".into()]),
        };
        let mut offset = OffsetMap::new();
        progress.store(&mut offset);
        assert_eq!(offset[LAST_KEY], Json::String(r#"["7"]"#.into()));
        assert_eq!(Progress::read(&offset), Some(progress));
        assert_eq!(Progress::read(&OffsetMap::new()), None);
    }
}
