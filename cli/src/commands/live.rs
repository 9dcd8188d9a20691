//! What the live commands share: settings with their buildspecs, a connection to AWS
//! or the emulator, an engine, a spinner on long calls, and tables.

use std::process::ExitCode;

use spa_aws::{AwsPlatform, ConnectOptions, Connected};
use spa_core::footprint::Buildspecs;
use spa_core::settings::Settings;
use spa_usecases::ports::PortError;
use spa_usecases::{Engine, UseCaseError};

use crate::cli::Live;

/// Settings and buildspecs of a live command.
pub struct Loaded {
    /// The settings, CSV overlays applied.
    pub settings: Settings,
    /// The buildspecs they name, read beside them.
    pub buildspecs: Buildspecs,
    /// The emulator's endpoint, when one is given.
    pub endpoint: Option<String>,
}

/// Loads the settings and the buildspecs they name (errors printed, exit 1).
pub fn load(live: &Live) -> Result<Loaded, ExitCode> {
    let loaded = super::load(&live.settings)?;
    let buildspecs = match spa_aws::files::load_buildspecs(&live.settings, &loaded.settings) {
        Ok(buildspecs) => buildspecs,
        Err(error) => {
            for diagnostic in &error.errors {
                eprintln!("{diagnostic}");
            }
            return Err(ExitCode::FAILURE);
        }
    };
    Ok(Loaded {
        settings: loaded.settings,
        buildspecs,
        endpoint: live.endpoint_url.clone().filter(|e| !e.is_empty()),
    })
}

/// A tokio runtime for one command.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Ok(runtime.block_on(future)),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Connects every adapter (AWS, or the emulator when an endpoint is given).
pub async fn connect(loaded: &Loaded) -> Result<Connected, ExitCode> {
    let mut options = ConnectOptions::for_settings(&loaded.settings, loaded.endpoint.as_deref());
    options.slack_api = std::env::var("SPA_SLACK_API_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let spinner = spinner(match &loaded.endpoint {
        Some(endpoint) => format!("connecting to the emulator at {endpoint}"),
        None => "connecting to AWS".to_owned(),
    });
    let connected = AwsPlatform::connect_with_builds(&loaded.settings, &options).await;
    spinner.finish_and_clear();
    connected.map_err(|error| port_failed(&error))
}

/// The fix of a call made without credentials, said after what is wrong with them.
pub const CREDENTIALS_FIX: &str = "choose a profile (`AWS_PROFILE=<name>`, after \
`aws sso login` for an SSO one), or pass `--endpoint-url http://127.0.0.1:<port>` to run \
against the local emulator";

/// Prints a port error, exit 1; a call without credentials is one line that names
/// the fix ([`CREDENTIALS_FIX`]).
pub fn port_failed(error: &PortError) -> ExitCode {
    match spa_aws::error::no_credentials(error) {
        Some(what) => eprintln!("error: {what}: {CREDENTIALS_FIX}"),
        None => eprintln!("error: {error}"),
    }
    ExitCode::FAILURE
}

/// The engine of a command on `platform`.
pub fn engine<'a, P: spa_usecases::ports::Platform>(
    platform: &'a P,
    loaded: &'a Loaded,
) -> Result<Engine<'a, P>, ExitCode> {
    Engine::new(platform, &loaded.settings)
        .map(|engine| engine.with_buildspecs(loaded.buildspecs.clone()))
        .map_err(fail)
}

/// Prints a use-case error, exit 1 (a port's failure as [`port_failed`] says it when
/// it is a call without credentials).
pub fn fail(error: UseCaseError) -> ExitCode {
    match &error {
        UseCaseError::Port { source, .. } if spa_aws::error::no_credentials(source).is_some() => {
            port_failed(source)
        }
        _ => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A spinner on standard error while a long call runs (hidden when it is not a terminal).
pub fn spinner(message: String) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A table with aligned columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}
