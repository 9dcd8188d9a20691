//! AWS Budgets in member accounts: [`MemberBudgets`], the [`Budgets`] port, keeps one
//! monthly cost budget per account exactly as its [`BudgetPlan`] says.
//!
//! Its notifications go to the member's own SNS topic (AWS Budgets notifies no topic
//! of another account), which [`MemberBudgets`] ensures first, with the subscription
//! of the central budget alerts queue of the automation account (`aws::sns`).
//!
//! [`ensure_budget`] reads first (`DescribeBudget`, `DescribeNotificationsForBudget`,
//! `DescribeSubscribersForNotification`) and writes only what differs:
//!
//! - an absent budget is created with its notifications and subscribers in one
//!   `CreateBudget`;
//! - a different limit (amount compared as a decimal, unit), time unit or budget type
//!   is replaced by `UpdateBudget` (the time period and the cost metrics already there
//!   are kept, so the budget's history does not restart; filters go);
//! - a missing threshold gets `CreateNotification` (with its subscribers), a
//!   notification the plan does not have is removed with `DeleteNotification` (spa
//!   owns the budget: a forecast or absolute notification added by hand goes too);
//! - the subscribers of a kept notification converge with `CreateSubscriber` and
//!   `DeleteSubscriber`: the topic first, so that a notification never has none; a
//!   notification whose topic changed is deleted and created again, since AWS allows
//!   one SNS subscriber per notification and at least one subscriber at all times.
//!
//! Each notification is `ACTUAL`, `GREATER_THAN`, `PERCENTAGE` of a plan threshold.
//! The plan is checked against AWS's limits before any call ([`validate`]): amount
//! above 0, thresholds from 0 to [`MAX_THRESHOLD`] percent without duplicates, at most
//! [`MAX_NOTIFICATIONS`] notifications per budget, one SNS topic and at most
//! [`MAX_EMAIL_SUBSCRIBERS`] e-mail subscribers per notification.
//!
//! What changed is said in words (`amount 500 → 1500 USD`, `threshold 120% added`,
//! `subscriber a***@example.com added`), with e-mail addresses masked.

use aws_sdk_budgets::Client;
use aws_sdk_budgets::types::{
    BudgetType, ComparisonOperator, Notification, NotificationType, NotificationWithSubscribers,
    Spend, SubscriptionType, ThresholdType, TimeUnit,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::codebuild::MemberConfigs;
use super::config::AwsConfig;
use super::error::port_error;
use super::sns::{check_member_topic, ensure_member_topic};
use spa_core::events::{AccountId, Amount, mask};
use spa_usecases::ports::{BudgetChange, BudgetPlan, Budgets, PortError};

/// Notifications one budget may have (AWS Budgets: "A budget can have up to ten
/// notifications"; older pages of `CreateBudget` still say five).
pub const MAX_NOTIFICATIONS: usize = 10;

/// E-mail subscribers one notification may have, besides its one SNS topic (AWS:
/// "one SNS subscriber and up to 10 email subscribers, for a total of 11").
pub const MAX_EMAIL_SUBSCRIBERS: usize = 10;

/// The highest threshold spa accepts, in percent of the amount (as the settings do).
pub const MAX_THRESHOLD: f64 = 1000.0;

/// Characters of a budget name (AWS: 1 to 100, no `:` nor `\`).
pub const MAX_NAME_CHARS: usize = 100;

/// The highest amount: 12 integer digits, what the exact [`Amount`] holds.
const MAX_AMOUNT: f64 = 999_999_999_999.0;

const SERVICE: &str = "budgets";

/// The [`Budgets`] port on AWS Budgets, in the member accounts `configs` reaches
/// (the member role, through STS). Budgets is global: its client answers in
/// `us-east-1` whatever the configuration's region.
///
/// Before the budget, the member's own budget alerts topic (the plan's `topic_arn`)
/// is ensured with its policy, and the automation account (`automation`) subscribes
/// the central budget alerts queue (`queue_arn`) to it: see `aws::sns`,
/// [`ensure_member_topic`]. What changed there is said with the budget's changes.
#[derive(Debug, Clone)]
pub struct MemberBudgets<F> {
    configs: F,
    automation: AwsConfig,
    queue_arn: String,
}

impl<F: MemberConfigs> MemberBudgets<F> {
    /// Budgets reached through `configs`; their alerts reach the queue `queue_arn`
    /// (made by `aws::sns::ensure_budget_alerts`) of the account of `automation`,
    /// which subscribes it to each member's topic.
    pub fn new(configs: F, automation: AwsConfig, queue_arn: impl Into<String>) -> Self {
        Self {
            configs,
            automation,
            queue_arn: queue_arn.into(),
        }
    }

    /// The central queue the members' topics feed.
    pub fn queue_arn(&self) -> &str {
        &self.queue_arn
    }
}

impl<F: MemberConfigs> Budgets for MemberBudgets<F> {
    async fn ensure_budget(
        &self,
        account: &AccountId,
        plan: &BudgetPlan,
    ) -> Result<BudgetChange, PortError> {
        validate(plan)?;
        check_member_topic(account, &plan.topic_arn, &self.queue_arn)?;
        let member = self.configs.member_config(account).await?;
        let topic = ensure_member_topic(
            &member,
            &self.automation,
            account,
            &plan.topic_arn,
            &self.queue_arn,
        )
        .await?;
        let budget = ensure_budget(&member.budgets(), account, plan).await?;
        Ok(match budget {
            BudgetChange::Created => BudgetChange::Created,
            BudgetChange::Unchanged if topic.is_empty() => BudgetChange::Unchanged,
            BudgetChange::Unchanged => BudgetChange::Updated(topic),
            BudgetChange::Updated(words) => {
                BudgetChange::Updated(topic.into_iter().chain(words).collect())
            }
        })
    }
}

fn rejected(plan: &BudgetPlan, problems: &[String]) -> PortError {
    PortError::Rejected {
        service: SERVICE.into(),
        action: "EnsureBudget".into(),
        message: format!("budget `{}`: {}", plan.name, problems.join("; ")),
    }
}

/// Checks `plan` against what AWS Budgets accepts; every problem is named in one
/// [`PortError::Rejected`], e-mail addresses masked.
pub fn validate(plan: &BudgetPlan) -> Result<(), PortError> {
    let mut problems = Vec::new();
    let name_chars = plan.name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS {
        problems.push(format!(
            "the name must have 1 to {MAX_NAME_CHARS} characters, it has {name_chars}"
        ));
    }
    if plan.name.contains([':', '\\']) || plan.name.contains("/action/") {
        problems.push("the name may not contain `:`, `\\` or `/action/`".to_owned());
    }
    if !(plan.amount.is_finite() && plan.amount > 0.0 && plan.amount <= MAX_AMOUNT) {
        problems.push(format!(
            "the amount must be greater than 0 and at most {}, it is {}",
            decimal(MAX_AMOUNT),
            plan.amount
        ));
    }
    if plan.currency.is_empty()
        || plan.currency.len() > 10
        || !plan.currency.chars().all(|c| c.is_ascii_alphabetic())
    {
        problems.push(format!(
            "the currency must be a code such as USD, it is `{}`",
            plan.currency
        ));
    }
    if plan.thresholds.len() > MAX_NOTIFICATIONS {
        problems.push(format!(
            "at most {MAX_NOTIFICATIONS} thresholds (one notification each), there are {}",
            plan.thresholds.len()
        ));
    }
    let mut seen = Vec::new();
    for threshold in &plan.thresholds {
        if !(threshold.is_finite() && (0.0..=MAX_THRESHOLD).contains(threshold)) {
            problems.push(format!(
                "threshold {threshold}% is out of 0 to {}%",
                decimal(MAX_THRESHOLD)
            ));
            continue;
        }
        let key = threshold_key(*threshold);
        if seen.contains(&key) {
            problems.push(format!("threshold {}% is given twice", decimal(*threshold)));
        }
        seen.push(key);
    }
    if !plan.topic_arn.starts_with("arn:") || !plan.topic_arn.contains(":sns:") {
        problems.push(format!(
            "the topic must be an SNS topic ARN, it is `{}`",
            plan.topic_arn
        ));
    }
    if plan.emails.len() > MAX_EMAIL_SUBSCRIBERS {
        problems.push(format!(
            "at most {MAX_EMAIL_SUBSCRIBERS} e-mail subscribers besides the topic, there are {}",
            plan.emails.len()
        ));
    }
    let mut emails: Vec<&str> = Vec::new();
    for email in &plan.emails {
        let well_formed = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(char::is_whitespace);
        if !well_formed {
            problems.push(format!("`{}` is not an e-mail address", mask(email)));
        } else if emails.contains(&email.as_str()) {
            problems.push(format!("subscriber {} is given twice", mask(email)));
        }
        emails.push(email);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(rejected(plan, &problems))
    }
}

/// `1500`, `99.99`, `0.125`: at most 6 decimals, no trailing zeros.
fn decimal(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A threshold as an integer of millionths of a percent: compared exactly.
fn threshold_key(value: f64) -> i64 {
    (value * 1_000_000.0).round() as i64
}

/// The budget's limit as a decimal (`"1500.0"` and `"1500"` are the same).
fn same_amount(remote: &str, wanted: f64) -> bool {
    match (Amount::parse(remote), Amount::parse(&decimal(wanted))) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// An SDK error of Budgets: `InternalErrorException` (Budgets' own 5xx code) is
/// transient like the other internal errors.
fn error<E, R>(action: &str, id: &str, err: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    if err.code() == Some("InternalErrorException") {
        return PortError::Unavailable {
            service: SERVICE.into(),
            message: format!(
                "{action}: InternalErrorException: {}",
                err.message().unwrap_or("no message")
            ),
        };
    }
    port_error(SERVICE, action, id, err)
}

fn build_error(action: &str, err: impl std::fmt::Display) -> PortError {
    PortError::Rejected {
        service: SERVICE.into(),
        action: action.into(),
        message: format!("the request could not be built: {err}"),
    }
}

/// A subscriber as spa compares them: kind and address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sub {
    Topic(String),
    Email(String),
    /// A kind this version does not know: never wanted.
    Other(String, String),
}

impl Sub {
    fn from_sdk(subscriber: &aws_sdk_budgets::types::Subscriber) -> Self {
        let address = subscriber.address().to_owned();
        match subscriber.subscription_type() {
            SubscriptionType::Sns => Sub::Topic(address),
            SubscriptionType::Email => Sub::Email(address),
            other => Sub::Other(other.as_str().to_owned(), address),
        }
    }

    fn to_sdk(&self) -> Result<aws_sdk_budgets::types::Subscriber, PortError> {
        let (kind, address) = match self {
            Sub::Topic(a) => (SubscriptionType::Sns, a.as_str()),
            Sub::Email(a) => (SubscriptionType::Email, a.as_str()),
            Sub::Other(k, a) => (SubscriptionType::from(k.as_str()), a.as_str()),
        };
        aws_sdk_budgets::types::Subscriber::builder()
            .subscription_type(kind)
            .address(address)
            .build()
            .map_err(|e| build_error("Subscriber", e))
    }

    /// How a change names it: an address masked, a topic by its ARN.
    fn words(&self) -> String {
        match self {
            Sub::Topic(arn) => format!("topic {arn}"),
            Sub::Email(address) => mask(address),
            Sub::Other(kind, address) => format!("{kind} {}", mask(address)),
        }
    }
}

fn wanted_subscribers(plan: &BudgetPlan) -> Vec<Sub> {
    std::iter::once(Sub::Topic(plan.topic_arn.clone()))
        .chain(plan.emails.iter().cloned().map(Sub::Email))
        .collect()
}

fn sdk_subscribers(subs: &[Sub]) -> Result<Vec<aws_sdk_budgets::types::Subscriber>, PortError> {
    subs.iter().map(Sub::to_sdk).collect()
}

/// The notification of one plan threshold: actual cost greater than a percentage.
fn plan_notification(threshold: f64) -> Result<Notification, PortError> {
    Notification::builder()
        .notification_type(NotificationType::Actual)
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(threshold)
        .threshold_type(ThresholdType::Percentage)
        .build()
        .map_err(|e| build_error("Notification", e))
}

/// The threshold of a notification shaped as spa makes them, `None` for another.
fn plan_shaped(notification: &Notification) -> Option<i64> {
    let percentage = notification
        .threshold_type()
        .is_none_or(|t| *t == ThresholdType::Percentage);
    (*notification.notification_type() == NotificationType::Actual
        && *notification.comparison_operator() == ComparisonOperator::GreaterThan
        && percentage)
        .then(|| threshold_key(notification.threshold()))
}

/// `threshold 80%`, or `notification FORECASTED GREATER_THAN 100 PERCENTAGE`.
fn notification_words(notification: &Notification) -> String {
    match plan_shaped(notification) {
        Some(_) => format!("threshold {}%", decimal(notification.threshold())),
        None => format!(
            "notification {} {} {} {}",
            notification.notification_type().as_str(),
            notification.comparison_operator().as_str(),
            decimal(notification.threshold()),
            notification
                .threshold_type()
                .map_or("PERCENTAGE", |t| t.as_str())
        ),
    }
}

/// The budget spa keeps: cost, monthly, a fixed limit.
fn plan_budget(
    plan: &BudgetPlan,
    kept_from: Option<&aws_sdk_budgets::types::Budget>,
) -> Result<aws_sdk_budgets::types::Budget, PortError> {
    let limit = Spend::builder()
        .amount(decimal(plan.amount))
        .unit(&plan.currency)
        .build()
        .map_err(|e| build_error("Spend", e))?;
    aws_sdk_budgets::types::Budget::builder()
        .budget_name(&plan.name)
        .budget_limit(limit)
        .time_unit(TimeUnit::Monthly)
        .budget_type(BudgetType::Cost)
        .set_time_period(kept_from.and_then(|b| b.time_period().cloned()))
        .set_metrics(
            kept_from
                .map(|b| b.metrics().to_vec())
                .filter(|m| !m.is_empty()),
        )
        .build()
        .map_err(|e| build_error("Budget", e))
}

/// Makes the budget of `account` exactly `plan` (see the module docs); the client
/// must belong to the member account (its member role). `plan` is validated first.
pub async fn ensure_budget(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
) -> Result<BudgetChange, PortError> {
    validate(plan)?;
    if let Some(budget) = describe_budget(client, account, plan).await? {
        return converge(client, account, plan, &budget).await;
    }
    match create_budget(client, account, plan).await {
        Ok(()) => {
            tracing::info!(account = %account, budget = %plan.name, "budget created");
            Ok(BudgetChange::Created)
        }
        Err(PortError::Rejected { message, .. })
            if message.starts_with("DuplicateRecordException") =>
        {
            // made by a concurrent invocation since the read: converge on it
            let budget = describe_budget(client, account, plan)
                .await?
                .ok_or_else(|| PortError::not_found("budget", &plan.name))?;
            converge(client, account, plan, &budget).await
        }
        Err(e) => Err(e),
    }
}

/// The budget `name` of `account` as AWS has it, in the shape of a plan (amount,
/// unit, thresholds in percent sorted, the topic and e-mails of its notifications):
/// `None` when absent. For `spa status`-like reads and the features.
pub async fn read_budget<F: MemberConfigs>(
    budgets: &MemberBudgets<F>,
    account: &AccountId,
    name: &str,
) -> Result<Option<BudgetPlan>, PortError> {
    let member = budgets.configs.member_config(account).await?;
    let client = member.budgets();
    let probe = BudgetPlan {
        name: name.to_owned(),
        amount: 0.0,
        currency: String::new(),
        thresholds: Vec::new(),
        topic_arn: String::new(),
        emails: Vec::new(),
    };
    let Some(budget) = describe_budget(&client, account, &probe).await? else {
        return Ok(None);
    };
    let limit = budget.budget_limit();
    let mut plan = BudgetPlan {
        amount: limit
            .and_then(|l| l.amount().parse::<f64>().ok())
            .unwrap_or_default(),
        currency: limit.map(|l| l.unit().to_owned()).unwrap_or_default(),
        ..probe
    };
    for notification in notifications(&client, account, &plan).await? {
        plan.thresholds.push(notification.threshold());
        for sub in subscribers(&client, account, &plan, &notification).await? {
            match sub {
                Sub::Topic(arn) => plan.topic_arn = arn,
                Sub::Email(address) if !plan.emails.contains(&address) => {
                    plan.emails.push(address);
                }
                Sub::Email(_) | Sub::Other(..) => {}
            }
        }
    }
    plan.thresholds.sort_by(f64::total_cmp);
    Ok(Some(plan))
}

async fn describe_budget(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
) -> Result<Option<aws_sdk_budgets::types::Budget>, PortError> {
    match client
        .describe_budget()
        .account_id(account.as_str())
        .budget_name(&plan.name)
        .send()
        .await
    {
        Ok(output) => Ok(output.budget().cloned()),
        Err(e) => match error("DescribeBudget", &plan.name, e) {
            PortError::NotFound { .. } => Ok(None),
            other => Err(other),
        },
    }
}

async fn create_budget(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
) -> Result<(), PortError> {
    let subscribers = sdk_subscribers(&wanted_subscribers(plan))?;
    let notifications = plan
        .thresholds
        .iter()
        .map(|t| {
            NotificationWithSubscribers::builder()
                .notification(plan_notification(*t)?)
                .set_subscribers(Some(subscribers.clone()))
                .build()
                .map_err(|e| build_error("NotificationWithSubscribers", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    client
        .create_budget()
        .account_id(account.as_str())
        .budget(plan_budget(plan, None)?)
        .set_notifications_with_subscribers(Some(notifications))
        .send()
        .await
        .map_err(|e| error("CreateBudget", &plan.name, e))?;
    Ok(())
}

/// Words said once each, in the order they came.
#[derive(Debug, Default)]
struct Changes(Vec<String>);

impl Changes {
    fn say(&mut self, words: String) {
        if !self.0.contains(&words) {
            self.0.push(words);
        }
    }
}

async fn converge(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
    budget: &aws_sdk_budgets::types::Budget,
) -> Result<BudgetChange, PortError> {
    let mut changes = Changes::default();
    converge_limit(client, account, plan, budget, &mut changes).await?;

    let remote = notifications(client, account, plan).await?;
    let wanted: Vec<i64> = plan.thresholds.iter().map(|t| threshold_key(*t)).collect();
    let mut kept: Vec<(i64, Notification)> = Vec::new();
    let mut extra: Vec<Notification> = Vec::new();
    for notification in remote {
        match plan_shaped(&notification) {
            Some(key) if wanted.contains(&key) && !kept.iter().any(|(k, _)| *k == key) => {
                kept.push((key, notification));
            }
            _ => extra.push(notification),
        }
    }
    for notification in &extra {
        delete_notification(client, account, plan, notification).await?;
        changes.say(format!("{} removed", notification_words(notification)));
    }
    let subscribers = wanted_subscribers(plan);
    for threshold in &plan.thresholds {
        if !kept.iter().any(|(k, _)| *k == threshold_key(*threshold)) {
            let notification = plan_notification(*threshold)?;
            create_notification(client, account, plan, &notification, &subscribers).await?;
            changes.say(format!("threshold {}% added", decimal(*threshold)));
        }
    }
    for (_, notification) in &kept {
        converge_subscribers(
            client,
            account,
            plan,
            notification,
            &subscribers,
            &mut changes,
        )
        .await?;
    }
    if changes.0.is_empty() {
        Ok(BudgetChange::Unchanged)
    } else {
        tracing::info!(
            account = %account,
            budget = %plan.name,
            changes = %changes.0.join(", "),
            "budget updated"
        );
        Ok(BudgetChange::Updated(changes.0))
    }
}

async fn converge_limit(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
    budget: &aws_sdk_budgets::types::Budget,
    changes: &mut Changes,
) -> Result<(), PortError> {
    let mut differs = false;
    match budget.budget_limit() {
        Some(limit)
            if same_amount(limit.amount(), plan.amount) && limit.unit() == plan.currency => {}
        Some(limit) if limit.unit() == plan.currency => {
            differs = true;
            changes.say(format!(
                "amount {} → {} {}",
                display_amount(limit.amount()),
                decimal(plan.amount),
                plan.currency
            ));
        }
        Some(limit) => {
            differs = true;
            changes.say(format!(
                "amount {} {} → {} {}",
                display_amount(limit.amount()),
                limit.unit(),
                decimal(plan.amount),
                plan.currency
            ));
        }
        None => {
            differs = true;
            changes.say(format!(
                "amount (none) → {} {}",
                decimal(plan.amount),
                plan.currency
            ));
        }
    }
    if *budget.time_unit() != TimeUnit::Monthly {
        differs = true;
        changes.say(format!(
            "time unit {} → MONTHLY",
            budget.time_unit().as_str()
        ));
    }
    if *budget.budget_type() != BudgetType::Cost {
        differs = true;
        changes.say(format!("type {} → COST", budget.budget_type().as_str()));
    }
    if !differs {
        return Ok(());
    }
    client
        .update_budget()
        .account_id(account.as_str())
        .new_budget(plan_budget(plan, Some(budget))?)
        .send()
        .await
        .map_err(|e| error("UpdateBudget", &plan.name, e))?;
    Ok(())
}

/// `1500.0` as `1500`; an amount that does not parse as it is.
fn display_amount(text: &str) -> String {
    match Amount::parse(text) {
        Some(amount) => decimal(amount.as_f64()),
        None => text.to_owned(),
    }
}

async fn notifications(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
) -> Result<Vec<Notification>, PortError> {
    let mut pages = client
        .describe_notifications_for_budget()
        .account_id(account.as_str())
        .budget_name(&plan.name)
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| error("DescribeNotificationsForBudget", &plan.name, e))?;
        all.extend(page.notifications().iter().cloned());
    }
    Ok(all)
}

async fn subscribers(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
    notification: &Notification,
) -> Result<Vec<Sub>, PortError> {
    let mut pages = client
        .describe_subscribers_for_notification()
        .account_id(account.as_str())
        .budget_name(&plan.name)
        .notification(notification.clone())
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| error("DescribeSubscribersForNotification", &plan.name, e))?;
        all.extend(page.subscribers().iter().map(Sub::from_sdk));
    }
    Ok(all)
}

async fn create_notification(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
    notification: &Notification,
    subscribers: &[Sub],
) -> Result<(), PortError> {
    client
        .create_notification()
        .account_id(account.as_str())
        .budget_name(&plan.name)
        .notification(notification.clone())
        .set_subscribers(Some(sdk_subscribers(subscribers)?))
        .send()
        .await
        .map_err(|e| error("CreateNotification", &plan.name, e))?;
    Ok(())
}

async fn delete_notification(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
    notification: &Notification,
) -> Result<(), PortError> {
    match client
        .delete_notification()
        .account_id(account.as_str())
        .budget_name(&plan.name)
        .notification(notification.clone())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match error("DeleteNotification", &plan.name, e) {
            // gone already (a concurrent invocation): what was wanted
            PortError::NotFound { .. } => Ok(()),
            other => Err(other),
        },
    }
}

async fn converge_subscribers(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
    notification: &Notification,
    wanted: &[Sub],
    changes: &mut Changes,
) -> Result<(), PortError> {
    let current = subscribers(client, account, plan, notification).await?;
    let missing: Vec<&Sub> = wanted.iter().filter(|s| !current.contains(s)).collect();
    let extra: Vec<&Sub> = current.iter().filter(|s| !wanted.contains(s)).collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    for sub in &missing {
        changes.say(format!("subscriber {} added", sub.words()));
    }
    for sub in &extra {
        changes.say(format!("subscriber {} removed", sub.words()));
    }
    let topic_missing = missing.iter().any(|s| matches!(s, Sub::Topic(_)));
    let other_topic = current.iter().any(|s| matches!(s, Sub::Topic(_)));
    if topic_missing && other_topic {
        // one SNS subscriber per notification, and never none: start it again
        delete_notification(client, account, plan, notification).await?;
        let fresh = plan_notification(notification.threshold())?;
        return create_notification(client, account, plan, &fresh, wanted).await;
    }
    // the topic first, so that removing the others never leaves the notification empty;
    // then removals before additions, so that the e-mail limit is never passed
    for sub in missing.iter().filter(|s| matches!(s, Sub::Topic(_))) {
        subscriber_call(client, account, plan, notification, sub, true).await?;
    }
    for sub in &extra {
        subscriber_call(client, account, plan, notification, sub, false).await?;
    }
    for sub in missing.iter().filter(|s| !matches!(s, Sub::Topic(_))) {
        subscriber_call(client, account, plan, notification, sub, true).await?;
    }
    Ok(())
}

async fn subscriber_call(
    client: &Client,
    account: &AccountId,
    plan: &BudgetPlan,
    notification: &Notification,
    sub: &Sub,
    create: bool,
) -> Result<(), PortError> {
    let subscriber = sub.to_sdk()?;
    let result = if create {
        client
            .create_subscriber()
            .account_id(account.as_str())
            .budget_name(&plan.name)
            .notification(notification.clone())
            .subscriber(subscriber)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| error("CreateSubscriber", &plan.name, e))
    } else {
        client
            .delete_subscriber()
            .account_id(account.as_str())
            .budget_name(&plan.name)
            .notification(notification.clone())
            .subscriber(subscriber)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| error("DeleteSubscriber", &plan.name, e))
    };
    match result {
        // a concurrent invocation did it already: what was wanted
        Err(PortError::Rejected { message, .. })
            if create && message.starts_with("DuplicateRecordException") =>
        {
            Ok(())
        }
        Err(PortError::NotFound { .. }) if !create => Ok(()),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn plan() -> BudgetPlan {
        BudgetPlan {
            name: "SpaDemo-Budget".into(),
            amount: 500.0,
            currency: "USD".into(),
            thresholds: vec![80.0, 100.0],
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:SpaDemo-BudgetAlerts".into(),
            emails: vec!["alice@example.com".into()],
        }
    }

    fn message(plan: &BudgetPlan) -> String {
        match validate(plan) {
            Err(PortError::Rejected { message, .. }) => message,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_good_plan_passes() {
        assert_eq!(validate(&plan()), Ok(()));
        let mut no_holder = plan();
        no_holder.emails.clear();
        no_holder.thresholds.clear();
        assert_eq!(validate(&no_holder), Ok(()));
    }

    #[test]
    fn amounts_must_be_positive_and_finite() {
        for amount in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e13] {
            let mut p = plan();
            p.amount = amount;
            assert!(
                message(&p).contains("the amount must be greater than 0"),
                "{amount}"
            );
        }
    }

    #[test]
    fn thresholds_are_bounded_and_unique() {
        let mut p = plan();
        p.thresholds = vec![80.0, 1000.5, 80.0, -1.0];
        let m = message(&p);
        assert!(m.contains("threshold 1000.5% is out of 0 to 1000%"), "{m}");
        assert!(m.contains("threshold -1% is out of"), "{m}");
        assert!(m.contains("threshold 80% is given twice"), "{m}");
        p.thresholds = (0..11).map(|t| f64::from(t) * 10.0).collect();
        assert!(message(&p).contains("at most 10 thresholds"));
        p.thresholds = vec![0.0, 1000.0];
        assert_eq!(validate(&p), Ok(()));
    }

    #[test]
    fn subscribers_follow_aws_limits_and_are_masked() {
        let mut p = plan();
        p.emails = (0..11).map(|i| format!("user{i}@example.com")).collect();
        let m = message(&p);
        assert!(m.contains("at most 10 e-mail subscribers"), "{m}");
        p.emails = vec!["bob@example.com".into(), "bob@example.com".into()];
        let m = message(&p);
        assert!(
            m.contains("subscriber b***@example.com is given twice"),
            "{m}"
        );
        assert!(!m.contains("bob@"), "{m}");
        p.emails = vec!["not an address".into()];
        assert!(message(&p).contains("is not an e-mail address"));
        p.emails.clear();
        p.topic_arn = "SpaDemo-BudgetAlerts".into();
        assert!(message(&p).contains("SNS topic ARN"));
    }

    #[test]
    fn names_and_currencies_follow_aws() {
        let mut p = plan();
        p.name = "a:b".into();
        assert!(message(&p).contains("may not contain"));
        p.name = "x".repeat(101);
        assert!(message(&p).contains("1 to 100 characters"));
        let mut p = plan();
        p.currency = String::new();
        assert!(message(&p).contains("currency"));
    }

    #[test]
    fn decimals_are_short_and_compared_exactly() {
        assert_eq!(decimal(1500.0), "1500");
        assert_eq!(decimal(99.99), "99.99");
        assert_eq!(decimal(0.125), "0.125");
        assert!(same_amount("1500.0", 1500.0));
        assert!(same_amount("1500", 1500.0));
        assert!(!same_amount("1500.01", 1500.0));
        assert!(!same_amount("a lot", 1500.0));
        assert_eq!(display_amount("500.0"), "500");
    }

    #[test]
    fn notifications_of_other_shapes_are_not_spas() {
        let ours = plan_notification(80.0).unwrap();
        assert_eq!(plan_shaped(&ours), Some(80_000_000));
        assert_eq!(notification_words(&ours), "threshold 80%");
        let forecast = Notification::builder()
            .notification_type(NotificationType::Forecasted)
            .comparison_operator(ComparisonOperator::GreaterThan)
            .threshold(100.0)
            .threshold_type(ThresholdType::Percentage)
            .build()
            .unwrap();
        assert_eq!(plan_shaped(&forecast), None);
        assert_eq!(
            notification_words(&forecast),
            "notification FORECASTED GREATER_THAN 100 PERCENTAGE"
        );
    }

    #[test]
    fn subscribers_are_named_masked() {
        assert_eq!(
            Sub::Email("alice@example.com".into()).words(),
            "a***@example.com"
        );
        assert_eq!(
            Sub::Topic("arn:aws:sns:eu-west-1:1:t".into()).words(),
            "topic arn:aws:sns:eu-west-1:1:t"
        );
    }
}
