//! The Cost Explorer adapter against the emulator (moto server), in a member account
//! reached through its member role.
//!
//! Moto tracks no cost: `GetCostAndUsage` answers what a test registers on its
//! `/moto-api/static/ce/cost-and-usage-results` endpoint, per account. A request
//! takes the next registered answer and keeps it for requests with the same body, so
//! a second page (whose request carries the page token) takes the second answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::{Value, json};
use spa_aws::config::AwsConfig;
use spa_aws::costs::MemberCosts;
use spa_aws::metrics::ApiCalls;
use spa_aws::sts::{RoleOptions, Roles};
use spa_core::events::AccountId;
use spa_usecases::ports::{Costs, PortError, ServiceCost};

const MEMBER: &str = "333333333333";

fn member() -> AccountId {
    AccountId::parse(MEMBER).unwrap()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

async fn costs(scenario: &spa_testkit::Scenario<'_>) -> (MemberCosts<Arc<Roles>>, ApiCalls) {
    let calls = ApiCalls::new();
    let config = AwsConfig::from_sdk(&scenario.sdk_config().await, calls.clone());
    let roles = Roles::new(
        config,
        "aws",
        "OrganizationAccountAccessRole",
        RoleOptions::new("spa-test"),
    );
    (MemberCosts::new(Arc::new(roles)), calls)
}

/// Registers the answers of `GetCostAndUsage` in `account`, in order.
async fn register(scenario: &spa_testkit::Scenario<'_>, account: &str, pages: Vec<Value>) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/moto-api/static/ce/cost-and-usage-results",
            scenario.endpoint()
        ))
        .json(&json!({ "account_id": account, "results": pages }))
        .send()
        .await
        .expect("registered");
    assert_eq!(response.status().as_u16(), 201);
}

fn group(service: &str, amount: &str) -> Value {
    json!({
        "Keys": [service],
        "Metrics": { "UnblendedCost": { "Amount": amount, "Unit": "USD" } }
    })
}

fn month(start: &str, end: &str, groups: Vec<Value>) -> Value {
    json!({
        "TimePeriod": { "Start": start, "End": end },
        "Total": {},
        "Groups": groups,
        "Estimated": false
    })
}

fn page(results: Vec<Value>, next: Option<&str>) -> Value {
    let mut page = json!({ "ResultsByTime": results, "DimensionValueAttributes": [] });
    if let Some(next) = next {
        page["NextPageToken"] = json!(next);
    }
    page
}

fn cost(service: &str, amount: f64) -> ServiceCost {
    ServiceCost {
        service: service.into(),
        amount,
        currency: "USD".into(),
    }
}

fn rounded(costs: Vec<ServiceCost>) -> Vec<ServiceCost> {
    costs
        .into_iter()
        .map(|c| ServiceCost {
            amount: (c.amount * 1e6).round() / 1e6,
            ..c
        })
        .collect()
}

#[tokio::test]
async fn costs_are_summed_over_pages_and_months_highest_first() {
    let scenario = spa_testkit::scenario();
    register(
        &scenario,
        MEMBER,
        vec![
            page(
                vec![month(
                    "2026-09-01",
                    "2026-10-01",
                    vec![
                        group("Amazon Elastic Compute Cloud - Compute", "12.3400000001"),
                        group("Amazon Simple Storage Service", "0.5"),
                        group("AWS Key Management Service", "0"),
                    ],
                )],
                Some("page-2"),
            ),
            page(
                vec![month(
                    "2026-10-01",
                    "2026-10-15",
                    vec![
                        group("Amazon Simple Storage Service", "0.25"),
                        group("AWS Lambda", "20"),
                        group("Tax", "-1.5"),
                    ],
                )],
                None,
            ),
        ],
    )
    .await;
    let (costs, calls) = costs(&scenario).await;

    let found = costs
        .account_costs(&member(), date("2026-09-01"), date("2026-10-15"))
        .await
        .expect("costs");

    assert_eq!(
        rounded(found),
        vec![
            cost("AWS Lambda", 20.0),
            cost("Amazon Elastic Compute Cloud - Compute", 12.34),
            cost("Amazon Simple Storage Service", 0.75),
            cost("Tax", -1.5),
        ],
        "summed across months, zero dropped, highest first"
    );
    assert_eq!(calls.count("Cost Explorer:GetCostAndUsage"), 2, "{calls:?}");
    assert_eq!(
        calls.count("STS:AssumeRole"),
        1,
        "read in the member account"
    );
}

#[tokio::test]
async fn costs_are_read_in_the_member_account_itself() {
    let scenario = spa_testkit::scenario();
    // known to the automation account only: the member's Cost Explorer has nothing
    register(
        &scenario,
        "123456789012",
        vec![page(
            vec![month(
                "2026-10-01",
                "2026-10-15",
                vec![group("AWS Lambda", "20")],
            )],
            None,
        )],
    )
    .await;
    let (costs, _) = costs(&scenario).await;
    let found = costs
        .account_costs(&member(), date("2026-10-01"), date("2026-10-15"))
        .await
        .expect("costs");
    assert_eq!(found, vec![]);
}

#[tokio::test]
async fn an_amount_that_is_not_a_number_names_its_service() {
    let scenario = spa_testkit::scenario();
    register(
        &scenario,
        MEMBER,
        vec![page(
            vec![month(
                "2026-10-01",
                "2026-10-15",
                vec![
                    group("AWS Lambda", "20"),
                    group("Amazon Simple Storage Service", "twelve"),
                ],
            )],
            None,
        )],
    )
    .await;
    let (costs, _) = costs(&scenario).await;
    let result = costs
        .account_costs(&member(), date("2026-10-01"), date("2026-10-15"))
        .await;
    assert!(
        matches!(&result, Err(PortError::Inconsistent { id, why })
            if id == "Amazon Simple Storage Service" && why.contains("`twelve`") && why.contains(MEMBER)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_missing_amount_names_its_service() {
    let scenario = spa_testkit::scenario();
    register(
        &scenario,
        MEMBER,
        vec![page(
            vec![month(
                "2026-10-01",
                "2026-10-15",
                vec![json!({
                    "Keys": ["AWS Lambda"],
                    "Metrics": { "BlendedCost": { "Amount": "1", "Unit": "USD" } }
                })],
            )],
            None,
        )],
    )
    .await;
    let (costs, _) = costs(&scenario).await;
    let result = costs
        .account_costs(&member(), date("2026-10-01"), date("2026-10-15"))
        .await;
    assert!(
        matches!(&result, Err(PortError::Inconsistent { id, why })
            if id == "AWS Lambda" && why.contains("no UnblendedCost")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_page_token_given_twice_stops_the_reading() {
    let scenario = spa_testkit::scenario();
    let looping = page(
        vec![month(
            "2026-10-01",
            "2026-10-15",
            vec![group("AWS Lambda", "1")],
        )],
        Some("again"),
    );
    register(&scenario, MEMBER, vec![looping.clone(), looping]).await;
    let (costs, calls) = costs(&scenario).await;
    let result = costs
        .account_costs(&member(), date("2026-10-01"), date("2026-10-15"))
        .await;
    assert!(
        matches!(&result, Err(PortError::Inconsistent { why, .. }) if why.contains("`again` twice")),
        "{result:?}"
    );
    assert_eq!(calls.count("Cost Explorer:GetCostAndUsage"), 2);
}

#[tokio::test]
async fn empty_and_reversed_periods_cost_no_call() {
    let scenario = spa_testkit::scenario();
    let (costs, calls) = costs(&scenario).await;
    // the first day of a month, month to date
    assert_eq!(
        costs
            .account_costs(&member(), date("2026-10-01"), date("2026-10-01"))
            .await,
        Ok(vec![])
    );
    assert!(matches!(
        costs
            .account_costs(&member(), date("2026-10-15"), date("2026-10-01"))
            .await,
        Err(PortError::Rejected { .. })
    ));
    assert_eq!(calls.total(), 0, "{calls:?}");
}
