#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The spend guard's arithmetic: what a call changes in the ledger, what the
//! running resources cost, which thresholds they cross, and the report.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::events::{Incoming, decode_str};
use crate::settings::{SpendAction, SpendGuard, SpendMeasure, SpendThreshold};

const RUN: &str = include_str!("../../../../fixtures/events/ec2-run-instances.json");
const TERMINATE: &str = include_str!("../../../../fixtures/events/ec2-terminate-instances.json");

fn call(text: &str) -> SpendingCall {
    match decode_str(text).expect("decodes") {
        Incoming::Spending(call) => call,
        other => panic!("not a spending call: {other:?}"),
    }
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, hour, 0, 0).unwrap()
}

fn guard(thresholds: Vec<(SpendMeasure, f64, Vec<SpendAction>)>) -> SpendGuard {
    SpendGuard {
        enabled: true,
        thresholds: thresholds
            .into_iter()
            .map(|(when, over, actions)| SpendThreshold {
                when,
                over,
                actions,
            })
            .collect(),
    }
}

#[test]
fn four_p4d_started_burn_131_dollars_an_hour_and_cross_a_100_dollar_line() {
    let run = call(RUN);
    assert_eq!(run.name, "RunInstances");
    assert_eq!(run.account.as_str(), "222222222222");
    assert_eq!(run.started.len(), 4);
    assert!(run.started.iter().all(|r| r.type_name == "p4d.24xlarge"));
    let ledger = apply(&[], &run);
    let book = PriceBook::sample();
    let burn = Burn::of(&ledger, &book, at(11));
    assert_eq!(burn.per_hour.to_string(), "131.0904");
    assert!(burn.lines.iter().all(|l| l.price.basis == Basis::Listed));
    let guard = guard(vec![
        (
            SpendMeasure::HourlyBurn,
            100.0,
            vec![
                SpendAction::TellHolder,
                SpendAction::Raise,
                SpendAction::Freeze,
            ],
        ),
        (SpendMeasure::HourlyBurn, 1000.0, vec![SpendAction::Raise]),
    ]);
    let crossed = crossed(&guard, &burn, Known::default());
    assert_eq!(crossed.len(), 1);
    assert!(crossed[0].does(SpendAction::Freeze));
    let text = report(&burn, &crossed, None);
    assert!(
        text.starts_with("hourly burn 131.0904 USD is over 100 USD. Burn 131.0904 USD an hour"),
        "{text}"
    );
    assert!(text.contains("1 × EC2 instance p4d.24xlarge `i-0p4d000000000001` in us-east-1 since 2026-11-21 10:00 UTC: 32.7726 USD an hour."), "{text}");
    assert!(!text.contains('@'), "nothing of the holder: {text}");

    // terminated, they cost nothing more; the guard sees nothing to do
    let terminated = apply(&ledger, &call(TERMINATE));
    assert_eq!(terminated.len(), 4);
    assert!(terminated.iter().all(|e| e.ended.is_some()));
    let after = Burn::of(&terminated, &book, at(13));
    assert_eq!(after.per_hour, Amount::from_micros(0));
    assert!(super::crossed(&guard, &after, Known::default()).is_empty());
}

#[test]
fn the_projection_runs_to_the_end_of_the_month_and_adds_what_it_cost_so_far() {
    let ledger = apply(&[], &call(RUN));
    let burn = Burn::of(&ledger, &PriceBook::sample(), at(0));
    // 21 November 00:00 to 1 December 00:00: 240 hours
    assert_eq!(burn.to_month_end(), Amount::parse("31461.696").unwrap());
    let guard = guard(vec![(
        SpendMeasure::ProjectedMonth,
        31_500.0,
        vec![SpendAction::Raise],
    )]);
    assert!(crossed(&guard, &burn, Known::default()).is_empty());
    let crossed = crossed(&guard, &burn, month(Amount::parse("100")));
    assert_eq!(crossed.len(), 1);
    assert!(
        crossed[0]
            .describe()
            .starts_with("projected month 31561.696 USD is over 31500 USD")
    );
    // a disabled guard crosses nothing
    let off = SpendGuard {
        enabled: false,
        ..guard
    };
    assert!(super::crossed(&off, &burn, month(Amount::parse("100000"))).is_empty());
}

#[test]
fn a_late_or_repeated_call_changes_nothing_and_a_restart_keeps_its_type() {
    let run = call(RUN);
    let ledger = apply(&[], &run);
    // delivered again: nothing newer, nothing written
    assert!(apply(&ledger, &run).is_empty());
    // the termination arrives before the launch: the launch does not bring them back
    let early_end = apply(&[], &call(TERMINATE));
    assert_eq!(early_end.len(), 4);
    assert!(apply(&early_end, &run).is_empty());

    // stopped, then started again: StartInstances does not say the type
    let stop = SpendingCall {
        name: "StopInstances".into(),
        at: at(12),
        started: Vec::new(),
        ended: vec!["i-0p4d000000000001".into()],
        ..run.clone()
    };
    let mut ledger = ledger;
    for entry in apply(&ledger, &stop) {
        ledger.retain(|e| e.resource.id != entry.resource.id);
        ledger.push(entry);
    }
    let mut again = run.started[0].clone();
    again.type_name = String::new();
    let start = SpendingCall {
        name: "StartInstances".into(),
        at: at(13),
        started: vec![again],
        ended: Vec::new(),
        ..run.clone()
    };
    let restarted = apply(&ledger, &start);
    assert_eq!(restarted.len(), 1);
    assert_eq!(restarted[0].resource.type_name, "p4d.24xlarge");
    assert!(restarted[0].alive(at(14)));

    // a call that failed started nothing
    let failed = SpendingCall {
        failed: Some("InsufficientInstanceCapacity".into()),
        ..run
    };
    assert!(apply(&[], &failed).is_empty());
}

#[test]
fn a_type_without_a_price_is_priced_at_the_most_expensive_known_of_its_family_and_said_so() {
    let book = PriceBook::sample();
    let listed = book.price(Kind::Ec2Instance, "us-east-1", "p4d.24xlarge");
    assert_eq!(listed.basis, Basis::Listed);
    // a region without a price: the most expensive region's
    let elsewhere = book.price(Kind::Ec2Instance, "ap-south-1", "p4d.24xlarge");
    assert_eq!(elsewhere.basis, Basis::OtherRegion);
    assert_eq!(elsewhere.per_hour, Amount::parse("35.3937").unwrap());
    // an unknown size of a known family: its family's most expensive
    let family = book.price(Kind::Ec2Instance, "us-east-1", "p5.4xlarge");
    assert_eq!(family.basis, Basis::Family("p5".into()));
    assert_eq!(family.per_hour, Amount::parse("98.32").unwrap());
    // an unknown family: the kind's most expensive, never nothing
    let unknown = book.price(Kind::Ec2Instance, "us-east-1", "x9z.huge");
    assert_eq!(unknown.basis, Basis::Kind);
    assert_eq!(unknown.per_hour, Amount::parse("98.32").unwrap());
    // node groups are priced as EC2 instances
    let nodes = book.price(Kind::Nodegroup, "us-east-1", "g5.xlarge");
    assert_eq!(nodes.per_hour, Amount::parse("1.006").unwrap());
    // the report says how a price was found
    let burn = Burn {
        at: at(10),
        lines: vec![Line {
            resource: Resource {
                kind: Kind::Ec2Instance,
                id: "i-1".into(),
                type_name: "p5.4xlarge".into(),
                region: "us-east-1".into(),
                count: 1,
                since: at(9),
                until: None,
            },
            per_hour: family.per_hour,
            price: family,
        }],
        per_hour: Amount::parse("98.32").unwrap(),
    };
    assert!(
        report(&burn, &[], None)
            .contains("(no price for the type: the most expensive known of family p5)")
    );
}

#[test]
fn the_shipped_price_sample_reads_whole() {
    let text = include_str!("prices.csv");
    let book = PriceBook::parse(text).expect("the sample reads");
    assert_eq!(book, PriceBook::sample());
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert!(lines >= 50, "{lines}");
    assert!(
        PriceBook::parse("ec2,us-east-1,t3.micro")
            .unwrap_err()
            .contains("line 1")
    );
    assert!(
        PriceBook::parse("ec2,us-east-1,t3.micro,cheap")
            .unwrap_err()
            .contains("`cheap`")
    );
}

#[test]
fn a_call_in_another_account_is_refused_and_other_services_decode() {
    let forged = RUN.replace(
        "\"recipientAccountId\": \"222222222222\"",
        "\"recipientAccountId\": \"444444444444\"",
    );
    let error = decode_str(&forged).unwrap_err();
    assert!(error.is_refused(), "{error}");

    let event =
        |source: &str, name: &str, request: serde_json::Value, response: serde_json::Value| {
            let mut value: serde_json::Value = serde_json::from_str(RUN).unwrap();
            value["source"] = source.into();
            value["detail"]["eventName"] = name.into();
            value["detail"]["requestParameters"] = request;
            value["detail"]["responseElements"] = response;
            call(&value.to_string())
        };
    let db = event(
        "aws.rds",
        "CreateDBInstance",
        serde_json::json!({"dBInstanceIdentifier": "db1", "dBInstanceClass": "db.r5.24xlarge", "multiAZ": true}),
        serde_json::Value::Null,
    );
    assert_eq!(
        (db.started[0].count, db.started[0].kind),
        (2, Kind::DbInstance)
    );
    let job = event(
        "aws.sagemaker",
        "CreateTrainingJob",
        serde_json::json!({"trainingJobName": "train", "resourceConfig": {"instanceType": "ml.p4d.24xlarge", "instanceCount": 2}, "stoppingCondition": {"maxRuntimeInSeconds": 3600}}),
        serde_json::Value::Null,
    );
    assert_eq!(job.started[0].count, 2);
    assert!(
        !apply(&[], &job)[0].alive(at(12)),
        "ended by itself after its longest run"
    );
    let nodes = event(
        "aws.eks",
        "CreateNodegroup",
        serde_json::json!({"name": "c1", "nodegroupName": "gpu", "instanceTypes": ["g5.xlarge"], "scalingConfig": {"desiredSize": 8}}),
        serde_json::Value::Null,
    );
    assert_eq!(nodes.started[0].id, "c1/gpu");
    let nat = event(
        "aws.ec2",
        "CreateNatGateway",
        serde_json::json!({}),
        serde_json::json!({"CreateNatGatewayResponse": {"natGateway": {"natGatewayId": "nat-1"}}}),
    );
    assert_eq!(nat.started[0].kind, Kind::NatGateway);
    let throughput = event(
        "aws.bedrock",
        "CreateProvisionedModelThroughput",
        serde_json::json!({"modelId": "anthropic.claude-v2", "modelUnits": 3}),
        serde_json::json!({"provisionedModelArn": "arn:aws:bedrock:us-east-1:222222222222:provisioned-model/abc"}),
    );
    let burn = Burn::of(&apply(&[], &throughput), &PriceBook::sample(), at(11));
    assert_eq!(burn.per_hour, Amount::parse("189").unwrap());
    // a size that is not a count is one clear error naming its path
    let bad = {
        let mut value: serde_json::Value = serde_json::from_str(RUN).unwrap();
        value["source"] = "aws.bedrock".into();
        value["detail"]["eventName"] = "CreateProvisionedModelThroughput".into();
        value["detail"]["requestParameters"] =
            serde_json::json!({"modelId": "m", "modelUnits": "many"});
        value["detail"]["responseElements"] = serde_json::json!({"provisionedModelArn": "arn"});
        decode_str(&value.to_string()).unwrap_err().to_string()
    };
    assert!(
        bad.contains("modelUnits") && bad.contains("a whole number of at least 1"),
        "{bad}"
    );
    // an unwatched call of a watched source is unsupported, not a spending call
    let other = RUN.replace("\"RunInstances\"", "\"DescribeInstances\"");
    assert!(decode_str(&other).is_err());
}

#[test]
fn the_month_so_far_is_judged_when_known_and_never_taken_for_zero() {
    let ledger = apply(&[], &call(RUN));
    let burn = Burn::of(&ledger, &PriceBook::sample(), at(0));
    let guard = guard(vec![(
        SpendMeasure::ActualMonth,
        500.0,
        vec![SpendAction::Raise],
    )]);
    assert!(guard.needs_actuals());
    assert!(
        crossed(&guard, &burn, Known::default()).is_empty(),
        "unknown: not judged"
    );
    let actual = Actual {
        day: at(0).date_naive(),
        amount: Amount::parse("612.5").unwrap(),
    };
    let crossed = crossed(&guard, &burn, month(Some(actual.amount)));
    assert_eq!(crossed.len(), 1);
    assert!(
        crossed[0]
            .describe()
            .starts_with("actual month 612.50 USD is over 500 USD")
    );
    let text = report(&burn, &crossed, Some(actual));
    assert!(
        text.contains("Cost Explorer: 612.50 USD this month before 2026-11-21."),
        "{text}"
    );
    assert!(actual.current(at(23)) && !actual.current(at(0) + chrono::TimeDelta::days(1)));
    assert!(actual.of_month(at(5)));
    assert_eq!(month_start(at(5)).to_string(), "2026-11-01");
}

/// What the month cost already, nothing else known.
fn month(amount: Option<Amount>) -> Known {
    Known {
        month_to_date: amount,
        lease_end: None,
    }
}

#[test]
fn the_lease_left_is_projected_at_the_burn_and_not_judged_without_a_lease() {
    let guard = SpendGuard {
        enabled: true,
        thresholds: vec![SpendThreshold {
            when: SpendMeasure::ProjectedLease,
            over: 500.0,
            actions: vec![SpendAction::PurgeEarly],
        }],
    };
    assert!(!guard.needs_actuals(), "the lease needs no Cost Explorer");
    let at = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let burn = Burn {
        at,
        lines: Vec::new(),
        per_hour: Amount::parse("10").unwrap(),
    };
    let lease = |hours: i64| Known {
        month_to_date: None,
        lease_end: Some(at + chrono::TimeDelta::hours(hours)),
    };
    // 10 USD an hour for 2 days: 480, under; for 3 days: 720, over
    assert!(crossed(&guard, &burn, lease(48)).is_empty());
    let over = crossed(&guard, &burn, lease(72));
    assert_eq!(over.len(), 1);
    assert_eq!(over[0].measured, Amount::parse("720").unwrap());
    assert!(over[0].does(SpendAction::PurgeEarly));
    assert!(
        over[0].describe().starts_with("projected lease 720"),
        "{}",
        over[0].describe()
    );
    // a lease that ended costs nothing more; no lease, not judged
    assert!(crossed(&guard, &burn, lease(-5)).is_empty());
    assert!(crossed(&guard, &burn, Known::default()).is_empty());
}

#[test]
fn a_stop_stops_ec2_instances_and_names_what_spa_does_not_stop() {
    let run = call(RUN);
    let mut ledger = apply(&[], &run);
    let resource = |kind, id: &str, type_name: &str, region: &str| Entry {
        resource: Resource {
            kind,
            id: id.to_owned(),
            type_name: type_name.to_owned(),
            region: region.to_owned(),
            count: 1,
            since: at(9),
            until: None,
        },
        ended: None,
        changed: at(9),
    };
    ledger.push(resource(
        Kind::DbInstance,
        "orders",
        "db.r6g.large",
        "us-east-1",
    ));
    ledger.push(resource(Kind::Nodegroup, "c/ng", "m5.large", "us-east-1"));
    // what the holder's calls could make the ledger say: never sent anywhere
    ledger.push(resource(
        Kind::Ec2Instance,
        "i-0a; rm",
        "t3.micro",
        "us-east-1",
    ));
    ledger.push(resource(
        Kind::Ec2Instance,
        "i-0abc",
        "t3.micro",
        "evil.example.com/",
    ));
    // ended: not alive, not in the plan
    let mut ended = resource(Kind::Ec2Instance, "i-0ended", "t3.micro", "us-east-1");
    ended.ended = Some(at(10));
    ledger.push(ended);
    let burn = Burn::of(&ledger, &PriceBook::sample(), at(11));
    let plan = stop::plan(&burn.lines);
    assert_eq!(
        plan.len(),
        8,
        "every alive resource, the ended one left out"
    );
    let sent: Vec<&str> = plan
        .iter()
        .filter_map(|s| match s {
            stop::Stop::Instance(r) => Some(r.id.as_str()),
            stop::Stop::Not(..) => None,
        })
        .collect();
    assert_eq!(
        sent,
        [
            "i-0p4d000000000001",
            "i-0p4d000000000002",
            "i-0p4d000000000003",
            "i-0p4d000000000004"
        ]
    );
    let results: Vec<stop::Stopped> = plan
        .into_iter()
        .map(|s| match s {
            stop::Stop::Instance(r) if r.id.ends_with('4') => stop::Stopped::not(
                r,
                "EC2 refused: UnsupportedOperation: a Spot Instance of a one-time request\ncannot be stopped",
            ),
            stop::Stop::Instance(r) => stop::Stopped::was(r, "running"),
            stop::Stop::Not(r, why) => stop::Stopped::not(r, &why),
        })
        .collect();
    let text = stop::report(&results);
    assert!(
        text.starts_with(
            "Stopped 3 EC2 instances: `i-0p4d000000000001` in us-east-1 (was running);"
        ),
        "{text}"
    );
    for said in [
        "Not stopped (5):",
        "EC2 instance `i-0p4d000000000004` in us-east-1: EC2 refused: UnsupportedOperation: a Spot Instance of a one-time request cannot be stopped",
        "RDS DB instance `orders` in us-east-1: spa does not stop RDS DB instances: a freeze or purge_early does",
        "EKS node group `c/ng` in us-east-1: spa does not stop EKS node groups",
        "`i-0a; rm` in us-east-1: not an EC2 instance id: nothing was sent",
        "`i-0abc` in evil.example.com/: not an AWS region: nothing was sent",
    ] {
        assert!(text.contains(said), "{said}\nnot in: {text}");
    }
    assert_eq!(stop::report(&[]), "Stop: nothing ran to stop.");
}

#[test]
fn instance_ids_and_regions_read_as_ec2_s_or_are_not_sent() {
    for good in ["i-0123abcd", "i-0123456789abcdef0", "i-0p4d000000000001"] {
        assert!(stop::is_instance_id(good), "{good}");
    }
    for bad in [
        "",
        "i-",
        "0123abcd",
        "i-0123ABCD",
        "i-01 23",
        "i-0/../x",
        &format!("i-{}", "a".repeat(65)),
    ] {
        assert!(!stop::is_instance_id(bad), "{bad}");
    }
    for good in ["us-east-1", "us-gov-west-1", "ap-southeast-2"] {
        assert!(stop::is_region(good), "{good}");
    }
    for bad in [
        "",
        "1us-east-1",
        "us-east-1.evil.com",
        "US-EAST-1",
        "us east 1",
    ] {
        assert!(!stop::is_region(bad), "{bad}");
    }
}
