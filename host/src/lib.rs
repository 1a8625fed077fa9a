//! Tidemark: change data capture in one binary, with every transform and custom sink a
//! sandboxed WebAssembly component.
//!
//! # Layout
//! - [`config`]: connector and worker properties (Debezium/Kafka Connect names), merged.
//! - [`event`]: the record model (Kafka Connect schemas and values) and Debezium's JSON form.
//! - [`plugin`]: the wasmtime runtime that loads, caches, limits and runs plugins.
//! - [`sources`]: change data sources (Postgres `pgoutput` decoding so far).

pub mod config;
pub mod event;
pub mod plugin;
pub mod sources;
