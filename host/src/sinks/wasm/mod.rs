//! A custom sink written as a WebAssembly component (world `sink`), selected with
//! `sink.type=wasm`:
//!
//! | key | meaning |
//! |---|---|
//! | `sink.plugin` | the plugin: a name in the plugin directory (`plugin.path`), or a path to a `.wasm` file |
//! | `sink.config.<key>` | the plugin's own settings (`<key>` without the prefix), and the host's `plugin.*` limits and grants, e.g. `sink.config.plugin.allow.http=host:port` |
//! | `sink.retry.backoff.ms` | first wait before retrying a `retriable` failure (default 100); it doubles, with jitter, up to… |
//! | `errors.retry.delay.max.ms` | …this longest wait between retries (Kafka Connect's key; default 60000) |
//! | `errors.retry.timeout` | give up retrying after this many ms and stop the connector (Kafka Connect's key; default -1: retry until it works, as Connect does for a sink's `RetriableException`) |
//!
//! The plugin is called on the pipeline thread: `write` for every batch, `flush` before each
//! offset commit. A `retriable` answer is retried with the same records after a backoff (so a
//! batch may reach the destination more than once: at-least-once); a `fatal` answer, a trap
//! or a limit stops the connector with the plugin's message, before any offset past the
//! last flush is committed.
//!
//! A plugin from the plugin directory is hot-reloaded: a new version of its file is configured
//! off the pipeline's thread (see [`crate::plugin::sink_reload`]) and replaces the running
//! instance right after a successful flush, or before a write when nothing was written since
//! the last flush, so no record is held by a version that is dropped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::keys::{SINK_PLUGIN, SINK_RETRY_BACKOFF};
use super::{Sink, SinkError};
use crate::config::{ConfigError, Properties, worker};
use crate::event::Record;
use crate::plugin::sink::{Delivery, SinkPlugin};
use crate::plugin::sink_reload::{self, SinkReloading};
use crate::plugin::{Runtime, SharedPlugins, resolve};

/// How `retriable` failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Give up after this long; `None` retries until it works.
    pub timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_millis(100),
            max_delay: Duration::from_secs(60),
            timeout: None,
        }
    }
}

impl RetryPolicy {
    /// Reads `sink.retry.backoff.ms`, `errors.retry.delay.max.ms` and `errors.retry.timeout`.
    pub fn from_properties(props: &Properties) -> Result<RetryPolicy, ConfigError> {
        let initial: u64 = props.number(&SINK_RETRY_BACKOFF)?;
        let max: u64 = props.number(&worker::RETRY_DELAY_MAX)?;
        let timeout: i64 = props.number(&worker::RETRY_TIMEOUT)?;
        Ok(RetryPolicy {
            initial: Duration::from_millis(initial.max(1)),
            max_delay: Duration::from_millis(max.max(initial.max(1))),
            timeout: u64::try_from(timeout).ok().map(Duration::from_millis),
        })
    }
}

/// A sink plugin behind the [`Sink`] trait, with retries and, for a plugin of the plugin
/// directory, hot reload.
pub struct WasmSink {
    plugin: SinkPlugin,
    retry: RetryPolicy,
    reloading: Option<SinkReloading>,
    /// Whether records were written since the last successful flush.
    unflushed: bool,
    /// Calls retried after a retriable answer.
    retries: Arc<AtomicU64>,
}

impl WasmSink {
    /// Loads and configures the plugin that `sink.plugin` names, with the `sink.config.*`
    /// settings, in the shared runtime of `plugins`; `plugin_path` is the plugin directory.
    /// A plugin found there is used by `connector` under a lease on the directory, and
    /// hot-reloaded.
    pub fn from_properties(
        props: &Properties,
        plugin_path: Option<&Path>,
        connector: &str,
        plugins: &SharedPlugins,
    ) -> Result<WasmSink, SinkError> {
        let bad = |reason: String| SinkError::Open {
            target: "sink.plugin".into(),
            reason,
        };
        let name = props
            .value(&SINK_PLUGIN)
            .map_err(|e| bad(e.to_string()))?
            .ok_or_else(|| {
                bad(
                "sink.type=wasm needs sink.plugin: a plugin name in plugin.path, or a .wasm file"
                    .into(),
            )
            })?;
        let dirs = resolve::search_dirs(plugin_path);
        let found = resolve::find_plugin(name, &dirs).map_err(|e| bad(e.to_string()))?;
        let config = props.with_prefix("sink.config.");
        let retry = RetryPolicy::from_properties(props).map_err(|e| bad(e.to_string()))?;
        let runtime = plugins.runtime().map_err(|e| bad(e.to_string()))?;
        let plugin_error = |e| SinkError::Plugin(Box::new(e));
        let directory = match plugin_path {
            Some(dir) => Some(plugins.directory(dir).map_err(plugin_error)?),
            None => None,
        };
        let Some(directory) = directory.filter(|d| d.contains(&found.path)) else {
            return WasmSink::open(&runtime, &found.path, &config, retry);
        };
        // Held from the load: a plugin that fails to configure releases the connector's use.
        let lease = directory.lease(connector);
        let plugin = directory.load(&found.path, &lease).map_err(plugin_error)?;
        let plugin = SinkPlugin::new(&runtime, plugin, &config).map_err(plugin_error)?;
        let reloading = sink_reload::start(lease, &plugin, config).map_err(plugin_error)?;
        Ok(WasmSink {
            plugin,
            retry,
            reloading: Some(reloading),
            unflushed: false,
            retries: Arc::default(),
        })
    }

    /// Loads and configures a sink plugin file (not hot-reloaded).
    pub fn open(
        runtime: &Runtime,
        path: &Path,
        config: &BTreeMap<String, String>,
        retry: RetryPolicy,
    ) -> Result<WasmSink, SinkError> {
        let plugin = runtime
            .load_file(path)
            .map_err(|e| SinkError::Plugin(Box::new(e)))?;
        let plugin =
            SinkPlugin::new(runtime, plugin, config).map_err(|e| SinkError::Plugin(Box::new(e)))?;
        Ok(WasmSink {
            plugin,
            retry,
            reloading: None,
            unflushed: false,
            retries: Arc::default(),
        })
    }

    /// Replaces the running instance by a configured new version, if one is waiting. Only
    /// where nothing is unflushed: the running instance is dropped.
    fn take_new_version(&mut self) {
        if let Some(newer) = self.reloading.as_ref().and_then(SinkReloading::take) {
            self.plugin = newer;
        }
    }

    /// Calls the plugin until it answers done, a fatal failure, or the retry timeout passes.
    fn deliver(
        &mut self,
        what: &str,
        mut call: impl FnMut(&mut SinkPlugin) -> Result<Delivery, crate::plugin::PluginError>,
    ) -> Result<(), SinkError> {
        let started = Instant::now();
        let mut delays = backon::BackoffBuilder::build(
            backon::ExponentialBuilder::new()
                .with_min_delay(self.retry.initial)
                .with_max_delay(self.retry.max_delay)
                .with_factor(2.0)
                .with_jitter()
                .without_max_times(),
        );
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let answer = call(&mut self.plugin).map_err(|e| SinkError::Plugin(Box::new(e)))?;
            let message = match answer {
                Delivery::Done => return Ok(()),
                Delivery::Fatal(message) => {
                    return Err(SinkError::Rejected {
                        plugin: self.plugin.name().to_owned(),
                        call: what.to_owned(),
                        message,
                    });
                }
                Delivery::Retriable(message) => message,
            };
            let delay = delays.next().unwrap_or(self.retry.max_delay);
            if let Some(timeout) = self.retry.timeout
                && started.elapsed() + delay > timeout
            {
                return Err(SinkError::RetriesExhausted {
                    plugin: self.plugin.name().to_owned(),
                    call: what.to_owned(),
                    attempts,
                    timeout_ms: timeout.as_millis() as u64,
                    message,
                });
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                plugin = self.plugin.name(),
                attempt = attempts,
                retry_in_ms = delay.as_millis() as u64,
                "sink {what} failed, will retry: {message}"
            );
            std::thread::sleep(delay);
        }
    }
}

impl Sink for WasmSink {
    fn write(&mut self, records: &[Record]) -> Result<(), SinkError> {
        if !self.unflushed {
            self.take_new_version();
        }
        self.unflushed = true;
        self.deliver("write", |plugin| plugin.write(records))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.deliver("flush", SinkPlugin::flush)?;
        self.unflushed = false;
        self.take_new_version();
        Ok(())
    }

    fn retries(&self) -> Option<Arc<AtomicU64>> {
        Some(self.retries.clone())
    }
}
