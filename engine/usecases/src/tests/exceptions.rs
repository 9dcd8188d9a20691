//! Budgets, sign-ins, budget alerts, and the `exceptions` function: incidents and
//! notifications, on the in-memory platform.

use chrono::TimeDelta;

use super::*;
use crate::ports::{IncidentStatus, Logins, PortError, ServiceCost};
use spa_core::events::{
    AlertType, Amount, BudgetAlert, ConsoleLogin, DomainEvent, Label, LoginOutcome, Money,
    SpaEvent, Threshold,
};

/// The test settings with budgets, Incident Manager and every channel routed.
const EXCEPTIONS: &str = "\
reporting:
  bucket: spa-test-reports
notifications:
  slack_webhook: ssm:/spa/test/slack
  teams_webhook: secretsmanager:spa/test/teams
  email_sender: spa@example.com
  email_recipients: [sre@example.com]
  workbooks_url: https://git.example.com/spa/workbooks/exceptions/
  routes:
    default:
      channels: [slack]
    BudgetAlert:
      channels: [slack, teams, email]
      notify_holder: true
      impact: 2
    AccountQuarantined:
      channels: [teams]
features:
  incident_manager: true
  response_plan_arn: arn:aws:ssm-incidents::123456789012:response-plan/spa-test
";

const SLACK: &str = "https://hooks.slack.example/T0/B0/secret";
const TEAMS: &str = "https://teams.example/workflows/secret";

/// A world with budgets, Incident Manager and every channel routed.
pub(super) fn world() -> World {
    let mut world = World::new();
    let text = SETTINGS.replace(
        "defaults:\n",
        "defaults:\n  budget: {amount: 100, thresholds: [80, 100]}\n",
    );
    let text = format!("{text}{EXCEPTIONS}");
    world.settings = match load("settings.yaml", &text, &MemorySources::new()) {
        Ok(loaded) => loaded.settings,
        Err(error) => panic!("{error}"),
    };
    world.platform.secrets.set("ssm:/spa/test/slack", SLACK);
    world
        .platform
        .secrets
        .set("secretsmanager:spa/test/teams", TEAMS);
    world
}

pub(super) fn budget_alert(world: &World, account: &str, event: &str) -> Incoming {
    Incoming::BudgetAlerts(spa_core::events::SqsBatch {
        records: vec![spa_core::events::SqsRecord {
            message_id: Some(format!("m-{event}")),
            alert: Ok(BudgetAlert {
                event_id: EventId::eventbridge(event),
                account: id(account),
                budget_name: "SpaTest-Budget".into(),
                budget_type: Some("Cost".into()),
                alert_type: AlertType::Actual,
                threshold: Threshold::Percentage(Amount::parse("80").unwrap()),
                budgeted: Some(money("100")),
                amount: money("85.20"),
                notified_at: Some(world.now()),
            }),
        }],
    })
}

fn money(amount: &str) -> Money {
    Money {
        amount: Amount::parse(amount).unwrap(),
        currency: "USD".into(),
    }
}

fn login(world: &World, account: &str, principal: Principal, outcome: LoginOutcome) -> Incoming {
    world.advance(TimeDelta::minutes(1));
    Incoming::ConsoleLogin(ConsoleLogin {
        event_id: EventId::eventbridge(&world.fresh()),
        account: id(account),
        at: world.now(),
        principal,
        outcome,
        source_ip: Some("203.0.113.10".into()),
        mfa_used: Some(false),
    })
}

/// spa's events published so far with this label, as the `exceptions` rule hands
/// them on.
pub(super) fn noticed(world: &World, label: Label) -> Vec<Incoming> {
    world
        .platform
        .bus
        .published()
        .into_iter()
        .enumerate()
        .filter(|(_, e)| e.label == label)
        .map(|(n, event)| spa_event(&format!("bus-{n}"), event))
        .collect()
}

pub(super) fn spa_event(id: &str, event: DomainEvent) -> Incoming {
    Incoming::Spa(SpaEvent {
        event_id: EventId::eventbridge(id),
        // spa's own events come from the automation account (tests/mod.rs settings)
        sender: AccountId::parse("123456789012").unwrap(),
        event,
    })
}

fn posted_to(world: &World, url: &str) -> Vec<serde_json::Value> {
    world
        .platform
        .webhooks
        .posted()
        .into_iter()
        .filter(|(to, _)| to == url)
        .map(|(_, body)| body)
        .collect()
}

#[tokio::test]
async fn preparing_an_account_ensures_its_budget_and_assigning_it_adds_the_holder() {
    let world = world();
    world.onboard(NESTED).await;
    let budget = world.platform.budgets.budget(NESTED).expect("a budget");
    assert_eq!(budget.name, "SpaTest-Budget");
    assert_eq!(budget.amount, 100.0);
    assert_eq!(budget.thresholds, vec![80.0, 100.0]);
    assert_eq!(
        budget.topic_arn,
        format!("arn:aws:sns:eu-west-1:{NESTED}:SpaTest-BudgetAlerts"),
        "the member's own topic: Budgets notifies no topic of another account"
    );
    assert!(budget.emails.is_empty(), "no holder yet");

    world
        .dispatch(&world.tagged(NESTED, &[("account-holder", JANE)]))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    let budget = world.platform.budgets.budget(NESTED).expect("a budget");
    assert_eq!(budget.emails, vec![JANE.to_owned()], "the holder is told");
}

#[tokio::test]
async fn a_budget_that_cannot_be_ensured_raises_drift_without_undoing_the_preparation() {
    let world = world();
    let denied = PortError::Denied {
        service: "budgets".into(),
        action: "CreateBudget".into(),
        message: "not authorized".into(),
    };
    world
        .platform
        .budgets
        .faults
        .fail("ensure_budget", denied, 1);
    world.onboard(NESTED).await;
    assert_eq!(world.state(NESTED).as_deref(), Some("prepared"));
    assert!(
        world
            .platform
            .bus
            .labels_for(NESTED)
            .contains(&Label::Drift),
        "{:?}",
        world.platform.bus.labels_for(NESTED)
    );
    let drift = world
        .platform
        .store
        .recorded_for(NESTED)
        .into_iter()
        .find(|a| a.label == Label::Drift)
        .expect("drift recorded");
    assert!(drift.detail.contains("budget"), "{}", drift.detail);
}

#[tokio::test]
async fn a_budget_alert_is_recorded_once_and_raised_with_its_figures() {
    let world = world();
    world.onboard(NESTED).await;
    let alert = budget_alert(&world, NESTED, "sns-1");
    let outcome = world.outcome(&alert).await;
    assert_eq!(outcome.verdict, Verdict::Applied);
    let raised = world
        .platform
        .bus
        .published()
        .into_iter()
        .find(|e| e.label == Label::BudgetAlert)
        .expect("BudgetAlert published");
    assert_eq!(raised.facts["amount"], "85.20 USD");
    assert_eq!(raised.facts["threshold"], "80.00%");
    assert!(
        world
            .platform
            .store
            .labels_for(NESTED)
            .contains(&Label::BudgetAlert)
    );
    // SNS delivers twice: nothing more
    assert_eq!(world.outcome(&alert).await.verdict, Verdict::Seen);
    assert_eq!(noticed(&world, Label::BudgetAlert).len(), 1);
}

#[tokio::test]
async fn a_budget_alert_of_an_account_spa_does_not_manage_is_recorded_but_pages_nobody() {
    let world = world();
    let outcome = world.outcome(&budget_alert(&world, OUTSIDE, "sns-2")).await;
    assert_eq!(outcome.verdict, Verdict::Unmanaged);
    assert!(noticed(&world, Label::BudgetAlert).is_empty());
    let recorded = world.platform.store.recorded_for(OUTSIDE);
    assert_eq!(recorded.len(), 1);
    assert!(recorded[0].detail.contains("not managed"), "{recorded:?}");
}

#[tokio::test]
async fn a_root_sign_in_is_raised_and_an_sso_sign_in_stamps_the_last_login() {
    let world = world();
    world.onboard(NESTED).await;
    world
        .dispatch(&login(
            &world,
            NESTED,
            Principal::Root,
            LoginOutcome::Success,
        ))
        .await;
    let raised = noticed(&world, Label::ConsoleLoginWithRoot);
    assert_eq!(raised.len(), 1);
    let sso = login(&world, NESTED, person(), LoginOutcome::Success);
    world.dispatch(&sso).await;
    let at = world.now();
    assert_eq!(
        world.platform.store.last_logins().await.unwrap()[&id(NESTED)],
        at
    );
    // a failed sign-in is recorded, but is not a sign-in
    world.advance(TimeDelta::hours(1));
    world
        .dispatch(&login(
            &world,
            NESTED,
            person(),
            LoginOutcome::Failure { reason: None },
        ))
        .await;
    assert_eq!(
        world.platform.store.last_logins().await.unwrap()[&id(NESTED)],
        at
    );
    let labels = world.platform.store.labels_for(NESTED);
    assert_eq!(
        labels.iter().filter(|l| **l == Label::ConsoleLogin).count(),
        2
    );
    assert!(labels.contains(&Label::ConsoleLoginWithRoot));
}

#[tokio::test]
async fn console_login_alerts_off_records_root_sign_ins_without_raising_them() {
    let mut world = world();
    world.settings.features.console_login_alerts = false;
    world.onboard(NESTED).await;
    world
        .dispatch(&login(
            &world,
            NESTED,
            Principal::Root,
            LoginOutcome::Success,
        ))
        .await;
    assert!(noticed(&world, Label::ConsoleLoginWithRoot).is_empty());
    assert!(
        world
            .platform
            .store
            .labels_for(NESTED)
            .contains(&Label::ConsoleLogin)
    );
}

#[tokio::test]
async fn an_exception_opens_an_incident_with_its_cost_report_and_goes_to_every_routed_channel() {
    let world = world();
    world.assign(NESTED, JANE).await;
    world.platform.costs.set(
        NESTED,
        vec![ServiceCost {
            service: "Amazon Elastic Compute Cloud - Compute".into(),
            amount: 85.2,
            currency: "USD".into(),
        }],
    );
    world.dispatch(&budget_alert(&world, NESTED, "sns-3")).await;
    let event = noticed(&world, Label::BudgetAlert).remove(0);
    let outcome = world.outcome(&event).await;
    assert!(
        matches!(&outcome.verdict, Verdict::Notified(what) if what.contains("incident opened")),
        "{outcome:#?}"
    );
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);

    let incidents = world.platform.incidents.started();
    assert_eq!(incidents.len(), 1);
    let request = &incidents[0].request;
    assert_eq!(request.impact, 2, "the route's impact");
    assert_eq!(
        request.response_plan_arn,
        "arn:aws:ssm-incidents::123456789012:response-plan/spa-test"
    );
    assert!(
        request.title.contains("BudgetAlert")
            && request.title.contains("nested")
            && request.title.contains(NESTED),
        "{}",
        request.title
    );
    assert!(
        request.summary.contains("Sandboxes / Team"),
        "{}",
        request.summary
    );
    assert!(
        request.summary.contains("spa expire 111111111111"),
        "{}",
        request.summary
    );
    assert!(
        request
            .summary
            .contains("https://git.example.com/spa/workbooks/exceptions/BudgetAlert.md"),
        "{}",
        request.summary
    );
    assert!(!request.summary.contains(JANE), "no address in clear");
    assert!(
        request
            .tags
            .contains(&("spa:label".into(), "BudgetAlert".into()))
    );
    assert!(
        request
            .tags
            .contains(&("spa:ou-path".into(), "Root/Sandboxes/Team".into()))
    );
    assert_eq!(request.related.len(), 1);
    assert!(
        request.related[0].url.contains("X-Amz-Expires=43200"),
        "12h by default"
    );
    let keys = world.platform.objects.keys();
    assert_eq!(
        keys,
        vec!["reports/exceptions/111111111111/2025/2025-03-111111111111-costs.xlsx".to_owned()]
    );

    assert_eq!(posted_to(&world, SLACK).len(), 1);
    assert_eq!(posted_to(&world, TEAMS).len(), 1);
    let mail = world.platform.mail.sent();
    assert_eq!(mail.len(), 2, "the SRE mailbox, then the holder");
    assert_eq!(mail[0].to, vec!["sre@example.com".to_owned()]);
    assert_eq!(mail[1].to, vec![JANE.to_owned()]);

    // delivered twice by EventBridge: nothing more
    assert_eq!(world.outcome(&event).await.verdict, Verdict::Seen);
    assert_eq!(posted_to(&world, SLACK).len(), 1);
}

#[tokio::test]
async fn a_repeat_updates_the_open_incident_and_a_resolved_one_makes_room_for_a_new_one() {
    let world = world();
    world.onboard(NESTED).await;
    for n in 0..2 {
        world.advance(TimeDelta::hours(1));
        world
            .dispatch(&budget_alert(&world, NESTED, &format!("sns-r{n}")))
            .await;
    }
    let events = noticed(&world, Label::BudgetAlert);
    assert_eq!(events.len(), 2);
    world.outcome(&events[0]).await;
    let outcome = world.outcome(&events[1]).await;
    assert!(
        matches!(&outcome.verdict, Verdict::Notified(what) if what.contains("open incident updated")),
        "{outcome:#?}"
    );
    let incidents = world.platform.incidents.started();
    assert_eq!(
        incidents.len(),
        1,
        "one open incident per account and label"
    );
    assert_eq!(incidents[0].timeline.len(), 1);

    world.platform.incidents.resolve(&incidents[0].arn);
    world
        .dispatch(&budget_alert(&world, NESTED, "sns-r2"))
        .await;
    let third = noticed(&world, Label::BudgetAlert).remove(2);
    world.outcome(&third).await;
    assert_eq!(world.platform.incidents.started().len(), 2);
    assert_eq!(
        world.platform.incidents.started()[1].status,
        IncidentStatus::Open
    );
}

#[tokio::test]
async fn incident_manager_down_still_notifies_every_channel_and_says_what_failed() {
    let world = world();
    world.onboard(NESTED).await;
    world.dispatch(&budget_alert(&world, NESTED, "sns-4")).await;
    let down = PortError::Unavailable {
        service: "ssm-incidents".into(),
        message: "503".into(),
    };
    world
        .platform
        .incidents
        .faults
        .fail("start_incident", down, 3);
    let event = noticed(&world, Label::BudgetAlert).remove(0);
    let outcome = world.outcome(&event).await;
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.starts_with("incident: no incident opened")),
        "{:?}",
        outcome.warnings
    );
    assert_eq!(posted_to(&world, SLACK).len(), 1);
    assert_eq!(posted_to(&world, TEAMS).len(), 1);
    assert_eq!(
        world.platform.mail.sent().len(),
        1,
        "SRE mailbox; no holder"
    );
}

#[tokio::test]
async fn a_channel_that_fails_does_not_stop_the_others() {
    let world = world();
    world.onboard(NESTED).await;
    world.dispatch(&budget_alert(&world, NESTED, "sns-5")).await;
    let down = PortError::Unavailable {
        service: "webhook".into(),
        message: "HTTP 500 after 3 tries".into(),
    };
    world.platform.webhooks.faults.fail("post_json", down, 1);
    let event = noticed(&world, Label::BudgetAlert).remove(0);
    let outcome = world.outcome(&event).await;
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    assert!(
        outcome.warnings[0].starts_with("slack:"),
        "{:?}",
        outcome.warnings
    );
    assert!(
        !outcome.warnings[0].contains("secret"),
        "the URL never shows"
    );
    assert_eq!(posted_to(&world, TEAMS).len(), 1);
    assert_eq!(world.platform.mail.sent().len(), 1);
    assert_eq!(world.platform.incidents.started().len(), 1);
}

#[tokio::test]
async fn a_routed_channel_without_its_secret_is_reported() {
    let mut world = world();
    world.settings.notifications.slack_webhook = None;
    world.onboard(NESTED).await;
    world.dispatch(&budget_alert(&world, NESTED, "sns-6")).await;
    let event = noticed(&world, Label::BudgetAlert).remove(0);
    let outcome = world.outcome(&event).await;
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("`notifications.slack_webhook` is not set")),
        "{:?}",
        outcome.warnings
    );
}

#[tokio::test]
async fn a_quarantine_opens_an_incident_and_goes_to_its_route() {
    let world = world();
    world.dispatch(&world.created(NESTED)).await;
    for _ in 0..2 {
        world
            .dispatch(&world.finished(NESTED, BuildStatus::Failed))
            .await;
    }
    assert_eq!(world.state(NESTED).as_deref(), Some("quarantined"));
    let events = noticed(&world, Label::AccountQuarantined);
    assert_eq!(events.len(), 1);
    world.outcome(&events[0]).await;
    let incidents = world.platform.incidents.started();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].request.impact, 3, "spa's default impact");
    assert_eq!(posted_to(&world, TEAMS).len(), 1, "the route says teams");
    assert!(posted_to(&world, SLACK).is_empty());
    // the build failures went to the default route (slack)
    let failures = noticed(&world, Label::BuildFailed);
    assert!(!failures.is_empty());
    world.outcome(&failures[0]).await;
    assert_eq!(posted_to(&world, SLACK).len(), 1);
}

#[tokio::test]
async fn an_assignment_welcomes_the_holder_by_email() {
    let world = world();
    world.assign(NESTED, JANE).await;
    let events = noticed(&world, Label::AccountAssigned);
    assert_eq!(events.len(), 1);
    world.outcome(&events[0]).await;
    let mail = world.platform.mail.sent();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, vec![JANE.to_owned()]);
    assert!(world.platform.incidents.started().is_empty());
}

#[tokio::test]
async fn an_assignment_without_a_sender_claims_nothing_and_reads_nothing() {
    let mut world = world();
    world.settings.notifications.email_sender = None;
    world.assign(NESTED, JANE).await;
    let events = noticed(&world, Label::AccountAssigned);
    assert_eq!(events.len(), 1);
    world.platform.store.calls.reset();
    world.org().calls.reset();
    for _ in 0..2 {
        let outcome = world.outcome(&events[0]).await;
        assert_eq!(
            outcome.verdict,
            Verdict::Notified("holder: not told: no `notifications.email_sender`".into())
        );
    }
    assert!(
        world.platform.store.calls.all().is_empty(),
        "{:?}",
        world.platform.store.calls.all()
    );
    assert!(world.org().calls.all().is_empty());
    assert!(world.platform.mail.sent().is_empty());
}

#[tokio::test]
async fn an_event_of_another_environment_or_a_lifecycle_label_is_ignored() {
    let world = world();
    let other = DomainEvent::new(Label::BudgetAlert, "Other", id(NESTED), world.now());
    let outcome = world.outcome(&spa_event("x-1", other)).await;
    assert!(matches!(outcome.verdict, Verdict::Ignored(_)));
    let prepared = DomainEvent::new(Label::AccountPrepared, "SpaTest", id(NESTED), world.now());
    let outcome = world.outcome(&spa_event("x-2", prepared)).await;
    assert!(matches!(outcome.verdict, Verdict::Ignored(_)));
    assert!(world.platform.webhooks.posted().is_empty());
}

#[tokio::test]
async fn organizations_unavailable_sends_the_event_back_and_the_retry_notifies() {
    let world = world();
    world.onboard(NESTED).await;
    world.dispatch(&budget_alert(&world, NESTED, "sns-7")).await;
    let event = noticed(&world, Label::BudgetAlert).remove(0);
    let down = PortError::Unavailable {
        service: "organizations".into(),
        message: "throttled".into(),
    };
    world.org().faults.fail("describe_account", down, 3);
    let error = dispatch(&world.engine(), &event).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(world.platform.webhooks.posted().is_empty());
    let outcome = world.outcome(&event).await;
    assert!(
        matches!(outcome.verdict, Verdict::Notified(_)),
        "{outcome:#?}"
    );
    assert_eq!(posted_to(&world, SLACK).len(), 1);
}

#[tokio::test]
async fn a_routed_email_without_a_sender_is_reported_and_chat_still_goes() {
    let mut world = world();
    world.settings.notifications.email_sender = None;
    world.onboard(NESTED).await;
    world.dispatch(&budget_alert(&world, NESTED, "sns-8")).await;
    let event = noticed(&world, Label::BudgetAlert).remove(0);
    let outcome = world.outcome(&event).await;
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w == "email: routed, but `notifications.email_sender` is not set"),
        "{:?}",
        outcome.warnings
    );
    assert!(world.platform.mail.sent().is_empty());
    assert_eq!(posted_to(&world, SLACK).len(), 1);
}

#[tokio::test]
async fn a_spend_line_that_only_tells_the_holder_opens_no_incident_and_pages_nobody() {
    let world = world();
    world.assign(NESTED, JANE).await;
    let projected = |holder_only: bool| {
        let mut event = DomainEvent::new(Label::SpendProjected, "SpaTest", id(NESTED), world.now())
            .with_reason("projected month 3100 USD is over 3000 USD. Burn 12.5 USD an hour")
            .with_fact("notify_holder", "the account's holder")
            .keyed(if holder_only { "call-1" } else { "call-2" });
        if holder_only {
            event = event.with_fact(crate::on_spending::HOLDER_ONLY, "yes");
        }
        event
    };
    world.outcome(&spa_event("told-1", projected(true))).await;
    assert!(world.platform.incidents.started().is_empty());
    assert!(posted_to(&world, SLACK).is_empty());
    let mail = world.platform.mail.sent();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, vec![JANE.to_owned()]);
    assert!(
        mail[0]
            .text
            .contains("projected to cost more than its limits allow"),
        "{}",
        mail[0].text
    );

    // `raise` with it: the incident and the routed channel too, and the holder
    world.outcome(&spa_event("told-2", projected(false))).await;
    assert_eq!(world.platform.incidents.started().len(), 1);
    assert_eq!(posted_to(&world, SLACK).len(), 1);
    assert_eq!(world.platform.mail.sent().len(), 2);
}
