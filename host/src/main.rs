//! The `tidemark` binary.

mod cli;

/// mimalloc: the source allocates records on one thread and the pipeline frees them on
/// another, which glibc's allocator serves poorly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let initial = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = match tracing_subscriber::EnvFilter::try_new(&initial) {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!(
                "error: RUST_LOG={initial:?} is not a log filter ({error}): use a level such as \
                 info or debug, or directives such as tidemark::pipeline=debug, or unset it"
            );
            return ExitCode::FAILURE;
        }
    };
    // The filter can be replaced while running (`PUT /admin/loggers/{name}`).
    let (filter, reload) = tracing_subscriber::reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        // Values resolved from config providers never reach the log.
        .with(tracing_subscriber::fmt::layer().with_writer(tidemark::config::RedactingStderr))
        .init();
    let apply = move |directive: &str| -> Result<(), String> {
        let filter = tracing_subscriber::EnvFilter::try_new(directive)
            .map_err(|e| format!("invalid log filter {directive:?}: {e}"))?;
        reload.reload(filter).map_err(|e| e.to_string())
    };
    let root = if initial.contains([',', '=']) {
        "info"
    } else {
        initial.as_str()
    };
    let loggers = tidemark::api::loggers::Loggers::new(root, std::sync::Arc::new(apply));
    let args = cli::Cli::parse();
    match cli::run(args, loggers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
