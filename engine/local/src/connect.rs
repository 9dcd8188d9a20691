//! The engine's own resources, created in the emulator (`spa local init`): what the
//! automation stack creates on AWS (tables, bus, command queue, reports bucket, and
//! the budget alerts queue, which the members' own topics feed).

use spa_aws::config::AwsConfig;
use spa_aws::dynamodb::{ensure_tables, table_definitions};
use spa_aws::error::port_error;
use spa_aws::s3::ensure_bucket;
use spa_aws::sns::ensure_budget_alerts;
use spa_aws::sqs::ensure_queue;
use spa_core::rules::{bus_name, queue_name};
use spa_core::settings::Settings;
use spa_usecases::ports::PortError;

/// Where the engine's resources are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocalResources {
    /// The tables, by name.
    pub tables: Vec<String>,
    /// The event bus's name.
    pub bus_name: String,
    /// The event bus's ARN.
    pub bus_arn: String,
    /// The command queue's URL.
    pub queue_url: String,
    /// The command queue's ARN.
    pub queue_arn: String,
    /// The reports bucket, when the settings name one.
    pub bucket: Option<String>,
    /// The queue the `budget-alerts` function reads (fed by every member's
    /// `<environment>-BudgetAlerts` topic).
    pub budget_alerts_queue_url: String,
    /// That queue's ARN (what members' topics are subscribed to).
    pub budget_alerts_queue_arn: String,
}

/// Creates what is missing; what exists is left as it is.
pub async fn init(config: &AwsConfig, settings: &Settings) -> Result<LocalResources, PortError> {
    let definitions = table_definitions(settings);
    ensure_tables(config, &definitions).await?;
    let bus_name = bus_name(settings);
    let events = config.eventbridge();
    let bus_arn = match events.describe_event_bus().name(&bus_name).send().await {
        Ok(found) => found.arn().unwrap_or_default().to_owned(),
        Err(error) => match port_error("events", "DescribeEventBus", &bus_name, error) {
            PortError::NotFound { .. } => events
                .create_event_bus()
                .name(&bus_name)
                .send()
                .await
                .map_err(|e| port_error("events", "CreateEventBus", &bus_name, e))?
                .event_bus_arn()
                .unwrap_or_default()
                .to_owned(),
            other => return Err(other),
        },
    };
    let queue_url = ensure_queue(config, &queue_name(settings)).await?;
    let attributes = config
        .sqs()
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| port_error("sqs", "GetQueueAttributes", &queue_url, e))?;
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    let bucket = settings
        .reporting
        .bucket
        .as_ref()
        .map(|b| b.as_str().to_owned());
    if let Some(bucket) = &bucket {
        ensure_bucket(config, bucket).await?;
    }
    let alerts = ensure_budget_alerts(config, settings).await?;
    // the emulator, like SES in its sandbox, sends only from verified identities
    if let Some(sender) = &settings.notifications.email_sender {
        spa_aws::ses::ensure_identity(config, sender.as_str()).await?;
    }
    Ok(LocalResources {
        tables: definitions.iter().map(|d| d.name.clone()).collect(),
        bus_name,
        bus_arn,
        queue_url,
        queue_arn,
        bucket,
        budget_alerts_queue_url: alerts.queue_url,
        budget_alerts_queue_arn: alerts.queue_arn,
    })
}

/// The local runtime on the emulator at `endpoint`: the engine's resources made
/// (idempotently), every adapter connected with the emulator's credentials, events
/// routed in process.
pub async fn runtime(
    settings: &Settings,
    endpoint: &str,
) -> Result<(crate::Runtime<spa_aws::Connected>, LocalResources), PortError> {
    runtime_with_retries(settings, endpoint, spa_aws::Retries::Adaptive).await
}

/// [`runtime`], with another retry policy (see [`Retries`](spa_aws::Retries)).
pub async fn runtime_with_retries(
    settings: &Settings,
    endpoint: &str,
    retries: spa_aws::Retries,
) -> Result<(crate::Runtime<spa_aws::Connected>, LocalResources), PortError> {
    build(settings, endpoint, retries, None).await
}

/// [`runtime`], with Slack's Web API at `slack_api` (the demo's local stand-in).
pub async fn runtime_with_slack(
    settings: &Settings,
    endpoint: &str,
    slack_api: &str,
) -> Result<(crate::Runtime<spa_aws::Connected>, LocalResources), PortError> {
    build(
        settings,
        endpoint,
        spa_aws::Retries::Adaptive,
        Some(slack_api),
    )
    .await
}

async fn build(
    settings: &Settings,
    endpoint: &str,
    retries: spa_aws::Retries,
    slack_api: Option<&str>,
) -> Result<(crate::Runtime<spa_aws::Connected>, LocalResources), PortError> {
    let calls = spa_aws::metrics::ApiCalls::new();
    let config = AwsConfig::load(
        settings.automation.region.as_str(),
        Some(endpoint),
        spa_aws::BaseCredentials::Emulator,
        calls,
    )
    .await
    .with_retry(retries.config());
    let resources = init(&config, settings).await?;
    let options = spa_aws::ConnectOptions {
        retries,
        slack_api: slack_api.map(str::to_owned),
        ..spa_aws::ConnectOptions::emulator(
            endpoint,
            resources.bus_arn.clone(),
            resources.queue_url.clone(),
        )
    };
    let platform = spa_aws::AwsPlatform::connect_with_builds(settings, &options).await?;
    let account = spa_core::events::AccountId::parse(settings.automation.account_id.as_str())
        .ok_or_else(|| PortError::Rejected {
            service: "spa".into(),
            action: "local runtime".into(),
            message: "automation.account_id is not a 12-digit account id".into(),
        })?;
    let site = crate::Site {
        account,
        region: settings.automation.region.as_str().to_owned(),
        environment: settings.environment_identifier.clone(),
        queue_arn: resources.queue_arn.clone(),
    };
    Ok((crate::Runtime::new(platform, site), resources))
}
