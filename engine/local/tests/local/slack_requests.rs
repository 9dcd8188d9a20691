//! `/spa request`, its approval, `/spa extend` and spa's buttons on the in-memory
//! platform, from the signed HTTP request to what each person reads in Slack and the
//! tags the account ends with: the happy paths, and the attacks of people who may not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};
use spa_core::chatops::sign;
use spa_core::settings::{MemorySources, Settings, load};
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::ports::{AccessRequests, MemorySlackUsers};
use spa_usecases::slack::{SlackOptions, SlashAnswer, SlashRequest, on_slash_command};
use spa_usecases::{Engine, Verdict};

const SETTINGS: &str = "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
notifications:
  slack_signing_secret: ssm:/spa/slack-signing-secret
  slack_bot_token: ssm:/spa/slack-bot-token
  sign_in_url: https://d-1234567890.awsapps.com/start
features:
  slack_commands: true
  slack_team_id: T1
  slack_admins: [UADMIN1]
defaults:
  preparation:
    feature: disabled
  purge:
    feature: disabled
organizational_units:
  - identifier: ou-ab12-sandbox1
    note: Personal sandboxes
    lease: 30d
    lease_extension: 14d
    requests:
      feature: enabled
      approvers: [UAPPROVER]
      expiry: 24h
  - identifier: ou-ab12-selfserv
    note: Self-service
    lease: 7d
    requests:
      feature: disabled
";

const SECRET: &str = "s3cr3t-signing";
const POOL_1: &str = "111111111111";
const POOL_2: &str = "222222222222";
const HELD: &str = "333333333333";
const URL: &str = "https://hooks.slack.com/commands/T1/1/s3cr3tpath";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()
}

fn settings_from(text: &str) -> Settings {
    load("settings.yaml", text, &MemorySources::new())
        .map(|l| l.settings)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn platform() -> MemoryPlatform {
    let pool = |since| [("account-state", "prepared"), ("account-since", since)];
    let organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_account(POOL_1, "pool-one", "ou-ab12-sandbox1")
        .with_account(POOL_2, "pool-two", "ou-ab12-sandbox1")
        .with_account(HELD, "bobs", "ou-ab12-sandbox1")
        .with_tags(POOL_1, &pool("2026-12-01T00:00:00Z"))
        .with_tags(POOL_2, &pool("2026-12-02T00:00:00Z"))
        .with_tags(
            HELD,
            &[
                ("account-state", "assigned"),
                ("account-since", "2026-12-01T00:00:00Z"),
                ("account-assigned-since", "2026-12-01T00:00:00Z"),
                ("account-holder", "bob@example.com"),
            ],
        );
    let platform = MemoryPlatform::new(organization, now());
    platform
        .secrets
        .set("ssm:/spa/slack-signing-secret", SECRET);
    platform
        .secrets
        .set("ssm:/spa/slack-bot-token", "xoxb-token");
    platform
}

fn users() -> MemorySlackUsers {
    MemorySlackUsers::new()
        .with_user("UJANE", "Jane.Doe@example.com")
        .with_user("UBOB", "bob@example.com")
        .with_user("UAPPROVER", "approver@example.com")
        .with_user("UADMIN1", "admin@example.com")
}

fn enc(text: &str) -> String {
    super::slack_commands::form_urlencoded_bytes(text)
}

fn command(user: &str, text: &str) -> String {
    format!(
        "team_id=T1&channel_id=C1&user_id={user}&user_name=someone&command=%2Fspa&text={}&response_url={}",
        enc(text),
        enc(URL)
    )
}

fn click_in(team: &str, user: &str, action_id: &str, value: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": user },
        "team": { "id": team },
        "response_url": format!("https://hooks.slack.com/actions/T1/2/{user}"),
        "actions": [{ "action_id": action_id, "value": value, "type": "button" }],
    });
    format!("payload={}", enc(&payload.to_string()))
}

fn click(user: &str, action_id: &str, value: &str) -> String {
    click_in("T1", user, action_id, value)
}

/// Slack signs the body and posts it to the function URL.
async fn post(world: &World, body: &str) -> SlashAnswer {
    let engine = Engine::new(&world.platform, &world.settings).unwrap();
    let timestamp = world.platform.clock.now_at().timestamp().to_string();
    let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    let request = SlashRequest {
        timestamp: Some(&timestamp),
        signature: Some(&signature),
        body: body.as_bytes(),
    };
    on_slash_command(&engine, &world.users, &SlackOptions::default(), &request).await
}

struct World {
    platform: MemoryPlatform,
    settings: Settings,
    users: MemorySlackUsers,
}

impl World {
    fn new() -> Self {
        Self::with(SETTINGS)
    }

    fn with(settings: &str) -> Self {
        Self {
            platform: platform(),
            settings: settings_from(settings),
            users: users(),
        }
    }

    /// Posts `body`, then runs the job it queued as the `commands` function does.
    async fn run(&self, body: &str) -> SlashAnswer {
        let answer = post(self, body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        if let Some(job) = &answer.later {
            let engine = Engine::new(&self.platform, &self.settings).unwrap();
            let outcome = spa_usecases::on_command(&engine, job).await.unwrap();
            assert!(
                matches!(outcome.verdict, Verdict::Notified(_)),
                "{outcome:?}"
            );
        }
        answer
    }

    /// What the last answer posted to a response URL says.
    fn last_answer(&self) -> (String, Value) {
        let posted = self.platform.webhooks.posted();
        let (url, body) = posted.last().expect("an answer").clone();
        (url, body)
    }

    fn last_text(&self) -> String {
        text(&self.last_answer().1)
    }

    fn messages_to(&self, user: &str) -> Vec<Value> {
        self.platform
            .webhooks
            .messages()
            .into_iter()
            .filter(|m| m["channel"] == user)
            .collect()
    }

    fn tags(&self, account: &str) -> std::collections::BTreeMap<String, String> {
        self.platform.organization.tags_of(account)
    }

    /// The request id named in the approver's buttons.
    fn request_id(&self) -> String {
        let asked = self.messages_to("UAPPROVER");
        asked.last().expect("an approver was asked")["blocks"][1]["elements"][0]["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn text(message: &Value) -> String {
    message["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_request_is_approved_and_the_account_given_with_where_to_sign_in() {
    let world = World::new();
    let answer = world.run(&command("UJANE", "request")).await;
    assert!(text(&answer.body).contains("Working on `request`"));
    // the person who asks learns who approves and until when
    let (url, _) = world.last_answer();
    assert_eq!(url, URL);
    let pending = world.last_text();
    assert!(
        pending.contains("waits for an approver (<@UAPPROVER>)"),
        "{pending}"
    );
    assert!(pending.contains("2026-12-07 10:00 UTC"), "{pending}");
    // the approver gets a direct message with two buttons
    let asked = world.messages_to("UAPPROVER");
    assert_eq!(asked.len(), 1);
    assert!(
        text(&asked[0]).contains("<@UJANE> asks for a sandbox account of *Personal sandboxes*")
    );
    assert!(
        !asked[0].to_string().contains("jane.doe@"),
        "no address in Slack"
    );
    let id = world.request_id();
    assert!(
        !world.tags(POOL_1).contains_key("account-holder"),
        "nothing given yet"
    );

    // the approver approves: the longest prepared account is Jane's
    let clicked = world.run(&click("UAPPROVER", "approve", &id)).await;
    assert_eq!(
        clicked.body,
        json!({}),
        "a click is acknowledged with no body"
    );
    let tags = world.tags(POOL_1);
    assert_eq!(tags["account-state"], "assigned");
    assert_eq!(tags["account-holder"], "jane.doe@example.com");
    assert!(!world.tags(POOL_2).contains_key("account-holder"));
    // the approver's message is replaced by the verdict
    let (url, replaced) = world.last_answer();
    assert_eq!(url, "https://hooks.slack.com/actions/T1/2/UAPPROVER");
    assert_eq!(replaced["replace_original"], true);
    assert!(text(&replaced).contains("approved request"));
    assert!(text(&replaced).contains(&format!("account {POOL_1} was given to <@UJANE>")));
    // Jane is told in a direct message: the account, its lease, where to sign in
    let told = world.messages_to("UJANE");
    assert_eq!(told.len(), 1);
    let shown = text(&told[0]);
    assert!(
        shown.starts_with("<@UAPPROVER> approved your request."),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("*pool-one* ({POOL_1}) is yours")),
        "{shown}"
    );
    assert!(shown.contains("lease ends 2027-01-05"), "{shown}");
    assert!(
        shown.contains("https://d-1234567890.awsapps.com/start"),
        "{shown}"
    );
    assert_eq!(told[0]["blocks"][1]["elements"][0]["action_id"], "extend");

    // a second click, by the same approver or by Slack again, changes nothing
    world.platform.clock.advance(TimeDelta::seconds(30));
    world.run(&click("UAPPROVER", "approve", &id)).await;
    assert_eq!(world.messages_to("UJANE").len(), 1, "told once");
    assert!(
        !world.tags(POOL_2).contains_key("account-holder"),
        "one account given"
    );
    let stored = world.platform.store.request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "granted");
    assert_eq!(stored.answered_by.as_deref(), Some("UAPPROVER"));
}

#[tokio::test]
async fn nobody_but_an_approver_answers_a_request() {
    let world = World::new();
    world.run(&command("UJANE", "request")).await;
    let id = world.request_id();
    // Jane approves her own request; Bob, an admin too: refused, nothing given
    for user in ["UJANE", "UBOB", "UADMIN1"] {
        world.run(&click(user, "approve", &id)).await;
        assert!(
            world
                .last_text()
                .contains("only the approvers of this unit answer its requests"),
            "{user}: {}",
            world.last_text()
        );
    }
    // from another workspace (a shared channel), refused before anything is read
    let foreign = post(&world, &click_in("T2", "UAPPROVER", "approve", &id)).await;
    assert!(foreign.later.is_none());
    assert!(text(&foreign.body).contains("its own Slack workspace"));
    for account in [POOL_1, POOL_2] {
        assert!(!world.tags(account).contains_key("account-holder"));
    }
    // the approver denies: Jane is told, the approver's message says so
    world.run(&click("UAPPROVER", "deny", &id)).await;
    assert!(world.last_text().contains("<@UAPPROVER> denied request"));
    let told = world.messages_to("UJANE");
    assert_eq!(told.len(), 1);
    assert!(text(&told[0]).contains("denied your request"));
    // and a late approve is refused: the request was denied
    world.platform.clock.advance(TimeDelta::seconds(30));
    world.run(&click("UAPPROVER", "approve", &id)).await;
    assert!(
        world
            .last_text()
            .contains("this request was denied already"),
        "{}",
        world.last_text()
    );
    for account in [POOL_1, POOL_2] {
        assert!(!world.tags(account).contains_key("account-holder"));
    }
}

#[tokio::test]
async fn a_request_expires_unanswered() {
    let world = World::new();
    world.run(&command("UJANE", "request")).await;
    let id = world.request_id();
    world.platform.clock.advance(TimeDelta::hours(25));
    world.run(&click("UAPPROVER", "approve", &id)).await;
    assert!(
        world
            .last_text()
            .contains("this request expired at 2026-12-07 10:00 UTC"),
        "{}",
        world.last_text()
    );
    assert!(!world.tags(POOL_1).contains_key("account-holder"));
    // the sweeper's pass while Slack is down: nothing marked, nothing lost
    let engine = Engine::new(&world.platform, &world.settings)
        .unwrap()
        .with_retry(spa_usecases::Retry::immediate(1));
    world.platform.webhooks.faults.fail(
        "post_message",
        spa_usecases::ports::PortError::Unavailable {
            service: "slack".into(),
            message: "down".into(),
        },
        1,
    );
    assert_eq!(
        spa_usecases::requests::expire_due(&engine).await.unwrap(),
        0
    );
    assert!(world.messages_to("UJANE").is_empty());
    // the next pass: Jane is told, once
    assert_eq!(
        spa_usecases::requests::expire_due(&engine).await.unwrap(),
        1
    );
    assert_eq!(
        spa_usecases::requests::expire_due(&engine).await.unwrap(),
        0
    );
    let told = world.messages_to("UJANE");
    assert_eq!(told.len(), 1);
    assert!(text(&told[0]).contains("it expired"), "{}", text(&told[0]));
    let stored = world.platform.store.request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "expired");
    world.platform.clock.advance(TimeDelta::seconds(30));
    world.run(&click("UAPPROVER", "approve", &id)).await;
    assert!(
        world
            .last_text()
            .contains("this request was expired already"),
        "{}",
        world.last_text()
    );
}

#[tokio::test]
async fn a_forged_or_replayed_click_is_refused() {
    let world = World::new();
    world.run(&command("UJANE", "request")).await;
    let id = world.request_id();
    let body = click("UAPPROVER", "approve", &id);
    // signed with another secret (a holder who knows the URL): 401
    let timestamp = now().timestamp().to_string();
    let engine = Engine::new(&world.platform, &world.settings).unwrap();
    let forged = sign(b"not-the-secret", &timestamp, body.as_bytes());
    let answer = on_slash_command(
        &engine,
        &world.users,
        &SlackOptions::default(),
        &SlashRequest {
            timestamp: Some(&timestamp),
            signature: Some(&forged),
            body: body.as_bytes(),
        },
    )
    .await;
    assert_eq!(answer.status, 401);
    // Slack's own request sent twice: the second is a replay
    let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    let request = SlashRequest {
        timestamp: Some(&timestamp),
        signature: Some(&signature),
        body: body.as_bytes(),
    };
    let first = on_slash_command(&engine, &world.users, &SlackOptions::default(), &request).await;
    assert_eq!(first.status, 200);
    let again = on_slash_command(&engine, &world.users, &SlackOptions::default(), &request).await;
    assert_eq!(again.status, 401);
    // a button that is not spa's, or a value that is not what it expects: 400
    for body in [
        click("UAPPROVER", "delete_everything", POOL_1),
        click("UAPPROVER", "approve", POOL_1),
        click("UAPPROVER", "unfreeze", "r-1-ab"),
    ] {
        assert_eq!(post(&world, &body).await.status, 400, "{body}");
    }
}

#[tokio::test]
async fn without_approvers_a_request_is_granted_at_once_once_per_person() {
    let settings = SETTINGS.replace("      approvers: [UAPPROVER]\n", "");
    let world = World::with(&settings);
    world.run(&command("UJANE", "request 7d")).await;
    let shown = world.last_text();
    assert!(shown.contains(&format!("({POOL_1}) is yours")), "{shown}");
    assert!(shown.contains("lease ends 2026-12-13 10:00 UTC"), "{shown}");
    let tags = world.tags(POOL_1);
    assert_eq!(tags["account-holder"], "jane.doe@example.com");
    assert_eq!(tags["account-lease-until"], "2026-12-13T10:00:00Z");
    // Jane asks again: she holds one, the unit gives one a person
    world.run(&command("UJANE", "request")).await;
    assert!(
        world
            .last_text()
            .contains("You hold 1 sandbox account already"),
        "{}",
        world.last_text()
    );
    assert!(!world.tags(POOL_2).contains_key("account-holder"));
    // a lease longer than the unit's is refused
    world.run(&command("UADMIN1", "request 60d")).await;
    assert!(
        world.last_text().contains("lent for 30d at most"),
        "{}",
        world.last_text()
    );
    // the pool runs dry
    world.run(&command("UAPPROVER", "request")).await;
    assert!(world.last_text().contains(&format!("({POOL_2}) is yours")));
    world.run(&command("UADMIN1", "request")).await;
    assert!(
        world
            .last_text()
            .contains("No sandbox account is free right now"),
        "{}",
        world.last_text()
    );
}

#[tokio::test]
async fn requests_closed_everywhere_are_said_so() {
    let settings = SETTINGS.replace("      feature: enabled\n", "      feature: disabled\n");
    let world = World::with(&settings);
    world.run(&command("UJANE", "request")).await;
    assert!(
        world
            .last_text()
            .contains("no unit of spa's settings opens requests")
    );
}

#[tokio::test]
async fn a_holder_extends_their_lease_within_the_settings_and_nobody_else_may() {
    let world = World::new();
    // Bob holds HELD since 2026-12-01: 30 days of lease, 14 more at most
    world
        .run(&command("UBOB", &format!("extend {HELD} 7d")))
        .await;
    assert!(
        world.last_text().contains("now ends 2027-01-07 00:00 UTC"),
        "{}",
        world.last_text()
    );
    assert_eq!(
        world.tags(HELD)["account-lease-until"],
        "2027-01-07T00:00:00Z"
    );
    // the button goes to the furthest allowed
    world.run(&click("UBOB", "extend", HELD)).await;
    assert!(
        world.last_text().contains("now ends 2027-01-14 00:00 UTC"),
        "{}",
        world.last_text()
    );
    // further is refused, with the limit
    world
        .run(&command("UBOB", &format!("extend {HELD} 1d")))
        .await;
    assert!(
        world
            .last_text()
            .contains("may end at 2027-01-14T00:00:00Z at the latest"),
        "{}",
        world.last_text()
    );
    // Jane may not extend Bob's: refused as if it did not exist
    world.run(&click("UJANE", "extend", HELD)).await;
    assert!(
        world
            .last_text()
            .contains("You can ask only about accounts you hold")
    );
    assert_eq!(
        world.tags(HELD)["account-lease-until"],
        "2027-01-14T00:00:00Z"
    );
}

#[tokio::test]
async fn only_an_admin_unfreezes_with_the_button() {
    let world = World::new();
    let engine = Engine::new(&world.platform, &world.settings).unwrap();
    let frozen = engine
        .apply(
            "test/freeze",
            &spa_core::events::AccountId::parse(HELD).unwrap(),
            spa_core::lifecycle::Trigger::new(
                now(),
                spa_core::lifecycle::TriggerKind::Freeze {
                    reason: "4 p4d.24xlarge".into(),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(frozen.verdict, Verdict::Applied);
    // the holder clicks the button of the notice: refused
    world.run(&click("UBOB", "unfreeze", HELD)).await;
    assert!(
        world.last_text().contains("Only spa's admins"),
        "{}",
        world.last_text()
    );
    assert_eq!(world.tags(HELD)["account-state"], "frozen");
    // an admin: back to assigned
    world.run(&click("UADMIN1", "unfreeze", HELD)).await;
    assert!(
        world
            .last_text()
            .contains("<@UADMIN1> unfroze account 333333333333: it is assigned again"),
        "{}",
        world.last_text()
    );
    assert_eq!(world.tags(HELD)["account-state"], "assigned");
}

/// Runs `job` as the `commands` function does, on this thread, dying before step
/// `at`: the steps taken, or the crash.
fn run_job(
    world: &World,
    job: &spa_core::events::AccountCommand,
    at: Option<usize>,
) -> Result<usize, spa_usecases::ports::memory::crash::Crash> {
    use spa_usecases::ports::memory::crash;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    crash::arm(at);
    let engine = Engine::new(&world.platform, &world.settings).unwrap();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(spa_usecases::on_command(&engine, job))
    }));
    let steps = crash::disarm();
    match run {
        Ok(Ok(_)) => Ok(steps),
        Ok(Err(error)) => panic!("the job failed: {error}"),
        Err(payload) => match payload.downcast::<crash::Crash>() {
            Ok(crash) => Err(*crash),
            Err(other) => std::panic::resume_unwind(other),
        },
    }
}

/// A world where Jane asked and the approver clicked Approve: the job of the click.
fn approved_click() -> (World, spa_core::events::AccountCommand) {
    let world = World::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let job = runtime.block_on(async {
        world.run(&command("UJANE", "request")).await;
        let id = world.request_id();
        post(&world, &click("UAPPROVER", "approve", &id))
            .await
            .later
            .expect("a job")
    });
    (world, job)
}

#[test]
fn an_approval_killed_at_any_step_gives_one_account_once() {
    let (reference, job) = approved_click();
    let steps = run_job(&reference, &job, None).expect("no crash armed");
    assert!(steps > 5, "{steps} steps");
    let expected = reference.tags(POOL_1);
    assert_eq!(expected["account-holder"], "jane.doe@example.com");
    let mut crashed_before = std::collections::BTreeSet::new();
    for at in 0..steps {
        let (world, job) = approved_click();
        let crash = run_job(&world, &job, Some(at)).expect_err("crashed");
        crashed_before.insert(crash.before);
        // the queue delivers the job again once its lease ran out
        world.platform.clock.advance(TimeDelta::minutes(20));
        run_job(&world, &job, None).expect("delivered again");
        let mut tags = world.tags(POOL_1);
        let mut want = expected.clone();
        // the assignment happened at the time of whichever delivery made it
        for key in ["account-since", "account-assigned-since"] {
            tags.remove(key);
            want.remove(key);
        }
        assert_eq!(tags, want, "crash before step {at} ({})", crash.before);
        assert!(
            !world.tags(POOL_2).contains_key("account-holder"),
            "crash before step {at} ({}): a second account was given",
            crash.before
        );
        // Jane is told, at most twice (a crash between the message and its record)
        let told = world.messages_to("UJANE").len();
        assert!(
            (1..=2).contains(&told),
            "crash before step {at} ({}): told {told} times",
            crash.before
        );
        if crash.before != "complete" {
            assert_eq!(told, 1, "crash before step {at} ({})", crash.before);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let id = world.request_id();
        let stored = runtime
            .block_on(world.platform.store.request(&id))
            .unwrap()
            .unwrap();
        assert_eq!(stored.status.as_str(), "granted", "crash before step {at}");
    }
    for step in ["update_request", "change_tags", "post_message", "claim"] {
        assert!(
            crashed_before.contains(step),
            "{step} was never a crash point: {crashed_before:?}"
        );
    }
}

#[tokio::test]
async fn a_holder_snoozes_the_next_purge_once_from_slack_and_nobody_else_may() {
    let settings = SETTINGS.replace(
        "    lease_extension: 14d\n",
        "    lease_extension: 14d\n    purge_notice:\n      before: 1d\n      snooze: 3d\n",
    );
    let world = World::with(&settings);
    // Jane is not the holder of Bob's account: refused, nothing written
    world
        .run(&command("UJANE", &format!("snooze {HELD}")))
        .await;
    assert!(
        world.last_text().contains("was not snoozed"),
        "{}",
        world.last_text()
    );
    assert!(!world.tags(HELD).contains_key("account-snoozed-until"));
    // Bob clicks Snooze: the Saturday window's purge goes 3 days later
    world.run(&click("UBOB", "snooze", HELD)).await;
    assert!(
        world
            .last_text()
            .contains("planned 2026-12-12 18:00 UTC is put off until 2026-12-15 18:00 UTC"),
        "{}",
        world.last_text()
    );
    assert_eq!(
        world.tags(HELD)["account-snoozed-until"],
        "2026-12-15T18:00:00Z"
    );
    // once per purge
    world.platform.clock.advance(TimeDelta::seconds(30));
    world
        .run(&command("UBOB", &format!("snooze {HELD} 1d")))
        .await;
    assert!(
        world.last_text().contains("was not snoozed"),
        "{}",
        world.last_text()
    );
    assert_eq!(
        world.tags(HELD)["account-snoozed-until"],
        "2026-12-15T18:00:00Z"
    );
}
