//! Hot reload of a connector's sink plugin. A reloader thread receives the new versions of
//! the plugin directory's plugins; for each version of the connector's sink it checks the
//! world and that `configure` accepts the connector's `sink.config.*` settings, by
//! instantiating and configuring it, and hands the configured instance to the sink. The sink
//! takes it only where the running instance holds nothing unacknowledged: right after a
//! successful flush, or before a write when nothing was written since the last flush. So
//! every record written before the swap was flushed by the old version, and every record after
//! it goes to the new one.
//!
//! A sink gets no canary run (unlike a transform): writing sample records would deliver them
//! to the destination. A version that fails its checks is rejected with one log line naming
//! the connector, and the running version goes on. A version that went live with baseline
//! code is replaced the same way by its optimized code once that is compiled.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::sink::SinkPlugin;
use super::{Lease, Offer, Plugin, PluginDirectory, PluginError, Runtime, Tier};

/// A configured instance of a new version (or of a version's optimized code), waiting for the
/// sink to take it.
struct Swap {
    sink: SinkPlugin,
    /// True for the optimized code of the version running with baseline code.
    optimized: bool,
}

/// The sink's side of hot reload: configured new versions, and the connector's lease on the
/// plugin directory (dropped with the sink, it ends the reloader thread and the connector's
/// use of the directory's plugins).
pub struct SinkReloading {
    swaps: Receiver<Swap>,
    directory: PluginDirectory,
    connector: String,
    _lease: Lease,
}

impl SinkReloading {
    /// The newest configured version waiting to replace the running one, if any. Call it only
    /// where the running instance holds nothing unflushed: the caller drops that instance.
    /// Every version taken is recorded as live in the connector (one that was superseded
    /// before a flush came counts too, as a transform version superseded before a batch does).
    pub fn take(&self) -> Option<SinkPlugin> {
        let mut newest = None;
        while let Ok(swap) = self.swaps.try_recv() {
            let plugin = swap.sink.plugin();
            if swap.optimized {
                tracing::info!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], "sink plugin version runs its optimized code from now on");
                self.directory.report_upgrade(plugin);
            } else {
                tracing::info!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], tier = plugin.tier.name(), "new sink plugin version live after a flush");
                self.directory.report(plugin, &self.connector, Ok(()));
            }
            newest = Some(swap.sink);
        }
        newest
    }
}

/// Starts the reloader of the sink `running` of the connector holding `lease`, configured
/// with `config` (what [`SinkPlugin::new`] took), and watches the leased directory (unless it
/// is watched already).
pub fn start(
    mut lease: Lease,
    running: &SinkPlugin,
    config: BTreeMap<String, String>,
) -> Result<SinkReloading, PluginError> {
    let offers = lease.subscribe();
    let directory = lease.directory().clone();
    let (swaps_tx, swaps) = channel();
    let plugin = running.plugin();
    let reloader = Reloader {
        runtime: directory.runtime().clone(),
        directory: directory.clone(),
        connector: lease.user().to_owned(),
        name: plugin.name.clone(),
        running: (plugin.hash.clone(), plugin.tier),
        config,
        swaps: swaps_tx,
    };
    std::thread::Builder::new()
        .name("tidemark-sink-reload".into())
        .spawn(move || reloader.run(offers))
        .map_err(|e| PluginError::Runtime(e.to_string()))?;
    directory.watch()?;
    Ok(SinkReloading {
        swaps,
        directory,
        connector: lease.user().to_owned(),
        _lease: lease,
    })
}

struct Reloader {
    runtime: Runtime,
    directory: PluginDirectory,
    connector: String,
    /// The sink plugin's name: offers of other plugins are not for this sink.
    name: String,
    /// The version (hash) and code tier handed to the sink last.
    running: (String, Tier),
    config: BTreeMap<String, String>,
    swaps: Sender<Swap>,
}

impl Reloader {
    fn run(mut self, offers: Receiver<Offer>) {
        for offer in offers {
            let sent = match offer {
                Offer::Version(plugin) if plugin.name == self.name => self.new_version(&plugin),
                Offer::Optimized(plugin) if plugin.name == self.name => self.optimized(&plugin),
                _ => true,
            };
            if !sent {
                return;
            }
        }
    }

    /// Configures a new version and hands it to the sink; false once the sink is gone.
    fn new_version(&mut self, plugin: &Arc<Plugin>) -> bool {
        match self.configure(plugin) {
            Ok(sink) => {
                let loaded = sink.plugin();
                self.running = (loaded.hash.clone(), loaded.tier);
                tracing::info!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], "new sink plugin version configured; it goes live after the next flush");
                self.swaps
                    .send(Swap {
                        sink,
                        optimized: false,
                    })
                    .is_ok()
            }
            Err(error) => {
                tracing::error!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], %error, "new sink plugin version rejected by this connector; its running version stays");
                self.directory
                    .report(plugin, &self.connector, Err(error.to_string()));
                true
            }
        }
    }

    /// Hands the sink the optimized code of the version it runs with baseline code (an offer
    /// for any other version is stale and ignored); false once the sink is gone.
    fn optimized(&mut self, plugin: &Arc<Plugin>) -> bool {
        if self.running != (plugin.hash.clone(), Tier::Baseline) {
            return true;
        }
        match SinkPlugin::new(&self.runtime, plugin.clone(), &self.config) {
            Ok(sink) => {
                self.running.1 = Tier::Optimized;
                self.swaps
                    .send(Swap {
                        sink,
                        optimized: true,
                    })
                    .is_ok()
            }
            Err(error) => {
                tracing::error!(connector = %self.connector, plugin = %plugin.name, hash = %&plugin.hash[..12], %error, "the optimized code of the sink plugin version failed to configure; the baseline code keeps running");
                true
            }
        }
    }

    /// Instantiates and configures a version; a baseline version the baseline compiler's
    /// engine cannot instantiate is tried again with its optimized code.
    fn configure(&self, plugin: &Arc<Plugin>) -> Result<SinkPlugin, PluginError> {
        self.runtime.or_optimized(plugin, |p| {
            SinkPlugin::new(&self.runtime, p.clone(), &self.config)
        })
    }
}
