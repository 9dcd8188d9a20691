//! The path of budget alerts: the budget of each member account notifies that
//! account's own SNS topic, every such topic feeds one SQS queue in the automation
//! account (with its dead-letter queue), and the queue feeds spa's `budget-alerts`
//! function.
//!
//! Why a topic per member: AWS Budgets notifies only a topic of the budget's own
//! account ("Amazon SNS topics must be in the same account as the Budgets you're
//! configuring. Cross-account Amazon SNS isn't supported"), and spa's budgets live in
//! member accounts. SNS delivers to a queue of another account, so the alerts still
//! meet in one queue. There is no central topic: nothing could publish to it.
//!
//! - [`ensure_budget_alerts`] (automation account: `spa local init`, the automation
//!   stack) makes the queue `<environment>-BudgetAlerts` with a policy
//!   ([`queue_policy`]) that lets SNS send from the topics of that name in the queue's
//!   region ([`member_topics_pattern`]), of the organization's accounts only
//!   (`aws:SourceOrgID`) when the organization can be read. See [`Senders`].
//! - [`ensure_member_topic`] (with each budget, `aws::budgets`) makes, in the member
//!   account, the topic `<environment>-BudgetAlerts` with a policy
//!   ([`member_topic_policy`]) that lets AWS Budgets publish for that account only
//!   (AWS's documented `aws:SourceAccount` and `aws:SourceArn` conditions) and the
//!   automation account subscribe the central queue (and nothing else) to it; then the
//!   automation account, the queue's owner, subscribes the queue: a subscription made
//!   by the endpoint's owner needs no confirmation. Raw message delivery stays **off**:
//!   the decoder (`events::budgets`) reads the SNS envelope (its `MessageId`
//!   de-duplicates re-deliveries, its `Timestamp` dates the alert).
//!
//! Both read first and write only what differs: a second ensure makes read calls only.
//! The subscriptions of a member's topic are listed by the member (the topic's owner
//! may list them all); the subscription's attributes are read and set by the automation
//! account (its owner).

use aws_sdk_sqs::types::QueueAttributeName;

use super::config::AwsConfig;
use super::error::port_error;
use super::sqs::ensure_queue;
use spa_core::events::AccountId;
use spa_core::footprint::budget_alerts_topic_name;
use spa_core::settings::Settings;
use spa_usecases::ports::PortError;

/// What ListSubscriptionsByTopic says of a subscription not yet confirmed.
const PENDING: &str = "PendingConfirmation";

/// The name of the budget alerts queue and of every member's budget alerts topic:
/// `<environment>-BudgetAlerts`.
pub fn budget_alerts_name(settings: &Settings) -> String {
    budget_alerts_topic_name(&settings.environment_identifier)
}

/// The budget alerts queue, as made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BudgetAlerts {
    /// The queue's name, which the members' topics bear too.
    pub name: String,
    /// The queue the `budget-alerts` function reads.
    pub queue_url: String,
    /// The queue's ARN (the function's event source, the members' subscriptions'
    /// endpoint).
    pub queue_arn: String,
    /// Whose topics may send to the queue.
    pub senders: Senders,
}

/// Whose budget alerts topics may send to the central queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Senders {
    /// The topics of the accounts of this organization (`aws:SourceOrgID`).
    Organization(String),
    /// The topics of that name in any account: the organization cannot be read (the
    /// emulator without an organization; an automation role without
    /// `organizations:DescribeOrganization`). Only the topics' name and region are
    /// checked; a warning says so.
    AnyAccount,
}

/// The parts of an ARN (`arn:<partition>:<service>:<region>:<account>:<resource>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arn<'a> {
    partition: &'a str,
    service: &'a str,
    region: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let filled = [partition, service, region, account, resource]
        .iter()
        .all(|p| !p.is_empty());
    (filled && AccountId::parse(account).is_some()).then_some(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// The ARNs of every member's topic that may send to a queue: `name` in any account
/// of `region` (`arn:<partition>:sns:<region>:*:<name>`).
pub fn member_topics_pattern(partition: &str, region: &str, name: &str) -> String {
    format!("arn:{partition}:sns:{region}:*:{name}")
}

/// The queue's policy: SNS may `sqs:SendMessage` to `queue_arn` only for a topic whose
/// ARN matches `topics` ([`member_topics_pattern`]), and of the organization when
/// `senders` names it.
pub fn queue_policy(queue_arn: &str, topics: &str, senders: &Senders) -> serde_json::Value {
    let mut condition = serde_json::json!({
        "ArnLike": { "aws:SourceArn": topics },
    });
    if let (Senders::Organization(id), Some(fields)) = (senders, condition.as_object_mut()) {
        fields.insert(
            "StringEquals".into(),
            serde_json::json!({ "aws:SourceOrgID": id }),
        );
    }
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "SpaBudgetAlertsQueue",
        "Statement": [{
            "Sid": "MemberBudgetTopicsSend",
            "Effect": "Allow",
            "Principal": { "Service": "sns.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": condition,
        }],
    })
}

/// The policy of a member's topic `topic_arn` (in account `member`):
///
/// - AWS Budgets (`budgets.amazonaws.com`) may `SNS:Publish`, on behalf of `member`
///   only (`aws:SourceAccount`) and from a budget (`aws:SourceArn`
///   `arn:<partition>:budgets::<member>:*`), as AWS documents;
/// - the account of `queue_arn` (the automation account) may `SNS:Subscribe` that
///   queue over `sqs`, and nothing else (`sns:Protocol`, `sns:Endpoint`).
pub fn member_topic_policy(topic_arn: &str, member: &str, queue_arn: &str) -> serde_json::Value {
    let partition = parse_arn(topic_arn).map_or("aws", |a| a.partition);
    let automation = parse_arn(queue_arn).map_or("", |a| a.account);
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "SpaBudgetAlerts",
        "Statement": [
            {
                "Sid": "AWSBudgetsPublish",
                "Effect": "Allow",
                "Principal": { "Service": "budgets.amazonaws.com" },
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": { "aws:SourceAccount": member },
                    "ArnLike": {
                        "aws:SourceArn": format!("arn:{partition}:budgets::{member}:*"),
                    },
                },
            },
            {
                "Sid": "AutomationSubscribesQueue",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:{partition}:iam::{automation}:root") },
                "Action": "SNS:Subscribe",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": { "sns:Protocol": "sqs", "sns:Endpoint": queue_arn },
                },
            },
        ],
    })
}

/// Whether a policy document as read back is the wanted one (compared as JSON, so
/// that spacing and key order do not count).
fn same_policy(current: Option<&str>, wanted: &serde_json::Value) -> bool {
    current
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .is_some_and(|current| current == *wanted)
}

/// Makes the queue (and its dead-letter queue) and its policy; what exists and is
/// right is left alone. The members' topics and their subscriptions are made with
/// their budgets ([`ensure_member_topic`]).
pub async fn ensure_budget_alerts(
    config: &AwsConfig,
    settings: &Settings,
) -> Result<BudgetAlerts, PortError> {
    let name = budget_alerts_name(settings);
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
    let parsed = parse_arn(&queue_arn).ok_or_else(|| PortError::Rejected {
        service: "sqs".into(),
        action: "GetQueueAttributes".into(),
        message: format!("`{queue_arn}` is not a queue ARN"),
    })?;
    let topics = member_topics_pattern(parsed.partition, parsed.region, &name);

    let senders = match organization_id(config).await? {
        Some(id) => Senders::Organization(id),
        None => Senders::AnyAccount,
    };
    let wanted = queue_policy(&queue_arn, &topics, &senders);
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
    tracing::debug!(queue = %queue_url, topics = %topics, "budget alerts queue ensured");
    Ok(BudgetAlerts {
        name,
        queue_url,
        queue_arn,
        senders,
    })
}

/// The organization's id, or `None` when this account is in no organization or may
/// not read it (the queue policy then checks the topics' name and region only).
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
                    "the organization cannot be read: the budget alerts queue accepts the topics of its name from any account"
                );
                Ok(None)
            }
        },
    }
}

fn rejected(action: &str, message: String) -> PortError {
    PortError::Rejected {
        service: "sns".into(),
        action: action.into(),
        message,
    }
}

/// Checks, before any call, that `topic_arn` can carry the budget alerts of `account`
/// to `queue_arn`: an SNS topic of `account` (AWS Budgets notifies no other), in the
/// queue's partition and region and named like the queue (the queue's policy admits
/// those only: [`member_topics_pattern`]); `queue_arn` an SQS queue ARN.
pub fn check_member_topic(
    account: &AccountId,
    topic_arn: &str,
    queue_arn: &str,
) -> Result<(), PortError> {
    let mut problems = Vec::new();
    let topic = parse_arn(topic_arn).filter(|a| a.service == "sns");
    let queue = parse_arn(queue_arn).filter(|a| a.service == "sqs");
    if topic.is_none() {
        problems.push(format!("`{topic_arn}` is not an SNS topic ARN"));
    }
    if queue.is_none() {
        problems.push(format!(
            "the budget alerts queue `{queue_arn}` is not an SQS queue ARN"
        ));
    }
    if let Some(topic) = topic {
        if topic.account != account.as_str() {
            problems.push(format!(
                "the topic `{topic_arn}` is not in account {account}: AWS Budgets notifies only a topic of the budget's account"
            ));
        }
        if let Some(queue) = queue {
            let admitted = member_topics_pattern(queue.partition, queue.region, queue.resource);
            if (topic.partition, topic.region, topic.resource)
                != (queue.partition, queue.region, queue.resource)
            {
                problems.push(format!(
                    "the topic `{topic_arn}` would not reach the budget alerts queue, which admits `{admitted}` only"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(rejected("EnsureMemberTopic", problems.join("; ")))
    }
}

/// Makes the budget alerts topic `topic_arn` of member `account` (`member` is its
/// configuration, through the member role) with its policy
/// ([`member_topic_policy`]), and the subscription of the central queue `queue_arn`
/// made by `automation` (the queue's account), raw delivery off. Reads first; returns
/// what changed, in words (empty when nothing did). `topic_arn` is checked first
/// ([`check_member_topic`]).
pub async fn ensure_member_topic(
    member: &AwsConfig,
    automation: &AwsConfig,
    account: &AccountId,
    topic_arn: &str,
    queue_arn: &str,
) -> Result<Vec<String>, PortError> {
    check_member_topic(account, topic_arn, queue_arn)?;
    let Some(topic) = parse_arn(topic_arn) else {
        return Err(rejected(
            "EnsureMemberTopic",
            format!("`{topic_arn}` is not an SNS topic ARN"),
        ));
    };
    let name = topic.resource;
    let sns = member.sns_in(topic.region);
    let mut changes = Vec::new();

    let current = match sns.get_topic_attributes().topic_arn(topic_arn).send().await {
        Ok(output) => Some(
            output
                .attributes()
                .and_then(|a| a.get("Policy"))
                .cloned()
                .unwrap_or_default(),
        ),
        Err(e) => match port_error("sns", "GetTopicAttributes", topic_arn, e) {
            PortError::NotFound { .. } => None,
            other => return Err(other),
        },
    };
    if current.is_none() {
        let made = sns
            .create_topic()
            .name(name)
            .send()
            .await
            .map_err(|e| port_error("sns", "CreateTopic", name, e))?;
        if made.topic_arn() != Some(topic_arn) {
            return Err(rejected(
                "CreateTopic",
                format!(
                    "the topic `{name}` was made as `{}`, not `{topic_arn}`: the member role is not of account {account}",
                    made.topic_arn().unwrap_or("(no ARN)")
                ),
            ));
        }
        changes.push(format!("topic {name} created"));
    }
    let wanted = member_topic_policy(topic_arn, account.as_str(), queue_arn);
    if !same_policy(current.as_deref(), &wanted) {
        sns.set_topic_attributes()
            .topic_arn(topic_arn)
            .attribute_name("Policy")
            .attribute_value(wanted.to_string())
            .send()
            .await
            .map_err(|e| port_error("sns", "SetTopicAttributes", topic_arn, e))?;
        if current.is_some() {
            changes.push(format!("policy of topic {name} restored"));
        }
    }

    let automation_sns = automation.sns_in(topic.region);
    match queue_subscription(&sns, topic_arn, queue_arn).await? {
        None => {
            automation_sns
                .subscribe()
                .topic_arn(topic_arn)
                .protocol("sqs")
                .endpoint(queue_arn)
                .return_subscription_arn(true)
                .send()
                .await
                .map_err(|e| port_error("sns", "Subscribe", topic_arn, e))?;
            changes.push(format!("budget alerts queue subscribed to topic {name}"));
        }
        Some(subscription) => {
            if raw_delivery_turned_off(&automation_sns, &subscription).await? {
                changes.push(format!(
                    "raw delivery to the queue turned off on topic {name}"
                ));
            }
        }
    }
    if !changes.is_empty() {
        tracing::info!(%account, topic = %topic_arn, changes = %changes.join(", "), "budget alerts topic ensured");
    }
    Ok(changes)
}

/// The confirmed subscription of the queue to the topic, as the topic's owner lists it
/// (one pending confirmation counts as none: the queue's owner subscribing confirms it).
async fn queue_subscription(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue_arn: &str,
) -> Result<Option<String>, PortError> {
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
                .filter(|s| s.protocol() == Some("sqs") && s.endpoint() == Some(queue_arn))
                .filter_map(|s| s.subscription_arn())
                .find(|arn| *arn != PENDING && arn.starts_with("arn:"))
                .map(str::to_owned)
        });
    }
    Ok(existing)
}

/// Turns raw message delivery off if someone turned it on; whether it did.
async fn raw_delivery_turned_off(
    sns: &aws_sdk_sns::Client,
    subscription: &str,
) -> Result<bool, PortError> {
    let attributes = sns
        .get_subscription_attributes()
        .subscription_arn(subscription)
        .send()
        .await
        .map_err(|e| port_error("sns", "GetSubscriptionAttributes", subscription, e))?;
    let raw = attributes
        .attributes()
        .and_then(|a| a.get("RawMessageDelivery"))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if raw {
        sns.set_subscription_attributes()
            .subscription_arn(subscription)
            .attribute_name("RawMessageDelivery")
            .attribute_value("false")
            .send()
            .await
            .map_err(|e| port_error("sns", "SetSubscriptionAttributes", subscription, e))?;
    }
    Ok(raw)
}

/// Publishes a message on a topic (as AWS Budgets does on a member's budget alerts
/// topic): the demo and the features stand in for Budgets this way.
pub async fn publish(
    config: &AwsConfig,
    topic_arn: &str,
    subject: &str,
    message: &str,
) -> Result<String, PortError> {
    let published = config
        .sns_in(region_of(topic_arn).unwrap_or("us-east-1"))
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(message)
        .send()
        .await
        .map_err(|e| port_error("sns", "Publish", topic_arn, e))?;
    Ok(published.message_id().unwrap_or_default().to_owned())
}

/// The region of an ARN.
fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:222222222222:SpaDemo-BudgetAlerts";
    const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:SpaDemo-BudgetAlerts";

    fn member() -> AccountId {
        AccountId::parse("222222222222").unwrap()
    }

    #[test]
    fn budgets_publish_for_the_member_only_and_the_automation_account_subscribes_the_queue() {
        let policy = member_topic_policy(TOPIC, "222222222222", QUEUE);
        let publish = &policy["Statement"][0];
        assert_eq!(publish["Principal"]["Service"], "budgets.amazonaws.com");
        assert_eq!(publish["Action"], "SNS:Publish");
        assert_eq!(publish["Resource"], TOPIC);
        assert_eq!(
            publish["Condition"]["StringEquals"]["aws:SourceAccount"],
            "222222222222"
        );
        assert_eq!(
            publish["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:budgets::222222222222:*"
        );
        let subscribe = &policy["Statement"][1];
        assert_eq!(
            subscribe["Principal"]["AWS"],
            "arn:aws:iam::123456789012:root"
        );
        assert_eq!(subscribe["Action"], "SNS:Subscribe");
        assert_eq!(subscribe["Resource"], TOPIC);
        assert_eq!(
            subscribe["Condition"]["StringEquals"]["sns:Protocol"],
            "sqs"
        );
        assert_eq!(
            subscribe["Condition"]["StringEquals"]["sns:Endpoint"],
            QUEUE
        );
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 2);

        let gov = member_topic_policy(
            "arn:aws-us-gov:sns:us-gov-west-1:222222222222:SpaDemo-BudgetAlerts",
            "222222222222",
            "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:SpaDemo-BudgetAlerts",
        );
        assert_eq!(
            gov["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws-us-gov:budgets::222222222222:*"
        );
        assert_eq!(
            gov["Statement"][1]["Principal"]["AWS"],
            "arn:aws-us-gov:iam::123456789012:root"
        );
    }

    #[test]
    fn the_members_topics_of_the_organization_may_send_to_the_queue() {
        let topics = member_topics_pattern("aws", "eu-west-1", "SpaDemo-BudgetAlerts");
        assert_eq!(topics, "arn:aws:sns:eu-west-1:*:SpaDemo-BudgetAlerts");
        let policy = queue_policy(QUEUE, &topics, &Senders::Organization("o-abc123".into()));
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "sns.amazonaws.com");
        assert_eq!(statement["Action"], "sqs:SendMessage");
        assert_eq!(statement["Resource"], QUEUE);
        assert_eq!(statement["Condition"]["ArnLike"]["aws:SourceArn"], topics);
        assert_eq!(
            statement["Condition"]["StringEquals"]["aws:SourceOrgID"],
            "o-abc123"
        );
        let anyone = queue_policy(QUEUE, &topics, &Senders::AnyAccount);
        let condition = anyone["Statement"][0]["Condition"].as_object().unwrap();
        assert_eq!(condition.len(), 1, "{condition:?}");
        assert_eq!(condition["ArnLike"]["aws:SourceArn"], topics);
    }

    #[test]
    fn policies_compare_as_json() {
        let wanted = queue_policy("q", "t", &Senders::AnyAccount);
        let spaced = serde_json::to_string_pretty(&wanted).unwrap();
        assert!(same_policy(Some(&spaced), &wanted));
        assert!(!same_policy(None, &wanted));
        assert!(!same_policy(Some("not json"), &wanted));
        assert!(!same_policy(
            Some(&queue_policy("q", "other", &Senders::AnyAccount).to_string()),
            &wanted
        ));
    }

    #[test]
    fn a_topic_that_cannot_reach_the_queue_is_refused() {
        assert!(check_member_topic(&member(), TOPIC, QUEUE).is_ok());
        let message = |topic: &str, queue: &str| match check_member_topic(&member(), topic, queue) {
            Err(PortError::Rejected { message, .. }) => message,
            other => panic!("expected a rejection, got {other:?}"),
        };
        let other_account = message(
            "arn:aws:sns:eu-west-1:123456789012:SpaDemo-BudgetAlerts",
            QUEUE,
        );
        assert!(
            other_account.contains("not in account 222222222222"),
            "{other_account}"
        );
        let other_region = message(
            "arn:aws:sns:us-east-1:222222222222:SpaDemo-BudgetAlerts",
            QUEUE,
        );
        assert!(
            other_region.contains("admits `arn:aws:sns:eu-west-1:*:SpaDemo-BudgetAlerts` only"),
            "{other_region}"
        );
        let other_name = message("arn:aws:sns:eu-west-1:222222222222:Other", QUEUE);
        assert!(other_name.contains("would not reach"), "{other_name}");
        let not_a_topic = message("SpaDemo-BudgetAlerts", "arn:aws:sns:eu-west-1:1:x");
        assert!(
            not_a_topic.contains("`SpaDemo-BudgetAlerts` is not an SNS topic ARN"),
            "{not_a_topic}"
        );
        assert!(
            not_a_topic.contains("is not an SQS queue ARN"),
            "{not_a_topic}"
        );
    }

    #[test]
    fn arns_are_read_in_parts() {
        let arn = parse_arn(QUEUE).unwrap();
        assert_eq!(
            (
                arn.partition,
                arn.service,
                arn.region,
                arn.account,
                arn.resource
            ),
            (
                "aws",
                "sqs",
                "eu-west-1",
                "123456789012",
                "SpaDemo-BudgetAlerts"
            )
        );
        assert!(
            parse_arn("arn:aws:sqs:eu-west-1:123:q").is_none(),
            "short account"
        );
        assert!(
            parse_arn("arn:aws:sqs::123456789012:q").is_none(),
            "no region"
        );
        assert!(parse_arn("not:an:arn").is_none());
    }
}
