//! The Postgres source's offset, with Debezium's field names: `lsn` (the last delivered
//! change), `lsn_proc` (the last processed LSN), `lsn_commit` (the commit LSN of its
//! transaction), `txId`, `ts_usec`, and the snapshot markers `snapshot` and
//! `last_snapshot_record` once a snapshot completed.

use serde_json::Value as Json;

use crate::offsets::OffsetMap;

/// The source partition: `{"server": <topic.prefix>}`.
pub fn partition(topic_prefix: &str) -> OffsetMap {
    let mut map = OffsetMap::new();
    map.insert("server".into(), Json::String(topic_prefix.to_owned()));
    map
}

/// A streaming position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgOffset {
    pub lsn: u64,
    /// Within the transaction committing at `lsn_commit`, everything up to here was
    /// delivered; `None` when only transactions committing before `lsn_commit` were.
    pub lsn_proc: Option<u64>,
    pub lsn_commit: u64,
    pub tx_id: Option<i64>,
    pub ts_usec: Option<i64>,
    /// The kind of the last message (`INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`, `COMMIT`).
    pub message_type: Option<&'static str>,
}

impl PgOffset {
    /// The offset map to store.
    pub fn to_map(self) -> OffsetMap {
        let mut map = OffsetMap::new();
        if let Some(proc) = self.lsn_proc {
            map.insert("lsn_proc".into(), proc.into());
        }
        map.insert("lsn_commit".into(), self.lsn_commit.into());
        map.insert("lsn".into(), self.lsn.into());
        if let Some(tx) = self.tx_id {
            map.insert("txId".into(), tx.into());
        }
        if let Some(ts) = self.ts_usec {
            map.insert("ts_usec".into(), ts.into());
        }
        if let Some(kind) = self.message_type {
            map.insert("messageType".into(), kind.into());
        }
        map
    }

    /// The offset stored while a snapshot is read (Debezium's markers of a snapshot in
    /// progress): a restart finds it incomplete.
    pub fn snapshot_in_progress(self) -> OffsetMap {
        let mut map = self.to_map();
        map.insert("snapshot".into(), Json::String("INITIAL".into()));
        map.insert("last_snapshot_record".into(), Json::Bool(false));
        map.insert("snapshot_completed".into(), Json::Bool(false));
        map
    }

    /// The offset stored when a snapshot completed at `lsn`.
    pub fn snapshot_completed(self) -> OffsetMap {
        let mut map = self.to_map();
        map.insert("snapshot".into(), Json::String("INITIAL".into()));
        map.insert("last_snapshot_record".into(), Json::Bool(true));
        map.insert("snapshot_completed".into(), Json::Bool(true));
        map
    }
}

/// What a stored offset says about resuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredOffset {
    /// Changes the stream may deliver again and that must be skipped.
    pub resume: ResumePoint,
    /// True when a snapshot was started but did not complete.
    pub snapshot_incomplete: bool,
}

/// A position in the change stream: transactions committing before `commit`, changes of the
/// transaction committing at `commit` up to `proc`, and, for a position inside transaction
/// `txid` (Debezium writes its offset there, often without that transaction's commit), that
/// transaction's changes up to `proc`, were delivered already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    pub commit: u64,
    pub proc: Option<u64>,
    pub txid: Option<u64>,
}

impl ResumePoint {
    /// Whether a change at `lsn` of transaction `xid`, committing at `commit_lsn`, was
    /// delivered before.
    pub fn covers(&self, commit_lsn: u64, lsn: u64, xid: u64) -> bool {
        let up_to_proc = self.proc.is_some_and(|p| lsn <= p);
        commit_lsn < self.commit
            || (commit_lsn == self.commit && up_to_proc)
            || (self.txid == Some(xid) && up_to_proc)
    }
}

/// Reads a stored offset; `None` when it has no usable position.
pub fn read(map: &OffsetMap) -> Option<StoredOffset> {
    let number = |key: &str| map.get(key).and_then(Json::as_u64);
    let commit = number("lsn_commit").or_else(|| number("lsn"))?;
    let flag = |key: &str| map.get(key).and_then(Json::as_bool).unwrap_or(false);
    let snapshot = match map.get("snapshot") {
        Some(Json::String(_)) => true,
        Some(Json::Bool(b)) => *b,
        _ => false,
    };
    let completed = flag("snapshot_completed") || flag("last_snapshot_record");
    // A position at a change (not a COMMIT) lies inside its transaction.
    let inside = map
        .get("messageType")
        .and_then(Json::as_str)
        .is_some_and(|m| !m.eq_ignore_ascii_case("COMMIT"));
    Some(StoredOffset {
        resume: ResumePoint {
            commit,
            proc: number("lsn_proc"),
            txid: number("txId").filter(|_| inside),
        },
        snapshot_incomplete: snapshot && !completed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_through_the_map() {
        let offset = PgOffset {
            lsn: 120,
            lsn_proc: Some(120),
            lsn_commit: 200,
            tx_id: Some(7),
            ts_usec: Some(1),
            message_type: Some("INSERT"),
        };
        let stored = read(&offset.to_map()).unwrap();
        assert_eq!(
            stored.resume,
            ResumePoint {
                commit: 200,
                proc: Some(120),
                txid: Some(7),
            }
        );
        assert!(!stored.snapshot_incomplete);
        assert!(
            read(&offset.snapshot_in_progress())
                .unwrap()
                .snapshot_incomplete
        );
        let text = serde_json::Value::Object(offset.snapshot_completed()).to_string();
        assert_eq!(
            text,
            r#"{"lsn_proc":120,"lsn_commit":200,"lsn":120,"txId":7,"ts_usec":1,"messageType":"INSERT","snapshot":"INITIAL","last_snapshot_record":true,"snapshot_completed":true}"#
        );
    }

    #[test]
    fn resume_skips_exactly_what_was_delivered() {
        let inside = ResumePoint {
            commit: 200,
            proc: Some(120),
            txid: None,
        };
        assert!(inside.covers(150, 149, 1));
        assert!(inside.covers(200, 120, 2));
        assert!(!inside.covers(200, 121, 2));
        assert!(!inside.covers(300, 10, 3));
        let between = ResumePoint {
            commit: 200,
            proc: None,
            txid: None,
        };
        assert!(between.covers(199, 150, 1));
        assert!(!between.covers(200, 150, 2));
    }

    #[test]
    fn debeziums_offset_inside_a_transaction_resumes_after_its_last_change() {
        // Debezium 3.6.1's offset after a change of transaction 730, without its commit.
        let map = serde_json::json!({
            "lsn_proc": 500, "messageType": "INSERT", "lsn": 500, "txId": 730, "ts_usec": 1
        });
        let resume = read(map.as_object().unwrap()).unwrap().resume;
        assert!(resume.covers(450, 400, 729), "an earlier transaction");
        assert!(
            resume.covers(900, 480, 730),
            "transaction 730 up to its last change"
        );
        assert!(resume.covers(900, 500, 730));
        assert!(!resume.covers(900, 520, 730), "the rest of transaction 730");
        assert!(!resume.covers(950, 520, 731), "a later transaction");
        // At a COMMIT the transaction is done: no position inside it.
        let map = serde_json::json!({"lsn_proc": 900, "lsn_commit": 900, "lsn": 900, "txId": 730, "messageType": "COMMIT"});
        assert_eq!(read(map.as_object().unwrap()).unwrap().resume.txid, None);
    }
}
