//! The Kafka clients' keys, under Kafka Connect's names: the brokers, the worker-level
//! security settings every client takes, and the per-client prefixes.

use crate::config::{Importance, Key, declare_keys};

const KAFKA: &str = "Kafka";

pub use crate::config::positive_or_broker_default;

declare_keys! {
    /// `bootstrap.servers`.
    BOOTSTRAP_SERVERS = Key::list("bootstrap.servers")
        .importance(Importance::High)
        .group(KAFKA)
        .doc("The Kafka brokers (host:port, comma-separated): setting it selects the Kafka \
              sink, which writes each event as Connect's JsonConverter would.");
    /// `security.protocol`.
    SECURITY_PROTOCOL = Key::string("security.protocol")
        .group(KAFKA)
        .doc("PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, for every Kafka client (Java names, \
              translated for librdkafka).");
    /// `ssl.*`.
    SSL = Key::string("ssl.*")
        .group(KAFKA)
        .doc("Kafka TLS settings (Java names: ssl.truststore.location, ssl.keystore.*, …; JKS, \
              PKCS12 and PEM stores), for every Kafka client.");
    /// `sasl.*`.
    SASL = Key::string("sasl.*")
        .group(KAFKA)
        .doc("Kafka SASL settings (sasl.mechanism, sasl.jaas.config), for every Kafka client.");
    /// `client.dns.lookup`.
    DNS_LOOKUP = Key::string("client.dns.lookup")
        .group(KAFKA)
        .doc("How the Kafka clients resolve the brokers' names.");
    /// `producer.*`.
    PRODUCER = Key::string("producer.*")
        .group(KAFKA)
        .doc("The Kafka sink's producer settings (Java names, translated; the worker's).");
    /// `producer.override.*`.
    PRODUCER_OVERRIDE = Key::string("producer.override.*")
        .group(KAFKA)
        .doc("A connector's own producer settings, over producer.*.");
    /// `admin.*`.
    ADMIN = Key::string("admin.*")
        .group(KAFKA)
        .doc("The admin client's settings (topic creation).");
    /// `admin.override.*`.
    ADMIN_OVERRIDE = Key::string("admin.override.*")
        .group(KAFKA)
        .doc("A connector's own admin client settings, over admin.*.");
}
