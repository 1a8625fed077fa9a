//! The Postgres source: logical replication with the `pgoutput` plugin.

pub mod pgoutput;
pub mod types;
