//! In-memory implementations of the ports, for tests, the features and offline runs.
//!
//! Every double is shared (`&self` methods, a `std::sync::Mutex` inside), records
//! what it was asked, counts its calls by operation, and can be told to fail: a
//! [`Faults`] queue answers the next call (of one operation, or of any) with a
//! [`PortError`], so that failure paths are tested like the others.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::{AccountCache, IamUser, Instance, InstanceFilter, Scans, SlackUsers, Stops};
use super::{
    AccountRecord, AccountStatus, Activity, ActivityQuery, BudgetChange, BudgetPlan, Budgets,
    BuildRequest, Builds, Bus, Claim, Claims, Clock, Commands, CostSource, Costs, Deadline,
    DeadlineKind, Deadlines, Email, Ended, Forwarding, IncidentRecords, IncidentRequest,
    IncidentStatus, Incidents, Journal, KnownAccount, KnownAccounts, Logins, Mail, Objects,
    Organization, OrganizationTree, Platform, PortError, Secret, Secrets, ServiceCost, TakenLetter,
    Turn, TurnEnd, Unit, Webhooks, Writer, WriterLeases, expired_causes,
};
use spa_core::events::{AccountCommand, AccountId, DomainEvent, Label, Sensitive};
use spa_core::footprint::Footprint;
use spa_core::lifecycle::{BuildId, BuildStatus, TagChanges};
use spa_core::reports::{CostBreakdowns, DailyCost, Forecast, Month, PeriodCosts};

/// Locks a mutex, going on with the data of a thread that panicked (a test double
/// must not hide the first failure behind a poisoned lock).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Crash injection for the tests of *Any step may be the last*: the process "dies"
/// (panics with [`crash::Crash`], which no code of spa catches) just before the
/// n-th step of a reaction, a step being a call that changes something outside the
/// process (a claim, a tag write, a build start, a publish...). Counted per thread,
/// from [`crash::arm`]: a test runs the reaction on its own thread's runtime, catches
/// the crash, and delivers the event again.
pub mod crash {
    use std::cell::Cell;

    /// The operations of the memory ports that change something: a crash lands
    /// before one of them. Reads are not steps.
    pub const STEPS: [&str; 31] = [
        "claim",
        "take_writer",
        "free_writer",
        "seed",
        "note",
        "complete",
        "release",
        "record",
        "set_deadline",
        "clear_deadline",
        "set_incident",
        "stamp_login",
        "remember_accounts",
        "change_tags",
        "move_account",
        "close_account",
        "ensure_footprint",
        "start_build",
        "publish",
        "send",
        "ensure_budget",
        "send_email",
        "post_json",
        "put",
        "delete_dead_letter",
        "start_incident",
        "add_timeline_event",
        "put_request",
        "update_request",
        "post_message",
        "stop_instance",
    ];

    thread_local! {
        static ARMED: Cell<Option<usize>> = const { Cell::new(None) };
        static TAKEN: Cell<usize> = const { Cell::new(0) };
    }

    /// What a crash carries: the step it came before.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Crash {
        /// The operation that was not made.
        pub before: &'static str,
        /// Its index among the steps of the run (0: nothing was done).
        pub step: usize,
    }

    /// Counts the steps of this thread from now on, and dies before step `at` (none:
    /// counts only).
    pub fn arm(at: Option<usize>) {
        ARMED.set(at);
        TAKEN.set(0);
    }

    /// Stops and returns how many steps were taken since [`arm`].
    pub fn disarm() -> usize {
        ARMED.set(None);
        TAKEN.replace(0)
    }

    /// A port is about to make `operation`.
    pub(super) fn step(operation: &'static str) {
        if !STEPS.contains(&operation) {
            return;
        }
        let taken = TAKEN.get();
        if ARMED.get() == Some(taken) {
            ARMED.set(None);
            std::panic::panic_any(Crash {
                before: operation,
                step: taken,
            });
        }
        TAKEN.set(taken + 1);
    }
}

/// Failures to inject: each answers one call, the oldest first.
#[derive(Debug, Default)]
pub struct Faults {
    queue: Mutex<Vec<(Option<&'static str>, PortError)>>,
    /// Failures that wait for some calls of their operation to pass first.
    later: Mutex<Vec<(&'static str, usize, PortError)>>,
}

impl Faults {
    /// The next call of any operation fails with `error`.
    pub fn fail_next(&self, error: PortError) {
        lock(&self.queue).push((None, error));
    }

    /// The next `times` calls of `operation` (the method name: `start_build`,
    /// `change_tags`, ...) fail with `error`.
    pub fn fail(&self, operation: &'static str, error: PortError, times: usize) {
        let mut queue = lock(&self.queue);
        for _ in 0..times {
            queue.push((Some(operation), error.clone()));
        }
    }

    /// The `times` calls of `operation` after the next `passes` fail with `error`
    /// (a batch that fails half-way, and keeps failing through the retries).
    pub fn fail_after(
        &self,
        operation: &'static str,
        passes: usize,
        error: PortError,
        times: usize,
    ) {
        let mut later = lock(&self.later);
        for n in 0..times {
            later.push((operation, passes + n, error.clone()));
        }
    }

    /// Forgets the failures still waiting (the outage is over).
    pub fn clear(&self) {
        lock(&self.queue).clear();
        lock(&self.later).clear();
    }

    /// Whether failures are still waiting.
    pub fn pending(&self) -> usize {
        lock(&self.queue).len() + lock(&self.later).len()
    }

    fn check(&self, operation: &'static str) -> Result<(), PortError> {
        crash::step(operation);
        {
            // every failure waiting for this operation counts the call
            let mut later = lock(&self.later);
            let due = later
                .iter()
                .position(|(op, passes, _)| *op == operation && *passes == 0);
            let failed = due.map(|index| later.remove(index).2);
            for (op, passes, _) in later.iter_mut() {
                if *op == operation {
                    *passes = passes.saturating_sub(1);
                }
            }
            if let Some(error) = failed {
                return Err(error);
            }
        }
        let mut queue = lock(&self.queue);
        let found = queue
            .iter()
            .position(|(op, _)| op.is_none_or(|op| op == operation));
        match found {
            Some(index) => Err(queue.remove(index).1),
            None => Ok(()),
        }
    }
}

impl Clone for Faults {
    fn clone(&self) -> Self {
        Self {
            queue: Mutex::new(lock(&self.queue).clone()),
            later: Mutex::new(lock(&self.later).clone()),
        }
    }
}

/// Calls made, by operation.
#[derive(Debug, Default)]
pub struct Calls {
    counts: Mutex<BTreeMap<&'static str, usize>>,
}

impl Calls {
    fn count(&self, operation: &'static str) {
        *lock(&self.counts).entry(operation).or_default() += 1;
    }

    /// How many times `operation` was called.
    pub fn of(&self, operation: &str) -> usize {
        lock(&self.counts).get(operation).copied().unwrap_or(0)
    }

    /// Every call, by operation.
    pub fn all(&self) -> BTreeMap<&'static str, usize> {
        lock(&self.counts).clone()
    }

    /// Forgets the calls made so far.
    pub fn reset(&self) {
        lock(&self.counts).clear();
    }
}

impl Clone for Calls {
    fn clone(&self) -> Self {
        Self {
            counts: Mutex::new(lock(&self.counts).clone()),
        }
    }
}

/// An account held in memory: what Organizations describes, and its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryAccount {
    /// Id, name, e-mail, status.
    pub record: AccountRecord,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
struct Tree {
    /// Each account or OU and its parent.
    parents: BTreeMap<String, String>,
    /// Accounts described (an account only placed with `with_parent` is described
    /// with its id as name, no e-mail, active).
    accounts: BTreeMap<String, MemoryAccount>,
    /// Names of OUs and roots.
    names: BTreeMap<String, String>,
    /// Policies by name (their content), and the accounts each is attached to.
    policies: BTreeMap<String, (String, BTreeSet<String>)>,
}

impl Tree {
    fn account(&self, id: &str) -> Option<MemoryAccount> {
        if let Some(account) = self.accounts.get(id) {
            return Some(account.clone());
        }
        let account = AccountId::parse(id).filter(|_| self.parents.contains_key(id))?;
        Some(MemoryAccount {
            record: AccountRecord {
                name: id.to_owned(),
                id: account,
                email: Sensitive::new(""),
                status: AccountStatus::Active,
            },
            tags: BTreeMap::new(),
        })
    }

    fn account_mut(&mut self, id: &str) -> Option<&mut MemoryAccount> {
        if !self.accounts.contains_key(id) {
            let account = self.account(id)?;
            self.accounts.insert(id.to_owned(), account);
        }
        self.accounts.get_mut(id)
    }

    fn unit(&self, id: &str) -> Unit {
        Unit {
            id: id.to_owned(),
            name: self.names.get(id).cloned().unwrap_or_else(|| id.to_owned()),
        }
    }

    fn children(&self, parent: &str) -> impl Iterator<Item = &String> {
        self.parents
            .iter()
            .filter(move |(_, p)| p.as_str() == parent)
            .map(|(child, _)| child)
    }
}

/// An organization held in memory: roots, OUs and accounts (with name, e-mail, status
/// and tags), each placed under its parent.
///
/// The tree alone (`with_parent`, `ancestors_of`) follows the rules of
/// [`TreeFile`](super::TreeFile), the tree `spa plan --tree` reads; the accounts and
/// their tags serve the use cases through the [`Organization`] port.
#[derive(Debug, Default)]
pub struct MemoryOrganization {
    tree: Mutex<Tree>,
    /// Failures to inject.
    pub faults: Faults,
    /// Calls made, by operation (`tags`, `change_tags`, `accounts_in`, ...).
    pub calls: Calls,
}

impl Clone for MemoryOrganization {
    fn clone(&self) -> Self {
        Self {
            tree: Mutex::new(lock(&self.tree).clone()),
            faults: self.faults.clone(),
            calls: self.calls.clone(),
        }
    }
}

impl MemoryOrganization {
    /// An empty organization.
    pub fn new() -> Self {
        Self::default()
    }

    /// Places `child` (an account or OU id) under `parent` (an OU or root id).
    pub fn with_parent(mut self, child: &str, parent: &str) -> Self {
        self.set_parent(child, parent);
        self
    }

    /// Places or moves `child` under `parent`.
    pub fn set_parent(&mut self, child: &str, parent: &str) {
        self.place(child, parent);
    }

    /// Places or moves `child` under `parent` (shared access: an operator moving an
    /// account by hand in a test).
    pub fn place(&self, child: &str, parent: &str) {
        lock(&self.tree)
            .parents
            .insert(child.to_owned(), parent.to_owned());
    }

    /// Names an OU or a root (their id is their name otherwise).
    pub fn with_name(self, id: &str, name: &str) -> Self {
        lock(&self.tree)
            .names
            .insert(id.to_owned(), name.to_owned());
        self
    }

    /// Adds an OU named `name` under `parent`.
    pub fn with_unit(self, id: &str, name: &str, parent: &str) -> Self {
        self.place(id, parent);
        self.with_name(id, name)
    }

    /// Adds an active account under `parent`, named `name`, with the e-mail
    /// `<name>@example.com`.
    pub fn with_account(self, id: &str, name: &str, parent: &str) -> Self {
        self.add_account(id, name, parent);
        self
    }

    /// Adds (or replaces) an active account under `parent`, without tags.
    pub fn add_account(&self, id: &str, name: &str, parent: &str) {
        let Some(account) = AccountId::parse(id) else {
            return;
        };
        let mut tree = lock(&self.tree);
        tree.parents.insert(id.to_owned(), parent.to_owned());
        tree.accounts.insert(
            id.to_owned(),
            MemoryAccount {
                record: AccountRecord {
                    id: account,
                    name: name.to_owned(),
                    email: Sensitive::new(&format!("{name}@example.com")),
                    status: AccountStatus::Active,
                },
                tags: BTreeMap::new(),
            },
        );
    }

    /// Sets tags on an account by hand (not through the port: no call counted).
    pub fn with_tags(self, id: &str, tags: &[(&str, &str)]) -> Self {
        self.set_tags(id, tags);
        self
    }

    /// Sets tags on an account by hand (an operator in the console).
    pub fn set_tags(&self, id: &str, tags: &[(&str, &str)]) {
        if let Some(account) = lock(&self.tree).account_mut(id) {
            for (key, value) in tags {
                account.tags.insert((*key).to_owned(), (*value).to_owned());
            }
        }
    }

    /// Removes tags from an account by hand.
    pub fn remove_tags(&self, id: &str, keys: &[&str]) {
        if let Some(account) = lock(&self.tree).account_mut(id) {
            for key in keys {
                account.tags.remove(*key);
            }
        }
    }

    /// The tags of an account as they are (no call counted; empty when unknown).
    pub fn tags_of(&self, id: &str) -> BTreeMap<String, String> {
        lock(&self.tree)
            .account(id)
            .map(|account| account.tags)
            .unwrap_or_default()
    }

    /// The status of an account (`close_account` suspends it).
    pub fn status_of(&self, id: &str) -> Option<AccountStatus> {
        lock(&self.tree)
            .account(id)
            .map(|account| account.record.status)
    }

    /// Sets the status of an account (closing it suspends it).
    pub fn set_status(&self, id: &str, status: AccountStatus) {
        if let Some(account) = lock(&self.tree).account_mut(id) {
            account.record.status = status;
        }
    }

    /// Removes an account from the organization.
    pub fn remove_account(&self, id: &str) {
        let mut tree = lock(&self.tree);
        tree.accounts.remove(id);
        tree.parents.remove(id);
    }

    /// The parent of an account or OU.
    pub fn parent_of(&self, id: &str) -> Option<String> {
        lock(&self.tree).parents.get(id).cloned()
    }

    /// The parents of `id`, nearest first, up to the root (the port without a runtime).
    pub fn ancestors_of(&self, id: &str) -> Result<Vec<String>, PortError> {
        super::tree::ancestors(&lock(&self.tree).parents, id)
    }

    fn enter(&self, operation: &'static str) -> Result<(), PortError> {
        self.calls.count(operation);
        self.faults.check(operation)
    }
}

impl OrganizationTree for MemoryOrganization {
    async fn ancestors(&self, id: &str) -> Result<Vec<String>, PortError> {
        self.enter("ancestors")?;
        self.ancestors_of(id)
    }
}

fn not_found(id: &str) -> PortError {
    PortError::not_in_organization(id)
}

impl Organization for MemoryOrganization {
    async fn describe_account(&self, id: &AccountId) -> Result<AccountRecord, PortError> {
        self.enter("describe_account")?;
        lock(&self.tree)
            .account(id.as_str())
            .map(|account| account.record)
            .ok_or_else(|| not_found(id.as_str()))
    }

    async fn list_accounts(&self) -> Result<Vec<AccountRecord>, PortError> {
        self.enter("list_accounts")?;
        let tree = lock(&self.tree);
        let ids: BTreeSet<&String> = tree
            .accounts
            .keys()
            .chain(
                tree.parents
                    .keys()
                    .filter(|id| AccountId::parse(id).is_some()),
            )
            .collect();
        Ok(ids
            .into_iter()
            .filter_map(|id| tree.account(id))
            .map(|account| account.record)
            .collect())
    }

    async fn accounts_in(&self, parent: &str) -> Result<Vec<AccountRecord>, PortError> {
        self.enter("accounts_in")?;
        let tree = lock(&self.tree);
        Ok(tree
            .children(parent)
            .filter_map(|child| tree.account(child))
            .map(|account| account.record)
            .collect())
    }

    async fn units_in(&self, parent: &str) -> Result<Vec<Unit>, PortError> {
        self.enter("units_in")?;
        let tree = lock(&self.tree);
        Ok(tree
            .children(parent)
            .filter(|child| child.starts_with("ou-"))
            .map(|child| tree.unit(child))
            .collect())
    }

    async fn describe_unit(&self, id: &str) -> Result<Unit, PortError> {
        self.enter("describe_unit")?;
        let tree = lock(&self.tree);
        if !tree.parents.contains_key(id) && !tree.names.contains_key(id) {
            return Err(PortError::not_in_organization(id));
        }
        Ok(tree.unit(id))
    }

    async fn roots(&self) -> Result<Vec<Unit>, PortError> {
        self.enter("roots")?;
        let tree = lock(&self.tree);
        let roots: BTreeSet<&String> = tree
            .parents
            .values()
            .chain(tree.names.keys())
            .filter(|id| id.starts_with("r-") && !tree.parents.contains_key(*id))
            .collect();
        Ok(roots.into_iter().map(|id| tree.unit(id)).collect())
    }

    async fn tags(&self, id: &AccountId) -> Result<BTreeMap<String, String>, PortError> {
        self.enter("tags")?;
        lock(&self.tree)
            .account(id.as_str())
            .map(|account| account.tags)
            .ok_or_else(|| not_found(id.as_str()))
    }

    async fn change_tags(&self, id: &AccountId, changes: &TagChanges) -> Result<(), PortError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.enter("change_tags")?;
        let mut tree = lock(&self.tree);
        let account = tree
            .account_mut(id.as_str())
            .ok_or_else(|| not_found(id.as_str()))?;
        changes.apply(&mut account.tags);
        Ok(())
    }

    async fn move_account(&self, id: &AccountId, from: &str, to: &str) -> Result<(), PortError> {
        self.enter("move_account")?;
        let mut tree = lock(&self.tree);
        match tree.parents.get(id.as_str()) {
            Some(parent) if parent == from => {
                tree.parents.insert(id.as_str().to_owned(), to.to_owned());
                Ok(())
            }
            Some(parent) => Err(PortError::Rejected {
                service: "organizations".into(),
                action: "MoveAccount".into(),
                message: format!("{id} is under {parent}, not under {from}"),
            }),
            None => Err(not_found(id.as_str())),
        }
    }

    async fn close_account(&self, id: &AccountId) -> Result<(), PortError> {
        self.enter("close_account")?;
        let mut tree = lock(&self.tree);
        match tree.account_mut(id.as_str()) {
            Some(account) => {
                account.record.status = AccountStatus::Suspended;
                Ok(())
            }
            None => Err(not_found(id.as_str())),
        }
    }

    async fn freeze(
        &self,
        id: &AccountId,
        policy: &spa_core::guardrails::Policy,
    ) -> Result<(), PortError> {
        self.enter("freeze")?;
        let mut tree = lock(&self.tree);
        if tree.account(id.as_str()).is_none() {
            return Err(not_found(id.as_str()));
        }
        tree.policies
            .entry(policy.name.clone())
            .or_insert_with(|| (policy.content.clone(), BTreeSet::new()))
            .1
            .insert(id.as_str().to_owned());
        Ok(())
    }

    async fn thaw(&self, id: &AccountId, policy: &str) -> Result<(), PortError> {
        self.enter("thaw")?;
        if let Some((_, targets)) = lock(&self.tree).policies.get_mut(policy) {
            targets.remove(id.as_str());
        }
        Ok(())
    }
}

impl MemoryOrganization {
    /// The names of the policies attached to an account (by `freeze`).
    pub fn policies_of(&self, id: &str) -> Vec<String> {
        lock(&self.tree)
            .policies
            .iter()
            .filter(|(_, (_, targets))| targets.contains(id))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Builds held in memory: every request recorded, ids `<project>:<n>`.
///
/// Like CodeBuild with an `idempotencyToken`, a start with a token seen before
/// returns the build it started then and starts nothing.
#[derive(Debug, Default)]
pub struct MemoryBuilds {
    state: Mutex<BuildsState>,
    /// Failures to inject (`ensure_footprint`, `start_build`, `build_status`).
    pub faults: Faults,
    /// Calls made, by operation.
    pub calls: Calls,
}

#[derive(Debug, Default)]
struct BuildsState {
    footprints: Vec<(AccountId, Footprint)>,
    started: Vec<(BuildRequest, BuildId)>,
    tokens: BTreeMap<String, BuildId>,
    statuses: BTreeMap<BuildId, BuildStatus>,
    default_status: Option<BuildStatus>,
}

impl MemoryBuilds {
    /// The footprints ensured, in order.
    pub fn footprints(&self) -> Vec<(AccountId, Footprint)> {
        lock(&self.state).footprints.clone()
    }

    /// The builds started (not the repeated requests of one token), in order.
    pub fn started(&self) -> Vec<(BuildRequest, BuildId)> {
        lock(&self.state).started.clone()
    }

    /// The builds started in one account.
    pub fn started_in(&self, account: &str) -> Vec<(BuildRequest, BuildId)> {
        self.started()
            .into_iter()
            .filter(|(request, _)| request.account.as_str() == account)
            .collect()
    }

    /// The last build started in an account.
    pub fn last_in(&self, account: &str) -> Option<BuildId> {
        self.started_in(account).pop().map(|(_, id)| id)
    }

    /// The next start fails with `error`, `times` times.
    pub fn fail_starts(&self, error: PortError, times: usize) {
        self.faults.fail("start_build", error, times);
    }

    /// The next status reads fail with `error`, `times` times.
    pub fn fail_status(&self, error: PortError, times: usize) {
        self.faults.fail("build_status", error, times);
    }

    /// What `build_status` answers for a build from now on (in progress until told).
    pub fn set_status(&self, build: &BuildId, status: BuildStatus) {
        lock(&self.state).statuses.insert(build.clone(), status);
    }

    /// What `build_status` answers for builds not told otherwise (in progress when
    /// unset; `SUCCEEDED` behaves like the emulator, whose builds end at once).
    pub fn set_default_status(&self, status: BuildStatus) {
        lock(&self.state).default_status = Some(status);
    }

    fn enter(&self, operation: &'static str) -> Result<(), PortError> {
        self.calls.count(operation);
        self.faults.check(operation)
    }
}

impl Builds for MemoryBuilds {
    async fn ensure_footprint(
        &self,
        account: &AccountId,
        footprint: &Footprint,
    ) -> Result<(), PortError> {
        self.enter("ensure_footprint")?;
        lock(&self.state)
            .footprints
            .push((account.clone(), footprint.clone()));
        Ok(())
    }

    async fn start_build(
        &self,
        footprint: &Footprint,
        request: &BuildRequest,
    ) -> Result<BuildId, PortError> {
        self.enter("start_build")?;
        let mut state = lock(&self.state);
        if let Some(id) = state.tokens.get(&request.idempotency_token) {
            return Ok(id.clone());
        }
        let project = &footprint.project(request.kind).name;
        let id =
            BuildId::new(&format!("{project}:{}", state.started.len() + 1)).map_err(|error| {
                PortError::Rejected {
                    service: "codebuild".into(),
                    action: "StartBuild".into(),
                    message: error.to_string(),
                }
            })?;
        state
            .tokens
            .insert(request.idempotency_token.clone(), id.clone());
        state.started.push((request.clone(), id.clone()));
        Ok(id)
    }

    async fn build_status(
        &self,
        _account: &AccountId,
        build: &BuildId,
    ) -> Result<BuildStatus, PortError> {
        self.enter("build_status")?;
        let state = lock(&self.state);
        if !state.started.iter().any(|(_, id)| id == build) {
            return Err(not_found(build.as_str()));
        }
        Ok(state
            .statuses
            .get(build)
            .copied()
            .or(state.default_status)
            .unwrap_or(BuildStatus::InProgress))
    }
}

/// History and bookkeeping held in memory.
///
/// The outbox ([`TurnWrites::events`]) is relayed at once, in the write that ends
/// the turn, to the bus it was tied to ([`MemoryStore::relay_to`]; what
/// [`MemoryPlatform::new`] does): the table's stream and the `relay` function in one
/// step, so that a test of a use case sees the events of a transition on the bus
/// when it returns. Untied ([`MemoryPlatform::streamed`]), the events stay in the
/// outbox for whoever plays the stream (the local runtime).
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
    relay: Mutex<Option<Arc<Mutex<Vec<DomainEvent>>>>>,
    /// Failures to inject.
    pub faults: Faults,
    /// Calls made, by operation.
    pub calls: Calls,
}

impl MemoryStore {
    /// Relays every new event of the outbox to `bus` at once.
    pub fn relay_to(&self, bus: &MemoryBus) {
        *lock(&self.relay) = Some(Arc::clone(&bus.events));
    }

    /// Relays nothing: the events stay in the outbox.
    pub fn unrelayed(&self) {
        *lock(&self.relay) = None;
    }
}

#[derive(Debug, Default)]
struct StoreState {
    claims: BTreeMap<String, StoredClaim>,
    activities: Vec<Activity>,
    deadlines: BTreeMap<(AccountId, DeadlineKind), DateTime<Utc>>,
    incidents: BTreeMap<(AccountId, Label), String>,
    logins: BTreeMap<AccountId, DateTime<Utc>>,
    known: BTreeMap<AccountId, KnownAccount>,
    writers: BTreeMap<AccountId, StoredWriter>,
    ledgers: BTreeMap<AccountId, BTreeMap<String, spa_core::spend::Entry>>,
    actuals: BTreeMap<AccountId, spa_core::spend::Actual>,
    price_sheets: BTreeMap<(String, String), spa_core::spend::PriceSheet>,
    requests: BTreeMap<String, spa_core::requests::AccessRequest>,
    /// The keys of the outbox's items: an event whose key is here is not new.
    outbox: BTreeSet<String>,
}

/// An account's writer lease and cache as the store keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct StoredWriter {
    /// Until when the lease is held; `None` once freed.
    until: Option<DateTime<Utc>>,
    /// The cause the lease was last taken for, when it claimed one.
    cause: Option<String>,
    /// What the holder noted for its cause.
    note: Option<String>,
    cache: AccountCache,
    /// The causes ended: when, and why when they failed for good.
    ended: BTreeMap<String, (DateTime<Utc>, Option<String>)>,
}

/// A claim as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredClaim {
    /// `None` while leased; `Some(None)` done; `Some(Some(why))` failed.
    ended: Option<Option<String>>,
    until: DateTime<Utc>,
    note: Option<String>,
}

impl MemoryStore {
    /// Whether a key is claimed (leased or ended), on its own or with an account's
    /// writer lease.
    pub fn is_claimed(&self, key: &str) -> bool {
        let state = lock(&self.state);
        state.claims.contains_key(key)
            || state.writers.values().any(|writer| {
                writer.ended.contains_key(key)
                    || (writer.until.is_some() && writer.cause.as_deref() == Some(key))
            })
    }

    /// Whether a key is claimed and done (or failed): the reaction ended.
    pub fn is_done(&self, key: &str) -> bool {
        let state = lock(&self.state);
        state.claims.get(key).is_some_and(|c| c.ended.is_some())
            || state
                .writers
                .values()
                .any(|writer| writer.ended.contains_key(key))
    }

    /// The keys leased and never ended, with the end of their lease (the causes of
    /// writer leases held among them).
    pub fn leased(&self) -> Vec<(String, DateTime<Utc>)> {
        let state = lock(&self.state);
        let claims = state
            .claims
            .iter()
            .filter(|(_, c)| c.ended.is_none())
            .map(|(k, c)| (k.clone(), c.until));
        let turns = state
            .writers
            .values()
            .filter_map(|writer| Some((writer.cause.clone()?, writer.until?)));
        claims.chain(turns).collect()
    }

    /// Every activity recorded, oldest first.
    pub fn recorded(&self) -> Vec<Activity> {
        lock(&self.state).activities.clone()
    }

    /// The activities of one account, oldest first.
    pub fn recorded_for(&self, account: &str) -> Vec<Activity> {
        self.recorded()
            .into_iter()
            .filter(|a| a.account.as_str() == account)
            .collect()
    }

    /// The labels of the activities of one account, oldest first.
    pub fn labels_for(&self, account: &str) -> Vec<Label> {
        self.recorded_for(account).iter().map(|a| a.label).collect()
    }

    /// Every deadline.
    pub fn deadlines(&self) -> Vec<Deadline> {
        lock(&self.state)
            .deadlines
            .iter()
            .map(|((account, kind), due)| Deadline {
                account: account.clone(),
                kind: *kind,
                due: *due,
            })
            .collect()
    }

    /// A deadline of an account.
    pub fn deadline(&self, account: &str, kind: DeadlineKind) -> Option<DateTime<Utc>> {
        let account = AccountId::parse(account)?;
        lock(&self.state).deadlines.get(&(account, kind)).copied()
    }

    fn enter(&self, operation: &'static str) -> Result<(), PortError> {
        self.calls.count(operation);
        self.faults.check(operation)
    }
}

impl Claims for MemoryStore {
    async fn claim(
        &self,
        key: &str,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        replay: bool,
    ) -> Result<Claim, PortError> {
        self.enter("claim")?;
        let mut state = lock(&self.state);
        let found = match state.claims.get(key) {
            None => Claim::New,
            Some(StoredClaim {
                ended: Some(Some(_)),
                ..
            }) if replay => Claim::New,
            Some(StoredClaim {
                ended: Some(Some(why)),
                ..
            }) => return Ok(Claim::Failed { why: why.clone() }),
            Some(StoredClaim {
                ended: Some(None), ..
            }) => return Ok(Claim::Seen),
            Some(held) if held.until > at => return Ok(Claim::Busy { until: held.until }),
            Some(held) => Claim::Resumed {
                note: held.note.clone(),
            },
        };
        let note = match &found {
            Claim::Resumed { note } => note.clone(),
            _ => None,
        };
        state.claims.insert(
            key.to_owned(),
            StoredClaim {
                ended: None,
                until,
                note,
            },
        );
        Ok(found)
    }

    async fn note(&self, key: &str, note: &str) -> Result<(), PortError> {
        self.enter("note")?;
        if let Some(claim) = lock(&self.state).claims.get_mut(key) {
            claim.note = Some(note.to_owned());
        }
        Ok(())
    }

    async fn complete(
        &self,
        key: &str,
        at: DateTime<Utc>,
        failed: Option<&str>,
    ) -> Result<(), PortError> {
        self.enter("complete")?;
        lock(&self.state).claims.insert(
            key.to_owned(),
            StoredClaim {
                ended: Some(failed.map(str::to_owned)),
                until: at,
                note: None,
            },
        );
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        self.enter("release")?;
        lock(&self.state).claims.remove(key);
        Ok(())
    }
}

impl WriterLeases for MemoryStore {
    async fn take_writer(
        &self,
        account: &AccountId,
        turn: Turn<'_>,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Writer, PortError> {
        self.enter("take_writer")?;
        let mut state = lock(&self.state);
        let writer = state.writers.entry(account.clone()).or_default();
        if turn.claims {
            match writer.ended.get(turn.cause) {
                Some((_, Some(why))) if !turn.replay => {
                    return Ok(Writer::Failed { why: why.clone() });
                }
                Some((_, None)) => return Ok(Writer::Seen),
                _ => {}
            }
        }
        match writer.until {
            Some(held) if held > at => Ok(Writer::Busy { until: held }),
            previous => {
                let same_cause = turn.claims && writer.cause.as_deref() == Some(turn.cause);
                if turn.claims && !same_cause {
                    // another cause's turn that never ended is given up with its note
                    writer.cause = Some(turn.cause.to_owned());
                    writer.note = None;
                }
                writer.until = Some(until);
                Ok(Writer::Held {
                    resumed: previous.is_some(),
                    same_cause,
                    note: if same_cause {
                        writer.note.clone()
                    } else {
                        None
                    },
                    cache: writer.cache.clone(),
                    expired: expired_causes(
                        writer
                            .ended
                            .iter()
                            .map(|(cause, (when, _))| (cause.as_str(), *when)),
                        at,
                    ),
                })
            }
        }
    }

    async fn note_turn(
        &self,
        account: &AccountId,
        cause: &str,
        note: &str,
    ) -> Result<(), PortError> {
        self.enter("note")?;
        if let Some(writer) = lock(&self.state).writers.get_mut(account)
            && writer.cause.as_deref() == Some(cause)
        {
            writer.note = Some(note.to_owned());
        }
        Ok(())
    }

    async fn free_writer(
        &self,
        account: &AccountId,
        cache: &AccountCache,
        ended: Ended<'_>,
    ) -> Result<(), PortError> {
        self.enter("free_writer")?;
        let at = ended.at;
        let mut state = lock(&self.state);
        // the turn's records, deadlines and events, with its end: all or nothing
        state
            .activities
            .extend(ended.writes.activities.iter().cloned());
        // an item written again is the same item: no new stream record
        let inserted: Vec<DomainEvent> = ended
            .writes
            .events
            .iter()
            .filter(|event| state.outbox.insert(spa_core::events::outbox_key(event)))
            .cloned()
            .collect();
        if let Some(bus) = lock(&self.relay).as_ref() {
            lock(bus).extend(inserted);
        }
        for (kind, due) in &ended.writes.deadlines {
            let key = (account.clone(), *kind);
            match due {
                Some(due) => {
                    state.deadlines.insert(key, *due);
                }
                None => {
                    state.deadlines.remove(&key);
                }
            }
        }
        let writer = state.writers.entry(account.clone()).or_default();
        writer.until = None;
        writer.cache = cache.clone();
        for cause in ended.expired {
            writer.ended.remove(cause);
        }
        if !ended.claims {
            return Ok(());
        }
        writer.cause = None;
        writer.note = None;
        match ended.end {
            TurnEnd::Released => {}
            TurnEnd::Done => {
                writer.ended.insert(ended.cause.to_owned(), (at, None));
            }
            TurnEnd::Failed(why) => {
                writer
                    .ended
                    .insert(ended.cause.to_owned(), (at, Some(why.clone())));
            }
        }
        Ok(())
    }

    async fn seed(&self, account: &AccountId, cache: &AccountCache) -> Result<bool, PortError> {
        self.enter("seed")?;
        let mut state = lock(&self.state);
        if state.writers.contains_key(account) {
            return Ok(false);
        }
        state.writers.insert(
            account.clone(),
            StoredWriter {
                cache: cache.clone(),
                ..StoredWriter::default()
            },
        );
        Ok(true)
    }

    async fn cached(&self, account: &AccountId) -> Result<AccountCache, PortError> {
        self.enter("cached")?;
        Ok(lock(&self.state)
            .writers
            .get(account)
            .map(|writer| writer.cache.clone())
            .unwrap_or_default())
    }

    async fn held_by(&self, holder: &str) -> Result<BTreeMap<AccountId, AccountCache>, PortError> {
        self.enter("held_by")?;
        Ok(lock(&self.state)
            .writers
            .iter()
            .filter(|(_, writer)| writer.cache.holder.as_deref() == Some(holder))
            .map(|(account, writer)| (account.clone(), writer.cache.clone()))
            .collect())
    }

    async fn cached_many(
        &self,
        accounts: &[AccountId],
    ) -> Result<BTreeMap<AccountId, AccountCache>, PortError> {
        self.enter("cached_many")?;
        let state = lock(&self.state);
        Ok(accounts
            .iter()
            .filter_map(|account| {
                state
                    .writers
                    .get(account)
                    .map(|writer| (account.clone(), writer.cache.clone()))
            })
            .collect())
    }
}

impl Journal for MemoryStore {
    async fn record(&self, activity: &Activity) -> Result<(), PortError> {
        self.enter("record")?;
        lock(&self.state).activities.push(activity.clone());
        Ok(())
    }

    async fn activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, PortError> {
        self.enter("activities")?;
        let state = lock(&self.state);
        let mut found: Vec<Activity> = state
            .activities
            .iter()
            .rev()
            .filter(|a| query.account.as_ref().is_none_or(|id| &a.account == id))
            .filter(|a| query.since.is_none_or(|since| a.at >= since))
            .cloned()
            .collect();
        // newest first; records of one instant keep their reverse order of writing
        found.sort_by_key(|a| std::cmp::Reverse(a.at));
        if let Some(limit) = query.limit {
            found.truncate(limit);
        }
        Ok(found)
    }
}

impl Deadlines for MemoryStore {
    async fn set_deadline(&self, deadline: &Deadline) -> Result<(), PortError> {
        self.enter("set_deadline")?;
        lock(&self.state)
            .deadlines
            .insert((deadline.account.clone(), deadline.kind), deadline.due);
        Ok(())
    }

    async fn clear_deadline(
        &self,
        account: &AccountId,
        kind: DeadlineKind,
    ) -> Result<(), PortError> {
        self.enter("clear_deadline")?;
        lock(&self.state).deadlines.remove(&(account.clone(), kind));
        Ok(())
    }

    async fn due_deadlines(&self, now: DateTime<Utc>) -> Result<Vec<Deadline>, PortError> {
        self.enter("due_deadlines")?;
        Ok(self
            .deadlines()
            .into_iter()
            .filter(|deadline| deadline.due <= now)
            .collect())
    }
}

impl IncidentRecords for MemoryStore {
    async fn incident(
        &self,
        account: &AccountId,
        label: Label,
    ) -> Result<Option<String>, PortError> {
        self.enter("incident")?;
        Ok(lock(&self.state)
            .incidents
            .get(&(account.clone(), label))
            .cloned())
    }

    async fn set_incident(
        &self,
        account: &AccountId,
        label: Label,
        arn: &str,
        _at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        self.enter("set_incident")?;
        lock(&self.state)
            .incidents
            .insert((account.clone(), label), arn.to_owned());
        Ok(())
    }
}

impl Logins for MemoryStore {
    async fn stamp_login(&self, account: &AccountId, at: DateTime<Utc>) -> Result<(), PortError> {
        self.enter("stamp_login")?;
        let mut state = lock(&self.state);
        let stamp = state.logins.entry(account.clone()).or_insert(at);
        if *stamp < at {
            *stamp = at;
        }
        Ok(())
    }

    async fn last_logins(&self) -> Result<BTreeMap<AccountId, DateTime<Utc>>, PortError> {
        self.enter("last_logins")?;
        Ok(lock(&self.state).logins.clone())
    }
}

impl KnownAccounts for MemoryStore {
    async fn remember_accounts(&self, accounts: &[KnownAccount]) -> Result<(), PortError> {
        self.enter("remember_accounts")?;
        let mut state = lock(&self.state);
        for account in accounts {
            state.known.insert(account.account.clone(), account.clone());
        }
        Ok(())
    }

    async fn known_accounts(&self, accounts: &[AccountId]) -> Result<Vec<KnownAccount>, PortError> {
        self.enter("known_accounts")?;
        let state = lock(&self.state);
        Ok(accounts
            .iter()
            .filter_map(|id| state.known.get(id).cloned())
            .collect())
    }

    async fn known_with_cache(
        &self,
        account: &AccountId,
    ) -> Result<(Option<KnownAccount>, AccountCache), PortError> {
        self.enter("known_with_cache")?;
        let state = lock(&self.state);
        Ok((
            state.known.get(account).cloned(),
            state
                .writers
                .get(account)
                .map(|writer| writer.cache.clone())
                .unwrap_or_default(),
        ))
    }
}

impl super::SpendLedgers for MemoryStore {
    async fn ledger(&self, account: &AccountId) -> Result<Vec<spa_core::spend::Entry>, PortError> {
        self.enter("ledger")?;
        Ok(lock(&self.state)
            .ledgers
            .get(account)
            .map(|entries| entries.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn write_ledger(
        &self,
        account: &AccountId,
        entries: &[spa_core::spend::Entry],
    ) -> Result<(), PortError> {
        self.enter("write_ledger")?;
        let mut state = lock(&self.state);
        let ledger = state.ledgers.entry(account.clone()).or_default();
        for entry in entries {
            let newer = ledger
                .get(&entry.resource.id)
                .is_none_or(|stored| stored.changed < entry.changed);
            if newer {
                ledger.insert(entry.resource.id.clone(), entry.clone());
            }
        }
        Ok(())
    }

    async fn actual(
        &self,
        account: &AccountId,
    ) -> Result<Option<spa_core::spend::Actual>, PortError> {
        self.enter("actual")?;
        Ok(lock(&self.state).actuals.get(account).copied())
    }

    async fn set_actual(
        &self,
        account: &AccountId,
        actual: &spa_core::spend::Actual,
    ) -> Result<(), PortError> {
        self.enter("set_actual")?;
        lock(&self.state).actuals.insert(account.clone(), *actual);
        Ok(())
    }

    async fn price_sheet(
        &self,
        list: &str,
        region: &str,
    ) -> Result<Option<spa_core::spend::PriceSheet>, PortError> {
        self.enter("price_sheet")?;
        Ok(lock(&self.state)
            .price_sheets
            .get(&(list.to_owned(), region.to_owned()))
            .cloned())
    }

    async fn set_price_sheet(&self, sheet: &spa_core::spend::PriceSheet) -> Result<(), PortError> {
        self.enter("set_price_sheet")?;
        lock(&self.state)
            .price_sheets
            .insert((sheet.list.clone(), sheet.region.clone()), sheet.clone());
        Ok(())
    }
}

impl super::AccessRequests for MemoryStore {
    async fn put_request(
        &self,
        request: &spa_core::requests::AccessRequest,
    ) -> Result<bool, PortError> {
        self.enter("put_request")?;
        let mut state = lock(&self.state);
        if state.requests.contains_key(&request.id) {
            return Ok(false);
        }
        state.requests.insert(request.id.clone(), request.clone());
        Ok(true)
    }

    async fn request(
        &self,
        id: &str,
    ) -> Result<Option<spa_core::requests::AccessRequest>, PortError> {
        self.enter("request")?;
        Ok(lock(&self.state).requests.get(id).cloned())
    }

    async fn update_request(
        &self,
        request: &spa_core::requests::AccessRequest,
        expected: &spa_core::requests::AccessRequest,
    ) -> Result<bool, PortError> {
        self.enter("update_request")?;
        let mut state = lock(&self.state);
        let unchanged = state.requests.get(&request.id).is_some_and(|stored| {
            stored.status == expected.status && stored.account == expected.account
        });
        if unchanged {
            state.requests.insert(request.id.clone(), request.clone());
        }
        Ok(unchanged)
    }

    async fn due_requests(&self, now: DateTime<Utc>) -> Result<Vec<String>, PortError> {
        self.enter("due_requests")?;
        Ok(lock(&self.state)
            .requests
            .values()
            .filter(|r| r.status == spa_core::requests::RequestStatus::Pending && r.expires <= now)
            .map(|r| r.id.clone())
            .collect())
    }
}

/// The event bus held in memory: every published event, in order.
#[derive(Debug, Default)]
pub struct MemoryBus {
    events: Arc<Mutex<Vec<DomainEvent>>>,
    /// Failures to inject.
    pub faults: Faults,
    /// Calls made (`publish`).
    pub calls: Calls,
}

impl MemoryBus {
    /// Every event published, in order.
    pub fn published(&self) -> Vec<DomainEvent> {
        lock(&self.events).clone()
    }

    /// The labels of the events published about one account, in order.
    pub fn labels_for(&self, account: &str) -> Vec<Label> {
        self.published()
            .iter()
            .filter(|e| e.account.as_str() == account)
            .map(|e| e.label)
            .collect()
    }
}

impl Bus for MemoryBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PortError> {
        if events.is_empty() {
            return Ok(());
        }
        self.calls.count("publish");
        self.faults.check("publish")?;
        lock(&self.events).extend_from_slice(events);
        Ok(())
    }
}

/// The command queue held in memory: every command sent, in order, until taken.
#[derive(Debug, Default)]
pub struct MemoryCommands {
    queue: Mutex<Vec<AccountCommand>>,
    sent: Mutex<Vec<AccountCommand>>,
    /// Failures to inject (`send`).
    pub faults: Faults,
    /// Calls made: `send`, and `send_message_batch` for each batch of 10 an SQS
    /// adapter would make.
    pub calls: Calls,
}

impl MemoryCommands {
    /// Every command ever sent, in order.
    pub fn sent(&self) -> Vec<AccountCommand> {
        lock(&self.sent).clone()
    }

    /// Takes the commands waiting in the queue (a consumer receiving them).
    pub fn take(&self) -> Vec<AccountCommand> {
        std::mem::take(&mut *lock(&self.queue))
    }
}

impl Commands for MemoryCommands {
    async fn send(&self, commands: &[AccountCommand]) -> Result<(), PortError> {
        if commands.is_empty() {
            return Ok(());
        }
        self.calls.count("send");
        self.faults.check("send")?;
        for _ in commands.chunks(10) {
            self.calls.count("send_message_batch");
        }
        lock(&self.queue).extend_from_slice(commands);
        lock(&self.sent).extend_from_slice(commands);
        Ok(())
    }
}

/// Budgets held in memory: the plan ensured last per account.
#[derive(Debug, Default)]
pub struct MemoryBudgets {
    budgets: Mutex<BTreeMap<AccountId, BudgetPlan>>,
    /// Failures to inject (`ensure_budget`).
    pub faults: Faults,
    /// Calls made.
    pub calls: Calls,
}

impl MemoryBudgets {
    /// The budget of an account.
    pub fn budget(&self, account: &str) -> Option<BudgetPlan> {
        let account = AccountId::parse(account)?;
        lock(&self.budgets).get(&account).cloned()
    }
}

impl Budgets for MemoryBudgets {
    async fn ensure_budget(
        &self,
        account: &AccountId,
        plan: &BudgetPlan,
    ) -> Result<BudgetChange, PortError> {
        self.calls.count("ensure_budget");
        self.faults.check("ensure_budget")?;
        let mut budgets = lock(&self.budgets);
        let change = match budgets.get(account) {
            None => BudgetChange::Created,
            Some(old) if old == plan => BudgetChange::Unchanged,
            Some(old) => {
                let mut what = Vec::new();
                if old.amount != plan.amount || old.currency != plan.currency {
                    what.push("amount".to_owned());
                }
                if old.thresholds != plan.thresholds {
                    what.push("thresholds".to_owned());
                }
                if old.emails != plan.emails || old.topic_arn != plan.topic_arn {
                    what.push("subscribers".to_owned());
                }
                BudgetChange::Updated(what)
            }
        };
        budgets.insert(account.clone(), plan.clone());
        Ok(change)
    }
}

/// An incident held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryIncident {
    /// Its record ARN.
    pub arn: String,
    /// What spa asked for.
    pub request: IncidentRequest,
    /// Open or resolved.
    pub status: IncidentStatus,
    /// Timeline events added after the start, in order.
    pub timeline: Vec<String>,
}

/// Incident Manager held in memory.
#[derive(Debug, Default)]
pub struct MemoryIncidents {
    incidents: Mutex<Vec<MemoryIncident>>,
    /// Failures to inject (`start_incident`, `incident_status`, `add_timeline_event`).
    pub faults: Faults,
    /// Calls made.
    pub calls: Calls,
}

impl MemoryIncidents {
    /// Every incident started, in order.
    pub fn started(&self) -> Vec<MemoryIncident> {
        lock(&self.incidents).clone()
    }

    /// Resolves an incident (as an SRE would).
    pub fn resolve(&self, arn: &str) {
        for incident in lock(&self.incidents).iter_mut() {
            if incident.arn == arn {
                incident.status = IncidentStatus::Resolved;
            }
        }
    }
}

impl Incidents for MemoryIncidents {
    async fn start_incident(&self, request: &IncidentRequest) -> Result<String, PortError> {
        self.calls.count("start_incident");
        self.faults.check("start_incident")?;
        let mut incidents = lock(&self.incidents);
        if let Some(same) = incidents
            .iter()
            .find(|i| i.request.client_token == request.client_token)
        {
            return Ok(same.arn.clone());
        }
        let arn = format!(
            "arn:aws:ssm-incidents::123456789012:incident-record/spa/{}",
            incidents.len() + 1
        );
        incidents.push(MemoryIncident {
            arn: arn.clone(),
            request: request.clone(),
            status: IncidentStatus::Open,
            timeline: Vec::new(),
        });
        Ok(arn)
    }

    async fn incident_status(&self, arn: &str) -> Result<IncidentStatus, PortError> {
        self.calls.count("incident_status");
        self.faults.check("incident_status")?;
        lock(&self.incidents)
            .iter()
            .find(|i| i.arn == arn)
            .map(|i| i.status)
            .ok_or_else(|| PortError::not_found("incident record", arn))
    }

    async fn add_timeline_event(
        &self,
        arn: &str,
        _client_token: &str,
        _at: DateTime<Utc>,
        text: &str,
    ) -> Result<(), PortError> {
        self.calls.count("add_timeline_event");
        self.faults.check("add_timeline_event")?;
        let mut incidents = lock(&self.incidents);
        let incident = incidents
            .iter_mut()
            .find(|i| i.arn == arn)
            .ok_or_else(|| PortError::not_found("incident record", arn))?;
        incident.timeline.push(text.to_owned());
        Ok(())
    }
}

/// Costs held in memory: per account, per service.
#[derive(Debug, Default)]
pub struct MemoryCosts {
    costs: Mutex<BTreeMap<AccountId, Vec<ServiceCost>>>,
    /// Failures to inject (`account_costs`).
    pub faults: Faults,
}

impl MemoryCosts {
    /// Sets what an account costs, service by service.
    pub fn set(&self, account: &str, costs: Vec<ServiceCost>) {
        if let Some(account) = AccountId::parse(account) {
            lock(&self.costs).insert(account, costs);
        }
    }
}

impl Costs for MemoryCosts {
    async fn account_costs(
        &self,
        account: &AccountId,
        _start: chrono::NaiveDate,
        _end: chrono::NaiveDate,
    ) -> Result<Vec<ServiceCost>, PortError> {
        self.faults.check("account_costs")?;
        Ok(lock(&self.costs).get(account).cloned().unwrap_or_default())
    }
}

/// The Price List API in memory: the product documents of each service code,
/// product family and region, as set.
#[derive(Debug, Default)]
pub struct MemoryPriceList {
    documents: Mutex<BTreeMap<(String, String, String), Vec<String>>>,
    /// The queries asked, in order.
    asked: Mutex<Vec<spa_core::spend::price_list::PriceQuery>>,
    /// Failures to inject (`products`).
    pub faults: Faults,
}

impl MemoryPriceList {
    /// Sets what a query of `service_code`'s `family` (`productFamily`) in `region`
    /// answers.
    pub fn set(&self, service_code: &str, family: &str, region: &str, documents: Vec<String>) {
        lock(&self.documents).insert(
            (
                service_code.to_owned(),
                family.to_owned(),
                region.to_owned(),
            ),
            documents,
        );
    }

    /// The queries asked, in order.
    pub fn asked(&self) -> Vec<spa_core::spend::price_list::PriceQuery> {
        lock(&self.asked).clone()
    }
}

impl super::PriceList for MemoryPriceList {
    async fn products(
        &self,
        query: &spa_core::spend::price_list::PriceQuery,
    ) -> Result<Vec<String>, PortError> {
        lock(&self.asked).push(query.clone());
        self.faults.check("products")?;
        let family = query
            .filters
            .iter()
            .find(|(name, _)| *name == "productFamily")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        Ok(lock(&self.documents)
            .get(&(query.service_code.to_owned(), family, query.region.clone()))
            .cloned()
            .unwrap_or_default())
    }
}

/// The organization's costs held in memory: each month's breakdowns as set, and
/// daily charges per account and service from which periods and days are computed.
#[derive(Debug, Default)]
pub struct MemoryCostSource {
    months: Mutex<BTreeMap<Month, CostBreakdowns>>,
    daily: Mutex<Vec<(NaiveDate, AccountId, String, f64)>>,
    forecast: Mutex<Option<Forecast>>,
    currency: Mutex<Option<String>>,
    /// Failures to inject (`monthly_costs`, `period_costs`, `daily_costs`, `forecast`).
    pub faults: Faults,
    /// Calls made.
    pub calls: Calls,
}

impl MemoryCostSource {
    /// Sets the breakdowns of `month`.
    pub fn set_month(&self, month: Month, costs: CostBreakdowns) {
        lock(&self.months).insert(month, costs);
    }

    /// Adds what `account` was charged for `service` on `day`.
    pub fn add_daily(&self, day: NaiveDate, account: &str, service: &str, amount: f64) {
        if let Some(account) = AccountId::parse(account) {
            lock(&self.daily).push((day, account, service.to_owned(), amount));
        }
    }

    /// Sets the forecast (answered for its month only).
    pub fn set_forecast(&self, forecast: Option<Forecast>) {
        *lock(&self.forecast) = forecast;
    }

    /// Sets the currency of periods (default `USD`).
    pub fn set_currency(&self, currency: &str) {
        *lock(&self.currency) = Some(currency.to_owned());
    }

    fn currency(&self) -> String {
        lock(&self.currency)
            .clone()
            .unwrap_or_else(|| "USD".to_owned())
    }
}

fn highest_first<K: Ord>(totals: BTreeMap<K, f64>) -> Vec<(K, f64)> {
    let mut rows: Vec<(K, f64)> = totals.into_iter().filter(|(_, a)| *a != 0.0).collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

impl CostSource for MemoryCostSource {
    async fn monthly_costs(&self, month: Month) -> Result<CostBreakdowns, PortError> {
        self.calls.count("monthly_costs");
        self.faults.check("monthly_costs")?;
        Ok(lock(&self.months)
            .get(&month)
            .cloned()
            .unwrap_or_else(|| CostBreakdowns {
                currency: self.currency(),
                ..CostBreakdowns::default()
            }))
    }

    async fn period_costs(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        account: Option<&AccountId>,
    ) -> Result<PeriodCosts, PortError> {
        self.calls.count("period_costs");
        self.faults.check("period_costs")?;
        let mut by_service: BTreeMap<String, f64> = BTreeMap::new();
        let mut by_account: BTreeMap<AccountId, f64> = BTreeMap::new();
        for (day, id, service, amount) in lock(&self.daily).iter() {
            if *day < start || *day >= end || account.is_some_and(|a| a != id) {
                continue;
            }
            *by_service.entry(service.clone()).or_default() += amount;
            *by_account.entry(id.clone()).or_default() += amount;
        }
        Ok(PeriodCosts {
            start,
            end,
            currency: self.currency(),
            by_service: highest_first(by_service),
            by_account: highest_first(by_account),
        })
    }

    async fn daily_costs(
        &self,
        accounts: &[AccountId],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<DailyCost>, PortError> {
        self.calls.count("daily_costs");
        self.faults.check("daily_costs")?;
        let mut days: BTreeMap<(NaiveDate, AccountId), f64> = BTreeMap::new();
        for (day, id, _, amount) in lock(&self.daily).iter() {
            if *day >= start && *day < end && accounts.contains(id) {
                *days.entry((*day, id.clone())).or_default() += amount;
            }
        }
        Ok(DailyCost::from_sums(days))
    }

    async fn forecast(
        &self,
        month: Month,
        _today: NaiveDate,
    ) -> Result<Option<Forecast>, PortError> {
        self.calls.count("forecast");
        self.faults.check("forecast")?;
        Ok(lock(&self.forecast).clone().filter(|f| f.month == month))
    }
}

/// Objects held in memory (the reports bucket).
#[derive(Debug, Default)]
pub struct MemoryObjects {
    objects: Mutex<BTreeMap<String, (Vec<u8>, String)>>,
    /// Failures to inject (`put`, `get`, `presigned_url`).
    pub faults: Faults,
}

impl MemoryObjects {
    /// The keys stored.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }

    /// The bytes stored under a key (no call counted).
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.objects).get(key).map(|(body, _)| body.clone())
    }
}

impl Objects for MemoryObjects {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        self.faults.check("put")?;
        lock(&self.objects).insert(key.to_owned(), (body, content_type.to_owned()));
        Ok(())
    }

    fn bucket_name(&self) -> Option<String> {
        Some("memory-reports".to_owned())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        self.faults.check("get")?;
        lock(&self.objects)
            .get(key)
            .map(|(body, _)| body.clone())
            .ok_or_else(|| PortError::not_found("object", key))
    }

    async fn presigned_url(
        &self,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<String, PortError> {
        self.faults.check("presigned_url")?;
        if !lock(&self.objects).contains_key(key) {
            return Err(PortError::not_found("object", key));
        }
        Ok(format!(
            "https://reports.example/{key}?X-Amz-Expires={}",
            expires_in.as_secs()
        ))
    }
}

/// Secrets held in memory, by reference (`ssm:/path`, `secretsmanager:name`).
#[derive(Debug, Default)]
pub struct MemorySecrets {
    secrets: Mutex<BTreeMap<String, String>>,
    /// Failures to inject (`secret`).
    pub faults: Faults,
}

impl MemorySecrets {
    /// Stores a secret under a reference.
    pub fn set(&self, reference: &str, value: &str) {
        lock(&self.secrets).insert(reference.to_owned(), value.to_owned());
    }
}

impl Secrets for MemorySecrets {
    async fn secret(&self, reference: &str) -> Result<Secret, PortError> {
        self.faults.check("secret")?;
        lock(&self.secrets)
            .get(reference)
            .map(|v| Secret::new(v.clone()))
            .ok_or_else(|| PortError::not_found("secret", reference))
    }
}

/// Chat webhooks held in memory: every body posted, by URL.
#[derive(Debug, Default)]
pub struct MemoryWebhooks {
    posted: Mutex<Vec<(String, serde_json::Value)>>,
    messages: Mutex<Vec<serde_json::Value>>,
    slack_users: Mutex<BTreeMap<String, String>>,
    /// Failures to inject (`post_json`).
    pub faults: Faults,
}

impl MemoryWebhooks {
    /// Every post, in order: (URL, body).
    pub fn posted(&self) -> Vec<(String, serde_json::Value)> {
        lock(&self.posted).clone()
    }

    /// Every message posted with Slack's Web API, in order.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        lock(&self.messages).clone()
    }

    /// Slack's directory knows `email` as the user `id`.
    pub fn add_slack_user(&self, email: &str, id: &str) {
        lock(&self.slack_users).insert(email.to_ascii_lowercase(), id.to_owned());
    }
}

impl Webhooks for MemoryWebhooks {
    async fn post_json(&self, url: &Secret, body: &serde_json::Value) -> Result<(), PortError> {
        self.faults.check("post_json")?;
        lock(&self.posted).push((url.expose().to_owned(), body.clone()));
        Ok(())
    }

    async fn post_message(
        &self,
        _token: &Secret,
        body: &serde_json::Value,
    ) -> Result<(), PortError> {
        self.faults.check("post_message")?;
        lock(&self.messages).push(body.clone());
        Ok(())
    }

    async fn slack_user(&self, _token: &Secret, email: &str) -> Result<Option<String>, PortError> {
        self.faults.check("slack_user")?;
        Ok(lock(&self.slack_users)
            .get(&email.to_ascii_lowercase())
            .cloned())
    }
}

/// E-mail held in memory: every message sent.
#[derive(Debug, Default)]
pub struct MemoryMail {
    sent: Mutex<Vec<Email>>,
    /// Failures to inject (`send_email`).
    pub faults: Faults,
}

impl MemoryMail {
    /// Every e-mail sent, in order.
    pub fn sent(&self) -> Vec<Email> {
        lock(&self.sent).clone()
    }
}

impl Mail for MemoryMail {
    async fn send_email(&self, email: &Email) -> Result<String, PortError> {
        self.faults.check("send_email")?;
        let mut sent = lock(&self.sent);
        sent.push(email.clone());
        Ok(format!("message-{}", sent.len()))
    }
}

/// A clock that says what it is told.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// The time it says (without the `Clock` trait in scope).
    pub fn now_at(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *lock(&self.now) = now;
    }

    /// Moves the time forward (or back, with a negative delta).
    pub fn advance(&self, delta: TimeDelta) {
        let mut now = lock(&self.now);
        *now = now.checked_add_signed(delta).unwrap_or(*now);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }
}

/// What the scans read, held in memory: regions, instances and IAM users per account;
/// an account can fail every call, or never answer (a hung region, for timeouts);
/// each call can yield to the runtime before it answers (so that calls overlap), and
/// the calls in flight at once are counted.
#[derive(Debug, Default)]
pub struct MemoryScans {
    state: Mutex<ScansState>,
    /// Failures to inject, one call each (`regions`, `instances`, `iam_users`).
    pub faults: Faults,
    /// Calls made.
    pub calls: Calls,
}

#[derive(Debug, Default)]
struct ScansState {
    regions: BTreeMap<AccountId, Vec<String>>,
    instances: BTreeMap<(AccountId, String), Vec<Instance>>,
    users: BTreeMap<AccountId, Vec<IamUser>>,
    failing: BTreeMap<AccountId, PortError>,
    hung: BTreeSet<AccountId>,
    /// Instances EC2 refuses to stop, by id (a one-time Spot Instance, stop protection).
    unstoppable: BTreeMap<String, PortError>,
    yields: usize,
    in_flight: usize,
    max_in_flight: usize,
}

/// Counts a call in flight until dropped.
struct InFlight<'a>(&'a Mutex<ScansState>);

impl<'a> InFlight<'a> {
    fn enter(state: &'a Mutex<ScansState>) -> Self {
        let mut guard = lock(state);
        guard.in_flight += 1;
        guard.max_in_flight = guard.max_in_flight.max(guard.in_flight);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut guard = lock(self.0);
        guard.in_flight = guard.in_flight.saturating_sub(1);
    }
}

fn account_of(account: &str) -> Option<AccountId> {
    AccountId::parse(account)
}

impl MemoryScans {
    /// The enabled regions of `account` (default: the regions it has instances in,
    /// else `us-east-1`).
    pub fn set_regions(&self, account: &str, regions: &[&str]) {
        if let Some(account) = account_of(account) {
            lock(&self.state)
                .regions
                .insert(account, regions.iter().map(|r| (*r).to_owned()).collect());
        }
    }

    /// Adds an instance in `account` and `region`.
    pub fn add_instance(&self, account: &str, region: &str, instance: Instance) {
        if let Some(account) = account_of(account) {
            lock(&self.state)
                .instances
                .entry((account, region.to_owned()))
                .or_default()
                .push(instance);
        }
    }

    /// Adds an IAM user to `account`.
    pub fn add_user(&self, account: &str, user: IamUser) {
        if let Some(account) = account_of(account) {
            lock(&self.state)
                .users
                .entry(account)
                .or_default()
                .push(user);
        }
    }

    /// Every call about `account` fails with `error` (a missing member role: `Denied`).
    pub fn fail_account(&self, account: &str, error: PortError) {
        if let Some(account) = account_of(account) {
            lock(&self.state).failing.insert(account, error);
        }
    }

    /// Calls about `account` never answer (a hung endpoint: only a timeout ends them).
    pub fn hang_account(&self, account: &str) {
        if let Some(account) = account_of(account) {
            lock(&self.state).hung.insert(account);
        }
    }

    /// Each call yields `times` to the runtime before it answers: concurrent calls
    /// overlap, without any timing.
    pub fn set_yields(&self, times: usize) {
        lock(&self.state).yields = times;
    }

    /// EC2 refuses to stop the instance `id` with `error` (`Rejected` with
    /// `UnsupportedOperation: ...` for a one-time Spot Instance).
    pub fn refuse_stop(&self, id: &str, error: PortError) {
        lock(&self.state).unstoppable.insert(id.to_owned(), error);
    }

    /// The state of the instance `id` of `account` in `region`, if it is there.
    pub fn instance_state(&self, account: &str, region: &str, id: &str) -> Option<String> {
        let account = account_of(account)?;
        lock(&self.state)
            .instances
            .get(&(account, region.to_owned()))?
            .iter()
            .find(|i| i.instance_id == id)
            .map(|i| i.state.clone())
    }

    /// The most calls that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        lock(&self.state).max_in_flight
    }

    async fn enter(
        &self,
        operation: &'static str,
        account: &AccountId,
    ) -> Result<InFlight<'_>, PortError> {
        self.calls.count(operation);
        let flight = InFlight::enter(&self.state);
        let (yields, hung, failing) = {
            let state = lock(&self.state);
            (
                state.yields,
                state.hung.contains(account),
                state.failing.get(account).cloned(),
            )
        };
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        if hung {
            std::future::pending::<()>().await;
        }
        self.faults.check(operation)?;
        match failing {
            Some(error) => Err(error),
            None => Ok(flight),
        }
    }
}

impl Scans for MemoryScans {
    async fn regions(&self, account: &AccountId) -> Result<Vec<String>, PortError> {
        let _flight = self.enter("regions", account).await?;
        let state = lock(&self.state);
        if let Some(regions) = state.regions.get(account) {
            return Ok(regions.clone());
        }
        let mut regions: Vec<String> = state
            .instances
            .keys()
            .filter(|(a, _)| a == account)
            .map(|(_, region)| region.clone())
            .collect();
        if regions.is_empty() {
            regions.push("us-east-1".to_owned());
        }
        Ok(regions)
    }

    async fn instances(
        &self,
        account: &AccountId,
        region: &str,
        filter: &InstanceFilter,
    ) -> Result<Vec<Instance>, PortError> {
        let _flight = self.enter("instances", account).await?;
        let state = lock(&self.state);
        let all = state
            .instances
            .get(&(account.clone(), region.to_owned()))
            .cloned()
            .unwrap_or_default();
        Ok(all
            .into_iter()
            .filter(|i| match filter {
                InstanceFilter::Id(id) => &i.instance_id == id,
                InstanceFilter::PrivateIp(ip) => {
                    i.private_ip.as_deref() == Some(ip.to_string().as_str())
                }
            })
            .collect())
    }

    async fn iam_users(&self, account: &AccountId) -> Result<Vec<IamUser>, PortError> {
        let _flight = self.enter("iam_users", account).await?;
        Ok(lock(&self.state)
            .users
            .get(account)
            .cloned()
            .unwrap_or_default())
    }
}

/// Stops as EC2 does: a running instance goes `stopping` and answers `running`; one
/// stopping or stopped answers that state and stays; a pending, shutting-down or
/// terminated one is refused (`IncorrectInstanceState`); an id that is not the
/// account's in that region is `NotFound` (instances are kept per account).
impl Stops for MemoryScans {
    async fn stop_instance(
        &self,
        account: &AccountId,
        region: &str,
        id: &str,
    ) -> Result<String, PortError> {
        let _flight = self.enter("stop_instance", account).await?;
        let mut state = lock(&self.state);
        if let Some(error) = state.unstoppable.get(id) {
            return Err(error.clone());
        }
        let instance = state
            .instances
            .get_mut(&(account.clone(), region.to_owned()))
            .and_then(|all| all.iter_mut().find(|i| i.instance_id == id))
            .ok_or_else(|| PortError::not_found("EC2 resource", id))?;
        match instance.state.as_str() {
            "running" => {
                instance.state = "stopping".to_owned();
                Ok("running".to_owned())
            }
            "stopping" | "stopped" => Ok(instance.state.clone()),
            other => Err(PortError::Rejected {
                service: "ec2".into(),
                action: "StopInstances".into(),
                message: format!(
                    "IncorrectInstanceState: The instance '{id}' is not in a state from which it can be stopped ({other})."
                ),
            }),
        }
    }
}

/// Every in-memory port, as one [`Platform`].
#[derive(Debug)]
pub struct MemoryPlatform {
    /// Organizations.
    pub organization: MemoryOrganization,
    /// Builds.
    pub builds: MemoryBuilds,
    /// History and bookkeeping.
    pub store: MemoryStore,
    /// The event bus.
    pub bus: MemoryBus,
    /// The command queue.
    pub commands: MemoryCommands,
    /// The time.
    pub clock: FixedClock,
    /// Budgets.
    pub budgets: MemoryBudgets,
    /// Incident Manager.
    pub incidents: MemoryIncidents,
    /// Cost Explorer.
    pub costs: MemoryCosts,
    /// The organization's costs.
    pub cost_source: MemoryCostSource,
    /// The reports bucket.
    pub objects: MemoryObjects,
    /// Secrets.
    pub secrets: MemorySecrets,
    /// Chat webhooks.
    pub webhooks: MemoryWebhooks,
    /// E-mail.
    pub mail: MemoryMail,
    /// Regions, instances and IAM users of member accounts; the instances it stops.
    pub scans: MemoryScans,
    /// The management account's forwarding dead-letter queue.
    pub forwarding: MemoryForwarding,
}

impl MemoryPlatform {
    /// A platform on an organization, its clock at `now`.
    pub fn new(organization: MemoryOrganization, now: DateTime<Utc>) -> Self {
        let store = MemoryStore::default();
        let bus = MemoryBus::default();
        store.relay_to(&bus);
        Self {
            organization,
            builds: MemoryBuilds::default(),
            store,
            bus,
            commands: MemoryCommands::default(),
            clock: FixedClock::new(now),
            budgets: MemoryBudgets::default(),
            incidents: MemoryIncidents::default(),
            costs: MemoryCosts::default(),
            cost_source: MemoryCostSource::default(),
            objects: MemoryObjects::default(),
            secrets: MemorySecrets::default(),
            webhooks: MemoryWebhooks::default(),
            mail: MemoryMail::default(),
            scans: MemoryScans::default(),
            forwarding: MemoryForwarding::default(),
        }
    }
}

impl MemoryPlatform {
    /// The outbox is not relayed at once: the events of a turn stay in the store for
    /// whoever plays the table's stream (the local runtime's `relay` deliveries).
    pub fn streamed(self) -> Self {
        self.store.unrelayed();
        self
    }
}

impl Platform for MemoryPlatform {
    type Organization = MemoryOrganization;
    type Builds = MemoryBuilds;
    type Store = MemoryStore;
    type Bus = MemoryBus;
    type Commands = MemoryCommands;
    type Clock = FixedClock;
    type Budgets = MemoryBudgets;
    type Incidents = MemoryIncidents;
    type Costs = MemoryCosts;
    type CostSource = MemoryCostSource;
    type Objects = MemoryObjects;
    type Secrets = MemorySecrets;
    type Webhooks = MemoryWebhooks;
    type Mail = MemoryMail;
    type Scans = MemoryScans;
    type Stops = MemoryScans;
    type Forwarding = MemoryForwarding;

    fn organization(&self) -> &MemoryOrganization {
        &self.organization
    }
    fn builds(&self) -> &MemoryBuilds {
        &self.builds
    }
    fn store(&self) -> &MemoryStore {
        &self.store
    }
    fn bus(&self) -> &MemoryBus {
        &self.bus
    }
    fn commands(&self) -> &MemoryCommands {
        &self.commands
    }
    fn clock(&self) -> &FixedClock {
        &self.clock
    }
    fn budgets(&self) -> &MemoryBudgets {
        &self.budgets
    }
    fn incidents(&self) -> &MemoryIncidents {
        &self.incidents
    }
    fn costs(&self) -> &MemoryCosts {
        &self.costs
    }
    fn cost_source(&self) -> &MemoryCostSource {
        &self.cost_source
    }
    fn objects(&self) -> &MemoryObjects {
        &self.objects
    }
    fn secrets(&self) -> &MemorySecrets {
        &self.secrets
    }
    fn webhooks(&self) -> &MemoryWebhooks {
        &self.webhooks
    }
    fn mail(&self) -> &MemoryMail {
        &self.mail
    }
    fn scans(&self) -> &MemoryScans {
        &self.scans
    }
    /// The instances the scans read are those it stops.
    fn stops(&self) -> &MemoryScans {
        &self.scans
    }
    fn forwarding(&self) -> &MemoryForwarding {
        &self.forwarding
    }
}

/// The management account's forwarding dead-letter queue, in memory: messages by
/// receipt, taken ones hidden until deleted.
#[derive(Debug, Default)]
pub struct MemoryForwarding {
    queue: Mutex<Vec<(TakenLetter, bool)>>,
    /// Failures to inject.
    pub faults: Faults,
}

impl MemoryForwarding {
    /// EventBridge could not deliver `body` for the environment `environment`: it
    /// lands in the queue.
    pub fn lose(&self, environment: &str, message_id: &str, body: &str, sent_at: DateTime<Utc>) {
        let queue = spa_core::rules::forward_dead_letter_queue(environment);
        let record = spa_core::events::DeadLetterRecord {
            message_id: Some(message_id.to_owned()),
            body: body.to_owned(),
            sent_at: Some(sent_at),
            dead_letter: spa_core::events::DeadLetter::decode(&queue, body, &BTreeMap::new()),
        };
        let receipt = format!("receipt-{message_id}");
        lock(&self.queue).push((TakenLetter { record, receipt }, false));
    }

    /// The messages still in the queue.
    pub fn left(&self) -> usize {
        lock(&self.queue).len()
    }
}

impl Forwarding for MemoryForwarding {
    async fn take_dead_letters(&self, max: usize) -> Result<Vec<TakenLetter>, PortError> {
        self.faults.check("take_dead_letters")?;
        let mut queue = lock(&self.queue);
        Ok(queue
            .iter_mut()
            .filter(|(_, taken)| !*taken)
            .take(max)
            .map(|(letter, taken)| {
                *taken = true;
                letter.clone()
            })
            .collect())
    }

    async fn delete_dead_letter(&self, receipt: &str) -> Result<(), PortError> {
        self.faults.check("delete_dead_letter")?;
        lock(&self.queue).retain(|(letter, _)| letter.receipt != receipt);
        Ok(())
    }
}

/// In-memory Slack users: user id → e-mail address; counts the look-ups; may fail.
#[derive(Debug, Default)]
pub struct MemorySlackUsers {
    users: BTreeMap<String, String>,
    failure: Option<PortError>,
    lookups: Mutex<usize>,
}

impl MemorySlackUsers {
    /// No user.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a user and its address.
    pub fn with_user(mut self, user_id: &str, email: &str) -> Self {
        self.users.insert(user_id.to_owned(), email.to_owned());
        self
    }

    /// Every look-up fails with `error`.
    pub fn failing(mut self, error: PortError) -> Self {
        self.failure = Some(error);
        self
    }

    /// How many look-ups were made.
    pub fn lookups(&self) -> usize {
        self.lookups.lock().map(|n| *n).unwrap_or_default()
    }
}

impl SlackUsers for MemorySlackUsers {
    async fn email(&self, _token: &Secret, user_id: &str) -> Result<Option<String>, PortError> {
        if let Ok(mut n) = self.lookups.lock() {
            *n += 1;
        }
        match &self.failure {
            Some(error) => Err(error.clone()),
            None => Ok(self.users.get(user_id).cloned()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn org() -> MemoryOrganization {
        MemoryOrganization::new()
            .with_parent("ou-sand-boxes", "r-root")
            .with_parent("ou-sand-team", "ou-sand-boxes")
            .with_parent("123456789012", "ou-sand-team")
    }

    #[test]
    fn ancestors_go_from_the_nearest_parent_up_to_the_root() {
        assert_eq!(
            org().ancestors_of("123456789012").unwrap(),
            ["ou-sand-team", "ou-sand-boxes", "r-root"]
        );
        assert_eq!(org().ancestors_of("ou-sand-boxes").unwrap(), ["r-root"]);
    }

    #[test]
    fn an_unknown_id_is_not_found() {
        assert_eq!(
            org().ancestors_of("210987654321"),
            Err(PortError::not_in_organization("210987654321"))
        );
    }

    #[test]
    fn a_loop_is_reported_not_followed() {
        let looped = org().with_parent("ou-sand-boxes", "ou-sand-team");
        let error = looped.ancestors_of("123456789012").unwrap_err();
        assert!(matches!(error, PortError::Inconsistent { .. }), "{error}");
    }

    #[tokio::test]
    async fn the_organization_port_serves_accounts_tags_and_injected_failures() {
        let org = org()
            .with_account("210987654321", "jane", "ou-sand-team")
            .with_tags("210987654321", &[("a", "1")]);
        let id = AccountId::parse("210987654321").unwrap();
        assert_eq!(
            org.tags(&id).await.unwrap().get("a").map(String::as_str),
            Some("1")
        );
        let listed = org.accounts_in("ou-sand-team").await.unwrap();
        assert_eq!(listed.len(), 2, "a placed id and a described account");
        assert_eq!(
            org.units_in("ou-sand-boxes").await.unwrap()[0].id,
            "ou-sand-team"
        );
        assert_eq!(org.roots().await.unwrap()[0].id, "r-root");
        let unavailable = PortError::Unavailable {
            service: "organizations".into(),
            message: "throttled".into(),
        };
        org.faults.fail("tags", unavailable.clone(), 1);
        assert_eq!(org.tags(&id).await, Err(unavailable));
        assert!(org.tags(&id).await.is_ok());
        assert_eq!(org.calls.of("tags"), 3);
    }

    #[tokio::test]
    async fn a_build_token_starts_one_build() {
        let builds = MemoryBuilds::default();
        let footprint = spa_core::footprint::Footprint {
            environment: "E".into(),
            service_role: "r".into(),
            prepare: spa_core::footprint::Project {
                name: "E-Prepare".into(),
                buildspec: String::new(),
                variables: BTreeMap::new(),
                timeout_minutes: 60,
            },
            purge: spa_core::footprint::Project {
                name: "E-Purge".into(),
                buildspec: String::new(),
                variables: BTreeMap::new(),
                timeout_minutes: 60,
            },
            rules: Vec::new(),
        };
        let request = BuildRequest {
            account: AccountId::parse("210987654321").unwrap(),
            kind: spa_core::lifecycle::BuildKind::Preparation,
            attempt: 1,
            variables: BTreeMap::new(),
            idempotency_token: "t".into(),
        };
        let first = builds.start_build(&footprint, &request).await.unwrap();
        assert_eq!(first.as_str(), "E-Prepare:1");
        assert_eq!(
            builds.start_build(&footprint, &request).await.unwrap(),
            first
        );
        assert_eq!(builds.started().len(), 1);
        assert_eq!(
            builds.build_status(&request.account, &first).await,
            Ok(BuildStatus::InProgress)
        );
    }

    #[tokio::test]
    async fn the_cost_source_computes_periods_and_days_from_its_daily_rows() {
        let costs = MemoryCostSource::default();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let a = AccountId::parse("111111111111").unwrap();
        let b = AccountId::parse("222222222222").unwrap();
        costs.add_daily(day("2026-10-05"), "111111111111", "Amazon S3", 1.0);
        costs.add_daily(day("2026-10-05"), "111111111111", "AWS Lambda", 2.0);
        costs.add_daily(day("2026-10-06"), "222222222222", "Amazon S3", 5.0);
        costs.add_daily(day("2026-10-07"), "111111111111", "Amazon S3", 9.0);
        let period = costs
            .period_costs(day("2026-10-05"), day("2026-10-07"), None)
            .await
            .unwrap();
        assert_eq!(
            period.by_service,
            [
                ("Amazon S3".to_owned(), 6.0),
                ("AWS Lambda".to_owned(), 2.0)
            ]
        );
        assert_eq!(period.by_account, [(b.clone(), 5.0), (a.clone(), 3.0)]);
        let one = costs
            .period_costs(day("2026-10-01"), day("2026-11-01"), Some(&a))
            .await
            .unwrap();
        assert_eq!(one.by_account, [(a.clone(), 12.0)]);
        let days = costs
            .daily_costs(
                std::slice::from_ref(&a),
                day("2026-10-05"),
                day("2026-10-08"),
            )
            .await
            .unwrap();
        let amounts: Vec<f64> = days.iter().map(|d| d.amount).collect();
        assert_eq!(amounts, [3.0, 9.0]);

        let month: Month = "2026-10".parse().unwrap();
        assert!(
            costs
                .monthly_costs(month)
                .await
                .unwrap()
                .by_service
                .is_empty()
        );
        let forecast = Forecast {
            month,
            amount: 42.0,
            currency: "USD".into(),
        };
        costs.set_forecast(Some(forecast.clone()));
        assert_eq!(
            costs.forecast(month, day("2026-10-10")).await.unwrap(),
            Some(forecast)
        );
        assert_eq!(
            costs
                .forecast(month.next(), day("2026-11-10"))
                .await
                .unwrap(),
            None
        );
        costs.faults.fail(
            "monthly_costs",
            PortError::Unavailable {
                service: "ce".into(),
                message: "down".into(),
            },
            1,
        );
        assert!(costs.monthly_costs(month).await.is_err());
        assert!(costs.monthly_costs(month).await.is_ok());
        assert_eq!(costs.calls.of("monthly_costs"), 3);
    }
}
