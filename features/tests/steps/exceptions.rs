//! Steps of `exceptions.feature`: the scenarios of `accounts.feature`'s world, with
//! notifications set up: chat webhooks on a local HTTP server that records what it
//! receives (their URLs kept in SSM and Secrets Manager on the emulator), e-mail
//! through the emulator's SES (read back from its model dump), budgets and their
//! alerts through each member's topic and the central queue.

use chrono::Utc;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::Value;
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_core::events::Label;
use spa_core::rules::Function;
use spa_core::settings::Settings;
use spa_usecases::ports::{Logins, Platform};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::SpaWorld;
use super::accounts::Live;

/// The notifications of the scenarios' settings; the routes follow, indented.
pub const NOTIFICATIONS: &str = "\
notifications:
  slack_webhook: ssm:/spa-features/slack-webhook
  teams_webhook: secretsmanager:spa-features/teams-webhook
  email_sender: spa@example.com
  email_recipients: [sre@example.com]
  routes:
";

/// Starts the chat recorder (Slack answers 200 `ok`, Teams 202, as they do) and keeps
/// its URLs where the settings say.
pub async fn chat(config: &AwsConfig, settings: &Settings) -> MockServer {
    let server = MockServer::start().await;
    answer(&server, 200).await;
    let references = [
        (settings.notifications.slack_webhook.as_ref(), "slack"),
        (settings.notifications.teams_webhook.as_ref(), "teams"),
    ];
    for (reference, channel) in references {
        let Some(reference) = reference else { continue };
        let url = format!("{}/{channel}", server.uri());
        spa_aws::secrets::store_secret(config, reference.as_str(), &url)
            .await
            .unwrap_or_else(|e| panic!("the {channel} webhook could not be stored: {e}"));
    }
    server
}

/// Slack answers `slack` (200 `ok` when it works), Teams 202.
async fn answer(server: &MockServer, slack: u16) {
    server.reset().await;
    let body = if slack == 200 { "ok" } else { "server_error" };
    Mock::given(method("POST"))
        .and(path("/slack"))
        .respond_with(ResponseTemplate::new(slack).set_body_string(body))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/teams"))
        .respond_with(ResponseTemplate::new(202))
        .mount(server)
        .await;
}

impl Live {
    fn recorder(&self) -> &MockServer {
        self.chat
            .as_ref()
            .unwrap_or_else(|| panic!("this scenario has no chat webhooks"))
    }

    /// The bodies the recorder received on `channel`.
    async fn received(&self, channel: &str) -> Vec<Value> {
        let requests = self
            .recorder()
            .received_requests()
            .await
            .unwrap_or_default();
        requests
            .iter()
            .filter(|r| r.url.path() == format!("/{channel}"))
            .map(|r| {
                serde_json::from_slice(&r.body)
                    .unwrap_or_else(|e| panic!("{channel} received a body that is not JSON: {e}"))
            })
            .collect()
    }

    /// What the emulator's SES sent: (destinations, subject).
    pub(super) async fn mail(&self) -> Vec<(Vec<String>, String)> {
        let url = format!("{}/moto-api/data.json", self._moto.endpoint());
        let data: Value = reqwest::get(&url)
            .await
            .unwrap_or_else(|e| panic!("moto's model dump could not be read: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("moto's model dump is not JSON: {e}"));
        let messages = data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        messages
            .iter()
            .map(|m| {
                let to = m["destinations"]["ToAddresses"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                (to, m["subject"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }

    /// A Budgets-worded alert published on the member's topic, received from the
    /// central queue, and handed to the `budget-alerts` function as Lambda would.
    async fn budget_alert(&mut self, name: &str, spent: &str, budgeted: &str, twice: bool) {
        self.budget_alert_on(name, name, spent, budgeted, twice)
            .await;
    }

    /// A Budgets-worded alert naming the account `named`, published on the budget
    /// alerts topic of `owner` by `owner`'s member role (a holder may publish on their
    /// own topic), received from the central queue and handed to `budget-alerts`.
    async fn budget_alert_on(
        &mut self,
        owner: &str,
        named: &str,
        spent: &str,
        budgeted: &str,
        twice: bool,
    ) {
        let account = self.id(owner);
        let named = self.id(named);
        let member = self
            .runtime
            .inner()
            .member_config(&account)
            .await
            .unwrap_or_else(|e| panic!("the member role of `{owner}` could not be assumed: {e}"));
        let member = AwsConfig::from_sdk(&member, ApiCalls::new());
        let environment = self.settings.environment_identifier.clone();
        let region = self.settings.automation.region.as_str().to_owned();
        let topic =
            spa_core::footprint::member_budget_topic_arn("aws", &region, &account, &environment);
        let budget = format!("{environment}-Budget");
        let (subject, message) = spa_local::synth::budget_alert_message(
            &named,
            &budget,
            "80.00",
            spent,
            budgeted,
            Utc::now(),
        );
        spa_aws::sns::publish(&member, &topic, &subject, &message)
            .await
            .unwrap_or_else(|e| panic!("the alert could not be published on {topic}: {e}"));
        let automation = self.runtime.inner().automation().clone();
        let (url, arn) = (
            self.resources.budget_alerts_queue_url.clone(),
            self.resources.budget_alerts_queue_arn.clone(),
        );
        let event = spa_aws::sqs::receive_as_lambda_event(&automation, &url, &arn)
            .await
            .unwrap_or_else(|e| panic!("the budget alerts queue could not be read: {e}"))
            .unwrap_or_else(|| panic!("no alert reached the budget alerts queue from {topic}"));
        if twice {
            self.runtime
                .deliver(Function::BudgetAlerts, event.clone(), "budget alert");
        }
        self.runtime
            .deliver(Function::BudgetAlerts, event, "budget alert");
        self.run().await;
    }
}

fn mentions(body: &Value, words: &[&str]) -> bool {
    let text = body.to_string();
    words.iter().all(|w| text.contains(w))
}

// ---------------------------------------------------------------------------- given

#[given("chat webhooks that record what they receive")]
fn chat_webhooks(world: &mut SpaWorld) {
    world.emulated.chat = true;
}

#[given("the notification routes:")]
fn routes(world: &mut SpaWorld, step: &Step) {
    world.emulated.routes = Some(super::docstring(step));
}

#[given(regex = r"^the Slack webhook answers (\d{3})$")]
async fn slack_answers(world: &mut SpaWorld, status: u16, step: &Step) {
    let live = world.acting(step).await;
    answer(live.recorder(), status).await;
}

// ----------------------------------------------------------------------------- when

#[when(
    regex = r#"^AWS Budgets notifies that "([^"]+)" spent ([\d.]+) USD of its ([\d.]+) USD budget, over 80%(, twice)?$"#
)]
async fn budgets_notify(
    world: &mut SpaWorld,
    name: String,
    spent: String,
    budgeted: String,
    twice: String,
    step: &Step,
) {
    let live = world.acting(step).await;
    live.budget_alert(&name, &spent, &budgeted, !twice.is_empty())
        .await;
}

#[when(
    regex = r#"^the budget alerts queue delivers a message that is not a budget alert, then an alert for "([^"]+)"$"#
)]
async fn garbage_then_alert(world: &mut SpaWorld, name: String, step: &Step) {
    let live = world.acting(step).await;
    let garbage = serde_json::json!({ "Records": [{
        "messageId": "not-a-budget-alert",
        "receiptHandle": "local",
        "body": "this is not a notification",
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": live.resources.budget_alerts_queue_arn,
        "awsRegion": "eu-west-1",
    }]});
    let settings = live.settings.clone();
    let handler = spa_local::LocalHandler::new(&settings);
    let engine_result = {
        use spa_local::Handler;
        handler
            .handle(live.runtime.platform(), Function::BudgetAlerts, &garbage)
            .await
    };
    live.timeline
        .push(format!("budget-alerts garbage: {engine_result:?}"));
    live.garbage = Some(engine_result);
    live.budget_alert(&name, "85.20", "100.00", false).await;
}

#[when(regex = r#"^the root user signs in to "([^"]+)"$"#)]
async fn root_signs_in(world: &mut SpaWorld, name: String, step: &Step) {
    let live = world.acting(step).await;
    let event = sign_in(live, &name, "signin-console-login-root.json");
    live.inject(event, format!("root signs in to {name}"));
    live.run().await;
}

#[when(regex = r#"^a person signs in to "([^"]+)" through SSO$"#)]
async fn person_signs_in(world: &mut SpaWorld, name: String, step: &Step) {
    let live = world.acting(step).await;
    let event = sign_in(live, &name, "signin-console-login-assumed-role.json");
    live.inject(event, format!("a person signs in to {name}"));
    live.run().await;
}

/// A sign-in fixture, made this scenario's: the account, a new id, now.
fn sign_in(live: &mut Live, name: &str, file: &str) -> Value {
    live.member_fixture(file, name, name)
}

// ----------------------------------------------------------------------------- then

#[then(regex = r#"^the budget of "([^"]+)" is (\d+) USD with alerts at (\d+)% and (\d+)%$"#)]
async fn budget_is(world: &mut SpaWorld, name: String, amount: f64, low: f64, high: f64) {
    let live = world.checking().await;
    let plan = read_budget(live, &name).await;
    assert_eq!(plan.amount, amount, "{plan:?}");
    assert_eq!(plan.currency, "USD", "{plan:?}");
    assert_eq!(plan.thresholds, vec![low, high], "{plan:?}");
}

#[then(regex = r#"^the budget alerts of "([^"]+)" go to its own topic and to "([^"]+)"$"#)]
async fn budget_alerts_go(world: &mut SpaWorld, name: String, holder: String) {
    let live = world.checking().await;
    let plan = read_budget(live, &name).await;
    let account = live.id(&name);
    assert!(
        plan.topic_arn.ends_with(&format!(
            ":{account}:{}-BudgetAlerts",
            live.settings.environment_identifier
        )),
        "{plan:?}"
    );
    assert_eq!(plan.emails, vec![holder], "{plan:?}");
}

async fn read_budget(live: &Live, name: &str) -> spa_usecases::ports::BudgetPlan {
    let account = live.id(name);
    let budget = format!("{}-Budget", live.settings.environment_identifier);
    spa_aws::budgets::read_budget(live.runtime.platform().budgets(), &account, &budget)
        .await
        .unwrap_or_else(|e| panic!("the budget of `{name}` could not be read: {e}"))
        .unwrap_or_else(|| panic!("`{name}` has no budget `{budget}`"))
}

#[then(regex = r#"^Slack received (\d+) messages? about "([^"]+)" that says? "([A-Za-z]+)"$"#)]
async fn slack_received(world: &mut SpaWorld, count: usize, name: String, label: String) {
    let live = world.checking().await;
    check_channel(live, "slack", count, &name, &label).await;
}

#[then(regex = r#"^Teams received (\d+) cards? about "([^"]+)" that says? "([A-Za-z]+)"$"#)]
async fn teams_received(world: &mut SpaWorld, count: usize, name: String, label: String) {
    let live = world.checking().await;
    check_channel(live, "teams", count, &name, &label).await;
}

async fn check_channel(live: &Live, channel: &str, count: usize, name: &str, label: &str) {
    let account = live.id(name);
    let label: Label = label
        .parse()
        .unwrap_or_else(|_| panic!("`{label}` is not a label"));
    let bodies = live.received(channel).await;
    let about: Vec<&Value> = bodies
        .iter()
        .filter(|b| mentions(b, &[account.as_str(), label.as_str()]))
        .collect();
    assert_eq!(
        about.len(),
        count,
        "{channel} received {} message(s), {} about {label} of {name}: {bodies:#?}\ntimeline:\n{}",
        bodies.len(),
        about.len(),
        live.timeline.join("\n")
    );
    if channel == "teams" {
        for body in about {
            assert_eq!(
                body["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive",
                "a Workflows message with an Adaptive Card"
            );
        }
    } else {
        for body in about {
            assert!(body["blocks"].is_array(), "Block Kit: {body}");
        }
    }
}

#[then("Slack received no message")]
async fn slack_nothing(world: &mut SpaWorld) {
    let live = world.checking().await;
    let bodies = live.received("slack").await;
    assert!(bodies.is_empty(), "{bodies:#?}");
}

#[then(regex = r"^Slack was tried (\d+) times$")]
async fn slack_tried(world: &mut SpaWorld, count: usize) {
    let live = world.checking().await;
    assert_eq!(live.received("slack").await.len(), count);
}

#[then(regex = r#"^an e-mail about "([A-Za-z]+)" was sent to "([^"]+)"$"#)]
async fn mailed(world: &mut SpaWorld, label: String, to: String) {
    let live = world.checking().await;
    let mail = live.mail().await;
    let found = mail
        .iter()
        .any(|(destinations, subject)| destinations.contains(&to) && subject.contains(&label));
    assert!(found, "no e-mail about {label} to {to}: {mail:#?}");
}

#[then(regex = r#"^"([^"]+)" was told by e-mail$"#)]
async fn holder_mailed(world: &mut SpaWorld, name: String) {
    let live = world.checking().await;
    let account = live.id(&name);
    let holder = live
        .tags(&name)
        .await
        .get("account-holder")
        .cloned()
        .unwrap_or_else(|| panic!("`{name}` has no holder"));
    let mail = live.mail().await;
    let found = mail.iter().any(|(destinations, subject)| {
        destinations.contains(&holder) && subject.contains(account.as_str())
    });
    assert!(found, "no e-mail to the holder of {name}: {mail:#?}");
}

#[when(
    regex = r#"^the holder of "([^"]+)" publishes on their own budget alerts topic an alert that names "([^"]+)"$"#
)]
async fn holder_publishes_alert(world: &mut SpaWorld, owner: String, named: String, step: &Step) {
    let live = world.acting(step).await;
    live.budget_alert_on(&owner, &named, "85.20", "100.00", false)
        .await;
}

#[when(
    regex = r#"^the holder of "([^"]+)" puts on spa's bus an event saying that "([^"]+)" was quarantined$"#
)]
async fn holder_puts_spa_event(world: &mut SpaWorld, sender: String, about: String, step: &Step) {
    let live = world.acting(step).await;
    let (sender, about) = (live.id(&sender), live.id(&about));
    // what a member account's PutEvents on spa's bus delivers: EventBridge writes the
    // sending account in `account`, whatever the detail says
    let event = serde_json::json!({
        "version": "0", "id": format!("forged-{}", live.sequence), "detail-type": "AccountQuarantined",
        "source": "spa", "account": sender.as_str(), "time": Utc::now().to_rfc3339(),
        "region": live.settings.automation.region.as_str(), "resources": [],
        "detail": {"label": "AccountQuarantined", "environment": live.settings.environment_identifier,
                   "account": about.as_str(), "at": Utc::now().to_rfc3339(),
                   "to_state": "quarantined", "reason": "compromised"},
    });
    live.routed = Some(
        live.runtime
            .inject(event.clone(), "spa event put by a member account"),
    );
    // and as if a rule had let it through: the function checks the sender itself
    live.runtime.deliver(
        Function::Exceptions,
        event,
        "spa event put by a member account",
    );
    live.run().await;
}

#[when(
    regex = r#"^the holder of "([^"]+)" forwards an Organizations event saying that "([^"]+)" was closed$"#
)]
async fn holder_forwards_organizations_event(
    world: &mut SpaWorld,
    sender: String,
    about: String,
    step: &Step,
) {
    let live = world.acting(step).await;
    let (sender, about) = (live.id(&sender), live.id(&about));
    // a rule on the member's default bus targets spa's bus with a CloudTrail record of
    // the member's own: EventBridge writes the member in `account`
    let mut event = live.fixture(
        "organizations-close-account.json",
        serde_json::json!({ "accountId": about.as_str() }),
    );
    event["account"] = Value::String(sender.as_str().to_owned());
    event["detail"]["recipientAccountId"] = Value::String(sender.as_str().to_owned());
    live.runtime.deliver(
        Function::AccountEvents,
        event,
        "Organizations event forwarded by a member account",
    );
    live.run().await;
}

#[then("the bus routes it nowhere")]
async fn routed_nowhere(world: &mut SpaWorld) {
    let live = world.checking().await;
    assert_eq!(
        live.routed,
        Some(0),
        "the rule for spa's own events matched a member account's"
    );
}

#[then(regex = r#"^the message is refused, not retried, because "(.+)"$"#)]
async fn message_refused(world: &mut SpaWorld, why: String) {
    let live = world.checking().await;
    // `{name}` is the account of that name, `{automation}` the automation account,
    // `{management}` the management account
    let management = live
        .settings
        .automation
        .management_role_arn
        .account()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let mut why = why
        .replace("{automation}", live.settings.automation.account_id.as_str())
        .replace("{management}", &management);
    for (name, account) in &live.accounts {
        why = why.replace(&format!("{{{name}}}"), account.as_str());
    }
    let refusal = format!("refused: {why}");
    let answer = live
        .timeline
        .iter()
        .find(|line| line.contains(&refusal))
        .unwrap_or_else(|| {
            panic!(
                "no delivery answered `{refusal}`\ntimeline:\n{}",
                live.timeline.join("\n")
            )
        });
    // acknowledged: neither retried by SQS or Lambda nor kept in a dead-letter queue
    assert!(
        !answer.contains("to retry") && !answer.contains("FAILED"),
        "{answer}"
    );
}

#[then(regex = r#"^the last sign-in of "([^"]+)" is recorded$"#)]
async fn last_sign_in(world: &mut SpaWorld, name: String) {
    let live = world.checking().await;
    let account = live.id(&name);
    let logins = live
        .runtime
        .platform()
        .store()
        .last_logins()
        .await
        .unwrap_or_else(|e| panic!("the last sign-ins could not be read: {e}"));
    assert!(logins.contains_key(&account), "{logins:?}");
}
