//! The operator's bulk actions and views, for the CLI: select accounts, plan
//! (dry run), act through the command queue (fanned out like the window) or
//! directly, `status` and `check`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::apply::Outcome;
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::fanout::send;
use super::managed::{ManagedAccount, managed_accounts};
use super::on_command::{on_command, trigger_kind};
use crate::ports::{Organization, Platform};
use spa_core::events::{AccountCommand, AccountId, Action};
use spa_core::lifecycle::{Decision, Rejection, State, Trigger, decide};

/// Which accounts an operator action is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These accounts.
    Accounts(Vec<AccountId>),
    /// Every active account under this OU or root, nested OUs included.
    Unit(String),
    /// Every managed account.
    AllManaged,
    /// Every account this person holds (a holder who leaves: `spa close --holder`),
    /// from the holder index, each checked against its tags.
    HeldBy(String),
}

/// How an operator action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Decide on the current tags, write nothing: what would be done.
    DryRun,
    /// One command per account on the queue, handled like the window's.
    Queue,
    /// Applied here, account after account (`--direct`: one account, or local runs).
    Direct,
}

/// What would be done to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The account.
    pub account: AccountId,
    /// Its state now.
    pub state: Option<State>,
    /// The decision, or why nothing would be done (unmanaged, drift, rejection).
    pub result: Result<Decision, String>,
}

/// What a bulk action did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// The accounts selected.
    pub accounts: Vec<AccountId>,
    /// Dry run: what would be done to each.
    pub planned: Vec<Planned>,
    /// Queue: how many commands were sent.
    pub sent: usize,
    /// Direct: what was done to each.
    pub outcomes: Vec<Outcome>,
    /// Direct: the accounts that failed, and why.
    pub failures: Vec<(AccountId, String)>,
}

/// The accounts of a selection.
pub async fn select<P: Platform>(
    engine: &Engine<'_, P>,
    selection: &Selection,
) -> Result<Vec<AccountId>, UseCaseError> {
    Ok(match selection {
        Selection::Accounts(ids) => {
            let unique: BTreeSet<_> = ids.iter().cloned().collect();
            unique.into_iter().collect()
        }
        Selection::Unit(unit) => ids(managed_accounts(engine, Some(unit)).await?),
        Selection::AllManaged => ids(managed_accounts(engine, None).await?),
        Selection::HeldBy(holder) => super::slack::accounts_of(engine, holder)
            .await?
            .into_iter()
            .map(|held| held.account)
            .collect(),
    })
}

fn ids(accounts: Vec<ManagedAccount>) -> Vec<AccountId> {
    accounts.into_iter().map(|a| a.id).collect()
}

/// Runs `action` on the selected accounts. `run_id` names the run (`operator-<time>`):
/// command ids are `<run_id>/<account>`.
pub async fn bulk<P: Platform>(
    engine: &Engine<'_, P>,
    selection: &Selection,
    action: &Action,
    mode: Mode,
    run_id: &str,
) -> Result<BulkReport, UseCaseError> {
    let kind = trigger_kind(action).map_err(|reason| {
        UseCaseError::bad_input(Context::step("read the action").cause(run_id), reason)
    })?;
    let accounts = select(engine, selection).await?;
    let now = engine.now();
    let mut report = BulkReport {
        accounts: accounts.clone(),
        ..BulkReport::default()
    };
    let command = |account: &AccountId| {
        AccountCommand::new(
            run_id,
            engine.environment(),
            account.clone(),
            action.clone(),
            now,
            "operator",
        )
    };
    match mode {
        Mode::DryRun => {
            for account in &accounts {
                report
                    .planned
                    .push(plan(engine, account, Trigger::new(now, kind.clone())).await?);
            }
        }
        Mode::Queue => {
            let commands: Vec<_> = accounts.iter().map(command).collect();
            send(engine, run_id, &commands).await?;
            report.sent = commands.len();
        }
        Mode::Direct => {
            for account in &accounts {
                match on_command(engine, &command(account)).await {
                    Ok(outcome) => report.outcomes.push(outcome),
                    Err(error) => report.failures.push((account.clone(), error.to_string())),
                }
            }
        }
    }
    Ok(report)
}

/// What `trigger` would do to `account` now, writing nothing.
pub async fn plan<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    trigger: Trigger,
) -> Result<Planned, UseCaseError> {
    let organization = engine.platform().organization();
    let context = || Context::step("plan").account(account);
    let tags = organization.tags(account).await.within(context)?;
    let planned = |state, result| Planned {
        account: account.clone(),
        state,
        result,
    };
    let view = match engine.codec().decode(&tags) {
        Ok(view) => view,
        Err(error) => return Ok(planned(None, Err(format!("drift: {error}")))),
    };
    let resolved =
        super::resolve::account_settings(engine.settings(), organization, account.as_str())
            .await
            .within(context)?;
    let Some(resolved) = resolved else {
        return Ok(planned(view.state, Err("not managed by spa".into())));
    };
    let result = decide(&view, &trigger, &resolved.policy()).map_err(|r: Rejection| r.to_string());
    Ok(planned(view.state, result))
}

/// One line of `spa status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// The account.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// Where it was found (`ou-ab12-sandbox1/Team A`).
    pub path: String,
    /// Its state (`unmanaged` when it has no state tag, `drift: ...` when its tags do
    /// not decode).
    pub state: String,
    /// Its holder, masked.
    pub holder: Option<String>,
    /// Since when it is in its state.
    pub since: Option<DateTime<Utc>>,
    /// The end of the cooldown after its last purge, while no new holder may have it.
    pub cooldown_until: Option<DateTime<Utc>>,
    /// Until when its holder put off its purge (once per purge).
    pub snoozed_until: Option<DateTime<Utc>>,
}

/// Every managed account with its state (reads the tags of each: fine for the CLI).
pub async fn status<P: Platform>(engine: &Engine<'_, P>) -> Result<Vec<StatusLine>, UseCaseError> {
    let organization = engine.platform().organization();
    let mut lines = Vec::new();
    for account in managed_accounts(engine, None).await? {
        let context = || Context::step("status").account(&account.id);
        let tags = match organization.tags(&account.id).await {
            Ok(tags) => tags,
            // listed in the settings, gone from the organization: say so, go on
            Err(crate::ports::PortError::NotFound { .. }) => {
                lines.push(StatusLine {
                    account: account.id.clone(),
                    name: String::new(),
                    path: account.path.clone(),
                    state: "not in the organization".to_owned(),
                    holder: None,
                    since: None,
                    cooldown_until: None,
                    snoozed_until: None,
                });
                continue;
            }
            Err(error) => return Err(error).within(context),
        };
        let name = match &account.name {
            Some(name) => name.clone(),
            None => {
                organization
                    .describe_account(&account.id)
                    .await
                    .within(context)?
                    .name
            }
        };
        let (state, holder, since, cooldown_until, snoozed_until) =
            match engine.codec().decode(&tags) {
                Ok(view) => (
                    spa_core::lifecycle::state_name(view.state).to_owned(),
                    view.holder.as_ref().map(|h| h.masked()),
                    view.since,
                    view.cooling(engine.now()),
                    view.snoozed_until,
                ),
                Err(error) => (format!("drift: {error}"), None, None, None, None),
            };
        lines.push(StatusLine {
            account: account.id,
            name,
            path: account.path,
            state: spa_core::events::redact_emails(&state),
            holder,
            since,
            cooldown_until,
            snoozed_until,
        });
    }
    Ok(lines)
}

/// What `spa check` finds wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A managed account without state tag (never vended, or the tag was removed).
    MissingState(AccountId),
    /// Tags that do not decode (an unknown state, a malformed value).
    Undecodable(AccountId, String),
    /// Tags that decode but do not hold together.
    Inconsistent(AccountId, String),
    /// Lifecycle tags on an account spa does not manage.
    StrayTags(AccountId, Vec<String>),
    /// An on-boarding or maintenance transaction past its deadline.
    Overdue(AccountId, DateTime<Utc>),
}

/// Drift across the organization: managed accounts' tags, and lifecycle tags on
/// unmanaged accounts (reads every account's tags: an operator's command).
pub async fn check<P: Platform>(engine: &Engine<'_, P>) -> Result<Vec<Finding>, UseCaseError> {
    let organization = engine.platform().organization();
    let codec = engine.codec();
    let reserved = codec.reserved_keys();
    let now = engine.now();
    let managed: BTreeSet<AccountId> = ids(managed_accounts(engine, None).await?)
        .into_iter()
        .collect();
    let every = organization
        .list_accounts()
        .await
        .within(|| Context::step("check"))?;
    let mut findings = Vec::new();
    let mut tags_of: BTreeMap<AccountId, BTreeMap<String, String>> = BTreeMap::new();
    for record in every {
        let tags = organization
            .tags(&record.id)
            .await
            .within(|| Context::step("check").account(&record.id))?;
        tags_of.insert(record.id, tags);
    }
    for (account, tags) in tags_of {
        if !managed.contains(&account) {
            // an empty lifecycle tag is absent (`TagCodec::fold`)
            let stray: Vec<String> = tags
                .iter()
                .filter(|(k, v)| reserved.contains(*k) && !v.is_empty())
                .map(|(k, _)| k.clone())
                .collect();
            if !stray.is_empty() {
                findings.push(Finding::StrayTags(account, stray));
            }
            continue;
        }
        match codec.decode(&tags) {
            Err(error) => findings.push(Finding::Undecodable(
                account,
                spa_core::events::redact_emails(&error.to_string()),
            )),
            Ok(view) if view.state.is_none() => findings.push(Finding::MissingState(account)),
            Ok(view) => {
                if let Err(inconsistency) = view.check() {
                    findings.push(Finding::Inconsistent(
                        account.clone(),
                        inconsistency.to_string(),
                    ));
                }
                if let (Some(state), Some(transaction)) = (view.state, view.transaction)
                    && state.builds()
                    && transaction.overdue(now)
                {
                    findings.push(Finding::Overdue(account, transaction.deadline));
                }
            }
        }
    }
    Ok(findings)
}
