//! The account's AWS Budget, ensured when the account is prepared or assigned
//! (`Command::EnsureBudget`): amount, currency and thresholds from the resolved
//! settings, alerts to the account's own budget-alerts topic (which feeds the central
//! budget alerts queue) and to the holder.
//!
//! A budget that cannot be ensured does not undo the transition (the tags are
//! written): it raises `Drift`, so that a person looks at it, and the next
//! preparation tries again.

use super::apply::Run;
use super::context::Engine;
use super::error::UseCaseError;
use super::exceptions;
use crate::ports::{BudgetChange, BudgetPlan, Budgets, Platform};
use spa_core::events::{AccountId, Label};
use spa_core::settings::Resolved;

pub use spa_core::footprint::budget_name;

/// The plan of the budget of `account`: `None` when its settings give no amount.
pub fn plan<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    resolved: &Resolved,
    holder: Option<&str>,
) -> Option<BudgetPlan> {
    let budget = resolved.budget.as_ref()?;
    Some(BudgetPlan {
        name: budget_name(engine.environment()),
        amount: budget.amount,
        currency: budget.currency.as_str().to_owned(),
        thresholds: budget.thresholds.clone(),
        topic_arn: engine.member_budget_topic_arn(account),
        emails: holder.map(str::to_owned).into_iter().collect(),
    })
}

/// Ensures the budget of the run's account; a failure raises `Drift`.
pub(crate) async fn ensure<P: Platform>(
    engine: &Engine<'_, P>,
    run: &mut Run<'_>,
    resolved: Option<&Resolved>,
) -> Result<(), UseCaseError> {
    let account = run.account;
    let holder = run.holder.as_ref().map(|h| h.as_str().to_owned());
    let Some(plan) = resolved.and_then(|r| plan(engine, account, r, holder.as_deref())) else {
        return Ok(());
    };
    let budgets = engine.platform().budgets();
    let ensured = engine
        .retry()
        .run("ensure budget", || budgets.ensure_budget(account, &plan))
        .await;
    match ensured {
        Ok(BudgetChange::Unchanged) => {
            tracing::debug!(%account, budget = plan.name, "budget as settings say");
            Ok(())
        }
        Ok(BudgetChange::Created) => {
            tracing::info!(%account, budget = plan.name, amount = plan.amount, currency = plan.currency, "budget created");
            Ok(())
        }
        Ok(BudgetChange::Updated(what)) => {
            let what = spa_core::events::redact_emails(&what.join(", "));
            tracing::info!(%account, budget = plan.name, changed = what, "budget updated");
            Ok(())
        }
        Err(error) => {
            let reason = format!("the budget `{}` could not be ensured: {error}", plan.name);
            exceptions::raise(engine, run, Label::Drift, &reason).await
        }
    }
}
