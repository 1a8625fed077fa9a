//! Hot reload for one pipeline. A reloader thread receives new plugin versions from the
//! plugin directory; for each one its pipeline uses, it builds the chain with the new
//! version (which checks the world and that `configure` accepts the running config), runs a
//! canary batch (a sample of the pipeline's latest records) through it, and only then hands
//! a freshly instantiated chain to the pipeline, which takes it between two batches. A
//! version that fails any check is rejected with one log line; the old one keeps running.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::{Chain, Plugin, PluginDirectory, PluginError};
use crate::event::Record;

/// Records kept from each batch as the canary for new plugin versions.
pub const CANARY_RECORDS: usize = 8;

/// The pipeline's side of hot reload.
pub struct Reloading {
    /// Validated chains, to be swapped in between two batches.
    pub swaps: Receiver<Chain>,
    /// The latest records the pipeline saw, for canary runs.
    pub canary: Arc<Mutex<Vec<Record>>>,
}

/// Starts the reloader of a pipeline whose chain is built like `template`.
pub fn start(directory: &PluginDirectory, template: Chain) -> Result<Reloading, PluginError> {
    let candidates = directory.subscribe();
    let canary = Arc::new(Mutex::new(Vec::new()));
    let (swaps_tx, swaps) = channel();
    let reloader = Reloader {
        directory: directory.clone(),
        template,
        canary: canary.clone(),
        swaps: swaps_tx,
    };
    std::thread::Builder::new()
        .name("tidemark-reload".into())
        .spawn(move || {
            // Validating a version (instantiate, configure, canary) is background work.
            super::priority::lower_current_thread();
            reloader.run(candidates)
        })
        .map_err(|e| PluginError::Runtime(e.to_string()))?;
    directory.watch()?;
    Ok(Reloading { swaps, canary })
}

struct Reloader {
    directory: PluginDirectory,
    /// A chain with the versions currently live, from which new chains are built.
    template: Chain,
    canary: Arc<Mutex<Vec<Record>>>,
    swaps: Sender<Chain>,
}

impl Reloader {
    fn run(mut self, candidates: Receiver<Arc<Plugin>>) {
        for plugin in candidates {
            if !self.template.uses(&plugin.name) {
                continue;
            }
            match self.validate(&plugin) {
                Ok(live) => {
                    if self.swaps.send(live).is_err() {
                        return;
                    }
                    tracing::info!(plugin = %plugin.name, hash = %&plugin.hash[..12], "new plugin version live from the next batch");
                    self.directory.report(&plugin, Ok(()));
                }
                Err(error) => {
                    tracing::error!(plugin = %plugin.name, hash = %&plugin.hash[..12], %error, "new plugin version rejected; the running version stays");
                    self.directory.report(&plugin, Err(error.to_string()));
                }
            }
        }
    }

    /// Checks a new version against the running configuration and the canary, and returns a
    /// fresh chain with it for the pipeline.
    fn validate(&mut self, plugin: &Arc<Plugin>) -> Result<Chain, PluginError> {
        let mut trial = self.template.with_plugin(plugin)?;
        let canary = self
            .canary
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        trial.process(canary)?;
        let live = self.template.with_plugin(plugin)?;
        self.template = trial;
        Ok(live)
    }
}
