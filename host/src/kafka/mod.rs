//! Kafka clients shared by the stages that talk to Kafka: the Kafka sink, the Kafka offset
//! store and MySQL's schema history topic. It sits below all three, so none of them reaches
//! into another.
//!
//! - [`client`]: Kafka's Java client properties translated into librdkafka's, checked before
//!   anything connects.
//! - [`producer`]: the librdkafka producer, its delivery reports, backpressure, transactions
//!   and waits through outages.
//! - [`admin`]: the admin client that creates topics.

pub mod admin;
pub mod client;
pub mod producer;

pub use admin::{Admin, TopicSettings};
pub use client::{ClientSettings, check_client_config, java_producer_property};
pub use producer::Shared;
