//! `noop`: keeps every record as it is. With `read.fields=a,b` it also reads those value
//! fields of each record (and discards them), to measure what field access costs.

use tidemark_sdk::{
    Config, ConfigDef, Importance, Key, KeyType, Outcome, Record, Transform, export_transform,
};

/// The noop transform.
pub struct Noop {
    read_fields: Vec<String>,
}

/// Its one key.
fn definition() -> ConfigDef {
    ConfigDef::new().key(
        Key::new(
            "read.fields",
            KeyType::List,
            Importance::Low,
            "Value fields read from each record and discarded, to measure field access.",
        )
        .default_value(""),
    )
}

impl Transform for Noop {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        Ok(Noop {
            read_fields: parsed
                .list("read.fields")
                .into_iter()
                .filter(|f| !f.is_empty())
                .collect(),
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
