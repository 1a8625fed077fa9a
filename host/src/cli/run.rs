//! `tidemark run CONFIG… [--set key=value]…`: runs a connector until interrupted.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tidemark::config::{Properties, WorkerConfig};
use tidemark::pipeline::connector;
use tokio::sync::watch;

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

/// Runs the connector until it ends, fails, or SIGINT/SIGTERM asks it to stop (after
/// which it flushes the sink and commits its offsets).
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut props = Properties::load(&args.configs, &args.sets)?;
    // The plugin directory: `plugin.path`, else $TIDEMARK_PLUGIN_PATH, else `plugins/` next
    // to the first config file when there is one.
    if let Some(dir) = std::env::var_os("TIDEMARK_PLUGIN_PATH") {
        props.set_default("plugin.path", dir.to_string_lossy());
    } else if let Some(dir) = args.configs[0]
        .parent()
        .map(|p| p.join("plugins"))
        .filter(|d| d.is_dir())
    {
        props.set_default("plugin.path", dir.to_string_lossy());
    }
    let shutdown_timeout = WorkerConfig::shutdown_timeout(&props)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (stop, shutdown) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping: flushing and committing offsets");
            let _ = stop.send(true);
            // A stop must not hang on a server that is down: past the graceful timeout the
            // process ends without the final flush (what was not committed comes again).
            // A thread of its own, so a starved runtime cannot delay it.
            std::thread::spawn(move || {
                std::thread::sleep(shutdown_timeout);
                tracing::error!(
                    timeout_ms = shutdown_timeout.as_millis() as u64,
                    "the connector did not stop within task.shutdown.graceful.timeout.ms: exiting \
                     without the final flush and commit (uncommitted changes are delivered again \
                     on the next start)"
                );
                std::process::exit(3);
            });
        });
        connector::run(props, shutdown).await
    })?;
    Ok(())
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
