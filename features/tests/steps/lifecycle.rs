//! Steps of `lifecycle.feature`: one account, known by its tags as AWS Organizations
//! holds them, meets triggers; each accepted decision is written back to the tags the
//! way the use case does (`TagCodec::encode`), so a scenario can follow an account
//! through several events.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use spa_core::lifecycle::{
    AccountView, BuildId, BuildKind, BuildStatus, Command, Decision, Departure, Holder, Label,
    Policy, Rejection, State, TagCodec, Transaction, TransactionKind, Trigger, TriggerKind, decide,
};
use spa_core::settings::values::parse_duration;

use super::{SpaWorld, list, rows};

/// The account a scenario follows.
#[derive(Debug)]
pub struct Account {
    /// The resolved settings it lives under (`Policy::default()` unless told).
    pub policy: Policy,
    codec: TagCodec,
    /// Its tags, as AWS Organizations holds them.
    tags: BTreeMap<String, String>,
    /// Its tags before the last trigger.
    before: BTreeMap<String, String>,
    /// When it entered the state a `Given` puts it in.
    since: DateTime<Utc>,
    /// When triggers happen unless a step says otherwise.
    now: DateTime<Utc>,
    /// The last trigger, to deliver it again.
    last: Option<Trigger>,
    /// What `decide` said about the last trigger.
    outcome: Option<Result<Decision, Rejection>>,
    /// The kind of the last build a decision started, until its id is tagged.
    started: Option<BuildKind>,
}

impl Default for Account {
    fn default() -> Self {
        let since = Utc
            .with_ymd_and_hms(2025, 3, 1, 8, 0, 0)
            .single()
            .expect("a valid instant");
        Self {
            policy: Policy::default(),
            codec: TagCodec::default(),
            tags: BTreeMap::new(),
            before: BTreeMap::new(),
            since,
            now: since + chrono::TimeDelta::hours(1),
            last: None,
            outcome: None,
            started: None,
        }
    }
}

impl Account {
    fn key(&self, field: &str) -> String {
        format!("{}{field}", self.codec.prefix())
    }

    fn tag(&mut self, field: &str, value: impl Into<String>) {
        let key = self.key(field);
        self.tags.insert(key, value.into());
    }

    fn view(&self) -> AccountView {
        self.codec
            .decode(&self.tags)
            .unwrap_or_else(|error| panic!("the account's tags do not decode: {error}"))
    }

    fn state(&self) -> String {
        self.tags
            .get(&self.codec.state_key())
            .cloned()
            .unwrap_or_else(|| "unmanaged".to_owned())
    }

    fn transaction(&self) -> Option<Transaction> {
        self.tags
            .get(&self.key("transaction"))
            .map(|value| TagCodec::parse_transaction(value).expect("a transaction tag"))
    }

    /// Decides about `trigger` and, when accepted, writes the decision to the tags.
    fn meet(&mut self, trigger: Trigger) {
        self.before = self.tags.clone();
        let outcome = decide(&self.view(), &trigger, &self.policy);
        if let Ok(decision) = &outcome {
            self.codec.encode(&decision.commands).apply(&mut self.tags);
            if let Some((kind, _)) = decision.build_to_start() {
                self.started = Some(kind);
            }
            // what spa writes must read back as tags that hold together
            let after = self.view();
            if let Err(inconsistency) = after.check() {
                panic!(
                    "the decision leaves inconsistent tags ({inconsistency}): {:?}",
                    self.tags
                );
            }
        }
        self.last = Some(trigger);
        self.outcome = Some(outcome);
    }

    fn decision(&self) -> &Decision {
        match &self.outcome {
            Some(Ok(decision)) => decision,
            Some(Err(rejection)) => panic!("the trigger was rejected: {rejection}"),
            None => panic!("no trigger met the account yet"),
        }
    }

    fn commands(&self) -> &[Command] {
        &self.decision().commands
    }
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("`{text}` is not an RFC 3339 instant: {error}"))
        .with_timezone(&Utc)
}

fn holder(address: &str) -> Holder {
    Holder::new(address).unwrap_or_else(|error| panic!("{error}"))
}

fn label(name: &str) -> Label {
    name.parse()
        .unwrap_or_else(|error| panic!("`{name}` is not a label: {error:?}"))
}

fn kind(name: &str) -> BuildKind {
    match name {
        "preparation" => BuildKind::Preparation,
        "purge" => BuildKind::Purge,
        other => panic!("`{other}` is not a build kind"),
    }
}

fn transaction_kind(name: &str) -> TransactionKind {
    TransactionKind::parse(name).unwrap_or_else(|| panic!("`{name}` is not a transaction"))
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// ---------------------------------------------------------------------------- given

#[given(regex = r#"^accounts entered their state at "([^"]+)"$"#)]
fn entered_at(world: &mut SpaWorld, at: String) {
    world.account.since = instant(&at);
}

#[given(regex = r#"^events arrive at "([^"]+)"$"#)]
fn events_at(world: &mut SpaWorld, at: String) {
    world.account.now = instant(&at);
}

#[given("an unmanaged account")]
fn unmanaged(world: &mut SpaWorld) {
    world.account.tags.clear();
}

/// A managed account in the shape `decide` leaves it: a holder given the account when
/// it entered its state (`assigned-since` = `since`, kept through maintenance), a build
/// awaited with its attempt and the open transaction of its state (on-boarding when
/// `vended`, maintenance when `expired` or `purged`, due after the policy's deadline).
#[given(
    regex = r#"^an account in state "(\w+)"(?: held by "([^"]+)")?(?: waiting for (preparation|purge) build "([^"]+)" at attempt (\d+))?$"#
)]
fn in_state(
    world: &mut SpaWorld,
    state: String,
    held_by: String,
    build: String,
    id: String,
    attempt: String,
) {
    let state: State = state.parse().unwrap_or_else(|error| panic!("{error}"));
    let account = &mut world.account;
    account.tags.clear();
    account.tag("state", state.as_str());
    account.tag("since", stamp(account.since));
    if !held_by.is_empty() {
        account.tag("holder", held_by);
        account.tag("assigned-since", stamp(account.since));
    }
    if !build.is_empty() {
        account.tag("build", format!("{build}/{id}"));
        account.tag("attempts", attempt);
        let transaction = if state == State::Vended {
            TransactionKind::Onboarding
        } else {
            TransactionKind::Maintenance
        };
        open(account, transaction, None);
    }
}

fn open(account: &mut Account, kind: TransactionKind, deadline: Option<DateTime<Utc>>) {
    let after = match kind {
        TransactionKind::Onboarding => account.policy.onboarding_deadline,
        TransactionKind::Maintenance => account.policy.maintenance_deadline,
    };
    let deadline = deadline.unwrap_or_else(|| {
        account.since + chrono::TimeDelta::from_std(after).expect("a deadline in range")
    });
    let transaction = Transaction {
        kind,
        opened: account.since,
        deadline,
    };
    account.tag("transaction", TagCodec::encode_transaction(&transaction));
}

#[given(regex = r#"^its holder is "([^"]+)"$"#)]
fn its_holder(world: &mut SpaWorld, address: String) {
    world.account.tag("holder", address);
}

#[given("it has no holder")]
fn no_holder(world: &mut SpaWorld) {
    let key = world.account.codec.holder_key();
    world.account.tags.remove(&key);
}

#[given(regex = r"^its (onboarding|maintenance) transaction is still open$")]
fn transaction_open(world: &mut SpaWorld, kind: String) {
    open(&mut world.account, transaction_kind(&kind), None);
}

#[given(regex = r#"^its (onboarding|maintenance) transaction is due at "([^"]+)"$"#)]
fn transaction_due(world: &mut SpaWorld, kind: String, at: String) {
    open(
        &mut world.account,
        transaction_kind(&kind),
        Some(instant(&at)),
    );
}

/// `| key | value |`: the account's tags exactly (an operator edited them by hand).
#[given("its tags are:")]
fn its_tags(world: &mut SpaWorld, step: &Step) {
    world.account.tags = rows(step, 2)
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
}

#[given(regex = r"^(preparation|purge) is (enabled|disabled)$")]
fn build_feature(world: &mut SpaWorld, build: String, feature: String) {
    let on = feature == "enabled";
    match kind(&build) {
        BuildKind::Preparation => world.account.policy.preparation = on,
        BuildKind::Purge => world.account.policy.purge = on,
    }
}

#[given(regex = r"^the purge is a dry run$")]
fn purge_dry_run(world: &mut SpaWorld) {
    world.account.policy.purge_dry_run = true;
}

#[given(regex = r"^builds are tried at most (\d+) times?$")]
fn max_attempts(world: &mut SpaWorld, attempts: u32) {
    world.account.policy.max_attempts = attempts;
}

#[given("a budget is configured")]
fn budget(world: &mut SpaWorld) {
    world.account.policy.budget = true;
}

#[given(regex = r"^the lease is (\S+)$")]
fn lease_is(world: &mut SpaWorld, lease: String) {
    world.account.policy.lease = Some(parse_duration(&lease).unwrap_or_else(|e| panic!("{e}")));
}

#[given(regex = r"^the cooldown is (\S+)$")]
fn cooldown_is(world: &mut SpaWorld, cooldown: String) {
    world.account.policy.cooldown =
        Some(parse_duration(&cooldown).unwrap_or_else(|e| panic!("{e}")));
}

#[given(regex = r#"^its cooldown runs until "([^"]+)"$"#)]
fn cooldown_until(world: &mut SpaWorld, until: String) {
    world.account.tag("cooldown-until", until);
}

#[given(regex = r#"^its tags include the closing asked at "([^"]+)"$"#)]
fn closing_asked(world: &mut SpaWorld, at: String) {
    world.account.tag("closing", at);
}

#[given("the policy sets the tags:")]
fn policy_tags(world: &mut SpaWorld, step: &Step) {
    world.account.policy.account_tags = rows(step, 2)
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
}

#[given(regex = r#"^the policy unsets the tags "([^"]*)"$"#)]
fn policy_unset(world: &mut SpaWorld, keys: String) {
    world.account.policy.unset_tags = list(&keys);
}

// ----------------------------------------------------------------------------- when

#[when(
    regex = r"^(the account enters a managed OU|an operator resets it|the maintenance window opens|an operator expires it|the lease ends|an operator releases it|the sweeper runs|the account is moved out of managed OUs|the account is closed|the account is removed from the organization|an operator closes it)$"
)]
fn plain_trigger(world: &mut SpaWorld, phrase: String) {
    let kind = match phrase.as_str() {
        "the account enters a managed OU" => TriggerKind::EnteredManagedOu,
        "an operator resets it" => TriggerKind::OperatorReset,
        "the maintenance window opens" => TriggerKind::MaintenanceWindow,
        "an operator expires it" => TriggerKind::OperatorExpire,
        "the lease ends" => TriggerKind::LeaseEnded,
        "an operator releases it" => TriggerKind::OperatorRelease,
        "the sweeper runs" => TriggerKind::Sweep,
        "the account is moved out of managed OUs" => TriggerKind::Left(Departure::MovedOut),
        "the account is closed" => TriggerKind::Left(Departure::Closed),
        "the account is removed from the organization" => TriggerKind::Left(Departure::Removed),
        "an operator closes it" => TriggerKind::OperatorClose,
        other => panic!("no trigger for `{other}`"),
    };
    let at = world.account.now;
    world.account.meet(Trigger::new(at, kind));
}

/// Somebody other than spa wrote `vended` in the state tag: spa reads the tags after it.
#[when(r#"its state is tagged "vended""#)]
fn tagged_vended(world: &mut SpaWorld) {
    world.account.tag("state", State::Vended.as_str());
    let at = world.account.now;
    world
        .account
        .meet(Trigger::new(at, TriggerKind::TaggedVended));
}

#[when(regex = r#"^the sweeper runs at "([^"]+)"$"#)]
fn sweep_at(world: &mut SpaWorld, at: String) {
    world
        .account
        .meet(Trigger::new(instant(&at), TriggerKind::Sweep));
}

/// The build kind in the sentence is for the reader: a build is known by its id.
#[when(regex = r#"^(?:preparation |purge )?build "([^"]+)" ends ([A-Z_]+)$"#)]
fn build_ends(world: &mut SpaWorld, id: String, status: String) {
    let build = BuildId::new(&id).unwrap_or_else(|error| panic!("{error}"));
    let status: BuildStatus = status
        .parse()
        .unwrap_or_else(|error| panic!("`{status}`: {error:?}"));
    let at = world.account.now;
    world.account.meet(Trigger::new(
        at,
        TriggerKind::BuildFinished { build, status },
    ));
}

#[when(regex = r#"^(the holder is tagged|an operator assigns it to) "([^"]+)"$"#)]
fn holder_set(world: &mut SpaWorld, how: String, address: String) {
    let holder = holder(&address);
    let kind = if how == "the holder is tagged" {
        TriggerKind::HolderTagged(holder)
    } else {
        TriggerKind::OperatorAssign(holder)
    };
    let at = world.account.now;
    world.account.meet(Trigger::new(at, kind));
}

/// The use case tags the id of the build it started: the account now waits for it.
#[when(regex = r#"^the build service names the started build "([^"]+)"$"#)]
fn build_named(world: &mut SpaWorld, id: String) {
    let kind = world
        .account
        .started
        .take()
        .unwrap_or_else(|| panic!("no decision started a build since the last one was named"));
    let id = BuildId::new(&id).unwrap_or_else(|error| panic!("{error}"));
    let changes = world.account.codec.build_started(kind, &id);
    changes.apply(&mut world.account.tags);
}

/// EventBridge delivers at least once: the last trigger again, at the same instant.
#[when("the same event arrives again")]
fn again(world: &mut SpaWorld) {
    let trigger = world
        .account
        .last
        .clone()
        .unwrap_or_else(|| panic!("no event arrived yet"));
    world.account.meet(trigger);
}

#[when(regex = r#"^time passes until "([^"]+)"$"#)]
fn time_passes(world: &mut SpaWorld, at: String) {
    world.account.now = instant(&at);
}

// ----------------------------------------------------------------------------- then

#[then(regex = r#"^the account is (?:still |now )?"(\w+)"$"#)]
fn account_is(world: &mut SpaWorld, expected: String) {
    let account = &world.account;
    if let Some(Ok(decision)) = &account.outcome {
        let to = decision.to.map_or("unmanaged", State::as_str);
        assert_eq!(to, expected, "the decision: {:?}", decision.commands);
    }
    // an account removed from the organization can no longer be tagged
    let removed = account
        .last
        .as_ref()
        .is_some_and(|t| t.kind == TriggerKind::Left(Departure::Removed));
    if !removed {
        assert_eq!(account.state(), expected, "tags: {:?}", account.tags);
    }
}

#[then(regex = r"^an? (preparation|purge) build starts as attempt (\d+)$")]
fn build_starts(world: &mut SpaWorld, build: String, attempt: u32) {
    let decision = world.account.decision();
    assert_eq!(
        decision.build_to_start(),
        Some((kind(&build), attempt)),
        "{:?}",
        decision.commands
    );
    let attempts = world.account.tags.get(&world.account.key("attempts"));
    assert_eq!(attempts, Some(&attempt.to_string()), "the attempts tag");
}

#[then("no build starts")]
fn no_build(world: &mut SpaWorld) {
    let decision = world.account.decision();
    assert_eq!(decision.build_to_start(), None, "{:?}", decision.commands);
}

#[then(regex = r"^it emits (.+)$")]
fn emits(world: &mut SpaWorld, labels: String) {
    let expected: Vec<Label> = list(&labels).iter().map(|name| label(name)).collect();
    let decision = world.account.decision();
    let emitted: Vec<Label> = decision.events().collect();
    assert_eq!(emitted, expected, "{:?}", decision.commands);
    for label in emitted {
        assert!(
            decision.commands.contains(&Command::RecordActivity(label)),
            "{label} is emitted without an activity record"
        );
    }
}

#[then(regex = r#"^it raises (\w+)(?: because "(.*)")?$"#)]
fn raises(world: &mut SpaWorld, name: String, because: String) {
    let expected = label(&name);
    let raised: Vec<(Label, String)> = world
        .account
        .commands()
        .iter()
        .filter_map(|command| match command {
            Command::RaiseException { label, reason } => Some((*label, reason.clone())),
            _ => None,
        })
        .collect();
    assert!(
        raised
            .iter()
            .any(|(label, reason)| *label == expected && reason.contains(&because)),
        "expected {expected} because {because:?}, raised: {raised:?}"
    );
}

#[then("it raises no exception")]
fn raises_nothing(world: &mut SpaWorld) {
    let commands = world.account.commands();
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::RaiseException { .. })),
        "{commands:?}"
    );
}

#[then(regex = r"^it ensures (a|no) budget$")]
fn ensures_budget(world: &mut SpaWorld, which: String) {
    let ensured = world.account.commands().contains(&Command::EnsureBudget);
    assert_eq!(ensured, which == "a", "{:?}", world.account.commands());
}

#[then(regex = r#"^it notifies "([^"]+)" of (\w+)$"#)]
fn notifies(world: &mut SpaWorld, address: String, name: String) {
    let expected = Command::NotifyHolder {
        holder: holder(&address),
        label: label(&name),
    };
    let commands = world.account.commands();
    assert!(commands.contains(&expected), "{commands:?}");
}

#[then("it notifies nobody")]
fn notifies_nobody(world: &mut SpaWorld) {
    let commands = world.account.commands();
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::NotifyHolder { .. })),
        "{commands:?}"
    );
}

#[then(regex = r#"^its holder is (?:now |still )?"([^"]+)"$"#)]
fn holder_is(world: &mut SpaWorld, address: String) {
    let key = world.account.codec.holder_key();
    assert_eq!(world.account.tags.get(&key), Some(&address));
}

#[then("it has no holder any more")]
fn holder_removed(world: &mut SpaWorld) {
    let key = world.account.codec.holder_key();
    assert!(
        world.account.before.contains_key(&key),
        "it had no holder to begin with"
    );
    assert_eq!(world.account.tags.get(&key), None);
}

/// `| key | value |`: tags the account carries now.
#[then("its tags include:")]
fn tags_include(world: &mut SpaWorld, step: &Step) {
    for row in rows(step, 2) {
        assert_eq!(
            world.account.tags.get(&row[0]),
            Some(&row[1]),
            "tag `{}` in {:?}",
            row[0],
            world.account.tags
        );
    }
}

#[then(regex = r#"^it removes the tags "([^"]*)"$"#)]
fn tags_removed(world: &mut SpaWorld, keys: String) {
    for key in list(&keys) {
        assert!(
            world.account.before.contains_key(&key),
            "`{key}` was not there"
        );
        assert!(
            !world.account.tags.contains_key(&key),
            "`{key}` is still there"
        );
    }
}

#[then(regex = r"^its lifecycle tags are (removed|left as they are)$")]
fn lifecycle_tags(world: &mut SpaWorld, what: String) {
    let account = &world.account;
    let lifecycle = |tags: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        let holder = account.codec.holder_key();
        tags.iter()
            .filter(|(key, _)| key.starts_with(account.codec.prefix()) && **key != holder)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    if what == "removed" {
        assert!(lifecycle(&account.tags).is_empty(), "{:?}", account.tags);
        assert!(account.commands().contains(&Command::ClearState));
    } else {
        assert_eq!(lifecycle(&account.tags), lifecycle(&account.before));
        assert!(!account.commands().contains(&Command::ClearState));
    }
}

#[then(
    regex = r#"^its (onboarding|maintenance) transaction is open since "([^"]+)", due at "([^"]+)"$"#
)]
fn transaction_is_open(world: &mut SpaWorld, kind: String, opened: String, due: String) {
    let expected = Transaction {
        kind: transaction_kind(&kind),
        opened: instant(&opened),
        deadline: instant(&due),
    };
    assert_eq!(world.account.transaction(), Some(expected));
}

#[then(regex = r"^its (onboarding|maintenance) transaction completes$")]
fn transaction_completes(world: &mut SpaWorld, kind: String) {
    let kind = transaction_kind(&kind);
    let closed = world
        .account
        .commands()
        .iter()
        .any(|c| matches!(c, Command::CloseTransaction(t) if t.kind == kind));
    assert!(closed, "{:?}", world.account.commands());
    assert_eq!(world.account.transaction(), None, "the transaction tag");
}

#[then(
    regex = r#"^it is rejected as (duplicate|stale|illegal|invalid|cooldown|beyond the lease|snoozed|snooze) because "(.*)"$"#
)]
fn rejected_plain(world: &mut SpaWorld, kind: String, reason: String) {
    rejected(world, &kind, &reason);
}

fn rejected(world: &mut SpaWorld, kind: &str, reason: &str) {
    let rejection = match &world.account.outcome {
        Some(Err(rejection)) => rejection,
        Some(Ok(decision)) => panic!("expected a rejection, got {decision:?}"),
        None => panic!("no trigger met the account yet"),
    };
    let found = match rejection {
        Rejection::Duplicate { .. } => "duplicate",
        Rejection::Stale { .. } => "stale",
        Rejection::Illegal { .. } => "illegal",
        Rejection::Cooldown { .. } => "cooldown",
        Rejection::BeyondLease { .. } => "beyond the lease",
        Rejection::Snoozed { .. } => "snoozed",
        Rejection::Snooze(_) => "snooze",
        Rejection::Invalid(_) => "invalid",
    };
    assert_eq!(found, kind, "{rejection}");
    let shown = rejection.to_string();
    assert!(shown.contains(reason), "the reason reads: {shown}");
}

/// A rejection, or a decision with nothing to do: the tags stay as they were.
#[then("nothing changes")]
fn nothing_changes(world: &mut SpaWorld) {
    let account = &world.account;
    if let Some(Ok(decision)) = &account.outcome {
        assert!(decision.is_empty(), "{:?}", decision.commands);
    }
    assert_eq!(account.tags, account.before);
}
