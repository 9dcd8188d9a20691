//! `spa`, the operator command line. Commands live in `commands/`; this file only
//! parses the arguments and turns the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

mod cli;
mod commands;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // what the engine logs goes to standard error: warnings and errors unless SPA_LOG says
    // more; not the SDK's own warnings about credentials providers (QUIET_SDK_LOGS)
    tracing_subscriber::registry()
        .with(filter(std::env::var("SPA_LOG").ok().as_deref()))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    commands::run(cli)
}

/// The filter of what is logged: `SPA_LOG`'s directives, read by `EnvFilter` (spans and
/// fields too), when it is set and readable; else warnings and errors, with a `Targets`
/// filter: `EnvFilter` compiles regular expressions to read any directive, code and
/// allocations a short-lived command (`spa handle`) would pay for the default.
fn filter(spa_log: Option<&str>) -> Box<dyn Layer<Registry> + Send + Sync> {
    if let Some(filter) = spa_log
        .filter(|directives| !directives.is_empty())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
    {
        return Box::new(filter);
    }
    let quiet = format!("warn,{}", spa_aws::config::QUIET_SDK_LOGS);
    Box::new(
        quiet
            .parse::<Targets>()
            .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::WARN)),
    )
}
