//! The on-disk cache of compiled components, keyed by the component's content hash and the
//! engine's compatibility hash, so a plugin is compiled once per engine configuration.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

/// A directory of precompiled components (`<sha256>-<engine>.cwasm`).
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
    engine_hash: String,
}

/// The default cache directory: `$TIDEMARK_CACHE_DIR`, else `$XDG_CACHE_HOME/tidemark/plugins`,
/// else `~/.cache/tidemark/plugins`, else a folder in the temporary directory.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TIDEMARK_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("tidemark").join("plugins")
}

impl DiskCache {
    /// Opens (creating it if needed) a cache directory for this engine.
    pub fn open(dir: &Path, engine: &Engine) -> Result<DiskCache, PluginError> {
        std::fs::create_dir_all(dir).map_err(|e| PluginError::Cache {
            path: dir.to_owned(),
            reason: format!("cannot create the directory: {e}"),
        })?;
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(DiskCache {
            dir: dir.to_owned(),
            engine_hash: format!("{:016x}", hasher.finish()),
        })
    }

    fn path(&self, content_hash: &str) -> PathBuf {
        self.dir
            .join(format!("{content_hash}-{}.cwasm", self.engine_hash))
    }

    /// Whether the cache has a file for these component bytes.
    pub fn contains(&self, content_hash: &str) -> bool {
        self.path(content_hash).exists()
    }

    /// A previously compiled component, if the cache has a usable one.
    pub fn get(&self, engine: &Engine, content_hash: &str) -> Option<Component> {
        if !self.contains(content_hash) {
            return None;
        }
        let path = self.path(content_hash);
        // SAFETY: files in this directory are written only by `put` below, from components
        // this engine configuration compiled; the engine hash in the name keeps other
        // configurations' files apart, and wasmtime checks the header again on load.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "Ignoring unusable cached plugin; it will be recompiled.");
                None
            }
        }
    }

    /// Stores a compiled component. Failure to write only costs a recompile later, so it is
    /// logged rather than returned.
    pub fn put(&self, content_hash: &str, component: &Component) {
        let path = self.path(content_hash);
        let result = component
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&tmp, bytes)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = result {
            tracing::warn!(path = %path.display(), %error, "Could not cache a compiled plugin.");
        }
    }
}
