//! Ports: what the use cases need from the outside world, as traits.
//!
//! Adapters on the AWS SDK implement them in `spa-aws`. A use case takes one
//! [`Platform`], which hands out every port, so its signature does not grow with
//! each port it uses. A platform that wraps another to swap a few ports (the local
//! runtime's bus, command queue and builds) declares only those with
//! [`forward_platform!`](crate::forward_platform) ([`forward`]).
//!
//! The in-memory implementations in `memory` serve the tests and the features: they
//! are compiled for this crate's tests and, with the feature `testing`, for the tests
//! of the crates that enable it in their dev-dependencies, never for the Lambda
//! binary. What runs offline without being a test (`spa plan --tree`, the demo's
//! seeding) reads the organization's tree from a file: [`TreeFile`].
//!
//! Each port is one concern. The store (DynamoDB) serves seven, each its own trait:
//! [`Claims`], [`WriterLeases`] (one writer per account, and what it knew), [`Journal`] (the activity history), [`Deadlines`], [`IncidentRecords`],
//! [`Logins`] and [`KnownAccounts`]; [`Store`] names the seven together for
//! `Platform::Store`. A use case imports the concerns it calls, so its `use` line says
//! what of the store it touches.
//!
//! Every port speaks domain types (`AccountId`, `TagChanges`, `BuildId`,
//! `DomainEvent`), never an SDK type. Errors that remain after the adapter's retries
//! come back as a typed [`PortError`]; nothing is swallowed.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use spa_core::events::{AccountId, DomainEvent, Label, Sensitive};
use spa_core::footprint::Footprint;
use spa_core::lifecycle::{BuildId, BuildKind, BuildStatus, TagChanges};

mod alerting;
mod chat;
mod finops;
pub mod forward;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
mod scans;
mod tree;

pub use alerting::{
    Attachment, BudgetChange, BudgetPlan, Budgets, Costs, Email, IncidentRequest, IncidentStatus,
    Incidents, Mail, RelatedLink, Secret, Secrets, Webhooks,
};
pub use chat::SlackUsers;
pub use finops::{CostSource, PriceList};
#[cfg(any(test, feature = "testing"))]
pub use memory::MemorySlackUsers;
pub use scans::{
    AccessKey, IamUser, Instance, InstanceFilter, KeyStatus, Scans, Stops, mask_key_id,
};
pub use spa_core::events::Activity;
pub use spa_core::reports::ServiceCost;
pub use tree::TreeFile;

/// Why a port could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The account or organizational unit is not in the organization (`what` is
    /// [`PortError::ORGANIZATION`]), or the resource does not exist: `what` names its
    /// service and kind (`DynamoDB table`, `SSM parameter`, `IAM role`, `S3 bucket`).
    #[error("{}", not_found(what, id))]
    NotFound { what: String, id: String },
    /// A service answered something that cannot be right (a cycle or a tree deeper
    /// than AWS allows in the organization; costs in two currencies, an amount that
    /// is not a number).
    #[error("inconsistent answer at `{id}`: {why}")]
    Inconsistent { id: String, why: String },
    /// The service could not be reached or refused the call after retries
    /// (throttling, 5xx, network).
    #[error("{service} is unavailable: {message}")]
    Unavailable { service: String, message: String },
    /// The call was refused for lack of permission: a missing or misconfigured role
    /// (management role, member role), an SCP.
    #[error("{service} denied `{action}`: {message}")]
    Denied {
        service: String,
        action: String,
        message: String,
    },
    /// The service refused the request as invalid (a bug, or bad settings).
    #[error("{service} refused `{action}`: {message}")]
    Rejected {
        service: String,
        action: String,
        message: String,
    },
}

impl PortError {
    /// The `what` of an account or organizational unit that is not in the organization.
    pub const ORGANIZATION: &'static str = "organization";

    /// An account or organizational unit that is not in the organization.
    pub fn not_in_organization(id: impl Into<String>) -> Self {
        Self::not_found(Self::ORGANIZATION, id)
    }

    /// The resource `id` of kind `what` (`DynamoDB table`, `SSM parameter`...) does not
    /// exist.
    pub fn not_found(what: impl Into<String>, id: impl Into<String>) -> Self {
        PortError::NotFound {
            what: what.into(),
            id: id.into(),
        }
    }

    /// Whether trying again later may succeed (Lambda retry, queue redelivery).
    pub fn is_transient(&self) -> bool {
        matches!(self, PortError::Unavailable { .. })
    }
}

/// What a [`PortError::NotFound`] says.
fn not_found(what: &str, id: &str) -> String {
    if what == PortError::ORGANIZATION {
        format!("`{id}` is not in the organization")
    } else {
        format!("{what} `{id}` does not exist")
    }
}

/// Where accounts and organizational units sit in the organization.
pub trait OrganizationTree {
    /// The parents of an account or OU, nearest first, up to and including the root.
    fn ancestors(&self, id: &str) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
}

/// The status of an account in the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountStatus {
    /// In use.
    Active,
    /// Closed, kept 90 days before it goes.
    Suspended,
    /// Being closed.
    PendingClosure,
}

/// An account as the organization describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Its id.
    pub id: AccountId,
    /// Its name.
    pub name: String,
    /// Its root e-mail address (never logged in clear).
    pub email: Sensitive,
    /// Active, suspended, being closed.
    pub status: AccountStatus,
}

/// An organizational unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// `ou-...`.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// AWS Organizations, as seen from the management account.
pub trait Organization: OrganizationTree + Send + Sync {
    /// One account.
    fn describe_account(
        &self,
        id: &AccountId,
    ) -> impl Future<Output = Result<AccountRecord, PortError>> + Send;
    /// Every account of the organization (all pages).
    fn list_accounts(&self) -> impl Future<Output = Result<Vec<AccountRecord>, PortError>> + Send;
    /// The accounts directly under an OU or root (all pages).
    fn accounts_in(
        &self,
        parent: &str,
    ) -> impl Future<Output = Result<Vec<AccountRecord>, PortError>> + Send;
    /// The OUs directly under an OU or root (all pages).
    fn units_in(&self, parent: &str) -> impl Future<Output = Result<Vec<Unit>, PortError>> + Send;
    /// One organizational unit (its name).
    fn describe_unit(&self, id: &str) -> impl Future<Output = Result<Unit, PortError>> + Send;
    /// The roots of the organization (there is one).
    fn roots(&self) -> impl Future<Output = Result<Vec<Unit>, PortError>> + Send;
    /// The tags of an account.
    fn tags(
        &self,
        id: &AccountId,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, PortError>> + Send;
    /// Writes tag changes on an account: sets first, then removals (at most one
    /// `TagResource` and one `UntagResource` call). Nothing to do: no call.
    fn change_tags(
        &self,
        id: &AccountId,
        changes: &TagChanges,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Moves an account from one parent to another.
    fn move_account(
        &self,
        id: &AccountId,
        from: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Closes an account (`CloseAccount`): AWS suspends it, then removes it from the
    /// organization after 90 days. Closing an account closed or closing already is done.
    fn close_account(&self, id: &AccountId) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Attaches the freeze policy ([`spa_core::guardrails::freeze_policy`]) to an
    /// account, creating it first when the organization has no policy of its name.
    /// Attached already: done (a retried freeze).
    fn freeze(
        &self,
        id: &AccountId,
        policy: &spa_core::guardrails::Policy,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Detaches the policy named `policy` from an account. Not attached, or no such
    /// policy: done (a retried unfreeze).
    fn thaw(
        &self,
        id: &AccountId,
        policy: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What a build is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// The member account.
    pub account: AccountId,
    /// Preparation or purge.
    pub kind: BuildKind,
    /// Attempt of this transition, from 1.
    pub attempt: u32,
    /// Environment variables of the build (settings' `variables` and spa's own
    /// `SPA_*` contract).
    pub variables: BTreeMap<String, String>,
    /// A token that makes starting the same build twice start it once (CodeBuild
    /// `idempotencyToken`): the same for a re-delivered trigger of one transition.
    pub idempotency_token: String,
}

/// Builds in member accounts, through the member role.
pub trait Builds: Send + Sync {
    /// Ensures, idempotently, what spa needs in the member account (service role,
    /// projects, forwarding rules).
    fn ensure_footprint(
        &self,
        account: &AccountId,
        footprint: &Footprint,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Starts a build and returns its id.
    fn start_build(
        &self,
        footprint: &Footprint,
        request: &BuildRequest,
    ) -> impl Future<Output = Result<BuildId, PortError>> + Send;
    /// The status of a build (the local build watcher polls it).
    fn build_status(
        &self,
        account: &AccountId,
        build: &BuildId,
    ) -> impl Future<Output = Result<BuildStatus, PortError>> + Send;
}

/// What taking a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: go on, under a lease.
    New,
    /// An earlier delivery took the key and died before it finished (its lease ran
    /// out): go on, under a new lease, from what it noted ([`Claims::note`]).
    Resumed {
        /// What the earlier holder noted for whoever resumes its work.
        note: Option<String>,
    },
    /// Done before: nothing to do.
    Seen,
    /// Failed for good before (`why`): not tried again, unless replayed by an operator.
    Failed {
        /// The error it failed with.
        why: String,
    },
    /// Another delivery holds the lease until `until`: deliver again later.
    Busy {
        /// When its lease runs out.
        until: DateTime<Utc>,
    },
}

/// Which activities to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    /// Of one account only.
    pub account: Option<AccountId>,
    /// At or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// What a deadline is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// On-boarding must be over (vended -> ready).
    Onboarding,
    /// Maintenance must be over (expired -> ready).
    Maintenance,
    /// The lease of the holder ends.
    Lease,
    /// The cooldown after a purge ends: the holder who waits for the account gets it.
    Cooldown,
    /// The holder of an assigned account is to be told of its next purge (the dry run
    /// starts).
    Notice,
    /// The holder's snooze of the purge ends: the account is purged.
    Snooze,
}

/// A point in time the sweeper must look at an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The account.
    pub account: AccountId,
    /// What it is about.
    pub kind: DeadlineKind,
    /// When it is due.
    pub due: DateTime<Utc>,
}

/// What the reports last knew of an account: an account that left the organization
/// is still named in the cost reports of the months it cost something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAccount {
    /// The account.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// Its cost center tag, if it had one.
    pub cost_center: Option<String>,
    /// `Root/Sandboxes/Team A`.
    pub ou_path: String,
    /// When a report run last saw it in the organization.
    pub seen: DateTime<Utc>,
}

/// The claims that make every reaction safe to deliver twice and to kill at any step
/// (*Use cases apply one way*): a key (an event id, a command id, a scheduled run) is
/// processed once.
///
/// A claim is a lease: "in progress until T" when taken, "done" (or "failed") only
/// when the reaction ended. A delivery that finds the lease run out resumes the work
/// of the one that died ([`Claim::Resumed`]); one that finds it held is told
/// [`Claim::Busy`] and comes back later. T is within the invocation's budget
/// (`spa_core::rules::timeouts`), so a live invocation never loses its lease.
pub trait Claims: Send + Sync {
    /// Takes `key` until `until` with a conditional write (see [`Claim`]); `replay`
    /// takes a key that failed for good (an operator replaying a dead letter).
    fn claim(
        &self,
        key: &str,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        replay: bool,
    ) -> impl Future<Output = Result<Claim, PortError>> + Send;
    /// Notes, on a key the caller holds, what a delivery that resumes its work must
    /// know (the tags before a transition).
    fn note(&self, key: &str, note: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Marks `key` done at `at` (`failed` with why: failed for good); remembered for
    /// 7 days, its note forgotten.
    fn complete(
        &self,
        key: &str,
        at: DateTime<Utc>,
        failed: Option<&str>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Forgets a claim, so that a retry of a failed event is processed again.
    fn release(&self, key: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What spa last knew of an account, kept with the account's writer lease
/// ([`WriterLeases`]): a transition reads it with the lease it takes anyway, so that
/// a maintenance cycle asks Organizations for no tag and no parent it already knows,
/// and skips the member footprint's reads while its digest has not changed.
///
/// A cache of the truth, never the truth: the tags live in Organizations, where only
/// the management account writes them (a holder cannot). Each part is `None` when it
/// must be read again: never read, or put in doubt (a delivery died holding the lease,
/// a write failed, a person changed the tags or moved the account).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountCache {
    /// The account's tags as spa last read or wrote them.
    pub tags: Option<BTreeMap<String, String>>,
    /// The account's parents, nearest first, up to the root.
    pub ancestors: Option<Vec<String>>,
    /// The digest of the member footprint last ensured in full
    /// ([`spa_core::footprint::Footprint::digest`]).
    pub footprint: Option<String>,
    /// The fingerprint of the holder the tags named when spa last knew them
    /// ([`crate::holders::fingerprint`]; kept while the tags are in doubt): the
    /// holder → accounts index ([`WriterLeases::held_by`]).
    pub holder: Option<String>,
}

/// Whose turn at an account a writer lease is: the cause of a transition, claimed
/// with the lease in the same conditional write (processed once per account), or a
/// step that claims nothing (putting the cache in doubt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn<'a> {
    /// The event or command id.
    pub cause: &'a str,
    /// Whether the cause is claimed: `Seen` once it ended, `Failed` once it failed
    /// for good.
    pub claims: bool,
    /// Takes a cause that failed for good (an operator replaying a dead letter).
    pub replay: bool,
}

/// How a turn at an account ended, told when its writer lease is freed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEnd {
    /// Nothing claimed (a [`Turn`] with `claims: false`), or given back: a later
    /// delivery of the cause does the work (a transient failure).
    Released,
    /// Done: a later delivery of the cause is `Seen`.
    Done,
    /// Failed for good, and why: a later delivery is answered `Failed` at once.
    Failed(String),
}

/// How a turn ends, as [`WriterLeases::free_writer`] writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended<'a> {
    /// The cause whose turn ends.
    pub cause: &'a str,
    /// Whether the turn claimed its cause ([`Turn::claims`]).
    pub claims: bool,
    /// How.
    pub end: &'a TurnEnd,
    /// The causes to forget ([`Writer::Held`]'s `expired`).
    pub expired: &'a [String],
    /// When it ends.
    pub at: DateTime<Utc>,
    /// What the turn writes with its end: nothing of it is written unless the
    /// lease is freed.
    pub writes: &'a TurnWrites,
}

/// The activity records, deadlines and domain events of a turn, written in the same
/// write that ends it (one `TransactWriteItems` on DynamoDB): a delivery that dies
/// before has written none of them, and the one that resumes writes them all.
///
/// The events go in the outbox ([`spa_core::events::OUTBOX_PREFIX`]): the store's
/// stream hands each new one to the `relay` function, which puts it on the bus. An
/// event written again (a resumed turn) is the same item, and is not relayed twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnWrites {
    /// The activity records, in order, each once.
    pub activities: Vec<Activity>,
    /// The account's deadlines set (`Some`) or cleared (`None`), the last word of
    /// the turn on each kind.
    pub deadlines: BTreeMap<DeadlineKind, Option<DateTime<Utc>>>,
    /// The domain events of the turn, in order, for the outbox.
    pub events: Vec<DomainEvent>,
}

impl TurnWrites {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.activities.is_empty() && self.deadlines.is_empty() && self.events.is_empty()
    }

    /// Adds an activity record (a record already there is not added twice).
    pub fn record(&mut self, activity: Activity) {
        if !self.activities.contains(&activity) {
            self.activities.push(activity);
        }
    }
}

/// How long an account's record remembers a cause it ended.
pub const CAUSES_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// How many causes an account's record remembers at most (the oldest go first).
pub const CAUSES_KEPT_AT_MOST: usize = 200;

/// The causes of `ended` to forget at `at`: ended more than [`CAUSES_KEPT`] ago, or
/// beyond the newest [`CAUSES_KEPT_AT_MOST`].
pub fn expired_causes<'a>(
    ended: impl IntoIterator<Item = (&'a str, DateTime<Utc>)>,
    at: DateTime<Utc>,
) -> Vec<String> {
    let mut ended: Vec<(&str, DateTime<Utc>)> = ended.into_iter().collect();
    ended.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ended
        .iter()
        .enumerate()
        .filter(|(n, (_, when))| *n >= CAUSES_KEPT_AT_MOST || *when + CAUSES_KEPT < at)
        .map(|(_, (cause, _))| (*cause).to_owned())
        .collect()
}

/// What taking an account's writer lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// Held by this delivery until the lease runs out, with what spa knew of the
    /// account; `resumed` when an earlier writer died holding it (its cached tags may
    /// then be behind what it wrote: read them again).
    Held {
        /// Whether an earlier writer died holding the lease.
        resumed: bool,
        /// Whether a delivery of this same cause took the lease before and never
        /// ended its turn (it died at work; another turn that claims nothing may
        /// have held the lease since).
        same_cause: bool,
        /// What that delivery noted ([`WriterLeases::note_turn`]).
        note: Option<String>,
        /// What the last writer left.
        cache: AccountCache,
        /// The causes remembered long enough (7 days, or beyond the last 200): the
        /// free forgets them.
        expired: Vec<String>,
    },
    /// Another delivery writes the account until `until`: deliver again later.
    Busy {
        /// When its lease runs out.
        until: DateTime<Utc>,
    },
    /// The cause was processed before on this account: nothing to do.
    Seen,
    /// The cause failed for good before, and why.
    Failed {
        /// Why.
        why: String,
    },
}

/// One writer per account: the lease a transition holds while it reads, decides and
/// writes, the causes it processed, and what the last writer knew of the account
/// ([`AccountCache`]), in one record per account. A transition is one conditional
/// write to take its turn and one to end it: the claim of its cause goes with the
/// lease (*Any step may be the last*).
pub trait WriterLeases: Send + Sync {
    /// Takes the writer lease of `account` until `until` for `turn`, with a
    /// conditional write that claims the cause and returns what the last writer
    /// left.
    fn take_writer(
        &self,
        account: &AccountId,
        turn: Turn<'_>,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Writer, PortError>> + Send;
    /// Notes, on the lease the caller holds for `cause`, what a delivery of the same
    /// cause that resumes its work must know (the tags before a transition).
    fn note_turn(
        &self,
        account: &AccountId,
        cause: &str,
        note: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Frees the writer lease of `account`, leaving `cache` for the next writer,
    /// ending the turn of `cause` with `end` (its note forgotten; a turn that claims
    /// nothing leaves the note of a cause that died at work) and forgetting the
    /// `expired` causes.
    fn free_writer(
        &self,
        account: &AccountId,
        cache: &AccountCache,
        ended: Ended<'_>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Leaves `cache` for an account no writer ever wrote (what the inventory read of
    /// it); `false`, and nothing written, when one did (a writer's cache wins).
    fn seed(
        &self,
        account: &AccountId,
        cache: &AccountCache,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// What the last writer left, without the lease (the notices' reads).
    fn cached(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<AccountCache, PortError>> + Send;
    /// The accounts whose cache names the holder of fingerprint `holder`, with their
    /// cache (an index: the caller checks the tags, which may have changed since).
    fn held_by(
        &self,
        holder: &str,
    ) -> impl Future<Output = Result<BTreeMap<AccountId, AccountCache>, PortError>> + Send;
    /// What the last writers of `accounts` left, by account (the inventory's reads,
    /// in batches); an account never written is left out.
    fn cached_many(
        &self,
        accounts: &[AccountId],
    ) -> impl Future<Output = Result<BTreeMap<AccountId, AccountCache>, PortError>> + Send;
}

/// A message taken from a queue, with the receipt that deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenLetter {
    /// The message, read as a record of a dead-letter queue.
    pub record: spa_core::events::DeadLetterRecord,
    /// What deletes it once handled.
    pub receipt: String,
}

/// The dead-letter queue of the management account's forwarding rule
/// ([`spa_core::rules::forward_dead_letter_queue`]): the Organizations events
/// EventBridge could not deliver to the engine's bus. It lives in the management
/// account, in the Organizations region, out of reach of an event source mapping of
/// the automation account's functions, so the sweeper drains it through the
/// management role.
pub trait Forwarding: Send + Sync {
    /// Takes up to `max` messages (hidden from other readers for the queue's
    /// visibility timeout).
    fn take_dead_letters(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<TakenLetter>, PortError>> + Send;
    /// Deletes a message taken, once archived and raised.
    fn delete_dead_letter(
        &self,
        receipt: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The activity journal: what happened to each account (transitions, exceptions,
/// sign-ins, budget alerts), the history the reports and the residual cost check read.
pub trait Journal: Send + Sync {
    /// Writes an activity record.
    fn record(&self, activity: &Activity) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Reads activity records, newest first.
    fn activities(
        &self,
        query: &ActivityQuery,
    ) -> impl Future<Output = Result<Vec<Activity>, PortError>> + Send;
}

/// The deadlines the sweeper looks at (on-boarding, maintenance, lease), derived from
/// the tags written (*Deadlines follow the tags*).
pub trait Deadlines: Send + Sync {
    /// Sets (or moves) a deadline of an account.
    fn set_deadline(
        &self,
        deadline: &Deadline,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Removes a deadline of an account (absent: nothing to do).
    fn clear_deadline(
        &self,
        account: &AccountId,
        kind: DeadlineKind,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The deadlines due at `now` (all pages).
    fn due_deadlines(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Deadline>, PortError>> + Send;
}

/// The incident record open for each account and exception label, so that a repeat
/// updates its timeline instead of opening another (the incidents themselves are the
/// [`Incidents`] port's).
pub trait IncidentRecords: Send + Sync {
    /// The incident record last opened for an account and an exception label.
    fn incident(
        &self,
        account: &AccountId,
        label: Label,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    /// Remembers the incident record opened for an account and an exception label.
    fn set_incident(
        &self,
        account: &AccountId,
        label: Label,
        arn: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The last console sign-in of each account (the inventory's last use).
pub trait Logins: Send + Sync {
    /// Stamps the last console sign-in of an account; an older sign-in than the one
    /// stamped changes nothing.
    fn stamp_login(
        &self,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The last console sign-in of every account that has one (all pages).
    fn last_logins(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<AccountId, DateTime<Utc>>, PortError>> + Send;
}

/// What the reports last knew of each account ([`KnownAccount`]), so that an account
/// that left the organization is still named in the reports of the months it cost.
pub trait KnownAccounts: Send + Sync {
    /// Remembers what a report run saw of each account (one record per account,
    /// overwritten at each run; written in batches).
    fn remember_accounts(
        &self,
        accounts: &[KnownAccount],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// What was last remembered of `accounts`; an account never remembered is left out.
    fn known_accounts(
        &self,
        accounts: &[AccountId],
    ) -> impl Future<Output = Result<Vec<KnownAccount>, PortError>> + Send;
    /// What was last remembered of `account` and what its last writer left
    /// ([`WriterLeases::cached`]), in one read: what a notice says of an account.
    fn known_with_cache(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<(Option<KnownAccount>, AccountCache), PortError>> + Send;
}

/// What runs in each account and costs by the hour, as the spend guard saw it start
/// and end ([`spa_core::spend::Entry`]).
pub trait SpendLedgers: Send + Sync {
    /// The entries of an account's ledger, alive and ended (all pages).
    fn ledger(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<spa_core::spend::Entry>, PortError>> + Send;
    /// Writes entries of an account's ledger, each unless the one stored was changed
    /// by a later call (EventBridge does not keep order): written twice, the same.
    fn write_ledger(
        &self,
        account: &AccountId,
        entries: &[spa_core::spend::Entry],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// What the account's month cost so far, as Cost Explorer last said (the spend
    /// guard's reconciliation), if it was ever read.
    fn actual(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<spa_core::spend::Actual>, PortError>> + Send;
    /// Keeps what Cost Explorer said of the account's month (replaces the last).
    fn set_actual(
        &self,
        account: &AccountId,
        actual: &spa_core::spend::Actual,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The prices of one price list in one region as the Price List API last gave
    /// them (`spa prices refresh`), if they were ever read.
    fn price_sheet(
        &self,
        list: &str,
        region: &str,
    ) -> impl Future<Output = Result<Option<spa_core::spend::PriceSheet>, PortError>> + Send;
    /// Keeps the prices of one price list in one region (replaces the last).
    fn set_price_sheet(
        &self,
        sheet: &spa_core::spend::PriceSheet,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Requests for a pool account (`/spa request`): one record each, whose status only
/// moves forward ([`spa_core::requests`]).
pub trait AccessRequests: Send + Sync {
    /// Writes a new request; `false`, and nothing written, when one has its id already.
    fn put_request(
        &self,
        request: &spa_core::requests::AccessRequest,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// The request of id `id`, if any.
    fn request(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<spa_core::requests::AccessRequest>, PortError>> + Send;
    /// Replaces a request whose stored status and account are still `expected`'s (a
    /// conditional write); `false`, and nothing written, when another answer came first.
    fn update_request(
        &self,
        request: &spa_core::requests::AccessRequest,
        expected: &spa_core::requests::AccessRequest,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// The ids of the requests still pending whose expiry is at or before `now` (an
    /// index kept with the requests: the sweeper's read).
    fn due_requests(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
}

/// History and bookkeeping (DynamoDB): never the truth about an account, which lives
/// in its tags. One name for the nine concerns a platform's store serves; an adapter
/// implements each concern's trait and is a `Store` by the blanket impl below. A use
/// case imports the concerns it calls (`use crate::ports::{Claims, Journal}`), and a
/// helper that needs one concern takes just that one (`store: &impl Claims`).
pub trait Store:
    Claims
    + WriterLeases
    + Journal
    + Deadlines
    + IncidentRecords
    + Logins
    + KnownAccounts
    + SpendLedgers
    + AccessRequests
{
}

impl<T> Store for T where
    T: Claims
        + WriterLeases
        + Journal
        + Deadlines
        + IncidentRecords
        + Logins
        + KnownAccounts
        + SpendLedgers
        + AccessRequests
{
}

/// The engine's event bus (EventBridge).
pub trait Bus: Send + Sync {
    /// Puts events on the bus, in batches of 10; failed entries are retried; the
    /// entries that still fail make an error.
    fn publish(&self, events: &[DomainEvent])
    -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The queue of account commands (SQS): the maintenance window and bulk operator
/// actions fan out through it, one message per account, so that no invocation works
/// through 10,000 accounts serially.
pub trait Commands: Send + Sync {
    /// Sends commands, in batches of 10; failed entries are retried.
    fn send(
        &self,
        commands: &[spa_core::events::AccountCommand],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// SSM Parameter Store.
pub trait Parameters: Send + Sync {
    /// The value of a parameter (decrypted).
    fn get(&self, name: &str) -> impl Future<Output = Result<String, PortError>> + Send;
    /// Writes a parameter (overwrites).
    fn put(&self, name: &str, value: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// S3, in the reports bucket.
pub trait Objects: Send + Sync {
    /// Writes an object.
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Reads an object.
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, PortError>> + Send;
    /// The bucket's name, when known (a build in a member account writes there: the
    /// pre-purge notice's dry run).
    fn bucket_name(&self) -> Option<String> {
        None
    }
    /// A presigned GET URL of an object, valid for `expires_in` (never a public object).
    fn presigned_url(
        &self,
        key: &str,
        expires_in: std::time::Duration,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// The time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Every port a use case may need, handed out by one value. A wrapper that swaps some
/// ports of another platform implements it with
/// [`forward_platform!`](crate::forward_platform).
pub trait Platform: Send + Sync {
    /// Organizations.
    type Organization: Organization;
    /// Builds in member accounts.
    type Builds: Builds;
    /// History and bookkeeping.
    type Store: Store;
    /// The event bus.
    type Bus: Bus;
    /// The command queue.
    type Commands: Commands;
    /// The time.
    type Clock: Clock;
    /// Budgets in member accounts.
    type Budgets: Budgets;
    /// Incident Manager.
    type Incidents: Incidents;
    /// Cost Explorer.
    type Costs: Costs;
    /// The organization's costs (Cost Explorer in the management account, or CUR 2.0).
    type CostSource: CostSource;
    /// The reports bucket.
    type Objects: Objects;
    /// SSM SecureString and Secrets Manager.
    type Secrets: Secrets;
    /// Chat webhooks.
    type Webhooks: Webhooks;
    /// E-mail.
    type Mail: Mail;
    /// What the scans read in member accounts (regions, instances, IAM users).
    type Scans: Scans;
    /// What spa stops in member accounts (EC2 instances: the spend guard's `stop`).
    type Stops: Stops;
    /// What the management account could not forward.
    type Forwarding: Forwarding;

    /// Organizations.
    fn organization(&self) -> &Self::Organization;
    /// Builds in member accounts.
    fn builds(&self) -> &Self::Builds;
    /// History and bookkeeping.
    fn store(&self) -> &Self::Store;
    /// The event bus.
    fn bus(&self) -> &Self::Bus;
    /// The command queue.
    fn commands(&self) -> &Self::Commands;
    /// The time.
    fn clock(&self) -> &Self::Clock;
    /// Budgets in member accounts.
    fn budgets(&self) -> &Self::Budgets;
    /// Incident Manager.
    fn incidents(&self) -> &Self::Incidents;
    /// Cost Explorer.
    fn costs(&self) -> &Self::Costs;
    /// The organization's costs (Cost Explorer in the management account, or CUR 2.0).
    fn cost_source(&self) -> &Self::CostSource;
    /// The reports bucket.
    fn objects(&self) -> &Self::Objects;
    /// SSM SecureString and Secrets Manager.
    fn secrets(&self) -> &Self::Secrets;
    /// Chat webhooks.
    fn webhooks(&self) -> &Self::Webhooks;
    /// E-mail.
    fn mail(&self) -> &Self::Mail;
    /// What the scans read in member accounts (regions, instances, IAM users).
    fn scans(&self) -> &Self::Scans;
    /// What spa stops in member accounts (EC2 instances: the spend guard's `stop`).
    fn stops(&self) -> &Self::Stops;
    /// What the management account could not forward.
    fn forwarding(&self) -> &Self::Forwarding;
}
