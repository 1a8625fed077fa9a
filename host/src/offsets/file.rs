//! Offsets in a JSON file (`offset.storage.file.filename`): one object whose keys are Connect
//! offset keys and whose values are offset maps. Each commit rewrites the file atomically
//! (write a temporary file, sync it, rename it over the old one, sync the directory).
//!
//! The connectors of one process that name the same file share one store, as the connectors
//! of a Connect worker share its offset store: each commit writes every connector's offsets,
//! so no connector's commit overwrites another's.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::{OffsetError, OffsetMap, OffsetStore, Partition, connect_key, partitions_of};

/// Offsets kept in a local file: a handle on the file's entries, shared by every handle
/// this process opened on the same file.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    entries: Arc<Mutex<Entries>>,
}

/// The file's entries, by Connect offset key.
type Entries = BTreeMap<String, serde_json::Value>;

/// The files open in this process, by path.
fn open_files() -> &'static Mutex<HashMap<PathBuf, Weak<Mutex<Entries>>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Mutex<Entries>>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

impl FileOffsetStore {
    /// Opens the store: the entries another handle of this process holds for the same file,
    /// else the file's (none when it does not exist).
    pub fn open(path: impl Into<PathBuf>) -> Result<FileOffsetStore, OffsetError> {
        let path = path.into();
        // The same file under another spelling is the same store.
        let key = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => std::fs::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
            .map(|dir| dir.join(name))
            .unwrap_or_else(|_| path.clone()),
            _ => path.clone(),
        };
        let mut open = open_files().lock().map_err(|_| OffsetError::Read {
            path: path.display().to_string(),
            reason: "the table of open offset files is poisoned".into(),
        })?;
        open.retain(|_, entries| entries.strong_count() > 0);
        if let Some(entries) = open.get(&key).and_then(Weak::upgrade) {
            return Ok(FileOffsetStore { path, entries });
        }
        let entries = Arc::new(Mutex::new(Self::read(&path)?));
        open.insert(key, Arc::downgrade(&entries));
        Ok(FileOffsetStore { path, entries })
    }

    fn read(path: &Path) -> Result<Entries, OffsetError> {
        let read_error = |reason: String| OffsetError::Read {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Ok(BTreeMap::new()),
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| read_error(format!("not a JSON object of offsets: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(read_error(e.to_string())),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, entries: &Entries) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        let text = serde_json::to_string_pretty(entries).map_err(std::io::Error::other)?;
        tmp.write_all(text.as_bytes())?;
        tmp.write_all(b"\n")?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        std::fs::File::open(&dir)?.sync_all()
    }
}

impl FileOffsetStore {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries>, OffsetError> {
        self.entries.lock().map_err(|_| OffsetError::Write {
            path: self.path.display().to_string(),
            reason: "another connector panicked while committing to this file".into(),
        })
    }
}

impl OffsetStore for FileOffsetStore {
    fn load(
        &self,
        connector: &str,
        partition: &OffsetMap,
    ) -> Result<Option<OffsetMap>, OffsetError> {
        let entries = self.lock()?;
        match entries.get(&connect_key(connector, partition)) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Object(offset)) => Ok(Some(offset.clone())),
            Some(other) => Err(OffsetError::Read {
                path: self.path.display().to_string(),
                reason: format!("the offset of {connector} is not an object: {other}"),
            }),
        }
    }

    fn commit(
        &mut self,
        connector: &str,
        partition: &OffsetMap,
        offset: &OffsetMap,
    ) -> Result<(), OffsetError> {
        self.put(
            connector,
            partition,
            serde_json::Value::Object(offset.clone()),
        )
    }

    fn offsets(&self, connector: &str) -> Result<Vec<Partition>, OffsetError> {
        let entries = self.lock()?;
        let objects = entries
            .iter()
            .filter_map(|(key, value)| value.as_object().map(|offset| (key, offset)));
        Ok(partitions_of(objects, connector))
    }

    fn reset(&mut self, connector: &str, partition: &OffsetMap) -> Result<(), OffsetError> {
        // A null value, as Connect's file store keeps a deleted offset.
        self.put(connector, partition, serde_json::Value::Null)
    }
}

impl FileOffsetStore {
    /// Stores a partition's value and writes the file.
    fn put(
        &mut self,
        connector: &str,
        partition: &OffsetMap,
        value: serde_json::Value,
    ) -> Result<(), OffsetError> {
        let mut entries = self.lock()?;
        let key = connect_key(connector, partition);
        let previous = entries.insert(key.clone(), value);
        self.write(&entries).map_err(|e| {
            // What is in memory stays what is on disk.
            match previous {
                Some(previous) => entries.insert(key, previous),
                None => entries.remove(&key),
            };
            OffsetError::Write {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(json: serde_json::Value) -> OffsetMap {
        json.as_object().cloned().unwrap()
    }

    #[test]
    fn commits_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/offsets.json");
        let partition = map(serde_json::json!({"server": "dbz"}));
        let mut store = FileOffsetStore::open(&path).unwrap();
        assert_eq!(store.load("inv", &partition).unwrap(), None);
        let offset = map(serde_json::json!({"lsn": 42, "txId": 7}));
        store.commit("inv", &partition, &offset).unwrap();
        let again = FileOffsetStore::open(&path).unwrap();
        assert_eq!(again.load("inv", &partition).unwrap(), Some(offset));
        assert_eq!(again.load("other", &partition).unwrap(), None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#""[\"inv\",{\"server\":\"dbz\"}]""#),
            "{text}"
        );
    }

    #[test]
    fn stores_on_one_file_share_their_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let partition = map(serde_json::json!({"server": "dbz"}));
        let mut a = FileOffsetStore::open(&path).unwrap();
        let mut b = FileOffsetStore::open(dir.path().join(".").join("offsets.json")).unwrap();
        a.commit("a", &partition, &map(serde_json::json!({"lsn": 1})))
            .unwrap();
        b.commit("b", &partition, &map(serde_json::json!({"lsn": 2})))
            .unwrap();
        a.commit("a", &partition, &map(serde_json::json!({"lsn": 3})))
            .unwrap();
        drop((a, b));
        let again = FileOffsetStore::open(&path).unwrap();
        assert_eq!(
            again.load("a", &partition).unwrap(),
            Some(map(serde_json::json!({"lsn": 3})))
        );
        assert_eq!(
            again.load("b", &partition).unwrap(),
            Some(map(serde_json::json!({"lsn": 2}))),
            "a's commits kept b's offset"
        );
    }

    #[test]
    fn a_corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, "not json").unwrap();
        let err = FileOffsetStore::open(&path).unwrap_err();
        assert!(
            err.to_string().contains("not a JSON object of offsets"),
            "{err}"
        );
    }
}
