//! Steps of `accounts.feature`: the real engine on the emulator, through the local
//! runtime (the template is `engine/local/tests/local/local_runtime.rs`).
//!
//! `Given` steps describe the organization and the settings; the first step that
//! acts starts the scenario on the emulator ([`Emulated::live`]): it takes moto for
//! the scenario (reset, held until the scenario's `after` hook), seeds the units and
//! accounts, rewrites the settings to moto's ids and creates the engine's resources.
//! Every `When` step then feeds events as AWS would send them and lets the runtime
//! handle everything until idle (builds end SUCCEEDED at once in moto), or, when the
//! scenario reports the ends of builds itself, only what is pending.
//!
//! What a `Then` step checks is what a user sees: tags in AWS Organizations and the
//! history in DynamoDB. "Since" is the start of the `When` steps that precede it.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use cucumber::gherkin::{Step, StepType};
use cucumber::{given, then, when};
use serde_json::Value;
use spa_aws::Connected;
use spa_core::events::{AccountCommand, AccountId, Action, BuildStatus, Job, Label};
use spa_core::lifecycle::{BuildId, TagChanges};
use spa_core::settings::{MemorySources, Settings, load};
use spa_local::LocalHandler;
use spa_local::seed::{AccountSeed, SeedPlan, UnitSeed, remap};
use spa_local::{Limits, Runtime, Step as Handled, synth};
use spa_usecases::ports::{Activity, ActivityQuery, Commands, Journal, Organization, Platform};

use super::{SpaWorld, list, rows};

/// moto's management account, the automation account of these scenarios.
const MANAGEMENT: &str = "123456789012";
pub(super) const ENVIRONMENT: &str = "SpaFeatures";
const REGION: &str = "eu-west-1";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/events/");
/// The lifecycle tags (with the default prefix).
const STATE: &str = "account-state";
const HOLDER: &str = "account-holder";
const BUILD: &str = "account-build";
const ATTEMPTS: &str = "account-attempts";

/// What a scenario on the emulator builds up, then runs.
#[derive(Debug, Default)]
pub struct Emulated {
    /// Units, parents first: (key, parent key; `None`: the root).
    units: Vec<(String, Option<String>)>,
    /// The settings entry of each managed unit (YAML body), in order.
    managed: Vec<(String, String)>,
    /// Accounts: (name, unit key, holder).
    accounts: Vec<(String, String, Option<String>)>,
    /// Whether the scenario reports the ends of builds itself.
    reports_builds: bool,
    /// `notifications.routes` of the settings (YAML body), with every channel set up.
    pub(super) routes: Option<String>,
    /// Whether chat webhooks record what they receive (a local HTTP server).
    pub(super) chat: bool,
    /// `reporting` of the settings (YAML body).
    pub(super) reporting: Option<String>,
    /// The scenario on the emulator, once started.
    live: Option<Live>,
}

/// A scenario running on the emulator.
pub struct Live {
    pub(super) runtime: Runtime<Connected>,
    pub(super) settings: Settings,
    pub(super) bus_arn: String,
    /// Account names to moto's ids.
    pub(super) accounts: BTreeMap<String, AccountId>,
    /// Unit keys (and `root`) to moto's ids.
    pub(super) units: BTreeMap<String, String>,
    pub(super) reports_builds: bool,
    /// The deliveries handled, for failure messages.
    pub(super) timeline: Vec<String>,
    /// Whether a `Then` step came since the last `When`: the next `When` takes a new mark.
    pub(super) checked: bool,
    /// Each account's tags at the mark.
    pub(super) before: BTreeMap<String, BTreeMap<String, String>>,
    /// Each account's `BuildStarted` activities at the mark.
    pub(super) builds_before: BTreeMap<String, Vec<Activity>>,
    pub(super) sequence: u64,
    /// The engine's resources on the emulator (queues, bus).
    pub(super) resources: spa_local::connect::LocalResources,
    /// The chat webhooks' recorder, when the scenario has one.
    pub(super) chat: Option<wiremock::MockServer>,
    /// What the function answered to an unreadable message, when a scenario sent one.
    pub(super) garbage: Option<Result<String, String>>,
    /// How many functions the bus routed an injected event to, when a scenario asks.
    pub(super) routed: Option<usize>,
    /// moto, held for the scenario; declared last, so dropped after the runtime.
    pub(super) _moto: spa_testkit::Scenario<'static>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("accounts", &self.accounts)
            .field("units", &self.units)
            .field("timeline", &self.timeline)
            .finish_non_exhaustive()
    }
}

impl Emulated {
    /// Releases the emulator (the `after` hook: a failed scenario's world may be kept
    /// by the writer, the emulator must not).
    pub fn release(&mut self) {
        self.live = None;
    }

    fn settings_text(&self) -> String {
        let mut text = format!(
            "environment_identifier: {ENVIRONMENT}\n\
             automation:\n  account_id: '{MANAGEMENT}'\n  region: {REGION}\n  \
             maintenance_window: cron(0 18 ? * SAT *)\n  \
             management_role_arn: arn:aws:iam::{MANAGEMENT}:role/SpaManagement\n\
             organizational_units:\n"
        );
        for (unit, body) in &self.managed {
            text.push_str(&format!("  - identifier: {unit}\n"));
            for line in body.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        }
        if let Some(reporting) = &self.reporting {
            text.push_str("reporting:\n");
            for line in reporting.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        if let Some(routes) = &self.routes {
            text.push_str(super::exceptions::NOTIFICATIONS);
            for line in routes.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        }
        text
    }

    /// The scenario on the emulator, started on first use.
    async fn live(&mut self) -> &mut Live {
        if self.live.is_none() {
            let live = self.start().await;
            self.live = Some(live);
        }
        self.live.as_mut().expect("started")
    }

    async fn start(&self) -> Live {
        let text = self.settings_text();
        let settings = match load("settings.yaml", &text, &MemorySources::new()) {
            Ok(loaded) => loaded.settings,
            Err(errors) => panic!("the scenario's settings do not load: {errors}\n{text}"),
        };
        let moto = spa_testkit::scenario();
        let config = moto.sdk_config().await;
        let plan = SeedPlan {
            units: self
                .units
                .iter()
                .map(|(key, parent)| UnitSeed {
                    key: key.clone(),
                    name: key.clone(),
                    parent: parent.clone(),
                })
                .collect(),
            accounts: self
                .accounts
                .iter()
                .map(|(name, unit, holder)| AccountSeed {
                    key: None,
                    name: name.clone(),
                    email: format!("aws+{name}@example.com"),
                    parent: (unit != "root").then(|| unit.clone()),
                    tags: holder
                        .iter()
                        .map(|h| (HOLDER.to_owned(), h.clone()))
                        .collect(),
                })
                .collect(),
        };
        let seeded = spa_local::emulator::seed(&config, &plan)
            .await
            .unwrap_or_else(|e| panic!("the organization could not be seeded: {e}"));
        let settings = remap(&settings, &seeded);
        let (runtime, resources) = spa_local::connect::runtime(&settings, &moto.endpoint())
            .await
            .unwrap_or_else(|e| panic!("the local runtime did not start: {e}"));
        let accounts = self
            .accounts
            .iter()
            .zip(&seeded.created)
            .map(|((name, _, _), id)| (name.clone(), account_id(id)))
            .collect();
        let mut units = seeded.units.clone();
        units.insert("root".into(), seeded.root.clone());
        let chat = if self.chat {
            Some(super::exceptions::chat(runtime.inner().automation(), &settings).await)
        } else {
            None
        };
        Live {
            runtime,
            settings,
            bus_arn: resources.bus_arn.clone(),
            resources,
            chat,
            garbage: None,
            routed: None,
            accounts,
            units,
            reports_builds: self.reports_builds,
            timeline: Vec::new(),
            checked: true,
            before: BTreeMap::new(),
            builds_before: BTreeMap::new(),
            sequence: 0,
            _moto: moto,
        }
    }
}

fn account_id(id: &str) -> AccountId {
    AccountId::parse(id).unwrap_or_else(|| panic!("`{id}` is not an account id"))
}

fn management() -> AccountId {
    account_id(MANAGEMENT)
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The history line of a `BuildStarted` activity names the build: `...; build <id>`.
fn build_of(activity: &Activity) -> Option<BuildId> {
    let (_, rest) = activity.detail.split_once("; build ")?;
    let id = rest.split(';').next()?.trim();
    BuildId::new(id).ok()
}

fn is_preparation(build: &BuildId) -> bool {
    build.as_str().contains("-Prepare:")
}

impl Live {
    pub(super) fn id(&self, name: &str) -> AccountId {
        self.accounts
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no account is named `{name}` in this scenario"))
    }

    pub(super) fn unit(&self, key: &str) -> String {
        self.units
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no unit `{key}` in this scenario"))
    }

    pub(super) fn next_id(&mut self, what: &str) -> String {
        self.sequence += 1;
        format!("features-{what}-{:04}", self.sequence)
    }

    /// The account's tags as spa reads them: an empty lifecycle tag is absent (spa
    /// writes a removal that comes with a write as an empty value, in the write's one
    /// Organizations call: `TagCodec::fold`).
    pub(super) async fn tags(&self, name: &str) -> BTreeMap<String, String> {
        let mut tags = self
            .runtime
            .platform()
            .organization()
            .tags(&self.id(name))
            .await
            .unwrap_or_else(|e| panic!("the tags of `{name}` could not be read: {e}"));
        tags.retain(|_, value| !value.is_empty());
        tags
    }

    pub(super) async fn history(&self, name: &str) -> Vec<Activity> {
        let query = ActivityQuery {
            account: Some(self.id(name)),
            ..ActivityQuery::default()
        };
        self.runtime
            .platform()
            .store()
            .activities(&query)
            .await
            .unwrap_or_else(|e| panic!("the history of `{name}` could not be read: {e}"))
    }

    async fn builds_started(&self, name: &str) -> Vec<Activity> {
        self.history(name)
            .await
            .into_iter()
            .filter(|a| a.label == Label::BuildStarted)
            .collect()
    }

    /// Before a `When` step acts: the first `When` after a `Then` (or the first one of
    /// the scenario) marks what every account looks like.
    async fn mark(&mut self) {
        if !self.checked {
            return;
        }
        self.checked = false;
        let names: Vec<String> = self.accounts.keys().cloned().collect();
        for name in names {
            let tags = self.tags(&name).await;
            let builds = self.builds_started(&name).await;
            self.before.insert(name.clone(), tags);
            self.builds_before.insert(name, builds);
        }
    }

    /// The builds `name` started since the mark: (preparations, purges).
    async fn builds_since(&mut self, name: &str) -> (usize, usize) {
        let before = self.builds_before.get(name).cloned().unwrap_or_default();
        let started: Vec<BuildId> = self
            .builds_started(name)
            .await
            .into_iter()
            .filter(|a| !before.contains(a))
            .filter_map(|a| build_of(&a))
            .collect();
        let preparations = started.iter().filter(|b| is_preparation(b)).count();
        (preparations, started.len() - preparations)
    }

    /// Handles what the events cause: everything until idle (the builds' ends
    /// polled from moto), or only what is pending when the scenario reports the ends
    /// of builds itself.
    pub(super) async fn run(&mut self) {
        let handler = LocalHandler::new(&self.settings).with_engine_bus_arn(self.bus_arn.clone());
        let limits = Limits {
            poll_interval: std::time::Duration::from_millis(20),
            polls: 500,
            ..Limits::default()
        };
        let mut steps: Vec<Handled> = Vec::new();
        let summary = if self.reports_builds {
            self.runtime
                .run_pending(&handler, limits, |s| steps.push(s.clone()))
                .await
        } else {
            self.runtime
                .run_until_idle(&handler, limits, |s| steps.push(s.clone()))
                .await
        };
        self.timeline.extend(steps.iter().map(|s| {
            let result = match &s.result {
                Ok(done) => format!("ok: {done}"),
                Err(why) => format!("FAILED: {why}"),
            };
            format!("{} {}: {result}", s.function, s.summary)
        }));
        let summary = summary.unwrap_or_else(|e| {
            panic!(
                "the run stopped: {e}\ntimeline:\n{}",
                self.timeline.join("\n")
            )
        });
        assert_eq!(
            summary.failed,
            0,
            "a delivery failed\ntimeline:\n{}",
            self.timeline.join("\n")
        );
    }

    /// The service control policies attached to `name`, as Organizations holds them:
    /// `(name, content)`.
    pub(super) async fn policies(&self, name: &str) -> Vec<(String, String)> {
        let config = self._moto.sdk_config().await;
        spa_local::emulator::service_control_policies(&config, self.id(name).as_str())
            .await
            .unwrap_or_else(|e| panic!("the policies of `{name}` could not be read: {e}"))
    }

    pub(super) fn inject(&self, event: Value, summary: String) {
        let reached = self.runtime.inject(event, summary.clone());
        assert_eq!(reached, 1, "`{summary}` reached {reached} functions, not 1");
    }

    pub(super) fn created(&mut self, name: &str) -> Value {
        let id = self.next_id("created");
        synth::create_account_result(&id, &management(), &self.id(name), Utc::now())
    }

    /// A CloudTrail event from `fixtures/events/`, made this scenario's: a new
    /// id, the management account, now.
    pub(super) fn fixture(&mut self, file: &str, parameters: Value) -> Value {
        let path = format!("{FIXTURES}{file}");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the fixture {path} could not be read: {e}"));
        let mut event: Value = serde_json::from_str(&text.replace("111111111111", MANAGEMENT))
            .unwrap_or_else(|e| panic!("the fixture {path} is not JSON: {e}"));
        let id = self.next_id("trail");
        let now = Value::String(stamp(Utc::now()));
        event["id"] = Value::String(id.clone());
        event["time"] = now.clone();
        event["detail"]["eventTime"] = now;
        event["detail"]["eventID"] = Value::String(format!("{id}-trail"));
        event["detail"]["requestParameters"] = parameters;
        event
    }

    /// An event a member account forwards, from `fixtures/events/`, made this
    /// scenario's: sent by `name`'s account, about account `recipient` (CloudTrail's
    /// `recipientAccountId`: another account's is a forgery), a new id, now.
    pub(super) fn member_fixture(&mut self, file: &str, name: &str, recipient: &str) -> Value {
        let account = self.id(name);
        let recipient = self.id(recipient);
        let path = format!("{FIXTURES}{file}");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the fixture {path} could not be read: {e}"));
        let mut event: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
        let id = self.next_id("member");
        let now = Value::String(stamp(Utc::now()));
        event["id"] = Value::String(id.clone());
        event["account"] = Value::String(account.as_str().to_owned());
        event["time"] = now.clone();
        event["detail"]["eventTime"] = now;
        event["detail"]["eventID"] = Value::String(format!("{id}-trail"));
        event["detail"]["recipientAccountId"] = Value::String(recipient.as_str().to_owned());
        if let Some(identity) = event["detail"]["userIdentity"].as_object_mut() {
            identity.insert(
                "accountId".into(),
                Value::String(account.as_str().to_owned()),
            );
        }
        event
    }

    /// The build the account waits for, from its `account-build` tag.
    async fn awaited_build(&self, name: &str) -> (String, BuildId) {
        let tags = self.tags(name).await;
        let value = tags
            .get(BUILD)
            .unwrap_or_else(|| panic!("`{name}` waits for no build: {tags:?}"));
        let (kind, id) = value
            .split_once('/')
            .unwrap_or_else(|| panic!("`{BUILD}` = `{value}` is not `kind/id`"));
        let build = BuildId::new(id).unwrap_or_else(|e| panic!("`{id}`: {e}"));
        (kind.to_owned(), build)
    }

    pub(super) fn build_ended(&mut self, name: &str, build: &BuildId, status: BuildStatus) {
        let id = self.next_id("build");
        let event =
            synth::build_state_change(&id, &self.id(name), REGION, build, status, Utc::now());
        self.inject(event, format!("build {build} {status}"));
    }
}

impl SpaWorld {
    /// The scenario on the emulator, before a step acts: a `When` step marks what
    /// the accounts look like (the first of a row of `When` steps); a `Given` step
    /// acts before the mark, so the next `When` marks again.
    pub(super) async fn acting(&mut self, step: &Step) -> &mut Live {
        let live = self.emulated.live().await;
        if step.ty == StepType::Given {
            live.checked = true;
        } else {
            live.mark().await;
        }
        live
    }

    /// The scenario on the emulator, for a `Then` step.
    pub(super) async fn checking(&mut self) -> &mut Live {
        let live = self.emulated.live().await;
        live.checked = true;
        live
    }
}

fn status(text: &str) -> BuildStatus {
    text.parse()
        .unwrap_or_else(|_| panic!("`{text}` is not a build status"))
}

// ---------------------------------------------------------------------------- given

#[given("the organizational units:")]
fn units(world: &mut SpaWorld, step: &Step) {
    for row in rows(step, 2) {
        let parent = (row[1] != "root").then(|| row[1].clone());
        world.emulated.units.push((row[0].clone(), parent));
    }
}

#[given(regex = r#"^spa manages "([^"]+)" with the settings:$"#)]
fn manages(world: &mut SpaWorld, unit: String, step: &Step) {
    let body = super::docstring(step);
    let managed = &mut world.emulated.managed;
    match managed.iter_mut().find(|(key, _)| *key == unit) {
        Some(entry) => entry.1 = body,
        None => managed.push((unit, body)),
    }
}

#[given("the accounts:")]
fn accounts(world: &mut SpaWorld, step: &Step) {
    for row in rows(step, 3) {
        let holder = (!row[2].is_empty()).then(|| row[2].clone());
        world
            .emulated
            .accounts
            .push((row[0].clone(), row[1].clone(), holder));
    }
}

#[given("the scenario reports the ends of builds itself")]
fn reports_builds(world: &mut SpaWorld) {
    world.emulated.reports_builds = true;
    // from now on, when the emulator runs already (after a background)
    if let Some(live) = world.emulated.live.as_mut() {
        live.reports_builds = true;
    }
}

// ----------------------------------------------------------------------------- when

#[given(regex = r"^AWS Organizations reported that every account was created$")]
#[when(regex = r"^AWS Organizations reports that every account was created$")]
async fn every_account_created(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    let names: Vec<String> = live.accounts.keys().cloned().collect();
    for name in names {
        let event = live.created(&name);
        live.inject(event, format!("created {name}"));
    }
    live.run().await;
}

#[given(regex = r#"^AWS Organizations reported that "([^"]+)" was created(, twice)?$"#)]
#[when(regex = r#"^AWS Organizations reports that "([^"]+)" was created(, twice)?$"#)]
async fn account_created(world: &mut SpaWorld, name: String, twice: String, step: &Step) {
    let live = world.acting(step).await;
    let event = live.created(&name);
    live.inject(event.clone(), format!("created {name}"));
    if !twice.is_empty() {
        live.inject(event, format!("created {name}, again"));
    }
    live.run().await;
}

#[when(regex = r#"^a person moves "([^"]+)" from "([^"]+)" to "([^"]+)"$"#)]
async fn moves(world: &mut SpaWorld, name: String, from: String, to: String, step: &Step) {
    let live = world.acting(step).await;
    let (account, from, to) = (live.id(&name), live.unit(&from), live.unit(&to));
    live.runtime
        .platform()
        .organization()
        .move_account(&account, &from, &to)
        .await
        .unwrap_or_else(|e| panic!("moto did not move `{name}`: {e}"));
    let event = live.fixture(
        "organizations-move-account.json",
        serde_json::json!({
            "accountId": account.as_str(),
            "sourceParentId": from,
            "destinationParentId": to,
        }),
    );
    live.inject(event, format!("{name} moved"));
    live.run().await;
}

#[when(regex = r#"^AWS Organizations reports that "([^"]+)" was closed$"#)]
async fn closed(world: &mut SpaWorld, name: String, step: &Step) {
    let live = world.acting(step).await;
    let account = live.id(&name);
    // moto keeps the account ACTIVE: only the event says it is closed
    let event = live.fixture(
        "organizations-close-account.json",
        serde_json::json!({ "accountId": account.as_str() }),
    );
    live.inject(event, format!("{name} closed"));
    live.run().await;
}

#[when(regex = r#"^a person tags "([^"]+)" with:$"#)]
async fn person_tags(world: &mut SpaWorld, name: String, step: &Step) {
    let live = world.acting(step).await;
    let account = live.id(&name);
    let mut changes = TagChanges::default();
    let mut tags = Vec::new();
    for row in rows(step, 2) {
        changes.set(row[0].clone(), row[1].clone());
        tags.push(serde_json::json!({ "key": row[0], "value": row[1] }));
    }
    live.runtime
        .platform()
        .organization()
        .change_tags(&account, &changes)
        .await
        .unwrap_or_else(|e| panic!("moto did not tag `{name}`: {e}"));
    let event = live.fixture(
        "organizations-tag-resource.json",
        serde_json::json!({ "resourceId": account.as_str(), "tags": tags }),
    );
    live.inject(event, format!("{name} tagged"));
    live.run().await;
}

#[when("EventBridge Scheduler opens the maintenance window")]
async fn window(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    live.runtime.fire(Job::MaintenanceWindow, Utc::now());
    live.run().await;
}

#[given(regex = r"^EventBridge Scheduler ran the sweeper (\d+) (hours|days) later$")]
#[when(regex = r"^EventBridge Scheduler runs the sweeper (\d+) (hours|days) later$")]
async fn sweeper(world: &mut SpaWorld, count: i64, unit: String, step: &Step) {
    let later = match unit.as_str() {
        "hours" => TimeDelta::hours(count),
        _ => TimeDelta::days(count),
    };
    let live = world.acting(step).await;
    live.runtime.fire(Job::Sweeper, Utc::now() + later);
    live.run().await;
}

#[given(regex = r#"^the (preparation|purge) build of "([^"]+)" ended ([A-Z_]+)$"#)]
#[when(regex = r#"^the (preparation|purge) build of "([^"]+)" ends ([A-Z_]+)$"#)]
async fn build_ends(world: &mut SpaWorld, kind: String, name: String, ended: String, step: &Step) {
    let live = world.acting(step).await;
    let (awaited, build) = live.awaited_build(&name).await;
    assert_eq!(awaited, kind, "`{name}` waits for a {awaited} build");
    live.build_ended(&name, &build, status(&ended));
    live.run().await;
}

#[when(
    regex = r#"^the end of the first preparation build of "([^"]+)" is reported again, as ([A-Z_]+)$"#
)]
async fn late_build_end(world: &mut SpaWorld, name: String, ended: String, step: &Step) {
    let live = world.acting(step).await;
    let mut builds: Vec<(DateTime<Utc>, BuildId)> = live
        .builds_started(&name)
        .await
        .iter()
        .filter_map(|a| build_of(a).map(|b| (a.at, b)))
        .filter(|(_, b)| is_preparation(b))
        .collect();
    builds.sort();
    let (_, build) = builds
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("`{name}` started no preparation build"));
    live.build_ended(&name, &build, status(&ended));
    live.run().await;
}

/// An operator's action on one account, through the command queue (`spa reset`,
/// `spa assign`... without `--direct`).
pub(super) async fn operator_sends(world: &mut SpaWorld, name: &str, action: Action, step: &Step) {
    let live = world.acting(step).await;
    let cause = live.next_id(action.name());
    let what = action.name();
    let command = AccountCommand::new(
        &cause,
        ENVIRONMENT,
        live.id(name),
        action,
        Utc::now(),
        "operator",
    );
    live.runtime
        .platform()
        .commands()
        .send(&[command])
        .await
        .unwrap_or_else(|e| panic!("the {what} of `{name}` could not be sent: {e}"));
    live.run().await;
}

#[when(regex = r#"^an operator resets "([^"]+)"$"#)]
async fn operator_resets(world: &mut SpaWorld, name: String, step: &Step) {
    operator_sends(world, &name, Action::Reset, step).await;
}

#[when(regex = r#"^an operator closes "([^"]+)"$"#)]
async fn operator_closes(world: &mut SpaWorld, name: String, step: &Step) {
    operator_sends(world, &name, Action::Close, step).await;
}

#[when(regex = r#"^an operator assigns "([^"]+)" to "([^"]+)"$"#)]
async fn operator_assigns(world: &mut SpaWorld, name: String, holder: String, step: &Step) {
    operator_sends(world, &name, Action::Assign { holder }, step).await;
}

#[when("the builds run to their end")]
async fn builds_run(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    live.reports_builds = false;
    live.run().await;
}

// ----------------------------------------------------------------------------- then

#[given(regex = r#"^"([^"]+)" is "(\w+)"$"#)]
#[then(regex = r#"^"([^"]+)" is "(\w+)"$"#)]
async fn is_in_state(world: &mut SpaWorld, name: String, state: String) {
    let live = world.checking().await;
    let tags = live.tags(&name).await;
    assert_eq!(
        tags.get(STATE).map(String::as_str),
        Some(state.as_str()),
        "the tags of `{name}`: {tags:?}\ntimeline:\n{}",
        live.timeline.join("\n")
    );
}

#[then(regex = r#"^"([^"]+)" is unmanaged$"#)]
async fn is_unmanaged(world: &mut SpaWorld, name: String) {
    let live = world.checking().await;
    let tags = live.tags(&name).await;
    assert!(
        !tags.contains_key(STATE),
        "`{name}` is still managed: {tags:?}"
    );
}

#[then(regex = r#"^"([^"]+)" is held by "([^"]+)"$"#)]
async fn held_by(world: &mut SpaWorld, name: String, holder: String) {
    let live = world.checking().await;
    let tags = live.tags(&name).await;
    assert_eq!(
        tags.get(HOLDER),
        Some(&holder),
        "the tags of `{name}`: {tags:?}"
    );
}

#[then(regex = r#"^"([^"]+)" has no holder$"#)]
async fn no_holder(world: &mut SpaWorld, name: String) {
    let live = world.checking().await;
    let tags = live.tags(&name).await;
    assert!(
        !tags.contains_key(HOLDER),
        "`{name}` has a holder: {tags:?}"
    );
}

#[then(regex = r#"^"([^"]+)" has the tags:$"#)]
async fn has_tags(world: &mut SpaWorld, name: String, step: &Step) {
    let live = world.checking().await;
    let tags = live.tags(&name).await;
    for row in rows(step, 2) {
        assert_eq!(
            tags.get(&row[0]),
            Some(&row[1]),
            "tag `{}` of `{name}`: {tags:?}",
            row[0]
        );
    }
}

#[then(regex = r#"^"([^"]+)" has none of the tags (.+)$"#)]
async fn has_none_of(world: &mut SpaWorld, name: String, keys: String) {
    let live = world.checking().await;
    let tags = live.tags(&name).await;
    for key in list(&keys) {
        assert!(
            !tags.contains_key(&key),
            "`{name}` still has `{key}`: {tags:?}"
        );
    }
}

#[then(regex = r#"^"([^"]+)" waits for its (preparation|purge) build, attempt (\d+)$"#)]
async fn waits_for(world: &mut SpaWorld, name: String, kind: String, attempt: String) {
    let live = world.checking().await;
    let (awaited, _) = live.awaited_build(&name).await;
    assert_eq!(awaited, kind);
    let tags = live.tags(&name).await;
    assert_eq!(
        tags.get(ATTEMPTS),
        Some(&attempt),
        "the tags of `{name}`: {tags:?}"
    );
}

#[then(regex = r#"^"([^"]+)" waits for no build$"#)]
async fn waits_for_none(world: &mut SpaWorld, name: String) {
    let live = world.checking().await;
    let tags = live.tags(&name).await;
    assert!(!tags.contains_key(BUILD), "`{name}` waits: {tags:?}");
}

/// The builds started since the mark, or since the scenario began (`in all`).
#[then(
    regex = r#"^spa started (\d+) preparation builds? and (\d+) purge builds? for "([^"]+)"( in all)?$"#
)]
async fn started_builds(
    world: &mut SpaWorld,
    preparations: usize,
    purges: usize,
    name: String,
    in_all: String,
) {
    let live = world.checking().await;
    if !in_all.is_empty() {
        live.builds_before.remove(&name);
    }
    let started = live.builds_since(&name).await;
    assert_eq!(
        started,
        (preparations, purges),
        "(preparations, purges) of `{name}`\ntimeline:\n{}",
        live.timeline.join("\n")
    );
}

#[then("spa started no build")]
async fn started_no_build(world: &mut SpaWorld) {
    let live = world.checking().await;
    let names: Vec<String> = live.accounts.keys().cloned().collect();
    for name in names {
        assert_eq!(
            live.builds_since(&name).await,
            (0, 0),
            "builds of `{name}`\ntimeline:\n{}",
            live.timeline.join("\n")
        );
    }
}

#[then(regex = r#"^the history of "([^"]+)" includes (.+)$"#)]
async fn history_includes(world: &mut SpaWorld, name: String, labels: String) {
    let live = world.checking().await;
    let history = live.history(&name).await;
    let seen: Vec<&str> = history.iter().map(|a| a.label.as_str()).collect();
    for label in list(&labels) {
        assert!(
            seen.contains(&label.as_str()),
            "the history of `{name}` has no {label}: {seen:?}"
        );
    }
}

#[then(regex = r#"^"([^"]+)" cools down until (\d+) hours after its purge$"#)]
async fn cools_down(world: &mut SpaWorld, name: String, hours: i64) {
    let live = world.checking().await;
    let purged = live
        .history(&name)
        .await
        .iter()
        .filter(|a| a.label == Label::AccountPurged)
        .map(|a| a.at)
        .max()
        .unwrap_or_else(|| panic!("`{name}` was never purged"));
    let until = (purged + TimeDelta::hours(hours))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let tags = live.tags(&name).await;
    assert_eq!(
        tags.get("account-cooldown-until"),
        Some(&until),
        "the tags of `{name}`: {tags:?}"
    );
}

#[then(regex = r#"^"([^"]+)" is (active|closed) in AWS Organizations$"#)]
async fn organizations_status(world: &mut SpaWorld, name: String, status: String) {
    let live = world.checking().await;
    let record = live
        .runtime
        .platform()
        .organization()
        .describe_account(&live.id(&name))
        .await
        .unwrap_or_else(|e| panic!("`{name}` could not be described: {e}"));
    let closed = record.status != spa_usecases::ports::AccountStatus::Active;
    assert_eq!(
        closed,
        status == "closed",
        "`{name}` is {:?}\ntimeline:\n{}",
        record.status,
        live.timeline.join("\n")
    );
}

#[then(regex = r#"^spa refused to assign "([^"]+)" because "(.*)"$"#)]
async fn assign_refused(world: &mut SpaWorld, name: String, reason: String) {
    let live = world.checking().await;
    let refusal = format!("{} rejected: {reason}", live.id(&name));
    assert!(
        live.timeline.iter().any(|line| line.contains(&refusal)),
        "no `{refusal}` in the timeline:\n{}",
        live.timeline.join("\n")
    );
}

#[then(regex = r#"^nothing changed for "([^"]+)"$"#)]
async fn nothing_changed(world: &mut SpaWorld, name: String) {
    let live = world.checking().await;
    let tags = live.tags(&name).await;
    let before = live.before.get(&name).cloned().unwrap_or_default();
    assert_eq!(
        tags,
        before,
        "the tags of `{name}` changed\ntimeline:\n{}",
        live.timeline.join("\n")
    );
    assert_eq!(live.builds_since(&name).await, (0, 0), "builds of `{name}`");
}
