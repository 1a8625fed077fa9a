//! The sink both versions share: for each batch it logs (through the host's log) its version,
//! its `label` setting (to tell connectors apart), the batch's number in this instance (1 for
//! its first) and the `id` key field of each record, and it logs each flush. A test reads the
//! host's log to tell which version and which instance was given each record, and where
//! flushes fell.

use std::cell::{Cell, RefCell};

use crate::bindings::exports::tidemark::plugin::destination::{Guest, SinkError};
use crate::bindings::tidemark::plugin::host::{Level, log};
use crate::bindings::tidemark::plugin::records::Batch;
use crate::bindings::tidemark::plugin::types::{Part, ValueNode};

thread_local! {
    /// Batches this instance was given.
    static CALLS: Cell<u64> = const { Cell::new(0) };
    /// The `label` setting.
    static LABEL: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The logging sink.
pub struct StampSink;

impl Guest for StampSink {
    fn configure(config: Vec<(String, String)>) -> Result<(), String> {
        let label = config.into_iter().find(|(key, _)| key == "label");
        LABEL.set(label.map(|(_, value)| value).unwrap_or_default());
        Ok(())
    }

    fn write(records: &Batch) -> Result<(), SinkError> {
        let call = CALLS.get() + 1;
        CALLS.set(call);
        let ids: Vec<String> = (0..records.len())
            .map(|i| match records.get(i, Part::Key, "id") {
                Ok(Some(data)) => match data.first() {
                    Some(ValueNode::Int32(id)) => id.to_string(),
                    other => format!("{other:?}"),
                },
                other => format!("{other:?}"),
            })
            .collect();
        log(
            Level::Info,
            &format!(
                "stamp-sink version={} label={} call={call} ids={}",
                crate::VERSION,
                LABEL.with_borrow(String::clone),
                ids.join(",")
            ),
        );
        Ok(())
    }

    fn flush() -> Result<(), SinkError> {
        log(
            Level::Info,
            &format!(
                "stamp-sink version={} label={} flush",
                crate::VERSION,
                LABEL.with_borrow(String::clone)
            ),
        );
        Ok(())
    }
}
