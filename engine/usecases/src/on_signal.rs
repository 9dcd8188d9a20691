//! Signals that move no account: console sign-ins and budget alerts.
//!
//! Each is recorded once (claim on its event id, [`crate::lease`]) as an activity of
//! the account. A
//! sign-in that succeeded stamps the account's last sign-in. A signal that needs
//! attention (root or IAM-user sign-in, budget alert) is also published on the bus as
//! its exception event, for the `exceptions` function (incident, notifications) —
//! unless spa does not manage the account: then it is recorded and logged, and
//! nobody is paged for an account spa has no say on.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::lease::{self, Taken};
use crate::ports::{Activity, Bus, Journal, Logins, Organization, Platform, PortError};
use spa_core::events::{AccountId, BudgetAlert, ConsoleLogin, DomainEvent, Label, LoginOutcome};

/// What a signal says, once decoded.
struct Signal<'a> {
    cause: &'a str,
    account: &'a AccountId,
    at: DateTime<Utc>,
    label: Label,
    detail: String,
    facts: BTreeMap<String, String>,
    /// A successful sign-in: stamps the account's last sign-in.
    login: bool,
}

/// A console sign-in: recorded; root and IAM users raise their exception.
pub async fn on_console_login<P: Platform>(
    engine: &Engine<'_, P>,
    login: &ConsoleLogin,
) -> Result<Outcome, UseCaseError> {
    let who = login.principal.masked();
    let mut detail = match &login.outcome {
        LoginOutcome::Success => format!("{who} signed in"),
        LoginOutcome::Failure { reason } => match reason {
            Some(reason) => format!("{who} failed to sign in ({reason})"),
            None => format!("{who} failed to sign in"),
        },
    };
    let mut facts = BTreeMap::from([("principal".to_owned(), who)]);
    if let Some(ip) = &login.source_ip {
        detail.push_str(&format!(" from {ip}"));
        facts.insert("source_ip".into(), ip.clone());
    }
    if let Some(mfa) = login.mfa_used {
        detail.push_str(if mfa { " with MFA" } else { " without MFA" });
        facts.insert("mfa".into(), if mfa { "yes" } else { "no" }.into());
    }
    let mut label = login.label();
    if label.is_exception() && !engine.settings().features.console_login_alerts {
        // recorded under its own label, but nobody is paged
        tracing::info!(account = %login.account, %label, "console login alerts are off (features.console_login_alerts)");
        label = Label::ConsoleLogin;
    }
    let signal = Signal {
        cause: login.event_id.as_str(),
        account: &login.account,
        at: login.at,
        label,
        detail,
        facts,
        login: login.succeeded(),
    };
    on_signal(engine, signal).await
}

/// A budget alert: recorded, and raised as `BudgetAlert` with its figures.
pub async fn on_budget_alert<P: Platform>(
    engine: &Engine<'_, P>,
    alert: &BudgetAlert,
) -> Result<Outcome, UseCaseError> {
    let threshold = alert.threshold.to_string();
    let mut detail = format!(
        "budget `{}`: {} cost {} is over the threshold of {threshold}",
        alert.budget_name,
        alert.alert_type.as_str().to_lowercase(),
        alert.amount
    );
    let mut facts = BTreeMap::from([
        ("budget".to_owned(), alert.budget_name.clone()),
        (
            "alert_type".to_owned(),
            alert.alert_type.as_str().to_owned(),
        ),
        ("threshold".to_owned(), threshold),
        ("amount".to_owned(), alert.amount.to_string()),
    ]);
    if let Some(budgeted) = &alert.budgeted {
        detail.push_str(&format!(" (budgeted {budgeted})"));
        facts.insert("budgeted".into(), budgeted.to_string());
    }
    let signal = Signal {
        cause: alert.event_id.as_str(),
        account: &alert.account,
        at: alert.notified_at.unwrap_or_else(|| engine.now()),
        label: Label::BudgetAlert,
        detail,
        facts,
        login: false,
    };
    on_signal(engine, signal).await
}

async fn on_signal<P: Platform>(
    engine: &Engine<'_, P>,
    signal: Signal<'_>,
) -> Result<Outcome, UseCaseError> {
    let (cause, account) = (signal.cause, signal.account);
    let context = || {
        Context::step("record a signal")
            .account(account)
            .cause(cause)
    };
    if lease::take(engine, cause, context).await? == Taken::Seen {
        return Ok(Outcome::new(cause, Some(account), Verdict::Seen));
    }
    let result = carry_out(engine, &signal).await;
    lease::end(engine, cause, result).await
}

async fn carry_out<P: Platform>(
    engine: &Engine<'_, P>,
    signal: &Signal<'_>,
) -> Result<Outcome, UseCaseError> {
    let platform = engine.platform();
    let (cause, account, label) = (signal.cause, signal.account, signal.label);
    let context = |step| Context::step(step).account(account).cause(cause);
    let managed = if label.needs_attention() {
        is_managed(engine, account)
            .await
            .within(|| context("read the account's tags"))?
    } else {
        true
    };
    let mut detail = spa_core::events::redact_emails(&signal.detail);
    if !managed {
        detail.push_str(" (account not managed by spa: no incident, no notification)");
    }
    let activity = Activity {
        at: signal.at,
        account: account.clone(),
        label,
        from: None,
        to: None,
        detail: detail.clone(),
        cause: Some(cause.to_owned()),
    };
    let store = platform.store();
    engine
        .retry()
        .run("record activity", || store.record(&activity))
        .await
        .within(|| context("record activity"))?;
    if signal.login {
        engine
            .retry()
            .run("stamp last sign-in", || {
                store.stamp_login(account, signal.at)
            })
            .await
            .within(|| context("stamp the last sign-in"))?;
    }
    if !label.needs_attention() {
        tracing::info!(%account, cause, %label, "activity recorded");
        return Ok(Outcome::new(cause, Some(account), Verdict::Applied));
    }
    if !managed {
        tracing::warn!(%account, cause, %label, detail, "exception in an account spa does not manage: recorded only");
        return Ok(Outcome::new(cause, Some(account), Verdict::Unmanaged));
    }
    let mut event = DomainEvent::new(label, engine.environment(), account.clone(), signal.at)
        .with_reason(&detail)
        .keyed(cause);
    for (key, value) in &signal.facts {
        event = event.with_fact(key, value);
    }
    let bus = platform.bus();
    let events = [event];
    engine
        .retry()
        .run("publish the exception", || bus.publish(&events))
        .await
        .within(|| context("publish the exception"))?;
    tracing::warn!(%account, cause, %label, reason = detail, "exception raised");
    let mut outcome = Outcome::new(cause, Some(account), Verdict::Applied);
    outcome.events.push(label);
    Ok(outcome)
}

/// Whether spa manages the account: it carries spa's state tag. An account that left
/// the organization is not managed.
async fn is_managed<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
) -> Result<bool, PortError> {
    let organization = engine.platform().organization();
    match engine
        .retry()
        .run("read tags", || organization.tags(account))
        .await
    {
        Ok(tags) => Ok(tags.contains_key(&engine.codec().state_key())),
        Err(PortError::NotFound { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}
