//! The plugin directory (`plugin.path`): every `*.wasm` file in it is a plugin named after
//! its file. The directory is watched: a new version of a file is compiled off the hot path
//! and offered to the pipelines that use it, which validate it and swap it in between two
//! batches (see [`super::reload`]). A version never seen before is compiled by the baseline
//! compiler first, so that it goes live quickly; its optimized code is compiled next, on a
//! thread of its own, and offered the same way. Each plugin's versions, users, reload count
//! and last reload error are kept and written to `.tidemark-plugins.json` in the directory,
//! where `tidemark plugin list` reads them.
//!
//! A process has one `PluginDirectory` per directory, shared by its connectors (see
//! [`super::SharedPlugins`]): each connector holds a [`Lease`] on it while it runs, and
//! validates every new version against its own configuration; the state records which
//! version each connector runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};

use super::{Plugin, PluginError, Runtime, Tier};

/// The state file `tidemark plugin list` reads.
pub const STATE_FILE: &str = ".tidemark-plugins.json";

/// How long a file must stay unchanged before a new version is loaded, when nothing says that
/// its writer is done: writers often touch a file several times (truncate, write, close). A
/// file renamed into place, or closed after writing, is loaded at once.
const SETTLE: Duration = Duration::from_millis(20);

/// One loaded version of a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// SHA-256 of the component.
    pub hash: String,
    /// When it was loaded, in milliseconds since the Unix epoch.
    pub loaded_at_ms: u64,
    /// How long loading (compiling or reading the cache) took, in milliseconds.
    pub load_ms: f64,
    /// Whether it went live: `None` while it is being validated or when nothing uses it.
    pub accepted: Option<bool>,
    /// Which code of it is loaded: `baseline` until its optimized code is ready.
    #[serde(default)]
    pub tier: Tier,
}

/// What the directory offers the pipelines that use a plugin.
#[derive(Debug, Clone)]
pub enum Offer {
    /// A new version of the plugin.
    Version(Arc<Plugin>),
    /// The optimized code of a version that was offered with baseline code.
    Optimized(Arc<Plugin>),
}

/// What the directory knows of one plugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PluginState {
    /// Versions in the order they were loaded; the last accepted one is live.
    pub versions: Vec<Version>,
    /// Connectors using the plugin.
    pub users: BTreeSet<String>,
    /// The version (content hash) each connector using the plugin runs.
    #[serde(default)]
    pub live: BTreeMap<String, String>,
    /// Versions swapped in while running, counted per connector.
    pub reloads: u64,
    /// New versions rejected while running (unreadable or invalid: once; a configure error
    /// or canary failure: per connector that refused it).
    #[serde(default)]
    pub rejected: u64,
    /// Why the last rejected version was rejected (naming the connector when it was one
    /// connector's check that refused it).
    pub last_error: Option<String>,
    /// Swaps from a new version's baseline code to its optimized code while running,
    /// counted per connector.
    #[serde(default)]
    pub upgrades: u64,
}

struct Inner {
    dir: PathBuf,
    runtime: Runtime,
    state: Mutex<BTreeMap<String, PluginState>>,
    /// Where new versions are offered, by subscription id.
    subscribers: Mutex<BTreeMap<u64, Sender<Offer>>>,
    next_subscription: std::sync::atomic::AtomicU64,
    /// Leases held per connector (a restarted connector may briefly hold two).
    leases: Mutex<HashMap<String, usize>>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

/// A watched plugin directory. Cheap to clone.
#[derive(Clone)]
pub struct PluginDirectory {
    inner: Arc<Inner>,
}

impl PluginDirectory {
    /// The directory, not yet watched.
    pub fn new(dir: impl Into<PathBuf>, runtime: Runtime) -> PluginDirectory {
        PluginDirectory {
            inner: Arc::new(Inner {
                dir: dir.into(),
                runtime,
                state: Mutex::new(BTreeMap::new()),
                subscribers: Mutex::new(BTreeMap::new()),
                next_subscription: std::sync::atomic::AtomicU64::new(0),
                leases: Mutex::new(HashMap::new()),
                watcher: Mutex::new(None),
            }),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The runtime that loads the directory's plugins.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// Whether both are the same directory (not merely the same path).
    #[cfg(test)]
    pub(crate) fn same_as(&self, other: &PluginDirectory) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether a file is in this directory.
    pub fn contains(&self, file: &Path) -> bool {
        file.parent().is_some_and(|p| same_dir(p, &self.inner.dir))
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PluginState>> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads a plugin of the directory for the connector holding `lease`.
    pub fn load(&self, file: &Path, lease: &Lease) -> Result<Arc<Plugin>, PluginError> {
        let plugin = self.inner.runtime.load_file(file)?;
        {
            let mut state = self.lock_state();
            let entry = state.entry(plugin.name.clone()).or_default();
            entry.users.insert(lease.user.clone());
            entry.live.insert(lease.user.clone(), plugin.hash.clone());
            if entry.versions.last().is_none_or(|v| v.hash != plugin.hash) {
                entry.versions.push(version(&plugin, Some(true)));
            }
        }
        self.save();
        Ok(plugin)
    }

    /// A lease on the directory for connector `user`, held while the connector runs: when
    /// the connector's last lease is dropped, it no longer counts as a user of the plugins.
    pub fn lease(&self, user: &str) -> Lease {
        *self
            .inner
            .leases
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(user.to_owned())
            .or_default() += 1;
        Lease {
            directory: self.clone(),
            user: user.to_owned(),
            subscription: None,
        }
    }

    /// Records whether a new version went live in connector `user`. A version counts as
    /// accepted once any connector took it.
    pub fn report(&self, plugin: &Plugin, user: &str, outcome: Result<(), String>) {
        {
            let mut state = self.lock_state();
            let entry = state.entry(plugin.name.clone()).or_default();
            let accepted = outcome.is_ok();
            match entry
                .versions
                .iter_mut()
                .rev()
                .find(|v| v.hash == plugin.hash)
            {
                Some(v) => v.accepted = Some(v.accepted == Some(true) || accepted),
                None => entry.versions.push(version(plugin, Some(accepted))),
            }
            match outcome {
                Ok(()) => {
                    entry.reloads += 1;
                    // Unless the connector stopped meanwhile (its lease dropped).
                    if entry.users.contains(user) {
                        entry.live.insert(user.to_owned(), plugin.hash.clone());
                    }
                }
                Err(error) => {
                    entry.rejected += 1;
                    entry.last_error = Some(format!("connector {user}: {error}"));
                }
            }
        }
        self.save();
    }

    /// Records that a pipeline swapped in the optimized code of a version.
    pub fn report_upgrade(&self, plugin: &Plugin) {
        if let Some(entry) = self.lock_state().get_mut(&plugin.name) {
            entry.upgrades += 1;
        }
        self.save();
    }

    /// What is known of every plugin.
    pub fn state(&self) -> BTreeMap<String, PluginState> {
        self.lock_state().clone()
    }

    fn save(&self) {
        let text = match serde_json::to_string_pretty(&*self.lock_state()) {
            Ok(text) => text,
            Err(_) => return,
        };
        let path = self.inner.dir.join(STATE_FILE);
        let written = tempfile::NamedTempFile::new_in(&self.inner.dir).and_then(|mut tmp| {
            std::io::Write::write_all(&mut tmp, text.as_bytes())?;
            tmp.persist(&path).map(|_| ()).map_err(|e| e.error)
        });
        if let Err(error) = written {
            tracing::debug!(%error, path = %path.display(), "cannot write the plugin state file");
        }
    }

    /// Starts watching the directory for new versions of its plugins, unless it is watched
    /// already.
    pub fn watch(&self) -> Result<(), PluginError> {
        let mut watching = self
            .inner
            .watcher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if watching.is_some() {
            return Ok(());
        }
        let (tx, rx) = channel::<Change>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                let complete = match event.kind {
                    EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
                    | EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                    EventKind::Create(_) | EventKind::Modify(_) => false,
                    _ => return,
                };
                // A rename names the file it came from first.
                let skip = usize::from(matches!(
                    event.kind,
                    EventKind::Modify(ModifyKind::Name(RenameMode::Both))
                ));
                for path in event.paths.into_iter().skip(skip) {
                    let _ = tx.send(Change { path, complete });
                }
            })
            .map_err(|e| watch_error(&self.inner.dir, e))?;
        watcher
            .watch(&self.inner.dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(&self.inner.dir, e))?;
        *watching = Some(watcher);
        let (optimize_tx, optimize_rx) = channel();
        let directory = self.clone();
        std::thread::Builder::new()
            .name("tidemark-plugin-watch".into())
            .spawn(move || {
                // Loading a new version compiles it: background work.
                super::priority::lower_current_thread();
                directory.watch_loop(rx, optimize_tx)
            })
            .map_err(|e| PluginError::Runtime(e.to_string()))?;
        let directory = self.clone();
        std::thread::Builder::new()
            .name("tidemark-plugin-optimize".into())
            .spawn(move || {
                super::priority::lowest_current_thread();
                for plugin in optimize_rx {
                    directory.optimize(&plugin);
                }
            })
            .map_err(|e| PluginError::Runtime(e.to_string()))?;
        Ok(())
    }

    /// Loads changed files, at once when their writer is done with them, else once they
    /// settle, and offers the new versions to subscribers. Versions loaded with baseline
    /// code go to the optimizer.
    fn watch_loop(&self, rx: Receiver<Change>, optimize: Sender<Arc<Plugin>>) {
        let mut pending: BTreeSet<PathBuf> = BTreeSet::new();
        // The file each path was when last looked at: one rename or write is often reported
        // more than once (a rename as "to" and as "both"), and must be loaded only once.
        let mut seen: HashMap<PathBuf, FileStamp> = HashMap::new();
        let mut changed = |path: &Path| {
            let stamp = FileStamp::of(path);
            if stamp.is_some() && seen.get(path) == stamp.as_ref() {
                return;
            }
            if let Some(stamp) = stamp {
                seen.insert(path.to_owned(), stamp);
            }
            self.changed(path, &optimize);
        };
        loop {
            let next = if pending.is_empty() {
                rx.recv().ok()
            } else {
                match rx.recv_timeout(SETTLE) {
                    Ok(change) => Some(change),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        for path in std::mem::take(&mut pending) {
                            changed(&path);
                        }
                        continue;
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => None,
                }
            };
            match next {
                Some(change) if change.path.extension().is_some_and(|e| e == "wasm") => {
                    if change.complete {
                        pending.remove(&change.path);
                        changed(&change.path);
                    } else {
                        pending.insert(change.path);
                    }
                }
                Some(_) => {}
                None => return,
            }
        }
    }

    /// Compiles the optimized code of a version loaded with baseline code and offers it,
    /// unless a newer version came meanwhile.
    fn optimize(&self, plugin: &Arc<Plugin>) {
        let superseded = self
            .lock_state()
            .get(&plugin.name)
            .and_then(|s| s.versions.last())
            .is_none_or(|v| v.hash != plugin.hash);
        if superseded {
            return;
        }
        let started = std::time::Instant::now();
        let compile = || self.inner.runtime.optimized(plugin);
        let optimized = match super::priority::lowest_pool() {
            Some(pool) => pool.install(compile),
            None => compile(),
        };
        match optimized {
            Ok(optimized) => {
                tracing::info!(plugin = %plugin.name, hash = %&plugin.hash[..12], compile_ms = started.elapsed().as_secs_f64() * 1000.0, "optimized code of the new plugin version compiled");
                {
                    let mut state = self.lock_state();
                    if let Some(version) = state
                        .get_mut(&plugin.name)
                        .and_then(|s| s.versions.iter_mut().rev().find(|v| v.hash == plugin.hash))
                    {
                        version.tier = Tier::Optimized;
                    }
                }
                self.offer(Offer::Optimized(optimized));
                self.save();
            }
            Err(error) => {
                tracing::error!(plugin = %plugin.name, hash = %&plugin.hash[..12], %error, "the optimized code of the plugin version could not be compiled; it keeps running its baseline code");
            }
        }
    }

    fn offer(&self, offer: Offer) {
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, tx| tx.send(offer.clone()).is_ok());
    }

    /// A plugin file changed: load it and, if it is a new version of a plugin in use, offer it.
    fn changed(&self, path: &Path, optimize: &Sender<Arc<Plugin>>) {
        if !path.is_file() {
            return;
        }
        let Some(name) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            return;
        };
        let in_use = {
            let state = self.lock_state();
            state.get(&name).map(|s| {
                let live = s.versions.iter().rev().find(|v| v.accepted != Some(false));
                (live.map(|v| v.hash.clone()), !s.users.is_empty())
            })
        };
        let Some((live_hash, used)) = in_use else {
            tracing::info!(plugin = %name, "new plugin in the plugin directory");
            return;
        };
        match self.inner.runtime.load_new_version(path) {
            Ok(plugin) if live_hash.as_deref() == Some(plugin.hash.as_str()) => {}
            Ok(plugin) => {
                tracing::info!(plugin = %name, hash = %&plugin.hash[..12], load_ms = plugin.load_time.as_secs_f64() * 1000.0, tier = plugin.tier.name(), "new version of a plugin loaded");
                {
                    let mut state = self.lock_state();
                    if let Some(entry) = state.get_mut(&name) {
                        entry.versions.push(version(&plugin, None));
                    }
                }
                if used {
                    self.offer(Offer::Version(plugin.clone()));
                }
                self.save();
                if used && plugin.tier == Tier::Baseline {
                    let _ = optimize.send(plugin);
                }
            }
            Err(error) => {
                tracing::error!(plugin = %name, %error, "new version of the plugin rejected; the running version stays");
                {
                    let mut state = self.lock_state();
                    if let Some(entry) = state.get_mut(&name) {
                        entry.rejected += 1;
                        entry.last_error = Some(error.to_string());
                    }
                }
                self.save();
            }
        }
    }
}

/// A connector's hold on a plugin directory (see [`PluginDirectory::lease`]); dropping it
/// ends the connector's subscription to new versions and, with its last lease, its use of the
/// directory's plugins.
pub struct Lease {
    directory: PluginDirectory,
    user: String,
    subscription: Option<u64>,
}

impl Lease {
    /// The connector holding the lease.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The directory leased.
    pub fn directory(&self) -> &PluginDirectory {
        &self.directory
    }

    /// New versions of the directory's plugins, as they are loaded, and their optimized
    /// code, until the lease is dropped (the receiver then ends).
    pub fn subscribe(&mut self) -> Receiver<Offer> {
        let (tx, rx) = channel();
        let inner = &self.directory.inner;
        let id = inner
            .next_subscription
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut subscribers = inner
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(old) = self.subscription.replace(id) {
            subscribers.remove(&old);
        }
        subscribers.insert(id, tx);
        rx
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let inner = &self.directory.inner;
        if let Some(id) = self.subscription {
            inner
                .subscribers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&id);
        }
        {
            // Held while the user is removed, so that a new lease of the same connector
            // cannot come in between.
            let mut leases = inner
                .leases
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = leases.entry(self.user.clone()).or_default();
            *count = count.saturating_sub(1);
            if *count > 0 {
                return;
            }
            leases.remove(&self.user);
            for entry in self.directory.lock_state().values_mut() {
                entry.users.remove(&self.user);
                entry.live.remove(&self.user);
            }
        }
        self.directory.save();
    }
}

fn version(plugin: &Plugin, accepted: Option<bool>) -> Version {
    Version {
        hash: plugin.hash.clone(),
        loaded_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        load_ms: plugin.load_time.as_secs_f64() * 1000.0,
        accepted,
        tier: plugin.tier,
    }
}

/// What tells one version of a file from the next without reading it: a new file (renamed
/// into place) has a new inode, a file written in place a new size or modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            inode: metadata.ino(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }
}

/// A file of the directory that changed; `complete` when its writer is done with it (renamed
/// into place, or closed after writing).
struct Change {
    path: PathBuf,
    complete: bool,
}

fn watch_error(dir: &Path, error: notify::Error) -> PluginError {
    PluginError::Runtime(format!(
        "cannot watch the plugin directory {}: {error}",
        dir.display()
    ))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Reads the state file of a plugin directory (what running connectors wrote).
pub fn read_state(dir: &Path) -> BTreeMap<String, PluginState> {
    std::fs::read_to_string(dir.join(STATE_FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}
