//! Hot reload for one pipeline. A reloader thread receives new plugin versions from the
//! plugin directory; for each one its pipeline uses, it builds the chain with the new
//! version (which checks the world and that `configure` accepts the running config), runs a
//! canary batch (a sample of the pipeline's latest records) through it, and only then hands
//! a freshly instantiated chain to the pipeline, which takes it between two batches. A
//! version that fails any check is rejected with one log line naming the connector; the old
//! one keeps running in that connector. Every connector using a plugin of a shared directory
//! has its own reloader, so a new version is checked against each one's configuration and
//! records, and goes live in each that accepts it.
//!
//! A version that went live with baseline code is replaced the same way by its optimized
//! code once that is compiled: the same plugin, faster, from the next batch on.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::{Chain, Lease, Offer, Plugin, PluginDirectory, PluginError, Tier};
use crate::event::Record;

/// Records kept from each batch as the canary for new plugin versions.
pub const CANARY_RECORDS: usize = 8;

/// The pipeline's side of hot reload.
pub struct Reloading {
    /// Validated chains, to be swapped in between two batches.
    pub swaps: Receiver<Chain>,
    /// The latest records the pipeline saw, for canary runs.
    pub canary: Arc<Mutex<Vec<Record>>>,
    /// The connector's hold on the plugin directory: dropped with the pipeline, it ends the
    /// reloader thread and the connector's use of the directory's plugins.
    _lease: Lease,
}

/// Starts the reloader of the pipeline of the connector holding `lease`, whose chain is
/// built like `template`, and watches the leased directory (unless it is watched already).
/// The template's instances are released: it only builds new chains, each instantiated
/// afresh, so a connector's memory holds one set of instances (its pipeline's) between
/// reloads.
pub fn start(mut lease: Lease, mut template: Chain) -> Result<Reloading, PluginError> {
    template.release_instances();
    let offers = lease.subscribe();
    let canary = Arc::new(Mutex::new(Vec::new()));
    let (swaps_tx, swaps) = channel();
    let directory = lease.directory().clone();
    let reloader = Reloader {
        directory: directory.clone(),
        connector: lease.user().to_owned(),
        template,
        canary: canary.clone(),
        swaps: swaps_tx,
    };
    std::thread::Builder::new()
        .name("tidemark-reload".into())
        .spawn(move || {
            // Compiled ahead (on the low-priority compile pool), the chain's plugins are ready
            // to run beside a new version's baseline code. Validation (instantiate,
            // configure, canary) runs on this thread at normal priority: the canary runs
            // against the plugin's wall-clock time limit, which a starved thread could exceed
            // on a busy machine.
            reloader.template.warm_baseline();
            reloader.run(offers)
        })
        .map_err(|e| PluginError::Runtime(e.to_string()))?;
    directory.watch()?;
    Ok(Reloading {
        swaps,
        canary,
        _lease: lease,
    })
}

struct Reloader {
    directory: PluginDirectory,
    /// The connector whose pipeline this reloader serves.
    connector: String,
    /// A chain with the versions currently live, from which new chains are built.
    template: Chain,
    canary: Arc<Mutex<Vec<Record>>>,
    swaps: Sender<Chain>,
}

impl Reloader {
    fn run(mut self, offers: Receiver<Offer>) {
        for offer in offers {
            let sent = match offer {
                Offer::Version(plugin) => self.new_version(&plugin),
                Offer::Optimized(plugin) => self.optimized(&plugin),
            };
            if !sent {
                return;
            }
        }
    }

    /// Validates a new version and hands the pipeline a chain with it; false once the
    /// pipeline is gone.
    fn new_version(&mut self, plugin: &Arc<Plugin>) -> bool {
        if !self.template.uses(&plugin.name) {
            return true;
        }
        match self.validate(plugin) {
            Ok(live) => {
                if self.swaps.send(live).is_err() {
                    return false;
                }
                tracing::info!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], tier = plugin.tier.name(), "new plugin version live from the next batch");
                self.directory.report(plugin, &self.connector, Ok(()));
            }
            Err(error) => {
                tracing::error!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], %error, "new plugin version rejected by this connector; its running version stays");
                self.directory
                    .report(plugin, &self.connector, Err(error.to_string()));
            }
        }
        true
    }

    /// Swaps in the optimized code of the version the chain runs with baseline code (an offer
    /// for any other version is stale and ignored); false once the pipeline is gone.
    fn optimized(&mut self, plugin: &Arc<Plugin>) -> bool {
        let runs_baseline = self
            .template
            .version_of(&plugin.name)
            .is_some_and(|(hash, tier)| hash == plugin.hash && tier == Tier::Baseline);
        if !runs_baseline {
            return true;
        }
        match self.validate(plugin) {
            Ok(live) => {
                if self.swaps.send(live).is_err() {
                    return false;
                }
                tracing::info!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], "plugin version runs its optimized code from the next batch");
                self.directory.report_upgrade(plugin);
            }
            Err(error) => {
                tracing::error!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], %error, "the optimized code of the plugin version failed its checks; the baseline code keeps running");
            }
        }
        true
    }

    /// Checks a new version against the running configuration and the canary, and returns a
    /// fresh chain with it for the pipeline. A version with baseline code that cannot run
    /// beside the chain's other plugins (the baseline compiler cannot compile one of them) is
    /// tried again with its optimized code.
    fn validate(&mut self, plugin: &Arc<Plugin>) -> Result<Chain, PluginError> {
        let runtime = self.directory.runtime().clone();
        runtime.or_optimized(plugin, |p| self.try_validate(p))
    }

    fn try_validate(&mut self, plugin: &Arc<Plugin>) -> Result<Chain, PluginError> {
        let mut trial = self.template.with_plugin(plugin)?;
        let canary = self
            .canary
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        trial.process(canary)?;
        let live = self.template.with_plugin(plugin)?;
        trial.release_instances();
        self.template = trial;
        Ok(live)
    }
}
