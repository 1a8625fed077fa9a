//! A sink plugin (world `sink`) instantiated in a store of its own: configured once, then
//! called with each batch the pipeline delivers. What to do with a `retriable` or `fatal`
//! answer is the caller's business (`sinks::wasm`); a trap or a limit is an error here, and
//! the instance is built again before the next call, because a trapped instance cannot be
//! entered again.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Resource;

use super::batch::Batch;
use super::bindings::{Sink, SinkError};
use super::chain::{arm, classify};
use super::limits::{self, Limits};
use super::runtime::{Runtime, World};
use super::state::{PluginContext, StoreState};
use super::stderr::StderrTail;
use super::{Plugin, PluginError};
use crate::event::Record;

/// What a sink plugin answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Every record is acknowledged (or, for `flush`, durable).
    Done,
    /// A passing fault: the same call may succeed later.
    Retriable(String),
    /// A permanent fault: retrying cannot help.
    Fatal(String),
}

/// A sink call's default time limit: a sink waits on its destination, so it gets longer than
/// a transform's `plugin.timeout.ms` default.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

struct Live {
    store: Store<StoreState>,
    instance: Sink,
}

/// A configured sink plugin.
pub struct SinkPlugin {
    runtime: Runtime,
    plugin: Arc<Plugin>,
    limits: Limits,
    config: Vec<(String, String)>,
    live: Option<Live>,
}

impl SinkPlugin {
    /// Instantiates and configures the plugin; `config` holds its settings and the host's
    /// `plugin.*` limits and grants.
    pub fn new(
        runtime: &Runtime,
        plugin: Arc<Plugin>,
        config: &std::collections::BTreeMap<String, String>,
    ) -> Result<SinkPlugin, PluginError> {
        if plugin.world != World::Sink {
            return Err(PluginError::WrongWorld {
                plugin: plugin.name.clone(),
                found: format!("{} plugin", plugin.world.name()),
                expected: "sink",
                wanted: super::bindings::exports::DESTINATION,
            });
        }
        let (mut limits, settings) = Limits::from_config(&plugin.name, config)?;
        super::declared::check_declared(&plugin, &plugin.name, "sink.config.", &settings)?;
        if !config.contains_key(limits::TIMEOUT_KEY) {
            limits.timeout = DEFAULT_TIMEOUT;
        }
        let plugin = match limits.fuel {
            Some(_) => runtime.metered(&plugin)?,
            None => plugin,
        };
        let mut sink = SinkPlugin {
            runtime: runtime.clone(),
            plugin,
            limits,
            config: settings,
            live: None,
        };
        sink.live = Some(sink.instantiate()?);
        Ok(sink)
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.plugin.name
    }

    /// The loaded plugin (its version and code tier).
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    fn instantiate(&self) -> Result<Live, PluginError> {
        let name = &self.plugin.name;
        let engine = self.runtime.engine_for(&self.plugin)?;
        let mut store = Store::new(&engine, StoreState::new());
        store.limiter(|s| s);
        let stderr = StderrTail::new();
        let wasi = self
            .limits
            .wasi(&stderr)
            .map_err(|reason| PluginError::Setting {
                plugin: name.clone(),
                key: limits::DIRS_KEY.into(),
                value: String::new(),
                reason,
            })?;
        store
            .data_mut()
            .plugins
            .push(PluginContext::new(name, wasi, stderr, &self.limits));
        let pre =
            self.plugin.sink.as_ref().ok_or_else(|| {
                PluginError::Runtime(format!("plugin '{name}' has no sink exports"))
            })?;
        arm(&mut store, &self.limits);
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| classify(&mut store, 0, &self.limits, e))?;
        arm(&mut store, &self.limits);
        instance
            .tidemark_plugin_destination()
            .call_configure(&mut store, &self.config)
            .map_err(|e| classify(&mut store, 0, &self.limits, e))?
            .map_err(|message| PluginError::Configure {
                plugin: name.clone(),
                message,
            })?;
        Ok(Live { store, instance })
    }

    /// Hands a batch to the plugin's `write`.
    pub fn write(&mut self, records: &[Record]) -> Result<Delivery, PluginError> {
        let records = records.to_vec();
        self.call(move |live| {
            let handle = live
                .store
                .data_mut()
                .table
                .push(Batch { records })
                .map_err(|e| wasmtime::Error::msg(e.to_string()))?;
            let result = live
                .instance
                .tidemark_plugin_destination()
                .call_write(&mut live.store, Resource::new_borrow(handle.rep()));
            live.store
                .data_mut()
                .table
                .delete(handle)
                .map_err(|e| wasmtime::Error::msg(e.to_string()))?;
            result
        })
    }

    /// Calls the plugin's `flush`.
    pub fn flush(&mut self) -> Result<Delivery, PluginError> {
        self.call(|live| {
            live.instance
                .tidemark_plugin_destination()
                .call_flush(&mut live.store)
        })
    }

    fn call(
        &mut self,
        f: impl FnOnce(&mut Live) -> wasmtime::Result<Result<(), SinkError>>,
    ) -> Result<Delivery, PluginError> {
        let mut live = match self.live.take() {
            Some(live) => live,
            None => self.instantiate()?,
        };
        arm(&mut live.store, &self.limits);
        match f(&mut live) {
            Ok(answer) => {
                self.live = Some(live);
                Ok(match answer {
                    Ok(()) => Delivery::Done,
                    Err(SinkError::Retriable(m)) => Delivery::Retriable(m),
                    Err(SinkError::Fatal(m)) => Delivery::Fatal(m),
                })
            }
            Err(e) => Err(classify(&mut live.store, 0, &self.limits, e)),
        }
    }
}
