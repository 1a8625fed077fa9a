//! `noop`: keeps every record as it is. With `read.fields=a,b` it also reads those value
//! fields of each record (and discards them), to measure what field access costs.

use tidemark_sdk::{Config, Outcome, Record, Transform, export_transform};

/// The noop transform.
pub struct Noop {
    read_fields: Vec<String>,
}

impl Transform for Noop {
    fn configure(config: Config) -> Result<Self, String> {
        Ok(Noop {
            read_fields: config.list("read.fields"),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        for path in &self.read_fields {
            std::hint::black_box(record.value_field(path));
        }
        Outcome::Keep
    }
}

export_transform!(Noop);
