//! Prices from the Price List API as the operator and the spend guard see them: `spa
//! prices refresh` keeps one sheet per list and region, the guard prices with it, and
//! a failure, an empty answer or a product that cannot be read keeps the last sheet.

use super::spend::{RUN, assigned, call, world};
use super::*;
use crate::ports::SpendLedgers;
use crate::ports::memory::MemoryPriceList;
use crate::prices::{price_regions, refresh_prices};
use spa_core::events::Amount;

/// A product document of EC2 as `GetProducts` gives it (abridged).
fn ec2(type_name: &str, usd: &str) -> String {
    serde_json::json!({
        "product": {"productFamily": "Compute Instance", "attributes": {"instanceType": type_name, "regionCode": "us-east-1"}},
        "terms": {"OnDemand": {"T": {"priceDimensions": {"D": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}}}
    })
    .to_string()
}

fn nat(usd: &str) -> String {
    serde_json::json!({
        "product": {"productFamily": "NAT Gateway", "attributes": {"usagetype": "NatGateway-Hours"}},
        "terms": {"OnDemand": {"T": {"priceDimensions": {"D": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}}}
    })
    .to_string()
}

fn regions() -> Vec<String> {
    vec!["us-east-1".to_owned()]
}

#[tokio::test]
async fn the_price_list_replaces_the_sample_and_the_guard_judges_with_it() {
    // four p4d.24xlarge: 131.09 USD an hour at the sample's price, over 100
    let world = world("[{when: hourly_burn, over: 100, actions: [freeze]}]");
    assigned(&world).await;
    let source = MemoryPriceList::default();
    source.set(
        "AmazonEC2",
        "Compute Instance",
        "us-east-1",
        vec![
            ec2("p4d.24xlarge", "21.9576000000"),
            ec2("t3.micro", "0.0104000000"),
        ],
    );
    source.set(
        "AmazonEC2",
        "NAT Gateway",
        "us-east-1",
        vec![nat("0.0520000000")],
    );
    source.set("AmazonRDS", "Database Instance", "us-east-1", vec![]);
    let refreshed = refresh_prices(&world.engine(), &source, &regions()).await;
    let lines: Vec<(&str, Result<usize, String>)> = refreshed
        .iter()
        .map(|r| (r.list, r.result.clone()))
        .collect();
    assert_eq!(lines[0], ("ec2", Ok(2)));
    assert!(
        matches!(&lines[1], ("rds", Err(why)) if why == "the Price List answered no hourly price (0 products)"),
        "{lines:?}"
    );
    // NAT gateways share EC2's service code: their query is their own
    assert_eq!(lines[2], ("nat", Ok(1)));
    assert_eq!(lines.len(), 3, "{lines:?}");
    let nat = world
        .platform
        .store
        .price_sheet("nat", "us-east-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        nat.prices,
        [(String::new(), Amount::parse("0.052").unwrap())]
    );
    let sheet = world
        .platform
        .store
        .price_sheet("ec2", "us-east-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sheet.read, world.now().date_naive());
    assert_eq!(
        sheet.prices[0],
        ("p4d.24xlarge".to_owned(), Amount::parse("21.9576").unwrap())
    );
    // at the listed price the four run 87.83 USD an hour: under the line
    let outcome = world.outcome(&call(RUN, NESTED)).await;
    assert!(
        matches!(&outcome.verdict, Verdict::Ignored(why) if why.contains("burn 87.8304 USD an hour: under every threshold")),
        "{outcome:?}"
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
}

#[tokio::test]
async fn a_failure_an_empty_answer_or_a_bad_product_keeps_the_last_prices() {
    let world = World::new();
    let source = MemoryPriceList::default();
    source.set(
        "AmazonEC2",
        "Compute Instance",
        "us-east-1",
        vec![ec2("m5.large", "0.0960000000")],
    );
    let first = refresh_prices(&world.engine(), &source, &regions()).await;
    assert_eq!(first[0].result, Ok(1));
    let kept = || async {
        world
            .platform
            .store
            .price_sheet("ec2", "us-east-1")
            .await
            .unwrap()
            .map(|sheet| sheet.prices)
    };
    let before = kept().await;

    // a product that cannot be read: nothing half written
    source.set(
        "AmazonEC2",
        "Compute Instance",
        "us-east-1",
        vec![ec2("m5.large", "0.1"), "<html>throttled</html>".to_owned()],
    );
    let bad = refresh_prices(&world.engine(), &source, &regions()).await;
    assert!(
        matches!(&bad[0].result, Err(why) if why.starts_with("a product of the Price List (ec2, us-east-1) cannot be read: not JSON")),
        "{bad:?}"
    );
    assert_eq!(kept().await, before);

    // the Price List down
    source.faults.fail(
        "products",
        crate::ports::PortError::Unavailable {
            service: "pricing".into(),
            message: "throttled".into(),
        },
        100,
    );
    let down = refresh_prices(&world.engine(), &source, &regions()).await;
    assert!(
        down.iter().all(
            |r| matches!(&r.result, Err(why) if why.starts_with("the Price List cannot be read"))
        ),
        "{down:?}"
    );
    assert_eq!(kept().await, before);
}

#[tokio::test]
async fn the_store_down_prices_with_the_sample() {
    let world = world("[{when: hourly_burn, over: 100, actions: [raise]}]");
    assigned(&world).await;
    let source = MemoryPriceList::default();
    source.set(
        "AmazonEC2",
        "Compute Instance",
        "us-east-1",
        vec![ec2("p4d.24xlarge", "1.0")],
    );
    refresh_prices(&world.engine(), &source, &regions()).await;
    world.platform.store.faults.fail(
        "price_sheet",
        crate::ports::PortError::Unavailable {
            service: "dynamodb".into(),
            message: "throttled".into(),
        },
        100,
    );
    // the sample's 32.77 USD an instance: over the line, never priced at nothing
    let outcome = world.outcome(&call(RUN, NESTED)).await;
    assert_eq!(outcome.verdict, Verdict::Applied, "{outcome:?}");
}

#[test]
fn the_regions_are_every_allow_list_and_the_automation_region() {
    let text = SETTINGS.replace(
        "    lease: 30d\n",
        "    lease: 30d\n    guardrails: {allowed_regions: [us-east-1, eu-central-1]}\n",
    );
    let settings = load("settings.yaml", &text, &MemorySources::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .settings;
    assert_eq!(
        price_regions(&settings),
        ["eu-central-1", "eu-west-1", "us-east-1"]
    );
    assert_eq!(price_regions(&World::new().settings), ["eu-west-1"]);
}
