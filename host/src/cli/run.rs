//! `tidemark run CONFIG… [--set key=value]…`: runs one connector until interrupted, and
//! `tidemark worker WORKER.properties [CONNECTOR…] [--set key=value]…`: a worker whose
//! connectors are managed over Kafka Connect's REST API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tidemark::api::loggers::Loggers;
use tidemark::api::{self, ApiState};
use tidemark::config::cluster::{self, ClusterConfig};
use tidemark::config::{ConfigError, Properties, WorkerConfig, worker};
use tidemark::worker::Worker;

/// Runs a connector: Debezium connector configs (Kafka Connect JSON or `.properties`) and
/// worker properties, merged in order.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config files; later files override earlier ones.
    #[arg(required = true, value_name = "CONFIG")]
    configs: Vec<PathBuf>,
    /// A property `key=value` overriding the files.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Runs a worker: its properties, and connector configs to create (or update) at start.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The worker's properties (Connect's worker config): every connector's defaults.
    #[arg(value_name = "WORKER.properties")]
    worker: PathBuf,
    /// Connector configs (Kafka Connect JSON with a name, or `.properties` with `name`).
    #[arg(value_name = "CONNECTOR")]
    connectors: Vec<PathBuf>,
    /// A worker property `key=value` overriding the file.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Where a worker listens when `listeners` is not set: Connect's port, on loopback only.
const DEFAULT_LISTENER: &str = "http://127.0.0.1:8083";

/// The plugin directory: `plugin.path`, else $TIDEMARK_PLUGIN_PATH, else `plugins/` next to
/// `first_config` when there is one.
fn default_plugin_path(props: &mut Properties, first_config: &Path) {
    if let Some(dir) = std::env::var_os("TIDEMARK_PLUGIN_PATH") {
        props.set_default("plugin.path", dir.to_string_lossy());
    } else if let Some(dir) = first_config
        .parent()
        .map(|p| p.join("plugins"))
        .filter(|d| d.is_dir())
    {
        props.set_default("plugin.path", dir.to_string_lossy());
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Serves the worker's REST API at `address` once `prepare` has readied the worker; the
/// worker's id is the address it advertises (`rest.advertised.*`, else the address it
/// listens on).
async fn serve(
    address: Option<SocketAddr>,
    props: &Properties,
    loggers: Loggers,
    build: impl FnOnce(String) -> anyhow::Result<Worker>,
    prepare: impl AsyncFnOnce(&Worker) -> anyhow::Result<()>,
) -> anyhow::Result<(Worker, Option<api::Api>)> {
    match address {
        Some(address) => {
            let listener = api::bind(address).await?;
            let bound = listener.local_addr().context("the REST API's address")?;
            let worker = build(WorkerConfig::advertised_id(props, bound)?)?;
            prepare(&worker).await?;
            let api = api::serve(
                listener,
                ApiState {
                    worker: worker.clone(),
                    loggers: Some(loggers),
                },
            )?;
            Ok((worker, Some(api)))
        }
        None => {
            let worker = build("tidemark".into())?;
            prepare(&worker).await?;
            Ok((worker, None))
        }
    }
}

/// Runs the connector until it ends, fails, or SIGINT/SIGTERM asks it to stop (after
/// which it flushes the sink and commits its offsets).
pub fn run(args: RunArgs, loggers: Loggers) -> anyhow::Result<()> {
    let mut props = Properties::load(&args.configs, &args.sets)?;
    default_plugin_path(&mut props, &args.configs[0]);
    let shutdown_timeout = WorkerConfig::shutdown_timeout(&props)?;
    let address = WorkerConfig::rest_address(&props)?;
    // Required here, though a connector read any other way is named `tidemark` by default.
    let name = props
        .get("name")
        .ok_or_else(|| ConfigError::Missing {
            key: "name".into(),
            hint: "the connector's name (Connect's \"name\")".into(),
        })?
        .to_owned();
    runtime()?.block_on(async {
        let (worker, _api) = serve(
            address,
            &props,
            loggers,
            |id| Ok(Worker::new(id, Default::default(), None)?),
            async |_| Ok(()),
        )
        .await?;
        tokio::spawn(worker.clone().poll_databases());
        tokio::spawn(worker.clone().show_snapshot_progress(Some(name.clone())));
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping: flushing and committing offsets");
            exit_after(shutdown_timeout);
            let _ = stop.send(true);
        });
        Ok(worker.run_one(&name, props.to_map(), shutdown).await?)
    })
}

/// Runs a worker until SIGINT/SIGTERM: stored connectors come back, the command line's are
/// created (or updated), others come over REST.
pub fn worker(args: WorkerArgs, loggers: Loggers) -> anyhow::Result<()> {
    let mut props = Properties::load(std::slice::from_ref(&args.worker), &args.sets)?;
    default_plugin_path(&mut props, &args.worker);
    props.set_default("listeners", DEFAULT_LISTENER);
    let shutdown_timeout = WorkerConfig::shutdown_timeout(&props)?;
    let address = WorkerConfig::rest_address(&props)?;
    let cluster = ClusterConfig::from_properties(&props)?;
    // A distributed worker keeps configs in its group's config topic.
    let store = match (&cluster, props.value(&worker::CONFIG_STORAGE)?) {
        (Some(_), _) => None,
        (None, Some(file)) => Some(PathBuf::from(file)),
        (None, None) => {
            Some(Path::new(props.required(&worker::OFFSET_FILE)?).with_file_name("connectors.json"))
        }
    };
    let mut connectors = Vec::new();
    for file in &args.connectors {
        let config = Properties::load(std::slice::from_ref(file), &[])?;
        let name = config
            .get("name")
            .with_context(|| format!("connector config {} has no name", file.display()))?
            .to_owned();
        connectors.push((name, config.to_map()));
    }
    runtime()?.block_on(async {
        let mut defaults = props.to_map();
        if cluster.is_some() {
            defaults.retain(|key, _| !cluster::is_group_key(key));
        }
        // A distributed worker answers REST requests once it has joined its group.
        let join = async |worker: &Worker| -> anyhow::Result<()> {
            match cluster {
                Some(cluster) => {
                    let group = cluster.group_id.clone();
                    worker
                        .join_cluster(&props, cluster)
                        .await
                        .with_context(|| format!("joining worker group {group}"))?;
                    tracing::info!(worker = worker.id(), group, "worker joined its group");
                }
                None => worker.start_stored().await,
            }
            Ok(())
        };
        let (worker, _api) = serve(
            address,
            &props,
            loggers,
            |id| Ok(Worker::new(id, defaults, store.clone())?),
            join,
        )
        .await?;
        tokio::spawn(worker.clone().poll_databases());
        tokio::spawn(worker.clone().show_snapshot_progress(None));
        for (name, config) in connectors {
            worker
                .put_config(&name, config)
                .await
                .with_context(|| format!("connector {name}"))?;
        }
        tracing::info!(worker = worker.id(), store = ?store, "worker running");
        wait_for_signal().await;
        tracing::info!("stopping: flushing and committing every connector's offsets");
        exit_after(shutdown_timeout);
        worker.shutdown().await;
        Ok(())
    })
}

/// A stop must not hang on a server that is down: past the graceful timeout the process
/// ends without the final flush (what was not committed comes again). A thread of its own,
/// so a starved runtime cannot delay it.
fn exit_after(timeout: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        tracing::error!(
            timeout_ms = timeout.as_millis() as u64,
            "the connectors did not stop within task.shutdown.graceful.timeout.ms: exiting \
             without the final flush and commit (uncommitted changes are delivered again on \
             the next start)"
        );
        std::process::exit(3);
    });
}

async fn wait_for_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
