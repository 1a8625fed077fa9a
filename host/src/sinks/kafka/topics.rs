//! Creating topics through the Kafka admin API before the first record goes to them, with
//! Connect's `topic.creation.*` settings.

use std::collections::HashSet;

use super::config::TopicCreation;
use crate::kafka::Admin;

/// Creates each topic the first time a record goes to it.
pub struct TopicCreator {
    admin: Admin,
    creation: TopicCreation,
    known: HashSet<String>,
}

impl TopicCreator {
    /// A creator with Connect's topic creation settings.
    pub fn new(admin: Admin, creation: TopicCreation) -> TopicCreator {
        TopicCreator {
            admin,
            creation,
            known: HashSet::new(),
        }
    }

    /// Whether Tidemark creates `topic` compacted (`cleanup.policy` with `compact`): such a
    /// topic refuses records without a key.
    pub fn creates_compacted(&self, topic: &str) -> bool {
        self.creation.enabled
            && self
                .creation
                .settings_for(topic)
                .configs
                .get("cleanup.policy")
                .is_some_and(|policy| policy.contains("compact"))
    }

    /// Makes sure a topic exists before a record goes to it (nothing when
    /// `topic.creation.enable=false`: the broker's auto-creation, if any, applies).
    pub fn ensure(&mut self, topic: &str) -> Result<(), String> {
        if !self.creation.enabled || self.known.contains(topic) {
            return Ok(());
        }
        let settings = self.creation.settings_for(topic);
        self.admin.create_topic(topic, settings)?;
        tracing::debug!(topic, "topic ready");
        self.known.insert(topic.to_owned());
        Ok(())
    }
}
