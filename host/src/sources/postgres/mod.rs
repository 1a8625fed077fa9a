//! The Postgres source: an initial snapshot, then logical replication with `pgoutput`,
//! emitting Debezium's Postgres change events.
//!
//! - [`config`]: the connector's settings, under Debezium's property names.
//! - [`source`]: one run: checks, publication and slot, snapshot, streaming.
//! - [`catalog`], [`setup`]: what is read from and set up in the database.
//! - [`snapshot`], [`stream`]: the two phases; [`changes`] builds their events.
//! - [`pgoutput`], [`types`], [`table`], [`source_info`], [`offset`]: decoding, type
//!   mapping, table schemas, the `source` block and the offset format.
//! - [`incremental`] (with `signaling`): incremental snapshots started by signals.
//! - [`tls`]: `database.sslmode` and its certificates, on every connection.

mod blocking;
pub mod catalog;
pub mod changes;
mod chunks;
pub mod config;
pub mod error;
pub mod incremental;
pub mod keys;
pub mod offset;
mod parallel;
pub mod pgoutput;
pub mod setup;
mod signaling;
pub mod snapshot;
pub mod source;
pub mod source_info;
pub mod stream;
pub mod table;
pub mod tls;
pub mod types;
pub mod usage;

pub use crate::sources::SourceContext;
pub use config::PostgresConfig;
pub use error::PostgresError;
pub use source::run;
