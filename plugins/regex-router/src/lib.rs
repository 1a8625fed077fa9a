//! `regex-router`: Kafka Connect's `org.apache.kafka.connect.transforms.RegexRouter`.
//!
//! Settings: `regex` (must match the whole topic) and `replacement`, in Java's replacement
//! syntax: `$1` or `${name}` insert a group, `\$` and `\\` are a literal `$` and `\`.
//! Topics that do not match pass unchanged. As Connect does (`Matcher.matches()`, then
//! `replaceFirst`), a topic that matches as a whole has its *first* match replaced: with
//! `a|ab` the topic `ab` matches, its first match is `a`, so `X` routes it to `Xb`.

use connect_common::java_regex::{JavaRegex, Replacement};
use regex::Regex;
use tidemark_sdk::{
    Config, ConfigDef, Importance, Key, KeyType, Outcome, Record, Records, Transform,
    export_transform,
};

/// The RegexRouter transform.
pub struct RegexRouter {
    regex: JavaRegex,
    /// The last topic routed and its new topic: a batch's records mostly share their topic,
    /// so the regex runs once per run of equal topics.
    last: Option<(String, Option<String>)>,
}

impl RegexRouter {
    /// The new topic for `topic`, or `None` when the regex does not match all of it.
    pub fn route(&self, topic: &str) -> Option<String> {
        self.regex.replace_whole(topic)
    }
}

/// Connect's keys.
fn definition() -> ConfigDef {
    ConfigDef::new()
        .key(
            Key::new(
                "regex",
                KeyType::String,
                Importance::High,
                "The regular expression a topic must match as a whole to be routed.",
            )
            .required(),
        )
        .key(
            Key::new(
                "replacement",
                KeyType::String,
                Importance::High,
                "The new topic, in Java's replacement syntax ($1 or ${name} insert a group).",
            )
            .required(),
        )
}

impl Transform for RegexRouter {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        let pattern = parsed.string("regex").unwrap_or_default();
        let replacement = parsed.string("replacement").unwrap_or_default();
        let unanchored = Regex::new(pattern).map_err(|e| {
            format!("setting 'regex' is not a valid regular expression {pattern:?}: {e}")
        })?;
        Replacement::parse(replacement, &unanchored)
            .map_err(|e| format!("setting 'replacement' {replacement:?}: {e}"))?;
        let regex = JavaRegex::new(pattern, replacement)
            .map_err(|e| format!("setting 'regex' {pattern:?}: {e}"))?;
        Ok(RegexRouter { regex, last: None })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        let topic = record.topic();
        let routed = match &self.last {
            Some((last, routed)) if *last == topic => routed,
            _ => {
                let routed = self.route(&topic);
                &self.last.insert((topic, routed)).1
            }
        };
        if let Some(routed) = routed {
            record.set_topic(routed);
        }
        Outcome::Keep
    }

    /// Routes each run of records with equal topics in one call.
    fn apply_batch(&mut self, records: &Records<'_>) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Keep; records.len() as usize];
        let runs = records.topic_runs();
        let ends = runs
            .iter()
            .skip(1)
            .map(|(start, _)| *start)
            .chain([records.len()]);
        for ((start, topic), end) in runs.iter().zip(ends) {
            if let Some(routed) = self.route(topic) {
                let indices: Vec<u32> = (*start..end).collect();
                if records.set_topic_many(&indices, &routed).is_err() {
                    records.apply_each(self, indices, &mut outcomes);
                }
            }
        }
        outcomes
    }
}

export_transform!(RegexRouter);

#[cfg(test)]
mod tests {
    use super::*;

    fn router(regex: &str, replacement: &str) -> Result<RegexRouter, String> {
        RegexRouter::configure(Config::new(vec![
            ("regex".into(), regex.into()),
            ("replacement".into(), replacement.into()),
        ]))
    }

    #[test]
    fn routes_whole_topic_matches_only() {
        let r = router(r"dbz\.public\.(.*)", "cdc.$1").unwrap();
        assert_eq!(
            r.route("dbz.public.customers").as_deref(),
            Some("cdc.customers")
        );
        assert_eq!(r.route("xdbz.public.customers"), None);
        let r = router("cust", "c").unwrap();
        assert_eq!(r.route("customers"), None);
    }

    #[test]
    fn a_whole_match_replaces_the_first_match_as_java_does() {
        // `a|ab` matches `ab` as a whole (Matcher.matches()), but replaceFirst finds `a`.
        let r = router("a|ab", "X").unwrap();
        assert_eq!(r.route("ab").as_deref(), Some("Xb"));
        assert_eq!(r.route("a").as_deref(), Some("X"));
        assert_eq!(r.route("abc"), None);
        let r = router("(db)|(db\\.public)", "[$1]").unwrap();
        assert_eq!(r.route("db.public").as_deref(), Some("[db].public"));
    }

    #[test]
    fn missing_settings_are_named() {
        let err = RegexRouter::configure(Config::new(vec![("regex".into(), "a".into())]))
            .err()
            .unwrap();
        assert!(
            err.starts_with("missing required setting 'replacement'"),
            "{err}"
        );
        assert!(router("(", "x").err().unwrap().contains("setting 'regex'"));
    }
}
