//! Kafka clients shared by the stages that talk to Kafka: the Kafka sink, the Kafka offset
//! store and MySQL's schema history topic. It sits below all three, so none of them reaches
//! into another.
//!
//! - [`client`]: Kafka's Java client properties translated into librdkafka's, layered as
//!   Connect layers them, checked before anything connects.
//! - [`security`]: the security properties (TLS, SASL) among them, with [`jaas`] for
//!   `sasl.jaas.config` and [`stores`] for trust and key stores; and which client failures
//!   are fatal (a wrong password or CA) rather than an outage to wait through.
//! - [`producer`]: the librdkafka producer, its delivery reports, backpressure, transactions
//!   and waits through outages.
//! - [`admin`]: the admin client that creates topics.

pub mod admin;
pub mod client;
pub mod jaas;
pub mod keys;
pub mod producer;
pub mod security;
pub mod stores;

pub use admin::{Admin, TopicSettings};
pub use client::{ClientSettings, java_producer_property};
pub use producer::Shared;
