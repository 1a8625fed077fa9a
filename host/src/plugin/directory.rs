//! The plugin directory (`plugin.path`): every `*.wasm` file in it is a plugin named after
//! its file. The directory is watched: a new version of a file is compiled off the hot path
//! and offered to the pipelines that use it, which validate it and swap it in between two
//! batches (see [`super::reload`]). Each plugin's versions, users, reload count and last
//! reload error are kept and written to `.tidemark-plugins.json` in the directory, where
//! `tidemark plugin list` reads them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::{EventKind, RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};

use super::{Plugin, PluginError, Runtime};

/// The state file `tidemark plugin list` reads.
pub const STATE_FILE: &str = ".tidemark-plugins.json";

/// How long a file must stay unchanged before a new version is loaded: writers often touch a
/// file several times (truncate, write, close).
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
}

/// What the directory knows of one plugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PluginState {
    /// Versions in the order they were loaded; the last accepted one is live.
    pub versions: Vec<Version>,
    /// Connectors using the plugin.
    pub users: BTreeSet<String>,
    /// Versions swapped in while running.
    pub reloads: u64,
    /// New versions rejected while running (unreadable, invalid, wrong world, configure
    /// error or canary failure).
    #[serde(default)]
    pub rejected: u64,
    /// Why the last rejected version was rejected.
    pub last_error: Option<String>,
}

struct Inner {
    dir: PathBuf,
    runtime: Runtime,
    state: Mutex<BTreeMap<String, PluginState>>,
    subscribers: Mutex<Vec<Sender<Arc<Plugin>>>>,
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
                subscribers: Mutex::new(Vec::new()),
                watcher: Mutex::new(None),
            }),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.inner.dir
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

    /// Loads a plugin of the directory for connector `user`.
    pub fn load(&self, file: &Path, user: &str) -> Result<Arc<Plugin>, PluginError> {
        let plugin = self.inner.runtime.load_file(file)?;
        {
            let mut state = self.lock_state();
            let entry = state.entry(plugin.name.clone()).or_default();
            entry.users.insert(user.to_owned());
            if entry.versions.last().is_none_or(|v| v.hash != plugin.hash) {
                entry.versions.push(version(&plugin, Some(true)));
            }
        }
        self.save();
        Ok(plugin)
    }

    /// New versions of plugins, as they are loaded.
    pub fn subscribe(&self) -> Receiver<Arc<Plugin>> {
        let (tx, rx) = channel();
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(tx);
        rx
    }

    /// Records whether a new version went live.
    pub fn report(&self, plugin: &Plugin, outcome: Result<(), String>) {
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
                Some(v) => v.accepted = Some(accepted),
                None => entry.versions.push(version(plugin, Some(accepted))),
            }
            match outcome {
                Ok(()) => entry.reloads += 1,
                Err(error) => {
                    entry.rejected += 1;
                    entry.last_error = Some(error);
                }
            }
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

    /// Starts watching the directory for new versions of its plugins.
    pub fn watch(&self) -> Result<(), PluginError> {
        let (tx, rx) = channel::<PathBuf>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)) {
                    for path in event.paths {
                        let _ = tx.send(path);
                    }
                }
            })
            .map_err(|e| watch_error(&self.inner.dir, e))?;
        watcher
            .watch(&self.inner.dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(&self.inner.dir, e))?;
        *self
            .inner
            .watcher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(watcher);
        let directory = self.clone();
        std::thread::Builder::new()
            .name("tidemark-plugin-watch".into())
            .spawn(move || {
                // Loading a new version compiles it: background work.
                super::priority::lower_current_thread();
                directory.watch_loop(rx)
            })
            .map_err(|e| PluginError::Runtime(e.to_string()))?;
        Ok(())
    }

    /// Loads changed files once they settle and offers the new versions to subscribers.
    fn watch_loop(&self, rx: Receiver<PathBuf>) {
        let mut pending: BTreeSet<PathBuf> = BTreeSet::new();
        loop {
            let next = if pending.is_empty() {
                rx.recv().ok()
            } else {
                match rx.recv_timeout(SETTLE) {
                    Ok(path) => Some(path),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        for path in std::mem::take(&mut pending) {
                            self.changed(&path);
                        }
                        continue;
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => None,
                }
            };
            match next {
                Some(path) if path.extension().is_some_and(|e| e == "wasm") => {
                    pending.insert(path);
                }
                Some(_) => {}
                None => return,
            }
        }
    }

    /// A plugin file changed: load it and, if it is a new version of a plugin in use, offer it.
    fn changed(&self, path: &Path) {
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
        match self.inner.runtime.load_file(path) {
            Ok(plugin) if live_hash.as_deref() == Some(plugin.hash.as_str()) => {}
            Ok(plugin) => {
                tracing::info!(plugin = %name, hash = %&plugin.hash[..12], load_ms = plugin.load_time.as_secs_f64() * 1000.0, "new version of a plugin loaded");
                {
                    let mut state = self.lock_state();
                    if let Some(entry) = state.get_mut(&name) {
                        entry.versions.push(version(&plugin, None));
                    }
                }
                if used {
                    self.inner
                        .subscribers
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .retain(|tx| tx.send(plugin.clone()).is_ok());
                }
                self.save();
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

fn version(plugin: &Plugin, accepted: Option<bool>) -> Version {
    Version {
        hash: plugin.hash.clone(),
        loaded_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        load_ms: plugin.load_time.as_secs_f64() * 1000.0,
        accepted,
    }
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
