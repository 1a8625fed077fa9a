//! What a pipeline's wasmtime `Store` holds: the resource table shared by its plugins, and
//! per plugin its WASI context (its grants), its captured stderr and its memory cap.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::host::{self, Level};
use super::http::HttpHooks;
use super::limits::Limits;
use super::schemas::SchemaTable;
use super::stderr::StderrTail;

/// Per-plugin context inside a store.
pub struct PluginContext {
    /// The plugin's name, for logs and errors.
    pub name: String,
    pub wasi: WasiCtx,
    pub stderr: StderrTail,
    /// The most linear memory one of the plugin's memories may grow to, in bytes.
    pub memory_limit: usize,
    pub http: WasiHttpCtx,
    /// Sends the plugin's wasi:http requests to the authorities it was granted, only.
    pub http_hooks: HttpHooks,
    /// The schemas the plugin defined with `define-schema`.
    pub schemas: SchemaTable,
}

impl PluginContext {
    /// The context of a plugin with these limits and grants.
    pub fn new(name: &str, wasi: WasiCtx, stderr: StderrTail, limits: &Limits) -> PluginContext {
        PluginContext {
            name: name.to_owned(),
            wasi,
            stderr,
            memory_limit: limits.memory_limit,
            http: WasiHttpCtx::new(),
            http_hooks: HttpHooks::new(name, limits.http.clone()),
            schemas: SchemaTable::default(),
        }
    }
}

/// The data of one pipeline's store. Calls into a plugin first set `current` to it, so WASI
/// calls see that plugin's grants and memory growth is checked against its cap.
pub struct StoreState {
    pub table: ResourceTable,
    pub plugins: Vec<PluginContext>,
    pub current: usize,
    /// Set when a plugin's memory growth was refused: (plugin index, limit).
    pub memory_refused: Option<(usize, usize)>,
}

impl StoreState {
    /// An empty store state; plugins are added as they are instantiated.
    pub fn new() -> StoreState {
        StoreState {
            table: ResourceTable::new(),
            plugins: Vec::new(),
            current: 0,
            memory_refused: None,
        }
    }

    fn current_name(&self) -> &str {
        self.plugins
            .get(self.current)
            .map(|p| p.name.as_str())
            .unwrap_or("?")
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let plugin = &mut self.plugins[self.current];
        WasiCtxView {
            ctx: &mut plugin.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let plugin = &mut self.plugins[self.current];
        WasiHttpCtxView {
            ctx: &mut plugin.http,
            table: &mut self.table,
            hooks: &mut plugin.http_hooks,
        }
    }
}

/// Tables may hold this many elements; far more than any plugin needs.
const TABLE_ELEMENTS_LIMIT: usize = 100_000;

impl ResourceLimiter for StoreState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = self
            .plugins
            .get(self.current)
            .map_or(usize::MAX, |p| p.memory_limit);
        if desired > limit {
            self.memory_refused = Some((self.current, limit));
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_LIMIT)
    }
}

impl host::Host for StoreState {
    fn log(&mut self, level: Level, message: String) {
        let plugin = self.current_name();
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}
