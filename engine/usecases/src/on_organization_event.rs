//! `aws.organizations` events: accounts entering and leaving managed OUs, lifecycle
//! tags set by people, closures and removals.
//!
//! - `CreateAccountResult` SUCCEEDED -> entered a managed OU (an account created
//!   outside the managed OUs is recorded as unmanaged).
//! - `MoveAccount`: into management -> entered; out of it -> left (moved out);
//!   between managed OUs -> the account's cached place is forgotten (the next
//!   transition reads where it is, and the new settings).
//! - `TagResource` / `UntagResource` by spa's own role are its own writes: ignored.
//!   By anyone else: the account's cached tags are forgotten first (read again by the
//!   next transition), then: the state tag set to `vended` -> re-vend; the holder tag set -> holder tagged
//!   (a re-tag on an assigned account releases the previous holder, see
//!   [`Engine::apply`]). Lifecycle tags removed by hand are drift: the sweeper and
//!   `spa check` report them.
//! - `CloseAccount` -> left (closed); `RemoveAccountFromOrganization` -> left (removed).

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use crate::ports::{OrganizationTree, Platform, PortError};
use spa_core::events::{
    AccountId, CreateAccountOutcome, OrganizationsCall, OrganizationsEvent, ParentId,
};
use spa_core::lifecycle::{Departure, Holder, State, Trigger, TriggerKind};

/// Reacts to one Organizations event; one outcome per trigger it carries.
pub async fn on_organization_event<P: Platform>(
    engine: &Engine<'_, P>,
    event: &OrganizationsEvent,
) -> Result<Vec<Outcome>, UseCaseError> {
    let cause = event.record.event_id.as_str();
    if let Some(why) = super::trust::organizations_event(engine, event) {
        return Ok(vec![super::trust::refused(cause, None, &why)]);
    }
    let at = event.record.at;
    let ignored = |account: Option<&AccountId>, why: &str| {
        tracing::info!(cause, account = ?account, why, "organizations event ignored");
        Ok(vec![Outcome::new(
            cause,
            account,
            Verdict::Ignored(why.to_owned()),
        )])
    };
    let apply = |account: &AccountId, kind: TriggerKind| {
        let account = account.clone();
        async move {
            engine
                .apply(cause, &account, Trigger::new(at, kind))
                .await
                .map(|outcome| vec![outcome])
        }
    };
    match &event.call {
        OrganizationsCall::CreateAccountResult(result) => match &result.outcome {
            CreateAccountOutcome::Succeeded { account } => {
                apply(account, TriggerKind::EnteredManagedOu).await
            }
            CreateAccountOutcome::Failed { account, .. } => {
                ignored(account.as_ref(), "the account creation failed")
            }
        },
        OrganizationsCall::MoveAccount {
            account,
            source_parent,
            destination_parent,
        } => {
            let before = managed_under(engine, account, source_parent, cause).await?;
            let after = managed_under(engine, account, destination_parent, cause).await?;
            match (before, after) {
                (true, false) => apply(account, TriggerKind::Left(Departure::MovedOut)).await,
                (true, true) => {
                    engine.forget(account, cause, false, true).await?;
                    ignored(
                        Some(account),
                        "moved between managed OUs: the next transition reads its new settings",
                    )
                }
                // into management, or between unmanaged OUs: `apply` re-reads where the
                // account is now, and records it as unmanaged if it is
                (false, _) => apply(account, TriggerKind::EnteredManagedOu).await,
            }
        }
        OrganizationsCall::TagResource { resource, tags } => {
            if engine.is_own(&event.record.principal) {
                return ignored(resource.account(), "spa's own tag change");
            }
            let Some(account) = resource.account() else {
                return ignored(None, "tags of a resource that is not an account");
            };
            // a person changed the tags: what spa knew of them is read again
            engine.forget(account, cause, true, false).await?;
            let codec = engine.codec();
            let (state_key, holder_key) = (codec.state_key(), codec.holder_key());
            let mut outcomes = Vec::new();
            if let Some(tag) = tags.iter().find(|t| t.key == state_key) {
                if tag.value == State::Vended.as_str() {
                    let cause = format!("{cause}#state");
                    outcomes.push(
                        engine
                            .apply(&cause, account, Trigger::new(at, TriggerKind::TaggedVended))
                            .await?,
                    );
                } else {
                    let why = "the state tag was set by hand to another state than vended: the sweeper and `spa check` judge the tags";
                    tracing::warn!(cause, %account, why, "state tag ignored");
                    outcomes.push(Outcome::new(
                        cause,
                        Some(account),
                        Verdict::Ignored(why.into()),
                    ));
                }
            }
            if let Some(tag) = tags.iter().find(|t| t.key == holder_key)
                && !tag.value.is_empty()
            {
                let holder = Holder::new(&tag.value).map_err(|error| {
                    UseCaseError::bad_input(
                        Context::step("read the holder tag")
                            .account(account)
                            .cause(cause),
                        format!("the holder tag is not an e-mail address: {}", error.why),
                    )
                })?;
                let cause = format!("{cause}#holder");
                outcomes.push(
                    engine
                        .apply(
                            &cause,
                            account,
                            Trigger::new(at, TriggerKind::HolderTagged(holder)),
                        )
                        .await?,
                );
            }
            if outcomes.is_empty() {
                return ignored(Some(account), "no lifecycle tag was set");
            }
            Ok(outcomes)
        }
        OrganizationsCall::UntagResource { resource, keys } => {
            if engine.is_own(&event.record.principal) {
                return ignored(resource.account(), "spa's own tag change");
            }
            if let Some(account) = resource.account() {
                // a person changed the tags: what spa knew of them is read again
                engine.forget(account, cause, true, false).await?;
            }
            let reserved = engine.codec().reserved_keys();
            if resource.account().is_some() && keys.iter().any(|k| reserved.contains(k)) {
                tracing::warn!(cause, account = %resource, "lifecycle tags removed by hand: drift");
                return ignored(
                    resource.account(),
                    "lifecycle tags removed by hand: the sweeper and `spa check` report the drift",
                );
            }
            ignored(resource.account(), "no lifecycle tag was removed")
        }
        OrganizationsCall::CloseAccount { account } => {
            apply(account, TriggerKind::Left(Departure::Closed)).await
        }
        OrganizationsCall::RemoveAccountFromOrganization { account } => {
            apply(account, TriggerKind::Left(Departure::Removed)).await
        }
        OrganizationsCall::Failed(failed) => {
            ignored(failed.account.as_ref(), "the call failed: nothing changed")
        }
    }
}

/// Whether `account` is managed when placed under `parent`.
async fn managed_under<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    parent: &ParentId,
    cause: &str,
) -> Result<bool, UseCaseError> {
    let mut chain = vec![parent.as_str().to_owned()];
    if let ParentId::OrganizationalUnit(id) = parent {
        let organization = engine.platform().organization();
        match engine
            .retry()
            .run("read ancestors", || organization.ancestors(id))
            .await
        {
            Ok(ancestors) => chain.extend(ancestors),
            // an OU deleted since: judged by itself
            Err(PortError::NotFound { .. }) => {}
            Err(error) => {
                return Err(error).within(|| {
                    Context::step("read ancestors of a parent")
                        .account(account)
                        .cause(cause)
                });
            }
        }
    }
    Ok(engine.settings().is_managed(account.as_str(), &chain))
}
