//! The binlog source's offset, with the field names of Debezium's MySQL/MariaDB offset:
//! `file` and `pos` (where the transaction being delivered starts, or the next event after
//! a completed one), `gtids` (every GTID completely delivered), `event` and `row` (how much
//! of the transaction at `pos` was delivered: whole rows events, then rows of the next),
//! `server_id`, `ts_sec`, and the snapshot markers.

use serde_json::Value as Json;

use crate::offsets::OffsetMap;

/// The source partition: `{"server": <topic.prefix>}`.
pub fn partition(topic_prefix: &str) -> OffsetMap {
    let mut map = OffsetMap::new();
    map.insert("server".into(), Json::String(topic_prefix.to_owned()));
    map
}

/// A binlog position as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BinlogOffset {
    pub file: String,
    pub pos: u64,
    /// The GTID set (MySQL) or position (MariaDB) completely delivered, if the server
    /// uses GTIDs.
    pub gtids: Option<String>,
    /// Rows events of the transaction at `pos` already delivered.
    pub event: u64,
    /// Rows of the next rows event already delivered.
    pub row: u64,
    /// The server id of the last event.
    pub server_id: Option<u32>,
    /// The time of the last event, in seconds.
    pub ts_sec: Option<i64>,
    /// A snapshot was started at this position and has not completed.
    pub snapshot_running: bool,
}

impl BinlogOffset {
    /// The offset map to store.
    pub fn to_map(&self) -> OffsetMap {
        let mut map = OffsetMap::new();
        if let Some(ts) = self.ts_sec {
            map.insert("ts_sec".into(), ts.into());
        }
        map.insert("file".into(), self.file.clone().into());
        map.insert("pos".into(), self.pos.into());
        if let Some(gtids) = &self.gtids {
            map.insert("gtids".into(), gtids.clone().into());
        }
        if self.row > 0 {
            map.insert("row".into(), self.row.into());
        }
        if let Some(server) = self.server_id {
            map.insert("server_id".into(), server.into());
        }
        if self.event > 0 {
            map.insert("event".into(), self.event.into());
        }
        if self.snapshot_running {
            map.insert("snapshot".into(), Json::Bool(true));
        }
        map
    }

    /// The offset stored when a snapshot completed at this position.
    pub fn snapshot_completed(&self) -> OffsetMap {
        let mut map = self.to_map();
        map.insert("snapshot".into(), Json::String("INITIAL".into()));
        map.insert("snapshot_completed".into(), Json::Bool(true));
        map
    }

    /// Reads a stored offset; `None` when it has no usable position.
    pub fn read(map: &OffsetMap) -> Option<BinlogOffset> {
        let number = |key: &str| map.get(key).and_then(Json::as_u64);
        let completed = map
            .get("snapshot_completed")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let running = match map.get("snapshot") {
            Some(Json::Bool(b)) => *b,
            Some(Json::String(s)) => !completed && !s.eq_ignore_ascii_case("false"),
            _ => false,
        };
        Some(BinlogOffset {
            file: map.get("file")?.as_str()?.to_owned(),
            pos: number("pos")?,
            gtids: map
                .get("gtids")
                .and_then(Json::as_str)
                .filter(|g| !g.trim().is_empty())
                .map(str::to_owned),
            event: number("event").unwrap_or(0),
            row: number("row").unwrap_or(0),
            server_id: number("server_id").map(|s| s as u32),
            ts_sec: map.get("ts_sec").and_then(Json::as_i64),
            snapshot_running: running && !completed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_with_debeziums_fields() {
        let offset = BinlogOffset {
            file: "binlog.000001".into(),
            pos: 6962,
            gtids: Some("0-1-20".into()),
            event: 2,
            row: 1,
            server_id: Some(1),
            ts_sec: Some(1_796_152_261),
            snapshot_running: false,
        };
        let text = Json::Object(offset.to_map()).to_string();
        assert_eq!(
            text,
            r#"{"ts_sec":1796152261,"file":"binlog.000001","pos":6962,"gtids":"0-1-20","row":1,"server_id":1,"event":2}"#
        );
        assert_eq!(BinlogOffset::read(&offset.to_map()), Some(offset.clone()));
        let done = BinlogOffset::read(&offset.snapshot_completed()).unwrap();
        assert!(!done.snapshot_running);
        let running = BinlogOffset {
            snapshot_running: true,
            ..offset
        };
        assert!(
            BinlogOffset::read(&running.to_map())
                .unwrap()
                .snapshot_running
        );
        assert_eq!(BinlogOffset::read(&OffsetMap::new()), None);
    }
}
