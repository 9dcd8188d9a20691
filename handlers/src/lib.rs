//! The glue of the `bootstrap` binary: where the settings come from, which function
//! this is, and one invocation (decode, dispatch, Lambda response, metrics line).
//! The logic lives in `spa_usecases`; this crate only wires it to Lambda.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use spa_core::emf::{Metrics, Unit};
use spa_core::footprint::Buildspecs;
use spa_core::rules::Function;
use spa_core::settings::{MemorySources, Settings};
use spa_usecases::ports::{Clock, Platform};
use spa_usecases::{Engine, HandleError, Handled, Verdict, handle};

/// Why the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `SPA_SETTINGS` is missing.
    #[error(
        "SPA_SETTINGS is not set: give the settings file packaged with the function, or ssm:/parameter-name"
    )]
    NoSettings,
    /// The settings do not load.
    #[error("the settings `{source_name}` do not load:\n{errors}")]
    Settings {
        /// Where they were read.
        source_name: String,
        /// Every error, one a line.
        errors: String,
    },
    /// The settings could not be read.
    #[error("cannot read the settings `{0}`: {1}")]
    Read(String, String),
}

/// Where the settings are: a file packaged with the function, or an SSM parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsSource {
    /// A file (buildspecs it names are read beside it).
    File(PathBuf),
    /// An SSM parameter (`ssm:/spa/settings`); buildspecs are read from `dir`.
    Parameter { name: String, dir: PathBuf },
}

impl SettingsSource {
    /// From `SPA_SETTINGS` (and `LAMBDA_TASK_ROOT` for buildspecs of SSM settings).
    pub fn from_env(value: Option<String>, task_root: Option<String>) -> Result<Self, StartError> {
        let value = value
            .filter(|v| !v.is_empty())
            .ok_or(StartError::NoSettings)?;
        Ok(match value.strip_prefix("ssm:") {
            Some(name) => SettingsSource::Parameter {
                name: name.to_owned(),
                dir: PathBuf::from(task_root.unwrap_or_else(|| ".".to_owned())),
            },
            None => SettingsSource::File(PathBuf::from(value)),
        })
    }
}

/// The errors of settings that do not load, one a line.
fn settings_error(name: &str, error: spa_core::settings::SettingsError) -> StartError {
    StartError::Settings {
        source_name: name.to_owned(),
        errors: error
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Settings and buildspecs from a text read elsewhere (SSM), buildspecs beside `file`.
pub fn settings_from_text(
    name: &str,
    text: &str,
    file: &Path,
) -> Result<(Settings, Buildspecs), StartError> {
    let loaded = spa_core::settings::load(name, text, &MemorySources::new())
        .map_err(|e| settings_error(name, e))?;
    let buildspecs = spa_aws::files::load_buildspecs(file, &loaded.settings)
        .map_err(|e| settings_error(name, e))?;
    Ok((loaded.settings, buildspecs))
}

/// Settings and buildspecs from a packaged file.
pub fn settings_from_file(path: &Path) -> Result<(Settings, Buildspecs), StartError> {
    let name = path.display().to_string();
    let loaded = spa_aws::files::load_settings(path).map_err(|e| settings_error(&name, e))?;
    let buildspecs = spa_aws::files::load_buildspecs(path, &loaded.settings)
        .map_err(|e| settings_error(&name, e))?;
    Ok((loaded.settings, buildspecs))
}

/// The function this process serves: `SPA_FUNCTION`, else the Lambda function's name
/// (`SpaDemo-commands`); `None`: found from each event's shape.
pub fn function_from_env(
    spa_function: Option<String>,
    lambda_name: Option<String>,
) -> Option<Function> {
    spa_function
        .or(lambda_name)
        .and_then(|name| Function::from_function_name(&name))
}

/// One invocation: the Lambda response, or an error that makes Lambda retry the event
/// (and the dead-letter queue keep it once retries are spent). Prints one metrics line.
pub async fn invoke<P: Platform>(
    platform: &P,
    settings: &Settings,
    buildspecs: &Buildspecs,
    function: Option<Function>,
    event: &Value,
) -> Result<Value, HandleError> {
    let started = Instant::now();
    let mut engine = Engine::new(platform, settings)?.with_buildspecs(buildspecs.clone());
    if let Some(function) = function {
        engine = engine.for_function(function);
    }
    let result = within_budget(function, handle(&engine, function, event)).await;
    let mut exception_lines = Vec::new();
    let mut metrics = Metrics::new()
        .dimension("Environment", &settings.environment_identifier)
        .dimension("Function", function.map_or("any", Function::as_str));
    metrics.add("Invocations", 1.0, Unit::Count);
    metrics.add(
        "Duration",
        started.elapsed().as_secs_f64() * 1000.0,
        Unit::Milliseconds,
    );
    match &result {
        Ok(handled) => {
            let outcomes = &handled.dispatched.outcomes;
            let count = |f: &dyn Fn(&spa_usecases::Outcome) -> bool| {
                outcomes.iter().filter(|o| f(o)).count() as f64
            };
            metrics.add("Transitions", count(&|o| o.changed()), Unit::Count);
            metrics.add("BuildsStarted", count(&|o| o.started_build()), Unit::Count);
            metrics.add(
                "Duplicates",
                count(&|o| o.verdict == Verdict::Seen),
                Unit::Count,
            );
            // input refused for who sent it (spa_usecases::trust): an alarm can watch it
            metrics.add(
                "Refused",
                count(&|o| matches!(o.verdict, Verdict::Refused(_))),
                Unit::Count,
            );
            metrics.add(
                "FailedRecords",
                handled.dispatched.batch_item_failures.len() as f64,
                Unit::Count,
            );
            tracing::info!(function = %handled.function, summary = %handled.summary(), "handled");
            exception_lines = exception_metrics(&settings.environment_identifier, outcomes);
        }
        Err(error) => {
            metrics.add("Errors", 1.0, Unit::Count);
            if matches!(error, HandleError::OutOfTime { .. }) {
                metrics.add("OutOfTime", 1.0, Unit::Count);
            }
            tracing::error!(error = %spa_core::events::redact_emails(&error.to_string()), "the invocation failed");
        }
    }
    // what went wrong without failing the reaction: claims not released or not
    // marked done, deliveries resumed, permanent failures sent to a dead-letter queue
    for (name, count) in engine.troubles() {
        metrics.add(name, f64::from(count), Unit::Count);
    }
    let now = platform.clock().now();
    println!("{}", metrics.to_line(now));
    for line in &exception_lines {
        println!("{}", line.to_line(now));
    }
    result.map(|handled| handled.response())
}

/// Runs `work` until the function's budget less one SDK operation
/// ([`spa_core::rules::timeouts`]): past that, no call could end within the lease of
/// the claims it holds, so the invocation stops and says so (the event comes back,
/// and the next delivery resumes once the leases run out). Without a function (a
/// local run), no limit.
async fn within_budget<F>(function: Option<Function>, work: F) -> Result<Handled, HandleError>
where
    F: std::future::Future<Output = Result<Handled, HandleError>>,
{
    let Some(function) = function else {
        return work.await;
    };
    let timeouts = function.timeouts();
    let stop = timeouts.budget.saturating_sub(timeouts.sdk_operation);
    match tokio::time::timeout(stop, work).await {
        Ok(result) => result,
        Err(_) => Err(HandleError::OutOfTime {
            function,
            seconds: stop.as_secs(),
        }),
    }
}

/// One invocation of the `slack-commands` function (a function URL event): the HTTP
/// response (never an error: Slack shows the status, the body tells nothing), and a
/// metrics line with the status.
pub async fn invoke_slack<P: Platform, U: spa_usecases::ports::SlackUsers>(
    platform: &P,
    settings: &Settings,
    users: &U,
    options: &spa_usecases::slack::SlackOptions,
    event: &Value,
) -> Value {
    let started = Instant::now();
    let answer = match Engine::new(platform, settings) {
        Ok(engine) => spa_usecases::slack::on_function_url(&engine, users, options, event).await,
        Err(error) => {
            tracing::error!(%error, "the engine cannot start");
            spa_usecases::slack::SlashAnswer {
                status: 500,
                body: serde_json::json!({"error": "internal error"}),
                later: None,
            }
        }
    };
    let mut metrics = Metrics::new()
        .dimension("Environment", &settings.environment_identifier)
        .dimension("Function", Function::SlackCommands.as_str());
    metrics.add("Invocations", 1.0, Unit::Count);
    metrics.add(
        "Duration",
        started.elapsed().as_secs_f64() * 1000.0,
        Unit::Milliseconds,
    );
    if answer.status >= 400 {
        metrics.add("Refused", 1.0, Unit::Count);
    }
    println!("{}", metrics.to_line(platform.clock().now()));
    spa_core::chatops::http::function_url_response(answer.status, &answer.body)
}

/// One metrics line per exception label raised by `outcomes` (the label as a
/// dimension, which an invocation's own line cannot carry: it may raise several).
pub fn exception_metrics(environment: &str, outcomes: &[spa_usecases::Outcome]) -> Vec<Metrics> {
    let mut counts: std::collections::BTreeMap<&'static str, f64> = Default::default();
    for label in outcomes.iter().flat_map(|o| &o.events) {
        if label.is_exception() {
            *counts.entry(label.as_str()).or_default() += 1.0;
        }
    }
    counts
        .into_iter()
        .map(|(label, count)| {
            let mut metrics = Metrics::new()
                .dimension("Environment", environment)
                .dimension("Label", label);
            metrics.add(spa_core::emf::EXCEPTIONS, count, Unit::Count);
            metrics
        })
        .collect()
}

#[cfg(test)]
mod tests;
