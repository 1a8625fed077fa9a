//! A chain of transform plugins run in one store: the pipeline's unit of plugin execution.
//!
//! A batch is put once into the store's resource table; each plugin in turn sees it through
//! the `batch` resource, edits it in place and returns one outcome per record; the host
//! applies the outcomes before the next plugin. A plugin that traps or hits a limit makes the
//! call fail with an error naming it; the store is then rebuilt for the next batch, because a
//! trapped component instance cannot be entered again.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime::{Store, Trap};

use super::batch::Batch;
use super::bindings::{Emitted, Outcome, Transform};
use super::convert;
use super::costs::ChainCosts;
use super::limits::Limits;
use super::predicate::Condition;
use super::runtime::{EPOCH_TICK, Kind, Runtime, Tier, World};
use super::state::{PluginContext, StoreState};
use super::stderr::StderrTail;
use super::{Plugin, PluginError};
use crate::event::Record;

/// One step of a chain: a plugin, its configuration (the `transforms.<name>.*` properties
/// without the prefix, including the host's `plugin.*` limits and grants), and the predicate
/// that selects the records it applies to.
#[derive(Debug, Clone)]
pub struct Step {
    pub plugin: Arc<Plugin>,
    pub config: BTreeMap<String, String>,
    pub condition: Option<Condition>,
    /// The transform's name in the configuration (`transforms.<name>`), for messages.
    pub name: Option<String>,
}

impl Step {
    /// A step that applies to every record.
    pub fn new(plugin: Arc<Plugin>, config: BTreeMap<String, String>) -> Step {
        Step {
            plugin,
            config,
            condition: None,
            name: None,
        }
    }
}

struct Prepared {
    plugin: Arc<Plugin>,
    /// How messages name the step: the plugin, and the transform when it has a name.
    label: String,
    limits: Limits,
    config: Vec<(String, String)>,
    condition: Option<Condition>,
}

struct Live {
    store: Store<StoreState>,
    instances: Vec<Transform>,
}

/// Transform plugins applied in order to batches of records.
pub struct Chain {
    runtime: Runtime,
    /// The steps as given, to build the chain again with another version of a plugin.
    spec: Vec<Step>,
    steps: Vec<Prepared>,
    live: Option<Live>,
    /// Where each step's cost is counted.
    costs: Option<Arc<ChainCosts>>,
}

impl Chain {
    /// Instantiates and configures every step; configuration errors surface here.
    pub fn new(runtime: &Runtime, steps: Vec<Step>) -> Result<Chain, PluginError> {
        let spec = steps.clone();
        let steps = steps
            .into_iter()
            .map(|step| {
                let label = match &step.name {
                    Some(name) => format!("{} (transforms.{name})", step.plugin.name),
                    None => step.plugin.name.clone(),
                };
                if step.plugin.world != World::Transform {
                    return Err(PluginError::WrongWorld {
                        plugin: label,
                        found: format!("{} plugin", step.plugin.world.name()),
                        expected: "transform",
                        wanted: super::bindings::exports::TRANSFORMER,
                    });
                }
                let (limits, config) = Limits::from_config(&label, &step.config)?;
                let prefix = match &step.name {
                    Some(name) => format!("transforms.{name}."),
                    None => String::new(),
                };
                super::declared::check_declared(&step.plugin, &label, &prefix, &config)?;
                Ok(Prepared {
                    plugin: step.plugin,
                    label,
                    limits,
                    config,
                    condition: step.condition,
                })
            })
            .collect::<Result<Vec<Prepared>, _>>()?;
        // One store runs the whole chain, so all steps run on one engine: the metered one
        // when any step has a fuel budget (the others with unlimited fuel), and baseline code
        // while any step's plugin has only that (a new version, until its optimized code is
        // ready).
        let kind = Kind {
            tier: if steps.iter().any(|s| s.plugin.tier == Tier::Baseline) {
                Tier::Baseline
            } else {
                Tier::Optimized
            },
            metered: steps.iter().any(|s| s.limits.fuel.is_some()),
        };
        let steps = steps
            .into_iter()
            .map(|s| {
                Ok(Prepared {
                    plugin: runtime.compiled_for(&s.plugin, kind)?,
                    ..s
                })
            })
            .collect::<Result<Vec<_>, PluginError>>()?;
        let mut chain = Chain {
            runtime: runtime.clone(),
            spec,
            steps,
            live: None,
            costs: None,
        };
        chain.live = Some(chain.instantiate()?);
        Ok(chain)
    }

    /// New counters for this chain's steps (see [`Chain::count_costs_in`]).
    pub fn new_costs(&self) -> ChainCosts {
        ChainCosts::new(self.spec.iter().map(|s| {
            (
                s.name.clone().unwrap_or_else(|| s.plugin.name.clone()),
                s.plugin.name.clone(),
            )
        }))
    }

    /// Counts each step's time, records and failed calls in `costs` from now on.
    pub fn count_costs_in(&mut self, costs: Arc<ChainCosts>) {
        self.costs = Some(costs);
    }

    /// Drops the chain's instances and their memory, keeping what builds them: the next batch
    /// instantiates and configures them again. For a chain kept only to build others from.
    pub fn release_instances(&mut self) {
        self.live = None;
    }

    /// Whether a step of the chain runs the plugin of this name.
    pub fn uses(&self, plugin: &str) -> bool {
        self.spec.iter().any(|s| s.plugin.name == plugin)
    }

    /// A new chain, instantiated and configured, with `plugin` in place of every step that
    /// runs a plugin of its name.
    pub fn with_plugin(&self, plugin: &Arc<Plugin>) -> Result<Chain, PluginError> {
        let steps = self
            .spec
            .iter()
            .map(|s| Step {
                plugin: if s.plugin.name == plugin.name {
                    plugin.clone()
                } else {
                    s.plugin.clone()
                },
                ..s.clone()
            })
            .collect();
        Chain::new(&self.runtime, steps)
    }

    /// Compiles the chain's plugins for its baseline engine ahead of need (errors are left for
    /// when the code is needed), so that a new version arriving with baseline code runs
    /// beside them without compiling them first. Returns when done; the compile itself runs on
    /// the low-priority compile pool.
    ///
    /// Call it from a thread outside that pool (the reloader's): a compile holds its plugin's
    /// compile lock while the pool runs its functions, and a pool thread waiting for that
    /// lock would deadlock the pool, since rayon's work stealing can hand the waiting job to
    /// the very thread that holds the lock.
    pub fn warm_baseline(&self) {
        let kind = Kind {
            tier: Tier::Baseline,
            metered: self.steps.iter().any(|s| s.limits.fuel.is_some()),
        };
        for step in &self.steps {
            if let Err(error) = self.runtime.compiled_for(&step.plugin, kind) {
                tracing::debug!(plugin = %step.label, %error, "no baseline code for the plugin");
            }
        }
    }

    /// The version (content hash) and code tier of the plugin of this name as the chain was
    /// given it, if a step runs it.
    pub fn version_of(&self, plugin: &str) -> Option<(&str, Tier)> {
        self.spec
            .iter()
            .find(|s| s.plugin.name == plugin)
            .map(|s| (s.plugin.hash.as_str(), s.plugin.tier))
    }

    /// The names of the chain's plugins, in order.
    pub fn plugin_names(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|s| s.plugin.name.as_str())
    }

    fn instantiate(&self) -> Result<Live, PluginError> {
        let engine = match self.steps.first() {
            Some(step) => self.runtime.engine_for(&step.plugin)?,
            None => self.runtime.engine().clone(),
        };
        let mut store = Store::new(&engine, StoreState::new());
        store.limiter(|s| s);
        let mut instances = Vec::with_capacity(self.steps.len());
        for (i, step) in self.steps.iter().enumerate() {
            let name = &step.label;
            let stderr = StderrTail::new();
            let wasi = step
                .limits
                .wasi(&stderr)
                .map_err(|reason| PluginError::Setting {
                    plugin: name.clone(),
                    key: super::limits::DIRS_KEY.into(),
                    value: String::new(),
                    reason,
                })?;
            store
                .data_mut()
                .plugins
                .push(PluginContext::new(name, wasi, stderr, &step.limits));
            store.data_mut().current = i;
            arm(&mut store, &step.limits);
            let pre = step
                .plugin
                .transform
                .as_ref()
                .ok_or_else(|| PluginError::WrongWorld {
                    plugin: name.clone(),
                    found: "sink plugin".into(),
                    expected: "transform",
                    wanted: super::bindings::exports::TRANSFORMER,
                })?;
            let instance = pre
                .instantiate(&mut store)
                .map_err(|e| classify(&mut store, i, &step.limits, e))?;
            arm(&mut store, &step.limits);
            let configured = instance
                .tidemark_plugin_transformer()
                .call_configure(&mut store, &step.config)
                .map_err(|e| classify(&mut store, i, &step.limits, e))?;
            configured.map_err(|message| PluginError::Configure {
                plugin: name.clone(),
                message,
            })?;
            instances.push(instance);
        }
        Ok(Live { store, instances })
    }

    /// Runs a batch through every plugin. On error the batch is not returned; the caller
    /// decides (stop, or retry, or dead-letter). After a trap or a limit the next call starts
    /// from fresh instances; a record a plugin refused (`fail`) leaves its instance usable.
    pub fn process(&mut self, records: Vec<Record>) -> Result<Vec<Record>, PluginError> {
        if records.is_empty() || self.steps.is_empty() {
            return Ok(records);
        }
        let mut live = match self.live.take() {
            Some(live) => live,
            None => self.instantiate()?,
        };
        let result = self.run(&mut live, records);
        if matches!(result, Ok(_) | Err(PluginError::RecordFailed { .. })) {
            self.live = Some(live);
        }
        result
    }

    fn run(&self, live: &mut Live, mut records: Vec<Record>) -> Result<Vec<Record>, PluginError> {
        for (i, (instance, step)) in live.instances.iter().zip(&self.steps).enumerate() {
            let (count, started) = (records.len(), std::time::Instant::now());
            let result = run_step(&mut live.store, instance, i, step, records);
            if let Some(costs) = &self.costs {
                costs.record(i, count, started.elapsed(), result.is_err());
            }
            records = result?;
            if records.is_empty() {
                break;
            }
        }
        Ok(records)
    }
}

/// Runs one step over a batch: every record, or those its predicate selects (the others
/// keep their places around what the plugin makes of the selected ones).
fn run_step(
    store: &mut Store<StoreState>,
    instance: &Transform,
    i: usize,
    step: &Prepared,
    records: Vec<Record>,
) -> Result<Vec<Record>, PluginError> {
    Ok(match &step.condition {
        None => call(store, instance, i, step, records)?,
        Some(condition) => {
            let selected: Vec<bool> = records.iter().map(|r| condition.applies(r)).collect();
            if selected.iter().all(|s| *s) {
                call(store, instance, i, step, records)?
            } else if !selected.iter().any(|s| *s) {
                records
            } else {
                // Only the selected records go to the plugin; the others keep their
                // places around what it makes of the selected ones.
                let (chosen, others): (Vec<_>, Vec<_>) = records
                    .into_iter()
                    .zip(selected.iter().copied())
                    .partition(|(_, s)| *s);
                let chosen = chosen.into_iter().map(|(r, _)| r).collect();
                let mut results = call_grouped(store, instance, i, step, chosen)?.into_iter();
                let mut others = others.into_iter().map(|(r, _)| r);
                let mut merged = Vec::with_capacity(selected.len());
                for s in selected {
                    if s {
                        merged.extend(results.next().unwrap_or_default());
                    } else {
                        merged.extend(others.next());
                    }
                }
                merged
            }
        }
    })
}

/// Runs one plugin over a batch and applies its outcomes.
fn call(
    store: &mut Store<StoreState>,
    instance: &Transform,
    index: usize,
    step: &Prepared,
    records: Vec<Record>,
) -> Result<Vec<Record>, PluginError> {
    let (mut records, outcomes) = process(store, instance, index, step, records)?;
    apply(&mut records, outcomes, &step.label)?;
    Ok(records)
}

/// Runs one plugin over a batch; returns what became of each input record, in order.
fn call_grouped(
    store: &mut Store<StoreState>,
    instance: &Transform,
    index: usize,
    step: &Prepared,
    records: Vec<Record>,
) -> Result<Vec<Vec<Record>>, PluginError> {
    let (records, outcomes) = process(store, instance, index, step, records)?;
    check_count(&records, &outcomes, &step.label)?;
    records
        .into_iter()
        .zip(outcomes)
        .enumerate()
        .map(|(i, (record, outcome))| {
            let mut out = Vec::new();
            emit(&mut out, i, record, outcome, &step.label)?;
            Ok(out)
        })
        .collect()
}

/// Puts the records in the store, calls the plugin, and takes them back with its outcomes.
fn process(
    store: &mut Store<StoreState>,
    instance: &Transform,
    index: usize,
    step: &Prepared,
    records: Vec<Record>,
) -> Result<(Vec<Record>, Vec<Outcome>), PluginError> {
    let handle = store
        .data_mut()
        .table
        .push(Batch { records })
        .map_err(|e| PluginError::Runtime(e.to_string()))?;
    store.data_mut().current = index;
    arm(store, &step.limits);
    let outcomes = instance
        .tidemark_plugin_transformer()
        .call_process(&mut *store, Resource::new_borrow(handle.rep()))
        .map_err(|e| classify(store, index, &step.limits, e))?;
    let batch = store
        .data_mut()
        .table
        .delete(handle)
        .map_err(|e| PluginError::Runtime(e.to_string()))?;
    Ok((batch.records, outcomes))
}

/// Sets a store's budget for the next call into a plugin: its time limit and, on a metered
/// store, its fuel (unlimited for a plugin without `plugin.fuel`).
pub(super) fn arm(store: &mut Store<StoreState>, limits: &Limits) {
    store.set_epoch_deadline(ticks(limits));
    if store.get_fuel().is_ok() {
        // Cannot fail: the store counts fuel, as get_fuel just showed.
        let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
    }
}

/// Epoch ticks for a plugin's per-batch time limit (rounded up, plus one because the current
/// tick may be nearly over).
fn ticks(limits: &Limits) -> u64 {
    limits.timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64 + 1
}

fn check_count(records: &[Record], outcomes: &[Outcome], label: &str) -> Result<(), PluginError> {
    if outcomes.len() != records.len() {
        return Err(PluginError::BadOutput {
            plugin: label.to_owned(),
            reason: format!(
                "{} outcomes for {} records; process must return one outcome per record",
                outcomes.len(),
                records.len()
            ),
        });
    }
    Ok(())
}

/// Applies one plugin's outcomes to the batch.
fn apply(
    records: &mut Vec<Record>,
    outcomes: Vec<Outcome>,
    label: &str,
) -> Result<(), PluginError> {
    check_count(records, &outcomes, label)?;
    if outcomes.iter().all(|o| matches!(o, Outcome::Keep)) {
        return Ok(());
    }
    let mut out = Vec::with_capacity(records.len());
    for (i, (record, outcome)) in std::mem::take(records)
        .into_iter()
        .zip(outcomes)
        .enumerate()
    {
        emit(&mut out, i, record, outcome, label)?;
    }
    *records = out;
    Ok(())
}

/// Appends what one outcome makes of input record `i`; a `fail` outcome is the record's error.
fn emit(
    out: &mut Vec<Record>,
    i: usize,
    record: Record,
    outcome: Outcome,
    label: &str,
) -> Result<(), PluginError> {
    let bad = |reason: String| PluginError::BadOutput {
        plugin: label.to_owned(),
        reason,
    };
    match outcome {
        Outcome::Keep => out.push(record),
        Outcome::Drop => {}
        Outcome::Fail(reason) => {
            return Err(PluginError::RecordFailed {
                plugin: label.to_owned(),
                topic: record.topic,
                reason,
            });
        }
        Outcome::Emit(emitted) => {
            let mut current = Some(record);
            for e in emitted {
                match e {
                    Emitted::Current => out.push(current.take().ok_or_else(|| {
                        bad(format!(
                            "outcome {i} emits the current record more than once"
                        ))
                    })?),
                    Emitted::Created(data) => out.push(
                        convert::record_from_wit(data)
                            .map_err(|e| bad(format!("record created for input {i}: {e}")))?,
                    ),
                }
            }
        }
    }
    Ok(())
}

/// Turns a wasmtime error from a call into plugin `index` into the error the user sees.
pub(super) fn classify(
    store: &mut Store<StoreState>,
    index: usize,
    limits: &Limits,
    error: wasmtime::Error,
) -> PluginError {
    let state = store.data_mut();
    let plugin = state.plugins[index].name.clone();
    let stderr = state.plugins[index].stderr.take();
    if let Some((who, limit_bytes)) = state.memory_refused.take()
        && who == index
    {
        return PluginError::MemoryLimit {
            plugin,
            limit_bytes,
            stderr,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Timeout {
            plugin,
            limit_ms: limits.timeout.as_millis() as u64,
        },
        Some(Trap::StackOverflow) => PluginError::StackOverflow { plugin },
        Some(Trap::OutOfFuel) => PluginError::OutOfFuel {
            plugin,
            fuel: limits.fuel.unwrap_or(u64::MAX),
        },
        Some(trap) => PluginError::Trap {
            plugin,
            trap: trap.to_string(),
            stderr,
        },
        None => PluginError::Trap {
            plugin,
            trap: format!("{error:#}"),
            stderr,
        },
    }
}
