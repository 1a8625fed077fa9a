//! The process-wide plugin runtime: one wasmtime [`Engine`] (pooling allocator, epoch
//! interruption), one linker with exactly the host interfaces plugins may import, and the
//! compiled-component caches (in memory by content hash, and on disk).
//!
//! Chains with a fuel budget (`plugin.fuel`) run on a second, *metered* engine, created the
//! first time one is needed: fuel accounting costs every instruction, so plugins without a
//! budget never pay for it. A plugin is compiled for the metered engine only when a metered
//! chain uses it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::PluginError;
use super::bindings::{self, SinkPre, TransformPre, exports};
use super::cache::DiskCache;
use super::priority;
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
    /// Whether this is the plugin compiled for the metered (fuel-counting) engine.
    pub metered: bool,
    pub(super) transform: Option<TransformPre<StoreState>>,
    pub(super) sink: Option<SinkPre<StoreState>>,
    /// The component bytes, to compile the plugin again for the metered engine.
    bytes: Arc<[u8]>,
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
    bytes: Arc<[u8]>,
    transform: Option<TransformPre<StoreState>>,
    sink: Option<SinkPre<StoreState>>,
    world: World,
    exports: Vec<String>,
    imports: Vec<String>,
}

/// One engine configuration: the engine, its linker and its compiled-component caches.
struct Flavor {
    engine: Engine,
    linker: Linker<StoreState>,
    disk: Option<DiskCache>,
    loaded: Mutex<HashMap<String, Arc<Loaded>>>,
    metered: bool,
}

struct Inner {
    options: RuntimeOptions,
    plain: Flavor,
    /// The fuel-counting engine, once a chain with `plugin.fuel` needed it.
    metered: Mutex<Option<Arc<Flavor>>>,
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
        priority::init_compile_threads();
        let plain = Flavor::new(&options, false)?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                options,
                plain,
                metered: Mutex::new(None),
                compiled: AtomicU64::new(0),
            }),
        })
    }

    /// The engine that runs plugins without a fuel budget, for stores.
    pub(super) fn engine(&self) -> &Engine {
        &self.inner.plain.engine
    }

    /// The engine a store for this plugin must use.
    pub(super) fn engine_for(&self, plugin: &Plugin) -> Result<Engine, PluginError> {
        Ok(if plugin.metered {
            self.metered_flavor()?.engine.clone()
        } else {
            self.inner.plain.engine.clone()
        })
    }

    /// The plugin compiled for the metered engine (itself if it already is).
    pub(super) fn metered(&self, plugin: &Arc<Plugin>) -> Result<Arc<Plugin>, PluginError> {
        if plugin.metered {
            return Ok(plugin.clone());
        }
        let flavor = self.metered_flavor()?;
        self.load_in(&flavor, &plugin.name, plugin.bytes.clone())
    }

    fn metered_flavor(&self) -> Result<Arc<Flavor>, PluginError> {
        let mut metered = self.inner.metered.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(flavor) = metered.as_ref() {
            return Ok(flavor.clone());
        }
        let flavor = Arc::new(Flavor::new(&self.inner.options, true)?);
        *metered = Some(flavor.clone());
        Ok(flavor)
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
        self.load_in(&self.inner.plain, name, Arc::from(bytes))
    }

    fn load_in(
        &self,
        flavor: &Flavor,
        name: &str,
        bytes: Arc<[u8]>,
    ) -> Result<Arc<Plugin>, PluginError> {
        let started = Instant::now();
        let hash = hex(&Sha256::digest(&bytes));
        let cached = flavor.lock_loaded().get(&hash).cloned();
        let (loaded, origin) = match cached {
            Some(loaded) => (loaded, Origin::Memory),
            None => {
                let from_disk = flavor
                    .disk
                    .as_ref()
                    .and_then(|d| d.get(&flavor.engine, &hash));
                let (component, origin) = match from_disk {
                    Some(c) => (c, Origin::DiskCache),
                    None => {
                        let component = flavor.compile(name, &hash, &bytes)?;
                        self.inner.compiled.fetch_add(1, Ordering::Relaxed);
                        (component, Origin::Compiled)
                    }
                };
                let loaded = Arc::new(flavor.prepare(name, component, bytes)?);
                flavor.lock_loaded().insert(hash.clone(), loaded.clone());
                (loaded, origin)
            }
        };
        Ok(Arc::new(Plugin {
            name: name.to_owned(),
            hash,
            size: loaded.bytes.len(),
            world: loaded.world,
            exports: loaded.exports.clone(),
            imports: loaded.imports.clone(),
            origin,
            load_time: started.elapsed(),
            metered: flavor.metered,
            transform: loaded.transform.clone(),
            sink: loaded.sink.clone(),
            bytes: loaded.bytes.clone(),
        }))
    }
}

impl Flavor {
    /// Creates an engine (fuel-counting when `metered`), its linker and its caches, and starts
    /// the engine's epoch ticker.
    fn new(options: &RuntimeOptions, metered: bool) -> Result<Flavor, PluginError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(metered);
        if metered {
            // Metered chains are few; instances of them are allocated on demand rather than
            // reserving a second pool. Memory caps still apply through the store's limiter.
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
        } else {
            let mut pool = PoolingAllocationConfig::new();
            pool.total_component_instances(options.max_instances)
                .total_core_instances(options.max_instances * 4)
                .total_memories(options.max_instances)
                .total_tables(options.max_instances * 2)
                .max_memory_size(options.max_memory_bytes);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(|e| PluginError::Runtime(e.to_string()))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Runtime(e.to_string()))?;
        // Requests go only to the authorities a plugin was granted (plugin.allow.http).
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Runtime(e.to_string()))?;
        bindings::Transform::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Runtime(e.to_string()))?;

        // The cache file names carry the engine's compatibility hash, which differs between
        // the plain and the metered engine, so both share one directory.
        let disk = match &options.cache_dir {
            Some(dir) => Some(DiskCache::open(dir, &engine)?),
            None => None,
        };
        start_epoch_ticker(&engine);
        Ok(Flavor {
            engine,
            linker,
            disk,
            loaded: Mutex::new(HashMap::new()),
            metered,
        })
    }

    fn lock_loaded(&self) -> MutexGuard<'_, HashMap<String, Arc<Loaded>>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn compile(&self, name: &str, hash: &str, bytes: &[u8]) -> Result<Component, PluginError> {
        if !bytes.starts_with(b"\0asm") {
            return Err(PluginError::Invalid {
                plugin: name.to_owned(),
                reason: "the file does not start with the WebAssembly magic bytes; build it with `cargo build --target wasm32-wasip2`".into(),
            });
        }
        let component =
            Component::from_binary(&self.engine, bytes).map_err(|e| PluginError::Invalid {
                plugin: name.to_owned(),
                reason: format!(
                    "{e:#} (a core module must be turned into a component, e.g. with wasm-tools component new)"
                ),
            })?;
        if let Some(disk) = &self.disk {
            disk.put(hash, &component);
        }
        Ok(component)
    }

    /// Finds the plugin's world from its exports and links it.
    fn prepare(
        &self,
        name: &str,
        component: Component,
        bytes: Arc<[u8]>,
    ) -> Result<Loaded, PluginError> {
        let engine = &self.engine;
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
        let pre = self.linker.instantiate_pre(&component).map_err(link)?;
        let (transform, sink) = match world {
            World::Transform => (Some(TransformPre::new(pre).map_err(link)?), None),
            World::Sink => (None, Some(SinkPre::new(pre).map_err(link)?)),
        };
        Ok(Loaded {
            bytes,
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
