//! The process-wide plugin runtime: one wasmtime [`Engine`] (epoch interruption), one linker
//! with exactly the host interfaces plugins may import, and the compiled-component caches (in
//! memory by content hash, and on disk). A worker's connectors share one runtime (see
//! [`super::SharedPlugins`]): a plugin is compiled once however many connectors use it, and
//! connectors loading the same bytes at the same time wait for one compile.
//!
//! Instances are allocated on demand, not from a pool: a pool is sized at start for a number
//! of instances, which a worker cannot know (connectors are created over REST, each chain has
//! its own instances, and a hot reload instantiates two more chains per connector while it
//! validates), and running out of it would fail connectors. Allocating on demand costs a few
//! `mmap` calls per instantiation (at start, on a reload, after a trap), never per batch, and
//! memory is used only by live instances.
//!
//! Other engines are created the first time one is needed, each with its own caches:
//! - Chains with a fuel budget (`plugin.fuel`) run on a *metered* engine: fuel accounting
//!   costs every instruction, so plugins without a budget never pay for it.
//! - A new version of a plugin arriving by hot reload is first compiled by Winch, wasmtime's
//!   single-pass *baseline* compiler, which compiles several times faster than Cranelift but
//!   produces slower code; it goes live at once while Cranelift compiles it in the background,
//!   and the optimized code replaces it between two batches (see [`Tier`]).
//!
//! A plugin is compiled for another engine only when a chain on that engine uses it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, OptLevel, Strategy};

use super::PluginError;
use super::bindings::{self, SinkPre, TransformPre, exports};
use super::cache::DiskCache;
use super::declared::{self, Declaration};
use super::priority;
use super::state::StoreState;

/// How often the epoch advances; per-batch time limits are measured in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where compiled components are cached; `None` disables the disk cache. A directory
    /// another user could write to is refused (see [`Runtime::disk_cache_refused`]).
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeOptions {
    fn default() -> RuntimeOptions {
        RuntimeOptions {
            cache_dir: super::cache::default_dir(),
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

/// Which compiler made a plugin's machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Cranelift's optimized code: what plugins normally run.
    #[default]
    Optimized,
    /// Winch's single-pass code: compiled several times faster, runs slower. A never-seen
    /// version of a plugin runs at this tier from a hot reload until its optimized code is
    /// ready.
    Baseline,
}

impl Tier {
    /// The tier's name, for logs and `tidemark plugin list`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Optimized => "optimized",
            Tier::Baseline => "baseline",
        }
    }
}

/// An engine configuration: the compiler tier, and whether it counts fuel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Kind {
    pub tier: Tier,
    pub metered: bool,
}

impl Kind {
    const PLAIN: Kind = Kind {
        tier: Tier::Optimized,
        metered: false,
    };
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
    /// Which compiler made its code.
    pub tier: Tier,
    pub(super) transform: Option<TransformPre<StoreState>>,
    pub(super) sink: Option<SinkPre<StoreState>>,
    /// The component bytes, to compile the plugin again for the metered engine.
    bytes: Arc<[u8]>,
    /// Its declared configuration keys, read on first use and kept with the compiled code.
    declared: Arc<OnceLock<Option<Arc<Declaration>>>>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .field("world", &self.world)
            .field("origin", &self.origin)
            .field("tier", &self.tier)
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
    declared: Arc<OnceLock<Option<Arc<Declaration>>>>,
}

/// The compiled code of one component for one engine, filled by the first load; later and
/// concurrent loads of the same bytes wait for it instead of compiling again.
type Slot = Arc<Mutex<Option<Arc<Loaded>>>>;

/// One engine configuration: the engine, its linker and its compiled-component caches.
struct Flavor {
    engine: Engine,
    linker: Linker<StoreState>,
    disk: Option<DiskCache>,
    /// Why the configured cache directory is not used.
    disk_refused: Option<PluginError>,
    /// Compiled components by content hash.
    loaded: Mutex<HashMap<String, Slot>>,
    kind: Kind,
    /// Components this engine compiled (rather than found in a cache).
    compiled: AtomicU64,
}

struct Inner {
    /// Optimized code without fuel: the engine most plugins run on.
    plain: Arc<Flavor>,
    /// The other engines, created when first needed.
    others: Mutex<HashMap<Kind, Arc<Flavor>>>,
}

/// How many components one of a runtime's engines compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compilations {
    /// The compiler of the engine.
    pub tier: Tier,
    /// Whether the engine counts fuel.
    pub metered: bool,
    pub count: u64,
}

/// The plugin runtime. Cheap to clone; create one per process and share it.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    /// Creates the engine and linker and starts the epoch ticker.
    pub fn new(options: RuntimeOptions) -> Result<Runtime, PluginError> {
        priority::init_compile_threads();
        let plain = Arc::new(Flavor::new(Kind::PLAIN, options.cache_dir.as_deref())?);
        Ok(Runtime {
            inner: Arc::new(Inner {
                plain,
                others: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Whether both are the same runtime (not merely alike).
    #[cfg(test)]
    pub(crate) fn same_as(&self, other: &Runtime) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The engine that runs plugins without a fuel budget, for stores.
    pub(super) fn engine(&self) -> &Engine {
        &self.inner.plain.engine
    }

    /// The engine a store for this plugin must use.
    pub(super) fn engine_for(&self, plugin: &Plugin) -> Result<Engine, PluginError> {
        Ok(self.flavor(plugin.kind())?.engine.clone())
    }

    /// The plugin compiled for the metered engine of its tier (itself if it already is).
    pub(super) fn metered(&self, plugin: &Arc<Plugin>) -> Result<Arc<Plugin>, PluginError> {
        self.compiled_for(
            plugin,
            Kind {
                metered: true,
                ..plugin.kind()
            },
        )
    }

    /// The plugin compiled for an engine of this kind (itself if it already is).
    pub(super) fn compiled_for(
        &self,
        plugin: &Arc<Plugin>,
        kind: Kind,
    ) -> Result<Arc<Plugin>, PluginError> {
        if plugin.kind() == kind {
            return Ok(plugin.clone());
        }
        let flavor = self.flavor(kind)?;
        self.load_in(&flavor, &plugin.name, plugin.bytes.clone(), &plugin.hash)
    }

    fn flavor(&self, kind: Kind) -> Result<Arc<Flavor>, PluginError> {
        if kind == Kind::PLAIN {
            return Ok(self.inner.plain.clone());
        }
        let mut others = self.inner.others.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(flavor) = others.get(&kind) {
            return Ok(flavor.clone());
        }
        // The other engines use the directory only if the plain engine accepted it.
        let dir = self.inner.plain.disk.as_ref().map(DiskCache::dir);
        let flavor = Arc::new(Flavor::new(kind, dir)?);
        others.insert(kind, flavor.clone());
        Ok(flavor)
    }

    /// Why the configured disk cache is not used (another user could write to it, say):
    /// plugins are then compiled on every start. Also logged as a warning.
    pub fn disk_cache_refused(&self) -> Option<&PluginError> {
        self.inner.plain.disk_refused.as_ref()
    }

    /// How many components this runtime has compiled (rather than found in a cache).
    pub fn compiled_count(&self) -> u64 {
        self.compilations().iter().map(|c| c.count).sum()
    }

    /// How many components each engine created so far compiled, the plain engine first.
    pub fn compilations(&self) -> Vec<Compilations> {
        let others = self.inner.others.lock().unwrap_or_else(|p| p.into_inner());
        let mut others: Vec<&Arc<Flavor>> = others.values().collect();
        others.sort_by_key(|f| (f.kind.tier == Tier::Baseline, f.kind.metered));
        std::iter::once(&self.inner.plain)
            .chain(others)
            .map(|f| Compilations {
                tier: f.kind.tier,
                metered: f.kind.metered,
                count: f.compiled.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Loads a plugin file; the plugin is named after the file (without `.wasm`).
    pub fn load_file(&self, path: &Path) -> Result<Arc<Plugin>, PluginError> {
        let (name, bytes) = read_plugin(path)?;
        self.load(&name, &bytes)
    }

    /// Loads a plugin from its component bytes: from memory if the same bytes were loaded
    /// before, else from the disk cache, else by compiling them.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, PluginError> {
        let hash = hex(&Sha256::digest(bytes));
        self.load_in(&self.inner.plain, name, Arc::from(bytes), &hash)
    }

    /// Loads a new version of a plugin for a hot reload, as fast as it can: its optimized
    /// code when a cache has it, else baseline code compiled by Winch (a component Winch
    /// cannot compile, which uses a Wasm feature it lacks, is compiled by Cranelift instead).
    /// A baseline plugin should then be [`optimized`](Runtime::optimized) in the background.
    pub fn load_new_version(&self, path: &Path) -> Result<Arc<Plugin>, PluginError> {
        let (name, bytes) = read_plugin(path)?;
        let plain = &self.inner.plain;
        let hash = hex(&Sha256::digest(&bytes));
        if plain.has(&hash) {
            return self.load_in(plain, &name, Arc::from(bytes), &hash);
        }
        let baseline = self.flavor(Kind {
            tier: Tier::Baseline,
            metered: false,
        })?;
        let bytes: Arc<[u8]> = Arc::from(bytes);
        match self.load_in(&baseline, &name, bytes.clone(), &hash) {
            // Winch lacks some Wasm features (e.g. tail calls, exceptions); Cranelift has
            // them, and repeats the error if the component is simply invalid.
            Err(PluginError::Invalid { reason, .. }) => {
                tracing::debug!(plugin = %name, %reason, "the baseline compiler cannot compile this plugin; compiling optimized code");
                self.load_in(plain, &name, bytes, &hash)
            }
            loaded => loaded,
        }
    }

    /// The plugin with optimized code (itself if it has it already), compiled by Cranelift.
    pub fn optimized(&self, plugin: &Arc<Plugin>) -> Result<Arc<Plugin>, PluginError> {
        self.compiled_for(
            plugin,
            Kind {
                tier: Tier::Optimized,
                ..plugin.kind()
            },
        )
    }

    /// Runs `use_plugin` with `plugin`; when `plugin` has baseline code and that is
    /// `Invalid` (the baseline compiler's engine cannot run it, alone or beside other
    /// plugins), runs it again with the plugin's optimized code.
    pub fn or_optimized<T>(
        &self,
        plugin: &Arc<Plugin>,
        mut use_plugin: impl FnMut(&Arc<Plugin>) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        match use_plugin(plugin) {
            Err(PluginError::Invalid { .. }) if plugin.tier == Tier::Baseline => {
                use_plugin(&self.optimized(plugin)?)
            }
            result => result,
        }
    }

    fn load_in(
        &self,
        flavor: &Flavor,
        name: &str,
        bytes: Arc<[u8]>,
        hash: &str,
    ) -> Result<Arc<Plugin>, PluginError> {
        let started = Instant::now();
        let slot = flavor
            .lock_loaded()
            .entry(hash.to_owned())
            .or_default()
            .clone();
        // Held while compiling: whoever needs the same bytes meanwhile waits for this compile.
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        let (loaded, origin) = match &*slot {
            Some(loaded) => (loaded.clone(), Origin::Memory),
            None => {
                let from_disk = flavor.disk.as_ref().and_then(|d| {
                    d.get(&flavor.engine, hash).unwrap_or_else(|error| {
                        tracing::warn!(plugin = %name, %error, "Not loading a cached plugin; compiling it instead.");
                        None
                    })
                });
                let (component, origin) = match from_disk {
                    Some(c) => (c, Origin::DiskCache),
                    None => {
                        let component = flavor.compile(name, hash, &bytes)?;
                        flavor.compiled.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(plugin = %name, hash = %&hash[..12], tier = flavor.kind.tier.name(), metered = flavor.kind.metered, compile_ms = started.elapsed().as_secs_f64() * 1000.0, "plugin compiled");
                        (component, Origin::Compiled)
                    }
                };
                let loaded = Arc::new(flavor.prepare(name, component, bytes)?);
                *slot = Some(loaded.clone());
                (loaded, origin)
            }
        };
        drop(slot);
        Ok(Arc::new(Plugin {
            name: name.to_owned(),
            hash: hash.to_owned(),
            size: loaded.bytes.len(),
            world: loaded.world,
            exports: loaded.exports.clone(),
            imports: loaded.imports.clone(),
            origin,
            load_time: started.elapsed(),
            metered: flavor.kind.metered,
            tier: flavor.kind.tier,
            transform: loaded.transform.clone(),
            sink: loaded.sink.clone(),
            bytes: loaded.bytes.clone(),
            declared: loaded.declared.clone(),
        }))
    }
}

impl Plugin {
    /// The configuration keys the plugin declares (its optional `config-schema` export);
    /// `None` when it declares none. Read once per compiled plugin, by calling its
    /// `describe` on an instance of its own.
    pub fn declaration(&self) -> Result<Option<Arc<Declaration>>, PluginError> {
        if let Some(known) = self.declared.get() {
            return Ok(known.clone());
        }
        let pre = match (&self.transform, &self.sink) {
            (Some(transform), _) => transform.instance_pre(),
            (None, Some(sink)) => sink.instance_pre(),
            (None, None) => return Ok(None),
        };
        let read = declared::describe(pre, &self.name)?.map(Arc::new);
        Ok(self.declared.get_or_init(|| read).clone())
    }

    /// The kind of engine its code was compiled for.
    pub(super) fn kind(&self) -> Kind {
        Kind {
            tier: self.tier,
            metered: self.metered,
        }
    }
}

/// A plugin file's name (its file name without `.wasm`) and bytes.
fn read_plugin(path: &Path) -> Result<(String, Vec<u8>), PluginError> {
    let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
        path: path.to_owned(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok((name, bytes))
}

impl Flavor {
    /// Creates an engine of this kind, its linker and its caches (on disk in `cache_dir`
    /// unless the directory is refused), and starts the engine's epoch ticker.
    fn new(kind: Kind, cache_dir: Option<&Path>) -> Result<Flavor, PluginError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(kind.metered);
        if kind.tier == Tier::Baseline {
            // Winch compiles the plugin's functions; Cranelift still compiles the small
            // trampolines between host and component, without optimizing them.
            config
                .strategy(Strategy::Winch)
                .cranelift_opt_level(OptLevel::None);
        }
        // Instances are allocated on demand (wasmtime's default; see the module's docs); memory
        // caps apply through the store's limiter.
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
        // the engines (compiler, fuel), so all share one directory.
        let (disk, disk_refused) = match cache_dir.map(|dir| DiskCache::open(dir, &engine)) {
            None => (None, None),
            Some(Ok(disk)) => (Some(disk), None),
            Some(Err(error)) => {
                tracing::warn!(%error, "Not using the plugin disk cache; plugins are compiled in memory on every start.");
                (None, Some(error))
            }
        };
        start_epoch_ticker(&engine);
        Ok(Flavor {
            engine,
            linker,
            disk,
            disk_refused,
            loaded: Mutex::new(HashMap::new()),
            kind,
            compiled: AtomicU64::new(0),
        })
    }

    /// Whether this engine has compiled code for these component bytes, in memory or on disk.
    fn has(&self, hash: &str) -> bool {
        let in_memory = self.lock_loaded().get(hash).cloned().is_some_and(|slot| {
            // A slot being filled (locked) is a compile in progress: not there yet.
            slot.try_lock().is_ok_and(|loaded| loaded.is_some())
        });
        in_memory || self.disk.as_ref().is_some_and(|d| d.contains(hash))
    }

    fn lock_loaded(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
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
            declared: Arc::default(),
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
