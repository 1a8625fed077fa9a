//! The MySQL and MariaDB connectors' own keys (the ones both sources read are in
//! [`crate::sources::options`]), under Debezium's names.

use crate::config::{Importance, Key, declare_keys};
use crate::sources::options::filter;

const CONNECTION: &str = "Connection";
const TLS: &str = "TLS";
const HISTORY: &str = "Schema history";

/// `FileSchemaHistory`'s class.
pub const FILE_HISTORY: &str = "io.debezium.storage.file.history.FileSchemaHistory";
/// `KafkaSchemaHistory`'s class.
pub const KAFKA_HISTORY: &str = "io.debezium.storage.kafka.history.KafkaSchemaHistory";

declare_keys! {
    /// `database.port`.
    PORT = Key::int("database.port")
        .default("3306")
        .range(Some(1), Some(65535))
        .group(CONNECTION)
        .doc("The MySQL or MariaDB server's port.");
    /// `database.user`.
    USER = Key::string("database.user")
        .required("the user to connect as (needs REPLICATION SLAVE, REPLICATION CLIENT, SELECT, RELOAD)")
        .group(CONNECTION)
        .doc("The user to connect as: it needs REPLICATION SLAVE, REPLICATION CLIENT, SELECT \
              and RELOAD.");
    /// `database.server.id`.
    SERVER_ID = Key::long("database.server.id")
        .range(Some(1), Some(u32::MAX as i64))
        .group(CONNECTION)
        .doc("The replica id the connector registers with: a positive number no other server \
              or replica uses (default: a stable number from 5400 to 6399 derived from name).");
    /// `database.include.list`.
    DATABASE_INCLUDE = filter("database.include.list", "database.whitelist",
        "Regular expressions (comma-separated) matching the whole names of the databases to \
         capture; unset captures every database but the system ones.");
    /// `database.exclude.list`.
    DATABASE_EXCLUDE = filter("database.exclude.list", "database.blacklist",
        "Regular expressions matching the databases not to capture (not with \
         database.include.list).");
    /// `gtid.source.includes`.
    GTID_INCLUDE = Key::list("gtid.source.includes")
        .group("Binlog")
        .doc("Regular expressions matching the GTID sources (MySQL server UUIDs, MariaDB \
              domain-server) kept in the stored GTID set.");
    /// `gtid.source.excludes`.
    GTID_EXCLUDE = Key::list("gtid.source.excludes")
        .group("Binlog")
        .doc("Regular expressions matching the GTID sources left out of the stored GTID set \
              (not with gtid.source.includes).");
    /// `snapshot.mode`.
    SNAPSHOT_MODE = Key::string("snapshot.mode")
        .default("initial")
        .choices(&["initial", "initial_only", "no_data", "schema_only", "never", "always", "when_needed"])
        .importance(Importance::High)
        .group("Snapshot")
        .doc("When the captured tables are read in full: initial (once, then stream), \
              initial_only (snapshot, then stop), no_data or schema_only (schemas only, then \
              stream), never, always (at every start), when_needed (when no usable offset is \
              stored).");
    /// `snapshot.locking.mode`.
    LOCKING_MODE = Key::string("snapshot.locking.mode")
        .default("minimal")
        .choices(&["minimal", "none"])
        .group("Snapshot")
        .doc("minimal holds a global read lock while the schemas and binlog position are \
              read; none takes no lock (only safe when no DDL runs meanwhile).");
    /// `snapshot.max.threads`.
    SNAPSHOT_THREADS = Key::int("snapshot.max.threads")
        .default("1")
        .range(Some(1), Some(64))
        .group("Snapshot")
        .doc("Connections reading the initial snapshot side by side (MariaDB): above 1, they \
              start consistent snapshots at one binlog point without a global lock, tables \
              with an integer key are cut into key ranges, and events are emitted in table \
              and key order, as one connection's.");
    /// `snapshot.fetch.size`.
    FETCH_SIZE = Key::int("snapshot.fetch.size")
        .range(Some(1), None)
        .ignored()
        .group("Snapshot")
        .doc("Accepted and ignored: Debezium's JDBC fetch size. Tidemark reads each table (or \
              key range) of a snapshot with one streamed query, taking rows as the server \
              sends them, so its memory stays bounded without it.");
    /// `include.schema.changes`.
    SCHEMA_CHANGES = Key::boolean("include.schema.changes")
        .default("true")
        .group("Events")
        .doc("Write schema change events to the <topic.prefix> topic.");
    /// `time.precision.mode`.
    TIME_MODE = Key::string("time.precision.mode")
        .default("adaptive_time_microseconds")
        .choices(&["adaptive_time_microseconds", "connect"])
        .group("Events")
        .doc("How temporal values are written: adaptive_time_microseconds (Debezium's types) \
              or connect (Connect's logical types).");
    /// `bigint.unsigned.handling.mode`.
    BIGINT_MODE = Key::string("bigint.unsigned.handling.mode")
        .default("long")
        .choices(&["long", "precise"])
        .group("Events")
        .doc("How BIGINT UNSIGNED values are written: long (INT64) or precise (Decimal).");
    /// `schema.history.internal`.
    HISTORY_CLASS = Key::class("schema.history.internal")
        .renamed_from("database.history")
        .check(history_class)
        .group(HISTORY)
        .doc("Where the DDL the connector sees is recorded: \
              io.debezium.storage.file.history.FileSchemaHistory (with \
              schema.history.internal.file.filename) or \
              io.debezium.storage.kafka.history.KafkaSchemaHistory (with \
              schema.history.internal.kafka.topic and …kafka.bootstrap.servers); unset keeps \
              it in memory only.");
    /// `schema.history.internal.file.filename`.
    HISTORY_FILE = Key::string("schema.history.internal.file.filename")
        .group(HISTORY)
        .doc("The file FileSchemaHistory writes the schema history to.");
    /// `schema.history.internal.kafka.topic`.
    HISTORY_TOPIC = Key::string("schema.history.internal.kafka.topic")
        .group(HISTORY)
        .doc("The topic KafkaSchemaHistory writes the schema history to.");
    /// `schema.history.internal.kafka.bootstrap.servers`.
    HISTORY_SERVERS = Key::list("schema.history.internal.kafka.bootstrap.servers")
        .group(HISTORY)
        .doc("The Kafka brokers of the schema history topic (host:port, comma-separated).");
    /// `schema.history.internal.store.only.captured.tables.ddl`.
    HISTORY_CAPTURED_ONLY = Key::boolean("schema.history.internal.store.only.captured.tables.ddl")
        .renamed_from("database.history.store.only.monitored.tables.ddl")
        .ignored()
        .group(HISTORY)
        .doc("Accepted and ignored: Tidemark records the DDL it needs to decode the captured \
              tables.");
    /// `schema.history.internal.producer.*`.
    HISTORY_PRODUCER = Key::string("schema.history.internal.producer.*")
        .group(HISTORY)
        .doc("KafkaSchemaHistory's producer settings (Java client names, translated).");
    /// `schema.history.internal.consumer.*`.
    HISTORY_CONSUMER = Key::string("schema.history.internal.consumer.*")
        .group(HISTORY)
        .doc("KafkaSchemaHistory's consumer settings: the security ones are checked; the \
              history is written, never read back.");
    /// `schema.history.internal.*`.
    HISTORY_ANY = Key::string("schema.history.internal.*")
        .renamed_from("database.history.*")
        .group(HISTORY)
        .doc("Debezium's other schema history settings (recovery, kafka.*): accepted; \
              Tidemark's history needs none of them.");
    /// `database.ssl.mode`.
    SSL_MODE = Key::string("database.ssl.mode")
        .default("preferred")
        .choices(&["disabled", "preferred", "required", "verify_ca", "verify_identity"])
        .group(TLS)
        .doc("TLS to the server: disabled, preferred, required, verify_ca (check the chain \
              against database.ssl.truststore) or verify_identity (and the host name).");
    /// `database.ssl.truststore`.
    SSL_TRUSTSTORE = Key::string("database.ssl.truststore")
        .group(TLS)
        .doc("A PEM file of the CA certificates the server's certificate is checked against \
              (a Java store is refused with the commands that convert it).");
    /// `database.ssl.keystore`.
    SSL_KEYSTORE = Key::string("database.ssl.keystore")
        .group(TLS)
        .doc("A PEM file with the client certificate and its key.");
    /// `database.ssl.truststore.password`.
    SSL_TRUSTSTORE_PASSWORD = Key::password("database.ssl.truststore.password")
        .ignored()
        .group(TLS)
        .doc("Accepted and ignored: a Java store's password; PEM files have none.");
    /// `database.ssl.keystore.password`.
    SSL_KEYSTORE_PASSWORD = Key::password("database.ssl.keystore.password")
        .ignored()
        .group(TLS)
        .doc("Accepted and ignored: a Java store's password; PEM files have none.");
}

/// The schema history classes Tidemark has.
fn history_class(class: &str) -> Result<(), String> {
    if class == FILE_HISTORY || class == KAFKA_HISTORY {
        Ok(())
    } else {
        Err(format!(
            "expected {FILE_HISTORY} (with schema.history.internal.file.filename) or \
             {KAFKA_HISTORY} (with schema.history.internal.kafka.topic and \
             schema.history.internal.kafka.bootstrap.servers)"
        ))
    }
}
