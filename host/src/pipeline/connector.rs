//! A connector assembled from its properties and run: the source named by
//! `connector.class`, the transforms of `transforms`, the sink and the offset store, joined
//! by a [`Pipeline`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::control::Controls;
use super::errors::ErrorPolicy;
use super::keys;
use super::{Pipeline, PipelineError, PipelineInput, PipelineSettings, outputs};
use crate::config::{self, ConfigError, Properties, Secrets, WorkerConfig};
use crate::offsets::{OffsetError, OffsetMap, OffsetStore};
use crate::plugin::predicate::{Condition, Predicate};
use crate::plugin::reload::{self, Reloading};
use crate::plugin::{Chain, PluginError, SharedPlugins, Step, resolve};
use crate::sinks::SinkError;
use crate::sources::SourceContext;
use crate::sources::metrics::{BatchSender, SourceMetrics};
use crate::sources::mysql::{self, Flavor, MySqlConfig, MySqlError};
use crate::sources::postgres::{self, PostgresConfig, PostgresError};
use crate::sources::usage::DatabaseUsage;

/// What stopped a connector.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "connector.class '{0}' is not supported: use io.debezium.connector.postgresql.PostgresConnector (or postgres), io.debezium.connector.mysql.MySqlConnector (or mysql) or io.debezium.connector.mariadb.MariaDbConnector (or mariadb)"
    )]
    UnknownConnector(String),
    #[error("transforms.{transform}: {problem}")]
    Transform { transform: String, problem: String },
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Source(#[from] PostgresError),
    #[error(transparent)]
    MySql(#[from] MySqlError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Offsets(#[from] OffsetError),
    /// An error whose message held a value resolved from a config provider, with that value
    /// shown as its variable.
    #[error("{0}")]
    Redacted(String),
}

impl ConnectorError {
    /// The error, or its message (with its causes) with the resolved values hidden when it
    /// holds any of them.
    fn hiding(self, secrets: &Secrets) -> ConnectorError {
        let mut message = self.to_string();
        let mut cause = std::error::Error::source(&self);
        while let Some(error) = cause {
            message = format!("{message}: {error}");
            cause = error.source();
        }
        match secrets.redact(&message) {
            Cow::Owned(hidden) => ConnectorError::Redacted(hidden),
            Cow::Borrowed(_) => self,
        }
    }
}

/// The predicates of `predicates`, by name.
fn predicates(props: &Properties) -> Result<BTreeMap<String, Predicate>, ConnectorError> {
    let mut predicates = BTreeMap::new();
    for name in props.items(&keys::PREDICATES)? {
        let settings = props.with_prefix(&format!("predicates.{name}."));
        let type_name = settings
            .get("type")
            .ok_or_else(|| ConnectorError::Transform {
                transform: format!("predicates.{name}"),
                problem: "has no type: set predicates.<name>.type".into(),
            })?;
        let predicate = Predicate::from_config(&name, type_name, |key| settings.get(key).cloned())?;
        predicates.insert(name, predicate);
    }
    Ok(predicates)
}

/// A connector's transforms: the chain, and its hot reload when a plugin comes from the
/// plugin directory.
#[derive(Default)]
struct Transforms {
    chain: Option<Chain>,
    reloading: Option<Reloading>,
}

/// The transform chain of `transforms`, with each plugin found (in the process's shared
/// runtime, so compiled once for every connector) and configured, and each
/// `predicate`/`negate` attached; and, when a plugin comes from the plugin directory, the
/// hot reload of the chain.
fn transform_chain(
    props: &Properties,
    plugin_path: Option<&PathBuf>,
    connector: &str,
    plugins: &SharedPlugins,
) -> Result<Transforms, ConnectorError> {
    let names = props.items(&keys::TRANSFORMS)?;
    if names.is_empty() {
        return Ok(Transforms::default());
    }
    let predicates = predicates(props)?;
    let runtime = plugins.runtime()?;
    let dirs = resolve::search_dirs(plugin_path.map(PathBuf::as_path));
    // Held from the first load: a chain that fails to build releases the connector's use.
    let lease = match plugin_path {
        Some(dir) => Some(plugins.directory(dir)?.lease(connector)),
        None => None,
    };
    let mut watched = false;
    let mut steps = Vec::with_capacity(names.len());
    for name in names {
        let mut config = props.with_prefix(&format!("transforms.{name}."));
        let failed = |problem: String| ConnectorError::Transform {
            transform: name.clone(),
            problem,
        };
        let type_name = config.remove("type").ok_or_else(|| {
            failed(
                "has no type: set transforms.<name>.type to a transform class or plugin name"
                    .into(),
            )
        })?;
        let negate = match config.remove("negate").as_deref().map(str::trim) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(other) => return Err(failed(format!("negate={other:?}: expected true or false"))),
        };
        let condition = match config.remove("predicate") {
            Some(predicate) => {
                let predicate = predicates.get(predicate.trim()).cloned().ok_or_else(|| {
                    failed(format!(
                        "predicate '{predicate}' is not in the predicates list"
                    ))
                })?;
                Some(Condition { predicate, negate })
            }
            None if negate => return Err(failed("negate is set but predicate is not".into())),
            None => None,
        };
        let resolved = resolve::find_plugin(&type_name, &dirs)?;
        let plugin = match lease
            .as_ref()
            .filter(|l| l.directory().contains(&resolved.path))
        {
            Some(lease) => {
                watched = true;
                lease.directory().load(&resolved.path, lease)?
            }
            None => runtime.load_file(&resolved.path)?,
        };
        for (key, value) in resolved.implied {
            config.entry(key).or_insert(value);
        }
        steps.push(Step {
            plugin,
            config,
            condition,
            name: Some(name.clone()),
        });
    }
    let chain = Chain::new(&runtime, steps.clone())?;
    let reloading = match lease {
        Some(lease) if watched => Some(reload::start(lease, Chain::new(&runtime, steps)?)?),
        _ => None,
    };
    Ok(Transforms {
        chain: Some(chain),
        reloading,
    })
}

/// The source `connector.class` selects, with its settings. One per connector run, so the
/// variants' sizes differing matters not.
#[allow(clippy::large_enum_variant)]
enum Source {
    Postgres(PostgresConfig),
    MySql(MySqlConfig),
}

/// Checks a connector's properties without connecting to anything (config providers are
/// resolved): the source's settings, the worker's, and the error policy. Every problem
/// found, each naming its property, with resolved values hidden.
pub fn check(props: &Properties) -> Result<(), Vec<ConnectorError>> {
    let (props, secrets) = resolved(props).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    if let Err(error) = source_of(&props) {
        problems.push(error);
    }
    if let Err(error) = WorkerConfig::from_properties(&props) {
        problems.push(error.into());
    }
    if let Err(error) = ErrorPolicy::from_properties(&props) {
        problems.push(error.into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.into_iter().map(|e| e.hiding(&secrets)).collect())
    }
}

/// The properties with config providers resolved and Debezium's old names renamed, and the
/// resolved values (which every error must hide; a renaming error already does).
fn resolved(props: &Properties) -> Result<(Properties, Secrets), ConnectorError> {
    let mut props = props.clone();
    config::resolve_providers(&mut props)?;
    let secrets = props.secrets().clone();
    let def = keys::def_of(&props);
    let props = crate::config::rename_legacy_keys(props, &def)
        .map_err(|e| ConnectorError::from(e).hiding(&secrets))?;
    Ok((props, secrets))
}

/// The source `connector.class` selects, with its settings.
fn source_of(props: &Properties) -> Result<Source, ConnectorError> {
    let class = props.required(&keys::CONNECTOR_CLASS)?;
    if postgres::config::CLASSES.contains(&class) {
        Ok(Source::Postgres(PostgresConfig::from_properties(props)?))
    } else if let Some(flavor) = Flavor::from_class(class) {
        Ok(Source::MySql(MySqlConfig::from_properties(props, flavor)?))
    } else {
        Err(ConnectorError::UnknownConnector(class.to_owned()))
    }
}

/// What the connector the properties describe holds back in its database (see
/// [`crate::sources::usage`]): its Postgres slot's WAL, or, for a binlog reader, the distance
/// from the position its source last read (`source`; `None` before it read any) to the
/// server's end. Errors hide resolved secrets.
pub async fn database_usage(
    props: Properties,
    source: Option<Arc<SourceMetrics>>,
) -> Result<Option<DatabaseUsage>, ConnectorError> {
    let (secrets, source_config) = {
        let (props, secrets) = resolved(&props)?;
        let config = source_of(&props).map_err(|error| error.hiding(&secrets))?;
        (secrets, config)
    };
    let read = async {
        match source_config {
            Source::Postgres(config) => Ok(Some(postgres::usage::slot_usage(&config).await?)),
            Source::MySql(config) => {
                let Some(metrics) = source else {
                    return Ok(None);
                };
                let position = metrics.streaming.position.load(Ordering::Relaxed);
                let file = metrics
                    .streaming
                    .file
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone();
                match file {
                    Some(file) if position >= 0 => {
                        Ok(mysql::usage::binlog_usage(&config, &file, position).await?)
                    }
                    _ => Ok(None),
                }
            }
        }
    };
    read.await
        .map_err(|error: ConnectorError| error.hiding(&secrets))
}

/// Where a connector's offsets are and what they look like: its name, its source partition
/// (`{"server": <topic.prefix>}`) and its source, which decides what a valid offset is.
pub struct OffsetScope {
    pub name: String,
    pub partition: OffsetMap,
    postgres: bool,
    worker: WorkerConfig,
    props: Properties,
}

impl OffsetScope {
    /// The scope of the connector the properties describe (config providers resolved).
    pub fn of(props: &Properties) -> Result<OffsetScope, ConnectorError> {
        let (props, secrets) = resolved(props)?;
        let scope = || -> Result<OffsetScope, ConnectorError> {
            let (name, prefix, postgres) = match source_of(&props)? {
                Source::Postgres(c) => (c.name, c.topic_prefix, true),
                Source::MySql(c) => (c.name, c.topic_prefix, false),
            };
            Ok(OffsetScope {
                name,
                partition: postgres::offset::partition(&prefix),
                postgres,
                worker: WorkerConfig::from_properties(&props)?,
                props: props.clone(),
            })
        };
        scope().map_err(|e| e.hiding(&secrets))
    }

    /// Opens the connector's offset store (blocks while it reads a Kafka offsets topic).
    pub fn open_store(&self) -> Result<Box<dyn OffsetStore>, ConnectorError> {
        outputs::open_store(&self.props, &self.worker, &self.name)
    }

    /// Why `offset` cannot be this connector's offset, if it cannot: a Postgres offset needs
    /// its `lsn`, a MariaDB/MySQL one its binlog `file` and `pos`.
    pub fn check(&self, offset: &OffsetMap) -> Result<(), String> {
        if self.postgres {
            postgres::offset::read(offset).map(|_| ()).ok_or_else(|| {
                "a Postgres offset needs \"lsn\" (a number: the LSN to resume after)".into()
            })
        } else {
            mysql::offset::BinlogOffset::read(offset).map(|_| ()).ok_or_else(|| {
                "a MariaDB/MySQL offset needs \"file\" (a binlog file name) and \"pos\" (a number)"
                    .into()
            })
        }
    }
}

/// Runs the connector the properties describe until `controls.shutdown` turns true, the
/// source ends (`snapshot.mode=initial_only`) or something fails; while `controls.gate` is
/// closed the pipeline holds (paused). Config-provider variables are resolved first; an error
/// never shows what they resolved to. Needs a multi-threaded runtime: the blocking start-up
/// steps run in place of an async worker.
pub async fn run(props: Properties, controls: Controls) -> Result<(), ConnectorError> {
    let (props, secrets) = resolved(&props)?;
    controls.probe.resolved(secrets.clone());
    run_resolved(props, controls)
        .await
        .map_err(|error| error.hiding(&secrets))
}

async fn run_resolved(props: Properties, controls: Controls) -> Result<(), ConnectorError> {
    let source = source_of(&props)?;
    let (name, topic_prefix, plugin, batch_size) = match &source {
        Source::Postgres(c) => (
            c.name.clone(),
            c.topic_prefix.clone(),
            "postgres",
            c.max_batch_size,
        ),
        Source::MySql(c) => (
            c.name.clone(),
            c.topic_prefix.clone(),
            c.flavor.connector(),
            c.max_batch_size,
        ),
    };
    let metrics = Arc::new(SourceMetrics::new(
        plugin,
        &topic_prefix,
        (super::CHANNEL_BATCHES * batch_size) as u64,
    ));
    let worker = WorkerConfig::from_properties(&props)?;
    // Both sources use Debezium's partition `{"server": <topic.prefix>}`.
    let partition = postgres::offset::partition(&topic_prefix);
    // Compiling plugins, creating the Kafka producer (initialising its transactions) and
    // reading the offsets topic block for as long as they take (a broker that is down):
    // they run where they cannot hold up the async workers (the signal handler among them).
    let (transforms, outputs::Outputs { sink, store }, stored) =
        tokio::task::block_in_place(|| {
            let transforms = transform_chain(
                &props,
                worker.plugin_path.as_ref(),
                &name,
                &controls.plugins,
            )?;
            let outputs = outputs::open(&props, &worker, &name, &controls.plugins)?;
            let stored = outputs.store.load(&name, &partition)?;
            Ok::<_, ConnectorError>((transforms, outputs, stored))
        })?;
    let unknown = keys::def_of(&props).unread(&props);
    if !unknown.is_empty() {
        let unknown: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        tracing::warn!(properties = %unknown.join(", "), "ignoring unknown properties");
    }
    let (pipeline, input) = Pipeline::start(
        transforms.chain,
        transforms.reloading,
        sink,
        store,
        PipelineSettings {
            connector: name.clone(),
            partition,
            flush_interval: worker.flush_interval,
            errors: ErrorPolicy::from_properties(&props)?,
            gate: controls.gate.clone(),
            source: Some(metrics.clone()),
        },
    )?;
    controls
        .probe
        .started(pipeline.stats.clone(), metrics.clone());
    let PipelineInput { batches, committed } = input;
    let context = SourceContext {
        stored,
        batches: BatchSender::new(batches, metrics),
        committed,
        shutdown: controls.shutdown,
        reconnects: pipeline.stats.reconnects.clone(),
        signals: controls.probe.signals().clone(),
    };
    let (source_result, closed) = match &source {
        Source::Postgres(config) => {
            let result = postgres::run(config, context).await;
            let closed = matches!(result, Err(PostgresError::PipelineClosed));
            (result.map_err(ConnectorError::from), closed)
        }
        Source::MySql(config) => {
            let result = mysql::run(config, context).await;
            let closed = matches!(result, Err(MySqlError::PipelineClosed));
            (result.map_err(ConnectorError::from), closed)
        }
    };
    let pipeline_result = tokio::task::spawn_blocking(move || pipeline.join())
        .await
        .map_err(|e| PipelineError::Thread(e.to_string()))?;
    match (source_result, pipeline_result) {
        // The pipeline's own failure is the cause when the source saw it stop.
        (Err(_), Err(e)) if closed => Err(e.into()),
        (Err(e), _) => Err(e),
        (Ok(()), result) => Ok(result?),
    }
}
