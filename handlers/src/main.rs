//! The one `bootstrap` binary that serves every spa Lambda function.
//!
//! At cold start: read the settings (`SPA_SETTINGS`: a packaged file, or
//! `ssm:/name`), connect every adapter, find which function this is
//! (`SPA_FUNCTION` or the Lambda function's name, else from each event's shape).
//! Each invocation goes through `spa_handlers::invoke` (`spa_handlers::invoke_slack`
//! for the Slack slash command's function URL). Logs are JSON lines.

use std::process::ExitCode;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_aws::slack_api::SlackApi;
use spa_aws::ssm::SsmParameters;
use spa_aws::{AwsPlatform, BaseCredentials, ConnectOptions};
use spa_core::rules::Function;
use spa_handlers::{
    SettingsSource, function_from_env, invoke, invoke_slack, settings_from_file, settings_from_text,
};
use spa_usecases::ports::Parameters;
use spa_usecases::slack::SlackOptions;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> ExitCode {
    // `SPA_LOG`: a level (what the templates set, from `automation.log_level`), or
    // `target=level` directives; `Targets` reads both without the regex engine of
    // `EnvFilter` (about half a megabyte of the bootstrap); unreadable, `info`
    let filter = env("SPA_LOG")
        .and_then(|level| level.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO));
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .without_time()
        .finish()
        .with(filter)
        .init();
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the function cannot start");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let source = SettingsSource::from_env(env("SPA_SETTINGS"), env("LAMBDA_TASK_ROOT"))
        .map_err(|e| e.to_string())?;
    let (settings, buildspecs) = match &source {
        SettingsSource::File(path) => settings_from_file(path).map_err(|e| e.to_string())?,
        SettingsSource::Parameter { name, dir } => {
            let region = env("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned());
            let config = AwsConfig::from_environment(
                &region,
                None,
                BaseCredentials::Ambient,
                ApiCalls::new(),
            );
            let text = SsmParameters::new(config.ssm())
                .get(name)
                .await
                .map_err(|e| format!("cannot read the settings from ssm:{name}: {e}"))?;
            settings_from_text(&format!("ssm:{name}"), &text, &dir.join("settings.yaml"))
                .map_err(|e| e.to_string())?
        }
    };
    let mut options = ConnectOptions::for_settings(&settings, env("AWS_ENDPOINT_URL").as_deref());
    if let Some(bus) = env("SPA_EVENT_BUS") {
        options.bus = bus;
    }
    if let Some(url) = env("SPA_COMMAND_QUEUE_URL") {
        options.command_queue_url = url;
    }
    options.slack_api = env("SPA_SLACK_API_URL");
    if env("AWS_ENDPOINT_URL").is_none() {
        options.credentials = BaseCredentials::Ambient;
    }
    let function = function_from_env(env("SPA_FUNCTION"), env("AWS_LAMBDA_FUNCTION_NAME"));
    let options = options.for_function(&settings, function);
    // the configuration from the environment alone: not aws-config's loader, whose
    // chain of providers (profiles, SSO, IMDS, ...) Lambda has no use for
    let base = AwsConfig::from_environment(
        &AwsPlatform::region(&settings, &options),
        options.endpoint.as_deref(),
        options.credentials,
        ApiCalls::new(),
    );
    let platform = AwsPlatform::connect_from_with_builds(base, &settings, &options)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        environment = %settings.environment_identifier,
        function = function.map_or("any", |f| f.as_str()),
        "ready"
    );
    let platform = &platform;
    let settings = &settings;
    let buildspecs = &buildspecs;
    if function == Some(Function::SlackCommands) {
        // Slack's Web API (users.info); another base only for tests
        let users =
            SlackApi::new(env("SPA_SLACK_API_URL").as_deref()).map_err(|e| e.to_string())?;
        let users = &users;
        let options = &SlackOptions::default();
        return lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
            Ok::<Value, lambda_runtime::Error>(
                invoke_slack(platform, settings, users, options, &event.payload).await,
            )
        }))
        .await
        .map_err(|e| e.to_string());
    }
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        invoke(platform, settings, buildspecs, function, &event.payload)
            .await
            .map_err(|e| {
                lambda_runtime::Error::from(spa_core::events::redact_emails(&e.to_string()))
            })
    }))
    .await
    .map_err(|e| e.to_string())
}
