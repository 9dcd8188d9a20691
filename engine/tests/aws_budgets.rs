//! AWS Budgets in member accounts and the central budget alerts path (SNS → SQS).
//!
//! Against the emulator (moto server): budgets are created, left alone (read calls
//! only), and converge on amount, thresholds and subscribers; the topic, queue and
//! subscription are made idempotently and carry a Budgets message to the decoder.
//! Moto 5.2 lacks `UpdateBudget` and the subscriber operations: the emulator launcher
//! (`scripts/moto_server.py`, `complete_budgets`) adds them.
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
use spa_engine::aws::AwsConfig;
use spa_engine::aws::budgets::{MemberBudgets, ensure_budget};
use spa_engine::aws::codebuild::MemberConfigs;
use spa_engine::aws::metrics::ApiCalls;
use spa_engine::aws::sns::{
    PublishScope, budget_alerts_name, budget_alerts_topic_arn, ensure_budget_alerts, queue_policy,
    topic_policy,
};
use spa_engine::events::{AccountId, Amount, Incoming, Threshold};
use spa_engine::ports::{BudgetChange, BudgetPlan, Budgets, PortError};
use spa_engine::settings::{MemorySources, Settings};

const MEMBER: &str = "222222222222";
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:SpaDemo-BudgetAlerts";

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

/// Every member account is the emulator (moto keeps budgets per `AccountId`).
#[derive(Clone)]
struct Emulator(AwsConfig);

impl MemberConfigs for Emulator {
    async fn member_config(&self, _: &AccountId) -> Result<AwsConfig, PortError> {
        Ok(self.0.clone())
    }
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

async fn emulator(scenario: &spa_testkit::Scenario<'_>) -> AwsConfig {
    let sdk = scenario
        .sdk_config()
        .await
        .to_builder()
        .region(Region::new("eu-west-1"))
        .build();
    AwsConfig::from_sdk(&sdk, ApiCalls::new())
}

/// What moto holds: limit, time unit, type, and per threshold its subscribers.
#[derive(Debug, PartialEq)]
struct Held {
    amount: String,
    unit: String,
    monthly_cost: bool,
    notifications: Vec<(String, BTreeSet<(String, String)>)>,
}

async fn held(config: &AwsConfig, name: &str) -> Held {
    let client = config.budgets();
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

#[tokio::test]
async fn a_budget_is_created_then_left_alone_with_reads_only() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let budgets = MemberBudgets::new(Emulator(config.clone()));

    let change = budgets.ensure_budget(&member(), &plan()).await.unwrap();
    assert_eq!(change, BudgetChange::Created);
    assert_eq!(config.calls().count("Budgets:CreateBudget"), 1);
    assert_eq!(
        held(&config, "SpaDemo-Budget").await,
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

    config.calls().reset();
    let again = budgets.ensure_budget(&member(), &plan()).await.unwrap();
    assert_eq!(again, BudgetChange::Unchanged);
    let calls = config.calls().snapshot();
    assert_eq!(
        calls.into_iter().collect::<Vec<_>>(),
        vec![
            ("Budgets:DescribeBudget".to_owned(), 1),
            ("Budgets:DescribeNotificationsForBudget".to_owned(), 1),
            ("Budgets:DescribeSubscribersForNotification".to_owned(), 2),
        ],
        "a second ensure only reads"
    );
}

#[tokio::test]
async fn a_new_amount_or_currency_is_one_update_budget() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let budgets = MemberBudgets::new(Emulator(config.clone()));
    budgets.ensure_budget(&member(), &plan()).await.unwrap();

    config.calls().reset();
    let mut bigger = plan();
    bigger.amount = 1500.0;
    let change = budgets.ensure_budget(&member(), &bigger).await.unwrap();
    assert_eq!(
        change,
        BudgetChange::Updated(vec!["amount 500 → 1500 USD".into()])
    );
    assert_eq!(config.calls().count("Budgets:UpdateBudget"), 1);
    assert_eq!(config.calls().count("Budgets:CreateNotification"), 0);
    let now = held(&config, "SpaDemo-Budget").await;
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
    assert_eq!(held(&config, "SpaDemo-Budget").await.unit, "EUR");
}

#[tokio::test]
async fn thresholds_are_added_and_removed() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let budgets = MemberBudgets::new(Emulator(config.clone()));
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
    assert_eq!(config.calls().count("Budgets:UpdateBudget"), 0);
    assert_eq!(
        held(&config, "SpaDemo-Budget").await.notifications,
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
    let config = emulator(&scenario).await;
    let budgets = MemberBudgets::new(Emulator(config.clone()));
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
    assert_eq!(config.calls().count("Budgets:CreateSubscriber"), 2);
    assert_eq!(config.calls().count("Budgets:DeleteSubscriber"), 2);
    assert_eq!(
        held(&config, "SpaDemo-Budget").await.notifications,
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
        held(&config, "SpaDemo-Budget").await.notifications,
        vec![(actual(100.0), subs(&[])), (actual(80.0), subs(&[]))]
    );
}

#[tokio::test]
async fn a_new_topic_replaces_the_old_one_and_hand_made_notifications_go() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let budgets = MemberBudgets::new(Emulator(config.clone()));
    budgets.ensure_budget(&member(), &plan()).await.unwrap();
    // a forecast alert added by hand in the console
    let forecast = Notification::builder()
        .notification_type(NotificationType::Forecasted)
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(100.0)
        .threshold_type(ThresholdType::Percentage)
        .build()
        .unwrap();
    config
        .budgets()
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

    let mut moved = plan();
    moved.thresholds = vec![80.0];
    moved.topic_arn = "arn:aws:sns:eu-west-1:123456789012:Other-BudgetAlerts".into();
    let change = budgets.ensure_budget(&member(), &moved).await.unwrap();
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
            &"subscriber topic arn:aws:sns:eu-west-1:123456789012:Other-BudgetAlerts added".into()
        ),
        "{words:?}"
    );
    let expected: BTreeSet<(String, String)> = [
        ("SNS".to_owned(), moved.topic_arn.clone()),
        ("EMAIL".to_owned(), "alice@example.com".to_owned()),
    ]
    .into();
    assert_eq!(
        held(&config, "SpaDemo-Budget").await.notifications,
        vec![(actual(80.0), expected)]
    );
    assert_eq!(
        budgets.ensure_budget(&member(), &moved).await.unwrap(),
        BudgetChange::Unchanged
    );
}

#[tokio::test]
async fn a_bad_plan_is_refused_before_any_call() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let budgets = MemberBudgets::new(Emulator(config.clone()));
    let mut bad = plan();
    bad.amount = 0.0;
    bad.thresholds = vec![80.0, 80.0, 2000.0];
    let error = budgets.ensure_budget(&member(), &bad).await.unwrap_err();
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
    assert_eq!(config.calls().total(), 0);
}

#[tokio::test]
async fn a_member_without_its_role_is_denied() {
    let budgets = MemberBudgets::new(NoRole);
    let error = budgets.ensure_budget(&member(), &plan()).await.unwrap_err();
    assert!(matches!(error, PortError::Denied { .. }), "{error:?}");
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

// ---- the central path: SNS topic → SQS queue → the decoder ----

fn settings() -> Settings {
    let text = "environment_identifier: SpaDemo
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: rate(7 days)
  management_role_arn: arn:aws:iam::111111111111:role/SpaManagement
";
    spa_engine::settings::load("settings.yaml", text, &MemorySources::new())
        .unwrap()
        .settings
}

/// The Budgets message of the reference sample, with its subject.
fn budgets_message() -> (String, String) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/events/sqs-budget-alert.json"
    );
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let body = sample["Records"][0]["body"].as_str().unwrap();
    let envelope: Value = serde_json::from_str(body).unwrap();
    (
        envelope["Subject"].as_str().unwrap().to_owned(),
        envelope["Message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn the_alerts_path_is_made_once_and_carries_a_budgets_message_to_the_decoder() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let settings = settings();
    assert_eq!(budget_alerts_name(&settings), "SpaDemo-BudgetAlerts");
    assert_eq!(budget_alerts_topic_arn(&settings), TOPIC);

    let first = ensure_budget_alerts(&config, &settings).await.unwrap();
    assert_eq!(first.topic_arn, TOPIC, "where the budgets of members point");
    assert!(
        first
            .queue_url
            .ends_with("/123456789012/SpaDemo-BudgetAlerts")
    );
    // no organization in this emulator: AWS's same-account policy
    assert_eq!(first.scope, PublishScope::Account("123456789012".into()));

    config.calls().reset();
    let second = ensure_budget_alerts(&config, &settings).await.unwrap();
    assert_eq!(second, first);
    for write in [
        "SNS:SetTopicAttributes",
        "SNS:Subscribe",
        "SNS:SetSubscriptionAttributes",
        "SQS:SetQueueAttributes",
    ] {
        assert_eq!(
            config.calls().count(write),
            0,
            "{write} on the second ensure"
        );
    }

    let sns = config.sns();
    let policy = sns
        .get_topic_attributes()
        .topic_arn(TOPIC)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get("Policy").cloned())
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&policy).unwrap(),
        topic_policy(TOPIC, &first.scope)
    );
    let sqs = config.sqs();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&first.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    let queue_arn = attributes
        .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap();
    assert_eq!(*queue_arn, first.queue_arn);
    let queue_policy_text = attributes
        .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(queue_policy_text).unwrap(),
        queue_policy(queue_arn, TOPIC)
    );
    assert!(
        attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
            .is_some_and(|r| r.contains("SpaDemo-BudgetAlerts-dlq")),
        "failed alerts end in the dead-letter queue"
    );
    let subscriptions = sns
        .list_subscriptions_by_topic()
        .topic_arn(TOPIC)
        .send()
        .await
        .unwrap();
    assert_eq!(subscriptions.subscriptions().len(), 1, "subscribed once");

    // AWS Budgets publishes; SNS delivers to the queue in its envelope
    let (subject, message) = budgets_message();
    let published = sns
        .publish()
        .topic_arn(TOPIC)
        .subject(&subject)
        .message(&message)
        .send()
        .await
        .unwrap();
    let sns_id = published.message_id().unwrap().to_owned();
    let received = sqs
        .receive_message()
        .queue_url(&first.queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
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
            "eventSourceARN": first.queue_arn,
            "awsRegion": "eu-west-1",
        }]
    });
    let decoded = spa_engine::events::decode(event.to_string().as_bytes()).unwrap();
    let Incoming::BudgetAlerts(batch) = decoded else {
        panic!("expected budget alerts, got {decoded:?}");
    };
    assert_eq!(batch.records.len(), 1);
    assert!(batch.failed_message_ids().is_empty());
    let alert = batch.records[0].alert.as_ref().unwrap();
    assert_eq!(alert.account.as_str(), "222222222222");
    assert_eq!(alert.budget_name, "spa-budget");
    assert_eq!(
        alert.event_id.as_str(),
        format!("sns:{sns_id}"),
        "the SNS envelope was kept (raw delivery off)"
    );
    assert!(alert.notified_at.is_some(), "the envelope's timestamp");
    let usd = |a: &str| spa_engine::events::Money {
        amount: Amount::parse(a).unwrap(),
        currency: "USD".into(),
    };
    assert_eq!(alert.threshold, Threshold::Absolute(usd("75")));
    assert_eq!(alert.amount, usd("80.12"));
    assert_eq!(alert.budgeted, Some(usd("100")));
}

#[tokio::test]
async fn in_an_organization_budgets_of_every_member_may_publish() {
    let scenario = spa_testkit::scenario();
    let config = emulator(&scenario).await;
    let settings = settings();
    let alone = ensure_budget_alerts(&config, &settings).await.unwrap();
    assert_eq!(alone.scope, PublishScope::Account("123456789012".into()));

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
    assert_eq!(member_of.scope, PublishScope::Organization(id.clone()));
    assert_eq!(
        config.calls().count("SNS:SetTopicAttributes"),
        1,
        "the policy follows"
    );
    let policy = config
        .sns()
        .get_topic_attributes()
        .topic_arn(TOPIC)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get("Policy").cloned())
        .unwrap();
    let policy: Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(
        policy["Statement"][0]["Condition"]["StringEquals"]["aws:SourceOrgID"],
        id.as_str()
    );
}
