//! The plugin runtime: transforms and sinks as sandboxed WebAssembly components.
//!
//! - [`Runtime`]: one per process; the engine, linker and compiled-component caches.
//! - [`SharedPlugins`]: the runtime and watched plugin directories a worker's connectors share.
//! - [`Plugin`]: a loaded component, checked against its world.
//! - [`Chain`]: transform plugins run in order over batches, in one store per pipeline.
//! - [`sink::SinkPlugin`]: a sink plugin, in a store of its own.
//!
//! Plugins import only `tidemark:plugin` and WASI 0.2, and get no capability (files,
//! sockets, environment, clocks) unless their configuration grants it (see [`limits`]).

mod batch;
mod bindings;
mod cache;
pub mod catalog;
mod chain;
mod convert;
pub mod costs;
pub mod declared;
mod directory;
mod error;
mod http;
pub mod limits;
mod many;
pub mod predicate;
mod priority;
pub mod reload;
pub mod resolve;
mod runtime;
mod schemas;
mod shared;
pub mod sink;
pub mod sink_reload;
mod state;
mod stderr;

pub use chain::{Chain, Step};
pub use costs::ChainCosts;
pub use directory::{Lease, Offer, PluginDirectory, PluginState, Version, read_state};
pub use error::PluginError;
pub use runtime::{Compilations, Origin, Plugin, Runtime, RuntimeOptions, Tier, World};
pub use shared::SharedPlugins;
