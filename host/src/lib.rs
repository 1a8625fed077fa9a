//! Tidemark: change data capture in one binary, with every transform and custom sink a
//! sandboxed WebAssembly component.
//!
//! # Layout
//! A row passes through the stages in this order:
//! - [`sources`]: change data sources (Postgres: snapshot, then `pgoutput` streaming).
//! - [`event`]: the record model (Kafka Connect schemas and values), Debezium's envelope and
//!   its JSON form.
//! - [`plugin`]: the wasmtime runtime that loads, caches, limits and runs plugins.
//! - [`pipeline`]: batches from a source through the transforms into a sink, and offset
//!   commits once the sink has flushed.
//! - [`sinks`]: where records go (JSON lines to a file or stdout).
//! - [`offsets`]: durable source positions.
//! - [`kafka`]: the Kafka clients the sink, the offset store and MySQL's schema history share.
//! - [`worker`]: many connectors in one process, each with its own pipeline and failure.
//! - [`api`]: Kafka Connect's REST API over the worker, plugins, Prometheus metrics.
//! - [`config`]: connector and worker properties (Debezium/Kafka Connect names), merged;
//!   [`pipeline::connector`] runs a connector from them.

pub mod api;
pub mod config;
pub mod event;
pub mod kafka;
pub mod offsets;
pub mod pipeline;
pub mod plugin;
pub mod sinks;
pub mod sources;
pub mod worker;
