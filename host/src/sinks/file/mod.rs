//! The embedded default sink (`sink.file`): one JSON line `{"topic","key","value","headers"}`
//! per record, keys and values in Debezium's JsonConverter form, to a file or to stdout.
//! Each batch goes out in one write; `flush` syncs the file to disk and gives back the
//! serialization buffers of large batches.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use super::{Sink, SinkError};
use crate::event::{self, JsonOptions, Record};

enum Target {
    Stdout,
    File(File),
}

/// Writes records as JSON lines.
pub struct FileSink {
    name: String,
    target: Target,
    options: JsonOptions,
    buffer: String,
    /// The second half of a large batch, serialized on a helper thread.
    second: String,
}

/// Batches at least this large are serialized by two threads.
const PARALLEL_FROM: usize = 256;

/// Serialization buffers larger than this are given back at each flush: a connector keeps
/// no more than this after a burst (with hundreds of connectors in a worker, a burst's
/// buffers kept by each would add up to gigabytes).
const KEPT_BUFFER: usize = 64 << 10;

fn serialize(out: &mut String, records: &[Record], options: JsonOptions) {
    out.clear();
    for record in records {
        event::write_line(out, record, options);
        out.push('\n');
    }
}

impl FileSink {
    /// Opens the sink: `None` or `-` is stdout, anything else a file appended to.
    pub fn open(path: Option<&str>, options: JsonOptions) -> Result<FileSink, SinkError> {
        let (name, target) = match path {
            None | Some("-") => ("stdout".to_owned(), Target::Stdout),
            Some(path) => {
                let path = PathBuf::from(path);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| SinkError::Open {
                        target: dir.display().to_string(),
                        reason: e.to_string(),
                    })?;
                }
                let open_failed = |e: std::io::Error| SinkError::Open {
                    target: path.display().to_string(),
                    reason: e.to_string(),
                };
                let file = File::options()
                    .create(true)
                    .read(true)
                    .append(true)
                    .open(&path)
                    .map_err(open_failed)?;
                let dropped = drop_torn_tail(&file).map_err(open_failed)?;
                if dropped > 0 {
                    tracing::warn!(
                        file = %path.display(),
                        bytes = dropped,
                        "the file's last line was cut off (the process was killed while writing \
                         it): dropped; its record comes again from the committed offset"
                    );
                }
                (path.display().to_string(), Target::File(file))
            }
        };
        Ok(FileSink {
            name,
            target,
            options,
            buffer: String::new(),
            second: String::new(),
        })
    }

    fn failed(&self, error: std::io::Error) -> SinkError {
        SinkError::Write {
            target: self.name.clone(),
            reason: error.to_string(),
        }
    }
}

/// Cuts a last line without its newline (what a `kill -9` in the middle of a write leaves)
/// off the file, so lines appended after it stay whole; returns how many bytes went.
fn drop_torn_tail(file: &File) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = [0u8; 8192];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        if let Some(i) = part.iter().rposition(|&b| b == b'\n') {
            end = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        file.set_len(end)?;
    }
    Ok(len - end)
}

impl Sink for FileSink {
    fn write(&mut self, records: &[Record]) -> Result<(), SinkError> {
        let options = self.options;
        if records.len() >= PARALLEL_FROM {
            let (first, second) = records.split_at(records.len() / 2);
            let (buffer, other) = (&mut self.buffer, &mut self.second);
            std::thread::scope(|s| {
                s.spawn(|| serialize(other, second, options));
                serialize(buffer, first, options);
            });
        } else {
            serialize(&mut self.buffer, records, options);
            self.second.clear();
        }
        let written = match &mut self.target {
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(self.buffer.as_bytes())
                    .and_then(|()| out.write_all(self.second.as_bytes()))
                    .and_then(|()| out.flush())
            }
            Target::File(file) => file
                .write_all(self.buffer.as_bytes())
                .and_then(|()| file.write_all(self.second.as_bytes())),
        };
        written.map_err(|e| self.failed(e))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        // The batches written since the last flush are done with: keep the buffers small.
        for buffer in [&mut self.buffer, &mut self.second] {
            if buffer.capacity() > KEPT_BUFFER {
                *buffer = String::new();
            } else {
                buffer.clear();
            }
        }
        match &self.target {
            Target::Stdout => Ok(()),
            Target::File(file) => file.sync_data().map_err(|e| self.failed(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Data, Value};

    #[test]
    fn a_line_cut_off_by_a_crash_is_dropped_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":2}\n{\"c\":").unwrap();
        let record = Record::new("t", None, Some(Data::schemaless(Value::Int32(1))));
        let mut sink = FileSink::open(path.to_str(), JsonOptions::default()).unwrap();
        sink.write(std::slice::from_ref(&record)).unwrap();
        sink.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(&lines[..2], ["{\"a\":1}", "{\"b\":2}"]);
        assert!(lines[2].starts_with("{\"topic\":\"t\""), "{text}");
        // A file of one cut-off line is emptied; whole files are left alone.
        std::fs::write(&path, "{\"x\"").unwrap();
        drop(FileSink::open(path.to_str(), JsonOptions::default()).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        std::fs::write(&path, "{}\n").unwrap();
        drop(FileSink::open(path.to_str(), JsonOptions::default()).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
    }

    #[test]
    fn appends_json_lines_and_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/events.jsonl");
        let path_text = path.to_str().unwrap();
        let record = Record::new("t", None, Some(Data::schemaless(Value::Int32(1))));
        for _ in 0..2 {
            let mut sink = FileSink::open(Some(path_text), JsonOptions::default()).unwrap();
            sink.write(std::slice::from_ref(&record)).unwrap();
            sink.flush().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"topic\":\"t\",\"key\":null,\"value\":{\"schema\":null,\"payload\":1},\"headers\":[]}\n"
                .repeat(2)
        );
    }

    #[test]
    fn a_flush_gives_back_the_buffers_of_a_large_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let records = vec![Record::new("t", None, Some(Data::schemaless(Value::Int32(1)))); 4096];
        let mut sink = FileSink::open(path.to_str(), JsonOptions::default()).unwrap();
        sink.write(&records).unwrap();
        assert!(sink.buffer.capacity() + sink.second.capacity() > KEPT_BUFFER);
        sink.flush().unwrap();
        assert_eq!(sink.buffer.capacity() + sink.second.capacity(), 0);
        sink.write(&records[..1]).unwrap();
        sink.flush().unwrap();
        assert!(sink.buffer.capacity() <= KEPT_BUFFER);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().lines().count(),
            4097
        );
    }

    #[test]
    fn an_unwritable_path_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("events.jsonl");
        let err = FileSink::open(path.to_str(), JsonOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("cannot open the sink"), "{err}");
    }
}
