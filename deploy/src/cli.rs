//! The command-line grammar (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// spa keeps personal sandbox AWS accounts sustainable across an AWS Organization.
#[derive(Debug, Parser)]
#[command(name = "spa", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a settings file; print every error as `file:line:col: error: ...`.
    ///
    /// Exit 0 with a one-line summary (and warnings) when the file is valid, 1 otherwise.
    Validate {
        /// The settings file; CSV overlays it names are read beside it.
        #[arg(long, short, value_name = "FILE", default_value = "settings.yaml")]
        settings: PathBuf,
    },
    /// Work with the settings format.
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// Show the resolved settings of every listed organizational unit and account, offline.
    ///
    /// Without the live OU tree, an organizational unit resolves as defaults <- unit, and
    /// an account as defaults <- account: the units an account sits in are not known
    /// offline, so what a listed ancestor unit would add is not shown.
    Plan {
        /// The settings file; CSV overlays it names are read beside it.
        #[arg(long, short, value_name = "FILE", default_value = "settings.yaml")]
        settings: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Where units and accounts sit: a CSV file with a `child,parent` header, one
        /// placement a row. Without it, each resolves as defaults <- itself.
        #[arg(long, value_name = "FILE")]
        tree: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print the JSON Schema of settings files (for editors: `# yaml-language-server: $schema=...`).
    Schema,
}
