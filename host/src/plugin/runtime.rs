//! The process-wide plugin runtime: one wasmtime [`Engine`] (pooling allocator, epoch
//! interruption), one linker with exactly the host interfaces plugins may import, and the
//! compiled-component caches (in memory by content hash, and on disk).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::PluginError;
use super::bindings::{self, SinkPre, TransformPre, exports};
use super::cache::DiskCache;
use super::state::StoreState;

/// How often the epoch advances; per-batch time limits are measured in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where compiled components are cached; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// Upper bound of any plugin's linear memory (per-plugin caps are lower).
    pub max_memory_bytes: usize,
    /// How many plugin instances may be alive at once in this process.
    pub max_instances: u32,
}

impl Default for RuntimeOptions {
    fn default() -> RuntimeOptions {
        RuntimeOptions {
            cache_dir: Some(super::cache::default_dir()),
            max_memory_bytes: 4 << 30,
            max_instances: 1000,
        }
    }
}

/// Which world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Transform,
    Sink,
}

impl World {
    /// The world's name in `wit/`.
    pub fn name(self) -> &'static str {
        match self {
            World::Transform => "transform",
            World::Sink => "sink",
        }
    }
}

/// Where a loaded plugin's machine code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now.
    Compiled,
    /// Read from the disk cache.
    DiskCache,
    /// Already loaded in this process.
    Memory,
}

/// A loaded plugin: compiled, checked against its world and ready to instantiate.
pub struct Plugin {
    pub name: String,
    /// Lower-case hex SHA-256 of the component bytes.
    pub hash: String,
    pub size: usize,
    pub world: World,
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    pub origin: Origin,
    pub load_time: Duration,
    pub(super) transform: Option<TransformPre<StoreState>>,
    pub(super) sink: Option<SinkPre<StoreState>>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .field("world", &self.world)
            .field("origin", &self.origin)
            .finish()
    }
}

struct Loaded {
    transform: Option<TransformPre<StoreState>>,
    sink: Option<SinkPre<StoreState>>,
    world: World,
    exports: Vec<String>,
    imports: Vec<String>,
}

struct Inner {
    engine: Engine,
    linker: Linker<StoreState>,
    disk: Option<DiskCache>,
    loaded: Mutex<HashMap<String, Arc<Loaded>>>,
    compiled: AtomicU64,
}

/// The plugin runtime. Cheap to clone; create one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    /// Creates the engine and linker and starts the epoch ticker.
    pub fn new(options: RuntimeOptions) -> Result<Runtime, PluginError> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(options.max_instances)
            .total_core_instances(options.max_instances * 4)
            .total_memories(options.max_instances)
            .total_tables(options.max_instances * 2)
            .max_memory_size(options.max_memory_bytes);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| PluginError::Runtime(e.to_string()))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Runtime(e.to_string()))?;
        // Requests go only to the authorities a plugin was granted (plugin.allow.http).
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Runtime(e.to_string()))?;
        bindings::Transform::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Runtime(e.to_string()))?;

        let disk = match &options.cache_dir {
            Some(dir) => Some(DiskCache::open(dir, &engine)?),
            None => None,
        };
        start_epoch_ticker(&engine);
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                disk,
                loaded: Mutex::new(HashMap::new()),
                compiled: AtomicU64::new(0),
            }),
        })
    }

    /// The engine, for stores.
    pub(super) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// How many components this runtime has compiled (rather than found in a cache).
    pub fn compiled_count(&self) -> u64 {
        self.inner.compiled.load(Ordering::Relaxed)
    }

    /// Loads a plugin file; the plugin is named after the file (without `.wasm`).
    pub fn load_file(&self, path: &Path) -> Result<Arc<Plugin>, PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        self.load(&name, &bytes)
    }

    /// Loads a plugin from its component bytes: from memory if the same bytes were loaded
    /// before, else from the disk cache, else by compiling them.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, PluginError> {
        let started = Instant::now();
        let hash = hex(&Sha256::digest(bytes));
        let cached = self.lock_loaded().get(&hash).cloned();
        let (loaded, origin) = match cached {
            Some(loaded) => (loaded, Origin::Memory),
            None => {
                let from_disk = self
                    .inner
                    .disk
                    .as_ref()
                    .and_then(|d| d.get(&self.inner.engine, &hash));
                let (component, origin) = match from_disk {
                    Some(c) => (c, Origin::DiskCache),
                    None => (self.compile(name, &hash, bytes)?, Origin::Compiled),
                };
                let loaded = Arc::new(self.prepare(name, component)?);
                self.lock_loaded().insert(hash.clone(), loaded.clone());
                (loaded, origin)
            }
        };
        Ok(Arc::new(Plugin {
            name: name.to_owned(),
            hash,
            size: bytes.len(),
            world: loaded.world,
            exports: loaded.exports.clone(),
            imports: loaded.imports.clone(),
            origin,
            load_time: started.elapsed(),
            transform: loaded.transform.clone(),
            sink: loaded.sink.clone(),
        }))
    }

    fn lock_loaded(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Loaded>>> {
        self.inner.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn compile(&self, name: &str, hash: &str, bytes: &[u8]) -> Result<Component, PluginError> {
        if !bytes.starts_with(b"\0asm") {
            return Err(PluginError::Invalid {
                plugin: name.to_owned(),
                reason: "the file does not start with the WebAssembly magic bytes; build it with `cargo build --target wasm32-wasip2`".into(),
            });
        }
        let component =
            Component::from_binary(&self.inner.engine, bytes).map_err(|e| PluginError::Invalid {
                plugin: name.to_owned(),
                reason: format!(
                    "{e:#} (a core module must be turned into a component, e.g. with wasm-tools component new)"
                ),
            })?;
        self.inner.compiled.fetch_add(1, Ordering::Relaxed);
        if let Some(disk) = &self.inner.disk {
            disk.put(hash, &component);
        }
        Ok(component)
    }

    /// Finds the plugin's world from its exports and links it.
    fn prepare(&self, name: &str, component: Component) -> Result<Loaded, PluginError> {
        let engine = &self.inner.engine;
        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
        let imports: Vec<String> = ty
            .imports(engine)
            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
            .map(|(n, _)| n.to_owned())
            .collect();
        let world = if exports.iter().any(|e| e == exports::TRANSFORMER) {
            World::Transform
        } else if exports.iter().any(|e| e == exports::DESTINATION) {
            World::Sink
        } else {
            return Err(PluginError::Invalid {
                plugin: name.to_owned(),
                reason: format!(
                    "it exports neither {} nor {}; it exports: {}",
                    exports::TRANSFORMER,
                    exports::DESTINATION,
                    if exports.is_empty() {
                        "nothing".to_owned()
                    } else {
                        exports.join(", ")
                    }
                ),
            });
        };
        let link = |e: wasmtime::Error| PluginError::Link {
            plugin: name.to_owned(),
            reason: format!(
                "{e:#} (plugins may import only tidemark:plugin and wasi:cli/clocks/filesystem/http/io/random/sockets 0.2)"
            ),
        };
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(link)?;
        let (transform, sink) = match world {
            World::Transform => (Some(TransformPre::new(pre).map_err(link)?), None),
            World::Sink => (None, Some(SinkPre::new(pre).map_err(link)?)),
        };
        Ok(Loaded {
            transform,
            sink,
            world,
            exports,
            imports,
        })
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("tidemark-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
        .unwrap_or_else(|e| tracing::error!(error = %e, "Could not start the epoch ticker; plugin time limits will not fire."));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
