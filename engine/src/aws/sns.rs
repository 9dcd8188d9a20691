//! The central path of budget alerts: members' AWS Budgets notify one SNS topic in
//! the automation account, the topic feeds an SQS queue (with its dead-letter queue),
//! and the queue feeds spa's `budget-alerts` function.
//!
//! [`ensure_budget_alerts`] makes that path, idempotently (reads first, writes what
//! differs): the topic `<environment>-BudgetAlerts` with a policy that lets only AWS
//! Budgets publish ([`topic_policy`]), the queue of the same name with a policy that
//! lets only this topic send ([`queue_policy`]), and the subscription of the queue to
//! the topic **without** raw message delivery: the decoder (`events::budgets`) reads
//! the SNS envelope (its `MessageId` de-duplicates re-deliveries, its `Timestamp`
//! dates the alert).
//!
//! Who may publish: AWS documents the Budgets → SNS policy with `aws:SourceAccount`
//! and `aws:SourceArn` (`arn:aws:budgets::<account>:*`), for a topic in the budget's
//! own account, and says that a topic in another account is not supported. spa's
//! budgets live in member accounts, so the topic's policy admits Budgets on behalf of
//! any account of the organization (`aws:SourceOrgID`) when the organization can be
//! read, and falls back to AWS's documented same-account policy otherwise (the
//! emulator without an organization; an automation role without
//! `organizations:DescribeOrganization`). See [`PublishScope`].

use aws_sdk_sqs::types::QueueAttributeName;

use super::config::AwsConfig;
use super::error::port_error;
use super::sqs::ensure_queue;
use super::sts::partition_of;
use crate::ports::PortError;
use crate::settings::Settings;

/// The name of the budget alerts topic and of its queue: `<environment>-BudgetAlerts`.
pub fn budget_alerts_name(settings: &Settings) -> String {
    format!("{}-BudgetAlerts", settings.environment_identifier)
}

/// The ARN of the budget alerts topic in the automation account and region, as the
/// budgets of member accounts name it.
pub fn budget_alerts_topic_arn(settings: &Settings) -> String {
    format!(
        "arn:{}:sns:{}:{}:{}",
        partition_of(settings.automation.management_role_arn.as_str()),
        settings.automation.region.as_str(),
        settings.automation.account_id.as_str(),
        budget_alerts_name(settings)
    )
}

/// The budget alerts path, as made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BudgetAlerts {
    /// The topic members' budgets notify.
    pub topic_arn: String,
    /// The queue the `budget-alerts` function reads.
    pub queue_url: String,
    /// The queue's ARN (the function's event source).
    pub queue_arn: String,
    /// On whose behalf AWS Budgets may publish to the topic.
    pub scope: PublishScope,
}

/// On whose behalf AWS Budgets may publish to the topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum PublishScope {
    /// Budgets of any account of this organization (`aws:SourceOrgID`).
    Organization(String),
    /// Budgets of this account only (`aws:SourceAccount`), AWS's documented policy.
    Account(String),
}

/// The topic's policy: AWS Budgets (`budgets.amazonaws.com`) may `SNS:Publish` to
/// `topic_arn` only, on behalf of `scope`, and only from a budget
/// (`aws:SourceArn` `arn:<partition>:budgets::<account or *>:*`).
pub fn topic_policy(topic_arn: &str, scope: &PublishScope) -> serde_json::Value {
    let partition = partition_of(topic_arn);
    let condition = match scope {
        PublishScope::Organization(id) => serde_json::json!({
            "StringEquals": { "aws:SourceOrgID": id },
            "ArnLike": { "aws:SourceArn": format!("arn:{partition}:budgets::*:*") },
        }),
        PublishScope::Account(account) => serde_json::json!({
            "StringEquals": { "aws:SourceAccount": account },
            "ArnLike": { "aws:SourceArn": format!("arn:{partition}:budgets::{account}:*") },
        }),
    };
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "SpaBudgetAlerts",
        "Statement": [{
            "Sid": "AWSBudgetsPublish",
            "Effect": "Allow",
            "Principal": { "Service": "budgets.amazonaws.com" },
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": condition,
        }],
    })
}

/// The queue's policy: SNS may `sqs:SendMessage` to `queue_arn` for `topic_arn` only.
pub fn queue_policy(queue_arn: &str, topic_arn: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "SpaBudgetAlertsQueue",
        "Statement": [{
            "Sid": "BudgetAlertsTopicSends",
            "Effect": "Allow",
            "Principal": { "Service": "sns.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": topic_arn } },
        }],
    })
}

/// Whether a policy document as read back is the wanted one (compared as JSON, so
/// that spacing and key order do not count).
fn same_policy(current: Option<&str>, wanted: &serde_json::Value) -> bool {
    current
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .is_some_and(|current| current == *wanted)
}

/// Makes the topic, the queue (and its dead-letter queue), their policies and the
/// subscription; what exists and is right is left alone.
pub async fn ensure_budget_alerts(
    config: &AwsConfig,
    settings: &Settings,
) -> Result<BudgetAlerts, PortError> {
    let name = budget_alerts_name(settings);
    let sns = config.sns();
    let topic_arn = sns
        .create_topic()
        .name(&name)
        .send()
        .await
        .map_err(|e| port_error("sns", "CreateTopic", &name, e))?
        .topic_arn()
        .map(str::to_owned)
        .ok_or_else(|| PortError::Rejected {
            service: "sns".into(),
            action: "CreateTopic".into(),
            message: format!("no TopicArn for `{name}`"),
        })?;

    let scope = match organization_id(config).await? {
        Some(id) => PublishScope::Organization(id),
        None => PublishScope::Account(settings.automation.account_id.as_str().to_owned()),
    };
    let wanted = topic_policy(&topic_arn, &scope);
    let attributes = sns
        .get_topic_attributes()
        .topic_arn(&topic_arn)
        .send()
        .await
        .map_err(|e| port_error("sns", "GetTopicAttributes", &topic_arn, e))?;
    let current = attributes
        .attributes()
        .and_then(|a| a.get("Policy"))
        .map(String::as_str);
    if !same_policy(current, &wanted) {
        sns.set_topic_attributes()
            .topic_arn(&topic_arn)
            .attribute_name("Policy")
            .attribute_value(wanted.to_string())
            .send()
            .await
            .map_err(|e| port_error("sns", "SetTopicAttributes", &topic_arn, e))?;
    }

    let queue_url = ensure_queue(config, &name).await?;
    let sqs = config.sqs();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .attribute_names(QueueAttributeName::Policy)
        .send()
        .await
        .map_err(|e| port_error("sqs", "GetQueueAttributes", &queue_url, e))?;
    let attributes = attributes.attributes();
    let queue_arn = attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| PortError::Rejected {
            service: "sqs".into(),
            action: "GetQueueAttributes".into(),
            message: format!("no QueueArn for `{name}`"),
        })?;
    let wanted = queue_policy(&queue_arn, &topic_arn);
    let current = attributes
        .and_then(|a| a.get(&QueueAttributeName::Policy))
        .map(String::as_str);
    if !same_policy(current, &wanted) {
        sqs.set_queue_attributes()
            .queue_url(&queue_url)
            .attributes(QueueAttributeName::Policy, wanted.to_string())
            .send()
            .await
            .map_err(|e| port_error("sqs", "SetQueueAttributes", &queue_url, e))?;
    }

    ensure_subscription(config, &topic_arn, &queue_arn).await?;
    tracing::debug!(topic = %topic_arn, queue = %queue_url, "budget alerts path ensured");
    Ok(BudgetAlerts {
        topic_arn,
        queue_url,
        queue_arn,
        scope,
    })
}

/// The organization's id, or `None` when this account is in no organization or may
/// not read it (the topic policy then falls back to this account).
async fn organization_id(config: &AwsConfig) -> Result<Option<String>, PortError> {
    match config.organizations().describe_organization().send().await {
        Ok(output) => Ok(output
            .organization()
            .and_then(|o| o.id())
            .map(str::to_owned)),
        Err(e) => match port_error("organizations", "DescribeOrganization", "organization", e) {
            PortError::Unavailable { service, message } => {
                Err(PortError::Unavailable { service, message })
            }
            other => {
                tracing::warn!(
                    error = %other,
                    "the organization cannot be read: AWS Budgets may publish to the budget alerts topic for this account only"
                );
                Ok(None)
            }
        },
    }
}

/// Subscribes the queue to the topic unless it is already, with raw message delivery
/// off (turned off if someone turned it on).
async fn ensure_subscription(
    config: &AwsConfig,
    topic_arn: &str,
    queue_arn: &str,
) -> Result<(), PortError> {
    let sns = config.sns();
    let mut pages = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .into_paginator()
        .send();
    let mut existing = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error("sns", "ListSubscriptionsByTopic", topic_arn, e))?;
        existing = existing.or_else(|| {
            page.subscriptions()
                .iter()
                .find(|s| s.protocol() == Some("sqs") && s.endpoint() == Some(queue_arn))
                .and_then(|s| s.subscription_arn())
                .map(str::to_owned)
        });
    }
    let Some(subscription) = existing else {
        sns.subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|e| port_error("sns", "Subscribe", topic_arn, e))?;
        return Ok(());
    };
    let attributes = sns
        .get_subscription_attributes()
        .subscription_arn(&subscription)
        .send()
        .await
        .map_err(|e| port_error("sns", "GetSubscriptionAttributes", &subscription, e))?;
    let raw = attributes
        .attributes()
        .and_then(|a| a.get("RawMessageDelivery"))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if raw {
        sns.set_subscription_attributes()
            .subscription_arn(&subscription)
            .attribute_name("RawMessageDelivery")
            .attribute_value("false")
            .send()
            .await
            .map_err(|e| port_error("sns", "SetSubscriptionAttributes", &subscription, e))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn budgets_may_publish_for_the_organization_only() {
        let topic = "arn:aws:sns:eu-west-1:123456789012:SpaDemo-BudgetAlerts";
        let policy = topic_policy(topic, &PublishScope::Organization("o-abc123".into()));
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "budgets.amazonaws.com");
        assert_eq!(statement["Action"], "SNS:Publish");
        assert_eq!(statement["Resource"], topic);
        assert_eq!(
            statement["Condition"]["StringEquals"]["aws:SourceOrgID"],
            "o-abc123"
        );
        assert_eq!(
            statement["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:budgets::*:*"
        );
        let policy = topic_policy(topic, &PublishScope::Account("123456789012".into()));
        let condition = &policy["Statement"][0]["Condition"];
        assert_eq!(
            condition["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
        assert_eq!(
            condition["ArnLike"]["aws:SourceArn"],
            "arn:aws:budgets::123456789012:*"
        );
    }

    #[test]
    fn only_the_topic_may_send_to_the_queue() {
        let policy = queue_policy("arn:aws:sqs:eu-west-1:1:q", "arn:aws:sns:eu-west-1:1:t");
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "sns.amazonaws.com");
        assert_eq!(statement["Action"], "sqs:SendMessage");
        assert_eq!(
            statement["Condition"]["ArnEquals"]["aws:SourceArn"],
            "arn:aws:sns:eu-west-1:1:t"
        );
    }

    #[test]
    fn policies_compare_as_json() {
        let wanted = queue_policy("q", "t");
        let spaced = serde_json::to_string_pretty(&wanted).unwrap();
        assert!(same_policy(Some(&spaced), &wanted));
        assert!(!same_policy(None, &wanted));
        assert!(!same_policy(Some("not json"), &wanted));
        assert!(!same_policy(
            Some(&queue_policy("q", "other").to_string()),
            &wanted
        ));
    }
}
