//! Applying a transition to one account: the one path every reaction takes.
//!
//! 1. **Lease** the account (one writer at a time: another reaction to it is told
//!    `Busy` and comes back) and **claim** the cause (event id, command id) in the
//!    store ([`crate::lease`]): `Seen` means a duplicate delivery, nothing to do; a
//!    claim whose lease ran out belongs to a delivery that died, whose work this one
//!    resumes. Before it writes anything, a decision notes the tags it decided on,
//!    so that the resumed delivery decides the same and finishes it (tags already
//!    written are not written again, the build is started with the same idempotency
//!    token, the events are published under the same keys).
//! 2. **Re-read** the account's tags (the truth) and decode the view; tags that do
//!    not decode raise `Drift` and nothing else changes.
//! 3. **Resolve** the settings through the organization tree; an unmanaged account
//!    gets one log line and an activity record, nothing else (a departure is handled
//!    without settings: the account is no longer under a managed OU).
//! 4. **Decide** with [`decide`]; a rejection is logged (`Duplicate`, `Stale` at
//!    info, `Illegal`, `Invalid` at warn) and changes nothing.
//! 5. **Carry out** the decision: its tag changes first, in one `change_tags`; then
//!    the other commands in order (build start and its tag, activities, exceptions,
//!    holder notifications, the budget hook); deadlines follow the tags; the domain
//!    events are published once, at the end.
//!
//! A transient failure is retried within the invocation ([`Retry`](super::Retry));
//! when it persists, the claim is released and the error returned, so that Lambda or
//! SQS delivers the event again. A permanent one marks the claim failed: every
//! redelivery fails at once, with no step done twice, until the event rests in its
//! dead-letter queue (archived, raised as `DeadLetter`, replayed by an operator). The retry finds the tags already written: `decide`
//! says `Duplicate`, and a build that was decided but never started (attempts
//! written, no build tag) is started then, with the same idempotency token.

use std::collections::BTreeMap;
use std::sync::MutexGuard;

use chrono::{DateTime, Utc};

use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::lease::{self, Kept, Resumes, Turned};
use super::{exceptions, holders};
use crate::ports::{
    AccountCache, Activity, ActivityQuery, BuildRequest, Builds, DeadlineKind, Journal, Objects,
    Organization, OrganizationTree, Platform, PortError,
};
use spa_core::events::{AccountId, DomainEvent, Label};
use spa_core::lifecycle::{
    AccountView, BuildId, BuildKind, BuildStatus, Command, Decision, Decommission, Departure,
    Holder, Invalid, Policy, Rejection, State, TagChanges, Trigger, TriggerKind, decide,
};
use spa_core::settings::Resolved;

/// What came of an event or a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A decision was carried out.
    Applied,
    /// The cause was processed before (duplicate delivery): nothing done.
    Seen,
    /// `decide` refused the trigger: nothing changed.
    Rejected(Rejection),
    /// A build decided earlier had not started (its start failed, the event came
    /// back): it was started now, with the same idempotency token.
    Resumed,
    /// spa does not manage the account: recorded, nothing changed.
    Unmanaged,
    /// The tags do not decode: `Drift` raised, nothing else changed.
    Drift(String),
    /// Nothing to do, and why.
    Ignored(String),
    /// A fan-out: this many commands were sent.
    Dispatched(usize),
    /// An exception or assignment was told (incident, channels, holder): what was done.
    Notified(String),
    /// The sender may not say what the input says (a forged or foreign event, an
    /// alert about another account): logged as a security event, counted, nothing
    /// changed (the `trust` module).
    Refused(String),
    /// An event of the outbox put on the bus (the `relay` function).
    Relayed,
}

/// What a use case did, for the CLI, the local runtime and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The event or command id.
    pub cause: String,
    /// The account, when the outcome is about one.
    pub account: Option<AccountId>,
    /// The trigger's name, when one was decided on.
    pub trigger: Option<&'static str>,
    /// What came of it.
    pub verdict: Verdict,
    /// The state before.
    pub from: Option<State>,
    /// The state after.
    pub to: Option<State>,
    /// The commands carried out, in order.
    pub commands: Vec<Command>,
    /// The labels of the domain events published, in order.
    pub events: Vec<Label>,
    /// The build started, if any.
    pub build: Option<BuildId>,
    /// What went wrong without failing the transition (events that could not be
    /// published after the tags were written).
    pub warnings: Vec<String>,
}

impl Outcome {
    /// An outcome without transition.
    pub fn new(cause: impl Into<String>, account: Option<&AccountId>, verdict: Verdict) -> Self {
        Self {
            cause: cause.into(),
            account: account.cloned(),
            trigger: None,
            verdict,
            from: None,
            to: None,
            commands: Vec::new(),
            events: Vec::new(),
            build: None,
            warnings: Vec::new(),
        }
    }

    /// Names the trigger.
    pub fn with_trigger(mut self, trigger: &'static str) -> Self {
        self.trigger = Some(trigger);
        self
    }

    /// Whether the state changed.
    pub fn changed(&self) -> bool {
        self.verdict == Verdict::Applied && self.from != self.to
    }

    /// Whether a build was started.
    pub fn started_build(&self) -> bool {
        self.build.is_some()
    }
}

/// The state a lifecycle label enters: `Some(None)` for unmanaged, `None` for labels
/// that enter no state. `AccountUnfrozen` enters the state the account was frozen
/// from, `frozen_from`.
fn entered(label: Label, frozen_from: Option<State>) -> Option<Option<State>> {
    Some(match label {
        Label::AccountFrozen => Some(State::Frozen),
        Label::AccountUnfrozen => return frozen_from.map(Some),
        Label::AccountVended => Some(State::Vended),
        Label::AccountPrepared => Some(State::Prepared),
        Label::AccountAssigned => Some(State::Assigned),
        Label::AccountExpired => Some(State::Expired),
        Label::AccountPurged => Some(State::Purged),
        Label::AccountQuarantined => Some(State::Quarantined),
        Label::AccountUnmanaged => None,
        _ => return None,
    })
}

/// One transition under way: what was written and what is to be published.
pub(crate) struct Run<'r> {
    pub(crate) cause: &'r str,
    pub(crate) account: &'r AccountId,
    at: DateTime<Utc>,
    trigger: &'static str,
    /// Said in every activity of the run (why an unusual path was taken).
    note: Option<String>,
    /// The state as the events go (a decision may pass several states).
    state: Option<State>,
    /// The state a frozen account goes back to (`AccountUnfrozen` enters it).
    frozen_from: Option<State>,
    pub(crate) holder: Option<Holder>,
    /// The states before and after each lifecycle label emitted.
    transitions: BTreeMap<Label, (Option<State>, Option<State>)>,
    events: Vec<DomainEvent>,
    /// Holder notifications asked, by label (delivery comes with notifications).
    notifications: Vec<(Holder, Label)>,
    /// The tags as written so far.
    tags: BTreeMap<String, String>,
    /// What the account's next writer will know ([`AccountCache`]): kept current as
    /// the run writes, put in doubt when a write fails; and the activity records and
    /// deadlines written with the end of the turn.
    kept: &'r Kept,
    /// Whether the tags decided on came from the cache: the lease's record keeps
    /// them until the lease is freed, so that a delivery that resumes finds them
    /// there, and nothing is noted.
    from_cache: bool,
    outcome: Outcome,
}

impl<'r> Run<'r> {
    fn new(
        cause: &'r str,
        account: &'r AccountId,
        trigger: &Trigger,
        view: &AccountView,
        tags: BTreeMap<String, String>,
        kept: &'r Kept,
    ) -> Self {
        let mut outcome =
            Outcome::new(cause, Some(account), Verdict::Applied).with_trigger(trigger.kind.name());
        outcome.from = view.state;
        outcome.to = view.state;
        Self {
            cause,
            account,
            at: trigger.at,
            trigger: trigger.kind.name(),
            note: None,
            state: view.state,
            frozen_from: view.frozen_from,
            holder: view.holder.clone(),
            transitions: BTreeMap::new(),
            events: Vec::new(),
            notifications: Vec::new(),
            tags,
            kept,
            from_cache: false,
            outcome,
        }
    }

    /// What the account's next writer will know.
    fn known(&self) -> MutexGuard<'_, AccountCache> {
        self.kept.cache()
    }

    /// Queues the domain event of `label`.
    pub(crate) fn emit_with_reason(
        &mut self,
        environment: &str,
        label: Label,
        reason: Option<&str>,
    ) {
        let (from, to) = match entered(label, self.frozen_from) {
            Some(to) => {
                let from = self.state;
                self.state = to;
                (from, to)
            }
            None => (self.state, self.state),
        };
        self.transitions.insert(label, (from, to));
        let mut event = DomainEvent::new(label, environment, self.account.clone(), self.at)
            .with_transition(from, to)
            .with_fact("trigger", self.trigger)
            .keyed(self.cause);
        if let Some(holder) = &self.holder {
            event = event.with_holder(holder.as_str());
        }
        if let Some(reason) = reason {
            event = event.with_reason(reason);
        }
        if label == Label::BuildStarted
            && let Some(build) = &self.outcome.build
        {
            event = event.with_fact("build_id", build.as_str());
        }
        self.events.push(event);
        self.outcome.events.push(label);
    }
}

/// The deadlines the sweeper must watch for an account seen as `view` at `at`.
fn expected_deadlines(
    view: &AccountView,
    policy: &Policy,
    at: DateTime<Utc>,
) -> BTreeMap<DeadlineKind, DateTime<Utc>> {
    let mut due = BTreeMap::new();
    let Some(state) = view.state else {
        return due;
    };
    if state.builds()
        && let Some(transaction) = view.transaction
    {
        let kind = match transaction.kind {
            spa_core::lifecycle::TransactionKind::Onboarding => DeadlineKind::Onboarding,
            spa_core::lifecycle::TransactionKind::Maintenance => DeadlineKind::Maintenance,
        };
        due.insert(kind, transaction.deadline);
    }
    // A lease is watched while its holder has the account, maintenance included (the
    // sweeper ends it once the account is assigned again); never in quarantine, nor
    // while frozen (an operator decides: the unfreeze watches it again, and a lease
    // that ended meanwhile ends at the next sweep).
    if !matches!(state, State::Quarantined | State::Frozen)
        && let Some(end) = view.lease_end(policy.lease)
    {
        due.insert(DeadlineKind::Lease, end);
    }
    // a holder named during the cooldown is given the account by the sweeper when it ends
    if view.holder_waits()
        && let Some(until) = view.cooldown_until
    {
        due.insert(DeadlineKind::Cooldown, until);
    }
    // the holder put the purge off: the sweeper purges the account when the snooze
    // ends (the lease waits for it)
    if state == State::Assigned
        && let Some(until) = view.snoozed_until
    {
        due.insert(DeadlineKind::Snooze, until);
        due.remove(&DeadlineKind::Lease);
    }
    // the holder is told of the next purge `purge_notice.before` it (the next window
    // as seen now: every transition and every sweep of the account sets it again)
    if let Some((notice, _)) = view.notice_due(at, policy) {
        due.insert(DeadlineKind::Notice, notice);
    }
    // its dry run's end never came: the sweeper asks CodeBuild (a lost member event)
    if let Some((_, ask)) = view.preview_pending(at, policy) {
        due.insert(DeadlineKind::Notice, ask);
    }
    due
}

const DEADLINE_KINDS: [DeadlineKind; 6] = [
    DeadlineKind::Onboarding,
    DeadlineKind::Maintenance,
    DeadlineKind::Lease,
    DeadlineKind::Cooldown,
    DeadlineKind::Notice,
    DeadlineKind::Snooze,
];

/// The idempotency token of the dry run of the purge at `purge`: one dry run per
/// account and purge announced.
pub fn preview_token(account: &AccountId, purge: DateTime<Utc>) -> String {
    format!("spa-{account}-preview-{}", purge.timestamp())
}

/// The build a view shows decided but not started: attempts written, no build tag.
fn pending_start(view: &AccountView) -> Option<(BuildKind, u32)> {
    let state = view.state?;
    (state.builds() && view.attempts > 0 && view.build.is_none()).then(|| {
        let kind = if state == State::Expired {
            BuildKind::Purge
        } else {
            BuildKind::Preparation
        };
        (kind, view.attempts)
    })
}

/// The cache a transition starts from: what the account's last writer left, and
/// whether that writer died holding the lease (its tags are then read again).
#[derive(Clone, Copy)]
struct Cached<'k> {
    resumed: bool,
    /// The parent a listing found the account under, if any.
    parent: Option<&'k str>,
    kept: &'k Kept,
}

/// The triggers decided on the tags as spa last wrote them: the steps of a cycle
/// (the window's command, the ends of its builds), where nobody but spa wrote since.
/// Every other trigger reads the tags again: an operator's command, an event from
/// Organizations (a person tagged or moved the account), the sweeper (which judges
/// what the tags say now).
fn trusts_cached_tags(kind: &TriggerKind) -> bool {
    matches!(
        kind,
        TriggerKind::MaintenanceWindow | TriggerKind::BuildFinished { .. }
    )
}

/// The triggers decided on the account's place as last read: all but an entry into
/// or departure from the managed OUs and the sweeper. A move between OUs puts the
/// place in doubt ([`Engine::forget`]); the window's command carries the parent it
/// listed the account under, which must match.
fn trusts_cached_place(kind: &TriggerKind) -> bool {
    !matches!(
        kind,
        TriggerKind::EnteredManagedOu | TriggerKind::Left(_) | TriggerKind::Sweep
    )
}

/// The build a decision starts, if any.
fn decided_build(decision: &Decision) -> Option<(BuildKind, u32)> {
    decision.commands.iter().find_map(|c| match c {
        Command::StartBuild { kind, attempt } => Some((*kind, *attempt)),
        _ => None,
    })
}

/// The state the decision's build belongs to: the state its events have entered
/// when the build comes (as [`Run::emit_with_reason`] follows them).
fn state_at_build(mut state: Option<State>, commands: &[Command]) -> Option<State> {
    for command in commands {
        match command {
            Command::StartBuild { .. } => break,
            Command::EmitEvent(label) => {
                if let Some(to) = entered(*label, None) {
                    state = to;
                }
            }
            _ => {}
        }
    }
    state
}

/// What a delivery notes before it writes anything (`Claims::note`): the tags it
/// decided on and the instant it judged at, for the delivery that resumes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Note {
    tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<DateTime<Utc>>,
}

impl Note {
    /// Reads a note: this shape, or the bare tags an earlier version noted.
    fn read(text: &str) -> Result<Note, serde_json::Error> {
        match serde_json::from_str::<BTreeMap<String, String>>(text) {
            Ok(tags) => Ok(Note { tags, at: None }),
            Err(_) => serde_json::from_str(text),
        }
    }
}

/// The fact of a `PurgeNotice` event that says when the purge is (RFC 3339).
pub const PURGE_AT: &str = "purge_at";
/// The fact of a `PurgeNotice` event that says how its dry run ended (a build status,
/// or `not started`).
pub const PREVIEW_STATUS: &str = "preview_status";

/// The idempotency token of a build: the same for every delivery of one transition
/// (account, kind, attempt, the state the build belongs to and the instant it was
/// entered), different for any other.
pub fn idempotency_token(
    account: &AccountId,
    kind: BuildKind,
    attempt: u32,
    state: Option<State>,
    since: DateTime<Utc>,
) -> String {
    format!(
        "spa-{account}-{kind}-{attempt}-{}-{}",
        spa_core::lifecycle::state_name(state),
        since.timestamp()
    )
}

impl<P: Platform> Engine<'_, P> {
    /// Applies `trigger` to `account`, once for `cause` (see the module docs).
    pub async fn apply(
        &self,
        cause: &str,
        account: &AccountId,
        trigger: Trigger,
    ) -> Result<Outcome, UseCaseError> {
        self.apply_listed(cause, account, trigger, None).await
    }

    /// [`Self::apply`] to an account a listing found under `parent`: what spa knew of
    /// the account's place is read again unless it names that parent.
    pub async fn apply_listed(
        &self,
        cause: &str,
        account: &AccountId,
        trigger: Trigger,
        parent: Option<&str>,
    ) -> Result<Outcome, UseCaseError> {
        // one writer per account: two reactions to one account never interleave their
        // read-decide-write; the second is told `Busy` and comes back. The cause is
        // claimed in the same write: processed once per account.
        let writer = match lease::take_writer(self, account, cause, true).await? {
            Turned::Held(writer) => writer,
            Turned::Seen => {
                tracing::info!(%account, cause, trigger = trigger.kind.name(), "already processed: nothing to do");
                return Ok(Outcome::new(cause, Some(account), Verdict::Seen)
                    .with_trigger(trigger.kind.name()));
            }
        };
        let kept = Kept::new(writer.cache);
        let note = match writer.resumes {
            Some(Resumes::Noted(note)) => Some(note),
            Some(Resumes::Cached(tags)) => serde_json::to_string(&Note { tags, at: None }).ok(),
            None => None,
        };
        let cached = Cached {
            resumed: writer.resumed,
            parent,
            kept: &kept,
        };
        let result = self
            .transition(cause, account, &trigger, note.as_deref(), cached)
            .await;
        match &result {
            Ok(_) => {}
            Err(error) if error.is_transient() => {
                tracing::warn!(%account, cause, %error, "transient failure: the event will be retried");
            }
            Err(error) => {
                tracing::error!(%account, cause, %error, "permanent failure: not retried, the event ends in a dead-letter queue");
            }
        }
        lease::free_writer(self, account, &writer.turn, kept, result).await
    }

    /// Puts what spa knew of `account` in doubt, under its writer lease: its tags (a
    /// person changed them), its place (it moved), or both. The next transition
    /// reads them again from Organizations.
    pub(crate) async fn forget(
        &self,
        account: &AccountId,
        cause: &str,
        tags: bool,
        place: bool,
    ) -> Result<(), UseCaseError> {
        let Turned::Held(writer) = lease::take_writer(self, account, cause, false).await? else {
            return Ok(());
        };
        let mut cache = writer.cache;
        if tags {
            cache.tags = None;
        }
        if place {
            cache.ancestors = None;
        }
        lease::free_writer(self, account, &writer.turn, Kept::new(cache), Ok(())).await
    }

    /// The view to decide on: the tags an earlier delivery noted before it died
    /// (`note`), so that its decision is made again and finished, unless the account
    /// moved on since (another cause): then the tags as they are. With the view, the
    /// trigger to decide it with: a sweep judges at the time it runs, so the sweep
    /// that resumes one decides at the instant the dead one wrote (its `since`).
    fn view_to_decide(
        &self,
        account: &AccountId,
        cause: &str,
        trigger: &Trigger,
        policy: &Policy,
        note: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Option<(AccountView, Trigger)> {
        let note = note?;
        let (before, judged) = match Note::read(note) {
            Ok(note) => (note.tags, note.at),
            Err(error) => {
                tracing::error!(%account, cause, %error, "the note of the earlier delivery does not read: deciding on the tags as they are");
                self.count_trouble("NotesUnreadable");
                return None;
            }
        };
        if &before == tags {
            // nothing written yet; a sweep decides again at the instant the dead one
            // judged, so that a build it started is recognised by its idempotency
            // token (the token names the instant the state was entered)
            return match (&trigger.kind, judged) {
                (TriggerKind::Sweep, Some(at)) => {
                    let view = self.codec().decode(&before).ok()?;
                    tracing::info!(%account, cause, "resuming the sweep an earlier delivery began, at its instant");
                    Some((view, Trigger::new(at, TriggerKind::Sweep)))
                }
                _ => None,
            };
        }
        let view = self.codec().decode(&before).ok()?;
        let now = self.codec().decode(tags).ok();
        let finished = |trigger: &Trigger| {
            let decision = decide(&view, trigger, policy).ok()?;
            let mut after = before.clone();
            self.codec()
                .encode(&decision.commands)
                .against(&before)
                .apply(&mut after);
            self.codec().decode(&after).ok()
        };
        let same = |now: &AccountView, trigger: &Trigger| {
            finished(trigger)
                .is_some_and(|after| now.state == after.state && now.since == after.since)
        };
        let swept = match (&trigger.kind, now.as_ref().and_then(|now| now.since)) {
            (TriggerKind::Sweep, Some(since)) => Some(Trigger::new(since, TriggerKind::Sweep)),
            _ => None,
        };
        let resumed = now.as_ref().and_then(|now| {
            if same(now, trigger) {
                Some(trigger.clone())
            } else {
                swept.filter(|swept| same(now, swept))
            }
        });
        match resumed {
            Some(trigger) => {
                tracing::info!(%account, cause, "resuming the transition an earlier delivery began");
                Some((view, trigger))
            }
            _ => {
                tracing::warn!(%account, cause, "the account moved on since an earlier delivery began this transition: deciding on the tags as they are");
                self.count_trouble("Superseded");
                None
            }
        }
    }

    async fn transition(
        &self,
        cause: &str,
        account: &AccountId,
        trigger: &Trigger,
        note: Option<&str>,
        cached: Cached<'_>,
    ) -> Result<Outcome, UseCaseError> {
        let organization = self.platform().organization();
        let context = |step| Context::step(step).account(account).cause(cause);
        let kept = cached.kept;
        let lock = || kept.cache();
        // the tags as spa last wrote them, for the steps of a cycle; read again when
        // they may differ (a writer died, a person acts, an event from Organizations)
        let cached_tags = lock()
            .tags
            .take()
            .filter(|_| !cached.resumed && trusts_cached_tags(&trigger.kind));
        let from_cache = cached_tags.is_some();
        // where the account is, for its settings: a departure has none left
        let placed = !matches!(
            trigger.kind,
            TriggerKind::Left(Departure::Closed | Departure::Removed)
        );
        let cached_place = lock().ancestors.clone().filter(|ancestors| {
            placed
                && !cached.resumed
                && trusts_cached_place(&trigger.kind)
                && cached
                    .parent
                    .is_none_or(|parent| ancestors.first().map(String::as_str) == Some(parent))
        });
        // the tags and the place are read side by side: neither needs the other
        let read_tags = async {
            match cached_tags {
                Some(tags) => Ok(tags),
                None => {
                    self.retry()
                        .run("read tags", || organization.tags(account))
                        .await
                }
            }
        };
        let read_place = async {
            match cached_place {
                Some(ancestors) => Ok(Some(ancestors)),
                None if placed => self
                    .retry()
                    .run("read ancestors", || {
                        organization.ancestors(account.as_str())
                    })
                    .await
                    .map(Some),
                None => Ok(None),
            }
        };
        let (tags, place) = futures_util::future::join(read_tags, read_place).await;
        let tags = match tags {
            Ok(tags) => tags,
            Err(PortError::NotFound { .. })
                if trigger.kind == TriggerKind::Left(Departure::Removed) =>
            {
                return self.removed(cause, account, trigger, kept).await;
            }
            Err(error) => return Err(UseCaseError::port(context("read tags"), error)),
        };
        lock().tags = Some(tags.clone());
        let view = match self.codec().decode(&tags) {
            Ok(view) => view,
            Err(error) => {
                return self
                    .drift(cause, account, trigger, &error.to_string(), kept)
                    .await;
            }
        };
        let resolved = match place.within(|| context("resolve settings"))? {
            None => None,
            Some(ancestors) => {
                let resolved = self
                    .settings()
                    .resolve_account(account.as_str(), &ancestors);
                lock().ancestors = Some(ancestors);
                resolved
            }
        };
        match (&trigger.kind, &resolved) {
            (TriggerKind::Left(Departure::MovedOut), Some(_)) => {
                let why = "the account is under a managed OU again: the later move decides";
                tracing::info!(%account, cause, why, "departure ignored");
                return Ok(
                    Outcome::new(cause, Some(account), Verdict::Ignored(why.into()))
                        .with_trigger(trigger.kind.name()),
                );
            }
            (TriggerKind::Left(_), _) | (_, Some(_)) => {}
            (_, None) => return self.unmanaged(cause, account, trigger, kept).await,
        }
        let policy = resolved.as_ref().map(Resolved::policy).unwrap_or_default();
        let ended = self.ended_build(account, cause, trigger, &view).await;
        let trigger = ended.as_ref().unwrap_or(trigger);
        let resumed = self.view_to_decide(account, cause, trigger, &policy, note, &tags);
        let (view, trigger) = match &resumed {
            Some((view, trigger)) => (view.clone(), trigger),
            None => (view, trigger),
        };
        let mut run = Run::new(cause, account, trigger, &view, tags, kept);
        run.from_cache = from_cache;
        if let TriggerKind::HolderTagged(holder) = &trigger.kind {
            if view.holder.as_ref() != Some(holder) {
                let why = "the holder tag says another holder now: the later event decides";
                tracing::info!(%account, cause, why, "holder event ignored");
                return Ok(
                    Outcome::new(cause, Some(account), Verdict::Ignored(why.into()))
                        .with_trigger(trigger.kind.name()),
                );
            }
            if view.state == Some(State::Assigned)
                && let Some(previous) = self.last_holder(account, cause).await?
                && previous != holders::fingerprint(holder)
            {
                return self
                    .retag(run, &view, trigger, &policy, resolved.as_ref(), holder)
                    .await;
            }
        }
        match decide(&view, trigger, &policy) {
            Ok(decision) => {
                if resumed.is_none() {
                    self.note_before(&run).await?;
                }
                // the sweeper and departures set every deadline from the tags: a
                // departure has no policy left to tell the old lease by, and a holder
                // tagged by hand is in the tags read already (a holder who waits for
                // the end of a cooldown needs its deadline)
                let force = matches!(
                    trigger.kind,
                    TriggerKind::Sweep | TriggerKind::Left(_) | TriggerKind::HolderTagged(_)
                );
                self.carry_out(&mut run, &view, decision, resolved.as_ref(), &policy, force)
                    .await?;
                self.finish(run).await
            }
            Err(rejection) => {
                self.rejected(run, &view, rejection, resolved.as_ref(), &policy)
                    .await
            }
        }
    }

    /// A sweep of an account that still awaits a build asks the build service first:
    /// a build that ended while its end never arrived (a member account's forwarding
    /// rule that could not deliver, a holder who deleted it) is applied as ended, not
    /// taken for overdue. A build still running, or whose status cannot be read, is
    /// swept as due.
    async fn ended_build(
        &self,
        account: &AccountId,
        cause: &str,
        trigger: &Trigger,
        view: &AccountView,
    ) -> Option<Trigger> {
        if trigger.kind != TriggerKind::Sweep {
            return None;
        }
        // the awaited build, else the dry run of a pre-purge notice not told yet
        let awaited = match (&view.build, view.state) {
            (Some(awaited), _) => awaited.id.clone(),
            (None, Some(State::Assigned)) => view.notice.as_ref()?.preview.clone()?,
            (None, _) => return None,
        };
        let awaited = &awaited;
        let builds = self.platform().builds();
        let status = self
            .retry()
            .run("read the build's status", || {
                builds.build_status(account, awaited)
            })
            .await;
        match status {
            Ok(BuildStatus::InProgress) => None,
            Ok(status) => {
                tracing::warn!(%account, cause, build = %awaited, %status, "the end of the awaited build never arrived: applying it now");
                self.count_trouble("LostBuildEnds");
                Some(Trigger::new(
                    trigger.at,
                    TriggerKind::BuildFinished {
                        build: awaited.clone(),
                        status,
                    },
                ))
            }
            Err(error) => {
                tracing::warn!(%account, cause, build = %awaited, %error, "the awaited build's status cannot be read: swept as due");
                None
            }
        }
    }

    /// Notes the tags before the transition on the writer lease held for the cause:
    /// a delivery of the same cause that resumes after this one died decides on
    /// them again ([`Self::view_to_decide`]). Tags that came from the cache are not
    /// noted: the lease's record holds them until the lease is freed.
    async fn note_before(&self, run: &Run<'_>) -> Result<(), UseCaseError> {
        if run.from_cache {
            return Ok(());
        }
        let note = Note {
            tags: run.tags.clone(),
            at: Some(run.at),
        };
        let before = serde_json::to_string(&note).map_err(|error| {
            UseCaseError::bad_input(
                Context::step("note the tags before").account(run.account),
                error.to_string(),
            )
        })?;
        lease::note_turn(self, run.account, run.cause, &before, || {
            Context::step("note the tags before")
                .account(run.account)
                .cause(run.cause)
        })
        .await
    }

    /// The fingerprint of the holder of the account's last assignment, from history.
    async fn last_holder(
        &self,
        account: &AccountId,
        cause: &str,
    ) -> Result<Option<String>, UseCaseError> {
        let query = ActivityQuery {
            account: Some(account.clone()),
            since: None,
            limit: Some(100),
        };
        let store = self.platform().store();
        let history = self
            .retry()
            .run("read history", || store.activities(&query))
            .await
            .within(|| Context::step("read history").account(account).cause(cause))?;
        Ok(history
            .iter()
            .filter(|a| a.label == Label::AccountAssigned)
            .find_map(|a| holders::read_mark(&a.detail).map(str::to_owned)))
    }

    /// A holder re-tagged by hand on an assigned account: the previous holder's
    /// assignment ends (released, purged, prepared: nobody receives an unpurged
    /// account) and the new holder is set, assigned once the account is ready. The
    /// release does not notify the holder the tags show, who is the new one.
    async fn retag(
        &self,
        mut run: Run<'_>,
        view: &AccountView,
        trigger: &Trigger,
        policy: &Policy,
        resolved: Option<&Resolved>,
        holder: &Holder,
    ) -> Result<Outcome, UseCaseError> {
        tracing::info!(
            account = %run.account,
            cause = run.cause,
            holder = %holder.masked(),
            "holder re-tagged by hand on an assigned account: releasing the previous holder"
        );
        self.note_before(&run).await?;
        run.note = Some(format!(
            "holder re-tagged by hand to {}: the previous assignment ends",
            holder.masked()
        ));
        let release = Trigger::new(trigger.at, TriggerKind::OperatorRelease);
        let mut decision = match decide(view, &release, policy) {
            Ok(decision) => decision,
            Err(rejection) => return self.rejected(run, view, rejection, resolved, policy).await,
        };
        decision
            .commands
            .retain(|c| !matches!(c, Command::NotifyHolder { .. }));
        self.carry_out(&mut run, view, decision, resolved, policy, false)
            .await?;
        let after = self.codec().decode(&run.tags).map_err(|error| {
            UseCaseError::bad_input(
                Context::step("read tags written").account(run.account),
                error.to_string(),
            )
        })?;
        match decide(&after, trigger, policy) {
            Ok(decision) => {
                self.carry_out(&mut run, &after, decision, resolved, policy, false)
                    .await?;
            }
            Err(rejection) => {
                tracing::warn!(account = %run.account, %rejection, "the new holder could not be set after the release");
            }
        }
        self.finish(run).await
    }

    /// Carries out a decision: tags first, then the other commands in order, then the
    /// deadlines the new tags call for (all of them when `force`: the sweeper).
    async fn carry_out(
        &self,
        run: &mut Run<'_>,
        view: &AccountView,
        decision: Decision,
        resolved: Option<&Resolved>,
        policy: &Policy,
        force: bool,
    ) -> Result<(), UseCaseError> {
        let account = run.account;
        let context = |step| Context::step(step).account(account).cause(run.cause);
        let mut changes = self.codec().encode(&decision.commands).against(&run.tags);
        let since = decision
            .commands
            .iter()
            .find_map(|c| match c {
                Command::SetState { since, .. } => Some(*since),
                _ => None,
            })
            .or(view.since)
            .unwrap_or(run.at);
        // a build is started before the tags are written, so that its id goes with
        // them in one write; a delivery that dies between the two starts it again
        // with the same idempotency token
        let mut launched = None;
        if let (Some((kind, attempt)), Some(resolved)) = (decided_build(&decision), resolved) {
            let state = state_at_build(run.state, &decision.commands);
            let result = self
                .launch(run, resolved, kind, attempt, since, state)
                .await;
            if let Ok(id) = &result {
                for (key, value) in self.codec().build_started(kind, id).set {
                    changes.set(key, value);
                }
            }
            launched = Some(result);
        }
        // the dry run of a pre-purge notice, the same way: started before the tags, its
        // id written with them; one it cannot start (bad settings, no reports bucket)
        // leaves the holder told without the list
        let mut unlisted = None;
        let preview = decision.commands.iter().find_map(|c| match c {
            Command::StartPreview { purge } => Some(*purge),
            _ => None,
        });
        if let Some(purge) = preview {
            match self.launch_preview(run, resolved, purge).await {
                Ok(id) => {
                    tracing::info!(%account, cause = run.cause, build = %id, "dry run of the purge started for the holder's notice");
                    for (key, value) in self.codec().notice_started(purge, Some(&id)).set {
                        changes.set(key, value);
                    }
                }
                Err(error) if error.is_transient() => {
                    return Err(UseCaseError::port(context("start the dry run"), error));
                }
                Err(error) => {
                    tracing::warn!(%account, cause = run.cause, %error, "the dry run of the purge could not start: the holder is told without the list");
                    for (key, value) in self.codec().notice_started(purge, None).set {
                        changes.set(key, value);
                    }
                    unlisted = Some(format!("its dry run could not start ({error})"));
                }
            }
        }
        self.write_tags(run, &changes).await?;
        run.outcome.to = decision.to;
        let mut ensure_budget = false;
        for command in decision.commands {
            match &command {
                Command::StartBuild { kind, attempt } => match launched.take() {
                    Some(Ok(id)) => {
                        tracing::info!(%account, cause = run.cause, %kind, attempt, build = %id, "build started");
                        run.outcome.build = Some(id);
                    }
                    Some(Err(error)) => {
                        return Err(self.not_started(run, *kind, *attempt, error).await);
                    }
                    None => {
                        return Err(UseCaseError::bad_input(
                            context("start build"),
                            "a build was decided for an account without settings",
                        ));
                    }
                },
                Command::EmitEvent(label) => run.emit_with_reason(self.environment(), *label, None),
                Command::RecordActivity(label) => {
                    let detail = self.detail(run, *label);
                    self.record(run, *label, &detail);
                }
                Command::RaiseException { label, reason } => {
                    exceptions::raise(self, run, *label, reason).await?;
                }
                Command::Decommission(how) => self.decommission(run, how).await?,
                Command::Freeze { .. } => self.freeze(run, true).await?,
                Command::Thaw => self.freeze(run, false).await?,
                Command::StartPreview { purge } => {
                    if let (Some(why), Some(holder)) = (unlisted.take(), view.holder.as_ref()) {
                        self.tell_purge_notice(run, holder, *purge, Err(why));
                        let detail = self.notice_detail(*purge, None);
                        self.record(run, Label::PurgeNotice, &detail);
                    }
                }
                Command::TellPurgeNotice {
                    holder,
                    purge,
                    preview,
                } => {
                    let told = preview.clone().ok_or_else(|| "no dry run".to_owned());
                    self.tell_purge_notice(run, holder, *purge, told);
                    run.note = Some(self.notice_detail(*purge, preview.as_ref()));
                }
                Command::Snooze { purge, until } => {
                    run.note = Some(format!(
                        "the purge at {} put off until {}",
                        spa_core::notify::preview::instant(*purge),
                        spa_core::notify::preview::instant(*until)
                    ));
                }
                Command::NotifyHolder { holder, label } => {
                    tracing::info!(
                        account = %account,
                        holder = %holder.masked(),
                        %label,
                        "holder to be notified (delivery comes with the notifications issue)"
                    );
                    run.notifications.push((holder.clone(), *label));
                }
                // after the other commands: the budget's subscriber is the final holder
                Command::EnsureBudget => ensure_budget = true,
                Command::SetHolder(holder) => run.holder = Some(holder.clone()),
                Command::RemoveHolder => run.holder = None,
                Command::RemoveTags(_)
                | Command::SetTags(_)
                | Command::SetState { .. }
                | Command::ClearState
                | Command::StartAssignment(_)
                | Command::EndAssignment
                | Command::StartCooldown(_)
                | Command::SetLeaseEnd(_)
                | Command::StartClosing(_)
                | Command::ClearBuild
                | Command::EndSnooze
                | Command::OpenTransaction(_)
                | Command::CloseTransaction(_) => {}
            }
            run.outcome.commands.push(command);
        }
        if ensure_budget {
            super::budget::ensure(self, run, resolved).await?;
        }
        let before = expected_deadlines(view, policy, run.at);
        let after = match self.codec().decode(&run.tags) {
            Ok(after) => expected_deadlines(&after, policy, run.at),
            Err(_) => BTreeMap::new(),
        };
        self.reconcile_deadlines(run, (!force).then_some(&before), &after);
        Ok(())
    }

    /// `spa close`, after the last purge and once the lifecycle tags are gone: the
    /// final cost report, then the account is closed, or moved to the suspended unit.
    /// Safe to run again: the report is written under the same key, a closed account
    /// closes as done, a parked one is not moved again.
    async fn decommission(&self, run: &Run<'_>, how: &Decommission) -> Result<(), UseCaseError> {
        let organization = self.platform().organization();
        let account = run.account;
        let context = || {
            Context::step("decommission")
                .account(account)
                .cause(run.cause)
        };
        // while the member role still reaches the account's costs; a report that
        // cannot be written is counted, never a reason to keep the account open
        let heading = super::on_notice::Heading {
            name: organization
                .describe_account(account)
                .await
                .ok()
                .map(|record| record.name),
            holder: None,
            cost_center: run.tags.get(self.codec().cost_center_key()).cloned(),
            ou_path: String::new(),
        };
        match super::on_notice::write_cost_report(self, account, &heading, run.at, "final-costs")
            .await
        {
            Ok(key) => {
                tracing::info!(%account, cause = run.cause, key, "final cost report written")
            }
            Err(why) => {
                tracing::warn!(%account, cause = run.cause, why, "final cost report not written");
                self.count_trouble("FinalCostReportFailed");
            }
        }
        match how {
            Decommission::Close => self
                .retry()
                .run("close account", || organization.close_account(account))
                .await
                .within(context)?,
            Decommission::MoveTo(unit) => {
                let ancestors = self
                    .retry()
                    .run("read ancestors", || {
                        organization.ancestors(account.as_str())
                    })
                    .await
                    .within(context)?;
                if let Some(parent) = ancestors.first().filter(|parent| *parent != unit) {
                    self.retry()
                        .run("park account", || {
                            organization.move_account(account, parent, unit)
                        })
                        .await
                        .within(context)?;
                }
            }
        }
        tracing::info!(%account, cause = run.cause, ?how, "account decommissioned");
        Ok(())
    }

    /// Attaches (`attach`) or detaches the freeze policy. After the tags: a delivery
    /// that dies in between is resumed on the tags it noted, and attaches it then
    /// (both calls are idempotent).
    async fn freeze(&self, run: &Run<'_>, attach: bool) -> Result<(), UseCaseError> {
        let account = run.account;
        let step = if attach {
            "attach the freeze policy"
        } else {
            "detach the freeze policy"
        };
        let context = || Context::step(step).account(account).cause(run.cause);
        let policy = spa_core::guardrails::freeze_policy(self.settings())
            .map_err(|error| UseCaseError::bad_input(context(), error.to_string()))?;
        let organization = self.platform().organization();
        if attach {
            self.retry()
                .run(step, || organization.freeze(account, &policy))
                .await
        } else {
            self.retry()
                .run(step, || organization.thaw(account, &policy.name))
                .await
        }
        .within(context)?;
        tracing::warn!(%account, cause = run.cause, policy = policy.name, attached = attach, "{step}: done");
        Ok(())
    }

    /// Writes tag changes (nothing to do: no call) and keeps the run's tags current.
    async fn write_tags(
        &self,
        run: &mut Run<'_>,
        changes: &TagChanges,
    ) -> Result<(), UseCaseError> {
        if changes.is_empty() {
            return Ok(());
        }
        // one call where Organizations would take two (removals as empty values)
        let changes = &self.codec().fold(changes);
        let organization = self.platform().organization();
        let account = run.account;
        // in doubt until the write is known to be done: a write that failed may have
        // been made
        run.known().tags = None;
        self.retry()
            .run("write tags", || organization.change_tags(account, changes))
            .await
            .within(|| {
                Context::step("write tags")
                    .account(account)
                    .cause(run.cause)
            })?;
        changes.apply(&mut run.tags);
        run.known().tags = Some(run.tags.clone());
        Ok(())
    }

    /// Sets and clears deadlines, those that changed from `before` or all of them,
    /// with the end of the turn ([`lease::free_writer`]).
    fn reconcile_deadlines(
        &self,
        run: &Run<'_>,
        before: Option<&BTreeMap<DeadlineKind, DateTime<Utc>>>,
        after: &BTreeMap<DeadlineKind, DateTime<Utc>>,
    ) {
        let mut writes = run.kept.writes();
        for kind in DEADLINE_KINDS {
            let wanted = after.get(&kind);
            if before.is_some_and(|before| before.get(&kind) == wanted) {
                continue;
            }
            writes.deadlines.insert(kind, wanted.copied());
        }
    }

    /// Starts a build decided earlier but never started (its start failed, the
    /// event came back), and tags its id.
    async fn start_build(
        &self,
        run: &mut Run<'_>,
        resolved: &Resolved,
        kind: BuildKind,
        attempt: u32,
        since: DateTime<Utc>,
    ) -> Result<(), UseCaseError> {
        let state = run.state;
        let id = match self
            .launch(run, resolved, kind, attempt, since, state)
            .await
        {
            Ok(id) => id,
            Err(error) => return Err(self.not_started(run, kind, attempt, error).await),
        };
        let account = run.account;
        tracing::info!(%account, cause = run.cause, %kind, attempt, build = %id, "build started");
        run.outcome.build = Some(id.clone());
        let tag = self.codec().build_started(kind, &id).against(&run.tags);
        self.write_tags(run, &tag).await
    }

    /// Ensures the footprint (unless the one ensured last is the same) and starts
    /// the build of `state`, with the idempotency token of the transition.
    async fn launch(
        &self,
        run: &Run<'_>,
        resolved: &Resolved,
        kind: BuildKind,
        attempt: u32,
        since: DateTime<Utc>,
        state: Option<State>,
    ) -> Result<BuildId, PortError> {
        let account = run.account;
        let builds = self.platform().builds();
        let prepared = self.footprint(resolved).and_then(|footprint| {
            self.build_variables(resolved, &footprint, account, kind, attempt)
                .map(|variables| (footprint, variables))
        });
        let (footprint, variables) = match prepared {
            Ok(ready) => ready,
            Err(error) => {
                // bad settings: no retry can help, the account needs an operator
                return Err(PortError::Rejected {
                    service: "spa".into(),
                    action: "prepare the build".into(),
                    message: error.to_string(),
                });
            }
        };
        let request = BuildRequest {
            account: account.clone(),
            kind,
            attempt,
            variables,
            idempotency_token: idempotency_token(account, kind, attempt, state, since),
        };
        // the member account's reads are skipped while the footprint ensured last is
        // the one to ensure (the guardrails keep the holder from changing it; a build
        // that cannot start puts it in doubt, and the retry ensures it in full)
        let digest = footprint.digest();
        let ensured = run.known().footprint.take() == Some(digest.clone());
        let ensure = if ensured {
            Ok(())
        } else {
            self.retry()
                .run("ensure footprint", || {
                    builds.ensure_footprint(account, &footprint)
                })
                .await
        };
        let started = match ensure {
            Ok(()) => {
                self.retry()
                    .run("start build", || builds.start_build(&footprint, &request))
                    .await
            }
            Err(error) => Err(error),
        };
        let id = started?;
        run.known().footprint = Some(digest);
        Ok(id)
    }

    /// Starts the dry run of the purge at `purge` (a purge build that deletes nothing
    /// and writes aws-nuke's list to the reports bucket), with the idempotency token
    /// of that purge.
    async fn launch_preview(
        &self,
        run: &Run<'_>,
        resolved: Option<&Resolved>,
        purge: DateTime<Utc>,
    ) -> Result<BuildId, PortError> {
        let account = run.account;
        let rejected = |message: String| PortError::Rejected {
            service: "spa".into(),
            action: "prepare the dry run".into(),
            message,
        };
        let resolved = resolved.ok_or_else(|| rejected("the account has no settings".into()))?;
        let bucket = self
            .platform()
            .objects()
            .bucket_name()
            .ok_or_else(|| rejected("no reports bucket to write the list to".into()))?;
        let footprint = self
            .footprint(resolved)
            .map_err(|error| rejected(error.to_string()))?;
        let mut variables = self
            .build_variables(resolved, &footprint, account, BuildKind::Purge, 1)
            .map_err(|error| rejected(error.to_string()))?;
        let key = spa_core::notify::preview::list_key(
            &self.settings().reporting.exceptions_prefix,
            account,
            purge,
        );
        variables.insert(
            spa_core::settings::PURGE_MODE.to_owned(),
            "--dry-run".into(),
        );
        variables.insert(spa_core::footprint::PREVIEW_KEY.to_owned(), key);
        variables.insert(spa_core::footprint::REPORTS_BUCKET.to_owned(), bucket);
        let request = BuildRequest {
            account: account.clone(),
            kind: BuildKind::Purge,
            attempt: 1,
            variables,
            idempotency_token: preview_token(account, purge),
        };
        let builds = self.platform().builds();
        let digest = footprint.digest();
        if run.known().footprint.take() != Some(digest.clone()) {
            self.retry()
                .run("ensure footprint", || {
                    builds.ensure_footprint(account, &footprint)
                })
                .await?;
        }
        let id = self
            .retry()
            .run("start the dry run", || {
                builds.start_build(&footprint, &request)
            })
            .await?;
        run.known().footprint = Some(digest);
        Ok(id)
    }

    /// The activity detail of a pre-purge notice.
    fn notice_detail(
        &self,
        purge: DateTime<Utc>,
        preview: Option<&(BuildId, BuildStatus)>,
    ) -> String {
        let when = spa_core::notify::preview::instant(purge);
        match preview {
            Some((build, status)) => {
                format!("the holder is told of the purge at {when}; dry run {build} {status}")
            }
            None => format!("the holder is told of the purge at {when}, without the list"),
        }
    }

    /// Publishes the holder's pre-purge notice: one event per account and purge (its
    /// key), which the `exceptions` function turns into the holder's e-mail once.
    fn tell_purge_notice(
        &self,
        run: &mut Run<'_>,
        holder: &Holder,
        purge: DateTime<Utc>,
        preview: Result<(BuildId, BuildStatus), String>,
    ) {
        let mut event = DomainEvent::new(
            Label::PurgeNotice,
            self.environment(),
            run.account.clone(),
            run.at,
        )
        .with_transition(run.state, run.state)
        .with_holder(holder.as_str())
        .with_fact("notify_holder", holder.masked())
        .with_fact(PURGE_AT, spa_core::notify::preview::instant(purge))
        .keyed(&format!("purge-notice#{}", purge.timestamp()));
        event = match preview {
            Ok((build, status)) => event
                .with_fact("preview_build", build.as_str())
                .with_fact(PREVIEW_STATUS, status.as_str()),
            Err(why) => event
                .with_fact(PREVIEW_STATUS, "not started")
                .with_reason(why),
        };
        run.events.push(event);
        run.outcome.events.push(Label::PurgeNotice);
    }

    /// A build could not be started: a permanent refusal (a missing member role)
    /// raises `BuildFailed` now (the on-boarding or maintenance deadline quarantines
    /// the account if nobody fixes it); a transient one goes back for a retry. The
    /// events of the transition go in the outbox either way, with the end of the turn
    /// (a retry writes the same items again, which are not relayed twice).
    async fn not_started(
        &self,
        run: &mut Run<'_>,
        kind: BuildKind,
        attempt: u32,
        error: PortError,
    ) -> UseCaseError {
        if !error.is_transient() {
            let reason =
                format!("the {kind} build (attempt {attempt}) could not be started: {error}");
            if let Err(failed) = exceptions::raise(self, run, Label::BuildFailed, &reason).await {
                // the event comes back, and its next delivery raises it
                tracing::error!(account = %run.account, %failed, "could not record the exception: the event comes back");
                return failed;
            }
        }
        run.kept.writes().events.extend(run.events.iter().cloned());
        UseCaseError::port(
            Context::step("start build")
                .account(run.account)
                .cause(run.cause),
            error,
        )
    }

    /// The detail of an activity of the run.
    fn detail(&self, run: &Run<'_>, label: Label) -> String {
        let mut detail = format!("`{}`", run.trigger);
        if let Some(note) = &run.note {
            detail.push_str("; ");
            detail.push_str(note);
        }
        if label == Label::BuildStarted
            && let Some(build) = &run.outcome.build
        {
            detail.push_str(&format!("; build {build}"));
        }
        if label == Label::AccountAssigned
            && let Some(holder) = &run.holder
        {
            detail.push_str("; ");
            detail.push_str(&holders::mark(holder));
        }
        detail
    }

    /// Adds an activity record of the run's account to what the turn writes with
    /// its end ([`lease::free_writer`]).
    pub(crate) fn record(&self, run: &Run<'_>, label: Label, detail: &str) {
        let (from, to) = run
            .transitions
            .get(&label)
            .copied()
            .unwrap_or((run.state, run.state));
        run.kept.writes().record(Activity {
            at: run.at,
            account: run.account.clone(),
            label,
            from,
            to,
            detail: spa_core::events::redact_emails(detail),
            cause: Some(run.cause.to_owned()),
        });
    }

    /// Puts the run's events in the outbox, written with the end of the turn
    /// ([`TurnWrites::events`](crate::ports::TurnWrites::events)), holder
    /// notifications attached to the event of their label (or an event of their own),
    /// and logs the transition.
    async fn finish(&self, mut run: Run<'_>) -> Result<Outcome, UseCaseError> {
        for (holder, label) in std::mem::take(&mut run.notifications) {
            let masked = holder.masked();
            match run.events.iter_mut().find(|e| e.label == label) {
                Some(event) => {
                    event.facts.insert("notify_holder".into(), masked);
                }
                None => {
                    let event =
                        DomainEvent::new(label, self.environment(), run.account.clone(), run.at)
                            .with_transition(run.state, run.state)
                            .with_fact("notify_holder", &masked)
                            .keyed(run.cause);
                    run.events.push(event);
                    run.outcome.events.push(label);
                }
            }
        }
        run.kept
            .writes()
            .events
            .extend(std::mem::take(&mut run.events));
        let outcome = run.outcome;
        tracing::info!(
            account = %run.account,
            cause = run.cause,
            trigger = run.trigger,
            from = spa_core::lifecycle::state_name(outcome.from),
            to = spa_core::lifecycle::state_name(outcome.to),
            build = outcome.build.as_ref().map(BuildId::as_str),
            "transition applied"
        );
        Ok(outcome)
    }

    /// `decide` said no: log it; a duplicate may still find a build to start.
    async fn rejected(
        &self,
        mut run: Run<'_>,
        view: &AccountView,
        rejection: Rejection,
        resolved: Option<&Resolved>,
        policy: &Policy,
    ) -> Result<Outcome, UseCaseError> {
        let account = run.account;
        match &rejection {
            Rejection::Duplicate { .. } | Rejection::Stale { .. } => {
                tracing::info!(%account, cause = run.cause, %rejection, "nothing to do");
            }
            // the window and the sweeper reach every managed account without reading
            // its tags first: an account they do not apply to is expected, not a fault
            Rejection::Illegal { trigger, .. }
                if *trigger == TriggerKind::MaintenanceWindow.name()
                    || *trigger == TriggerKind::Sweep.name() =>
            {
                tracing::info!(%account, cause = run.cause, %rejection, "nothing to do");
            }
            Rejection::Illegal { .. } => {
                tracing::warn!(%account, cause = run.cause, %rejection, "refused");
            }
            Rejection::Cooldown { .. } | Rejection::Snoozed { .. } => {
                tracing::info!(%account, cause = run.cause, %rejection, "not yet");
            }
            Rejection::BeyondLease { .. } => {
                tracing::info!(%account, cause = run.cause, %rejection, "refused");
            }
            Rejection::Snooze(_) => {
                tracing::info!(%account, cause = run.cause, %rejection, "snooze refused");
            }
            Rejection::Invalid(invalid) => {
                tracing::warn!(%account, cause = run.cause, %rejection, "refused");
                if matches!(invalid, Invalid::View(_)) {
                    self.record(&run, Label::Drift, &rejection.to_string());
                }
            }
        }
        if matches!(rejection, Rejection::Duplicate { .. })
            && let (Some((kind, attempt)), Some(resolved)) = (pending_start(view), resolved)
        {
            tracing::info!(%account, cause = run.cause, %kind, attempt, "a build was decided but not started: starting it");
            let since = view.since.unwrap_or(run.at);
            self.start_build(&mut run, resolved, kind, attempt, since)
                .await?;
            run.emit_with_reason(self.environment(), Label::BuildStarted, None);
            let detail = self.detail(&run, Label::BuildStarted);
            self.record(&run, Label::BuildStarted, &detail);
            let after = expected_deadlines(view, policy, run.at);
            self.reconcile_deadlines(&run, None, &after);
            run.outcome.verdict = Verdict::Resumed;
            return self.finish(run).await;
        }
        let mut outcome = run.outcome;
        outcome.verdict = Verdict::Rejected(rejection);
        Ok(outcome)
    }

    /// The account is not managed: one log line, one activity record.
    async fn unmanaged(
        &self,
        cause: &str,
        account: &AccountId,
        trigger: &Trigger,
        kept: &Kept,
    ) -> Result<Outcome, UseCaseError> {
        tracing::info!(%account, cause, trigger = trigger.kind.name(), "not managed by spa (neither listed nor under a listed OU): nothing done");
        let run = Run::new(
            cause,
            account,
            trigger,
            &AccountView::default(),
            BTreeMap::new(),
            kept,
        );
        let detail = format!(
            "`{}` ignored: the account is neither listed nor under a listed OU",
            trigger.kind.name()
        );
        self.record(&run, Label::AccountUnmanaged, &detail);
        Ok(
            Outcome::new(cause, Some(account), Verdict::Unmanaged)
                .with_trigger(trigger.kind.name()),
        )
    }

    /// The tags do not decode: `Drift`, nothing else.
    async fn drift(
        &self,
        cause: &str,
        account: &AccountId,
        trigger: &Trigger,
        reason: &str,
        kept: &Kept,
    ) -> Result<Outcome, UseCaseError> {
        let mut run = Run::new(
            cause,
            account,
            trigger,
            &AccountView::default(),
            BTreeMap::new(),
            kept,
        );
        exceptions::raise(self, &mut run, Label::Drift, reason).await?;
        let mut outcome = self.finish(run).await?;
        outcome.verdict = Verdict::Drift(spa_core::events::redact_emails(reason));
        Ok(outcome)
    }

    /// The account left the organization and its tags are gone with it.
    async fn removed(
        &self,
        cause: &str,
        account: &AccountId,
        trigger: &Trigger,
        kept: &Kept,
    ) -> Result<Outcome, UseCaseError> {
        let mut run = Run::new(
            cause,
            account,
            trigger,
            &AccountView::default(),
            BTreeMap::new(),
            kept,
        );
        run.note = Some("removed from the organization: its last state is unknown".into());
        run.emit_with_reason(self.environment(), Label::AccountUnmanaged, None);
        let detail = self.detail(&run, Label::AccountUnmanaged);
        self.record(&run, Label::AccountUnmanaged, &detail);
        self.reconcile_deadlines(&run, None, &BTreeMap::new());
        self.finish(run).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_the_same_for_one_transition_and_differ_across() {
        let account = AccountId::parse("222222222222").unwrap();
        let at = DateTime::from_timestamp(1_740_816_000, 0).unwrap();
        let vended = Some(State::Vended);
        let token = idempotency_token(&account, BuildKind::Preparation, 1, vended, at);
        assert_eq!(token, "spa-222222222222-preparation-1-vended-1740816000");
        let other = |kind, attempt, state| idempotency_token(&account, kind, attempt, state, at);
        assert_ne!(token, other(BuildKind::Preparation, 2, vended));
        assert_ne!(token, other(BuildKind::Purge, 1, Some(State::Expired)));
        assert_ne!(token, other(BuildKind::Preparation, 1, Some(State::Purged)));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod note_tests {
    use super::*;

    #[test]
    fn a_note_reads_in_its_shape_and_in_the_bare_tags_of_earlier_versions() {
        let tags = BTreeMap::from([("account-state".to_owned(), "assigned".to_owned())]);
        let at = DateTime::parse_from_rfc3339("2025-03-01T08:00:00Z")
            .unwrap()
            .to_utc();
        let note = Note {
            tags: tags.clone(),
            at: Some(at),
        };
        let text = serde_json::to_string(&note).unwrap();
        assert_eq!(Note::read(&text).unwrap(), note);
        let bare = serde_json::to_string(&tags).unwrap();
        assert_eq!(Note::read(&bare).unwrap(), Note { tags, at: None });
        assert!(Note::read("not json").is_err());
    }
}
