//! The MySQL/MariaDB source: a consistent snapshot (without a global lock where the server
//! allows), then the binlog read as a replica, emitting Debezium's MySQL/MariaDB change
//! events. One connector captures every database of a server that its filters admit.
//!
//! - [`config`]: the connector's settings, under Debezium's property names.
//! - [`source`]: one run: checks, snapshot, streaming, re-snapshot when needed.
//! - [`catalog`]: what is read from the server outside the binlog.
//! - [`snapshot`], [`binlog`]: the two phases; [`changes`] builds their events;
//!   [`parallel`]: a snapshot read by several connections.
//! - [`types`], [`table`], [`source_info`], [`offset`], [`history`], [`history_store`]: type
//!   mapping, table schemas, the `source` block, the offset format, schema changes and where
//!   their history is written.
//! - [`incremental`] (with `binlog::signals`): incremental snapshots started by signals,
//!   read-only.
//! - [`tls`]: `database.ssl.mode` and its trust and key stores, on every connection.

pub mod binlog;
pub mod catalog;
pub mod changes;
pub mod config;
pub mod error;
pub mod history;
pub mod history_store;
pub mod incremental;
pub mod keys;
pub mod offset;
pub mod parallel;
pub mod snapshot;
pub mod source;
pub mod source_info;
pub mod table;
pub mod tls;
pub mod types;
pub mod usage;

pub use config::{Flavor, MySqlConfig};
pub use error::MySqlError;
pub use source::run;
