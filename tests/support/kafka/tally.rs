//! Checking delivery guarantees: the change events of a topic compared with the changes a
//! table went through, each named `(id, v)` where `v` counts the row's updates (version 0 is
//! its snapshot read or its insert).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::Consumed;

/// The `(id, v)` of each change event's `after`, in log order.
pub fn changes(records: &[Consumed]) -> Vec<(i64, i64)> {
    records
        .iter()
        .map(|r| {
            let value = r.value_json();
            let after = value
                .pointer("/payload/after")
                .or_else(|| value.pointer("/after"))
                .unwrap_or(&Json::Null);
            match (after["id"].as_i64(), after["v"].as_i64()) {
                (Some(id), Some(v)) => (id, v),
                _ => panic!("a change event without after.id and after.v: {value}"),
            }
        })
        .collect()
}

/// Each key's versions, in the order the log holds them.
fn by_key(changes: &[(i64, i64)]) -> BTreeMap<i64, Vec<i64>> {
    let mut keys: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (id, v) in changes {
        keys.entry(*id).or_default().push(*v);
    }
    keys
}

/// How the changes in Kafka compare with the changes the table went through: for each row,
/// versions 0 (the snapshot or its insert) up to its final `v`.
#[derive(Debug, Default)]
pub struct Tally {
    pub expected: usize,
    pub seen: usize,
    /// Changes not in Kafka, as `(id, v)`.
    pub missing: Vec<(i64, i64)>,
    /// Changes in Kafka more than once: how many extra copies.
    pub duplicates: usize,
    /// Keys whose versions are not in ascending order.
    pub out_of_order: Vec<i64>,
    /// Changes the table never went through.
    pub unknown: Vec<(i64, i64)>,
}

impl Tally {
    /// Every change exactly once, in order per key, and nothing else.
    pub fn exactly_once(&self) -> bool {
        self.missing.is_empty()
            && self.duplicates == 0
            && self.out_of_order.is_empty()
            && self.unknown.is_empty()
            && self.seen == self.expected
    }
}

/// The tally of `changes` against each row's final version in `expected`.
pub fn tally(expected: &BTreeMap<i64, i64>, changes: &[(i64, i64)]) -> Tally {
    let keys = by_key(changes);
    let mut tally = Tally {
        expected: expected.values().map(|v| *v as usize + 1).sum(),
        seen: changes.len(),
        ..Tally::default()
    };
    for (id, last) in expected {
        let versions = keys.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let distinct: BTreeSet<i64> = versions.iter().copied().collect();
        tally.missing.extend(
            (0..=*last)
                .filter(|v| !distinct.contains(v))
                .map(|v| (*id, v)),
        );
        tally.duplicates += versions.len() - distinct.len();
        tally
            .unknown
            .extend(distinct.iter().filter(|v| **v > *last).map(|v| (*id, *v)));
        if !versions.windows(2).all(|w| w[0] <= w[1]) {
            tally.out_of_order.push(*id);
        }
    }
    tally.unknown.extend(
        keys.iter()
            .filter(|(id, _)| !expected.contains_key(id))
            .flat_map(|(id, vs)| vs.iter().map(|v| (*id, *v))),
    );
    tally
}

fn first<T: std::fmt::Debug>(items: &[T]) -> &[T] {
    &items[..items.len().min(10)]
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} changes expected, {} in Kafka: {} missing (first {:?}), {} duplicates, {} keys out of order (first {:?}), {} unknown (first {:?})",
            self.expected,
            self.seen,
            self.missing.len(),
            first(&self.missing),
            self.duplicates,
            self.out_of_order.len(),
            first(&self.out_of_order),
            self.unknown.len(),
            first(&self.unknown)
        )
    }
}
