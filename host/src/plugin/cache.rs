//! The on-disk cache of compiled components, keyed by the component's content hash and the
//! engine's compatibility hash, so a plugin is compiled once per engine configuration.
//!
//! A cache entry is native code that runs outside the sandbox, so the cache trusts only what
//! this user alone can write: the directory must be owned by the effective user and not
//! writable by group or others (nor may its parents be, unless sticky), and so must each
//! entry. An entry carries a SHA-256 digest of the compiled bytes keyed with the content
//! hash and the engine hash; it is read into memory and checked before it is deserialized,
//! so a truncated, altered or renamed entry is never loaded. Whatever is refused is
//! reported as a [`PluginError::Cache`] naming the path and what to do, and the plugin is
//! compiled instead.

use std::fs::{DirBuilder, Metadata, Permissions};
use std::hash::{Hash, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

/// The first bytes of a cache entry (format version 1).
const MAGIC: &[u8; 8] = b"TMCWASM1";
/// Magic bytes followed by the SHA-256 digest.
const HEADER_LEN: usize = MAGIC.len() + 32;
/// Permission bits that let group or others write.
const WRITABLE_BY_OTHERS: u32 = 0o022;
/// The sticky bit: only an entry's owner may rename or remove it.
const STICKY: u32 = 0o1000;

/// A directory of precompiled components (`<sha256>-<engine>.cwasm`).
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
    engine_hash: String,
}

/// The default cache directory: `$TIDEMARK_CACHE_DIR`, else `$XDG_CACHE_HOME/tidemark/plugins`,
/// else `~/.cache/tidemark/plugins`. With none of them set there is no disk cache (and a
/// warning says so): a shared temporary directory is no place for native code.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("TIDEMARK_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            var("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".cache"))
        });
    if base.is_none() {
        tracing::warn!(
            "No plugin cache directory: none of TIDEMARK_CACHE_DIR, XDG_CACHE_HOME or HOME is set, so plugins are compiled on every start (set TIDEMARK_CACHE_DIR to a directory only this user can write to cache them)."
        );
    }
    base.map(|b| b.join("tidemark").join("plugins"))
}

/// The effective user id of this process.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn refused(path: &Path, reason: String) -> PluginError {
    PluginError::Cache {
        path: path.to_owned(),
        reason,
    }
}

impl DiskCache {
    /// Opens a cache directory for this engine, creating it (each missing level with mode
    /// 0700) if needed. Refuses a directory another user could write to: one not owned by
    /// the effective user, writable by group or others, or under such a parent (one
    /// without the sticky bit, or owned by neither this user nor root).
    pub fn open(dir: &Path, engine: &Engine) -> Result<DiskCache, PluginError> {
        match std::fs::symlink_metadata(dir) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| refused(dir, format!("cannot create the directory: {e}")))?,
            Err(e) => return Err(refused(dir, format!("cannot read the directory: {e}"))),
        }
        check_dir(dir)?;
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(DiskCache {
            dir: dir.to_owned(),
            engine_hash: format!("{:016x}", hasher.finish()),
        })
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, content_hash: &str) -> PathBuf {
        self.dir
            .join(format!("{content_hash}-{}.cwasm", self.engine_hash))
    }

    /// The digest an entry of these compiled bytes carries: SHA-256 over the format, the
    /// component's content hash, the engine hash and the bytes.
    fn digest(&self, content_hash: &str, compiled: &[u8]) -> [u8; 32] {
        let mut sha = Sha256::new();
        sha.update(MAGIC);
        for part in [content_hash.as_bytes(), self.engine_hash.as_bytes()] {
            sha.update((part.len() as u64).to_le_bytes());
            sha.update(part);
        }
        sha.update(compiled);
        sha.finalize().into()
    }

    /// Whether the cache has a file for these component bytes (not yet checked).
    pub fn contains(&self, content_hash: &str) -> bool {
        self.path(content_hash).exists()
    }

    /// A previously compiled component: `Ok(None)` when the cache has none, an error naming
    /// the file when it has one that must not be loaded (not ours, writable by others, or
    /// not what was stored for these component bytes and this engine).
    pub fn get(
        &self,
        engine: &Engine,
        content_hash: &str,
    ) -> Result<Option<Component>, PluginError> {
        let path = self.path(content_hash);
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(refused(
                    &path,
                    format!("cannot open the cache entry ({e}); remove it"),
                ));
            }
        };
        let meta = file
            .metadata()
            .map_err(|e| refused(&path, format!("cannot read the cache entry: {e}")))?;
        check_entry(&path, &meta)?;
        let mut data = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut data)
            .map_err(|e| refused(&path, format!("cannot read the cache entry: {e}")))?;
        let (header, compiled) = data.split_at(HEADER_LEN.min(data.len()));
        let (magic, digest) = header.split_at(MAGIC.len().min(header.len()));
        if magic != MAGIC || digest != self.digest(content_hash, compiled) {
            return Err(refused(
                &path,
                "the entry does not match its digest (truncated, altered, renamed or written by an older version); it is recompiled and replaced".into(),
            ));
        }
        // SAFETY: the bytes are what `put` wrote for these component bytes and this engine
        // configuration: the entry is owned by this user and writable by nobody else, in a
        // directory no one else can write to, and its digest (keyed with the content and
        // engine hashes) matches the bytes read, which are the ones deserialized. wasmtime
        // checks the engine compatibility again.
        match unsafe { Component::deserialize(engine, compiled) } {
            Ok(component) => Ok(Some(component)),
            Err(e) => Err(refused(
                &path,
                format!("the compiled code is unusable ({e}); it is recompiled and replaced"),
            )),
        }
    }

    /// Stores a compiled component: written to a fresh file (mode 0600) with its digest,
    /// then renamed into place. Failure to write only costs a recompile later, so it is
    /// logged rather than returned.
    pub fn put(&self, content_hash: &str, component: &Component) {
        let path = self.path(content_hash);
        let result = component
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|compiled| {
                let mut tmp = tempfile::Builder::new()
                    .prefix(".entry-")
                    .suffix(".tmp")
                    .permissions(Permissions::from_mode(0o600))
                    .tempfile_in(&self.dir)
                    .map_err(|e| e.to_string())?;
                let file = tmp.as_file_mut();
                file.write_all(MAGIC)
                    .and_then(|()| file.write_all(&self.digest(content_hash, &compiled)))
                    .and_then(|()| file.write_all(&compiled))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| e.to_string())?;
                tmp.persist(&path).map(drop).map_err(|e| e.to_string())
            });
        if let Err(error) = result {
            tracing::warn!(path = %path.display(), %error, "Could not cache a compiled plugin.");
        }
    }
}

/// Refuses a cache directory another user could write to, or that sits in a directory
/// another user could rename it out of.
fn check_dir(dir: &Path) -> Result<(), PluginError> {
    let meta = std::fs::metadata(dir).map_err(|e| refused(dir, format!("cannot read it: {e}")))?;
    if !meta.is_dir() {
        return Err(refused(
            dir,
            "it is not a directory; set TIDEMARK_CACHE_DIR to a directory".into(),
        ));
    }
    let me = euid();
    if meta.uid() != me {
        return Err(refused(
            dir,
            format!(
                "it is owned by uid {}, not by this process's user (uid {me}), and compiled plugins run outside the sandbox; `chown {me} {}` or set TIDEMARK_CACHE_DIR to a directory of this user",
                meta.uid(),
                dir.display()
            ),
        ));
    }
    if meta.mode() & WRITABLE_BY_OTHERS != 0 {
        return Err(refused(
            dir,
            format!(
                "it is writable by group or others (mode {:o}), who could plant compiled code that runs outside the sandbox; `chmod 700 {}` or set TIDEMARK_CACHE_DIR to a private directory",
                meta.mode() & 0o7777,
                dir.display()
            ),
        ));
    }
    // The parents, as written and as resolved: another user who can write to one could
    // move the cache directory away and put one of theirs in its place.
    let absolute = std::path::absolute(dir).map_err(|e| refused(dir, e.to_string()))?;
    let resolved = std::fs::canonicalize(dir).map_err(|e| refused(dir, e.to_string()))?;
    for parent in absolute
        .ancestors()
        .skip(1)
        .chain(resolved.ancestors().skip(1))
    {
        let meta = std::fs::metadata(parent).map_err(|e| {
            refused(
                dir,
                format!("cannot read its parent {}: {e}", parent.display()),
            )
        })?;
        check_parent(dir, parent, &meta, me)?;
    }
    Ok(())
}

fn check_parent(dir: &Path, parent: &Path, meta: &Metadata, me: u32) -> Result<(), PluginError> {
    if meta.uid() != me && meta.uid() != 0 {
        return Err(refused(
            dir,
            format!(
                "its parent {} is owned by uid {}, neither this process's user (uid {me}) nor root, who could replace the cache directory; set TIDEMARK_CACHE_DIR to a directory of this user",
                parent.display(),
                meta.uid()
            ),
        ));
    }
    if meta.mode() & WRITABLE_BY_OTHERS != 0 && meta.mode() & STICKY == 0 {
        return Err(refused(
            dir,
            format!(
                "its parent {} is writable by group or others (mode {:o}) without the sticky bit, so they could replace the cache directory; `chmod go-w {}` or set TIDEMARK_CACHE_DIR to a private directory",
                parent.display(),
                meta.mode() & 0o7777,
                parent.display()
            ),
        ));
    }
    Ok(())
}

/// Refuses an entry that is not a regular file of this user, writable by nobody else.
fn check_entry(path: &Path, meta: &Metadata) -> Result<(), PluginError> {
    let me = euid();
    if !meta.is_file() {
        return Err(refused(
            path,
            "the cache entry is not a regular file; remove it".into(),
        ));
    }
    if meta.uid() != me {
        return Err(refused(
            path,
            format!(
                "the cache entry is owned by uid {}, not by this process's user (uid {me}); remove it (or `chown {me}` it)",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & WRITABLE_BY_OTHERS != 0 {
        return Err(refused(
            path,
            format!(
                "the cache entry is writable by group or others (mode {:o}); remove it (or `chmod 600` it)",
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// An empty component (version 0x0d, layer 1): compiles in an instant.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";
    const HASH: &str = "ab12";

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
    }

    /// A cache in a fresh directory with one entry, and its entry's path.
    fn cache_with_entry(engine: &Engine) -> (tempfile::TempDir, DiskCache, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(&root.path().join("cache"), engine).unwrap();
        let component = Component::from_binary(engine, EMPTY_COMPONENT).unwrap();
        cache.put(HASH, &component);
        let entry = cache.path(HASH);
        (root, cache, entry)
    }

    #[test]
    fn every_created_level_is_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("tidemark").join("plugins");
        DiskCache::open(&dir, &Engine::default()).unwrap();
        assert_eq!(mode(&root.path().join("tidemark")), 0o700);
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn a_directory_others_can_write_to_is_refused_with_what_to_do() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o777);
        let err = DiskCache::open(&dir, &Engine::default()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, PluginError::Cache { .. }), "{text}");
        assert!(text.contains(&dir.display().to_string()), "{text}");
        assert!(text.contains("writable by group or others"), "{text}");
        assert!(
            text.contains(&format!("chmod 700 {}", dir.display())),
            "{text}"
        );
        chmod(&dir, 0o770);
        assert!(DiskCache::open(&dir, &Engine::default()).is_err());
        chmod(&dir, 0o700);
        DiskCache::open(&dir, &Engine::default()).unwrap();
    }

    #[test]
    fn a_parent_others_can_write_to_is_refused_unless_sticky() {
        let root = tempfile::tempdir().unwrap();
        let open = root.path().join("open");
        let dir = open.join("cache");
        std::fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        let err = DiskCache::open(&dir, &Engine::default()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("its parent {} is writable", open.display())),
            "{text}"
        );
        chmod(&open, 0o1777);
        DiskCache::open(&dir, &Engine::default()).unwrap();
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = if euid() == 0 {
            let dir = root.path().join("theirs");
            std::fs::create_dir(&dir).unwrap();
            chmod(&dir, 0o700);
            std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
            dir
        } else {
            // Not root: the root directory belongs to someone else.
            PathBuf::from("/")
        };
        let err = DiskCache::open(&dir, &Engine::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not by this process's user"), "{text}");
        assert!(text.contains(&format!("chown {}", euid())), "{text}");
    }

    #[test]
    fn an_entry_is_private_and_loads_back() {
        let engine = Engine::default();
        let (_root, cache, entry) = cache_with_entry(&engine);
        assert_eq!(mode(&entry), 0o600);
        assert!(cache.contains(HASH));
        assert!(cache.get(&engine, HASH).unwrap().is_some());
        assert!(cache.get(&engine, "cd34").unwrap().is_none());
        // Only the entry: no temporary file is left behind.
        assert_eq!(std::fs::read_dir(cache.dir()).unwrap().count(), 1);
    }

    #[test]
    fn altered_truncated_or_renamed_entries_are_refused() {
        let engine = Engine::default();
        let (_root, cache, entry) = cache_with_entry(&engine);
        let good = std::fs::read(&entry).unwrap();
        let refused = |what: &str| {
            let err = cache.get(&engine, HASH).map(|_| ()).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&entry.display().to_string()),
                "{what}: {text}"
            );
            assert!(text.contains("does not match its digest"), "{what}: {text}");
        };

        let mut altered = good.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        std::fs::write(&entry, &altered).unwrap();
        refused("a flipped bit");

        std::fs::write(&entry, &good[..good.len() / 2]).unwrap();
        refused("half the file");
        std::fs::write(&entry, &good[..10]).unwrap();
        refused("a cut header");

        // The entry of other component bytes, under this one's name.
        std::fs::write(&entry, &good).unwrap();
        std::fs::rename(&entry, cache.path("cd34")).unwrap();
        let err = cache.get(&engine, "cd34").map(|_| ()).unwrap_err();
        assert!(
            err.to_string().contains("does not match its digest"),
            "{err}"
        );
    }

    #[test]
    fn an_entry_others_can_write_to_or_own_is_refused() {
        let engine = Engine::default();
        let (_root, cache, entry) = cache_with_entry(&engine);
        chmod(&entry, 0o666);
        let err = cache.get(&engine, HASH).map(|_| ()).unwrap_err();
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
        chmod(&entry, 0o600);
        assert!(cache.get(&engine, HASH).unwrap().is_some());
        // Another user's entry (only root can give a file away).
        if euid() == 0 {
            std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
            let err = cache.get(&engine, HASH).map(|_| ()).unwrap_err();
            assert!(err.to_string().contains("owned by uid 65534"), "{err}");
        }
    }

    #[test]
    fn a_symbolic_link_entry_is_refused() {
        let engine = Engine::default();
        let (root, cache, entry) = cache_with_entry(&engine);
        let elsewhere = root.path().join("elsewhere");
        std::fs::rename(&entry, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
        let err = cache.get(&engine, HASH).map(|_| ()).unwrap_err();
        assert!(
            err.to_string().contains("cannot open the cache entry"),
            "{err}"
        );
    }
}
