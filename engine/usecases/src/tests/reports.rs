//! Report runs on the in-memory platform: the files an operator finds in the bucket.

use chrono::{TimeZone, Utc};

use super::*;
use crate::ports::{Activity, Journal, KnownAccounts, Logins, PortError};
use crate::reports::{Output, Period};
use spa_core::events::{Label, Report};

fn report_job(_world: &World, report: Report, at: DateTime<Utc>) -> Incoming {
    let id = format!("reports/{report}");
    Incoming::Scheduled(ScheduledJob {
        event_id: EventId::schedule(&id, &at),
        job: Job::Reports,
        report: Some(report),
        scheduled_time: at,
    })
}

fn text(world: &World, key: &str) -> String {
    let objects = &world.platform.objects;
    let bytes = objects
        .object(key)
        .unwrap_or_else(|| panic!("no `{key}` in {:?}", objects.keys()));
    String::from_utf8(bytes).unwrap()
}

fn tagged_world() -> World {
    let mut world = World::new();
    world
        .settings
        .reporting
        .cost_owners
        .insert("IT-001".into(), "finops-it@example.com".into());
    world.org().set_tags(
        NESTED,
        &[
            ("cost-center", "IT-001"),
            ("account-state", "assigned"),
            ("account-since", "2025-02-03T10:00:00Z"),
            ("account-holder", JANE),
        ],
    );
    world
}

#[tokio::test]
async fn the_weekly_inventory_lists_every_account_with_its_cost_center_owner_and_last_login() {
    let world = tagged_world();
    let login = Utc.with_ymd_and_hms(2025, 2, 27, 9, 15, 0).unwrap();
    world
        .platform
        .store
        .stamp_login(&id(NESTED), login)
        .await
        .unwrap();
    // Monday 3 March 2025, week 10
    let at = Utc.with_ymd_and_hms(2025, 3, 3, 6, 0, 0).unwrap();
    let outcome = world
        .outcome(&report_job(&world, Report::Inventory, at))
        .await;
    assert!(
        matches!(outcome.verdict, Verdict::Notified(_)),
        "{outcome:?}"
    );
    let key = "reports/inventories/organization/2025/2025-W10-organization-inventory.csv";
    assert_eq!(world.platform.objects.keys(), [key]);
    let csv = text(&world, key);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "cost center,cost owner,OU path,account,name,e-mail,state,holder,since,last console login",
            "IT-001,finops-it@example.com,Root/Sandboxes/Team,111111111111,nested,nested@example.com,assigned,jane.doe@example.com,2025-02-03T10:00:00Z,2025-02-27T09:15:00Z",
            "NoCostCenter,,Root/NoBuilds,333333333333,nobuilds,nobuilds@example.com,,,,",
            "NoCostCenter,,Root/Outside,222222222222,outside,outside@example.com,,,,",
        ]
    );
    // a second delivery of the same run does nothing
    let again = world
        .outcome(&report_job(&world, Report::Inventory, at))
        .await;
    assert_eq!(again.verdict, Verdict::Seen);
    // what was seen is remembered for the accounts that will leave
    let known = world
        .platform
        .store
        .known_accounts(&[id(NESTED)])
        .await
        .unwrap();
    assert_eq!(known[0].name, "nested");
    assert_eq!(known[0].cost_center.as_deref(), Some("IT-001"));
    assert_eq!(known[0].ou_path, "Root/Sandboxes/Team");
}

fn activity(account: &str, at: DateTime<Utc>, label: Label, to: Option<State>) -> Activity {
    Activity {
        at,
        account: id(account),
        label,
        from: None,
        to,
        detail: String::new(),
        cause: None,
    }
}

#[tokio::test]
async fn monthly_activities_go_one_file_per_cost_center_and_name_accounts_that_left() {
    let world = tagged_world();
    let store = &world.platform.store;
    let day = |d, h, m| Utc.with_ymd_and_hms(2025, 2, d, h, m, 0).unwrap();
    for activity in [
        activity(
            NESTED,
            day(3, 9, 0),
            Label::AccountVended,
            Some(State::Vended),
        ),
        activity(
            NESTED,
            day(3, 9, 45),
            Label::OnboardingCompleted,
            Some(State::Assigned),
        ),
        activity(
            NESTED,
            day(15, 18, 0),
            Label::AccountExpired,
            Some(State::Expired),
        ),
        activity(
            NESTED,
            day(15, 19, 30),
            Label::MaintenanceCompleted,
            Some(State::Assigned),
        ),
        activity(NESTED, day(20, 8, 0), Label::ConsoleLogin, None),
        activity("444444444444", day(10, 8, 0), Label::ConsoleLogin, None),
    ] {
        store.record(&activity).await.unwrap();
    }
    // 444444444444 was seen by an earlier run, then left the organization
    store
        .remember_accounts(&[crate::ports::KnownAccount {
            account: id("444444444444"),
            name: "gone".into(),
            cost_center: Some("HR-002".into()),
            ou_path: "Root/Sandboxes".into(),
            seen: day(1, 6, 0),
        }])
        .await
        .unwrap();
    let at = Utc.with_ymd_and_hms(2025, 3, 2, 6, 30, 0).unwrap();
    let outcome = world
        .outcome(&report_job(&world, Report::Activities, at))
        .await;
    assert!(
        matches!(outcome.verdict, Verdict::Notified(_)),
        "{outcome:?}"
    );
    assert_eq!(
        world.platform.objects.keys(),
        [
            "reports/activities/HR-002/2025/2025-02-HR-002-activities.csv",
            "reports/activities/IT-001/2025/2025-02-IT-001-activities.csv",
            "reports/activities/NoCostCenter/2025/2025-02-NoCostCenter-activities.csv",
        ]
    );
    let it = text(
        &world,
        "reports/activities/IT-001/2025/2025-02-IT-001-activities.csv",
    );
    let lines: Vec<&str> = it.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "IT-001,111111111111,nested,on-boarding,2025-02-03T09:00:00Z,2025-02-03T09:45:00Z,45,ready (assigned)",
            "IT-001,111111111111,nested,maintenance,2025-02-15T18:00:00Z,2025-02-15T19:30:00Z,90,ready (assigned)",
            "IT-001,111111111111,nested,console login,2025-02-20T08:00:00Z,,,role",
        ]
    );
    let hr = text(
        &world,
        "reports/activities/HR-002/2025/2025-02-HR-002-activities.csv",
    );
    assert!(
        hr.contains("HR-002,444444444444,gone,console login"),
        "{hr}"
    );
}

#[tokio::test]
async fn a_failed_write_names_its_key_and_the_run_can_be_delivered_again() {
    let world = tagged_world();
    world.platform.objects.faults.fail(
        "put",
        PortError::Denied {
            service: "s3".into(),
            action: "PutObject".into(),
            message: "access denied".into(),
        },
        1,
    );
    let at = Utc.with_ymd_and_hms(2025, 3, 3, 6, 0, 0).unwrap();
    let job = report_job(&world, Report::Inventory, at);
    let error = dispatch(&world.engine(), &job).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("reports/inventories/organization/2025/2025-W10-organization-inventory.csv"),
        "{text}"
    );
    assert!(text.contains("denied"), "{text}");
    assert!(world.platform.objects.keys().is_empty(), "nothing written");
    // the claim was released: the retried delivery runs the report
    let outcome = world.outcome(&job).await;
    assert!(
        matches!(outcome.verdict, Verdict::Notified(_)),
        "{outcome:?}"
    );
    assert_eq!(world.platform.objects.keys().len(), 1);
}

#[tokio::test]
async fn an_on_demand_run_hands_its_files_to_the_caller_and_writes_nothing() {
    let world = tagged_world();
    let mut files = Vec::new();
    let mut sink = |key: &str, bytes: &[u8]| {
        files.push((key.to_owned(), bytes.len()));
        Ok(())
    };
    let run = run_report(
        &world.engine(),
        Report::Inventory,
        Period::Week("2025-W09".parse().unwrap()),
        &mut Output::Files(&mut sink),
    )
    .await
    .unwrap();
    assert_eq!(run.period, "2025-W09");
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].0,
        "reports/inventories/organization/2025/2025-W09-organization-inventory.csv"
    );
    assert_eq!(run.files[0].bytes, files[0].1);
    assert!(world.platform.objects.keys().is_empty());
    // a sink that fails says which file
    let mut failing = |_: &str, _: &[u8]| Err("disk full".to_owned());
    let error = run_report(
        &world.engine(),
        Report::Inventory,
        Period::Week("2025-W09".parse().unwrap()),
        &mut Output::Files(&mut failing),
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("2025-W09-organization-inventory.csv"),
        "{error}"
    );
    assert!(error.to_string().contains("disk full"), "{error}");
}

#[tokio::test]
async fn organizations_down_fails_the_run_as_transient() {
    let world = tagged_world();
    world.org().faults.fail(
        "list_accounts",
        PortError::Unavailable {
            service: "organizations".into(),
            message: "throttled".into(),
        },
        5,
    );
    let at = Utc.with_ymd_and_hms(2025, 3, 3, 6, 0, 0).unwrap();
    let error = dispatch(&world.engine(), &report_job(&world, Report::Inventory, at))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(world.platform.objects.keys().is_empty());
}

fn cost(account: &str, key: &str, amount: f64) -> spa_core::reports::AccountCost {
    spa_core::reports::AccountCost {
        account: id(account),
        key: key.into(),
        amount,
    }
}

/// February's costs: the tagged account, an untagged one and one that left.
fn costs_world() -> World {
    let mut world = tagged_world();
    world.settings.reporting.recipients =
        vec![spa_core::settings::Email("finops@example.com".into())];
    world.settings.notifications.email_sender =
        Some(spa_core::settings::Email("spa@example.com".into()));
    let february: spa_core::reports::Month = "2025-02".parse().unwrap();
    let breakdowns = |scale: f64| spa_core::reports::CostBreakdowns {
        currency: "USD".into(),
        by_service: vec![
            cost(
                NESTED,
                "Amazon Elastic Compute Cloud - Compute",
                120.0 * scale,
            ),
            cost(OUTSIDE, "Amazon Simple Storage Service", 3.5 * scale),
            cost("444444444444", "AWS Lambda", 1.25 * scale),
        ],
        by_usage_type: vec![
            cost(NESTED, "EU-BoxUsage:t3.micro", 120.0 * scale),
            cost(OUTSIDE, "EU-TimedStorage-ByteHrs", 3.5 * scale),
            cost("444444444444", "EU-Lambda-GB-Second", 1.25 * scale),
        ],
        by_record_type: vec![
            cost(NESTED, "Usage", 120.0 * scale),
            cost(OUTSIDE, "Usage", 3.5 * scale),
            cost("444444444444", "Usage", 1.25 * scale),
            cost(NESTED, "Credit", -10.0),
        ],
    };
    world
        .platform
        .cost_source
        .set_month(february, breakdowns(1.0));
    world
        .platform
        .cost_source
        .set_month(february.previous(), breakdowns(0.5));
    world
}

async fn remember_gone(world: &World) {
    world
        .platform
        .store
        .remember_accounts(&[crate::ports::KnownAccount {
            account: id("444444444444"),
            name: "gone".into(),
            cost_center: Some("HR-002".into()),
            ou_path: "Root/Sandboxes".into(),
            seen: t0(),
        }])
        .await
        .unwrap();
}

#[tokio::test]
async fn the_monthly_cost_reports_go_to_the_bucket_and_the_summary_to_finops() {
    let world = costs_world();
    remember_gone(&world).await;
    // day 6, the early run: February
    let at = Utc.with_ymd_and_hms(2025, 3, 6, 6, 0, 0).unwrap();
    let outcome = world.outcome(&report_job(&world, Report::Costs, at)).await;
    let Verdict::Notified(summary) = &outcome.verdict else {
        panic!("{outcome:?}")
    };
    assert!(summary.contains("f***@example.com"), "masked: {summary}");
    assert!(!summary.contains("finops@example.com"), "{summary}");
    let keys = world.platform.objects.keys();
    for key in [
        "reports/costs/summary/2025/2025-02-summary-costs.xlsx",
        "reports/costs/summary/2025/2025-02-summary-costs.csv",
        "reports/costs/IT-001/2025/2025-02-IT-001-costs.csv",
        "reports/costs/HR-002/2025/2025-02-HR-002-costs.xlsx",
        "reports/costs/NoCostCenter/2025/2025-02-NoCostCenter-costs.csv",
    ] {
        assert!(keys.contains(&key.to_owned()), "{key} not in {keys:#?}");
    }
    // the account that left is named in its cost center's report
    let hr = text(&world, "reports/costs/HR-002/2025/2025-02-HR-002-costs.csv");
    assert!(hr.contains("gone"), "{hr}");
    let sent = world.platform.mail.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ["finops@example.com"]);
    assert!(sent[0].subject.contains("2025-02"), "{}", sent[0].subject);
    let names: Vec<&str> = sent[0]
        .attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["2025-02-summary-costs.xlsx", "2025-02-summary-costs.csv"]
    );
    // day 14, the final run: the same keys again, mailed again
    let files = keys.len();
    let at = Utc.with_ymd_and_hms(2025, 3, 14, 6, 0, 0).unwrap();
    world.outcome(&report_job(&world, Report::Costs, at)).await;
    assert_eq!(
        world.platform.objects.keys().len(),
        files,
        "overwritten, not added"
    );
    assert_eq!(world.platform.mail.sent().len(), 2);
}

#[tokio::test]
async fn costs_that_cannot_be_read_fail_the_run_and_nothing_is_mailed() {
    let world = costs_world();
    world.platform.cost_source.faults.fail(
        "monthly_costs",
        PortError::Denied {
            service: "ce".into(),
            action: "GetCostAndUsage".into(),
            message: "not the payer account".into(),
        },
        1,
    );
    let at = Utc.with_ymd_and_hms(2025, 3, 6, 6, 0, 0).unwrap();
    let error = dispatch(&world.engine(), &report_job(&world, Report::Costs, at))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not the payer account"),
        "{error}"
    );
    assert!(!error.is_transient());
    assert!(world.platform.objects.keys().is_empty());
    assert!(world.platform.mail.sent().is_empty());
}

#[tokio::test]
async fn a_failed_cost_file_stops_the_run_before_the_mail_and_names_the_key() {
    let world = costs_world();
    // the summary XLSX goes through, its CSV fails
    let mut written = 0;
    let mut sink = |key: &str, _: &[u8]| {
        written += 1;
        if key.ends_with("summary-costs.csv") {
            Err("disk full".to_owned())
        } else {
            Ok(())
        }
    };
    let error = run_report(
        &world.engine(),
        Report::Costs,
        Period::Month("2025-02".parse().unwrap()),
        &mut Output::Files(&mut sink),
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("reports/costs/summary/2025/2025-02-summary-costs.csv"),
        "{error}"
    );
    assert_eq!(written, 2, "stopped at the failed file");
    assert!(
        world.platform.mail.sent().is_empty(),
        "an on-demand run mails nothing"
    );
}

#[tokio::test]
async fn no_recipient_is_a_note_not_a_failure() {
    let mut world = costs_world();
    world.settings.reporting.recipients.clear();
    let run = run_report(
        &world.engine(),
        Report::Costs,
        Period::Month("2025-02".parse().unwrap()),
        &mut Output::Bucket,
    )
    .await
    .unwrap();
    assert!(run.mailed.is_empty());
    assert!(
        run.notes.iter().any(|n| n.contains("reporting.recipients")),
        "{:?}",
        run.notes
    );
    assert!(world.platform.mail.sent().is_empty());
    assert!(!run.files.is_empty());
}
