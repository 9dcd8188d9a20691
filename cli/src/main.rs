//! `spa`, the operator command line. Commands live in `commands/`; this file only
//! parses the arguments and turns the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // what the engine logs goes to standard error: warnings and errors unless SPA_LOG says
    // more; not the SDK's own warnings about credentials providers (QUIET_SDK_LOGS)
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPA_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,{}", spa_aws::config::QUIET_SDK_LOGS))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    commands::run(cli)
}
