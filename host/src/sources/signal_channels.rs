//! The signal channels outside the database: the file channel (`signal.file`, read every
//! `signal.poll.interval.ms`) and the worker's REST API (`POST /connectors/{name}/signals`).
//! Both put signals into the connector's [`SignalInbox`], which the source takes from
//! between transactions, as it takes the source channel's rows from its change stream.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::signals::{Signal, SignalConfig};

/// Signals waiting for a running connector's source.
#[derive(Debug, Default)]
pub struct SignalInbox {
    queue: Mutex<VecDeque<Signal>>,
    ready: Notify,
}

impl SignalInbox {
    /// Queues a signal for the source.
    pub fn push(&self, signal: Signal) {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(signal);
        self.ready.notify_one();
    }

    /// The next signal, waiting for one. Dropping the future loses nothing: a signal stays
    /// queued until this returns it.
    pub async fn recv(&self) -> Signal {
        loop {
            if let Some(signal) = self
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()
            {
                return signal;
            }
            self.ready.notified().await;
        }
    }
}

/// The file and Kafka channels of a connector, running until dropped.
pub struct Channels {
    _file: Option<FileChannel>,
    _kafka: Option<super::signal_kafka::KafkaChannel>,
}

/// Starts the file and Kafka channels `config` turns on, delivering into `inbox`; an error
/// names a channel that cannot start.
pub fn start(config: &SignalConfig, inbox: &Arc<SignalInbox>) -> Result<Channels, String> {
    Ok(Channels {
        _file: config
            .file
            .as_ref()
            .map(|file| watch_file(file.into(), config.poll_interval, inbox.clone())),
        _kafka: match &config.kafka {
            Some(kafka) => Some(super::signal_kafka::watch(kafka, inbox.clone())?),
            None => None,
        },
    })
}

/// Stops the file channel's task when dropped (when the source's run ends).
pub struct FileChannel(tokio::task::JoinHandle<()>);

impl Drop for FileChannel {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the file channel: every `interval`, the lines of `path` become signals in
/// `inbox` and the file is emptied (as Debezium's file channel does).
pub fn watch_file(path: PathBuf, interval: Duration, inbox: Arc<SignalInbox>) -> FileChannel {
    FileChannel(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match take_lines(&path).await {
                Ok(lines) => {
                    for line in lines {
                        match Signal::from_json(&line) {
                            Ok(signal) => inbox.push(signal),
                            Err(problem) => tracing::error!(
                                file = %path.display(),
                                line = %line,
                                "signal refused: {problem}; write one JSON object \
                                 {{\"id\",\"type\",\"data\"}} per line"
                            ),
                        }
                    }
                }
                Err(error) => tracing::warn!(
                    file = %path.display(),
                    %error,
                    "the signal file cannot be read or emptied; trying again"
                ),
            }
        }
    }))
}

/// The non-blank lines of the signal file, which is then emptied. A file that grew while
/// it was read is left as it is, to be read whole at the next poll; a missing file has no
/// lines.
async fn take_lines(path: &Path) -> std::io::Result<Vec<String>> {
    let text = match tokio::fs::read_to_string(path).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let file = tokio::fs::OpenOptions::new().write(true).open(path).await?;
    if file.metadata().await?.len() != text.len() as u64 {
        return Ok(Vec::new());
    }
    file.set_len(0).await?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_channel_takes_each_line_once_and_refuses_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signals.txt");
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"type\":\"log\",\"data\":{\"message\":\"hi\"}}\n\nnot json\n\
             {\"id\":\"b\",\"type\":\"pause-snapshot\"}\n",
        )
        .unwrap();
        let inbox = Arc::new(SignalInbox::default());
        let _channel = watch_file(path.clone(), Duration::from_millis(10), inbox.clone());
        let first = inbox.recv().await;
        assert_eq!(
            (first.id.as_str(), first.data.as_str()),
            ("a", r#"{"message":"hi"}"#)
        );
        assert_eq!(inbox.recv().await.id, "b");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        std::fs::write(&path, "{\"id\":\"c\",\"type\":\"log\"}\n").unwrap();
        assert_eq!(inbox.recv().await.id, "c");
    }
}
