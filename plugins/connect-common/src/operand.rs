//! Reading the key or value a transform works on, with per-schema work cached.

use tidemark_sdk::{Data, Outcome, Part, Record, Schema, Value};

use crate::cache::IdCache;
use crate::settings::part_name;

/// The key or value of a record, as a transform sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand<T> {
    /// What the transform derived from the part's schema (cached by schema id); `None` when
    /// the part is schemaless or null.
    pub derived: Option<T>,
    /// The part's value; `None` when the part is null (the value of a tombstone).
    pub value: Option<Value>,
}

/// Reads `part` of `record`. The schema is fetched from the host only when `cache` has
/// nothing for its id yet; `derive` turns it into what the transform needs.
pub fn read<T: Clone>(
    record: &Record<'_>,
    part: Part,
    cache: &mut IdCache<T>,
    derive: impl FnOnce(Schema) -> Result<T, String>,
) -> Result<Operand<T>, String> {
    let value = read_value(record, part)?;
    let derived = derive_schema(record, part, cache, derive)?;
    Ok(Operand { derived, value })
}

/// Like [`read`], for transforms that leave null keys or values alone: `None` when the part
/// is null or a null value, without looking at its schema.
pub fn read_non_null<T: Clone>(
    record: &Record<'_>,
    part: Part,
    cache: &mut IdCache<T>,
    derive: impl FnOnce(Schema) -> Result<T, String>,
) -> Result<Option<(Option<T>, Value)>, String> {
    let Some(value) = read_value(record, part)?.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let derived = derive_schema(record, part, cache, derive)?;
    Ok(Some((derived, value)))
}

fn read_value(record: &Record<'_>, part: Part) -> Result<Option<Value>, String> {
    record
        .get(part, "")
        .map_err(|e| format!("cannot read the record's {}: {e:?}", part_name(part)))
}

fn derive_schema<T: Clone>(
    record: &Record<'_>,
    part: Part,
    cache: &mut IdCache<T>,
    derive: impl FnOnce(Schema) -> Result<T, String>,
) -> Result<Option<T>, String> {
    let Some(id) = record.schema_id(part) else {
        return Ok(None);
    };
    let name = part_name(part);
    cache
        .get_or_try_insert(id, || {
            let schema = record
                .schema(part, "")
                .map_err(|e| format!("cannot read the {name} schema: {e:?}"))?
                .ok_or_else(|| format!("the {name} has a schema id but no schema"))?;
            derive(schema)
        })
        .map(Some)
}

/// What a transform makes of the part it works on.
#[derive(Debug, Clone, PartialEq)]
pub enum Rewrite {
    /// The part stays as it is.
    Unchanged,
    /// The part becomes this schema and value (`None`: null).
    Replace(Option<Data>),
    /// The part keeps its schema; these top-level fields of its struct take these values.
    /// Much cheaper than `Replace` (no schema crosses the boundary); only for field names
    /// without a `.`, which the host would read as a path.
    Set(Vec<(String, Value)>),
}

/// Applies `rewrite` to `part` of the record. An error (the transform's, or the host's refusal
/// of the new data) fails the record, as Connect's `DataException` does: the host then applies
/// `errors.tolerance`.
pub fn commit(record: &mut Record<'_>, part: Part, rewrite: Result<Rewrite, String>) -> Outcome {
    let outcome = rewrite.and_then(|r| match r {
        Rewrite::Unchanged => Ok(()),
        Rewrite::Replace(data) => record
            .replace(part, data)
            .map_err(|e| format!("the new {} was refused: {e:?}", part_name(part))),
        Rewrite::Set(fields) => fields.iter().try_for_each(|(name, value)| {
            record.set(part, name, value).map_err(|e| {
                format!(
                    "the new {} field '{name}' was refused: {e:?}",
                    part_name(part)
                )
            })
        }),
    });
    match outcome {
        Ok(()) => Outcome::Keep,
        Err(reason) => Outcome::Fail(reason),
    }
}
