//! The Postgres connector's own keys (the ones both sources read are in
//! [`crate::sources::options`]), under Debezium's names.

use crate::config::{Importance, Key, declare_keys};
use crate::sources::options::filter;

const CONNECTION: &str = "Connection";
const TLS: &str = "TLS";

declare_keys! {
    /// `database.port`.
    PORT = Key::int("database.port")
        .default("5432")
        .range(Some(1), Some(65535))
        .group(CONNECTION)
        .doc("The Postgres server's port.");
    /// `database.user`.
    USER = Key::string("database.user")
        .required("the user to connect as (needs REPLICATION)")
        .group(CONNECTION)
        .doc("The user to connect as: it needs the REPLICATION attribute and SELECT on the \
              captured tables.");
    /// `database.dbname`.
    DBNAME = Key::string("database.dbname")
        .required("the database to capture")
        .group(CONNECTION)
        .doc("The database to capture.");
    /// `schema.include.list`.
    SCHEMA_INCLUDE = filter("schema.include.list", "schema.whitelist",
        "Regular expressions (comma-separated) matching the whole names of the schemas to \
         capture; unset captures every schema.");
    /// `schema.exclude.list`.
    SCHEMA_EXCLUDE = filter("schema.exclude.list", "schema.blacklist",
        "Regular expressions matching the schemas not to capture (not with \
         schema.include.list).");
    /// `plugin.name`.
    PLUGIN_NAME = Key::string("plugin.name")
        .default("pgoutput")
        .choices(&["pgoutput"])
        .group("Replication")
        .doc("The logical decoding plugin: pgoutput, Postgres's own (the only one Tidemark \
              reads).");
    /// `slot.name`.
    SLOT_NAME = Key::string("slot.name")
        .default("debezium")
        .importance(Importance::High)
        .group("Replication")
        .doc("The replication slot the connector streams from (created when missing).");
    /// `slot.max.retries`.
    SLOT_MAX_RETRIES = Key::int("slot.max.retries")
        .default("6")
        .range(Some(0), None)
        .group("Replication")
        .doc("How many more times the connector looks at its replication slot, \
              slot.retry.delay.ms apart, while another process holds it, before it fails \
              (a connector restarting may find its slot still held by its old session).");
    /// `slot.retry.delay.ms`.
    SLOT_RETRY_DELAY = Key::long("slot.retry.delay.ms")
        .default("10000")
        .range(Some(0), None)
        .group("Replication")
        .doc("Milliseconds between two looks at a replication slot another process holds.");
    /// `publication.name`.
    PUBLICATION_NAME = Key::string("publication.name")
        .default("dbz_publication")
        .group("Replication")
        .doc("The publication the connector subscribes to.");
    /// `publication.autocreate.mode`.
    PUBLICATION_MODE = Key::string("publication.autocreate.mode")
        .default("all_tables")
        .choices(&["all_tables", "filtered", "disabled"])
        .group("Replication")
        .doc("Whether the publication is created when missing: all_tables (FOR ALL TABLES), \
              filtered (the captured tables), or disabled (it must exist).");
    /// `snapshot.mode`.
    SNAPSHOT_MODE = Key::string("snapshot.mode")
        .default("initial")
        .choices(&["initial", "no_data", "never", "initial_only", "always", "when_needed"])
        .importance(Importance::High)
        .group("Snapshot")
        .doc("When the captured tables are read in full: initial (once, then stream), \
              no_data (stream only), never, initial_only (snapshot, then stop), always (at \
              every start), when_needed (when no usable offset is stored).");
    /// `snapshot.max.threads`.
    SNAPSHOT_THREADS = Key::int("snapshot.max.threads")
        .default("1")
        .range(Some(1), Some(64))
        .group("Snapshot")
        .doc("Connections reading the initial snapshot side by side: above 1, every table is \
              cut into ctid page ranges read on one exported snapshot and emitted in table \
              and page order, so the events are those of one connection.");
    /// `time.precision.mode`.
    TIME_MODE = Key::string("time.precision.mode")
        .default("adaptive")
        .choices(&["adaptive", "adaptive_time_microseconds", "connect"])
        .group("Events")
        .doc("How temporal values are written: adaptive (Debezium's types at the column's \
              precision), adaptive_time_microseconds, or connect (Connect's logical types).");
    /// `heartbeat.action.query`.
    HEARTBEAT_QUERY = Key::string("heartbeat.action.query")
        .group("Heartbeats")
        .doc("A statement run on each heartbeat (e.g. an insert into a heartbeat table), so \
              that the slot advances when the captured tables are quiet.");
    /// `database.sslmode`.
    SSL_MODE = Key::string("database.sslmode")
        .default("prefer")
        .choices(&["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
        .group(TLS)
        .doc("TLS to Postgres, as libpq's sslmode: disable, allow, prefer, require, verify-ca \
              (check the certificate chain against database.sslrootcert) or verify-full (and \
              the host name).");
    /// `database.sslrootcert`.
    SSL_ROOT_CERT = Key::string("database.sslrootcert")
        .group(TLS)
        .doc("The PEM file of the CA certificates the server's certificate is checked \
              against, or system for the well-known public CAs.");
    /// `database.sslcert`.
    SSL_CERT = Key::string("database.sslcert")
        .group(TLS)
        .doc("The client certificate (PEM), with database.sslkey.");
    /// `database.sslkey`.
    SSL_KEY = Key::string("database.sslkey")
        .group(TLS)
        .doc("The client certificate's private key (PEM), with database.sslcert.");
    /// `slot.drop.on.stop`.
    SLOT_DROP = Key::boolean("slot.drop.on.stop")
        .ignored()
        .group("Replication")
        .doc("Accepted and ignored: the slot is kept when the connector stops (a snapshot \
              that no offset refers to recreates it).");
}
