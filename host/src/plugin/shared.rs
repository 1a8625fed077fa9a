//! The plugins of one process, shared by all its connectors: one [`Runtime`] (its engines and
//! compiled components, so a plugin is compiled once however many connectors use it) and one
//! watched [`PluginDirectory`] per plugin directory (one watcher, one compile of each new
//! version, offered to every connector that uses the plugin).
//!
//! The runtime is created when a connector first needs it: a worker whose connectors use no
//! plugin has no engine and no epoch ticker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{PluginDirectory, PluginError, Runtime, RuntimeOptions};

/// The runtime and plugin directories of a process. Cheap to clone.
#[derive(Clone)]
pub struct SharedPlugins {
    inner: Arc<Inner>,
}

struct Inner {
    options: RuntimeOptions,
    runtime: Mutex<Option<Runtime>>,
    /// By canonical path.
    directories: Mutex<BTreeMap<PathBuf, PluginDirectory>>,
}

impl SharedPlugins {
    /// Plugins with a runtime of these options, created when first needed.
    pub fn new(options: RuntimeOptions) -> SharedPlugins {
        SharedPlugins {
            inner: Arc::new(Inner {
                options,
                runtime: Mutex::new(None),
                directories: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The runtime, created on the first call (a failure is returned, and the next call
    /// tries again).
    pub fn runtime(&self) -> Result<Runtime, PluginError> {
        let mut runtime = self
            .inner
            .runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = &*runtime {
            return Ok(runtime.clone());
        }
        let created = Runtime::new(self.inner.options.clone())?;
        *runtime = Some(created.clone());
        Ok(created)
    }

    /// The runtime, if a connector has needed it yet.
    pub fn runtime_if_created(&self) -> Option<Runtime> {
        self.inner
            .runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The plugin directory at `dir`, the same one for every connector naming it (however
    /// the path is spelt). It is watched once the first connector's hot reload starts.
    pub fn directory(&self, dir: &Path) -> Result<PluginDirectory, PluginError> {
        let key = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
        let runtime = self.runtime()?;
        let mut directories = self
            .inner
            .directories
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(directories
            .entry(key)
            .or_insert_with(|| PluginDirectory::new(dir, runtime))
            .clone())
    }

    /// Every plugin directory a connector has used.
    pub fn directories(&self) -> Vec<PluginDirectory> {
        self.inner
            .directories
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runtime_and_one_directory_per_path_created_when_needed() {
        let plugins = SharedPlugins::new(RuntimeOptions { cache_dir: None });
        assert!(
            plugins.runtime_if_created().is_none(),
            "no engine until needed"
        );
        let dir = tempfile::tempdir().unwrap();
        let a = plugins.directory(dir.path()).unwrap();
        let spelt_otherwise = dir.path().join(".");
        let b = plugins.directory(&spelt_otherwise).unwrap();
        assert!(a.same_as(&b), "one directory however the path is spelt");
        assert_eq!(plugins.directories().len(), 1);
        let runtime = plugins
            .runtime_if_created()
            .expect("created for the directory");
        assert!(runtime.same_as(a.runtime()));
        assert!(runtime.same_as(&plugins.runtime().unwrap()));
    }
}
