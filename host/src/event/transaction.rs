//! Debezium's transaction metadata (`provide.transaction.metadata=true`): a BEGIN and an END
//! event per source transaction on `<topic.prefix>.transaction`, the END with per-table
//! event counts, and the `transaction` block (`id`, `total_order`, `data_collection_order`)
//! in each change event between them.
//!
//! Source-independent: a source calls [`TransactionMetadata::begin`], then
//! [`TransactionMetadata::event`] for each change record, then [`TransactionMetadata::end`],
//! and keeps [`TransactionMetadata::store`] in its offsets so a restart inside a transaction
//! continues the counts ([`TransactionMetadata::resume`]), as Debezium's `TransactionContext`
//! does with the same offset keys.

use std::sync::{Arc, OnceLock};

use super::envelope::{TRANSACTION_FIELD, Timestamp};
use super::{Data, Record, Schema, SchemaType, Value};
use crate::offsets::OffsetMap;

/// The offset key of the open transaction's id.
const OFFSET_ID: &str = "transaction_id";
/// The prefix of the offset keys of each table's event count in the open transaction.
const OFFSET_COUNT_PREFIX: &str = "transaction_data_collection_order_";

fn key_schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(
                Schema::new(SchemaType::Struct)
                    .named("io.debezium.connector.common.TransactionMetadataKey")
                    .versioned(1)
                    .field("id", Schema::new(SchemaType::String)),
            )
        })
        .clone()
}

fn value_schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let per_collection = Schema::new(SchemaType::Struct)
                .optional()
                .named("event.collection")
                .versioned(1)
                .field("data_collection", Schema::new(SchemaType::String))
                .field("event_count", Schema::new(SchemaType::Int64));
            Arc::new(
                Schema::new(SchemaType::Struct)
                    .named("io.debezium.connector.common.TransactionMetadataValue")
                    .versioned(1)
                    .field("status", Schema::new(SchemaType::String))
                    .field("id", Schema::new(SchemaType::String))
                    .field("event_count", Schema::new(SchemaType::Int64).optional())
                    .field("data_collections", Schema::array(per_collection).optional())
                    .field("ts_ms", Schema::new(SchemaType::Int64)),
            )
        })
        .clone()
}

/// The entries of a `String`-keyed `java.util.HashMap` filled in this order, in the order it
/// iterates them: Debezium keeps a transaction's per-table counts in one, so its END event
/// lists the tables in this order. Buckets by the spread `String.hashCode()` (UTF-16) over
/// the table size a map of that many entries grows to, insertion order within a bucket.
/// (Bins of eight or more colliding keys, which Java turns into trees, are not modelled.)
fn java_hash_map_order(entries: &[(String, i64)]) -> Vec<&(String, i64)> {
    let mut capacity: usize = 16;
    while entries.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |key: &str| {
        let hash = key.encode_utf16().fold(0u32, |h, unit| {
            h.wrapping_mul(31).wrapping_add(u32::from(unit))
        });
        ((hash ^ (hash >> 16)) as usize) & (capacity - 1)
    };
    let mut ordered: Vec<&(String, i64)> = entries.iter().collect();
    // A stable sort keeps insertion order within a bucket.
    ordered.sort_by_key(|(key, _)| bucket(key));
    ordered
}

/// The transaction being counted.
#[derive(Debug, Clone, Default, PartialEq)]
struct Open {
    id: String,
    total: i64,
    /// Events per data collection, in the order the collections first appeared.
    per_collection: Vec<(String, i64)>,
}

/// Tracks one source's transactions and produces their metadata events.
#[derive(Debug, Clone)]
pub struct TransactionMetadata {
    topic: String,
    open: Option<Open>,
}

impl TransactionMetadata {
    /// Metadata events go to `topic` (Debezium: `<topic.prefix>.<topic.transaction>`).
    pub fn new(topic: impl Into<String>) -> TransactionMetadata {
        TransactionMetadata {
            topic: topic.into(),
            open: None,
        }
    }

    /// The metadata topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.open.is_some()
    }

    /// The id of the open transaction, if one is open.
    pub fn open_id(&self) -> Option<&str> {
        self.open.as_ref().map(|o| o.id.as_str())
    }

    fn event_record(&self, status: &str, id: &str, at: Timestamp, counts: Option<&Open>) -> Record {
        let key = Value::Struct(vec![Value::from(id)]);
        let (event_count, collections) = match counts {
            Some(open) => (
                Value::Int64(open.total),
                Value::Array(
                    java_hash_map_order(&open.per_collection)
                        .into_iter()
                        .map(|(name, n)| {
                            Value::Struct(vec![Value::from(name.as_str()), Value::Int64(*n)])
                        })
                        .collect(),
                ),
            ),
            None => (Value::Null, Value::Null),
        };
        let value = Value::Struct(vec![
            Value::from(status),
            Value::from(id),
            event_count,
            collections,
            Value::Int64(at.millis()),
        ]);
        Record::new(
            self.topic.clone(),
            Some(Data::new(key_schema(), key)),
            Some(Data::new(value_schema(), value)),
        )
    }

    /// Opens a transaction and returns its BEGIN event. `id` is the source's transaction id,
    /// `at` its commit time.
    pub fn begin(&mut self, id: impl Into<String>, at: Timestamp) -> Record {
        let open = Open {
            id: id.into(),
            ..Open::default()
        };
        let record = self.event_record("BEGIN", &open.id, at, None);
        self.open = Some(open);
        record
    }

    /// Counts a change event of `collection` (`schema.table`) and fills its `transaction`
    /// block with `id` (Debezium's id of that event). Tombstones are not counted, as in
    /// Debezium; outside a transaction nothing happens.
    pub fn event(&mut self, collection: &str, id: &str, record: &mut Record) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let Some(Value::Struct(fields)) = record.value.as_mut().map(|d| &mut d.value) else {
            return;
        };
        open.total += 1;
        let order = match open
            .per_collection
            .iter_mut()
            .find(|(c, _)| c == collection)
        {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                open.per_collection.push((collection.to_owned(), 1));
                1
            }
        };
        if let Some(block) = fields.get_mut(TRANSACTION_FIELD) {
            *block = Value::Struct(vec![
                Value::from(id),
                Value::Int64(open.total),
                Value::Int64(order),
            ]);
        }
    }

    /// Closes the open transaction and returns its END event with the counts, or `None` when
    /// no transaction is open.
    pub fn end(&mut self, id: &str, at: Timestamp) -> Option<Record> {
        let open = self.open.take()?;
        Some(self.event_record("END", id, at, Some(&open)))
    }

    /// Writes the open transaction's state into an offset (nothing when none is open).
    pub fn store(&self, offset: &mut OffsetMap) {
        if let Some(open) = &self.open {
            offset.insert(OFFSET_ID.into(), open.id.clone().into());
            for (collection, n) in &open.per_collection {
                offset.insert(format!("{OFFSET_COUNT_PREFIX}{collection}"), (*n).into());
            }
        }
    }

    /// Reopens the transaction an offset was stored inside of, with its counts, so a restart
    /// continues its orders and its END counts every event.
    pub fn resume(&mut self, offset: &OffsetMap) {
        let Some(id) = offset.get(OFFSET_ID).and_then(|v| v.as_str()) else {
            return;
        };
        let per_collection: Vec<(String, i64)> = offset
            .iter()
            .filter_map(|(k, v)| {
                Some((k.strip_prefix(OFFSET_COUNT_PREFIX)?.to_owned(), v.as_i64()?))
            })
            .collect();
        self.open = Some(Open {
            id: id.to_owned(),
            total: per_collection.iter().map(|(_, n)| n).sum(),
            per_collection,
        });
    }

    /// The id of the open transaction, as stored in an offset.
    pub fn stored_id(offset: &OffsetMap) -> Option<&str> {
        offset.get(OFFSET_ID).and_then(|v| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{JsonOptions, write_line};

    fn change() -> Record {
        let mut fields = vec![Value::Null; 8];
        fields[4] = Value::from("c");
        Record::new(
            "dbz.public.t",
            None,
            Some(Data::schemaless(Value::Struct(fields))),
        )
    }

    fn block(record: &Record) -> Value {
        match &record.value.as_ref().unwrap().value {
            Value::Struct(fields) => fields[TRANSACTION_FIELD].clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn end_lists_tables_in_java_hash_map_order() {
        let names = |entries: &[(&str, i64)]| -> Vec<String> {
            let owned: Vec<(String, i64)> =
                entries.iter().map(|(k, n)| (k.to_string(), *n)).collect();
            java_hash_map_order(&owned)
                .into_iter()
                .map(|(k, _)| k.clone())
                .collect()
        };
        // As Debezium 3.6.3 wrote them (tests/golden/dbz/maria-txn.jsonl, pg-txn.jsonl).
        assert_eq!(
            names(&[("dbz.customers", 1), ("dbz.orders", 2)]),
            ["dbz.orders", "dbz.customers"]
        );
        // One bucket: insertion order.
        assert_eq!(
            names(&[("public.orders", 1), ("public.customers", 1)]),
            ["public.orders", "public.customers"]
        );
        assert_eq!(
            names(&[("public.customers", 1), ("public.orders", 1)]),
            ["public.customers", "public.orders"]
        );
        // Thirteen entries grow the table to 32 buckets.
        let many: Vec<(String, i64)> = (0..13).map(|i| (format!("t{i}"), 1)).collect();
        let ordered: Vec<&str> = java_hash_map_order(&many)
            .into_iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            ordered,
            [
                "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t12", "t11", "t0", "t1", "t2", "t3"
            ]
        );
    }

    #[test]
    fn counts_orders_and_ends_as_debezium() {
        let at = Timestamp {
            nanos: 1_700_000_000_123_000_000,
        };
        let mut tx = TransactionMetadata::new("dbz.transaction");
        let begin = tx.begin("7:100", at);
        let mut line = String::new();
        write_line(
            &mut line,
            &begin,
            JsonOptions {
                key_schemas: false,
                value_schemas: false,
                replace_null_with_default: true,
            },
        );
        assert_eq!(
            line,
            r#"{"topic":"dbz.transaction","key":{"id":"7:100"},"value":{"status":"BEGIN","id":"7:100","event_count":null,"data_collections":null,"ts_ms":1700000000123},"headers":[]}"#
        );
        let (mut a, mut b, mut c) = (change(), change(), change());
        tx.event("public.a", "7:100", &mut a);
        tx.event("public.b", "7:110", &mut b);
        let mut tombstone = Record::new("dbz.public.b", None, None);
        tx.event("public.b", "7:110", &mut tombstone);
        tx.event("public.b", "7:120", &mut c);
        assert_eq!(
            block(&c),
            Value::Struct(vec![Value::from("7:120"), Value::Int64(3), Value::Int64(2)])
        );
        assert_eq!(
            block(&a),
            Value::Struct(vec![Value::from("7:100"), Value::Int64(1), Value::Int64(1)])
        );
        // A restart in the middle continues the counts.
        let mut offset = OffsetMap::new();
        tx.store(&mut offset);
        assert_eq!(TransactionMetadata::stored_id(&offset), Some("7:100"));
        let mut resumed = TransactionMetadata::new("dbz.transaction");
        resumed.resume(&offset);
        let end = tx.end("7:130", at).unwrap();
        let again = resumed.end("7:130", at).unwrap();
        assert_eq!(end, again);
        line.clear();
        write_line(
            &mut line,
            &end,
            JsonOptions {
                key_schemas: false,
                value_schemas: false,
                replace_null_with_default: true,
            },
        );
        assert!(
            line.contains(r#""status":"END","id":"7:130","event_count":3,"data_collections":[{"data_collection":"public.a","event_count":1},{"data_collection":"public.b","event_count":2}]"#),
            "{line}"
        );
        assert!(tx.end("7:140", at).is_none());
    }
}
