//! GTIDs of both flavours: MariaDB's `domain-server-sequence` (its GTID and GTID_LIST events,
//! which mysql_common does not parse, are read here) and MySQL's `uuid:interval` sets.

use std::collections::BTreeMap;
use std::fmt;

use crate::sources::mysql::config::NameFilter;

/// MariaDB's GTID event.
pub const MARIADB_GTID_EVENT: u8 = 162;
/// MariaDB's GTID_LIST event (the binlog's GTID state at its start).
pub const MARIADB_GTID_LIST_EVENT: u8 = 163;
/// MariaDB's ANNOTATE_ROWS event (the statement behind the rows events that follow).
pub const MARIADB_ANNOTATE_ROWS_EVENT: u8 = 160;

/// A MariaDB GTID event's flag: the group is a single statement without BEGIN/COMMIT.
const FL_STANDALONE: u8 = 1;

/// A MariaDB GTID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl MariaGtid {
    /// Parses `domain-server-sequence`.
    pub fn parse(text: &str) -> Option<MariaGtid> {
        let mut parts = text.trim().splitn(3, '-');
        Some(MariaGtid {
            domain: parts.next()?.parse().ok()?,
            server: parts.next()?.parse().ok()?,
            seq: parts.next()?.parse().ok()?,
        })
    }
}

/// A decoded MariaDB GTID event: the GTID (its server id is the event header's) and
/// whether the group is standalone (a DDL statement, committed without an XID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariaGtidEvent {
    pub gtid: MariaGtid,
    pub standalone: bool,
}

/// Reads a MariaDB GTID event's body: sequence (8 bytes), domain (4), flags (1), ….
pub fn read_maria_gtid(body: &[u8], server: u32) -> Option<MariaGtidEvent> {
    let seq = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let domain = u32::from_le_bytes(body.get(8..12)?.try_into().ok()?);
    let flags = *body.get(12)?;
    Some(MariaGtidEvent {
        gtid: MariaGtid {
            domain,
            server,
            seq,
        },
        standalone: flags & FL_STANDALONE != 0,
    })
}

/// Reads a MariaDB GTID_LIST event's body: a count (low 28 bits) and that many
/// (domain, server, sequence) triples.
pub fn read_maria_gtid_list(body: &[u8]) -> Option<Vec<MariaGtid>> {
    let count = u32::from_le_bytes(body.get(0..4)?.try_into().ok()?) & 0x0fff_ffff;
    (0..count as usize)
        .map(|i| {
            let at = 4 + i * 16;
            let entry = body.get(at..at + 16)?;
            Some(MariaGtid {
                domain: u32::from_le_bytes(entry[0..4].try_into().ok()?),
                server: u32::from_le_bytes(entry[4..8].try_into().ok()?),
                seq: u64::from_le_bytes(entry[8..16].try_into().ok()?),
            })
        })
        .collect()
}

/// The GTIDs a connector has completely processed, in either flavour, written in the
/// offset's `gtids` as the server writes its GTID state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GtidSet {
    /// MariaDB: the last sequence per (domain, server).
    maria: BTreeMap<(u32, u32), u64>,
    /// MySQL: intervals (inclusive) per source UUID.
    mysql: BTreeMap<String, Vec<(u64, u64)>>,
}

impl GtidSet {
    /// Parses a MariaDB position (`0-1-20,1-2-7`) or a MySQL set
    /// (`3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7`); `None` when it is neither.
    pub fn parse(text: &str) -> Option<GtidSet> {
        let mut set = GtidSet::default();
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for entry in text.split(',').filter(|e| !e.is_empty()) {
            if let Some(gtid) = MariaGtid::parse(entry).filter(|_| !entry.contains(':')) {
                set.add_maria(gtid);
                continue;
            }
            let mut parts = entry.split(':');
            let uuid = parts.next()?.to_ascii_lowercase();
            if uuid.len() != 36 {
                return None;
            }
            let intervals = set.mysql.entry(uuid).or_default();
            for interval in parts {
                let (start, end) = match interval.split_once('-') {
                    Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                    None => {
                        let n = interval.parse().ok()?;
                        (n, n)
                    }
                };
                intervals.push((start, end));
            }
        }
        Some(set)
    }

    /// True when the set holds no GTID.
    pub fn is_empty(&self) -> bool {
        self.maria.is_empty() && self.mysql.is_empty()
    }

    /// Records a completed MariaDB GTID.
    pub fn add_maria(&mut self, gtid: MariaGtid) {
        let seq = self.maria.entry((gtid.domain, gtid.server)).or_insert(0);
        *seq = (*seq).max(gtid.seq);
    }

    /// Records a completed MySQL GTID.
    pub fn add_mysql(&mut self, uuid: &str, gno: u64) {
        let intervals = self.mysql.entry(uuid.to_owned()).or_default();
        intervals.push((gno, gno));
        intervals.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(start, end) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        *intervals = merged;
    }

    /// Whether a MySQL GTID is in the set.
    pub fn contains_mysql(&self, uuid: &str, gno: u64) -> bool {
        self.mysql
            .get(uuid)
            .is_some_and(|i| i.iter().any(|(s, e)| (*s..=*e).contains(&gno)))
    }

    /// Whether a MariaDB GTID is at or before the set's position in its stream.
    pub fn contains_maria(&self, gtid: MariaGtid) -> bool {
        self.maria
            .get(&(gtid.domain, gtid.server))
            .is_some_and(|seq| gtid.seq <= *seq)
    }

    /// The set without the sources `gtid.source.includes`/`excludes` leave out (MySQL
    /// server UUIDs, MariaDB `domain-server`).
    pub fn filtered(&self, sources: &NameFilter) -> GtidSet {
        GtidSet {
            maria: self
                .maria
                .iter()
                .filter(|((d, s), _)| sources.allows(&format!("{d}-{s}")))
                .map(|(k, v)| (*k, *v))
                .collect(),
            mysql: self
                .mysql
                .iter()
                .filter(|(uuid, _)| sources.allows(uuid))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// MariaDB's `@slave_connect_state`: per domain, the newest GTID of the set.
    pub fn maria_connect_state(&self) -> String {
        let mut per_domain: BTreeMap<u32, MariaGtid> = BTreeMap::new();
        for (&(domain, server), &seq) in &self.maria {
            let gtid = MariaGtid {
                domain,
                server,
                seq,
            };
            per_domain
                .entry(domain)
                .and_modify(|g| {
                    if seq > g.seq {
                        *g = gtid;
                    }
                })
                .or_insert(gtid);
        }
        per_domain
            .values()
            .map(MariaGtid::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// MySQL's intervals per source UUID, for COM_BINLOG_DUMP_GTID.
    pub fn mysql_intervals(&self) -> impl Iterator<Item = (&str, &[(u64, u64)])> {
        self.mysql.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            if first {
                first = false;
                Ok(())
            } else {
                f.write_str(",")
            }
        };
        for (&(domain, server), &seq) in &self.maria {
            sep(f)?;
            write!(f, "{domain}-{server}-{seq}")?;
        }
        for (uuid, intervals) in &self.mysql {
            sep(f)?;
            f.write_str(uuid)?;
            for (start, end) in intervals {
                if start == end {
                    write!(f, ":{start}")?;
                } else {
                    write!(f, ":{start}-{end}")?;
                }
            }
        }
        Ok(())
    }
}

/// A MySQL server UUID from its 16 bytes.
pub fn uuid_text(sid: &[u8; 16]) -> String {
    let hex: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A MySQL server UUID's 16 bytes from its text.
pub fn uuid_bytes(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Properties;

    #[test]
    fn maria_events_decode() {
        // seq 21, domain 0, flags: standalone | FL_TRANSACTIONAL-ish bits
        let mut body = 21u64.to_le_bytes().to_vec();
        body.extend(0u32.to_le_bytes());
        body.push(0x01);
        body.extend([0, 0, 0, 0, 0, 0]);
        assert_eq!(
            read_maria_gtid(&body, 1),
            Some(MariaGtidEvent {
                gtid: MariaGtid {
                    domain: 0,
                    server: 1,
                    seq: 21
                },
                standalone: true
            })
        );
        let mut list = 2u32.to_le_bytes().to_vec();
        for (d, s, q) in [(0u32, 1u32, 16u64), (3, 7, 9)] {
            list.extend(d.to_le_bytes());
            list.extend(s.to_le_bytes());
            list.extend(q.to_le_bytes());
        }
        let gtids = read_maria_gtid_list(&list).unwrap();
        assert_eq!(gtids[1].to_string(), "3-7-9");
        assert!(read_maria_gtid_list(&list[..20]).is_none());
    }

    #[test]
    fn sets_round_trip_and_filter() {
        let mut set = GtidSet::parse("0-1-20,0-2-25,1-1-3").unwrap();
        set.add_maria(MariaGtid::parse("0-1-21").unwrap());
        assert_eq!(set.to_string(), "0-1-21,0-2-25,1-1-3");
        assert_eq!(set.maria_connect_state(), "0-2-25,1-1-3");
        assert!(set.contains_maria(MariaGtid::parse("0-1-19").unwrap()));
        assert!(!set.contains_maria(MariaGtid::parse("0-1-22").unwrap()));
        let filter = crate::sources::mysql::config::MySqlConfig::from_properties(
            &Properties::from_pairs([
                ("database.hostname", "h"),
                ("database.user", "u"),
                ("topic.prefix", "p"),
                ("gtid.source.excludes", "0-2"),
            ]),
            crate::sources::mysql::config::Flavor::MariaDb,
        )
        .unwrap()
        .gtid_sources;
        assert_eq!(set.filtered(&filter).to_string(), "0-1-21,1-1-3");

        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let mut mysql = GtidSet::parse(&format!("{uuid}:1-5:7")).unwrap();
        mysql.add_mysql(uuid, 6);
        mysql.add_mysql(uuid, 9);
        assert_eq!(mysql.to_string(), format!("{uuid}:1-7:9"));
        assert!(mysql.contains_mysql(uuid, 3));
        assert!(!mysql.contains_mysql(uuid, 8));
        assert_eq!(uuid_text(&uuid_bytes(uuid).unwrap()), uuid);
        assert!(GtidSet::parse("nonsense:x").is_none());
    }
}
