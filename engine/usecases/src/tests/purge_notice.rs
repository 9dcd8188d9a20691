//! The pre-purge notice and its snooze, as the holder and an operator notice them: the
//! sweeper starts a dry run a day before the purge, its end mails the holder what
//! will be deleted (read from the reports bucket), the holder snoozes once, the window
//! leaves the account alone, the sweeper purges it when the snooze ends.

use std::time::Duration;

use super::exceptions::{noticed, world};
use super::*;
use crate::ports::{DeadlineKind, Objects};
use crate::{SnoozeOutcome, Snoozer};
use spa_core::lifecycle::{Holder, Label, Rejection};
use spa_core::notify::preview::list_key;
use spa_core::settings::PurgeNotice;

const DAY: Duration = Duration::from_secs(86_400);

/// The aws-nuke list the dry run writes, with a name chosen by the holder to mislead.
const LIST: &str = "\
us-east-1 - EC2Instance - i-0abc - [Name: \"web\"] - would remove
us-east-1 - EC2Instance - i-0def - [] - would remove
eu-west-1 - S3Bucket - <script>alert(1)</script> - [] - would remove
Scan complete: 3 nukeable.
";

/// `NESTED`'s unit with a notice a day before each purge and a snooze of 3 days.
pub(super) fn notice_world() -> World {
    let mut world = world();
    world.settings.organizational_units[0].item.purge_notice = Some(PurgeNotice {
        before: DAY,
        snooze: 3 * DAY,
    });
    world
}

/// Saturday 18:00 (`cron(0 18 ? * SAT *)`), the first window after `at`.
fn window_after(at: DateTime<Utc>) -> DateTime<Utc> {
    spa_core::lifecycle::Schedule::parse("cron(0 18 ? * SAT *)")
        .unwrap()
        .next_after(at)
        .unwrap()
}

fn rfc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Assigned to jane; the sweeper starts the dry run; returns the purge and its build.
pub(super) async fn noticed_account(world: &World) -> (DateTime<Utc>, BuildId) {
    world.assign(NESTED, JANE).await;
    let purge = window_after(world.now());
    // due already: the window is less than a day away
    assert_eq!(
        world.platform.store.deadline(NESTED, DeadlineKind::Notice),
        Some(purge - TimeDelta::days(1))
    );
    let builds = world.builds_in(NESTED);
    let outcomes = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(world.builds_in(NESTED), builds + 1, "the dry run started");
    let (request, preview) = world.platform.builds.started_in(NESTED).pop().unwrap();
    assert_eq!(request.variables["PURGE_MODE"], "--dry-run");
    let key = list_key("reports/exceptions", &id(NESTED), purge);
    assert_eq!(request.variables["SPA_PREVIEW_KEY"], key);
    assert_eq!(request.variables["SPA_REPORTS_BUCKET"], "memory-reports");
    // the account does not move, and remembers the notice
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    assert_eq!(
        world.tag(NESTED, "account-purge-notice"),
        Some(format!("{}/{preview}", rfc(purge)))
    );
    // until its end comes, the sweeper knows when to ask CodeBuild (4 h, the
    // maintenance deadline, after the dry run started; at the latest the purge)
    assert_eq!(
        world.platform.store.deadline(NESTED, DeadlineKind::Notice),
        Some((world.now() + TimeDelta::hours(4)).min(purge))
    );
    (purge, preview)
}

#[tokio::test]
async fn the_holder_is_told_what_the_purge_deletes_once() {
    let world = notice_world();
    let (purge, preview) = noticed_account(&world).await;
    world
        .platform
        .objects
        .put(
            &list_key("reports/exceptions", &id(NESTED), purge),
            LIST.as_bytes().to_vec(),
            "text/plain",
        )
        .await
        .unwrap();
    // the next sweep does not start a second dry run
    let again = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert!(again.is_empty(), "{again:?}");
    let end = world.finished_build(NESTED, &preview, BuildStatus::Succeeded);
    let outcome = world.outcome(&end).await;
    assert_eq!(outcome.from, outcome.to, "{outcome:?}");
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    assert_eq!(outcome.events, vec![Label::PurgeNotice]);
    // the end delivered twice tells once
    let repeat = world.dispatch(&end).await.outcomes;
    assert_eq!(repeat[0].verdict, Verdict::Seen);
    let events = noticed(&world, Label::PurgeNotice);
    assert_eq!(events.len(), 1);
    let told = world.outcome(&events[0]).await;
    assert!(matches!(told.verdict, Verdict::Notified(_)), "{told:?}");
    let mail = world.platform.mail.sent();
    assert_eq!(mail.len(), 1);
    let notice = &mail[0];
    assert_eq!(notice.to, vec![JANE.to_owned()]);
    assert!(
        notice
            .subject
            .contains("will be purged at 2025-03-01T18:00:00Z"),
        "{}",
        notice.subject
    );
    assert!(
        notice.text.contains("EC2Instance: 2 (i-0abc, i-0def)"),
        "{}",
        notice.text
    );
    assert!(
        notice.text.contains("S3Bucket: 1 (scriptalert1/script)"),
        "{}",
        notice.text
    );
    assert!(!notice.html.contains("<script>"), "{}", notice.html);
    assert!(
        notice
            .text
            .contains(&format!("/spa snooze {NESTED} [DURATION]")),
        "{}",
        notice.text
    );
    assert!(notice.text.contains("at most 3d"), "{}", notice.text);
    // the bus event delivered again is noticed once
    let again = world.outcome(&events[0]).await;
    assert_eq!(again.verdict, Verdict::Seen);
    assert_eq!(world.platform.mail.sent().len(), 1);
    // the history says it
    let history = world.platform.store.recorded_for(NESTED);
    assert!(
        history.iter().any(|a| a.label == Label::PurgeNotice),
        "{history:?}"
    );
}

#[tokio::test]
async fn a_failed_dry_run_or_a_missing_list_still_tells_the_purge_date() {
    let world = notice_world();
    let (_, preview) = noticed_account(&world).await;
    world
        .dispatch(&world.finished_build(NESTED, &preview, BuildStatus::Failed))
        .await;
    let events = noticed(&world, Label::PurgeNotice);
    world.outcome(&events[0]).await;
    let mail = world.platform.mail.sent();
    let notice = mail.last().unwrap();
    assert!(
        notice
            .subject
            .contains("will be purged at 2025-03-01T18:00:00Z")
    );
    assert!(
        notice.text.contains("its dry run ended FAILED"),
        "{}",
        notice.text
    );

    // succeeded, but nothing in the bucket: the date, and why there is no list
    let world = notice_world();
    let (_, preview) = noticed_account(&world).await;
    world
        .dispatch(&world.finished_build(NESTED, &preview, BuildStatus::Succeeded))
        .await;
    let events = noticed(&world, Label::PurgeNotice);
    world.outcome(&events[0]).await;
    let notice = world.platform.mail.sent().pop().unwrap();
    assert!(
        notice.text.contains("list could not be read"),
        "{}",
        notice.text
    );
}

#[tokio::test]
async fn a_snooze_keeps_the_window_away_until_the_sweeper_purges_the_account() {
    let world = notice_world();
    let (purge, _) = noticed_account(&world).await;
    let engine = world.engine();
    let jane = Holder::new(JANE).unwrap();
    let john = Holder::new(JOHN).unwrap();
    // somebody else cannot
    let refused = crate::snooze(&engine, &id(NESTED), None, Snoozer::Holder(john))
        .await
        .unwrap();
    assert_eq!(
        refused,
        SnoozeOutcome::Refused("only the holder of the account may snooze its purge".into())
    );
    // more than the settings allow is refused
    let long = crate::snooze(
        &engine,
        &id(NESTED),
        Some(4 * DAY),
        Snoozer::Holder(jane.clone()),
    )
    .await
    .unwrap();
    assert!(
        matches!(long, SnoozeOutcome::Refused(ref why) if why.contains("at most 3d")),
        "{long:?}"
    );
    let until = purge + TimeDelta::days(3);
    let granted = crate::snooze(&engine, &id(NESTED), None, Snoozer::Holder(jane.clone()))
        .await
        .unwrap();
    assert_eq!(granted, SnoozeOutcome::Snoozed { purge, until });
    assert_eq!(world.tag(NESTED, "account-snoozed-until"), Some(rfc(until)));
    assert_eq!(
        world.platform.store.deadline(NESTED, DeadlineKind::Snooze),
        Some(until)
    );
    // once per purge
    world.advance(TimeDelta::minutes(1));
    let second = crate::snooze(&engine, &id(NESTED), Some(DAY), Snoozer::Operator)
        .await
        .unwrap();
    assert!(
        matches!(second, SnoozeOutcome::Refused(ref why) if why.contains("snoozed once already")),
        "{second:?}"
    );
    // the window fires: the account stays
    world.platform.clock.set(purge);
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    let drained = world.drain().await.outcomes;
    assert!(
        drained.iter().any(|o| matches!(&o.verdict, Verdict::Rejected(Rejection::Snoozed { until: u }) if *u == until)),
        "{drained:?}"
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    // the snooze ends: the sweeper purges it, the holder kept, the snooze cleared
    world.platform.clock.set(until);
    let swept = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert!(swept.iter().any(|o| o.to == state("expired")), "{swept:?}");
    assert_eq!(world.state(NESTED).as_deref(), Some("expired"));
    assert_eq!(world.tag(NESTED, "account-holder").as_deref(), Some(JANE));
    assert_eq!(world.tag(NESTED, "account-snoozed-until"), None);
    let history = world.platform.store.recorded_for(NESTED);
    let snoozed: Vec<_> = history
        .iter()
        .filter(|a| a.label == Label::PurgeSnoozed)
        .collect();
    assert_eq!(snoozed.len(), 1, "{history:?}");
    assert!(
        snoozed[0].detail.contains("put off until"),
        "{:?}",
        snoozed[0]
    );
    assert!(!snoozed[0].detail.contains(JANE));
}

#[tokio::test]
async fn the_snooze_command_checks_its_input() {
    let world = notice_world();
    world.assign(NESTED, JANE).await;
    let bad = world.command(
        NESTED,
        Action::Snooze {
            by: Some("soon".into()),
            holder: None,
        },
    );
    let result = on_command(&world.engine(), &bad).await;
    assert!(result.is_err_and(|e| !e.is_transient()));
    let good = world.command(
        NESTED,
        Action::Snooze {
            by: Some("1d".into()),
            holder: Some(JANE.into()),
        },
    );
    let outcome = on_command(&world.engine(), &good).await.unwrap();
    assert_eq!(outcome.events, vec![Label::PurgeSnoozed]);
    assert!(world.tag(NESTED, "account-snoozed-until").is_some());
}

#[tokio::test]
async fn a_dry_run_whose_end_never_came_is_asked_for_and_still_told() {
    let world = notice_world();
    let (purge, preview) = noticed_account(&world).await;
    // the member's forwarding rule lost the end: the sweeper knows when to ask
    let ask = world
        .platform
        .store
        .deadline(NESTED, DeadlineKind::Notice)
        .unwrap();
    assert!(ask < purge);
    // still running when asked: nothing yet
    world
        .platform
        .builds
        .set_status(&preview, BuildStatus::InProgress);
    world.platform.clock.set(ask);
    let swept = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert!(swept.iter().all(|o| o.events.is_empty()), "{swept:?}");
    world
        .platform
        .builds
        .set_status(&preview, BuildStatus::Succeeded);
    // asked again later (not at every sweep), at the latest at the purge
    let again = world
        .platform
        .store
        .deadline(NESTED, DeadlineKind::Notice)
        .unwrap();
    assert_eq!(again, (ask + TimeDelta::hours(4)).min(purge));
    world.platform.clock.set(again);
    let swept = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(swept[0].events, vec![Label::PurgeNotice], "{swept:?}");
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    // told: the tag keeps the purge, no dry run is waited for, no deadline left
    assert_eq!(world.tag(NESTED, "account-purge-notice"), Some(rfc(purge)));
    assert_eq!(
        world.platform.store.deadline(NESTED, DeadlineKind::Notice),
        None
    );
    let events = noticed(&world, Label::PurgeNotice);
    world.outcome(&events[0]).await;
    assert_eq!(world.platform.mail.sent().len(), 1);
    // the end arriving late tells nobody twice
    let late = world.finished_build(NESTED, &preview, BuildStatus::Succeeded);
    let outcome = world.outcome(&late).await;
    assert!(outcome.events.is_empty(), "{outcome:?}");
}

/// [`notice_world`] with spa's Slack app: the slash command on, a bot token.
fn slack_notice_world() -> World {
    let mut world = notice_world();
    world.settings.features.slack_commands = true;
    world.settings.features.slack_team_id = Some("T1".into());
    world.settings.notifications.slack_bot_token =
        Some(spa_core::settings::SecretRef("ssm:/spa/bot".into()));
    world.platform.secrets.set("ssm:/spa/bot", "xoxb-test");
    world
}

#[tokio::test]
async fn the_holder_is_told_in_slack_too_with_the_snooze_button() {
    let world = slack_notice_world();
    world.platform.webhooks.add_slack_user(JANE, "UJANE");
    let (purge, preview) = noticed_account(&world).await;
    world
        .platform
        .objects
        .put(
            &list_key("reports/exceptions", &id(NESTED), purge),
            LIST.as_bytes().to_vec(),
            "text/plain",
        )
        .await
        .unwrap();
    let end = world.finished_build(NESTED, &preview, BuildStatus::Succeeded);
    world.outcome(&end).await;
    let events = noticed(&world, Label::PurgeNotice);
    let told = world.outcome(&events[0]).await;
    assert!(told.warnings.is_empty(), "{told:?}");
    // the e-mail, and the direct message in Slack with the button
    assert_eq!(world.platform.mail.sent().len(), 1);
    let messages = world.platform.webhooks.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["channel"], "UJANE");
    let text = message["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        text.contains("will be purged 2025-03-01 18:00 UTC"),
        "{text}"
    );
    assert!(text.contains("EC2Instance: 2 (i-0abc, i-0def)"), "{text}");
    assert!(
        !text.contains("<script>"),
        "the holder's names are escaped: {text}"
    );
    let button = &message["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "snooze");
    assert_eq!(button["value"], NESTED);
    // delivered again: nothing twice
    world.outcome(&events[0]).await;
    assert_eq!(world.platform.webhooks.messages().len(), 1);
}

#[tokio::test]
async fn a_holder_unknown_to_slack_is_told_by_e_mail_only() {
    let world = slack_notice_world();
    let (_, preview) = noticed_account(&world).await;
    let end = world.finished_build(NESTED, &preview, BuildStatus::Failed);
    world.outcome(&end).await;
    let events = noticed(&world, Label::PurgeNotice);
    let told = world.outcome(&events[0]).await;
    assert!(
        matches!(&told.verdict, Verdict::Notified(what) if what.contains("e-mail only")),
        "{told:?}"
    );
    assert_eq!(world.platform.mail.sent().len(), 1);
    assert!(world.platform.webhooks.messages().is_empty());
}
