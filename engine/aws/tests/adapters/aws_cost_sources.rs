//! The organization's cost sources: Cost Explorer in the management account and
//! CUR 2.0 through Athena, against the emulator (moto server) where it can answer,
//! and with `aws-smithy-mocks` on the exact requests where it cannot.
//!
//! Moto tracks no cost: `GetCostAndUsage` answers what a test registers on
//! `/moto-api/static/ce/cost-and-usage-results`, per account, in order: a request
//! takes the next registered answer and keeps it for requests with the same body. So
//! the answers registered in order land in the breakdown of the query that comes in
//! that order (service, usage type, record type), and a second page (its request
//! carries the token) takes the next answer. Athena's results are registered the same
//! way on `/moto-api/static/athena/query-results` (one page: moto has no `NextToken`).
//! Moto has no `GetCostForecast`, records no request, and cannot make a query fail
//! or run long: those are tested with mocks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput;
use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput;
use aws_sdk_athena::operation::stop_query_execution::StopQueryExecutionOutput;
use aws_sdk_athena::types::{
    Datum, QueryExecution, QueryExecutionState, QueryExecutionStatus, ResultSet, Row,
};
use aws_sdk_costexplorer::operation::get_cost_and_usage::{
    GetCostAndUsageError, GetCostAndUsageOutput,
};
use aws_sdk_costexplorer::operation::get_cost_forecast::{
    GetCostForecastError, GetCostForecastOutput,
};
use aws_sdk_costexplorer::types::{DateInterval, Group, MetricValue, ResultByTime};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::ErrorMetadata;
use chrono::NaiveDate;
use serde_json::{Value, json};
use spa_aws::athena::{CostSources, CurCosts, Polling};
use spa_aws::config::AwsConfig;
use spa_aws::cost_explorer::{ACCOUNTS_PER_FILTER, OrganizationCosts};
use spa_aws::metrics::ApiCalls;
use spa_core::events::AccountId;
use spa_core::reports::{AccountCost, Month};
use spa_core::settings::{AthenaName, AthenaSource, Region, S3Url};
use spa_usecases::ports::{CostSource, PortError};

/// Moto's default account: the management account of these tests.
const PAYER: &str = "123456789012";
const A: &str = "111111111111";
const B: &str = "222222222222";

fn month() -> Month {
    "2026-10".parse().unwrap()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn id(text: &str) -> AccountId {
    AccountId::parse(text).unwrap()
}

async fn explorer(scenario: &spa_testkit::Scenario<'_>) -> (OrganizationCosts, ApiCalls) {
    let calls = ApiCalls::new();
    let config = AwsConfig::from_sdk(&scenario.sdk_config().await, calls.clone());
    (OrganizationCosts::new(&config), calls)
}

async fn post(scenario: &spa_testkit::Scenario<'_>, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/moto-api/static/{path}", scenario.endpoint()))
        .json(&body)
        .send()
        .await
        .expect("registered");
    assert_eq!(response.status().as_u16(), 201);
}

/// Registers the answers of `GetCostAndUsage` in the payer account, in order.
async fn register(scenario: &spa_testkit::Scenario<'_>, pages: Vec<Value>) {
    post(
        scenario,
        "ce/cost-and-usage-results",
        json!({ "account_id": PAYER, "results": pages }),
    )
    .await;
}

fn group(keys: &[&str], amount: &str, unit: &str) -> Value {
    json!({
        "Keys": keys,
        "Metrics": { "UnblendedCost": { "Amount": amount, "Unit": unit } }
    })
}

fn page(start: &str, end: &str, groups: Vec<Value>, next: Option<&str>) -> Value {
    let mut page = json!({
        "ResultsByTime": [{
            "TimePeriod": { "Start": start, "End": end },
            "Total": {},
            "Groups": groups,
            "Estimated": false
        }],
        "DimensionValueAttributes": []
    });
    if let Some(next) = next {
        page["NextPageToken"] = json!(next);
    }
    page
}

fn october(groups: Vec<Value>, next: Option<&str>) -> Value {
    page("2026-10-01", "2026-11-01", groups, next)
}

fn rounded(costs: &[AccountCost]) -> Vec<(String, String, f64)> {
    costs
        .iter()
        .map(|c| {
            (
                c.account.as_str().to_owned(),
                c.key.clone(),
                (c.amount * 1e6).round() / 1e6,
            )
        })
        .collect()
}

fn row(account: &str, key: &str, amount: f64) -> (String, String, f64) {
    (account.to_owned(), key.to_owned(), amount)
}

#[tokio::test]
async fn a_month_is_read_as_three_breakdowns_over_every_page() {
    let scenario = spa_testkit::scenario();
    register(
        &scenario,
        vec![
            // by service: two pages
            october(
                vec![
                    group(&[A, "Amazon Simple Storage Service"], "1.5", "USD"),
                    group(&[B, "AWS Lambda"], "0", "USD"),
                ],
                Some("service-2"),
            ),
            october(
                vec![group(
                    &[B, "Amazon Elastic Compute Cloud - Compute"],
                    "20.25",
                    "USD",
                )],
                None,
            ),
            // by usage type
            october(
                vec![
                    group(&[A, "EU-TimedStorage-ByteHrs"], "1.5", "USD"),
                    group(&[B, "EU-BoxUsage:t3.micro"], "20.25", "USD"),
                ],
                None,
            ),
            // by record type: an unknown one passes through, credits stay negative
            october(
                vec![
                    group(&[A, "Usage"], "1.5", "USD"),
                    group(&[B, "Usage"], "20.25", "USD"),
                    group(&[B, "Credit"], "-5", "USD"),
                    group(&[B, "Solution Provider Program Discount"], "-0.75", "USD"),
                ],
                None,
            ),
        ],
    )
    .await;
    let (costs, calls) = explorer(&scenario).await;

    let found = costs.monthly_costs(month()).await.expect("costs");

    assert_eq!(found.currency, "USD");
    assert_eq!(
        rounded(&found.by_service),
        [
            row(A, "Amazon Simple Storage Service", 1.5),
            row(B, "Amazon Elastic Compute Cloud - Compute", 20.25),
        ]
    );
    assert_eq!(
        rounded(&found.by_usage_type),
        [
            row(A, "EU-TimedStorage-ByteHrs", 1.5),
            row(B, "EU-BoxUsage:t3.micro", 20.25),
        ]
    );
    assert_eq!(
        rounded(&found.by_record_type),
        [
            row(A, "Usage", 1.5),
            row(B, "Credit", -5.0),
            row(B, "Solution Provider Program Discount", -0.75),
            row(B, "Usage", 20.25),
        ]
    );
    assert_eq!(calls.count("Cost Explorer:GetCostAndUsage"), 4);
}

#[tokio::test]
async fn two_currencies_in_a_month_are_an_error_not_a_wrong_total() {
    let scenario = spa_testkit::scenario();
    register(
        &scenario,
        vec![october(
            vec![
                group(&[A, "Amazon Simple Storage Service"], "1.5", "USD"),
                group(&[B, "Amazon Simple Storage Service"], "2", "EUR"),
            ],
            None,
        )],
    )
    .await;
    let (costs, _) = explorer(&scenario).await;

    let error = costs
        .monthly_costs(month())
        .await
        .expect_err("two currencies");

    assert!(
        matches!(&error, PortError::Inconsistent { why, .. } if why.contains("USD and EUR")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_amount_that_is_not_a_number_is_an_error() {
    let scenario = spa_testkit::scenario();
    register(
        &scenario,
        vec![october(vec![group(&[A, "Amazon S3"], "n/a", "USD")], None)],
    )
    .await;
    let (costs, _) = explorer(&scenario).await;

    let error = costs
        .monthly_costs(month())
        .await
        .expect_err("not a number");

    assert!(
        matches!(&error, PortError::Inconsistent { why, .. } if why.contains("`n/a`") && why.contains(A)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_period_is_summed_by_service_and_by_account_highest_first() {
    let scenario = spa_testkit::scenario();
    register(
        &scenario,
        vec![
            json!({
                "ResultsByTime": [
                    {"TimePeriod": {"Start": "2026-10-05", "End": "2026-10-06"}, "Total": {}, "Estimated": true,
                     "Groups": [group(&["Amazon S3"], "1", "USD"), group(&["AWS Lambda"], "4", "USD")]},
                    {"TimePeriod": {"Start": "2026-10-06", "End": "2026-10-07"}, "Total": {}, "Estimated": true,
                     "Groups": [group(&["Amazon S3"], "2.5", "USD")]}
                ],
                "DimensionValueAttributes": []
            }),
            page(
                "2026-10-05",
                "2026-10-07",
                vec![group(&[A], "2", "USD"), group(&[B], "5.5", "USD")],
                None,
            ),
        ],
    )
    .await;
    let (costs, _) = explorer(&scenario).await;

    let found = costs
        .period_costs(date("2026-10-05"), date("2026-10-07"), None)
        .await
        .expect("period");

    assert_eq!(found.currency, "USD");
    assert_eq!(
        found.by_service,
        [
            ("AWS Lambda".to_owned(), 4.0),
            ("Amazon S3".to_owned(), 3.5)
        ]
    );
    assert_eq!(found.by_account, [(id(B), 5.5), (id(A), 2.0)]);
    let empty = costs
        .period_costs(date("2026-11-01"), date("2026-11-01"), Some(&id(A)))
        .await
        .expect("an empty period costs nothing");
    assert!(empty.by_service.is_empty() && empty.by_account.is_empty());
    assert!(matches!(
        costs
            .period_costs(date("2026-11-02"), date("2026-11-01"), None)
            .await,
        Err(PortError::Rejected { .. })
    ));
}

#[tokio::test]
async fn daily_costs_come_per_day_and_account_without_zero_days() {
    let scenario = spa_testkit::scenario();
    register(
        &scenario,
        vec![json!({
            "ResultsByTime": [
                {"TimePeriod": {"Start": "2026-10-05", "End": "2026-10-06"}, "Total": {}, "Estimated": true,
                 "Groups": [group(&[A], "3.2", "USD"), group(&[B], "0", "USD")]},
                {"TimePeriod": {"Start": "2026-10-06", "End": "2026-10-07"}, "Total": {}, "Estimated": true,
                 "Groups": [group(&[A], "0.4", "USD")]}
            ],
            "DimensionValueAttributes": []
        })],
    )
    .await;
    let (costs, _) = explorer(&scenario).await;

    let days = costs
        .daily_costs(&[id(A), id(B)], date("2026-10-05"), date("2026-10-07"))
        .await
        .expect("days");

    let shown: Vec<(String, String, f64)> = days
        .iter()
        .map(|d| (d.day.to_string(), d.account.as_str().to_owned(), d.amount))
        .collect();
    assert_eq!(
        shown,
        [
            ("2026-10-05".to_owned(), A.to_owned(), 3.2),
            ("2026-10-06".to_owned(), A.to_owned(), 0.4),
        ]
    );
}

fn athena_source(timeout: Duration) -> AthenaSource {
    AthenaSource {
        region: None,
        workgroup: AthenaName("primary".into()),
        database: AthenaName("cur_db".into()),
        table: AthenaName("cur2".into()),
        data_location: S3Url("s3://cur-exports/cur2/".into()),
        output_location: S3Url("s3://athena-results/spa/".into()),
        query_timeout: timeout,
    }
}

fn fast() -> Polling {
    Polling {
        first: Duration::from_millis(10),
        longest: Duration::from_millis(50),
    }
}

fn athena_row(cells: &[&str]) -> Value {
    json!({ "Data": cells.iter().map(|c| json!({"VarCharValue": c})).collect::<Vec<_>>() })
}

const HEADER: [&str; 6] = [
    "line_item_usage_account_id",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_line_item_type",
    "line_item_currency_code",
    "unblended_cost",
];

#[tokio::test]
async fn the_cur_table_gives_the_month_through_athena() {
    let scenario = spa_testkit::scenario();
    post(
        &scenario,
        "athena/query-results",
        json!({
            "account_id": PAYER,
            // the CUR table's region, not the configuration's (us-east-1)
            "region": "eu-west-1",
            "results": [{
                "rows": [
                    athena_row(&HEADER),
                    athena_row(&[A, "AmazonS3", "EU-TimedStorage-ByteHrs", "Usage", "USD", "1.5"]),
                    athena_row(&[B, "AmazonEC2", "EU-BoxUsage:t3.micro", "Usage", "USD", "20.25"]),
                    athena_row(&[B, "AmazonEC2", "EU-BoxUsage:t3.micro", "Credit", "USD", "-5"]),
                    athena_row(&[B, "AmazonEC2", "EU-BoxUsage:t3.micro", "SavingsPlanNegation", "USD", "-1"]),
                ],
                "column_info": []
            }]
        }),
    )
    .await;
    let calls = ApiCalls::new();
    let config = AwsConfig::from_sdk(&scenario.sdk_config().await, calls.clone());
    let mut source = athena_source(Duration::from_secs(60));
    source.region = Some(Region("eu-west-1".into()));
    let cur = CurCosts::new(&config, source).with_polling(fast());
    let sources = CostSources::from_parts(OrganizationCosts::new(&config), Some(cur));
    assert!(sources.uses_athena());

    let found = sources.monthly_costs(month()).await.expect("costs");

    assert_eq!(found.currency, "USD");
    assert_eq!(
        rounded(&found.by_service),
        [row(A, "AmazonS3", 1.5), row(B, "AmazonEC2", 19.25)]
    );
    assert_eq!(
        rounded(&found.by_usage_type),
        [
            row(A, "EU-TimedStorage-ByteHrs", 1.5),
            row(B, "EU-BoxUsage:t3.micro", 19.25)
        ]
    );
    assert_eq!(
        rounded(&found.by_record_type),
        [
            row(A, "Usage", 1.5),
            row(B, "Credit", -5.0),
            row(B, "SavingsPlanNegation", -1.0),
            row(B, "Usage", 20.25),
        ]
    );
    assert_eq!(calls.count("Athena:StartQueryExecution"), 1);
    assert_eq!(calls.count("Athena:GetQueryResults"), 1);
    // Cost Explorer is not asked for the month
    assert_eq!(calls.count("Cost Explorer:GetCostAndUsage"), 0);
}

// ----- exact requests, and what moto cannot do (mocks) -----

/// Records the JSON body of every request sent, by operation.
#[derive(Debug, Clone, Default)]
struct Wire(Arc<Mutex<Vec<(String, Value)>>>);

impl Wire {
    fn bodies(&self, operation: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(target, _)| target.ends_with(&format!(".{operation}")))
            .map(|(_, body)| body.clone())
            .collect()
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

fn ce_output(groups: Vec<(Vec<&str>, &str)>, next: Option<&str>) -> GetCostAndUsageOutput {
    let mut result = ResultByTime::builder().time_period(
        DateInterval::builder()
            .start("2026-10-01")
            .end("2026-11-01")
            .build()
            .unwrap(),
    );
    for (keys, amount) in groups {
        let mut group = Group::builder().metrics(
            "UnblendedCost",
            MetricValue::builder().amount(amount).unit("USD").build(),
        );
        for key in keys {
            group = group.keys(key);
        }
        result = result.groups(group.build());
    }
    GetCostAndUsageOutput::builder()
        .results_by_time(result.build())
        .set_next_page_token(next.map(str::to_owned))
        .build()
}

const CHARGES: fn() -> Value =
    || json!({"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}});

#[tokio::test]
async fn the_three_monthly_queries_group_and_filter_as_cost_explorer_expects() {
    let wire = Wire::default();
    let service = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
        .then_output(|| ce_output(vec![(vec![A, "Amazon S3"], "1")], None));
    let usage = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
        .then_output(|| ce_output(vec![(vec![A, "Requests-Tier1"], "1")], None));
    let record = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
        .then_output(|| ce_output(vec![(vec![A, "Usage"], "1")], None));
    let client = mock_client!(
        aws_sdk_costexplorer,
        RuleMode::Sequential,
        &[&service, &usage, &record],
        {
            let wire = wire.clone();
            move |b: aws_sdk_costexplorer::config::Builder| b.interceptor(wire.clone())
        }
    );

    OrganizationCosts::from_client(client)
        .monthly_costs(month())
        .await
        .expect("costs");

    let bodies = wire.bodies("GetCostAndUsage");
    let expected = |dimension: &str, filter: Option<Value>| {
        let mut body = json!({
            "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [
                {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                {"Type": "DIMENSION", "Key": dimension}
            ]
        });
        if let Some(filter) = filter {
            body["Filter"] = filter;
        }
        body
    };
    assert_eq!(
        bodies,
        [
            expected("SERVICE", Some(CHARGES())),
            expected("USAGE_TYPE", Some(CHARGES())),
            expected("RECORD_TYPE", None),
        ]
    );
}

#[tokio::test]
async fn daily_costs_ask_for_the_accounts_in_chunks() {
    let wire = Wire::default();
    let answer = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
        .then_output(|| GetCostAndUsageOutput::builder().build());
    let client = mock_client!(aws_sdk_costexplorer, RuleMode::MatchAny, &[&answer], {
        let wire = wire.clone();
        move |b: aws_sdk_costexplorer::config::Builder| b.interceptor(wire.clone())
    });
    let accounts: Vec<AccountId> = (0..ACCOUNTS_PER_FILTER * 2 + 5)
        .map(|n| id(&format!("{:012}", 100_000_000_000u64 + n as u64)))
        .collect();

    let days = OrganizationCosts::from_client(client)
        .daily_costs(&accounts, date("2026-10-01"), date("2026-10-04"))
        .await
        .expect("days");

    assert!(days.is_empty());
    let bodies = wire.bodies("GetCostAndUsage");
    assert_eq!(bodies.len(), 3);
    let mut asked = Vec::new();
    for body in &bodies {
        assert_eq!(body["Granularity"], "DAILY");
        assert_eq!(
            body["GroupBy"],
            json!([{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}])
        );
        let and = body["Filter"]["And"].as_array().unwrap();
        assert_eq!(and[0], CHARGES());
        assert_eq!(and[1]["Dimensions"]["Key"], "LINKED_ACCOUNT");
        let values = and[1]["Dimensions"]["Values"].as_array().unwrap();
        assert!(values.len() <= ACCOUNTS_PER_FILTER);
        asked.extend(values.iter().map(|v| v.as_str().unwrap().to_owned()));
    }
    let all: Vec<String> = accounts.iter().map(|a| a.as_str().to_owned()).collect();
    assert_eq!(asked, all, "every account asked once, in order");
}

#[tokio::test]
async fn throttling_is_transient_and_access_denied_is_denied() {
    let throttled = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage).then_error(|| {
        GetCostAndUsageError::LimitExceededException(
            aws_sdk_costexplorer::types::error::LimitExceededException::builder()
                .message("Rate exceeded")
                .meta(meta("LimitExceededException", "Rate exceeded"))
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_costexplorer, RuleMode::Sequential, &[&throttled]);
    let error = OrganizationCosts::from_client(client)
        .monthly_costs(month())
        .await
        .expect_err("throttled");
    assert!(error.is_transient(), "{error:?}");

    let denied = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage).then_error(|| {
        GetCostAndUsageError::generic(meta(
            "AccessDeniedException",
            "User is not authorized to perform: ce:GetCostAndUsage",
        ))
    });
    let client = mock_client!(aws_sdk_costexplorer, RuleMode::Sequential, &[&denied]);
    let error = OrganizationCosts::from_client(client)
        .period_costs(date("2026-10-01"), date("2026-10-05"), None)
        .await
        .expect_err("denied");
    assert!(matches!(error, PortError::Denied { .. }), "{error:?}");
}

fn forecast_output(amount: &str) -> GetCostForecastOutput {
    GetCostForecastOutput::builder()
        .total(MetricValue::builder().amount(amount).unit("USD").build())
        .build()
}

#[tokio::test]
async fn the_forecast_is_the_actual_so_far_plus_the_rest_of_the_month() {
    let wire = Wire::default();
    let actual = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
        .then_output(|| ce_output(vec![(vec![A], "40"), (vec![B], "2.5")], None));
    let forecast = mock!(aws_sdk_costexplorer::Client::get_cost_forecast)
        .then_output(|| forecast_output("57.5"));
    let client = mock_client!(
        aws_sdk_costexplorer,
        RuleMode::Sequential,
        &[&actual, &forecast],
        {
            let wire = wire.clone();
            move |b: aws_sdk_costexplorer::config::Builder| b.interceptor(wire.clone())
        }
    );

    let found = OrganizationCosts::from_client(client)
        .forecast(month(), date("2026-10-12"))
        .await
        .expect("forecast")
        .expect("a forecast");

    assert_eq!(found.month, month());
    assert!((found.amount - 100.0).abs() < 1e-9, "{found:?}");
    assert_eq!(found.currency, "USD");
    assert_eq!(wire.operations(), ["GetCostAndUsage", "GetCostForecast"]);
    assert_eq!(
        wire.bodies("GetCostAndUsage")[0]["TimePeriod"],
        json!({"Start": "2026-10-01", "End": "2026-10-12"})
    );
    assert_eq!(
        wire.bodies("GetCostForecast"),
        [json!({
            "TimePeriod": {"Start": "2026-10-12", "End": "2026-11-01"},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
            "Filter": CHARGES(),
        })]
    );
}

#[tokio::test]
async fn the_forecast_on_the_first_day_asks_for_the_whole_month_only() {
    let wire = Wire::default();
    let forecast = mock!(aws_sdk_costexplorer::Client::get_cost_forecast)
        .then_output(|| forecast_output("90"));
    let client = mock_client!(aws_sdk_costexplorer, RuleMode::Sequential, &[&forecast], {
        let wire = wire.clone();
        move |b: aws_sdk_costexplorer::config::Builder| b.interceptor(wire.clone())
    });
    let costs = OrganizationCosts::from_client(client);

    let found = costs
        .forecast(month(), date("2026-10-01"))
        .await
        .expect("forecast")
        .expect("a forecast");
    assert!((found.amount - 90.0).abs() < 1e-9);
    assert_eq!(wire.operations(), ["GetCostForecast"]);

    // a month that is over has nothing left to forecast: no call
    assert_eq!(
        costs
            .forecast(month(), date("2026-11-01"))
            .await
            .expect("ok"),
        None
    );
    assert_eq!(wire.operations().len(), 1);
}

#[tokio::test]
async fn too_little_history_gives_no_forecast_and_throttling_is_transient() {
    let unavailable = mock!(aws_sdk_costexplorer::Client::get_cost_forecast).then_error(|| {
        GetCostForecastError::DataUnavailableException(
            aws_sdk_costexplorer::types::error::DataUnavailableException::builder()
                .message("Insufficient amount of historical data to generate forecast.")
                .meta(meta("DataUnavailableException", "Insufficient data"))
                .build(),
        )
    });
    let throttled = mock!(aws_sdk_costexplorer::Client::get_cost_forecast).then_error(|| {
        GetCostForecastError::LimitExceededException(
            aws_sdk_costexplorer::types::error::LimitExceededException::builder()
                .message("Rate exceeded")
                .meta(meta("LimitExceededException", "Rate exceeded"))
                .build(),
        )
    });
    let client = mock_client!(
        aws_sdk_costexplorer,
        RuleMode::Sequential,
        &[&unavailable, &throttled]
    );
    let costs = OrganizationCosts::from_client(client);

    assert_eq!(
        costs
            .forecast(month(), date("2026-10-01"))
            .await
            .expect("ok"),
        None
    );
    let error = costs
        .forecast(month(), date("2026-10-01"))
        .await
        .expect_err("throttled");
    assert!(error.is_transient(), "{error:?}");
}

fn execution(state: QueryExecutionState, reason: Option<&str>) -> GetQueryExecutionOutput {
    GetQueryExecutionOutput::builder()
        .query_execution(
            QueryExecution::builder()
                .query_execution_id("q-1")
                .status(
                    QueryExecutionStatus::builder()
                        .state(state)
                        .set_state_change_reason(reason.map(str::to_owned))
                        .build(),
                )
                .build(),
        )
        .build()
}

fn results(rows: &[&[&str]], next: Option<&str>) -> GetQueryResultsOutput {
    let mut set = ResultSet::builder();
    for cells in rows {
        let mut row = Row::builder();
        for cell in *cells {
            row = row.data(Datum::builder().var_char_value(*cell).build());
        }
        set = set.rows(row.build());
    }
    GetQueryResultsOutput::builder()
        .result_set(set.build())
        .set_next_token(next.map(str::to_owned))
        .build()
}

fn started() -> StartQueryExecutionOutput {
    StartQueryExecutionOutput::builder()
        .query_execution_id("q-1")
        .build()
}

#[tokio::test]
async fn athena_is_asked_as_configured_polled_and_read_page_by_page() {
    let wire = Wire::default();
    let start = mock!(aws_sdk_athena::Client::start_query_execution).then_output(started);
    let running = mock!(aws_sdk_athena::Client::get_query_execution)
        .then_output(|| execution(QueryExecutionState::Running, None));
    let done = mock!(aws_sdk_athena::Client::get_query_execution)
        .then_output(|| execution(QueryExecutionState::Succeeded, None));
    let first = mock!(aws_sdk_athena::Client::get_query_results).then_output(|| {
        results(
            &[
                &HEADER,
                &[A, "AmazonS3", "Requests-Tier1", "Usage", "USD", "1.25"],
            ],
            Some("page-2"),
        )
    });
    let second = mock!(aws_sdk_athena::Client::get_query_results).then_output(|| {
        // no header on later pages; a row without cost (SUM of nothing) is skipped
        results(
            &[
                &[A, "AmazonS3", "Requests-Tier1", "Usage", "USD", "0.75"],
                &[B, "AmazonEC2", "BoxUsage", "Refund", "USD", "-3"],
                &[B, "AmazonEC2", "BoxUsage", "Usage", "USD", ""],
            ],
            None,
        )
    });
    let client = mock_client!(
        aws_sdk_athena,
        RuleMode::Sequential,
        &[&start, &running, &done, &first, &second],
        {
            let wire = wire.clone();
            move |b: aws_sdk_athena::config::Builder| b.interceptor(wire.clone())
        }
    );

    let found = CurCosts::from_client(client, athena_source(Duration::from_secs(60)))
        .with_polling(fast())
        .monthly_costs(month())
        .await
        .expect("costs");

    assert_eq!(rounded(&found.by_service), [row(A, "AmazonS3", 2.0)]);
    assert_eq!(
        rounded(&found.by_usage_type),
        [row(A, "Requests-Tier1", 2.0)]
    );
    assert_eq!(
        rounded(&found.by_record_type),
        [row(A, "Usage", 2.0), row(B, "Refund", -3.0)]
    );
    assert_eq!(
        wire.operations(),
        [
            "StartQueryExecution",
            "GetQueryExecution",
            "GetQueryExecution",
            "GetQueryResults",
            "GetQueryResults"
        ]
    );
    let start = &wire.bodies("StartQueryExecution")[0];
    assert_eq!(start["WorkGroup"], "primary");
    assert_eq!(
        start["QueryExecutionContext"],
        json!({"Database": "cur_db"})
    );
    assert_eq!(
        start["ResultConfiguration"],
        json!({"OutputLocation": "s3://athena-results/spa/"})
    );
    let sql = start["QueryString"].as_str().unwrap();
    assert!(sql.contains("FROM \"cur_db\".\"cur2\""), "{sql}");
    assert!(sql.contains("billing_period = '2026-10'"), "{sql}");
    let pages = wire.bodies("GetQueryResults");
    assert_eq!(pages[0].get("NextToken"), None);
    assert_eq!(pages[1]["NextToken"], "page-2");
    assert_eq!(pages[1]["QueryExecutionId"], "q-1");
}

#[tokio::test]
async fn a_failed_query_says_why_with_athenas_reason() {
    let start = mock!(aws_sdk_athena::Client::start_query_execution).then_output(started);
    let failed = mock!(aws_sdk_athena::Client::get_query_execution).then_output(|| {
        execution(
            QueryExecutionState::Failed,
            Some("TABLE_NOT_FOUND: line 1:200: Table 'awsdatacatalog.cur_db.cur2' does not exist"),
        )
    });
    let client = mock_client!(aws_sdk_athena, RuleMode::Sequential, &[&start, &failed]);

    let error = CurCosts::from_client(client, athena_source(Duration::from_secs(60)))
        .with_polling(fast())
        .monthly_costs(month())
        .await
        .expect_err("failed");

    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(
        text.contains("q-1") && text.contains("TABLE_NOT_FOUND"),
        "{text}"
    );
}

#[tokio::test]
async fn a_query_past_its_timeout_is_stopped_and_named() {
    let wire = Wire::default();
    let start = mock!(aws_sdk_athena::Client::start_query_execution).then_output(started);
    let running = mock!(aws_sdk_athena::Client::get_query_execution)
        .then_output(|| execution(QueryExecutionState::Running, None));
    let stop = mock!(aws_sdk_athena::Client::stop_query_execution)
        .then_output(|| StopQueryExecutionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_athena,
        RuleMode::Sequential,
        &[&start, &running, &stop],
        {
            let wire = wire.clone();
            move |b: aws_sdk_athena::config::Builder| b.interceptor(wire.clone())
        }
    );

    // a timeout of zero: the first poll that does not see the end stops the query
    let error = CurCosts::from_client(client, athena_source(Duration::ZERO))
        .with_polling(fast())
        .monthly_costs(month())
        .await
        .expect_err("timed out");

    let text = error.to_string();
    assert!(
        text.contains("q-1") && text.contains("query timeout of 0s") && text.contains("stopped"),
        "{text}"
    );
    assert_eq!(
        wire.operations(),
        [
            "StartQueryExecution",
            "GetQueryExecution",
            "StopQueryExecution"
        ]
    );
    assert_eq!(
        wire.bodies("StopQueryExecution"),
        [json!({"QueryExecutionId": "q-1"})]
    );
}

#[tokio::test]
async fn bad_names_never_reach_athena() {
    let wire = Wire::default();
    let start = mock!(aws_sdk_athena::Client::start_query_execution).then_output(started);
    let client = mock_client!(aws_sdk_athena, RuleMode::Sequential, &[&start], {
        let wire = wire.clone();
        move |b: aws_sdk_athena::config::Builder| b.interceptor(wire.clone())
    });
    let mut source = athena_source(Duration::from_secs(60));
    source.table = AthenaName("cur2\" UNION SELECT * FROM secrets --".into());

    let error = CurCosts::from_client(client, source)
        .monthly_costs(month())
        .await
        .expect_err("refused");

    assert!(matches!(error, PortError::Rejected { .. }), "{error:?}");
    assert!(wire.operations().is_empty());
}
