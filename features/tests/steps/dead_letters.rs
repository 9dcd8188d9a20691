//! Steps of `dead_letters.feature`: a command that fails every delivery, its
//! dead-letter queue, and the `dead-letters` function, on the in-memory platform. The
//! queues are played here as SQS plays them: a record reported failed comes back,
//! after `maxReceiveCount` receives it moves to the dead-letter queue with its body
//! and message id; the dead-letter queue keeps what the function reports failed.

use chrono::{DateTime, TimeZone, Utc};
use cucumber::{given, then, when};
use serde_json::{Value, json};
use spa_aws::sqs::MAX_RECEIVES;
use spa_core::events::{AccountCommand, AccountId, Action, Label};
use spa_core::rules::Function;
use spa_core::settings::{MemorySources, Settings, load};
use spa_usecases::ports::PortError;
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::{Engine, Retry, handle};

use super::SpaWorld;

const SETTINGS: &str = "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
reporting:
  bucket: spa-test-reports
features:
  incident_manager: true
organizational_units:
  - identifier: ou-ab12-sandbox1
";

const QUEUE_ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:SpaTest-commands";

/// What a dead-letters scenario builds up.
#[derive(Debug, Default)]
pub struct DeadLetters {
    platform: Option<MemoryPlatform>,
    /// The message of the command queue, while it is there.
    queued: Option<Value>,
    /// The records of the dead-letter queue.
    dead_letter_queue: Vec<Value>,
    /// The message as sent.
    body: String,
    /// The archive key of the last dead letter handled.
    archive: Option<String>,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn settings() -> Settings {
    load("settings.yaml", SETTINGS, &MemorySources::new())
        .map(|l| l.settings)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn account(text: &str) -> AccountId {
    AccountId::parse(text).unwrap_or_else(|| panic!("`{text}` is not an account id"))
}

fn unavailable(service: &str) -> PortError {
    PortError::Unavailable {
        service: service.into(),
        message: "down".into(),
    }
}

impl DeadLetters {
    fn platform(&self) -> &MemoryPlatform {
        self.platform
            .as_ref()
            .unwrap_or_else(|| panic!("no account was given"))
    }

    /// Hands `event` to `function` as its trigger would; the records reported failed.
    async fn deliver(&self, function: Function, event: &Value) -> Result<Vec<String>, String> {
        let settings = settings();
        let engine = Engine::new(self.platform(), &settings)
            .map_err(|e| e.to_string())?
            .with_retry(Retry::immediate(2));
        let handled = handle(&engine, Some(function), event)
            .await
            .map_err(|e| e.to_string())?;
        Ok(handled.dispatched.batch_item_failures)
    }

    fn dead_letters(&self) -> Vec<spa_usecases::ports::Activity> {
        self.platform()
            .store
            .recorded()
            .into_iter()
            .filter(|a| a.label == Label::DeadLetter)
            .collect()
    }

    async fn receive_dead_letters(&mut self) {
        let records = std::mem::take(&mut self.dead_letter_queue);
        if records.is_empty() {
            return;
        }
        let failed = self
            .deliver(Function::DeadLetters, &json!({ "Records": records }))
            .await
            .unwrap_or_else(|e| panic!("the dead-letters function failed whole: {e}"));
        self.dead_letter_queue = records
            .into_iter()
            .filter(|r| failed.iter().any(|id| r["messageId"] == id.as_str()))
            .collect();
    }
}

#[given(expr = "the assigned account {string} of {string}")]
fn assigned_account(world: &mut SpaWorld, id: String, holder: String) {
    let organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_account(&id, "jane-sandbox", "ou-ab12-sandbox1")
        .with_tags(
            &id,
            &[
                ("account-state", "assigned"),
                ("account-since", "2026-11-01T08:00:00Z"),
                ("account-holder", holder.as_str()),
            ],
        );
    world.dead.platform = Some(MemoryPlatform::new(organization, now()));
}

#[given("Organizations cannot be reached")]
fn organizations_down(world: &mut SpaWorld) {
    world
        .dead
        .platform()
        .organization
        .faults
        .fail("tags", unavailable("organizations"), 1_000);
}

#[given("Organizations is back")]
async fn organizations_back(world: &mut SpaWorld) {
    use spa_usecases::ports::Organization;
    let organization = &world.dead.platform().organization;
    let any = account("111111111111");
    while organization.faults.pending() > 0 {
        let _ = organization.tags(&any).await;
    }
}

#[given("the reports bucket cannot be written")]
fn bucket_down(world: &mut SpaWorld) {
    world
        .dead
        .platform()
        .objects
        .faults
        .fail("put", unavailable("s3"), 1_000);
}

#[given("the reports bucket is back")]
async fn bucket_back(world: &mut SpaWorld) {
    use spa_usecases::ports::Objects;
    let objects = &world.dead.platform().objects;
    while objects.faults.pending() > 0 {
        let _ = objects.put("drain", Vec::new(), "text/plain").await;
    }
}

#[when(expr = "the operator expires {string} through the command queue")]
fn expire_through_the_queue(world: &mut SpaWorld, id: String) {
    let command = AccountCommand::new(
        "operator-1",
        "SpaTest",
        account(&id),
        Action::Expire,
        now(),
        "operator",
    );
    world.dead.body = command.to_json();
    world.dead.queued = Some(json!({
        "messageId": "0b9e4c1e-5f0e-4c57-9d3c-000000000001",
        "receiptHandle": "AQEB",
        "body": world.dead.body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now().timestamp_millis().to_string()},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "eu-west-1",
    }));
}

#[then(expr = "the command fails all {int} receives and moves to {string}")]
async fn fails_every_receive(world: &mut SpaWorld, receives: u32, queue: String) {
    assert_eq!(receives, MAX_RECEIVES, "the queue's maxReceiveCount");
    let record = world
        .dead
        .queued
        .take()
        .unwrap_or_else(|| panic!("no command was sent"));
    let event = json!({ "Records": [record.clone()] });
    for receive in 1..=receives {
        let failed = world
            .dead
            .deliver(Function::Commands, &event)
            .await
            .unwrap_or_else(|e| panic!("receive {receive} failed whole: {e}"));
        assert_eq!(
            failed,
            [record["messageId"].as_str().unwrap_or_default()],
            "receive {receive} reports the command failed"
        );
    }
    // SQS moves it, body and message id kept, to the queue's dead-letter queue
    let mut moved = record;
    moved["eventSourceARN"] = json!(format!("arn:aws:sqs:eu-west-1:123456789012:{queue}"));
    world.dead.dead_letter_queue.push(moved);
    assert!(world.dead.dead_letters().is_empty(), "nothing raised yet");
}

#[when("the dead-letters function receives the dead-letter queue")]
async fn receive_once(world: &mut SpaWorld) {
    world.dead.receive_dead_letters().await;
}

#[when("the dead-letters function receives the dead-letter queue twice")]
async fn receive_twice(world: &mut SpaWorld) {
    // the first receive's deletion lost: the same record comes back
    let records = world.dead.dead_letter_queue.clone();
    world.dead.receive_dead_letters().await;
    world.dead.dead_letter_queue = records;
    world.dead.receive_dead_letters().await;
}

#[then(expr = "the message is archived byte for byte under {string}")]
fn archived(world: &mut SpaWorld, prefix: String) {
    let keys = world.dead.platform().objects.keys();
    let key = keys
        .iter()
        .find(|k| k.starts_with(&prefix))
        .unwrap_or_else(|| panic!("nothing archived under {prefix}: {keys:?}"))
        .clone();
    assert!(key.ends_with(".json"), "{key}");
    let bytes = world
        .dead
        .platform()
        .objects
        .object(&key)
        .unwrap_or_default();
    assert_eq!(bytes, world.dead.body.as_bytes());
    world.dead.archive = Some(key);
}

#[then(expr = "a DeadLetter exception is raised for {string} naming {string} and the archive")]
fn raised_for(world: &mut SpaWorld, id: String, lost: String) {
    let raised = world.dead.dead_letters();
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0].account, account(&id));
    let detail = &raised[0].detail;
    assert!(detail.contains(&lost), "{detail}");
    let key = world.dead.archive.clone().unwrap_or_default();
    assert!(
        detail.contains(&format!("s3://spa-test-reports/{key}")),
        "{detail}"
    );
    assert!(
        !detail.contains("jane.doe@"),
        "an address in clear: {detail}"
    );
}

#[then(expr = "the exceptions function opens an incident for {string} titled {string}")]
async fn incident_opens(world: &mut SpaWorld, id: String, label: String) {
    let published = world.dead.platform().bus.published();
    let event = published
        .iter()
        .find(|e| e.label == Label::DeadLetter)
        .unwrap_or_else(|| panic!("no DeadLetter on the bus: {published:?}"));
    let delivered = event
        .to_entry()
        .delivered("e-dead-1", &account("123456789012"), "eu-west-1")
        .unwrap_or_else(|e| panic!("{e}"));
    world
        .dead
        .deliver(Function::Exceptions, &delivered)
        .await
        .unwrap_or_else(|e| panic!("the exceptions function failed: {e}"));
    let incidents = world.dead.platform().incidents.started();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let text = format!("{:?}", incidents[0]);
    assert!(text.contains(&id), "{text}");
    assert!(text.contains(&label), "{text}");
}

#[then("the dead-letter queue keeps nothing")]
fn queue_empty(world: &mut SpaWorld) {
    assert!(
        world.dead.dead_letter_queue.is_empty(),
        "{:#?}",
        world.dead.dead_letter_queue
    );
}

#[then("the dead-letter queue keeps the message")]
fn queue_keeps(world: &mut SpaWorld) {
    assert_eq!(world.dead.dead_letter_queue.len(), 1);
    assert!(world.dead.platform().objects.keys().is_empty());
}

#[when("the operator replays the archived message with spa handle")]
async fn replay(world: &mut SpaWorld) {
    let key = world.dead.archive.clone().unwrap_or_default();
    let bytes = world
        .dead
        .platform()
        .objects
        .object(&key)
        .unwrap_or_default();
    // what `spa handle <file>` reads: the file as archived
    let event: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let settings = settings();
    let engine = Engine::new(world.dead.platform(), &settings)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_retry(Retry::immediate(2));
    let handled = handle(&engine, None, &event)
        .await
        .unwrap_or_else(|e| panic!("the replay failed: {e}"));
    assert_eq!(handled.function, Function::Commands);
    assert!(handled.dispatched.batch_item_failures.is_empty());
}

#[then(expr = "{string} is expired as the operator asked")]
fn expired(world: &mut SpaWorld, id: String) {
    let labels = world.dead.platform().store.labels_for(&id);
    assert!(labels.contains(&Label::AccountExpired), "{labels:?}");
}

#[then(expr = "{int} DeadLetter exception(s) is/are raised in all")]
fn raised_in_all(world: &mut SpaWorld, count: usize) {
    assert_eq!(world.dead.dead_letters().len(), count);
}

#[then(expr = "{int} message is archived")]
fn archived_count(world: &mut SpaWorld, count: usize) {
    assert_eq!(world.dead.platform().objects.keys().len(), count);
}
