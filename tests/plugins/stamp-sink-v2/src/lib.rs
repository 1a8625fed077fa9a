//! Test plugin for sink hot reload, version 2: logs each batch and flush like version 1 (the
//! same `stamp.rs`), and declares its keys: `label`, and `format`, which it requires, so the
//! host refuses a configuration without it (what a connector configured for version 1 sees
//! when version 2 needs a new setting).

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "declared-sink",
    });
}

#[path = "../../stamp-sink-v1/src/stamp.rs"]
mod stamp;

use bindings::exports::tidemark::plugin::config_schema::{self, ConfigKey, Importance, KeyType};
use stamp::StampSink;

/// The version this build logs.
const VERSION: u32 = 2;

impl config_schema::Guest for StampSink {
    fn describe() -> Option<Vec<ConfigKey>> {
        let key = |name: &str, required, allowed: &[&str], documentation: &str| ConfigKey {
            name: name.into(),
            type_: KeyType::String,
            default_value: None,
            required,
            importance: Importance::Low,
            documentation: documentation.into(),
            allowed: allowed.iter().map(|a| a.to_string()).collect(),
            case_insensitive: false,
        };
        Some(vec![
            key("label", false, &[], "Logged with each batch and flush."),
            key("format", true, &["lines"], "Required; not used otherwise."),
        ])
    }
}

bindings::export!(StampSink with_types_in bindings);
