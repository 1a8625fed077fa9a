//! Properties of RegexRouter's routing, over generated topics and patterns.

use proptest::prelude::*;
use regex_router::RegexRouter;
use tidemark_sdk::{Config, Transform};

fn router(regex: &str, replacement: &str) -> RegexRouter {
    RegexRouter::configure(Config::new(vec![
        ("regex".into(), regex.into()),
        ("replacement".into(), replacement.into()),
    ]))
    .expect("a valid configuration")
}

/// Topic-like names: letters, digits, dots, dashes and underscores.
fn topic() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,40}"
}

proptest! {
    /// `$0` is the whole match: a pattern matching everything routes every topic to itself.
    #[test]
    fn whole_match_replacement_is_identity(t in topic()) {
        prop_assert_eq!(router(".*", "$0").route(&t), Some(t.clone()));
    }

    /// A topic routes exactly when the pattern matches all of it, never a part.
    #[test]
    fn only_whole_topic_matches_route(prefix in "[a-z]{1,8}", rest in topic()) {
        let r = router(&format!("{}\\..*", regex::escape(&prefix)), "x");
        prop_assert_eq!(r.route(&format!("{prefix}.{rest}")), Some("x".to_owned()));
        prop_assert_eq!(r.route(&format!("z{prefix}.{rest}")), None);
    }

    /// Groups come back in the order the replacement names them.
    #[test]
    fn groups_are_substituted(a in "[a-z]{1,10}", b in "[a-z0-9]{1,10}") {
        let r = router("([a-z]+)\\.([a-z0-9]+)", "$2-$1");
        prop_assert_eq!(r.route(&format!("{a}.{b}")), Some(format!("{b}-{a}")));
    }

    /// Escaped dollars and backslashes are literal text.
    #[test]
    fn escapes_are_literal(t in topic()) {
        prop_assert_eq!(router(".*", "\\$\\\\$0").route(&t), Some(format!("$\\{t}")));
    }
}

proptest! {
    /// A pattern that matches the topic as a whole, but whose first alternative matches only
    /// a prefix, routes with the prefix replaced (Connect's matches() then replaceFirst).
    #[test]
    fn alternation_routes_on_whole_match_and_replaces_first(
        head in "[a-z]{1,8}",
        tail in "[a-z0-9._-]{1,12}",
    ) {
        let pattern = format!("{}|{}", regex::escape(&head), regex::escape(&format!("{head}{tail}")));
        let r = router(&pattern, "R");
        prop_assert_eq!(r.route(&format!("{head}{tail}")), Some(format!("R{tail}")));
        prop_assert_eq!(r.route(&head), Some("R".to_owned()));
        prop_assert_eq!(r.route(&format!("{head}{tail}!")), None);
    }
}
