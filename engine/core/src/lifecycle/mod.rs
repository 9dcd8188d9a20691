//! Account lifecycle: states, the tag codec and the pure transition function.
//!
//! The truth about an account lives in its tags in AWS Organizations; no database
//! holds it. [`TagCodec::decode`] reads the tags into an [`AccountView`];
//! [`decide`] turns `(view, trigger, policy)` into a [`Decision`] (the state reached
//! and an ordered list of [`Command`]s) or a [`Rejection`]; [`TagCodec::encode`]
//! turns the commands into one set of tag changes. The module is pure: no SDK type,
//! no I/O, no clock (the instant comes with the [`Trigger`]), no panic.
//!
//! # States
//!
//! | state | meaning |
//! |---|---|
//! | (unmanaged) | no `{prefix}state` tag |
//! | `vended` | new in a managed OU (created, moved in, or re-vended); preparation pending or running |
//! | `prepared` | preparation succeeded; waits in the pool when it has no holder |
//! | `assigned` | in use by its holder |
//! | `expired` | picked by the maintenance window (or lease end); purge pending or running |
//! | `purged` | purge succeeded; preparation pending or running |
//! | `quarantined` | a build failed past `max_attempts`, a deadline passed, or the tags drifted; needs an operator |
//! | `frozen` | the spend guard (or `spa freeze`) holds it: a deny-all-but-read policy attached, data and holder kept; `{prefix}frozen-from` says where it goes back |
//!
//! # Transitions
//!
//! | from | trigger | to | commands |
//! |---|---|---|---|
//! | unmanaged | entered a managed OU, state tagged `vended`, operator reset | `vended` | remove `unset_tags`, set `account_tags`, open on-boarding, start preparation (attempt 1) |
//! | | ... with preparation disabled | `prepared` (`assigned` with a holder) | as below, at once |
//! | `vended`, `purged` | awaited preparation SUCCEEDED | `prepared` | ensure budget; close the transaction (`OnboardingCompleted` / `MaintenanceCompleted`) |
//! | | ... with a holder known | `assigned` | same, start the assignment unless it goes on through maintenance, notify the holder |
//! | | ... with a new holder, in cooldown | `prepared` | same as without holder: the holder waits for the end of the cooldown |
//! | `prepared` | holder tagged, operator assign | `assigned` | set holder, start the assignment, notify the holder |
//! | `prepared`, `purged`, in cooldown | operator assign | same | rejected (`Cooldown`, with the instant it ends) |
//! | `prepared`, in cooldown | holder tagged | same | set holder: the holder waits (sweeper deadline `cooldown`) |
//! | `prepared`, a holder waits, cooldown over | sweep | `assigned` | start the assignment, notify the holder |
//! | `vended`, `expired`, `purged`, `quarantined` | holder tagged, operator assign | same | set holder (assigned once ready; the assignment starts then) |
//! | `assigned` | maintenance window, operator expire | `expired` | open maintenance, start purge (attempt 1); the assignment goes on |
//! | `assigned` | lease end (sweeper: `assigned-since` + lease <= at; or trigger), operator release | `expired` | remove holder (the assignment ends), notify them, then as above |
//! | | ... with purge disabled | `purged` | then as after a purge |
//! | `assigned`, snoozed | maintenance window | same | rejected (`Snoozed`, with the instant the snooze ends) |
//! | `assigned`, snoozed, snooze over | sweep | `expired` | `EndSnooze`, then as the window (holder kept), or as a lease end when the lease ended meanwhile |
//! | `assigned`, `purge_notice.before` its next purge, not told of it | sweep | same | `StartPreview` (the purge as a dry run; the use case writes `{prefix}purge-notice`) |
//! | any managed | the build named by `{prefix}purge-notice` ended (not the awaited one) | same | `TellPurgeNotice`, `PurgeNotice` recorded |
//! | `assigned` | snooze (holder or operator) | same | `{prefix}snoozed-until` = next purge + the duration, `PurgeSnoozed`; rejected (`Snooze`): not the holder, no snooze in the policy, zero or more than allowed, snoozed once already, no purge ahead |
//! | `expired` | awaited purge SUCCEEDED | `purged` | start the cooldown (`cooldown` set: `{prefix}cooldown-until`), start preparation (attempt 1); ready at once when preparation is disabled |
//! | | ... the purge was a dry run (`PURGE_MODE` not `--no-dry-run`) | `quarantined` | forget the build, exception `PurgeDryRun`: nothing was deleted, the account is not handed on |
//! | `vended`, `expired`, `purged` | awaited build FAILED / FAULT / STOPPED / TIMED_OUT, attempts < `max_attempts` | same | start the same build, attempt + 1 |
//! | | ... attempts = `max_attempts` | `quarantined` | forget the build, exception `BuildFailed` |
//! | `vended`, `expired`, `purged` | sweep, transaction overdue (`deadline <= at`) | `quarantined` | forget the build, exception `OnboardingTimedOut` / `MaintenanceTimedOut` |
//! | any managed, tags inconsistent | sweep | `quarantined` | forget the build, drop a stray `assigned-since`, exception `Drift` |
//! | `quarantined`, idle `vended` | operator reset, state tagged `vended` | `vended` | as from unmanaged; the open transaction keeps its opening instant |
//! | | ... quarantined during maintenance | `expired` | purge again: a purge is never skipped |
//! | `vended`, `prepared`, `expired`, `purged`, `quarantined` | lease end, operator release, with a holder | same | remove holder (the assignment ends) |
//! | `prepared`, `assigned`, `quarantined`, idle `vended` | operator close | `expired` | set `{prefix}closing`, remove holder (notify them), start the last purge; purge disabled: closed at once |
//! | `expired` | operator close | same | set `{prefix}closing`: the purge under way is the last |
//! | `purged` | operator close | unmanaged | closed at once, as below |
//! | `expired`, closing | awaited purge SUCCEEDED | unmanaged | `AccountPurged`; remove every lifecycle tag and the holder, `Decommission` (`CloseAccount`, or move to `suspended_unit`) |
//! | `prepared`, `assigned` | freeze (spend guard, `spa freeze`) | `frozen` | write `frozen-from`, attach the freeze policy, exception `SpendProjected` (the burn report), tell the holder |
//! | `frozen` | operator unfreeze | `frozen-from` | detach the policy (`Thaw`), `AccountUnfrozen`; a pool account whose holder was named meanwhile is assigned (unless in cooldown); an assigned one whose holder tag went expires (purge) |
//! | `frozen` | window, expire, lease end, release, holder tagged, assign, close | same | rejected (`Illegal`): an operator unfreezes it first |
//! | any managed | moved out, closed | unmanaged | remove the lifecycle tags but the holder (the assignment ends; a frozen account's policy detached); no purge |
//! | any managed | removed from the organization | unmanaged | no tag can be written any more |
//!
//! Every transition emits the domain event of each state it enters (`AccountVended`,
//! `AccountPrepared`, `AccountAssigned`, `AccountExpired`, `AccountPurged`,
//! `AccountQuarantined`, `AccountUnmanaged`; `BuildStarted` for each build) and an
//! activity record with the same label. The sweeper finding nothing due, or an
//! account without lease, yields an empty decision.
//!
//! # Assignments and leases
//!
//! | tag | written | kept | removed |
//! |---|---|---|---|
//! | `{prefix}since` | every time a state is entered | while the state lasts | when the account leaves management |
//! | `{prefix}assigned-since` | when a holder is first given the account: `prepared` -> `assigned` (holder tagged, operator assign), or a holder named while the account was not ready and it becomes `assigned` | through maintenance (`assigned` -> `expired` -> `purged` -> `assigned`) and quarantine with the same holder | with the holder (lease end, release) and when the account leaves management |
//!
//! # Cooldown between holders
//!
//! With `Policy::cooldown`, every purge that succeeds (or is skipped by policy) writes
//! `{prefix}cooldown-until` = its end + the cooldown: the last holder's late bills and
//! quotas settle before a new holder is given the account. Only a *new* assignment
//! waits ([`AccountView::cooling`]): a holder who keeps the account through
//! maintenance is not held back. The instant is fixed when the purge ends, like a
//! transaction's deadline: a change of `cooldown` applies from the next purge. The
//! tag stays (a past instant holds nobody back) until the account leaves management.
//!
//! The lease (`Policy::lease`) counts from `{prefix}assigned-since`: a weekly
//! maintenance window does not renew it. An account assigned before spa wrote that tag
//! has none; its lease counts from `{prefix}since`, and its next maintenance window
//! writes that instant down as the start of its assignment.
//!
//! # Pre-purge notice and snooze
//!
//! With `Policy::purge_notice`, the next purge of an assigned account
//! ([`AccountView::next_purge`]: the end of a snooze, else the earlier of the next
//! maintenance window, [`Schedule`], and the lease end) is announced `before` it
//! ([`AccountView::notice_due`]): a sweep then decides `StartPreview`, a dry run that
//! changes no state, recorded in `{prefix}purge-notice` so that it runs once per purge.
//! Its end is recognised by that tag before any awaited build is considered; once the
//! holder is told, the tag keeps the purge only ([`AccountView::preview_pending`] is
//! then none: the sweeper asks CodeBuild about a dry run whose end never came). A snooze
//! writes `{prefix}snoozed-until`, once per purge (the tag is removed when the purge
//! starts), by at most `purge_notice.snooze`.
//!
//! # Rejections
//!
//! - `Duplicate`: already there; a duplicate or late event (a second "entered managed
//!   OU", a build result once no build is awaited, a maintenance window during
//!   maintenance, a release without holder).
//! - `Stale`: a build finished that is not the awaited one (an older attempt, or the
//!   purge once preparation started).
//! - `Cooldown`: an operator assign during the cooldown after the last purge, with
//!   the instant it ends.
//! - `Illegal`: the trigger does not apply to the state (a window on a pool account,
//!   assigning an account held by another person, a build result on an unmanaged
//!   account, a reset of an account in use).
//! - `Invalid`: the tags do not hold together ([`Inconsistency`], raise `Drift`), the
//!   policy breaks a rule, or a deadline falls out of the calendar. An operator reset
//!   or leaving management repairs inconsistent tags; the sweeper quarantines them.
//!
//! # Idempotence without a database
//!
//! `{prefix}build` names the awaited build: only its result moves the account, so
//! duplicates and reordered results are `Stale` or `Duplicate`. `{prefix}attempts`
//! is written with the state, before the build starts, so a re-delivered trigger
//! sees the work under way and starts nothing twice. The use case writes the tag
//! changes first, then runs the commands, then tags the started build's id with
//! [`TagCodec::build_started`]. Tag events caused by spa's own writes should be
//! filtered by the caller (event principal); `decide` treats them as duplicates anyway.

mod build;
mod codec;
mod decide;
mod holder;
mod policy;
mod schedule;
mod state;
mod view;

#[cfg(test)]
mod tests;

pub use crate::vocabulary::{Label, LabelKind};
pub use build::{AwaitedBuild, BuildId, BuildIdError, BuildKind, BuildStatus};
pub use codec::{CodecError, DecodeError, TagChanges, TagCodec};
pub use decide::{
    Command, Decision, Decommission, Departure, Invalid, Rejection, SnoozeRefusal, Trigger,
    TriggerKind, decide,
};
pub use holder::{Holder, HolderError};
pub use policy::{NoticePolicy, Policy};
pub use schedule::{Schedule, ScheduleError};
pub use state::{ParseStateError, State, state_name};
pub use view::{AccountView, Inconsistency, PurgeNoticeTag, Transaction, TransactionKind};
