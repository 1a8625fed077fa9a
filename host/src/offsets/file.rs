//! Offsets in a JSON file (`offset.storage.file.filename`): one object whose keys are Connect
//! offset keys and whose values are offset maps. Each commit rewrites the file atomically
//! (write a temporary file, sync it, rename it over the old one, sync the directory).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{OffsetError, OffsetMap, OffsetStore, connect_key};

/// Offsets kept in a local file.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    entries: BTreeMap<String, serde_json::Value>,
}

impl FileOffsetStore {
    /// Opens the store, reading the file if it exists.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileOffsetStore, OffsetError> {
        let path = path.into();
        let read_error = |reason: String| OffsetError::Read {
            path: path.display().to_string(),
            reason,
        };
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => BTreeMap::new(),
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| read_error(format!("not a JSON object of offsets: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(read_error(e.to_string())),
        };
        Ok(FileOffsetStore { path, entries })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        let text = serde_json::to_string_pretty(&self.entries).map_err(std::io::Error::other)?;
        tmp.write_all(text.as_bytes())?;
        tmp.write_all(b"\n")?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        std::fs::File::open(&dir)?.sync_all()
    }
}

impl OffsetStore for FileOffsetStore {
    fn load(
        &self,
        connector: &str,
        partition: &OffsetMap,
    ) -> Result<Option<OffsetMap>, OffsetError> {
        match self.entries.get(&connect_key(connector, partition)) {
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
        self.entries.insert(
            connect_key(connector, partition),
            serde_json::Value::Object(offset.clone()),
        );
        self.write().map_err(|e| OffsetError::Write {
            path: self.path.display().to_string(),
            reason: e.to_string(),
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
