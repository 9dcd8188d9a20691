//! The spend guard: a call that starts or ends spending in a member account
//! ([`SpendingCall`], forwarded by the account's `<env>-ForwardSpending` rule).
//!
//! 1. The account's settings: spa must manage it, and its `spend_guard` be on. Its
//!    place is the one spa last knew (the writer's cache, at one read of the store),
//!    else read from Organizations: a holder's calls never spend the organization's
//!    Organizations quota while spa knows the account.
//! 2. Its ledger ([`SpendLedgers`]): the entries the call changes are written, each
//!    unless a later call changed it (written twice: the same).
//! 3. The burn of what is alive now, priced from the price book (the Price List's
//!    prices kept in the store, else the shipped sample: [`super::prices`]), and
//!    the thresholds it crosses ([`spend::crossed`]). A line on the month
//!    (`projected_month`, `actual_month`) reconciles with Cost Explorer: what the
//!    month cost so far, read at most once a day and account and kept in the store
//!    ([`month_so_far`]).
//! 4. A threshold with `freeze`: the account is frozen through [`Engine::apply`]
//!    (cause `<event>/freeze`: one freeze, safe to deliver again), which raises
//!    `SpendProjected` with the burn report and tells the holder. Otherwise, or when
//!    the account cannot be frozen (a build is under way, it is frozen already; on a
//!    redelivery, the history tells a freeze done from one refused):
//!    `SpendProjected` is published under the call's claim ([`exceptions`]), keyed
//!    by the call, so that it is noticed once: `raise` opens the incident and tells
//!    the routed channels, `tell_holder` tells the holder (alone, without `raise`).
//! 5. A threshold with `purge_early` (and no `freeze`): the account is expired now
//!    through [`Engine::apply`] (cause `<event>/purge`: once), purged and prepared
//!    again for its holder, and `SpendProjected` is raised. A `projected_lease` line
//!    judges what runs until the holder's lease ends (the tags spa last wrote), and is
//!    not judged on an account without holder or lease.
//! 6. A threshold with `stop`, first, whatever else the lines do: the EC2 instances
//!    alive in the ledger are stopped ([`Stops`], `StopInstances` one instance a call,
//!    at most [`STOPS_AT_ONCE`] at once) in the call's account only, through that
//!    account's member role; every other kind, an id or a region that does not read as
//!    EC2's, and what EC2 refuses are named as not stopped, with why
//!    ([`spend::stop`]). The words are added to the burn report, and the line raises
//!    (`raise` is implied, as for `purge_early`). With `freeze`: stopped, then frozen
//!    (the holder cannot start them again); with `purge_early`: stopped now, then
//!    purged (the purge build takes minutes to delete them, and may be refused).
//!    The stop is under its own claim (`spend-stop#<event>`): what was stopped is
//!    noted before the notice that tells it, and the claim ends after that notice, so
//!    a delivery that resumes tells what the dead one stopped without stopping it
//!    again, and a redelivery after the notice stops nothing. (A delivery that died
//!    before the note stops again: `StopInstances` is idempotent, the instance then
//!    reads `was stopping`.) spa's own `StopInstances` comes back through CloudTrail
//!    like the holder's calls, and ends the ledger's entries then.
//!
//! Every step is safe to repeat: the ledger's writes are idempotent, the freeze is a
//! transition under its own claim, the stop is claimed, the exception is keyed.

use std::collections::BTreeMap;

use super::apply::{Outcome, Verdict};
use super::bounded::bounded;
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::exceptions;
use super::lease::{self, Taken};
use crate::ports::{
    Activity, ActivityQuery, CostSource, Journal, Organization, OrganizationTree, Platform,
    PortError, SpendLedgers, Stops, WriterLeases,
};
use chrono::{DateTime, Utc};
use spa_core::events::{AccountId, Amount, DomainEvent, Label, SpendingCall};
use spa_core::lifecycle::{Trigger, TriggerKind};
use spa_core::settings::{Resolved, SpendAction, SpendMeasure};
use spa_core::spend::stop::{self, Stop, Stopped};
use spa_core::spend::{self, Actual, Burn, Entry};

/// The fact of a `SpendProjected` event told to the holder only (no incident, no
/// channel): its thresholds said `tell_holder` without `raise`.
pub const HOLDER_ONLY: &str = "holder_only";

/// Applies one call of the spend guard (see the module docs).
pub async fn on_spending<P: Platform>(
    engine: &Engine<'_, P>,
    call: &SpendingCall,
) -> Result<Outcome, UseCaseError> {
    let (cause, account) = (call.event_id.as_str(), &call.account);
    let context = |step| Context::step(step).account(account).cause(cause);
    if let Some(code) = &call.failed {
        let why = format!("`{}` failed ({code}): it started nothing", call.name);
        return Ok(Outcome::new(cause, Some(account), Verdict::Ignored(why)));
    }
    let (cache, resolved) = match guarded(engine, account, cause, &call.name).await? {
        Ok(guarded) => guarded,
        Err(outcome) => return Ok(outcome),
    };
    let guard = &resolved.spend_guard;
    let mut ledger = engine
        .retry()
        .run("read the ledger", || {
            engine.platform().store().ledger(account)
        })
        .await
        .within(|| context("read the spend ledger"))?;
    let changed = spend::apply(&ledger, call);
    if !changed.is_empty() {
        engine
            .retry()
            .run("write the ledger", || {
                engine.platform().store().write_ledger(account, &changed)
            })
            .await
            .within(|| context("write the spend ledger"))?;
    }
    merge(&mut ledger, changed);
    let now = engine.now().max(call.at);
    let actual = if guard.needs_actuals() {
        month_so_far(engine, account, cause, now).await
    } else {
        None
    };
    let judged = Judged {
        cause,
        account,
        at: call.at,
        what: &call.name,
    };
    judge(engine, &judged, &ledger, &resolved, cache.tags, actual).await
}

/// What the spend guard judges: a call, or the daily reconciliation of an account.
pub(crate) struct Judged<'a> {
    /// The call's event id, or the reconciliation command's id: the key of what is
    /// done, once.
    pub cause: &'a str,
    pub account: &'a AccountId,
    /// When (the call's instant, the reconciliation's scheduled time).
    pub at: DateTime<Utc>,
    /// What made spa judge (`RunInstances`, `reconciliation`), for the event's facts.
    pub what: &'a str,
}

/// The account's cache and settings when spa manages it and its spend guard is on,
/// else the outcome that says why not. Its place is the one spa last knew (the
/// writer's cache, put in doubt when the account moves), else read from
/// Organizations: a holder's calls do not spend the organization's Organizations
/// quota while spa knows the account.
pub(crate) async fn guarded<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    cause: &str,
    what: &str,
) -> Result<Result<(crate::ports::AccountCache, Resolved), Outcome>, UseCaseError> {
    let context = |step| Context::step(step).account(account).cause(cause);
    let store = engine.platform().store();
    let cache = match store.cached(account).await {
        Ok(cache) => cache,
        Err(error) => {
            tracing::warn!(%account, cause, %error, "the account's cache cannot be read: its place is asked of Organizations");
            crate::ports::AccountCache::default()
        }
    };
    let ancestors = match cache.ancestors.clone() {
        Some(ancestors) => ancestors,
        None => {
            let organization = engine.platform().organization();
            engine
                .retry()
                .run("read ancestors", || {
                    organization.ancestors(account.as_str())
                })
                .await
                .within(|| context("resolve settings"))?
        }
    };
    let Some(resolved) = engine
        .settings()
        .resolve_account(account.as_str(), &ancestors)
    else {
        tracing::info!(%account, cause, what, "the spend guard of an account spa does not manage: ignored");
        return Ok(Err(Outcome::new(cause, Some(account), Verdict::Unmanaged)));
    };
    if !resolved.spend_guard.enabled {
        let why = "the spend guard is off for this account (`spend_guard.feature`)".to_owned();
        return Ok(Err(Outcome::new(
            cause,
            Some(account),
            Verdict::Ignored(why),
        )));
    }
    Ok(Ok((cache, resolved)))
}

/// Judges the account's thresholds on its `ledger` (what runs) and what its month cost
/// so far (`actual`), and does what the lines crossed say (steps 3 to 5 of the module
/// docs), each once for `judged.cause`.
pub(crate) async fn judge<P: Platform>(
    engine: &Engine<'_, P>,
    judged: &Judged<'_>,
    ledger: &[Entry],
    resolved: &Resolved,
    tags: Option<BTreeMap<String, String>>,
    actual: Option<Actual>,
) -> Result<Outcome, UseCaseError> {
    let (cause, account) = (judged.cause, judged.account);
    let context = |step| Context::step(step).account(account).cause(cause);
    let guard = &resolved.spend_guard;
    let now = engine.now().max(judged.at);
    // the prices the Price List API last gave (`spa prices refresh`), else the sample
    let book = super::prices::price_book(engine, ledger, now).await;
    let burn = Burn::of(ledger, &book, now);
    let lease_end = if guard
        .thresholds
        .iter()
        .any(|t| t.when == SpendMeasure::ProjectedLease)
    {
        lease_end(engine, account, tags, resolved.lease).await
    } else {
        None
    };
    let known = spend::Known {
        month_to_date: actual.map(|a| a.amount),
        lease_end,
    };
    let crossed = spend::crossed(guard, &burn, known);
    tracing::info!(%account, cause, what = judged.what, burn_per_hour = %burn.per_hour, crossed = crossed.len(), "spend estimated");
    if crossed.is_empty() {
        let why = format!("burn {} USD an hour: under every threshold", burn.per_hour);
        return Ok(Outcome::new(cause, Some(account), Verdict::Ignored(why)));
    }
    if !crossed.iter().any(|c| c.does(SpendAction::Stop)) {
        let report = spend::report(&burn, &crossed, actual);
        return act(engine, judged, &crossed, &burn, report).await;
    }
    // stopped first, whatever else the lines do, under a claim of its own: noted before
    // the notice that tells it, ended after it (a delivery that resumes tells what the
    // dead one stopped, and stops nothing twice)
    let key = format!("spend-stop#{cause}");
    let stopped = match lease::take(engine, &key, || context("stop what runs")).await? {
        // stopped and told by an earlier delivery (the claim ends after the notice)
        Taken::Seen => {
            let done = "Stop: done by an earlier delivery of this call.";
            let report = spend::report_with(&burn, &crossed, actual, Some(done));
            return act(engine, judged, &crossed, &burn, report).await;
        }
        Taken::Go { note, .. } => note,
    };
    let told = async {
        let stopped = match stopped {
            Some(noted) => noted,
            None => {
                let text = stop_what_runs(engine, judged, &burn).await;
                lease::note(engine, &key, &text, || context("note what was stopped")).await?;
                text
            }
        };
        let report = spend::report_with(&burn, &crossed, actual, Some(&stopped));
        act(engine, judged, &crossed, &burn, report).await
    }
    .await;
    lease::end(engine, &key, told).await
}

/// How many instances are stopped at once.
const STOPS_AT_ONCE: usize = 8;

/// Stops what runs in the call's account and can be stopped (its EC2 instances,
/// through the member role of that account only), each on its own: one that cannot be
/// stopped never keeps the others running. The words of the report ([`stop::report`]).
async fn stop_what_runs<P: Platform>(
    engine: &Engine<'_, P>,
    judged: &Judged<'_>,
    burn: &Burn,
) -> String {
    let (cause, account) = (judged.cause, judged.account);
    let stops = engine.platform().stops();
    let each = stop::plan(&burn.lines).into_iter().map(|step| async move {
        let resource = match step {
            Stop::Not(resource, why) => return Stopped::not(resource, &why),
            Stop::Instance(resource) => resource,
        };
        let (region, id) = (resource.region.clone(), resource.id.clone());
        let done = engine
            .retry()
            .run("stop an instance", || stops.stop_instance(account, &region, &id))
            .await;
        match done {
            Ok(was) => {
                tracing::warn!(%account, cause, instance = id, region, was, "spend guard: the instance is stopped");
                Stopped::was(resource, &was)
            }
            Err(error) => {
                tracing::warn!(%account, cause, instance = id, region, %error, "spend guard: the instance could not be stopped");
                Stopped::not(resource, &why_not(&error))
            }
        }
    });
    let results = bounded(each, STOPS_AT_ONCE).await;
    let stopped = results.iter().filter(|r| r.is_stopped()).count();
    tracing::warn!(%account, cause, stopped, not_stopped = results.len() - stopped, "spend guard: what runs is stopped");
    stop::report(&results)
}

/// Why an instance was not stopped, in the report's words.
fn why_not(error: &PortError) -> String {
    match error {
        PortError::NotFound { .. } => {
            "no such instance in this account and region (gone, or not this account's)".to_owned()
        }
        PortError::Rejected { message, .. } => format!("EC2 refused: {message}"),
        PortError::Denied { message, .. } => {
            format!("the member role may not stop it: {message}")
        }
        PortError::Unavailable { message, .. } => format!("EC2 did not answer: {message}"),
        PortError::Inconsistent { why, .. } => why.clone(),
    }
}

/// Acts on the lines crossed: freeze, else purge early and raise (see the module
/// docs); `report` says what the burn is and what was stopped.
async fn act<P: Platform>(
    engine: &Engine<'_, P>,
    judged: &Judged<'_>,
    crossed: &[spend::Crossed],
    burn: &Burn,
    report: String,
) -> Result<Outcome, UseCaseError> {
    let (cause, account) = (judged.cause, judged.account);
    let does = |action| crossed.iter().any(|c| c.does(action));
    if does(SpendAction::Freeze) {
        let trigger = Trigger::new(
            judged.at,
            TriggerKind::Freeze {
                reason: report.clone(),
            },
        );
        let freeze = format!("{cause}/freeze");
        let outcome = engine.apply(&freeze, account, trigger).await?;
        let frozen = match outcome.verdict {
            Verdict::Applied => true,
            // delivered again: the freeze was decided before, applied or refused; the
            // history says which (a refused one was to be raised, and that raise may
            // be what the earlier delivery did not live to do)
            Verdict::Seen => frozen_by(engine, account, &freeze).await.within(|| {
                Context::step("read the account's history")
                    .account(account)
                    .cause(cause)
            })?,
            _ => false,
        };
        if frozen {
            return Ok(outcome);
        }
        tracing::warn!(%account, cause, verdict = ?outcome.verdict, "the account could not be frozen: the threshold is raised");
    }
    // purged now rather than at the window: what runs goes, the holder keeps the
    // account (a line that freezes froze it instead, above)
    let purge = does(SpendAction::PurgeEarly) && !does(SpendAction::Freeze);
    if purge {
        let trigger = Trigger::new(judged.at, TriggerKind::OperatorExpire);
        let outcome = engine
            .apply(&format!("{cause}/purge"), account, trigger)
            .await?;
        tracing::warn!(%account, cause, verdict = ?outcome.verdict, "spend guard: the account is purged early");
    }
    let raise = does(SpendAction::Raise) || purge || does(SpendAction::Stop);
    let tell = does(SpendAction::TellHolder);
    if !(raise || tell || does(SpendAction::Freeze)) {
        let why = format!("{report} (its thresholds name no action)");
        return Ok(Outcome::new(cause, Some(account), Verdict::Ignored(why)));
    }
    raise_projected(
        engine,
        judged,
        &report,
        burn,
        tell,
        !raise && !does(SpendAction::Freeze),
    )
    .await
}

/// When the holder's lease ends: from the tags spa last wrote (else read from
/// Organizations); `None` without holder or lease, or when the tags cannot be read
/// (a line on the lease is then not judged, never judged as crossed).
async fn lease_end<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    cached: Option<BTreeMap<String, String>>,
    lease: Option<std::time::Duration>,
) -> Option<DateTime<Utc>> {
    let tags = match cached {
        Some(tags) => tags,
        None => {
            let organization = engine.platform().organization();
            match engine
                .retry()
                .run("tags", || organization.tags(account))
                .await
            {
                Ok(tags) => tags,
                Err(error) => {
                    tracing::warn!(%account, %error, "the account's tags cannot be read: its lease is not judged");
                    return None;
                }
            }
        }
    };
    engine.codec().decode(&tags).ok()?.lease_end(lease)
}

/// Publishes `SpendProjected` once for the call (its claim, its key).
async fn raise_projected<P: Platform>(
    engine: &Engine<'_, P>,
    judged: &Judged<'_>,
    report: &str,
    burn: &Burn,
    tell: bool,
    holder_only: bool,
) -> Result<Outcome, UseCaseError> {
    let (cause, account, at) = (judged.cause, judged.account, judged.at);
    let key = format!("spend#{cause}");
    let context = || {
        Context::step("raise the projected spend")
            .account(account)
            .cause(cause)
    };
    if lease::take(engine, &key, context).await? == Taken::Seen {
        return Ok(Outcome::new(cause, Some(account), Verdict::Seen));
    }
    let reason = spa_core::events::redact_emails(report);
    let activity = Activity {
        at,
        account: account.clone(),
        label: Label::SpendProjected,
        from: None,
        to: None,
        detail: reason.clone(),
        cause: Some(cause.to_owned()),
    };
    let mut event = DomainEvent::new(
        Label::SpendProjected,
        engine.environment(),
        account.clone(),
        at,
    )
    .with_reason(&reason)
    .with_fact("burn_per_hour", format!("{} USD", burn.per_hour))
    .with_fact("to_month_end", format!("{} USD", burn.to_month_end()))
    .with_fact("call", judged.what);
    if tell {
        event = event.with_fact("notify_holder", "the account's holder");
    }
    if holder_only {
        event = event.with_fact(HOLDER_ONLY, "yes");
    }
    exceptions::publish_claimed(engine, &key, cause, &activity, event, "the projected spend")
        .await?;
    let mut outcome = Outcome::new(cause, Some(account), Verdict::Applied);
    outcome.events.push(Label::SpendProjected);
    Ok(outcome)
}

/// What the account's month cost so far: the figure kept in the store when it was
/// read today, else Cost Explorer asked (complete days of the month before today, one
/// call per account and day) and the answer kept. Cost Explorer failing, or answering
/// in another currency than the price book's, keeps the last figure of the month (a
/// warning), else none: an unknown month is never taken for zero.
pub(crate) async fn month_so_far<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    cause: &str,
    now: DateTime<Utc>,
) -> Option<Actual> {
    let store = engine.platform().store();
    let kept = match store.actual(account).await {
        Ok(kept) => kept.filter(|actual| actual.of_month(now)),
        Err(error) => {
            tracing::warn!(%account, cause, %error, "the month so far kept in the store cannot be read");
            None
        }
    };
    if let Some(actual) = kept.filter(|actual| actual.current(now)) {
        return Some(actual);
    }
    let today = now.date_naive();
    let costs = engine.platform().cost_source();
    let read = engine
        .retry()
        .run("read the month so far", || {
            costs.period_costs(spend::month_start(now), today, Some(account))
        })
        .await;
    let amount = match read {
        Ok(period) if period.currency == "USD" => period
            .by_account
            .iter()
            .filter(|(id, _)| id == account)
            .map(|(_, amount)| *amount)
            .sum::<f64>(),
        Ok(period) => {
            tracing::warn!(%account, cause, currency = period.currency, "Cost Explorer answers in another currency than the price book's: the month so far is not judged");
            return kept;
        }
        Err(error) => {
            tracing::warn!(%account, cause, %error, "Cost Explorer cannot be read: the last month so far is kept");
            return kept;
        }
    };
    let Some(amount) = Amount::parse(&format!("{amount:.6}")) else {
        return kept;
    };
    let actual = Actual { day: today, amount };
    if let Err(error) = store.set_actual(account, &actual).await {
        // asked again at the next call: a cost, never a wrong figure
        tracing::warn!(%account, cause, %error, "the month so far cannot be kept");
    }
    Some(actual)
}

/// Whether the freeze of cause `freeze` froze the account (its `AccountFrozen`
/// activity), rather than being refused.
async fn frozen_by<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    freeze: &str,
) -> Result<bool, PortError> {
    let store = engine.platform().store();
    let query = ActivityQuery {
        account: Some(account.clone()),
        since: None,
        limit: Some(100),
    };
    let history = engine
        .retry()
        .run("read history", || store.activities(&query))
        .await?;
    Ok(history
        .iter()
        .any(|a| a.label == Label::AccountFrozen && a.cause.as_deref() == Some(freeze)))
}

/// The ledger after the changes were written.
fn merge(ledger: &mut Vec<Entry>, changed: Vec<Entry>) {
    let mut by_id: BTreeMap<String, Entry> = ledger
        .drain(..)
        .map(|e| (e.resource.id.clone(), e))
        .collect();
    for entry in changed {
        by_id.insert(entry.resource.id.clone(), entry);
    }
    ledger.extend(by_id.into_values());
}
