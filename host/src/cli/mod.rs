//! Command-line interface: argument definitions and dispatch.

mod plugin;

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
    /// Work with plugins: run them over records, or look inside them.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Plugin(command) => plugin::run(command),
    }
}
