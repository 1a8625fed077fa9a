//! Command-line interface: argument definitions and dispatch.

mod build;
mod plugin;
mod run;
mod scaffold;

use clap::{Parser, Subcommand};

/// Change data capture with WebAssembly transforms.
#[derive(Debug, Parser)]
#[command(name = "tidemark", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a connector: snapshot, then stream changes through the transforms to the sink.
    Run(run::RunArgs),
    /// Run a worker: many connectors, managed over Kafka Connect's REST API.
    Worker(run::WorkerArgs),
    /// Work with plugins: run them over records, or look inside them.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Runs the parsed command; `loggers` changes the process's log levels.
pub fn run(cli: Cli, loggers: tidemark::api::loggers::Loggers) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run::run(args, loggers),
        Command::Worker(args) => run::worker(args, loggers),
        Command::Plugin(command) => plugin::run(command),
    }
}
