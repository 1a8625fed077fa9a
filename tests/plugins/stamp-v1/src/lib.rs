//! A test plugin for hot reload: adds header `version`=1 and header `call`, the number of
//! batches this instance has processed (1 for its first), so a test can tell which version
//! and which batch handled each record.

use tidemark_sdk::{Config, Outcome, Record, Transform, export_transform};

/// The stamping transform.
pub struct Stamp {
    calls: u64,
}

impl Transform for Stamp {
    fn configure(_config: Config) -> Result<Self, String> {
        Ok(Stamp { calls: 0 })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        // The SDK calls apply once per record; a new batch starts at record index 0.
        if record.index() == 0 {
            self.calls += 1;
        }
        record.add_header("version", Some("1"));
        record.add_header("call", Some(&self.calls.to_string()));
        Outcome::Keep
    }
}

export_transform!(Stamp);
