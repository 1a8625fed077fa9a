//! `filter`: Kafka Connect's `org.apache.kafka.connect.transforms.Filter` and Debezium's
//! `io.debezium.transforms.Filter`.
//!
//! **Kafka Connect's Filter** (none of the settings below) drops every record it is applied
//! to; it is meant to be used with a predicate, which the host evaluates before calling the
//! plugin.
//!
//! **Debezium's Filter** keeps the records for which `condition` is true and drops those for
//! which it is false. Settings:
//! - `language` (required): `cel`, `jsr223.groovy` or `jsr223.graal.js` (also `jsr223.js`,
//!   `jsr223.javascript`). Every condition is evaluated with CEL (Common Expression Language);
//!   a Groovy or JavaScript condition must be CEL-compatible, which the usual ones are
//!   (`value.op == 'u' && value.after.id > 5`, `topic.startsWith('dbz')`,
//!   `value.op in ['c', 'u']`, `header.h.value == 'x'`). One that is not fails configuration
//!   with an error that names it.
//! - `condition` (required): the expression.
//! - `topic.regex`: only records whose whole topic matches are evaluated; others pass.
//! - `null.handling.mode`: `keep` (default) passes records with a null value, `drop` drops
//!   them, `evaluate` evaluates the condition with `value` null.
//!
//! Variables, as Debezium binds them: `value` and `key` (structs as maps by field name, so
//! `value.after.id` and `value['op']` work; integers are `int`, floats and `Decimal`s
//! `double`, other logical types their physical value, bytes `bytes`, arrays lists, maps
//! maps, leaving out keys that are not strings, integers or booleans), `valueSchema` and
//! `keySchema` (maps with `name`, `type` such as `'STRUCT'`, `optional`, `version`, `doc`,
//! `parameters`, `fields`), `topic` and `header` (header name to `{value}`, where the value is
//! a string: `header.h.value == '1'`). Only the parts a condition names are read.
//!
//! Functions: CEL's `size`, `contains`, `startsWith`, `endsWith`, `matches`, `string`, `int`,
//! `uint`, `double`, `bytes`, `max`, `min` and macros `has`, `all`, `exists`, `exists_one`,
//! `map`, `filter`; plus `x.get(name)` (Java's `Struct.get`, as in `value.get('op')`).
//!
//! Differences from Groovy and JavaScript, beyond syntax: for those languages `s.matches(re)`
//! has Java's meaning (the whole string must match; with `cel` a match anywhere), and in
//! Groovy conditions `<`, `<=`, `>`, `>=` order null before everything, as Groovy does
//! (`value.after.amount > 100` is false for a null amount). Otherwise CEL's rules hold:
//! integer division truncates, an `int` and a `double` cannot be added, a missing field is an
//! error (also in schemaless maps, where Groovy would give null), and in JavaScript comparing
//! null with `<` is an error. Unsupported CEL syntax: triple-quoted strings, raw bytes,
//! backquoted names, leading-dot names, message construction, optional syntax (`a.?b`) and a
//! repeated `!` or `-` (write `!(!x)`).
//!
//! Where Debezium would fail the task (the condition throws, e.g. it reads a field of a null
//! `before`, or returns something other than a boolean) the record fails with an error naming
//! the condition: the host applies `errors.tolerance` (stop, or dead-letter queue).

mod condition;
mod convert;
mod fast;
mod functions;
mod paths;
mod record;
mod syntax;

use cel_interpreter::Value as Cel;
use regex::Regex;
use tidemark_sdk::{
    Config, ConfigDef, Importance, Key, KeyType, Outcome, Part, Record, Records, Transform,
    export_transform,
};

use condition::{Condition, Language};
use record::PartReader;

/// The settings of Debezium's Filter; Kafka Connect's has none.
const DEBEZIUM_SETTINGS: [&str; 4] = ["condition", "language", "topic.regex", "null.handling.mode"];

/// The Filter transform.
pub enum Filter {
    /// Kafka Connect's Filter: drops every record.
    DropAll,
    /// Debezium's Filter: keeps the records a condition accepts.
    Condition(Box<ConditionFilter>),
}

/// What becomes of a record whose value is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullHandling {
    Keep,
    Drop,
    Evaluate,
}

/// Debezium's Filter, configured.
pub struct ConditionFilter {
    condition: Condition,
    topic: Option<Regex>,
    nulls: NullHandling,
    key: PartReader,
    value: PartReader,
}

/// Debezium's keys (Kafka Connect's Filter has none, and is the one configured without
/// any of them).
fn definition() -> ConfigDef {
    let key = |name: &str, importance: Importance, doc: &str| {
        Key::new(name, KeyType::String, importance, doc)
    };
    ConfigDef::new()
        .key(key(
            "language",
            Importance::High,
            "Debezium's Filter: the condition's language, cel, jsr223.groovy or jsr223.graal.js (required with condition).",
        ))
        .key(key(
            "condition",
            Importance::High,
            "Debezium's Filter: the condition a record must meet to be kept (value, key, topic, header.<name>).",
        ))
        .key(key(
            "topic.regex",
            Importance::Low,
            "Debezium's Filter: only records of topics matching this regular expression are filtered.",
        ))
        .key(
            key(
                "null.handling.mode",
                Importance::Medium,
                "Debezium's Filter: what becomes of a record with a null value: keep, drop or evaluate.",
            )
            .default_value("keep")
            .allowed_ignoring_case(&["keep", "drop", "evaluate"]),
        )
}

impl Transform for Filter {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        if DEBEZIUM_SETTINGS.iter().all(|s| config.get(s).is_none()) {
            return Ok(Filter::DropAll);
        }
        let parsed = definition().parse(&config)?;
        let language = language(config.require("language")?)?;
        let condition = config
            .get("condition")
            .filter(|c| !c.trim().is_empty())
            .ok_or("missing required setting 'condition'")?;
        let condition = Condition::compile(condition, language)?;
        let topic = match config.get("topic.regex").filter(|r| !r.is_empty()) {
            None => None,
            Some(pattern) => Some(Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                format!("setting 'topic.regex' is not a valid regular expression {pattern:?}: {e}")
            })?),
        };
        let nulls = match parsed.string("null.handling.mode") {
            Some("drop") => NullHandling::Drop,
            Some("evaluate") => NullHandling::Evaluate,
            _ => NullHandling::Keep,
        };
        let key = PartReader::new(condition.paths(Part::Key));
        let value = PartReader::new(condition.paths(Part::Value));
        Ok(Filter::Condition(Box::new(ConditionFilter {
            condition,
            topic,
            nulls,
            key,
            value,
        })))
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        match self {
            Filter::DropAll => Outcome::Drop,
            Filter::Condition(filter) => filter.apply(record),
        }
    }

    /// A condition with a fast path on `value` fields alone reads each field of a schema's
    /// records in one call; the records it leaves to the interpreter go through `apply`.
    fn apply_batch(&mut self, records: &Records<'_>) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Keep; records.len() as usize];
        let one_by_one = match self {
            Filter::DropAll => {
                outcomes.fill(Outcome::Drop);
                return outcomes;
            }
            Filter::Condition(filter) => filter.apply_fast_batch(records, &mut outcomes),
        };
        records.apply_each(self, one_by_one, &mut outcomes);
        outcomes
    }
}

impl ConditionFilter {
    fn apply(&mut self, record: &Record<'_>) -> Outcome {
        let needs_topic = self.topic.is_some() || self.condition.uses("topic");
        let topic = needs_topic.then(|| record.topic());
        if let (Some(regex), Some(topic)) = (&self.topic, &topic)
            && !regex.is_match(topic)
        {
            return Outcome::Keep;
        }
        if let Some(outcome) = self.fast_outcome(record) {
            return outcome;
        }
        let value = self
            .condition
            .uses("value")
            .then(|| self.value.read(record, Part::Value));
        let value_is_null = match &value {
            Some(data) => data.is_none(),
            None => record.is_tombstone(),
        };
        if value_is_null {
            match self.nulls {
                NullHandling::Keep => return Outcome::Keep,
                NullHandling::Drop => return Outcome::Drop,
                NullHandling::Evaluate => {}
            }
        }
        let mut bindings = Vec::new();
        if let Some(data) = value {
            bindings.push(("value", data.unwrap_or(Cel::Null)));
        }
        if self.condition.uses("valueSchema") {
            bindings.push(("valueSchema", self.value.schema_cel(record, Part::Value)));
        }
        if self.condition.uses("key") {
            let data = self.key.read(record, Part::Key);
            bindings.push(("key", data.unwrap_or(Cel::Null)));
        }
        if self.condition.uses("keySchema") {
            bindings.push(("keySchema", self.key.schema_cel(record, Part::Key)));
        }
        if let Some(topic) = &topic {
            bindings.push(("topic", convert::string(topic)));
        }
        if self.condition.uses("header") {
            bindings.push(("header", convert::headers(&record.headers())));
        }
        match self.condition.evaluate(bindings) {
            Ok(true) => Outcome::Keep,
            Ok(false) => Outcome::Drop,
            Err(error) => Outcome::Fail(format!(
                "condition {:?} cannot be evaluated: {error}",
                self.condition.source()
            )),
        }
    }

    /// Decides the records the fast path can decide from `value` fields read batch-wide;
    /// returns the indices of the others, in order.
    fn apply_fast_batch(&mut self, records: &Records<'_>, outcomes: &mut [Outcome]) -> Vec<u32> {
        let batch_wide = self.topic.is_none()
            && ["key", "topic", "header", "valueSchema", "keySchema"]
                .iter()
                .all(|name| !self.condition.uses(name));
        let Some(fast) = self.condition.fast().filter(|_| batch_wide) else {
            return (0..records.len()).collect();
        };
        let (groups, mut one_by_one) = records.by_schema(Part::Value);
        for (_, group) in groups {
            let Some(rows) = self.value.scalars_many(records, Part::Value, &group) else {
                one_by_one.extend(group);
                continue;
            };
            for (index, row) in group.into_iter().zip(rows) {
                let decided = row.and_then(|fields| {
                    let field = |part: Part, i: usize| match part {
                        Part::Value => fields.get(i)?.as_ref(),
                        Part::Key => None,
                    };
                    fast.evaluate(&field)
                });
                match decided {
                    Some(true) => outcomes[index as usize] = Outcome::Keep,
                    Some(false) => outcomes[index as usize] = Outcome::Drop,
                    None => one_by_one.push(index),
                }
            }
        }
        one_by_one.sort_unstable();
        one_by_one
    }

    /// The outcome by the condition's fast path, `None` when the condition has none or it
    /// leaves this record to the interpreter. Only `value` and `key` fields take the fast
    /// path; a condition on `key` alone leaves tombstones to `null.handling.mode`.
    fn fast_outcome(&mut self, record: &Record<'_>) -> Option<Outcome> {
        let fast = self.condition.fast()?;
        let value = if self.condition.uses("value") {
            Some(self.value.scalars(record, Part::Value)?)
        } else {
            if self.nulls != NullHandling::Evaluate && record.is_tombstone() {
                return None;
            }
            None
        };
        let key = if self.condition.uses("key") {
            Some(self.key.scalars(record, Part::Key)?)
        } else {
            None
        };
        let field = |part: Part, i: usize| {
            let fields = match part {
                Part::Value => value.as_ref()?,
                Part::Key => key.as_ref()?,
            };
            fields.get(i)?.as_ref()
        };
        Some(match fast.evaluate(&field)? {
            true => Outcome::Keep,
            false => Outcome::Drop,
        })
    }
}

/// The language setting: Debezium's `jsr223.<engine>` names for Groovy and JavaScript, or
/// `cel`.
fn language(text: &str) -> Result<Language, String> {
    match text.trim() {
        "cel" => Ok(Language::Cel),
        "jsr223.groovy" | "jsr223.Groovy" => Ok(Language::Groovy),
        "jsr223.graal.js" | "jsr223.js" | "jsr223.javascript" | "jsr223.JavaScript" => {
            Ok(Language::JavaScript)
        }
        other if other.starts_with("wasm.") => Err(format!(
            "setting 'language' {other:?} is not supported: Debezium's Wasm filters do not run \
             here; write the filter as a Tidemark transform plugin, or use cel"
        )),
        other => Err(format!(
            "setting 'language' has an unsupported value {other:?}: use cel, jsr223.groovy or \
             jsr223.graal.js (conditions are evaluated as CEL)"
        )),
    }
}

export_transform!(Filter);

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(entries: &[(&str, &str)]) -> Result<Filter, String> {
        Filter::configure(Config::from_pairs(entries))
    }

    fn condition_filter(entries: &[(&str, &str)]) -> Box<ConditionFilter> {
        match configure(entries) {
            Ok(Filter::Condition(f)) => f,
            Ok(Filter::DropAll) => panic!("configured as Kafka Connect's Filter"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn without_debezium_settings_it_is_kafka_connects_filter() {
        assert!(matches!(configure(&[]), Ok(Filter::DropAll)));
    }

    #[test]
    fn debezium_settings_are_read_and_checked() {
        let f = condition_filter(&[
            ("language", "jsr223.groovy"),
            ("condition", "value.op != 'd' || value.before.id != 2"),
            ("topic.regex", "dum.*"),
            ("null.handling.mode", " DROP "),
        ]);
        assert_eq!(f.nulls, NullHandling::Drop);
        let regex = f
            .topic
            .as_ref()
            .map(|r| (r.is_match("dummy"), r.is_match("xdummy")));
        assert_eq!(regex, Some((true, false)));
        let f = condition_filter(&[
            ("language", "cel"),
            ("condition", "true"),
            ("topic.regex", ""),
        ]);
        assert_eq!(f.nulls, NullHandling::Keep);
        assert!(f.topic.is_none());

        let err = |entries: &[(&str, &str)]| configure(entries).err().unwrap_or_default();
        assert_eq!(
            err(&[("condition", "true")]),
            "missing required setting 'language'"
        );
        assert_eq!(
            err(&[("language", "jsr223.groovy")]),
            "missing required setting 'condition'"
        );
        assert!(
            err(&[("language", "jsr223.jython"), ("condition", "true")]).contains("'language'")
        );
        assert!(err(&[("language", "wasm.chicory"), ("condition", "true")]).contains("Wasm"));
        let bad_mode = [
            ("language", "cel"),
            ("condition", "true"),
            ("null.handling.mode", "x"),
        ];
        assert!(err(&bad_mode).contains("'null.handling.mode'"));
        let bad_regex = [
            ("language", "cel"),
            ("condition", "true"),
            ("topic.regex", "("),
        ];
        assert!(err(&bad_regex).contains("'topic.regex'"));
        let groovy_only = [
            ("language", "jsr223.groovy"),
            ("condition", "value?.op == 'u'"),
        ];
        assert!(err(&groovy_only).contains("setting 'condition'"));
    }
}
