//! Holders in the loop, from Slack: `/spa request [LEASE]`, its approval, `/spa
//! extend` and the buttons (approve, deny, extend, unfreeze). Run by the `commands`
//! function, the one that may tag accounts, from the jobs the `slack-commands`
//! function verified and queued (`usecases::slack`); every answer is a Slack message.
//!
//! Who may do what is decided here, from the clicker's Slack user id and address and
//! the settings as they are now, never from what a button carries: a request is
//! answered by an approver of its unit (`requests.approvers`), a lease is extended by
//! the account's holder (its holder tag) or an admin (`features.slack_admins`), an
//! account is unfrozen by an admin.
//!
//! Any step may be the last. A request is stored before anything else (its id comes
//! from the verified Slack request: a re-delivered job finds it); the account picked
//! for it is written into it before the account is given (a resumed grant gives the
//! same one); the assignment is an ordinary transition (cause `request/<id>/<account>`:
//! once); the status only moves forward with conditional writes, so two approvers who
//! click at once answer once. The approvers' messages are noted as they go out
//! (`request-asked#<id>`), so a resumed request does not ask them twice.

use std::time::Duration;

use serde_json::Value;

use super::apply::Verdict;
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::lease::{self, Taken};
use super::managed::managed_accounts;
use crate::ports::{
    AccessRequests, Claim, Claims, Organization, Platform, PortError, Secret, Secrets, Webhooks,
    WriterLeases,
};
use spa_core::chatops::answers::{self, Given};
use spa_core::events::AccountId;
use spa_core::lifecycle::{Holder, State, Trigger, TriggerKind};
use spa_core::requests::{AccessRequest, AnswerRefused, RequestStatus, free_accounts};
use spa_core::settings::{Requests, Resolved};

/// How long a pool account picked for a request is kept from other requests while it
/// is being given.
const PICK_HOLD: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// Accounts tried for one grant before "none free" (another request may take one).
const PICK_TRIES: usize = 5;

/// Who asks or clicks, as the `slack-commands` function saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// Their Slack user id.
    pub user: String,
    /// Their address, as Slack gave it (lowercase).
    pub email: Option<String>,
    /// In `features.slack_admins`.
    pub admin: bool,
}

/// A unit that opens requests, as the settings resolve it now.
#[derive(Debug, Clone)]
struct OpenUnit {
    id: String,
    name: String,
    resolved: Resolved,
}

impl OpenUnit {
    fn requests(&self) -> &Requests {
        &self.resolved.requests
    }
}

/// The units that open requests, in the order of the settings.
async fn open_units<P: Platform>(engine: &Engine<'_, P>) -> Result<Vec<OpenUnit>, UseCaseError> {
    let settings = engine.settings();
    let mut units = Vec::new();
    for unit in &settings.organizational_units {
        if let Some(open) = open_unit(engine, unit.identifier.as_str()).await?
            && open.requests().enabled
        {
            units.push(open);
        }
    }
    Ok(units)
}

/// One listed unit, resolved with its place in the organization.
async fn open_unit<P: Platform>(
    engine: &Engine<'_, P>,
    unit: &str,
) -> Result<Option<OpenUnit>, UseCaseError> {
    let settings = engine.settings();
    let Some(listed) = settings.organizational_unit(unit) else {
        return Ok(None);
    };
    let organization = engine.platform().organization();
    let resolved = match engine
        .retry()
        .run("unit settings", || {
            super::resolve::ou_settings(settings, organization, unit)
        })
        .await
    {
        Ok(resolved) => resolved,
        // listed, but not (or no longer) in the organization: nothing to give from it
        Err(PortError::NotFound { .. }) => {
            tracing::warn!(
                unit,
                "a listed unit is not in the organization: no request goes there"
            );
            return Ok(None);
        }
        Err(error) => {
            return Err(error).within(|| Context::step("read the unit's place").cause(unit));
        }
    };
    Ok(resolved.map(|resolved| OpenUnit {
        id: unit.to_owned(),
        name: listed.item.note.clone().unwrap_or_else(|| unit.to_owned()),
        resolved,
    }))
}

/// The pool accounts of `unit` free to give now (not those of a nested unit listed on
/// its own: they follow that unit's settings).
async fn free_in<P: Platform>(
    engine: &Engine<'_, P>,
    unit: &str,
) -> Result<Vec<AccountId>, UseCaseError> {
    let settings = engine.settings();
    let platform = engine.platform();
    let (organization, store) = (platform.organization(), platform.store());
    let listed: Vec<AccountId> = managed_accounts(engine, Some(unit))
        .await?
        .into_iter()
        .filter(|a| {
            a.parent.as_deref().is_none_or(|parent| {
                parent == unit || settings.organizational_unit(parent).is_none()
            })
        })
        .map(|a| a.id)
        .collect();
    let context = || Context::step("find a free pool account").cause(unit);
    let cached = engine
        .retry()
        .run("cached accounts", || store.cached_many(&listed))
        .await
        .within(context)?;
    let mut views = Vec::new();
    for account in listed {
        let tags = match cached.get(&account).and_then(|c| c.tags.clone()) {
            Some(tags) => tags,
            None => match engine
                .retry()
                .run("tags", || organization.tags(&account))
                .await
            {
                Ok(tags) => tags,
                Err(PortError::NotFound { .. }) => continue,
                Err(error) => return Err(error).within(|| context().account(&account)),
            },
        };
        if let Ok(view) = engine.codec().decode(&tags) {
            views.push((account, view));
        }
    }
    Ok(free_accounts(&views, engine.now()))
}

/// `/spa request [LEASE]`: the answer to the person who asks. `id`: the request's id
/// (from the verified Slack request).
pub async fn ask<P: Platform>(
    engine: &Engine<'_, P>,
    asker: &Asker,
    lease: Option<Duration>,
    id: &str,
) -> Result<Value, UseCaseError> {
    let store = engine.platform().store();
    let context = || Context::step("request an account").cause(id);
    let Some(email) = asker.email.clone() else {
        return Ok(spa_core::chatops::reply::unknown_asker());
    };
    if Holder::new(&email).is_err() {
        return Ok(spa_core::chatops::reply::unknown_asker());
    }
    // delivered again: the request goes on from where it is
    if let Some(request) = find(engine, id).await? {
        return resume(engine, request).await;
    }
    let units = open_units(engine).await?;
    if units.is_empty() {
        return Ok(answers::closed());
    }
    let mut chosen = None;
    for unit in units {
        if !free_in(engine, &unit.id).await?.is_empty() {
            chosen = Some(unit);
            break;
        }
    }
    let Some(unit) = chosen else {
        return Ok(answers::none_free());
    };
    let limit = unit.requests().per_holder;
    let held = super::slack::accounts_of(engine, &email).await?.len();
    if held >= usize::try_from(limit).unwrap_or(usize::MAX) {
        return Ok(answers::holds_enough(held, limit));
    }
    if let (Some(asked), Some(longest)) = (lease, unit.resolved.lease)
        && asked > longest
    {
        return Ok(answers::lease_too_long(asked, longest));
    }
    let now = engine.now();
    let expiry =
        chrono::TimeDelta::from_std(unit.requests().expiry).unwrap_or(chrono::TimeDelta::days(1));
    let request = AccessRequest {
        id: id.to_owned(),
        requester: asker.user.clone(),
        email,
        unit: unit.id.clone(),
        lease,
        asked: now,
        expires: now + expiry,
        status: RequestStatus::Pending,
        answered_by: None,
        answered_at: None,
        account: None,
    };
    let created = engine
        .retry()
        .run("write the request", || store.put_request(&request))
        .await
        .within(context)?;
    tracing::info!(
        request = id,
        unit = unit.id,
        user = asker.user,
        created,
        "account requested"
    );
    resume(engine, request).await
}

/// A request goes on from its status: approvers asked, or the account given.
async fn resume<P: Platform>(
    engine: &Engine<'_, P>,
    request: AccessRequest,
) -> Result<Value, UseCaseError> {
    let Some(unit) = open_unit(engine, &request.unit).await? else {
        return Ok(answers::closed());
    };
    match request.status {
        RequestStatus::Pending if !unit.requests().approvers.is_empty() => {
            ask_approvers(engine, &request, &unit).await?;
            Ok(answers::pending(&request, &unit.requests().approvers))
        }
        RequestStatus::Pending | RequestStatus::Approved | RequestStatus::Granted => {
            match grant(engine, request, &unit).await? {
                Some(given) => Ok(answers::granted(&given)),
                None => Ok(answers::none_free()),
            }
        }
        RequestStatus::Denied => Ok(answers::said(&format!(
            "Your request `{}` was denied.",
            request.id
        ))),
        RequestStatus::Expired => Ok(answers::said(&format!(
            "Your request `{}` expired unanswered: ask again with `/spa request`.",
            request.id
        ))),
    }
}

/// Each approver gets the request once (noted as they go, so a resumed request does
/// not ask the ones asked before).
async fn ask_approvers<P: Platform>(
    engine: &Engine<'_, P>,
    request: &AccessRequest,
    unit: &OpenUnit,
) -> Result<(), UseCaseError> {
    let key = format!("request-asked#{}", request.id);
    let context = || Context::step("ask the approvers").cause(&request.id);
    let asked_before = match lease::take(engine, &key, context).await? {
        Taken::Seen => return Ok(()),
        Taken::Go { note, .. } => note.unwrap_or_default(),
    };
    let token = match bot_token(engine).await {
        Ok(token) => token,
        Err(error) => return lease::end(engine, &key, Err(error)).await,
    };
    let store = engine.platform().store();
    let mut asked: Vec<String> = asked_before
        .split(',')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    let mut result = Ok(());
    for approver in &unit.requests().approvers {
        if asked.contains(approver) {
            continue;
        }
        let message = answers::approval(approver, request, &unit.name);
        if let Err(error) = engine
            .retry()
            .run("ask an approver", || {
                engine.platform().webhooks().post_message(&token, &message)
            })
            .await
        {
            // the others are asked all the same; this one is asked again on the retry
            tracing::error!(request = request.id, approver, %error, "an approver could not be asked");
            result = Err(error).within(context);
            continue;
        }
        asked.push(approver.clone());
        if let Err(error) = store.note(&key, &asked.join(",")).await {
            tracing::warn!(request = request.id, %error, "the approvers asked could not be noted");
        }
    }
    lease::end(engine, &key, result).await
}

/// The bot token (`notifications.slack_bot_token`).
async fn bot_token<P: Platform>(engine: &Engine<'_, P>) -> Result<Secret, UseCaseError> {
    let context = || Context::step("read the Slack bot token");
    let Some(reference) = &engine.settings().notifications.slack_bot_token else {
        return Err(UseCaseError::bad_input(
            context(),
            "no `notifications.slack_bot_token`: spa cannot write to Slack users",
        ));
    };
    let secrets = engine.platform().secrets();
    engine
        .retry()
        .run("read bot token", || secrets.secret(reference.as_str()))
        .await
        .within(context)
}

/// Gives the request a free account of its unit (the one it names already, when a
/// delivery died after picking it): the assignment, then the shorter lease asked.
/// `None`: no account could be given.
async fn grant<P: Platform>(
    engine: &Engine<'_, P>,
    mut request: AccessRequest,
    unit: &OpenUnit,
) -> Result<Option<Given>, UseCaseError> {
    let id = request.id.clone();
    let context = || Context::step("give the requested account").cause(&id);
    let holder = Holder::new(&request.email).map_err(|error| {
        UseCaseError::bad_input(context(), format!("the requester's address: {}", error.why))
    })?;
    let mut tried: Vec<AccountId> = Vec::new();
    for _ in 0..PICK_TRIES {
        let account = match request.account.clone() {
            Some(account) => account,
            None => {
                let Some(account) = pick(engine, &unit.id, &tried).await? else {
                    return Ok(None);
                };
                let picked = AccessRequest {
                    account: Some(account.clone()),
                    ..request.clone()
                };
                let written = move_to(engine, &picked, &request).await?;
                if !written {
                    // another delivery moved it: go on from what it wrote
                    request = read(engine, &id).await?;
                    continue;
                }
                request = picked;
                account
            }
        };
        let cause = format!("request/{}/{account}", request.id);
        let outcome = engine
            .apply(
                &cause,
                &account,
                Trigger::new(engine.now(), TriggerKind::OperatorAssign(holder.clone())),
            )
            .await?;
        // whatever the verdict (a delivery that died after the assignment finds it
        // done, or refused): the tags say whether the account is the requester's now
        tracing::debug!(request = request.id, %account, verdict = ?outcome.verdict, "assignment asked");
        let given = given_to(engine, &account, &holder).await?;
        if !given {
            tracing::info!(request = request.id, %account, verdict = ?outcome.verdict, "the account picked could not be given: another one is tried");
            tried.push(account);
            let cleared = AccessRequest {
                account: None,
                ..request.clone()
            };
            if move_to(engine, &cleared, &request).await? {
                request = cleared;
            } else {
                request = read(engine, &id).await?;
            }
            continue;
        }
        let lease_end = shorter_lease(engine, &request, &account, unit).await?;
        if request.status != RequestStatus::Granted {
            let granted = AccessRequest {
                status: RequestStatus::Granted,
                ..request.clone()
            };
            move_to(engine, &granted, &request).await?;
        }
        tracing::info!(request = request.id, %account, "requested account given");
        let name = engine
            .retry()
            .run("describe_account", || {
                engine.platform().organization().describe_account(&account)
            })
            .await
            .map(|record| record.name)
            .unwrap_or_default();
        return Ok(Some(Given {
            account,
            name,
            lease_end,
            sign_in_url: engine.settings().notifications.sign_in_url.clone(),
            extendable: unit.resolved.lease_extension.is_some(),
        }));
    }
    Ok(None)
}

/// Whether `account` is assigned to `holder` (the tags its last writer left, else
/// read from Organizations).
async fn given_to<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    holder: &Holder,
) -> Result<bool, UseCaseError> {
    let platform = engine.platform();
    let context = || Context::step("read the account given").account(account);
    let cached = engine
        .retry()
        .run("cached account", || platform.store().cached(account))
        .await
        .within(context)?
        .tags;
    let tags = match cached {
        Some(tags) => tags,
        None => engine
            .retry()
            .run("tags", || platform.organization().tags(account))
            .await
            .within(context)?,
    };
    Ok(engine.codec().decode(&tags).is_ok_and(|view| {
        view.state == Some(State::Assigned) && view.holder.as_ref() == Some(holder)
    }))
}

/// A free account of `unit`, not among `tried`, kept from other requests while it is
/// given (a claim that runs out by itself).
async fn pick<P: Platform>(
    engine: &Engine<'_, P>,
    unit: &str,
    tried: &[AccountId],
) -> Result<Option<AccountId>, UseCaseError> {
    let store = engine.platform().store();
    let now = engine.now();
    for account in free_in(engine, unit).await? {
        if tried.contains(&account) {
            continue;
        }
        let key = format!("pool#{account}");
        match engine
            .retry()
            .run("hold a pool account", || {
                store.claim(&key, now, now + PICK_HOLD, false)
            })
            .await
            .within(|| Context::step("hold a pool account").account(&account))?
        {
            Claim::New | Claim::Resumed { .. } => return Ok(Some(account)),
            Claim::Busy { .. } | Claim::Seen | Claim::Failed { .. } => continue,
        }
    }
    Ok(None)
}

/// The request of id `id`, if the store has it.
async fn find<P: Platform>(
    engine: &Engine<'_, P>,
    id: &str,
) -> Result<Option<AccessRequest>, UseCaseError> {
    let store = engine.platform().store();
    engine
        .retry()
        .run("read the request", || store.request(id))
        .await
        .within(|| Context::step("read the request").cause(id))
}

/// The request of id `id`, which the store has (it was read before).
async fn read<P: Platform>(
    engine: &Engine<'_, P>,
    id: &str,
) -> Result<AccessRequest, UseCaseError> {
    find(engine, id).await?.ok_or_else(|| {
        UseCaseError::bad_input(
            Context::step("read the request").cause(id),
            "the request is not in the store any more",
        )
    })
}

/// Moves a request from `from`, as read, to `to` (a conditional write): `false` when
/// another delivery or answer moved it first.
async fn move_to<P: Platform>(
    engine: &Engine<'_, P>,
    to: &AccessRequest,
    from: &AccessRequest,
) -> Result<bool, UseCaseError> {
    let store = engine.platform().store();
    engine
        .retry()
        .run("move the request", || store.update_request(to, from))
        .await
        .within(|| Context::step("move the request").cause(&to.id))
}

/// The lease asked, when shorter than the account's: its end written (once); the
/// end of the lease either way.
async fn shorter_lease<P: Platform>(
    engine: &Engine<'_, P>,
    request: &AccessRequest,
    account: &AccountId,
    unit: &OpenUnit,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, UseCaseError> {
    let store = engine.platform().store();
    let tags = engine
        .retry()
        .run("cached account", || store.cached(account))
        .await
        .ok()
        .and_then(|cache| cache.tags);
    let view = tags.and_then(|tags| engine.codec().decode(&tags).ok());
    let lease = unit.resolved.lease;
    let end = view.as_ref().and_then(|v| v.lease_end(lease));
    let (Some(asked), Some(view)) = (request.lease, view) else {
        return Ok(end);
    };
    let Some(until) = view
        .assignment_start()
        .and_then(|start| chrono::TimeDelta::from_std(asked).ok().map(|d| start + d))
    else {
        return Ok(end);
    };
    if end.is_some_and(|end| end <= until) {
        return Ok(end);
    }
    let cause = format!("request/{}/lease", request.id);
    let outcome = engine
        .apply(
            &cause,
            account,
            Trigger::new(engine.now(), TriggerKind::LeaseEnd { until }),
        )
        .await?;
    tracing::info!(request = request.id, %account, verdict = ?outcome.verdict, "the lease asked was written");
    Ok(Some(until))
}

/// A click on `approve` or `deny`: the approver's message is replaced by the
/// verdict; the person who asked is told in a direct message.
pub async fn answer<P: Platform>(
    engine: &Engine<'_, P>,
    asker: &Asker,
    id: &str,
    approve: bool,
) -> Result<Value, UseCaseError> {
    let Some(request) = find(engine, id).await? else {
        return Ok(answers::said(
            "This request is not known to spa (any more).",
        ));
    };
    let Some(unit) = open_unit(engine, &request.unit).await? else {
        return Ok(answers::said(
            "This request's unit is no longer in spa's settings.",
        ));
    };
    let approvers = &unit.requests().approvers;
    let answered = match request.answer(&asker.user, approvers, approve, engine.now()) {
        Ok(answered) => {
            let written = move_to(engine, &answered, &request).await?;
            if !written {
                let now = read(engine, id).await?;
                return Ok(answers::said(
                    &AnswerRefused::Answered {
                        status: now.status,
                        by: now.answered_by,
                    }
                    .to_string(),
                ));
            }
            tracing::info!(
                request = id,
                approver = asker.user,
                approve,
                "request answered"
            );
            answered
        }
        // this approver's own answer, delivered again or clicked twice: it goes on
        Err(AnswerRefused::Answered { status, .. })
            if request.answered_by.as_deref() == Some(asker.user.as_str())
                && approvers.contains(&asker.user)
                && approve == (status != RequestStatus::Denied) =>
        {
            request
        }
        Err(refused) => {
            tracing::warn!(request = id, user = asker.user, %refused, "answer refused");
            return Ok(answers::said(&refused.to_string()));
        }
    };
    if answered.status == RequestStatus::Denied {
        let told = answers::denied_to(&answered.requester, &answered, &asker.user);
        tell(engine, &told, id).await;
        return Ok(answers::answered(&answered, &asker.user, None));
    }
    let Some(given) = grant(engine, answered.clone(), &unit).await? else {
        let none = answers::direct(
            &answered.requester,
            &format!(
                "Your request `{id}` was approved, but no sandbox account is free right now. Ask again later."
            ),
            &[],
        );
        tell(engine, &none, id).await;
        return Ok(answers::said(
            "Approved, but no sandbox account is free right now: the person who asked was told.",
        ));
    };
    let told = answers::granted_to(&answered.requester, &given, &asker.user);
    tell(engine, &told, id).await;
    Ok(answers::answered(
        &answered,
        &asker.user,
        Some(&given.account),
    ))
}

/// The direct message of a request's outcome, once per request; whether it is out
/// (sent now or before). A failure is logged, never the request's: an answer stands
/// whether or not its message got out, and the holder gets the assignment's e-mail.
async fn tell<P: Platform>(engine: &Engine<'_, P>, message: &Value, id: &str) -> bool {
    let token = match bot_token(engine).await {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(request = id, %error, "the requester could not be told in Slack");
            return false;
        }
    };
    let key = format!("request-told#{id}");
    let now = engine.now();
    let store = engine.platform().store();
    match store
        .claim(&key, now, now + chrono::TimeDelta::minutes(5), false)
        .await
    {
        Ok(Claim::New | Claim::Resumed { .. }) => {}
        Ok(Claim::Seen) => return true,
        Ok(Claim::Busy { .. } | Claim::Failed { .. }) => return false,
        Err(error) => {
            tracing::warn!(request = id, %error, "the message's claim could not be taken: sent anyway");
        }
    }
    let sent = engine
        .retry()
        .run("tell the requester", || {
            engine.platform().webhooks().post_message(&token, message)
        })
        .await;
    match sent {
        Ok(()) => {
            if let Err(error) = store.complete(&key, now, None).await {
                tracing::warn!(request = id, %error, "the message's claim could not be completed");
            }
            true
        }
        Err(error) => {
            tracing::error!(request = id, %error, "the requester could not be told in Slack");
            if let Err(error) = store.release(&key).await {
                tracing::warn!(request = id, %error, "the message's claim could not be released");
            }
            false
        }
    }
}

/// The sweeper's pass over the requests nobody answered in time: the person who asked
/// is told in a direct message (once: its claim), then the request is marked expired
/// (a conditional write). Told first, so that a pass that dies in between, or a
/// message that does not get out, leaves the request due for the next sweep: never
/// marked without its message, never told twice. How many expired.
pub async fn expire_due<P: Platform>(engine: &Engine<'_, P>) -> Result<usize, UseCaseError> {
    let store = engine.platform().store();
    let now = engine.now();
    let due = engine
        .retry()
        .run("due requests", || store.due_requests(now))
        .await
        .within(|| Context::step("expire the requests nobody answered"))?;
    let mut expired = 0;
    for id in due {
        let Some(request) = find(engine, &id).await? else {
            continue;
        };
        let Some(ended) = request.expire(now) else {
            continue;
        };
        let told = answers::expired_to(&ended.requester, &ended);
        if !tell(engine, &told, &id).await {
            continue;
        }
        if move_to(engine, &ended, &request).await? {
            expired += 1;
            tracing::info!(request = id, "request expired unanswered");
        }
    }
    Ok(expired)
}

/// `/spa extend ACCOUNT [DURATION]` and the `Extend` button: the holder (or an admin)
/// pushes the lease's end by `by`, or to the furthest the settings allow.
pub async fn extend<P: Platform>(
    engine: &Engine<'_, P>,
    asker: &Asker,
    account: &AccountId,
    by: Option<Duration>,
    cause: &str,
) -> Result<Value, UseCaseError> {
    let platform = engine.platform();
    let organization = platform.organization();
    let context = || {
        Context::step("extend a lease")
            .account(account)
            .cause(cause)
    };
    let refused = || spa_core::chatops::reply::refused(account);
    let tags = match engine
        .retry()
        .run("tags", || organization.tags(account))
        .await
    {
        Ok(tags) => tags,
        Err(PortError::NotFound { .. }) => return Ok(refused()),
        Err(error) => return Err(error).within(context),
    };
    let Ok(view) = engine.codec().decode(&tags) else {
        return Ok(refused());
    };
    let theirs = match (&asker.email, &view.holder) {
        (Some(email), Some(holder)) => holder.as_str().eq_ignore_ascii_case(email),
        _ => false,
    };
    if !theirs && !asker.admin {
        return Ok(refused());
    }
    let Some(resolved) = engine
        .retry()
        .run("account settings", || {
            super::resolve::account_settings(engine.settings(), organization, account.as_str())
        })
        .await
        .within(context)?
    else {
        return Ok(refused());
    };
    let policy = resolved.policy();
    let (Some(end), Some(limit)) = (
        view.lease_end(policy.lease),
        view.lease_limit(policy.lease, policy.lease_extension),
    ) else {
        return Ok(answers::said(&format!(
            "Account {account} has no lease to extend."
        )));
    };
    let until = match by.and_then(|by| chrono::TimeDelta::from_std(by).ok()) {
        Some(by) => end + by,
        None => limit,
    };
    if until <= end {
        return Ok(answers::said(&format!(
            "The lease of account {account} cannot be extended: it ends {} already, the furthest its settings allow (`lease_extension`).",
            end.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    let outcome = engine
        .apply(
            cause,
            account,
            Trigger::new(engine.now(), TriggerKind::LeaseEnd { until }),
        )
        .await?;
    tracing::info!(%account, user = asker.user, verdict = ?outcome.verdict, "lease extension asked");
    Ok(match outcome.verdict {
        Verdict::Applied => answers::extended(account, until),
        // delivered again: the tags read show the end written then
        Verdict::Seen => answers::extended(account, end),
        Verdict::Rejected(rejection) => answers::said(&format!(
            "The lease of account {account} was not extended: {rejection}."
        )),
        _ => answers::said(&format!("The lease of account {account} was not extended.")),
    })
}

/// `/spa snooze ACCOUNT [DURATION]` and the `Snooze` button: the next purge put off,
/// once, for the account's holder (checked against its holder tag by `decide`) or an
/// admin (an operator).
pub async fn snooze<P: Platform>(
    engine: &Engine<'_, P>,
    asker: &Asker,
    account: &AccountId,
    by: Option<Duration>,
    cause: &str,
) -> Result<Value, UseCaseError> {
    use crate::snooze::{SnoozeOutcome, Snoozer};
    let snoozer = if asker.admin {
        Snoozer::Operator
    } else {
        match asker.email.as_deref().map(Holder::new) {
            Some(Ok(holder)) => Snoozer::Holder(holder),
            _ => return Ok(spa_core::chatops::reply::unknown_asker()),
        }
    };
    let outcome = crate::snooze::snooze_for(engine, cause, account, by, snoozer).await?;
    Ok(match outcome {
        SnoozeOutcome::Snoozed { purge, until } => answers::said(&format!(
            "The purge of account {account} planned {} is put off until {}.",
            purge.format("%Y-%m-%d %H:%M UTC"),
            until.format("%Y-%m-%d %H:%M UTC")
        )),
        SnoozeOutcome::Refused(why) => {
            answers::said(&format!("Account {account} was not snoozed: {why}."))
        }
    })
}

/// The `Unfreeze` button: an admin gives a frozen account back to its state.
pub async fn unfreeze<P: Platform>(
    engine: &Engine<'_, P>,
    asker: &Asker,
    account: &AccountId,
    cause: &str,
) -> Result<Value, UseCaseError> {
    if !asker.admin {
        tracing::warn!(security = "refused", %account, user = asker.user, "unfreeze by a non-admin refused");
        return Ok(answers::said(
            "Only spa's admins (`features.slack_admins`) unfreeze an account.",
        ));
    }
    let outcome = engine
        .apply(
            cause,
            account,
            Trigger::new(engine.now(), TriggerKind::OperatorUnfreeze),
        )
        .await?;
    tracing::info!(%account, user = asker.user, verdict = ?outcome.verdict, "unfreeze asked");
    Ok(match outcome.verdict {
        Verdict::Applied => answers::unfrozen(
            account,
            &asker.user,
            Some(spa_core::lifecycle::state_name(outcome.to)),
        ),
        Verdict::Seen => answers::unfrozen(account, &asker.user, None),
        Verdict::Rejected(rejection) => {
            answers::said(&format!("Account {account} was not unfrozen: {rejection}."))
        }
        Verdict::Unmanaged => answers::said(&format!("Account {account} is not managed by spa.")),
        _ => answers::said(&format!("Account {account} was not unfrozen.")),
    })
}
