//! Tidemark: change data capture in one binary, with every transform and custom sink a
//! sandboxed WebAssembly component.
//!
//! # Layout
//! - [`event`]: the record model (Kafka Connect schemas and values) and Debezium's JSON form.
//! - [`plugin`]: the wasmtime runtime that loads, caches, limits and runs plugins.

pub mod event;
pub mod plugin;
