//! AWS Budgets in member accounts and the budget alerts path (member topic → central
//! queue → the decoder).
//!
//! Against the emulator (moto server), with real, distinct accounts: the automation
//! account is moto's default (`123456789012`, the dummy keys), the member is reached
//! as spa reaches it, through its member role (`sts::Roles`): moto maps the keys of an
//! assumed role to the role's account, so the member's topic and budget live in
//! `222222222222` and the central queue in `123456789012`. Budgets are created, left
//! alone (read calls only), and converge on amount, thresholds and subscribers; the
//! member's topic, its policy and the automation account's subscription of the queue
//! are made idempotently and carry a Budgets message from the member's topic to the
//! central queue and the decoder.
//!
//! Moto 5.2 lacks `UpdateBudget` and the subscriber operations, and keeps a
//! subscription made by another account than the topic's away from the topic (neither
//! listed nor delivered to): the emulator launcher (`scripts/moto_server.py`,
//! `complete_budgets`, `keep_subscriptions_with_their_topic`) adds them. Moto does
//! not evaluate topic or queue policies: they are read back and compared, and their
//! meaning is unit-tested in `aws::sns`.
//!
//! With `aws-smithy-mocks`: the exact `CreateBudget` and `UpdateBudget` requests on
//! the wire (AWS's field names and values), and AWS's refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aws_config::Region;
use aws_sdk_budgets::operation::create_budget::CreateBudgetOutput;
use aws_sdk_budgets::operation::describe_budget::{DescribeBudgetError, DescribeBudgetOutput};
use aws_sdk_budgets::operation::describe_notifications_for_budget::DescribeNotificationsForBudgetOutput;
use aws_sdk_budgets::operation::describe_subscribers_for_notification::DescribeSubscribersForNotificationOutput;
use aws_sdk_budgets::operation::update_budget::UpdateBudgetOutput;
use aws_sdk_budgets::types::{
    Budget, BudgetType, ComparisonOperator, Notification, NotificationType, Spend, Subscriber,
    SubscriptionType, ThresholdType, TimePeriod, TimeUnit,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::ErrorMetadata;
use serde_json::{Value, json};
use spa_aws::AwsConfig;
use spa_aws::budgets::{MemberBudgets, ensure_budget};
use spa_aws::codebuild::MemberConfigs;
use spa_aws::metrics::ApiCalls;
use spa_aws::sns::{
    BudgetAlerts, Senders, budget_alerts_name, ensure_budget_alerts, member_topic_policy,
    member_topics_pattern, queue_policy,
};
use spa_aws::sts::{RoleOptions, Roles};
use spa_core::events::{AccountId, Amount, Incoming, Threshold};
use spa_core::footprint::member_budget_topic_arn;
use spa_core::settings::{MemorySources, Settings};
use spa_usecases::ports::{BudgetChange, BudgetPlan, Budgets, PortError};

const AUTOMATION: &str = "123456789012";
const MEMBER: &str = "222222222222";
const TOPIC: &str = "arn:aws:sns:eu-west-1:222222222222:SpaDemo-BudgetAlerts";
const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:SpaDemo-BudgetAlerts";

fn member() -> AccountId {
    AccountId::parse(MEMBER).unwrap()
}

fn plan() -> BudgetPlan {
    BudgetPlan {
        name: "SpaDemo-Budget".into(),
        amount: 500.0,
        currency: "USD".into(),
        thresholds: vec![80.0, 100.0],
        topic_arn: TOPIC.into(),
        emails: vec!["alice@example.com".into()],
    }
}

fn settings() -> Settings {
    let text = "environment_identifier: SpaDemo
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: rate(7 days)
  management_role_arn: arn:aws:iam::111111111111:role/SpaManagement
";
    spa_core::settings::load("settings.yaml", text, &MemorySources::new())
        .unwrap()
        .settings
}

/// A member whose role cannot be assumed.
struct NoRole;

impl MemberConfigs for NoRole {
    async fn member_config(&self, account: &AccountId) -> Result<AwsConfig, PortError> {
        Err(PortError::Denied {
            service: "sts".into(),
            action: "AssumeRole".into(),
            message: format!("no member role in {account}"),
        })
    }
}

/// The automation account of the emulator (moto's default account).
async fn emulator(scenario: &spa_testkit::Scenario<'_>) -> AwsConfig {
    let sdk = scenario
        .sdk_config()
        .await
        .to_builder()
        .region(Region::new("eu-west-1"))
        .build();
    AwsConfig::from_sdk(&sdk, ApiCalls::new())
}

/// The two accounts, the central queue and the adapter, as deployed: the member
/// reached through its member role, calls of both accounts counted together.
struct World {
    automation: AwsConfig,
    member: AwsConfig,
    alerts: BudgetAlerts,
    budgets: MemberBudgets<Arc<Roles>>,
}

impl World {
    async fn new(scenario: &spa_testkit::Scenario<'_>) -> Self {
        let automation = emulator(scenario).await;
        let alerts = ensure_budget_alerts(&automation, &settings())
            .await
            .unwrap();
        assert_eq!(alerts.queue_arn, QUEUE);
        let roles = Arc::new(Roles::new(
            automation.clone(),
            "aws",
            "SpaMember",
            RoleOptions::new("spa-test"),
        ));
        let member = roles.member(&member()).await.unwrap();
        let identity = member.sts().get_caller_identity().send().await.unwrap();
        assert_eq!(identity.account(), Some(MEMBER), "a distinct account");
        let budgets = MemberBudgets::new(roles, automation.clone(), alerts.queue_arn.clone());
        automation.calls().reset();
        Self {
            automation,
            member,
            alerts,
            budgets,
        }
    }

    fn calls(&self) -> Vec<(String, u64)> {
        self.automation.calls().snapshot().into_iter().collect()
    }
}

/// What moto holds: limit, time unit, type, and per threshold its subscribers.
#[derive(Debug, PartialEq)]
struct Held {
    amount: String,
    unit: String,
    monthly_cost: bool,
    notifications: Vec<(String, BTreeSet<(String, String)>)>,
}

/// The budget as the member account holds it.
async fn held(member: &AwsConfig, name: &str) -> Held {
    let client = member.budgets();
    let budget = client
        .describe_budget()
        .account_id(MEMBER)
        .budget_name(name)
        .send()
        .await
        .expect("budget")
        .budget()
        .cloned()
        .expect("a budget");
    let limit = budget.budget_limit().expect("a limit");
    let notifications = client
        .describe_notifications_for_budget()
        .account_id(MEMBER)
        .budget_name(name)
        .send()
        .await
        .expect("notifications")
        .notifications()
        .to_vec();
    let mut per_threshold = Vec::new();
    for n in notifications {
        let subscribers = client
            .describe_subscribers_for_notification()
            .account_id(MEMBER)
            .budget_name(name)
            .notification(n.clone())
            .send()
            .await
            .expect("subscribers")
            .subscribers()
            .iter()
            .map(|s| {
                (
                    s.subscription_type().as_str().to_owned(),
                    s.address().to_owned(),
                )
            })
            .collect();
        per_threshold.push((
            format!(
                "{} {} {} {}",
                n.notification_type().as_str(),
                n.comparison_operator().as_str(),
                n.threshold(),
                n.threshold_type().map_or("-", |t| t.as_str())
            ),
            subscribers,
        ));
    }
    per_threshold.sort();
    Held {
        amount: limit.amount().to_owned(),
        unit: limit.unit().to_owned(),
        monthly_cost: *budget.time_unit() == TimeUnit::Monthly
            && *budget.budget_type() == BudgetType::Cost,
        notifications: per_threshold,
    }
}

fn subs(emails: &[&str]) -> BTreeSet<(String, String)> {
    std::iter::once(("SNS".to_owned(), TOPIC.to_owned()))
        .chain(emails.iter().map(|e| ("EMAIL".to_owned(), (*e).to_owned())))
        .collect()
}

fn actual(threshold: f64) -> String {
    format!("ACTUAL GREATER_THAN {threshold} PERCENTAGE")
}

fn calls(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect()
}

#[tokio::test]
async fn a_budget_is_created_then_left_alone_with_reads_only() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;

    let change = world
        .budgets
        .ensure_budget(&member(), &plan())
        .await
        .unwrap();
    assert_eq!(change, BudgetChange::Created);
    assert_eq!(world.automation.calls().count("Budgets:CreateBudget"), 1);
    assert_eq!(
        held(&world.member, "SpaDemo-Budget").await,
        Held {
            amount: "500".into(),
            unit: "USD".into(),
            monthly_cost: true,
            notifications: vec![
                (actual(100.0), subs(&["alice@example.com"])),
                (actual(80.0), subs(&["alice@example.com"])),
            ],
        }
    );

    world.automation.calls().reset();
    let again = world
        .budgets
        .ensure_budget(&member(), &plan())
        .await
        .unwrap();
    assert_eq!(again, BudgetChange::Unchanged);
    assert_eq!(
        world.calls(),
        calls(&[
            ("Budgets:DescribeBudget", 1),
            ("Budgets:DescribeNotificationsForBudget", 1),
            ("Budgets:DescribeSubscribersForNotification", 2),
            ("SNS:GetSubscriptionAttributes", 1),
            ("SNS:GetTopicAttributes", 1),
            ("SNS:ListSubscriptionsByTopic", 1),
        ]),
        "a second ensure only reads"
    );
}

#[tokio::test]
async fn a_new_amount_or_currency_is_one_update_budget() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;
    let budgets = &world.budgets;
    budgets.ensure_budget(&member(), &plan()).await.unwrap();

    world.automation.calls().reset();
    let mut bigger = plan();
    bigger.amount = 1500.0;
    let change = budgets.ensure_budget(&member(), &bigger).await.unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec!["amount 500 → 1500 USD".into()])
    );
    assert_eq!(world.automation.calls().count("Budgets:UpdateBudget"), 1);
    assert_eq!(
        world.automation.calls().count("Budgets:CreateNotification"),
        0
    );
    let now = held(&world.member, "SpaDemo-Budget").await;
    assert_eq!((now.amount.as_str(), now.unit.as_str()), ("1500", "USD"));
    assert!(now.monthly_cost);
    assert_eq!(now.notifications.len(), 2, "notifications kept");

    let mut euros = bigger.clone();
    euros.currency = "EUR".into();
    let change = budgets.ensure_budget(&member(), &euros).await.unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec!["amount 1500 USD → 1500 EUR".into()])
    );
    assert_eq!(held(&world.member, "SpaDemo-Budget").await.unit, "EUR");
}

#[tokio::test]
async fn thresholds_are_added_and_removed() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;
    let budgets = &world.budgets;
    budgets.ensure_budget(&member(), &plan()).await.unwrap();

    let mut other = plan();
    other.thresholds = vec![80.0, 120.0];
    let change = budgets.ensure_budget(&member(), &other).await.unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec![
            "threshold 100% removed".into(),
            "threshold 120% added".into()
        ])
    );
    assert_eq!(world.automation.calls().count("Budgets:UpdateBudget"), 0);
    assert_eq!(
        held(&world.member, "SpaDemo-Budget").await.notifications,
        vec![
            (actual(120.0), subs(&["alice@example.com"])),
            (actual(80.0), subs(&["alice@example.com"])),
        ]
    );
    assert_eq!(
        budgets.ensure_budget(&member(), &other).await.unwrap(),
        BudgetChange::Unchanged
    );
}

#[tokio::test]
async fn subscribers_follow_the_holder() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;
    let budgets = &world.budgets;
    budgets.ensure_budget(&member(), &plan()).await.unwrap();

    let mut bob = plan();
    bob.emails = vec!["bob@example.com".into()];
    let change = budgets.ensure_budget(&member(), &bob).await.unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec![
            "subscriber b***@example.com added".into(),
            "subscriber a***@example.com removed".into(),
        ]),
        "said once for all thresholds, addresses masked"
    );
    assert_eq!(
        world.automation.calls().count("Budgets:CreateSubscriber"),
        2
    );
    assert_eq!(
        world.automation.calls().count("Budgets:DeleteSubscriber"),
        2
    );
    assert_eq!(
        held(&world.member, "SpaDemo-Budget").await.notifications,
        vec![
            (actual(100.0), subs(&["bob@example.com"])),
            (actual(80.0), subs(&["bob@example.com"])),
        ]
    );

    // the account back in the pool: the topic only
    let mut pool = plan();
    pool.emails.clear();
    let change = budgets.ensure_budget(&member(), &pool).await.unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec!["subscriber b***@example.com removed".into()])
    );
    assert_eq!(
        held(&world.member, "SpaDemo-Budget").await.notifications,
        vec![(actual(100.0), subs(&[])), (actual(80.0), subs(&[]))]
    );
}

#[tokio::test]
async fn a_new_topic_replaces_the_old_one_and_hand_made_notifications_go() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;
    let client = world.member.budgets();
    ensure_budget(&client, &member(), &plan()).await.unwrap();
    // a forecast alert added by hand in the console
    let forecast = Notification::builder()
        .notification_type(NotificationType::Forecasted)
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(100.0)
        .threshold_type(ThresholdType::Percentage)
        .build()
        .unwrap();
    client
        .create_notification()
        .account_id(MEMBER)
        .budget_name("SpaDemo-Budget")
        .notification(forecast)
        .subscribers(
            Subscriber::builder()
                .subscription_type(SubscriptionType::Email)
                .address("someone@example.com")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // the budget alone (`ensure_budget`): another topic of the member account
    let mut moved = plan();
    moved.thresholds = vec![80.0];
    moved.topic_arn = "arn:aws:sns:eu-west-1:222222222222:Other-BudgetAlerts".into();
    let change = ensure_budget(&client, &member(), &moved).await.unwrap();
    let BudgetChange::Updated(words) = change else {
        panic!("expected an update, got {change:?}");
    };
    assert!(
        words.contains(&"notification FORECASTED GREATER_THAN 100 PERCENTAGE removed".into()),
        "{words:?}"
    );
    assert!(
        words.contains(&"threshold 100% removed".into()),
        "{words:?}"
    );
    assert!(
        words.contains(
            &"subscriber topic arn:aws:sns:eu-west-1:222222222222:Other-BudgetAlerts added".into()
        ),
        "{words:?}"
    );
    let expected: BTreeSet<(String, String)> = [
        ("SNS".to_owned(), moved.topic_arn.clone()),
        ("EMAIL".to_owned(), "alice@example.com".to_owned()),
    ]
    .into();
    assert_eq!(
        held(&world.member, "SpaDemo-Budget").await.notifications,
        vec![(actual(80.0), expected)]
    );
    assert_eq!(
        ensure_budget(&client, &member(), &moved).await.unwrap(),
        BudgetChange::Unchanged
    );
}

#[tokio::test]
async fn a_bad_plan_is_refused_before_any_call() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;
    let mut bad = plan();
    bad.amount = 0.0;
    bad.thresholds = vec![80.0, 80.0, 2000.0];
    let error = world
        .budgets
        .ensure_budget(&member(), &bad)
        .await
        .unwrap_err();
    let PortError::Rejected { message, .. } = &error else {
        panic!("expected a rejection, got {error:?}");
    };
    assert!(
        message.contains("the amount must be greater than 0"),
        "{message}"
    );
    assert!(
        message.contains("threshold 80% is given twice"),
        "{message}"
    );
    assert!(
        message.contains("threshold 2000% is out of 0 to 1000%"),
        "{message}"
    );
    assert_eq!(world.automation.calls().total(), 0);
}

#[tokio::test]
async fn a_topic_of_another_account_is_refused_before_any_call() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;
    // the design AWS does not support: every budget notifying the automation account
    let mut central = plan();
    central.topic_arn = "arn:aws:sns:eu-west-1:123456789012:SpaDemo-BudgetAlerts".into();
    let error = world
        .budgets
        .ensure_budget(&member(), &central)
        .await
        .unwrap_err();
    let PortError::Rejected { message, .. } = &error else {
        panic!("expected a rejection, got {error:?}");
    };
    assert!(
        message.contains("AWS Budgets notifies only a topic of the budget's account"),
        "{message}"
    );
    // a topic the central queue would not admit
    let mut elsewhere = plan();
    elsewhere.topic_arn = "arn:aws:sns:us-east-1:222222222222:SpaDemo-BudgetAlerts".into();
    let error = world
        .budgets
        .ensure_budget(&member(), &elsewhere)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("admits `arn:aws:sns:eu-west-1:*:SpaDemo-BudgetAlerts` only"),
        "{error}"
    );
    assert_eq!(world.automation.calls().total(), 0);
}

#[tokio::test]
async fn a_member_without_its_role_is_denied() {
    let sdk = aws_config::SdkConfig::builder()
        .region(Region::new("eu-west-1"))
        .build();
    let automation = AwsConfig::from_sdk(&sdk, ApiCalls::new());
    let budgets = MemberBudgets::new(NoRole, automation.clone(), QUEUE);
    let error = budgets.ensure_budget(&member(), &plan()).await.unwrap_err();
    assert!(matches!(error, PortError::Denied { .. }), "{error:?}");
    assert_eq!(automation.calls().total(), 0);
}

// ---- the requests on the wire (aws-smithy-mocks) ----

/// Keeps the body of every request sent, by its `X-Amz-Target`.
#[derive(Debug, Clone, Default)]
struct Wire(Arc<Mutex<Vec<(String, Value)>>>);

impl Wire {
    fn body(&self, operation: &str) -> Value {
        let sent = self.0.lock().unwrap();
        sent.iter()
            .find(|(target, _)| target.ends_with(&format!(".{operation}")))
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("no {operation} in {sent:?}"))
    }

    fn operations(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.rsplit('.').next().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "Wire"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_owned();
        let body = request
            .body()
            .bytes()
            .map(|b| serde_json::from_slice(b).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        self.0.lock().unwrap().push((target, body));
        Ok(())
    }
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn not_found() -> DescribeBudgetError {
    DescribeBudgetError::NotFoundException(
        aws_sdk_budgets::types::error::NotFoundException::builder()
            .message("Unable to get budget: SpaDemo-Budget - the budget doesn't exist.")
            .meta(meta(
                "NotFoundException",
                "Unable to get budget: SpaDemo-Budget - the budget doesn't exist.",
            ))
            .build(),
    )
}

#[tokio::test]
async fn create_budget_sends_what_aws_expects() {
    let wire = Wire::default();
    let describe = mock!(aws_sdk_budgets::Client::describe_budget).then_error(not_found);
    let create = mock!(aws_sdk_budgets::Client::create_budget)
        .then_output(|| CreateBudgetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_budgets,
        RuleMode::Sequential,
        &[&describe, &create],
        {
            let wire = wire.clone();
            move |b: aws_sdk_budgets::config::Builder| b.interceptor(wire.clone())
        }
    );
    let mut plan = plan();
    plan.amount = 1500.0;
    plan.thresholds = vec![80.0, 120.5];
    let change = ensure_budget(&client, &member(), &plan).await.unwrap();
    assert_eq!(change, BudgetChange::Created);
    assert_eq!(wire.operations(), ["DescribeBudget", "CreateBudget"]);
    assert_eq!(
        wire.body("DescribeBudget"),
        json!({"AccountId": MEMBER, "BudgetName": "SpaDemo-Budget"})
    );
    let subscribers = json!([
        {"SubscriptionType": "SNS", "Address": TOPIC},
        {"SubscriptionType": "EMAIL", "Address": "alice@example.com"},
    ]);
    assert_eq!(
        wire.body("CreateBudget"),
        json!({
            "AccountId": MEMBER,
            "Budget": {
                "BudgetName": "SpaDemo-Budget",
                "BudgetLimit": {"Amount": "1500", "Unit": "USD"},
                "TimeUnit": "MONTHLY",
                "BudgetType": "COST",
            },
            "NotificationsWithSubscribers": [
                {
                    "Notification": {
                        "NotificationType": "ACTUAL",
                        "ComparisonOperator": "GREATER_THAN",
                        "Threshold": 80.0,
                        "ThresholdType": "PERCENTAGE",
                    },
                    "Subscribers": subscribers,
                },
                {
                    "Notification": {
                        "NotificationType": "ACTUAL",
                        "ComparisonOperator": "GREATER_THAN",
                        "Threshold": 120.5,
                        "ThresholdType": "PERCENTAGE",
                    },
                    "Subscribers": subscribers,
                },
            ],
        })
    );
}

fn existing_budget(amount: &str) -> Budget {
    Budget::builder()
        .budget_name("SpaDemo-Budget")
        .budget_limit(Spend::builder().amount(amount).unit("USD").build().unwrap())
        .time_unit(TimeUnit::Monthly)
        .budget_type(BudgetType::Cost)
        .time_period(
            TimePeriod::builder()
                .start(aws_smithy_types::DateTime::from_secs(1_793_491_200))
                .end(aws_smithy_types::DateTime::from_secs(3_706_473_600))
                .build(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn update_budget_sends_the_new_limit_and_keeps_the_period() {
    let wire = Wire::default();
    let describe = mock!(aws_sdk_budgets::Client::describe_budget).then_output(|| {
        DescribeBudgetOutput::builder()
            .budget(existing_budget("500.0"))
            .build()
    });
    let update = mock!(aws_sdk_budgets::Client::update_budget)
        .then_output(|| UpdateBudgetOutput::builder().build());
    let notifications = mock!(aws_sdk_budgets::Client::describe_notifications_for_budget)
        .then_output(|| {
            DescribeNotificationsForBudgetOutput::builder()
                .notifications(
                    Notification::builder()
                        .notification_type(NotificationType::Actual)
                        .comparison_operator(ComparisonOperator::GreaterThan)
                        .threshold(80.0)
                        .threshold_type(ThresholdType::Percentage)
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let subscribers = mock!(aws_sdk_budgets::Client::describe_subscribers_for_notification)
        .then_output(|| {
            DescribeSubscribersForNotificationOutput::builder()
                .subscribers(
                    Subscriber::builder()
                        .subscription_type(SubscriptionType::Sns)
                        .address(TOPIC)
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let client = mock_client!(
        aws_sdk_budgets,
        RuleMode::Sequential,
        &[&describe, &update, &notifications, &subscribers],
        {
            let wire = wire.clone();
            move |b: aws_sdk_budgets::config::Builder| b.interceptor(wire.clone())
        }
    );
    let mut plan = plan();
    plan.amount = 750.25;
    plan.thresholds = vec![80.0];
    plan.emails.clear();
    let change = ensure_budget(&client, &member(), &plan).await.unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec!["amount 500 → 750.25 USD".into()])
    );
    assert_eq!(
        wire.operations(),
        [
            "DescribeBudget",
            "UpdateBudget",
            "DescribeNotificationsForBudget",
            "DescribeSubscribersForNotification"
        ]
    );
    assert_eq!(
        wire.body("UpdateBudget"),
        json!({
            "AccountId": MEMBER,
            "NewBudget": {
                "BudgetName": "SpaDemo-Budget",
                "BudgetLimit": {"Amount": "750.25", "Unit": "USD"},
                "TimeUnit": "MONTHLY",
                "TimePeriod": {"Start": 1_793_491_200, "End": 3_706_473_600_i64},
                "BudgetType": "COST",
            },
        })
    );
}

#[tokio::test]
async fn access_denied_by_budgets_is_denied() {
    let describe = mock!(aws_sdk_budgets::Client::describe_budget).then_error(|| {
        DescribeBudgetError::AccessDeniedException(
            aws_sdk_budgets::types::error::AccessDeniedException::builder()
                .message("not authorized to perform: budgets:ViewBudget")
                .meta(meta(
                    "AccessDeniedException",
                    "not authorized to perform: budgets:ViewBudget",
                ))
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_budgets, RuleMode::Sequential, &[&describe]);
    let error = ensure_budget(&client, &member(), &plan())
        .await
        .unwrap_err();
    let PortError::Denied {
        service,
        action,
        message,
    } = &error
    else {
        panic!("expected Denied, got {error:?}");
    };
    assert_eq!(
        (service.as_str(), action.as_str()),
        ("budgets", "DescribeBudget")
    );
    assert!(message.contains("budgets:ViewBudget"), "{message}");
}

// ---- the alerts path: member topic → central queue → the decoder ----

/// The Budgets message of the reference sample, with its subject.
fn budgets_message() -> (String, String) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/events/sqs-budget-alert.json"
    );
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let body = sample["Records"][0]["body"].as_str().unwrap();
    let envelope: Value = serde_json::from_str(body).unwrap();
    (
        envelope["Subject"].as_str().unwrap().to_owned(),
        envelope["Message"].as_str().unwrap().to_owned(),
    )
}

async fn queue_attributes(
    automation: &AwsConfig,
    queue_url: &str,
) -> std::collections::HashMap<aws_sdk_sqs::types::QueueAttributeName, String> {
    automation
        .sqs()
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes()
        .cloned()
        .unwrap_or_default()
}

async fn topic_names(config: &AwsConfig) -> Vec<String> {
    config
        .sns()
        .list_topics()
        .send()
        .await
        .unwrap()
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_central_queue_is_made_once_and_no_central_topic() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let settings = settings();
    assert_eq!(budget_alerts_name(&settings), "SpaDemo-BudgetAlerts");

    let first = ensure_budget_alerts(&config, &settings).await.unwrap();
    assert_eq!(first.name, "SpaDemo-BudgetAlerts");
    assert_eq!(first.queue_arn, QUEUE);
    assert!(
        first
            .queue_url
            .ends_with("/123456789012/SpaDemo-BudgetAlerts")
    );
    // no organization in this emulator: the topics' name and region only
    assert_eq!(first.senders, Senders::AnyAccount);
    assert!(
        topic_names(&config).await.is_empty(),
        "no topic in the automation account: members' budgets could not notify it"
    );

    config.calls().reset();
    let second = ensure_budget_alerts(&config, &settings).await.unwrap();
    assert_eq!(second, first);
    for write in ["SQS:SetQueueAttributes", "SNS:CreateTopic", "SNS:Subscribe"] {
        assert_eq!(
            config.calls().count(write),
            0,
            "{write} on the second ensure"
        );
    }

    let attributes = queue_attributes(&config, &first.queue_url).await;
    let policy = attributes
        .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
        .unwrap();
    let topics = member_topics_pattern("aws", "eu-west-1", "SpaDemo-BudgetAlerts");
    assert_eq!(
        serde_json::from_str::<Value>(policy).unwrap(),
        queue_policy(QUEUE, &topics, &Senders::AnyAccount)
    );
    assert!(
        attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
            .is_some_and(|r| r.contains("SpaDemo-BudgetAlerts-dlq")),
        "failed alerts end in the dead-letter queue"
    );
}

#[tokio::test]
async fn in_an_organization_only_its_members_topics_may_send() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let settings = settings();
    let alone = ensure_budget_alerts(&config, &settings).await.unwrap();
    assert_eq!(alone.senders, Senders::AnyAccount);

    let organization = config
        .organizations()
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let id = organization
        .organization()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    config.calls().reset();
    let member_of = ensure_budget_alerts(&config, &settings).await.unwrap();
    assert_eq!(member_of.senders, Senders::Organization(id.clone()));
    assert_eq!(
        config.calls().count("SQS:SetQueueAttributes"),
        1,
        "the policy follows"
    );
    let attributes = queue_attributes(&config, &member_of.queue_url).await;
    let policy: Value = serde_json::from_str(
        attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
            .unwrap(),
    )
    .unwrap();
    let condition = &policy["Statement"][0]["Condition"];
    assert_eq!(condition["StringEquals"]["aws:SourceOrgID"], id.as_str());
    assert_eq!(
        condition["ArnLike"]["aws:SourceArn"],
        "arn:aws:sns:eu-west-1:*:SpaDemo-BudgetAlerts"
    );
}

/// The subscriptions of the member's topic, as its owner (the member) lists them:
/// (protocol, endpoint, owner, subscription ARN).
async fn subscriptions(member: &AwsConfig) -> Vec<(String, String, String, String)> {
    member
        .sns()
        .list_subscriptions_by_topic()
        .topic_arn(TOPIC)
        .send()
        .await
        .unwrap()
        .subscriptions()
        .iter()
        .map(|s| {
            (
                s.protocol().unwrap_or_default().to_owned(),
                s.endpoint().unwrap_or_default().to_owned(),
                s.owner().unwrap_or_default().to_owned(),
                s.subscription_arn().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn topic_policy_of(member: &AwsConfig) -> Value {
    let text = member
        .sns()
        .get_topic_attributes()
        .topic_arn(TOPIC)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get("Policy").cloned())
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn the_member_topic_carries_a_budgets_message_to_the_central_queue_and_the_decoder() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;
    // the use case names the topic the adapter makes
    assert_eq!(
        member_budget_topic_arn("aws", "eu-west-1", &member(), "SpaDemo"),
        TOPIC
    );
    let change = world
        .budgets
        .ensure_budget(&member(), &plan())
        .await
        .unwrap();
    assert_eq!(change, BudgetChange::Created);
    assert_eq!(world.automation.calls().count("SNS:CreateTopic"), 1);
    assert_eq!(world.automation.calls().count("SNS:Subscribe"), 1);

    // in the member account: the topic, its policy, one subscription of the queue
    assert_eq!(topic_names(&world.member).await, [TOPIC]);
    assert_eq!(
        topic_policy_of(&world.member).await,
        member_topic_policy(TOPIC, MEMBER, QUEUE)
    );
    let listed = subscriptions(&world.member).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let (protocol, endpoint, owner, subscription) = &listed[0];
    assert_eq!(
        (protocol.as_str(), endpoint.as_str()),
        ("sqs", QUEUE),
        "the central queue"
    );
    assert_eq!(
        owner, AUTOMATION,
        "made by the queue's owner: no confirmation needed"
    );
    let attributes = world
        .automation
        .sns()
        .get_subscription_attributes()
        .subscription_arn(subscription)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    assert_eq!(attributes["RawMessageDelivery"], "false");
    assert_eq!(attributes["PendingConfirmation"], "false");
    assert!(
        topic_names(&world.automation).await.is_empty(),
        "nothing in the automation account but the queue"
    );

    // AWS Budgets publishes in the member account; SNS delivers to the central queue
    let (subject, message) = budgets_message();
    let published = world
        .member
        .sns()
        .publish()
        .topic_arn(TOPIC)
        .subject(&subject)
        .message(&message)
        .send()
        .await
        .unwrap();
    let sns_id = published.message_id().unwrap().to_owned();
    let received = world
        .automation
        .sqs()
        .receive_message()
        .queue_url(&world.alerts.queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    let envelope: Value = serde_json::from_str(m.body().unwrap()).unwrap();
    assert_eq!(envelope["TopicArn"], TOPIC, "from the member's topic");
    let attributes: serde_json::Map<String, Value> = m
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    // the Lambda SQS event, as the queue's event source mapping builds it
    let event = json!({
        "Records": [{
            "messageId": m.message_id().unwrap(),
            "receiptHandle": m.receipt_handle().unwrap(),
            "body": m.body().unwrap(),
            "attributes": attributes,
            "messageAttributes": {},
            "md5OfBody": m.md5_of_body().unwrap_or_default(),
            "eventSource": "aws:sqs",
            "eventSourceARN": world.alerts.queue_arn,
            "awsRegion": "eu-west-1",
        }]
    });
    let decoded = spa_core::events::decode(event.to_string().as_bytes()).unwrap();
    let Incoming::BudgetAlerts(batch) = decoded else {
        panic!("expected budget alerts, got {decoded:?}");
    };
    assert_eq!(batch.records.len(), 1);
    assert!(batch.failed_message_ids().is_empty());
    let alert = batch.records[0].alert.as_ref().unwrap();
    assert_eq!(alert.account.as_str(), MEMBER);
    assert_eq!(alert.budget_name, "spa-budget");
    assert_eq!(
        alert.event_id.as_str(),
        format!("sns:{sns_id}"),
        "the SNS envelope was kept (raw delivery off)"
    );
    assert!(alert.notified_at.is_some(), "the envelope's timestamp");
    let usd = |a: &str| spa_core::events::Money {
        amount: Amount::parse(a).unwrap(),
        currency: "USD".into(),
    };
    assert_eq!(alert.threshold, Threshold::Absolute(usd("75")));
    assert_eq!(alert.amount, usd("80.12"));
    assert_eq!(alert.budgeted, Some(usd("100")));
}

#[tokio::test]
async fn a_member_topic_changed_by_hand_is_put_back() {
    let scenario = spa_testkit::scenario();
    let world = World::new(&scenario).await;
    world
        .budgets
        .ensure_budget(&member(), &plan())
        .await
        .unwrap();
    let subscription = subscriptions(&world.member).await[0].3.clone();

    // someone opens the topic to everyone and turns raw delivery on
    let open = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": "*", "Action": "SNS:Publish", "Resource": TOPIC}]});
    world
        .member
        .sns()
        .set_topic_attributes()
        .topic_arn(TOPIC)
        .attribute_name("Policy")
        .attribute_value(open.to_string())
        .send()
        .await
        .unwrap();
    world
        .automation
        .sns()
        .set_subscription_attributes()
        .subscription_arn(&subscription)
        .attribute_name("RawMessageDelivery")
        .attribute_value("true")
        .send()
        .await
        .unwrap();
    let change = world
        .budgets
        .ensure_budget(&member(), &plan())
        .await
        .unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec![
            "policy of topic SpaDemo-BudgetAlerts restored".into(),
            "raw delivery to the queue turned off on topic SpaDemo-BudgetAlerts".into(),
        ])
    );
    assert_eq!(
        topic_policy_of(&world.member).await,
        member_topic_policy(TOPIC, MEMBER, QUEUE)
    );

    // the subscription removed: made again, once
    world
        .automation
        .sns()
        .unsubscribe()
        .subscription_arn(&subscription)
        .send()
        .await
        .unwrap();
    assert!(subscriptions(&world.member).await.is_empty());
    let change = world
        .budgets
        .ensure_budget(&member(), &plan())
        .await
        .unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec![
            "budget alerts queue subscribed to topic SpaDemo-BudgetAlerts".into()
        ])
    );
    assert_eq!(subscriptions(&world.member).await.len(), 1);

    // the topic deleted (a purge): made again with its policy and subscription
    world
        .member
        .sns()
        .delete_topic()
        .topic_arn(TOPIC)
        .send()
        .await
        .unwrap();
    let change = world
        .budgets
        .ensure_budget(&member(), &plan())
        .await
        .unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec![
            "topic SpaDemo-BudgetAlerts created".into(),
            "budget alerts queue subscribed to topic SpaDemo-BudgetAlerts".into(),
        ])
    );
    assert_eq!(subscriptions(&world.member).await.len(), 1);
    world.automation.calls().reset();
    assert_eq!(
        world
            .budgets
            .ensure_budget(&member(), &plan())
            .await
            .unwrap(),
        BudgetChange::Unchanged
    );
}
