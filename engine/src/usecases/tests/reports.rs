//! Report runs on the in-memory platform: the files an operator finds in the bucket.

use chrono::{TimeZone, Utc};

use super::*;
use crate::events::{Label, Report};
use crate::ports::{Activity, PortError, Store};
use crate::usecases::reports::{Output, Period};

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
