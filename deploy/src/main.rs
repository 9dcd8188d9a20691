//! `spa`, the operator command line. Commands live in `commands/`; this file only
//! parses the arguments and turns the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    commands::run(cli)
}
