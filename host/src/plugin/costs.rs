//! What each step of a transform chain costs, counted across hot reloads (the pipeline hands
//! the same counters to every chain that replaces the one before): time spent in the
//! plugin, records given to it, and calls that failed. Shown per connector and transform in
//! `/metrics` (`tidemark_plugin_seconds_total`, `…_records_total`, `…_errors_total`).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// The counters of one step.
#[derive(Debug)]
pub struct StepCost {
    /// The transform's name (`transforms.<name>`), or the plugin's when it has none.
    pub transform: String,
    /// The plugin's name.
    pub plugin: String,
    /// Time spent in the step, in nanoseconds.
    pub nanos: AtomicU64,
    /// Records given to the step.
    pub records: AtomicU64,
    /// Calls that failed (a trap, a limit, a refused record).
    pub errors: AtomicU64,
}

/// The counters of every step of a chain, in order.
#[derive(Debug, Default)]
pub struct ChainCosts {
    pub steps: Vec<StepCost>,
}

impl ChainCosts {
    /// Counters for steps named (transform, plugin).
    pub fn new(steps: impl IntoIterator<Item = (String, String)>) -> ChainCosts {
        ChainCosts {
            steps: steps
                .into_iter()
                .map(|(transform, plugin)| StepCost {
                    transform,
                    plugin,
                    nanos: AtomicU64::new(0),
                    records: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// Counts one call of step `index` with `records` records.
    pub(super) fn record(&self, index: usize, records: usize, took: Duration, failed: bool) {
        let Some(step) = self.steps.get(index) else {
            return;
        };
        step.nanos
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        step.records.fetch_add(records as u64, Relaxed);
        if failed {
            step.errors.fetch_add(1, Relaxed);
        }
    }
}
