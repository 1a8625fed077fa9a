//! Test plugin for sink hot reload, version 1: logs each batch and flush (see `stamp.rs`).
//! Takes any configuration.

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "sink",
    });
}

mod stamp;

/// The version this build logs.
const VERSION: u32 = 1;

use stamp::StampSink;

bindings::export!(StampSink with_types_in bindings);
