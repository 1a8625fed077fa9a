//! {{name}}: a Tidemark sink. It logs how many records each batch has; replace `write`
//! and `flush` with delivery to your destination. Answer `SinkError::Retriable` for a
//! passing fault (the host retries the batch after a backoff) and `SinkError::Fatal` for a
//! permanent one (the host stops the connector).
//!
//! Build: `tidemark plugin build`. Use: `sink.type=wasm`, `sink.plugin=build/{{name}}.wasm`,
//! settings as `sink.config.<key>`.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "sink" });
}

use bindings::exports::tidemark::plugin::destination::{Guest, SinkError};
use bindings::tidemark::plugin::host::{Level, log};
use bindings::tidemark::plugin::records::Batch;

struct Plugin;

impl Guest for Plugin {
    fn configure(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }

    fn write(records: &Batch) -> Result<(), SinkError> {
        log(Level::Info, &format!("{{name}} received {} records", records.len()));
        Ok(())
    }

    fn flush() -> Result<(), SinkError> {
        Ok(())
    }
}

bindings::export!(Plugin with_types_in bindings);
