//! The sinks' keys: which sink (`sink.type`), and a sink plugin's (`sink.plugin`,
//! `sink.config.*`, `sink.retry.backoff.ms`). The file sink's `sink.file` is a worker key
//! ([`crate::config::worker`]); the Kafka sink's are in [`crate::sinks::kafka::config`] and
//! [`crate::kafka::keys`].

use crate::config::{Key, declare_keys};

const SINK: &str = "Sink";

declare_keys! {
    /// `sink.type`.
    SINK_TYPE = Key::string("sink.type")
        .default("file")
        .choices(&["file", "wasm", "kafka"])
        .group(SINK)
        .doc("Where events go: file (sink.file, JSON lines), wasm (the sink plugin \
              sink.plugin), or kafka (also chosen by setting bootstrap.servers).");
    /// `sink.plugin`.
    SINK_PLUGIN = Key::string("sink.plugin")
        .group(SINK)
        .doc("With sink.type=wasm: the sink plugin, a name in the plugin directory \
              (plugin.path) or a path to a .wasm file.");
    /// `sink.config.*`.
    SINK_CONFIG = Key::string("sink.config.*")
        .group(SINK)
        .doc("The sink plugin's own settings (without the prefix), and the host's plugin.* \
              limits and grants, e.g. sink.config.plugin.allow.http=host:port.");
    /// `sink.retry.backoff.ms`.
    SINK_RETRY_BACKOFF = Key::long("sink.retry.backoff.ms")
        .default("100")
        .range(Some(0), None)
        .group(SINK)
        .doc("The first wait, in milliseconds, before a sink plugin's retriable failure is \
              retried; it doubles, with jitter, up to errors.retry.delay.max.ms.");
}
