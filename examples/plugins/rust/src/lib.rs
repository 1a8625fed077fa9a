//! Masks an email column and routes deletes to an audit topic (the same job as
//! examples/plugins/python, js and c; their outputs are compared with this one's).
//!
//! Settings: `field` (default `email`), `mask` (default `***`), `audit.topic` (default
//! `audit.deletes`). In `before` and `after`, the part of the column before the `@` becomes
//! the mask (`alice@example.com` → `***@example.com`; a value without `@` becomes the mask).
//! A delete (`op = d`) goes to the audit topic with a header `tidemark.audit.source` naming
//! its original topic. Tombstones pass unchanged.

use tidemark_sdk::{Config, Outcome, Record, Transform, Value, export_transform};

/// The masked form of an email address.
pub fn masked(text: &str, mask: &str) -> String {
    match text.find('@') {
        Some(at) => format!("{mask}{}", &text[at..]),
        None => mask.to_owned(),
    }
}

/// The transform and its settings.
pub struct MaskEmail {
    field: String,
    mask: String,
    audit_topic: String,
}

impl Transform for MaskEmail {
    fn configure(config: Config) -> Result<Self, String> {
        let field = config.get("field").unwrap_or("email").to_owned();
        let audit_topic = config
            .get("audit.topic")
            .unwrap_or("audit.deletes")
            .to_owned();
        if field.is_empty() || audit_topic.is_empty() {
            return Err("settings 'field' and 'audit.topic' must not be empty".into());
        }
        Ok(MaskEmail {
            field,
            mask: config.get("mask").unwrap_or("***").to_owned(),
            audit_topic,
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        if record.is_tombstone() {
            return Outcome::Keep;
        }
        for side in ["before", "after"] {
            let path = format!("{side}.{}", self.field);
            if let Some(Value::String(text)) = record.value_field(&path) {
                let _ = record.set_value_field(&path, &Value::String(masked(&text, &self.mask)));
            }
        }
        if record.value_field("op").as_ref().and_then(Value::as_str) == Some("d") {
            let topic = record.topic();
            record.add_header("tidemark.audit.source", Some(&topic));
            record.set_topic(&self.audit_topic);
        }
        Outcome::Keep
    }
}

export_transform!(MaskEmail);

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn masks_the_local_part() {
        assert_eq!(masked("alice@example.com", "***"), "***@example.com");
        assert_eq!(masked("nobody", "***"), "***");
        assert_eq!(masked("@x", "#"), "#@x");
    }
}
