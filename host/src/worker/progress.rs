//! Snapshot progress: every running snapshot's tables done, rows read (of the database's
//! estimate), rate and time left, logged every [`LOG_INTERVAL`] (Debezium logs its "Exported
//! N of M records" every 10 s too), or, for `tidemark run` on a terminal, drawn as a live
//! progress line.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::Worker;
use crate::sources::metrics::{SnapshotStatus, SnapshotView};

/// How often progress is logged.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Rows per second since the last look at a connector's snapshot.
#[derive(Default)]
struct Rates(HashMap<String, (u64, Instant)>);

impl Rates {
    fn rate(&mut self, name: &str, view: &SnapshotView) -> f64 {
        let now = Instant::now();
        let rows = view.rows();
        let rate = match self.0.get(name) {
            Some(&(before, at)) if now > at && rows >= before => {
                (rows - before) as f64 / (now - at).as_secs_f64()
            }
            _ => 0.0,
        };
        self.0.insert(name.to_owned(), (rows, now));
        rate
    }
}

impl Worker {
    /// Shows the progress of every running snapshot, for as long as the process runs: a live
    /// line when `connector` is given (`tidemark run`) and standard error is a terminal, else
    /// a log line per snapshot every [`LOG_INTERVAL`].
    pub async fn show_snapshot_progress(self, connector: Option<String>) {
        match connector {
            Some(name) if std::io::stderr().is_terminal() => self.draw_progress(&name).await,
            _ => self.log_progress().await,
        }
    }

    async fn log_progress(self) {
        let mut rates = Rates::default();
        let mut tick = tokio::time::interval(LOG_INTERVAL);
        tick.tick().await;
        loop {
            tick.tick().await;
            for (name, _, probe) in self.observations().await {
                let Some(source) = probe.source() else {
                    rates.0.remove(&name);
                    continue;
                };
                let view = source.snapshot.view();
                if view.status != SnapshotStatus::Running {
                    rates.0.remove(&name);
                    continue;
                }
                let rate = rates.rate(&name, &view);
                tracing::info!(
                    connector = %name,
                    tables_done = view.tables_done(),
                    tables = view.tables.len(),
                    rows = view.rows(),
                    estimated_rows = view.estimated_rows,
                    "snapshot progress: {}",
                    view.summary(rate)
                );
            }
        }
    }

    async fn draw_progress(self, name: &str) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} snapshot: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let mut rates = Rates::default();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            // Not created yet (`tidemark run` creates it after this starts).
            let Ok((_, probe)) = self.observe(name).await else {
                continue;
            };
            let Some(source) = probe.source() else {
                continue;
            };
            let view = source.snapshot.view();
            match view.status {
                SnapshotStatus::Running => {
                    let rate = rates.rate(name, &view);
                    bar.set_message(view.summary(rate));
                    bar.tick();
                }
                SnapshotStatus::NotStarted => {}
                _ => {
                    if !bar.is_hidden() && rates.0.contains_key(name) {
                        bar.finish_with_message(format!(
                            "{:?} after {} s: {} rows",
                            view.status,
                            view.duration_s,
                            view.rows()
                        ));
                    }
                    break;
                }
            }
        }
    }
}
