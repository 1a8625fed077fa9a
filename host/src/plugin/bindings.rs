//! Host bindings generated from `wit/` (package `tidemark:plugin@0.1.0`), in one place.
//!
//! The `batch` resource is mapped to the host's own [`Batch`](super::batch::Batch), so the
//! generated code hands the host typed handles into the store's resource table.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transform",
        imports: {
            "tidemark:plugin/records": trappable,
        },
        with: {
            "tidemark:plugin/records.batch": crate::plugin::batch::Batch,
        },
    });
}

/// The `sink` world, sharing the interfaces (and so the host's implementations) of the
/// `transform` world.
mod generated_sink {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sink",
        with: {
            "tidemark:plugin/records": super::generated::tidemark::plugin::records,
            "tidemark:plugin/types": super::generated::tidemark::plugin::types,
            "tidemark:plugin/host": super::generated::tidemark::plugin::host,
        },
    });
}

/// The optional `config-schema` export (world `declared-transform`), sharing the interfaces
/// of the `transform` world; the host uses only its `describe`.
mod generated_declared {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "declared-transform",
        with: {
            "tidemark:plugin/records": super::generated::tidemark::plugin::records,
            "tidemark:plugin/types": super::generated::tidemark::plugin::types,
            "tidemark:plugin/host": super::generated::tidemark::plugin::host,
        },
    });
}

pub use generated::Transform;
pub use generated::TransformPre;
pub use generated::exports::tidemark::plugin::transformer::{Emitted, Outcome};
pub use generated::tidemark::plugin::host;
pub use generated::tidemark::plugin::records;
pub use generated::tidemark::plugin::types;
pub use generated_declared::exports::tidemark::plugin::config_schema;
pub use generated_sink::exports::tidemark::plugin::destination::SinkError;
pub use generated_sink::{Sink, SinkPre};

/// The fully qualified names of the interfaces a plugin exports to be of a given kind.
pub mod exports {
    /// Exported by a transform plugin (world `transform`).
    pub const TRANSFORMER: &str = "tidemark:plugin/transformer@0.1.0";
    /// Exported by a sink plugin (world `sink`).
    pub const DESTINATION: &str = "tidemark:plugin/destination@0.1.0";
    /// Exported by a plugin that declares its configuration keys (optional).
    pub const CONFIG_SCHEMA: &str = "tidemark:plugin/config-schema@0.1.0";
}
