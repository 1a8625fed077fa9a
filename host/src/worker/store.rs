//! The worker's connector configurations, kept in `config.storage.file` so that connectors
//! created or changed over REST come back after a restart (Kafka Connect's standalone worker
//! forgets them). The file is JSON, rewritten whole and atomically (a temporary file renamed
//! over it) on every change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::WorkerError;

/// What a connector should be doing, as Connect's config topic keeps it (`target_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetState {
    /// Running (Connect's `STARTED`).
    Started,
    /// Paused: its pipeline reads nothing more, its connection and slot are kept.
    Paused,
    /// Stopped: nothing runs, its connection is released; its config and offsets stay.
    Stopped,
}

/// One connector's stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredConnector {
    /// The connector's own properties (not the worker's), as given.
    pub config: BTreeMap<String, String>,
    /// What it should be doing.
    pub target: TargetState,
}

/// The file's layout.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    connectors: BTreeMap<String, StoredConnector>,
}

/// The stored configurations, loaded at start and saved on every change.
#[derive(Debug)]
pub struct ConfigStore {
    path: Option<PathBuf>,
    file: StoreFile,
}

impl ConfigStore {
    /// Reads `path` (an absent file is an empty store); `None` keeps nothing on disk.
    pub fn open(path: Option<PathBuf>) -> Result<ConfigStore, WorkerError> {
        let file = match &path {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path).map_err(|e| store_error(path, e))?;
                serde_json::from_str(&text).map_err(|e| WorkerError::Store {
                    path: path.display().to_string(),
                    reason: format!(
                        "not a Tidemark connector store ({e}): repair or remove the file \
                         (its connectors are then forgotten)"
                    ),
                })?
            }
            _ => StoreFile::default(),
        };
        Ok(ConfigStore { path, file })
    }

    /// Every stored connector, by name.
    pub fn connectors(&self) -> &BTreeMap<String, StoredConnector> {
        &self.file.connectors
    }

    /// Stores (or replaces) a connector and saves.
    pub fn put(&mut self, name: &str, entry: StoredConnector) -> Result<(), WorkerError> {
        let previous = self.file.connectors.insert(name.to_owned(), entry);
        self.save().inspect_err(|_| {
            // Memory and disk stay the same when the save fails.
            match previous {
                Some(previous) => self.file.connectors.insert(name.to_owned(), previous),
                None => self.file.connectors.remove(name),
            };
        })
    }

    /// Changes a stored connector's target state and saves.
    pub fn set_target(&mut self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        let Some(entry) = self.file.connectors.get(name).cloned() else {
            return Err(WorkerError::NotFound(name.to_owned()));
        };
        self.put(name, StoredConnector { target, ..entry })
    }

    /// Forgets a connector and saves.
    pub fn remove(&mut self, name: &str) -> Result<(), WorkerError> {
        if let Some(previous) = self.file.connectors.remove(name)
            && let Err(error) = self.save()
        {
            self.file.connectors.insert(name.to_owned(), previous);
            return Err(error);
        }
        Ok(())
    }

    fn save(&self) -> Result<(), WorkerError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let text = serde_json::to_string_pretty(&self.file).map_err(|e| WorkerError::Store {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        write_atomically(path, text.as_bytes()).map_err(|e| store_error(path, e))
    }
}

fn store_error(path: &Path, error: std::io::Error) -> WorkerError {
    WorkerError::Store {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> StoredConnector {
        StoredConnector {
            config: BTreeMap::from([("database.hostname".to_owned(), key.to_owned())]),
            target: TargetState::Started,
        }
    }

    #[test]
    fn connectors_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/connectors.json");
        let mut store = ConfigStore::open(Some(path.clone())).unwrap();
        store.put("a", entry("h1")).unwrap();
        store.put("b", entry("h2")).unwrap();
        store.set_target("a", TargetState::Paused).unwrap();
        store.remove("b").unwrap();
        let reopened = ConfigStore::open(Some(path)).unwrap();
        assert_eq!(reopened.connectors().len(), 1);
        assert_eq!(reopened.connectors()["a"].target, TargetState::Paused);
        assert_eq!(reopened.connectors()["a"].config["database.hostname"], "h1");
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connectors.json");
        std::fs::write(&path, "{not json").unwrap();
        let error = ConfigStore::open(Some(path.clone()))
            .unwrap_err()
            .to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("repair or remove"), "{error}");
    }

    #[test]
    fn unknown_connectors_cannot_change_state() {
        let mut store = ConfigStore::open(None).unwrap();
        assert!(matches!(
            store.set_target("x", TargetState::Stopped),
            Err(WorkerError::NotFound(_))
        ));
    }
}
