//! {{name}}: a Tidemark transform. It adds a header (setting `header`, default
//! `processed-by`) naming this plugin to every record; replace `apply` with your own logic.
//!
//! Build: `tidemark plugin build` (or `cargo build --target wasm32-wasip2 --release`).
//! Try:   `tidemark plugin test build/{{name}}.wasm --input records.jsonl`

use tidemark_sdk::{Config, Outcome, Record, Transform, export_transform};

struct Plugin {
    header: String,
}

impl Transform for Plugin {
    fn configure(config: Config) -> Result<Self, String> {
        Ok(Plugin {
            header: config.get("header").unwrap_or("processed-by").to_owned(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        record.add_header(&self.header, Some("{{name}}"));
        Outcome::Keep
    }
}

export_transform!(Plugin);
