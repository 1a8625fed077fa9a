//! Offsets in a JSON file (`offset.storage.file.filename`): one object whose keys are Connect
//! offset keys and whose values are offset maps, written as compact JSON. Each write replaces
//! the file atomically (write a temporary file, sync it, rename it over the old one, sync the
//! directory).
//!
//! The connectors of one process that name the same file share one store, as the connectors
//! of a Connect worker share its offset store: each write holds every connector's offsets,
//! so no connector's commit overwrites another's.
//!
//! Commits are grouped: a commit updates the shared entries, then waits until a write that
//! started after its change has finished. The first committer to find no write in progress
//! writes the file for everyone who is waiting; commits that arrive meanwhile are covered by
//! the next write. With N connectors committing at once, that is a few writes instead of N
//! (each of N entries). A commit that changes nothing writes nothing.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};

use super::{OffsetError, OffsetMap, OffsetStore, Partition, connect_key, partitions_of};

/// Offsets kept in a local file: a handle on the file's entries, shared by every handle
/// this process opened on the same file.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    shared: Arc<Shared>,
}

/// The file's entries, by Connect offset key.
type Entries = BTreeMap<String, serde_json::Value>;

/// One offsets file and the commits waiting for it to be written.
#[derive(Debug)]
struct Shared {
    /// Where it is written (as the first handle named it).
    path: PathBuf,
    state: Mutex<State>,
    /// Signalled when a write ends.
    written: Condvar,
}

#[derive(Debug)]
struct State {
    entries: Entries,
    /// Changes made to `entries` so far.
    changes: u64,
    /// How many of those changes the file holds.
    durable: u64,
    /// A committer is writing the file.
    writing: bool,
    /// The last write that failed: the changes it was to make durable and why it failed.
    failed: Option<(u64, String)>,
    /// Writes of the file so far.
    #[cfg(test)]
    writes: u64,
}

/// The files open in this process, by path.
fn open_files() -> &'static Mutex<HashMap<PathBuf, Weak<Shared>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Shared>>>> = OnceLock::new();
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
        open.retain(|_, shared| shared.strong_count() > 0);
        if let Some(shared) = open.get(&key).and_then(Weak::upgrade) {
            return Ok(FileOffsetStore { path, shared });
        }
        let shared = Arc::new(Shared {
            path: path.clone(),
            state: Mutex::new(State {
                entries: read(&path)?,
                changes: 0,
                durable: 0,
                writing: false,
                failed: None,
                #[cfg(test)]
                writes: 0,
            }),
            written: Condvar::new(),
        });
        open.insert(key, Arc::downgrade(&shared));
        Ok(FileOffsetStore { path, shared })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, OffsetError> {
        self.shared.state.lock().map_err(|_| OffsetError::Write {
            path: self.path.display().to_string(),
            reason: "another connector panicked while committing to this file".into(),
        })
    }

    /// Stores a partition's value, then returns once the file holds it.
    ///
    /// When the write fails, the value stays in memory (and goes to the file with the next
    /// write that succeeds): an offset is only committed once everything before it reached
    /// the sink, so resuming from it loses nothing.
    fn put(
        &mut self,
        connector: &str,
        partition: &OffsetMap,
        value: serde_json::Value,
    ) -> Result<(), OffsetError> {
        let key = connect_key(connector, partition);
        let mut state = self.lock()?;
        if state.entries.get(&key) == Some(&value) && state.durable == state.changes {
            return Ok(());
        }
        // Unchanged but not yet durable counts as a change too: a write that starts after
        // this point covers it.
        state.entries.insert(key, value);
        state.changes += 1;
        let mine = state.changes;
        loop {
            if state.durable >= mine {
                return Ok(());
            }
            if let Some((upto, reason)) = &state.failed
                && *upto >= mine
            {
                return Err(OffsetError::Write {
                    path: self.shared.path.display().to_string(),
                    reason: reason.clone(),
                });
            }
            if state.writing {
                state = self
                    .shared
                    .written
                    .wait(state)
                    .map_err(|_| OffsetError::Write {
                        path: self.path.display().to_string(),
                        reason: "another connector panicked while committing to this file".into(),
                    })?;
                continue;
            }
            state = self.lead(state)?;
        }
    }

    /// Writes every change made so far for everyone waiting (the lock is released while the
    /// file is written), and wakes them.
    fn lead<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>, OffsetError> {
        let upto = state.changes;
        let text = serde_json::to_vec(&state.entries);
        state.writing = true;
        drop(state);
        // Whatever happens while writing (even a panic), the waiting committers hear of it.
        let mut ending = Ending {
            shared: &self.shared,
            upto,
            outcome: Err("the committer writing the file panicked".into()),
        };
        ending.outcome = text
            .map_err(std::io::Error::other)
            .and_then(|text| write(&self.shared.path, &text))
            .map_err(|e| e.to_string());
        drop(ending);
        self.lock()
    }
}

/// Ends a write: records its outcome and wakes the committers waiting for it.
struct Ending<'a> {
    shared: &'a Shared,
    upto: u64,
    outcome: Result<(), String>,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        let mut state = match self.shared.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.writing = false;
        #[cfg(test)]
        {
            state.writes += 1;
        }
        match std::mem::replace(&mut self.outcome, Ok(())) {
            Ok(()) => {
                state.durable = state.durable.max(self.upto);
                state.failed = None;
            }
            Err(reason) => state.failed = Some((self.upto, reason)),
        }
        drop(state);
        self.shared.written.notify_all();
    }
}

/// The entries of the file at `path` (none when it does not exist).
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

/// Replaces the file at `path` with `text` and a newline, durably.
fn write(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    tmp.write_all(text)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(&dir)?.sync_all()
}

impl OffsetStore for FileOffsetStore {
    fn load(
        &self,
        connector: &str,
        partition: &OffsetMap,
    ) -> Result<Option<OffsetMap>, OffsetError> {
        let state = self.lock()?;
        match state.entries.get(&connect_key(connector, partition)) {
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
        let state = self.lock()?;
        let objects = state
            .entries
            .iter()
            .filter_map(|(key, value)| value.as_object().map(|offset| (key, offset)));
        Ok(partitions_of(objects, connector))
    }

    fn reset(&mut self, connector: &str, partition: &OffsetMap) -> Result<(), OffsetError> {
        // A null value, as Connect's file store keeps a deleted offset.
        self.put(connector, partition, serde_json::Value::Null)
    }

    /// Commits that meet share one write of the file (see [`FileOffsetStore`]).
    fn groups_commits(&self) -> bool {
        true
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

    fn writes(store: &FileOffsetStore) -> u64 {
        store.lock().unwrap().writes
    }

    #[test]
    fn the_file_is_compact_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let partition = map(serde_json::json!({"server": "dbz"}));
        let mut store = FileOffsetStore::open(&path).unwrap();
        store
            .commit("inv", &partition, &map(serde_json::json!({"lsn": 42})))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"[\\\"inv\\\",{\\\"server\\\":\\\"dbz\\\"}]\":{\"lsn\":42}}\n"
        );
    }

    #[test]
    fn a_commit_that_changes_nothing_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let partition = map(serde_json::json!({"server": "dbz"}));
        let mut store = FileOffsetStore::open(dir.path().join("offsets.json")).unwrap();
        let offset = map(serde_json::json!({"lsn": 42}));
        for _ in 0..5 {
            store.commit("inv", &partition, &offset).unwrap();
        }
        assert_eq!(writes(&store), 1);
        store
            .commit("inv", &partition, &map(serde_json::json!({"lsn": 43})))
            .unwrap();
        store.reset("inv", &partition).unwrap();
        store.reset("inv", &partition).unwrap();
        assert_eq!(writes(&store), 3);
    }

    /// Many connectors committing at once: each commit returns only once the file holds it,
    /// and the commits that arrive during a write share the next one.
    #[test]
    fn concurrent_commits_share_writes_and_each_is_durable_on_return() {
        const CONNECTORS: usize = 64;
        const COMMITS: u64 = 20;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let partition = map(serde_json::json!({"server": "dbz"}));
        let first = FileOffsetStore::open(&path).unwrap();
        let start = std::sync::Barrier::new(CONNECTORS);
        std::thread::scope(|s| {
            for c in 0..CONNECTORS {
                let (path, partition, start) = (&path, &partition, &start);
                s.spawn(move || {
                    let mut store = FileOffsetStore::open(path).unwrap();
                    let name = format!("c{c}");
                    let key = connect_key(&name, partition);
                    start.wait();
                    for n in 1..=COMMITS {
                        let offset = map(serde_json::json!({"lsn": n}));
                        store.commit(&name, partition, &offset).unwrap();
                        // Only this connector changes its entry: the file shows this offset.
                        let on_disk: serde_json::Value =
                            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
                        assert_eq!(on_disk[&key], serde_json::json!({"lsn": n}), "{name}");
                    }
                });
            }
        });
        let commits = CONNECTORS as u64 * COMMITS;
        let writes = writes(&first);
        assert!(
            writes <= commits / 4,
            "{writes} writes for {commits} concurrent commits: not grouped"
        );
        let on_disk = read(&path).unwrap();
        assert_eq!(on_disk.len(), CONNECTORS);
        for c in 0..CONNECTORS {
            assert_eq!(
                on_disk[&connect_key(&format!("c{c}"), &partition)],
                serde_json::json!({"lsn": COMMITS})
            );
        }
    }

    #[test]
    fn a_failed_write_is_an_error_and_the_next_write_carries_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("blocker");
        let path = blocker.join("offsets.json");
        let partition = map(serde_json::json!({"server": "dbz"}));
        let mut store = FileOffsetStore::open(&path).unwrap();
        std::fs::write(&blocker, "a file where the offsets' directory should be").unwrap();
        let err = store
            .commit("a", &partition, &map(serde_json::json!({"lsn": 1})))
            .unwrap_err();
        assert!(
            err.to_string().contains("cannot write offsets to")
                && err.to_string().contains("blocker"),
            "{err}"
        );
        std::fs::remove_file(&blocker).unwrap();
        store
            .commit("b", &partition, &map(serde_json::json!({"lsn": 2})))
            .unwrap();
        let on_disk = read(&path).unwrap();
        assert_eq!(on_disk.len(), 2, "{on_disk:?}");
    }
}
