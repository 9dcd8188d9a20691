//! The pure transition function: `(view, trigger, policy) -> decision | rejection`.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use super::build::{AwaitedBuild, BuildId, BuildKind, BuildStatus};
use super::holder::Holder;
use super::policy::Policy;
use super::state::{State, state_name};
use super::view::{AccountView, Inconsistency, Transaction, TransactionKind};
use crate::vocabulary::Label;

/// What happened, and when. Time comes in with the trigger: `decide` reads no clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// When it happened (the event time, or `now` for a sweep).
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: TriggerKind,
}

impl Trigger {
    /// A trigger at an instant.
    pub fn new(at: DateTime<Utc>, kind: TriggerKind) -> Self {
        Self { at, kind }
    }
}

/// How an account left management.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Departure {
    /// Moved out of the managed OUs (`MoveAccount`).
    MovedOut,
    /// Closed (`CloseAccount`): it stays in the organization, suspended, for 90 days,
    /// so its lifecycle tags are cleared.
    Closed,
    /// Removed from the organization: its tags can no longer be written.
    Removed,
}

/// What happened to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerKind {
    /// Created in, or moved into, a managed OU.
    EnteredManagedOu,
    /// Somebody other than spa set `{prefix}state` to `vended` (the view shows the result).
    TaggedVended,
    /// `spa reset`: re-vend an unmanaged or quarantined account.
    OperatorReset,
    /// A build in the account ended.
    BuildFinished {
        /// Its id.
        build: BuildId,
        /// How it ended.
        status: BuildStatus,
    },
    /// Somebody other than spa set `{prefix}holder`.
    HolderTagged(Holder),
    /// `spa assign`.
    OperatorAssign(Holder),
    /// The maintenance window (cron in settings) picked the account.
    MaintenanceWindow,
    /// `spa expire`: like the maintenance window, for one account.
    OperatorExpire,
    /// The lease of the holder ended: the account is released.
    LeaseEnded,
    /// `spa release`: the holder gives the account back.
    OperatorRelease,
    /// The sweeper: overdue transactions and ended leases, at `Trigger::at`.
    Sweep,
    /// `spa close`: a last purge, then the account is closed (or parked in the
    /// suspended unit) and leaves management.
    OperatorClose,
    /// Moved out of the managed OUs, closed or removed.
    Left(Departure),
    /// The spend guard froze the account: a threshold with the `freeze` action was
    /// crossed. The reason is the burn report (no e-mail address in it).
    Freeze {
        /// Why, for humans: which threshold, which resources.
        reason: String,
    },
    /// `spa unfreeze`: the account goes back to the state it was frozen in.
    OperatorUnfreeze,
    /// The holder's lease is to end at `until` (the Slack `Extend` button, `/spa
    /// extend`, or a shorter lease asked with `/spa request`): at most the start of
    /// the assignment plus the lease plus `lease_extension`.
    LeaseEnd {
        /// The new end of the lease.
        until: DateTime<Utc>,
    },
    /// The holder (or an operator for them) puts the next purge off, once, by `by`
    /// (none: the most `purge_notice.snooze` allows).
    Snooze {
        /// How long to put it off.
        by: Option<std::time::Duration>,
        /// Who asks: the holder (checked against the tags), or `None` for an operator.
        asker: Option<Holder>,
    },
}

impl TriggerKind {
    /// A short name for logs and rejections (never an e-mail address).
    pub const fn name(&self) -> &'static str {
        match self {
            TriggerKind::EnteredManagedOu => "entered managed OU",
            TriggerKind::TaggedVended => "state tagged vended",
            TriggerKind::OperatorReset => "operator reset",
            TriggerKind::BuildFinished { .. } => "build finished",
            TriggerKind::HolderTagged(_) => "holder tagged",
            TriggerKind::OperatorAssign(_) => "operator assign",
            TriggerKind::MaintenanceWindow => "maintenance window",
            TriggerKind::OperatorExpire => "operator expire",
            TriggerKind::LeaseEnded => "lease ended",
            TriggerKind::OperatorRelease => "operator release",
            TriggerKind::Sweep => "sweep",
            TriggerKind::OperatorClose => "operator close",
            TriggerKind::Left(Departure::MovedOut) => "moved out of managed OUs",
            TriggerKind::Left(Departure::Closed) => "closed",
            TriggerKind::Left(Departure::Removed) => "removed from the organization",
            TriggerKind::Freeze { .. } => "freeze",
            TriggerKind::OperatorUnfreeze => "operator unfreeze",
            TriggerKind::LeaseEnd { .. } => "lease end",
            TriggerKind::Snooze { .. } => "snooze",
        }
    }
}

/// One thing to do, in order. Tag commands are turned into tag changes by
/// [`TagCodec::encode`](super::TagCodec::encode); the others are for the use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Remove these tags (the policy's `unset_tags`), on vend.
    RemoveTags(BTreeSet<String>),
    /// Set these tags (the policy's `account_tags`), on vend.
    SetTags(std::collections::BTreeMap<String, String>),
    /// Write the state and since when (`{prefix}state`, `{prefix}since`).
    SetState {
        /// The new state.
        state: State,
        /// When it was entered.
        since: DateTime<Utc>,
    },
    /// Remove every lifecycle tag but the holder: the account is no longer managed
    /// (its assignment, if any, ends: `{prefix}assigned-since` goes too).
    ClearState,
    /// Write `{prefix}holder`.
    SetHolder(Holder),
    /// Remove `{prefix}holder` and `{prefix}assigned-since`: the assignment ends with
    /// its holder.
    RemoveHolder,
    /// Write `{prefix}assigned-since`: the holder is first given the account, an
    /// assignment (and its lease) starts at this instant.
    StartAssignment(DateTime<Utc>),
    /// Remove a stray `{prefix}assigned-since` (hand-edited tags being repaired).
    EndAssignment,
    /// Write `{prefix}cooldown-until`: the purge ended, no new holder is given the
    /// account before this instant.
    StartCooldown(DateTime<Utc>),
    /// Writes when the lease ends (`{prefix}lease-until`).
    SetLeaseEnd(DateTime<Utc>),
    /// Write `{prefix}closing`: an operator asked to close the account at this instant.
    StartClosing(DateTime<Utc>),
    /// Close the account in Organizations, or move it to the suspended unit: after its
    /// last purge, once its lifecycle tags are removed.
    Decommission(Decommission),
    /// Start a build; tags: `{prefix}attempts` = attempt, `{prefix}build` removed until
    /// the use case tags the new id with [`TagCodec::build_started`](super::TagCodec::build_started).
    StartBuild {
        /// Preparation or purge.
        kind: BuildKind,
        /// Attempt number of this transition, from 1.
        attempt: u32,
    },
    /// The awaited build is over: remove `{prefix}build` and `{prefix}attempts`.
    ClearBuild,
    /// Create or update the account's budget.
    EnsureBudget,
    /// Write `{prefix}transaction`.
    OpenTransaction(Transaction),
    /// Remove `{prefix}transaction` (the account is ready).
    CloseTransaction(Transaction),
    /// Emit a domain event on the bus.
    EmitEvent(Label),
    /// Write an activity record.
    RecordActivity(Label),
    /// Raise an exception (incident + routed channels).
    RaiseException {
        /// The exception label.
        label: Label,
        /// Why, for humans (no e-mail address in it).
        reason: String,
    },
    /// Write `{prefix}frozen-from` and attach the freeze policy (deny all but read) to
    /// the account.
    Freeze {
        /// The state the account is frozen in, and goes back to.
        from: State,
    },
    /// Detach the freeze policy and remove `{prefix}frozen-from`.
    Thaw,
    /// Write `{prefix}snoozed-until`: the holder put the purge off until then.
    Snooze {
        /// The purge put off.
        purge: DateTime<Utc>,
        /// Until when.
        until: DateTime<Utc>,
    },
    /// Remove `{prefix}snoozed-until`: the purge it put off starts.
    EndSnooze,
    /// The holder is to be told of the purge at `purge`: start its dry run (a purge
    /// build in dry-run mode that changes no state), then write `{prefix}purge-notice`
    /// with [`TagCodec::notice_started`](super::TagCodec::notice_started).
    StartPreview {
        /// The purge announced.
        purge: DateTime<Utc>,
    },
    /// The dry run of the purge at `purge` ended (`status`; none: it never started):
    /// tell the holder what will be deleted, when, and how to snooze.
    TellPurgeNotice {
        /// Who.
        holder: Holder,
        /// The purge announced.
        purge: DateTime<Utc>,
        /// The dry run whose list to read, and how it ended.
        preview: Option<(BuildId, BuildStatus)>,
    },
    /// Tell the holder (e-mail and chat) about their account.
    NotifyHolder {
        /// Who.
        holder: Holder,
        /// What happened.
        label: Label,
    },
}

/// How a closed account leaves: the policy's `suspended_unit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decommission {
    /// `CloseAccount`: suspended by AWS, removed from the organization after 90 days.
    Close,
    /// Moved to this unit (outside the managed ones), where it stays, parked.
    MoveTo(String),
}

/// What to do about a trigger: the state reached and the commands to run, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The state before (`None`: unmanaged).
    pub from: Option<State>,
    /// The state after, the same as `from` when the state does not change.
    pub to: Option<State>,
    /// What to do, in order: tag commands first, then builds, events, notifications.
    pub commands: Vec<Command>,
}

impl Decision {
    /// Whether the state changes.
    pub fn changed(&self) -> bool {
        self.from != self.to
    }

    /// Whether there is nothing to do (a sweep that found nothing due).
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// The labels of the domain events to emit, in order.
    pub fn events(&self) -> impl Iterator<Item = Label> + '_ {
        self.commands.iter().filter_map(|command| match command {
            Command::EmitEvent(label) => Some(*label),
            _ => None,
        })
    }

    /// The build to start, if any (a decision starts at most one).
    pub fn build_to_start(&self) -> Option<(BuildKind, u32)> {
        self.commands.iter().find_map(|command| match command {
            Command::StartBuild { kind, attempt } => Some((*kind, *attempt)),
            _ => None,
        })
    }
}

/// Why `decide` refused a trigger. Nothing is to be done in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Already there: a duplicate or late event (EventBridge delivers at least once).
    #[error("duplicate or late `{trigger}`: the account is {} and {why}", state_name(*.state))]
    Duplicate {
        /// The state of the account.
        state: Option<State>,
        /// The trigger's name.
        trigger: &'static str,
        /// Why nothing is to be done.
        why: &'static str,
    },
    /// A build finished that is not the one the account waits for.
    #[error("stale build `{finished}`: the account waits for {}", awaited_name(.awaited))]
    Stale {
        /// The build that finished.
        finished: BuildId,
        /// The build the account waits for (`None`: its id is not tagged yet).
        awaited: Option<BuildId>,
    },
    /// The trigger does not apply to the state: rejected, never guessed.
    #[error("`{trigger}` does not apply to an account that is {}: {why}", state_name(*.state))]
    Illegal {
        /// The state of the account.
        state: Option<State>,
        /// The trigger's name.
        trigger: &'static str,
        /// The rule that forbids it.
        why: &'static str,
    },
    /// A new holder is not given an account during the cooldown after its last purge.
    #[error(
        "the account cools down after its last purge until {}: it can be assigned from then",
        .until.format("%Y-%m-%dT%H:%M:%SZ")
    )]
    Cooldown {
        /// When the cooldown ends.
        until: DateTime<Utc>,
    },
    /// A lease end later than the settings allow.
    #[error(
        "the lease may end at {} at the latest (its start, plus the lease, plus `lease_extension`)",
        .limit.format("%Y-%m-%dT%H:%M:%SZ")
    )]
    BeyondLease {
        /// The latest end allowed.
        limit: DateTime<Utc>,
    },
    /// The holder put the purge off: the maintenance window leaves the account alone.
    #[error(
        "the holder snoozed the purge until {}: the sweeper purges the account then",
        .until.format("%Y-%m-%dT%H:%M:%SZ")
    )]
    Snoozed {
        /// When the snooze ends.
        until: DateTime<Utc>,
    },
    /// A snooze that is not granted.
    #[error(transparent)]
    Snooze(#[from] SnoozeRefusal),
    /// The view or the policy cannot be decided on.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// Why a snooze is not granted (the text the asker reads).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnoozeRefusal {
    /// The asker is not the account's holder.
    #[error("only the holder of the account may snooze its purge")]
    NotHolder,
    /// The settings give the account no snooze.
    #[error(
        "the settings of this account allow no snooze (`purge_notice.snooze`): ask an operator"
    )]
    NotOffered,
    /// Snoozed once already for this purge.
    #[error(
        "the purge was snoozed once already, until {}: a purge is snoozed once",
        .until.format("%Y-%m-%dT%H:%M:%SZ")
    )]
    Again {
        /// The end of the snooze granted.
        until: DateTime<Utc>,
    },
    /// Longer than the settings allow, or zero.
    #[error("a snooze is more than 0 and at most {}; asked {}", human(*.most), human(*.asked))]
    TooLong {
        /// What was asked.
        asked: std::time::Duration,
        /// The most the settings allow.
        most: std::time::Duration,
    },
    /// No purge is ahead that spa knows of.
    #[error(
        "no purge of this account is ahead (no lease end, and a maintenance window spa cannot evaluate)"
    )]
    NoPurgeAhead,
}

/// `3d`, `36h`, `90m`: the largest whole unit.
fn human(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl Rejection {
    /// The exception to raise, if any: `Drift` for inconsistent tags.
    pub fn exception(&self) -> Option<Label> {
        match self {
            Rejection::Invalid(Invalid::View(_)) => Some(Label::Drift),
            _ => None,
        }
    }
}

fn awaited_name(awaited: &Option<BuildId>) -> String {
    match awaited {
        Some(id) => format!("`{id}`"),
        None => "a build whose id is not tagged yet".to_owned(),
    }
}

/// Why a view or a policy cannot be decided on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The tags do not hold together (hand-edited): reset the account or fix its tags.
    #[error("inconsistent tags: {0}")]
    View(#[from] Inconsistency),
    /// The policy breaks a rule.
    #[error("invalid policy: {0}")]
    Policy(&'static str),
    /// A deadline falls out of the calendar.
    #[error("the {0} falls out of the calendar")]
    OutOfRange(&'static str),
}

/// Decides what to do about `trigger` for the account seen as `view` under `policy`.
///
/// Pure and total: no I/O, no clock, no panic. See the module documentation for the table.
pub fn decide(
    view: &AccountView,
    trigger: &Trigger,
    policy: &Policy,
) -> Result<Decision, Rejection> {
    if policy.max_attempts == 0 {
        return Err(Invalid::Policy("max_attempts must be at least 1").into());
    }
    let consistent = view.check();
    let repairs = matches!(
        trigger.kind,
        TriggerKind::OperatorReset | TriggerKind::Left(_) | TriggerKind::Sweep
    );
    if !repairs {
        consistent.clone().map_err(Invalid::from)?;
    }
    let state = view.state;
    let name = trigger.kind.name();
    let duplicate = |why| Rejection::Duplicate {
        state,
        trigger: name,
        why,
    };
    let illegal = |why| Rejection::Illegal {
        state,
        trigger: name,
        why,
    };
    let mut plan = Plan::new(view, trigger.at, policy);
    match &trigger.kind {
        TriggerKind::EnteredManagedOu => match state {
            None => plan.resume()?,
            Some(_) => return Err(duplicate("is managed already")),
        },
        TriggerKind::TaggedVended => match state {
            None | Some(State::Quarantined) => plan.resume()?,
            Some(State::Vended) if !view.working() => plan.resume()?,
            Some(State::Vended) => {
                return Err(duplicate("its preparation is under way"));
            }
            Some(_) => {
                return Err(illegal(
                    "only an unmanaged, quarantined or idle vended account is re-vended",
                ));
            }
        },
        TriggerKind::OperatorReset => match state {
            _ if consistent.is_err() && view.build.is_some() => {
                return Err(illegal(
                    "its tags are inconsistent and a build is awaited: the next sweep quarantines it, then reset it",
                ));
            }
            _ if consistent.is_err() => plan.resume()?,
            None | Some(State::Quarantined) => plan.resume()?,
            Some(State::Vended) if !view.working() => plan.resume()?,
            Some(State::Vended) => return Err(duplicate("its preparation is under way")),
            Some(_) => {
                return Err(illegal(
                    "only an unmanaged, quarantined or idle vended account is reset",
                ));
            }
        },
        TriggerKind::BuildFinished { build, status } => match (state, &view.build) {
            _ if !status.is_terminal() => {
                return Err(illegal("a build still in progress has not finished"));
            }
            // the dry run of a pre-purge notice: it changes no state
            (Some(_), awaited)
                if awaited.as_ref().is_none_or(|a| a.id != *build)
                    && let Some(notice) = &view.notice
                    && notice.preview.as_ref() == Some(build) =>
            {
                match &view.holder {
                    Some(holder) => {
                        plan.tell_notice(holder, notice.purge, Some((build.clone(), *status)))
                    }
                    None => return Err(duplicate("has no holder to tell of its purge any more")),
                }
            }
            (None, _) => return Err(illegal("an unmanaged account waits for no build")),
            (Some(s), _) if !s.builds() => {
                return Err(duplicate("waits for no build"));
            }
            (Some(s), Some(awaited)) if awaited.id == *build => {
                if status.is_success() {
                    plan.succeeded(s)?;
                } else {
                    plan.failed(awaited, *status)?;
                }
            }
            (Some(_), awaited) => {
                return Err(Rejection::Stale {
                    finished: build.clone(),
                    awaited: awaited.as_ref().map(|a| a.id.clone()),
                });
            }
        },
        TriggerKind::HolderTagged(_)
        | TriggerKind::OperatorAssign(_)
        | TriggerKind::LeaseEnded
        | TriggerKind::OperatorRelease
            if state == Some(State::Frozen) =>
        {
            return Err(illegal(
                "a frozen account keeps its holder until an operator unfreezes it",
            ));
        }
        TriggerKind::HolderTagged(holder) | TriggerKind::OperatorAssign(holder) => {
            if view.closing.is_some() {
                return Err(illegal("it is being closed"));
            }
            let cooling = view.cooling(trigger.at);
            // the operator is told when the account can be given; a holder tagged by
            // hand waits, and the sweeper assigns it once the cooldown is over
            if let (TriggerKind::OperatorAssign(_), Some(State::Prepared | State::Purged)) =
                (&trigger.kind, state)
                && let Some(until) = cooling
                && view.holder.as_ref().is_none_or(|known| known == holder)
            {
                return Err(Rejection::Cooldown { until });
            }
            match (state, &view.holder) {
                (None, _) => return Err(illegal("an unmanaged account is not assigned")),
                (Some(State::Assigned), Some(known)) if known == holder => {
                    return Err(duplicate("is assigned to this holder already"));
                }
                (Some(_), Some(known)) if known != holder => {
                    return Err(illegal("it is held by another person: release it first"));
                }
                // the holder waits for the end of the cooldown (a hand-made holder tag
                // is in the view already: nothing to write)
                (Some(State::Prepared), known) if cooling.is_some() => {
                    if known.is_none() {
                        plan.push(Command::SetHolder(holder.clone()));
                    }
                }
                (Some(State::Prepared), _) => plan.assign(holder),
                (Some(_), Some(_)) => {
                    return Err(duplicate("this holder is known already"));
                }
                (Some(_), None) => plan.push(Command::SetHolder(holder.clone())),
            }
        }
        TriggerKind::MaintenanceWindow | TriggerKind::OperatorExpire => match state {
            Some(State::Assigned)
                if trigger.kind == TriggerKind::MaintenanceWindow
                    && let Some(until) = view.snoozed_until.filter(|until| *until > trigger.at) =>
            {
                return Err(Rejection::Snoozed { until });
            }
            Some(State::Assigned) => plan.expire(false)?,
            Some(State::Expired | State::Purged) => {
                return Err(duplicate("is under maintenance already"));
            }
            Some(State::Frozen) => {
                return Err(illegal(
                    "a frozen account keeps what it holds until an operator unfreezes it",
                ));
            }
            _ => return Err(illegal("only an assigned account expires")),
        },
        TriggerKind::LeaseEnded | TriggerKind::OperatorRelease => match (state, &view.holder) {
            (None, _) => return Err(illegal("an unmanaged account has no holder")),
            (Some(State::Assigned), _) => plan.expire(true)?,
            (Some(_), Some(_)) => plan.push(Command::RemoveHolder),
            (Some(_), None) => return Err(duplicate("has no holder")),
        },
        TriggerKind::Sweep => match (state, consistent) {
            (Some(_), Err(inconsistency)) => {
                plan.quarantine(Label::Drift, inconsistency.to_string());
            }
            (None, Err(inconsistency)) => return Err(Invalid::View(inconsistency).into()),
            (_, Ok(())) => plan.sweep()?,
        },
        TriggerKind::Left(departure) => match state {
            None => return Err(duplicate("is unmanaged already")),
            Some(_) => plan.unmanage(*departure),
        },
        TriggerKind::OperatorClose => match state {
            None => return Err(illegal("an unmanaged account is not closed by spa")),
            Some(State::Frozen) => {
                return Err(illegal(
                    "a frozen account keeps what it holds: unfreeze it first, then close it",
                ));
            }
            Some(_) if view.closing.is_some() => {
                return Err(duplicate("its close is under way"));
            }
            Some(State::Vended) if view.working() => {
                return Err(illegal(
                    "its preparation is under way: close it once it is prepared",
                ));
            }
            // the purge under way is the last
            Some(State::Expired) => plan.closing(true),
            // purged already: closed at once, its preparation stops with it
            Some(State::Purged) => {
                plan.closing(true);
                plan.close();
            }
            // a last purge, then closed
            Some(_) => {
                plan.closing(true);
                plan.expire(true)?;
            }
        },
        TriggerKind::Freeze { reason } => match state {
            Some(from) if State::FREEZABLE.contains(&from) => plan.freeze(from, reason),
            Some(State::Frozen) => return Err(duplicate("is frozen already")),
            _ => {
                return Err(illegal(
                    "only a prepared or assigned account is frozen: a build is under way, or the account is an operator's",
                ));
            }
        },
        TriggerKind::LeaseEnd { until } => {
            match state {
                None => return Err(illegal("an unmanaged account has no lease")),
                Some(State::Frozen | State::Quarantined) => {
                    return Err(illegal(
                        "an operator decides what becomes of it before its lease is changed",
                    ));
                }
                Some(_) => {}
            }
            if view.holder.is_none() {
                return Err(illegal("it has no holder, so no lease"));
            }
            if view.holder_waits() {
                return Err(illegal("its holder waits for the cooldown to end"));
            }
            let Some(limit) = view.lease_limit(policy.lease, policy.lease_extension) else {
                return Err(illegal("its settings give it no lease"));
            };
            if *until <= trigger.at {
                return Err(illegal("the new end of the lease is not in the future"));
            }
            if *until > limit {
                return Err(Rejection::BeyondLease { limit });
            }
            if view.lease_end(policy.lease) == Some(*until) {
                return Err(duplicate("its lease ends then already"));
            }
            plan.push(Command::SetLeaseEnd(*until));
            plan.push(Command::EmitEvent(Label::LeaseChanged));
            plan.push(Command::RecordActivity(Label::LeaseChanged));
        }
        TriggerKind::Snooze { by, asker } => match state {
            Some(State::Assigned) if view.closing.is_none() => plan.snooze(*by, asker.as_ref())?,
            Some(State::Frozen) => {
                return Err(illegal(
                    "a frozen account is purged only once an operator unfreezes it",
                ));
            }
            _ => return Err(illegal("only the purge of an assigned account is snoozed")),
        },
        TriggerKind::OperatorUnfreeze => match (state, view.frozen_from) {
            (Some(State::Frozen), Some(from)) => plan.unfreeze(from)?,
            _ => return Err(illegal("only a frozen account is unfrozen")),
        },
    }
    Ok(plan.finish())
}

/// The decision under construction.
struct Plan<'a> {
    view: &'a AccountView,
    at: DateTime<Utc>,
    policy: &'a Policy,
    to: Option<State>,
    /// Whether a state was entered (possibly the same one again: a re-vend).
    entered: bool,
    /// The end of the cooldown, as the tags will say once the decision is applied.
    cooldown_until: Option<DateTime<Utc>>,
    /// Whether the account is being closed: its next purge is its last.
    closing: bool,
    commands: Vec<Command>,
}

impl<'a> Plan<'a> {
    fn new(view: &'a AccountView, at: DateTime<Utc>, policy: &'a Policy) -> Self {
        Self {
            view,
            at,
            policy,
            to: view.state,
            entered: false,
            cooldown_until: view.cooldown_until,
            closing: view.closing.is_some(),
            commands: Vec::new(),
        }
    }

    fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Enters a state: the domain event and the activity record.
    fn enter(&mut self, state: Option<State>, label: Label) {
        self.to = state;
        self.entered = true;
        self.push(Command::EmitEvent(label));
        self.push(Command::RecordActivity(label));
    }

    fn start(&mut self, kind: BuildKind, attempt: u32) {
        self.push(Command::StartBuild { kind, attempt });
        self.push(Command::EmitEvent(Label::BuildStarted));
        self.push(Command::RecordActivity(Label::BuildStarted));
    }

    /// Repairs hand-edited tags: an assignment start without holder, or on an
    /// unmanaged or pool account, is removed so that the tags hold together again.
    fn drop_stray_assignment(&mut self) {
        if self.view.stray_assignment() {
            self.push(Command::EndAssignment);
        }
    }

    fn clear_build(&mut self) {
        if self.view.working() {
            self.push(Command::ClearBuild);
        }
    }

    /// `at` + a duration of the policy, or `Invalid::OutOfRange`.
    fn after(
        &self,
        duration: std::time::Duration,
        what: &'static str,
    ) -> Result<DateTime<Utc>, Invalid> {
        TimeDelta::from_std(duration)
            .ok()
            .and_then(|delta| self.at.checked_add_signed(delta))
            .ok_or(Invalid::OutOfRange(what))
    }

    /// A transaction of `kind` due after `duration`, keeping the opening instant of a
    /// transaction of the same kind left open (a quarantined account being resumed).
    fn transaction(&self, kind: TransactionKind) -> Result<Transaction, Invalid> {
        let (duration, what) = match kind {
            TransactionKind::Onboarding => {
                (self.policy.onboarding_deadline, "on-boarding deadline")
            }
            TransactionKind::Maintenance => {
                (self.policy.maintenance_deadline, "maintenance deadline")
            }
        };
        let opened = self
            .view
            .transaction
            .filter(|open| open.kind == kind)
            .map_or(self.at, |open| open.opened.min(self.at));
        Ok(Transaction {
            kind,
            opened,
            deadline: self.after(duration, what)?,
        })
    }

    /// Re-vends the account, or resumes its maintenance when the account stopped
    /// before it was purged and prepared again (a purge is never skipped).
    fn resume(&mut self) -> Result<(), Invalid> {
        self.drop_stray_assignment();
        let maintenance = self
            .view
            .transaction
            .is_some_and(|open| open.kind == TransactionKind::Maintenance);
        if maintenance {
            self.expire(false)
        } else {
            self.vend()
        }
    }

    fn vend(&mut self) -> Result<(), Invalid> {
        let transaction = self.transaction(TransactionKind::Onboarding)?;
        if !self.policy.unset_tags.is_empty() {
            let keys = self.policy.unset_tags.iter().cloned().collect();
            self.push(Command::RemoveTags(keys));
        }
        if !self.policy.account_tags.is_empty() {
            self.push(Command::SetTags(self.policy.account_tags.clone()));
        }
        self.enter(Some(State::Vended), Label::AccountVended);
        if self.policy.preparation {
            self.push(Command::OpenTransaction(transaction));
            self.start(BuildKind::Preparation, 1);
        } else {
            self.ready(self.view.holder.clone(), Some(transaction));
        }
        Ok(())
    }

    /// The account is prepared: assigned at once when a holder is known; the open
    /// transaction completes.
    fn ready(&mut self, holder: Option<Holder>, transaction: Option<Transaction>) {
        self.clear_build();
        if self.policy.budget {
            self.push(Command::EnsureBudget);
        }
        self.enter(Some(State::Prepared), Label::AccountPrepared);
        // the same holder through maintenance: the assignment goes on, its lease with
        // it; a holder named while the account was not ready starts one now, unless
        // the cooldown after the purge still runs: they wait in the pool for the
        // sweeper to assign them once it ends
        let started = self
            .commands
            .iter()
            .any(|c| matches!(c, Command::StartAssignment(_)));
        let new_assignment =
            !started && (self.view.assigned_since.is_none() || self.view.stray_assignment());
        let holder = holder.filter(|_| !(new_assignment && self.cooling().is_some()));
        if let Some(holder) = holder {
            if new_assignment {
                self.push(Command::StartAssignment(self.at));
            }
            self.enter(Some(State::Assigned), Label::AccountAssigned);
            self.push(Command::NotifyHolder {
                holder,
                label: Label::AccountAssigned,
            });
        }
        if let Some(transaction) = transaction {
            self.push(Command::CloseTransaction(transaction));
            let label = match transaction.kind {
                TransactionKind::Onboarding => Label::OnboardingCompleted,
                TransactionKind::Maintenance => Label::MaintenanceCompleted,
            };
            self.push(Command::EmitEvent(label));
            self.push(Command::RecordActivity(label));
        }
    }

    /// A pool account is given to its holder: the assignment starts.
    fn assign(&mut self, holder: &Holder) {
        if self.view.holder.as_ref() != Some(holder) {
            self.push(Command::SetHolder(holder.clone()));
        }
        self.push(Command::StartAssignment(self.at));
        // the holder joins the budget's subscribers
        if self.policy.budget {
            self.push(Command::EnsureBudget);
        }
        self.enter(Some(State::Assigned), Label::AccountAssigned);
        self.push(Command::NotifyHolder {
            holder: holder.clone(),
            label: Label::AccountAssigned,
        });
    }

    /// `expired`, then purge; `release` removes the holder (lease end, release).
    fn expire(&mut self, release: bool) -> Result<(), Invalid> {
        let transaction = self.transaction(TransactionKind::Maintenance)?;
        // the snooze was of this purge
        if self.view.snoozed_until.is_some() {
            self.push(Command::EndSnooze);
        }
        let holder = if release {
            if let Some(holder) = &self.view.holder {
                self.push(Command::RemoveHolder);
                self.push(Command::NotifyHolder {
                    holder: holder.clone(),
                    label: Label::AccountExpired,
                });
            }
            None
        } else {
            // an account assigned before spa wrote `{prefix}assigned-since`: its lease
            // counted from `{prefix}since` until now; write that down before
            // maintenance moves `since`, so that the lease goes on from there
            if self.view.state == Some(State::Assigned)
                && self.view.holder.is_some()
                && self.view.assigned_since.is_none()
                && let Some(since) = self.view.since
            {
                self.push(Command::StartAssignment(since));
            }
            self.view.holder.clone()
        };
        self.enter(Some(State::Expired), Label::AccountExpired);
        if self.policy.purge {
            self.push(Command::OpenTransaction(transaction));
            self.start(BuildKind::Purge, 1);
        } else {
            self.purged()?;
            if self.closing {
                self.close();
            } else {
                self.prepare_again(holder, transaction, true);
            }
        }
        Ok(())
    }

    /// An operator asked to close the account: `{prefix}closing` is written now (the
    /// holder goes with the last purge).
    fn closing(&mut self, ask: bool) {
        if ask && !self.closing {
            self.push(Command::StartClosing(self.at));
        }
        self.closing = true;
    }

    /// The last purge is over: the lifecycle tags go (the holder with them), then the
    /// account is closed or parked; it is no longer managed. Its history stays.
    fn close(&mut self) {
        if self.view.holder.is_some() {
            self.push(Command::RemoveHolder);
        }
        self.push(Command::ClearState);
        let how = match &self.policy.suspended_unit {
            Some(unit) => Decommission::MoveTo(unit.clone()),
            None => Decommission::Close,
        };
        self.push(Command::Decommission(how));
        self.enter(None, Label::AccountUnmanaged);
    }

    /// The purge ended: `purged`, and the cooldown starts (when the policy has one
    /// and the account goes on).
    fn purged(&mut self) -> Result<(), Invalid> {
        self.enter(Some(State::Purged), Label::AccountPurged);
        if let Some(cooldown) = self.policy.cooldown.filter(|_| !self.closing) {
            let until = self.after(cooldown, "end of the cooldown")?;
            self.cooldown_until = Some(until);
            self.push(Command::StartCooldown(until));
        }
        Ok(())
    }

    /// The end of the cooldown when a new holder would have to wait for it at `at`.
    fn cooling(&self) -> Option<DateTime<Utc>> {
        AccountView {
            cooldown_until: self.cooldown_until,
            ..self.view.clone()
        }
        .cooling(self.at)
    }

    /// After the purge: preparation again, or ready at once when it is disabled.
    fn prepare_again(&mut self, holder: Option<Holder>, transaction: Transaction, open: bool) {
        if self.policy.preparation {
            if open {
                self.push(Command::OpenTransaction(transaction));
            }
            self.start(BuildKind::Preparation, 1);
        } else {
            self.ready(holder, Some(transaction));
        }
    }

    fn succeeded(&mut self, state: State) -> Result<(), Invalid> {
        match state {
            State::Expired if self.policy.purge_dry_run => {
                // nothing was deleted: the account is not purged, and not handed on
                let build = self
                    .view
                    .build
                    .as_ref()
                    .map_or_else(String::new, |b| format!(" `{}`", b.id));
                self.quarantine(
                    Label::PurgeDryRun,
                    format!(
                        "purge build{build} ran as a dry run (PURGE_MODE is not --no-dry-run): it listed what it would delete and deleted nothing"
                    ),
                );
            }
            State::Expired if self.closing => {
                self.purged()?;
                self.close();
            }
            State::Expired => {
                self.purged()?;
                let (transaction, open) = match self.view.transaction {
                    Some(open) => (open, false),
                    None => (self.transaction(TransactionKind::Maintenance)?, true),
                };
                self.prepare_again(self.view.holder.clone(), transaction, open);
            }
            _ => self.ready(self.view.holder.clone(), self.view.transaction),
        }
        Ok(())
    }

    fn failed(&mut self, awaited: &AwaitedBuild, status: BuildStatus) -> Result<(), Invalid> {
        let attempt = self.view.attempts.max(1);
        if attempt < self.policy.max_attempts {
            self.start(awaited.kind, attempt.saturating_add(1));
        } else {
            let reason = format!(
                "{} build `{}` ended {status} at attempt {attempt} of {}",
                awaited.kind, awaited.id, self.policy.max_attempts
            );
            self.quarantine(Label::BuildFailed, reason);
        }
        Ok(())
    }

    /// `quarantined`: the transaction stays open so that a reset resumes it.
    fn quarantine(&mut self, label: Label, reason: String) {
        self.clear_build();
        self.drop_stray_assignment();
        self.enter(Some(State::Quarantined), Label::AccountQuarantined);
        self.push(Command::RaiseException { label, reason });
    }

    fn sweep(&mut self) -> Result<(), Invalid> {
        let state = self.view.state;
        if let (Some(s), Some(open)) = (state, self.view.transaction)
            && s.builds()
            && open.overdue(self.at)
        {
            let label = match open.kind {
                TransactionKind::Onboarding => Label::OnboardingTimedOut,
                TransactionKind::Maintenance => Label::MaintenanceTimedOut,
            };
            let reason = format!(
                "{} opened at {} was due at {}; the account is still {s} at {}",
                open.kind,
                open.opened.format("%Y-%m-%dT%H:%M:%SZ"),
                open.deadline.format("%Y-%m-%dT%H:%M:%SZ"),
                self.at.format("%Y-%m-%dT%H:%M:%SZ"),
            );
            self.quarantine(label, reason);
            return Ok(());
        }
        if state == Some(State::Assigned)
            && let Some(until) = self.view.snoozed_until
        {
            // the holder put this purge off: it starts when the snooze ends, releasing
            // the account when its lease ended meanwhile
            if until <= self.at {
                let lease_over = self
                    .view
                    .lease_end(self.policy.lease)
                    .is_some_and(|end| end <= self.at);
                return self.expire(lease_over);
            }
        } else if state == Some(State::Assigned) {
            // The lease counts from the start of the assignment, which maintenance
            // cycles with the same holder do not move. Only accounts assigned before
            // spa wrote `{prefix}assigned-since` have none: for them the lease counts
            // from `{prefix}since`, and their next maintenance window writes that
            // instant down as the start of the assignment (see `expire`).
            let start = self.view.assigned_since.or(self.view.since);
            let lease_end = match (start, self.policy.lease) {
                (Some(start), Some(lease)) => TimeDelta::from_std(lease)
                    .ok()
                    .and_then(|delta| start.checked_add_signed(delta)),
                _ => None,
            };
            if lease_end.is_some_and(|end| end <= self.at) {
                return self.expire(true);
            }
        }
        // a holder named during the cooldown is given the account once it is over
        if self.view.holder_waits()
            && self.view.cooling(self.at).is_none()
            && let Some(holder) = &self.view.holder
        {
            self.assign(holder);
        }
        // the holder is told of the next purge `purge_notice.before` it
        if let Some((due, purge)) = self.view.notice_due(self.at, self.policy)
            && due <= self.at
            && purge > self.at
        {
            self.push(Command::StartPreview { purge });
        }
        Ok(())
    }

    /// The holder puts the next purge off, once, by at most `purge_notice.snooze`.
    fn snooze(
        &mut self,
        by: Option<std::time::Duration>,
        asker: Option<&Holder>,
    ) -> Result<(), Rejection> {
        if asker.is_some() && asker != self.view.holder.as_ref() {
            return Err(SnoozeRefusal::NotHolder.into());
        }
        let Some(most) = self
            .policy
            .purge_notice
            .map(|notice| notice.snooze)
            .filter(|most| !most.is_zero())
        else {
            return Err(SnoozeRefusal::NotOffered.into());
        };
        if let Some(until) = self.view.snoozed_until {
            return Err(SnoozeRefusal::Again { until }.into());
        }
        let asked = by.unwrap_or(most);
        if asked.is_zero() || asked > most {
            return Err(SnoozeRefusal::TooLong { asked, most }.into());
        }
        let purge = self
            .view
            .next_purge(self.at, self.policy)
            .ok_or(SnoozeRefusal::NoPurgeAhead)?;
        let until = TimeDelta::from_std(asked)
            .ok()
            .and_then(|delta| purge.checked_add_signed(delta))
            .ok_or(Invalid::OutOfRange("end of the snooze"))?;
        self.push(Command::Snooze { purge, until });
        self.push(Command::EmitEvent(Label::PurgeSnoozed));
        self.push(Command::RecordActivity(Label::PurgeSnoozed));
        Ok(())
    }

    /// The dry run of the purge at `purge` ended: the holder is told (once: the
    /// event is keyed by the purge).
    fn tell_notice(
        &mut self,
        holder: &Holder,
        purge: DateTime<Utc>,
        preview: Option<(BuildId, BuildStatus)>,
    ) {
        self.push(Command::TellPurgeNotice {
            holder: holder.clone(),
            purge,
            preview,
        });
        self.push(Command::RecordActivity(Label::PurgeNotice));
    }

    /// `frozen`: the freeze policy holds the account, its data kept; the exception
    /// carries the burn report, and the holder is told.
    fn freeze(&mut self, from: State, reason: &str) {
        self.push(Command::Freeze { from });
        self.enter(Some(State::Frozen), Label::AccountFrozen);
        self.push(Command::RaiseException {
            label: Label::SpendProjected,
            reason: reason.to_owned(),
        });
        if let Some(holder) = &self.view.holder {
            // told with the exception, which carries the burn report
            self.push(Command::NotifyHolder {
                holder: holder.clone(),
                label: Label::SpendProjected,
            });
        }
    }

    /// Back to the state the account was frozen in. A pool account whose holder was
    /// named meanwhile is assigned; an assigned account whose holder tag went is
    /// released and purged (its resources are still there).
    fn unfreeze(&mut self, from: State) -> Result<(), Invalid> {
        self.push(Command::Thaw);
        match (from, &self.view.holder) {
            (State::Assigned, None) => {
                self.push(Command::EmitEvent(Label::AccountUnfrozen));
                self.push(Command::RecordActivity(Label::AccountUnfrozen));
                self.expire(true)?;
            }
            (State::Prepared, Some(holder)) if self.view.cooling(self.at).is_none() => {
                let holder = holder.clone();
                self.enter(Some(State::Prepared), Label::AccountUnfrozen);
                self.assign(&holder);
            }
            (from, _) => self.enter(Some(from), Label::AccountUnfrozen),
        }
        Ok(())
    }

    fn unmanage(&mut self, departure: Departure) {
        if self.view.state == Some(State::Frozen) {
            // the policy would outlive spa's say on the account
            self.push(Command::Thaw);
        }
        if departure != Departure::Removed {
            self.push(Command::ClearState);
        }
        self.enter(None, Label::AccountUnmanaged);
    }

    fn finish(self) -> Decision {
        let Plan {
            view,
            at,
            to,
            entered,
            mut commands,
            ..
        } = self;
        if let Some(state) = to.filter(|_| entered) {
            let position = commands
                .iter()
                .position(|c| !matches!(c, Command::SetTags(_) | Command::RemoveTags(_)))
                .unwrap_or(commands.len());
            commands.insert(position, Command::SetState { state, since: at });
        }
        Decision {
            from: view.state,
            to,
            commands,
        }
    }
}
