//! `regex-router`: Kafka Connect's `org.apache.kafka.connect.transforms.RegexRouter`.
//!
//! Settings: `regex` (must match the whole topic) and `replacement`, in Java's replacement
//! syntax: `$1` or `${name}` insert a group, `\$` and `\\` are a literal `$` and `\`.
//! Topics that do not match pass unchanged.

use connect_common::java_regex::Replacement;
use regex::Regex;
use tidemark_sdk::{Config, Outcome, Record, Transform, export_transform};

/// The RegexRouter transform.
pub struct RegexRouter {
    regex: Regex,
    replacement: Replacement,
}

impl RegexRouter {
    /// The new topic for `topic`, or `None` when the regex does not match all of it.
    pub fn route(&self, topic: &str) -> Option<String> {
        let captures = self.regex.captures(topic)?;
        let mut routed = String::new();
        self.replacement.expand(&captures, &mut routed);
        Some(routed)
    }
}

impl Transform for RegexRouter {
    fn configure(config: Config) -> Result<Self, String> {
        let pattern = config.require("regex")?;
        let replacement = config.require("replacement")?;
        // Java's Matcher.matches(): the whole topic must match.
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            format!("setting 'regex' is not a valid regular expression {pattern:?}: {e}")
        })?;
        let replacement = Replacement::parse(replacement, &regex)
            .map_err(|e| format!("setting 'replacement' {replacement:?}: {e}"))?;
        Ok(RegexRouter { regex, replacement })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        if let Some(topic) = self.route(&record.topic()) {
            record.set_topic(&topic);
        }
        Outcome::Keep
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
    fn missing_settings_are_named() {
        let err = RegexRouter::configure(Config::new(vec![("regex".into(), "a".into())]))
            .err()
            .unwrap();
        assert_eq!(err, "missing required setting 'replacement'");
        assert!(router("(", "x").err().unwrap().contains("setting 'regex'"));
    }
}
