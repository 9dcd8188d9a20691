//! The `exceptions` function: spa's own events that need a person.
//!
//! An exception (and a quarantine) opens an Incident Manager incident — or, when one
//! is open already for the account and label, adds the repeat to its timeline — with
//! a related item linking the account's month-to-date cost report (XLSX in the
//! reports bucket, presigned URL that expires), then goes to the channels routed for
//! its label (`notifications.routes`: Slack, Teams, e-mail) and, when the route says
//! so, to the holder. An assignment tells the holder by e-mail.
//!
//! Every step is attempted and reported on its own: Incident Manager down, a webhook
//! answering 500, a missing secret never stop the other channels, and the event is
//! not retried for them (a retry would notify the working channels twice). Only not
//! knowing the account (Organizations unavailable) fails the event, so that it comes
//! back. Each event is handled once (a claim on its key, [`DomainEvent::key`](spa_core::events::DomainEvent::key),
//! which every publication of it shares).

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, UseCaseError};
use super::lease::{self, Taken};
use crate::ports::{
    Costs, Email, IncidentRecords, IncidentRequest, IncidentStatus, Incidents, KnownAccount,
    KnownAccounts, Mail, Objects, Organization, OrganizationTree, Platform, PortError, RelatedLink,
    Secrets, Webhooks,
};
use spa_core::events::{AccountId, Label, SpaEvent};
use spa_core::lifecycle::Holder;
use spa_core::notify::{self, Audience, Notice, RenderedEmail, Welcome};
use spa_core::settings::Channel;

/// S3 refuses presigned URLs valid longer than 7 days.
const MAX_LINK: Duration = Duration::from_secs(7 * 86_400);

/// What a notice did, step by step, for the logs, the CLI and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `incident`, `cost report`, `slack`, `teams`, `email`, `holder`.
    pub step: &'static str,
    /// What came of it.
    pub result: Result<String, String>,
}

/// What is known of the account an event is about.
#[derive(Debug, Clone, Default)]
struct Account {
    name: Option<String>,
    holder: Option<Holder>,
    cost_center: Option<String>,
    /// Names of the organizational units, root first.
    ou_path: Vec<String>,
    /// The longest assignment, from the account's settings.
    lease: Option<Duration>,
    /// The pre-purge notice and its snooze, from the account's settings.
    purge_notice: Option<spa_core::settings::PurgeNotice>,
}

/// Handles one of spa's own events on the `exceptions` function.
pub async fn on_notice<P: Platform>(
    engine: &Engine<'_, P>,
    event: &SpaEvent,
) -> Result<Outcome, UseCaseError> {
    let cause = event.event_id.as_str();
    let domain = &event.event;
    let account = &domain.account;
    if let Some(why) = crate::trust::spa_event(engine, event) {
        return Ok(crate::trust::refused(cause, Some(account), &why));
    }
    if domain.environment != engine.environment() {
        let why = format!("an event of environment `{}`", domain.environment);
        return Ok(Outcome::new(cause, Some(account), Verdict::Ignored(why)));
    }
    if !domain.label.is_noticed() {
        let why = format!("`{}` needs nobody", domain.label);
        return Ok(Outcome::new(cause, Some(account), Verdict::Ignored(why)));
    }
    let welcome_only = domain.label != Label::PurgeNotice && !domain.label.needs_attention();
    if welcome_only && let Some(unsent) = welcome_unsent(engine, event) {
        // known from the event and the settings alone: no claim, no read
        return Ok(reported(event, &unsent));
    }
    let key = format!("notice#{}", notice_key(event));
    let context = || {
        Context::step("claim the notice")
            .account(account)
            .cause(cause)
    };
    if lease::take(engine, &key, context).await? == Taken::Seen {
        return Ok(Outcome::new(cause, Some(account), Verdict::Seen));
    }
    let described = describe(engine, account).await.map_err(|error| {
        UseCaseError::port(
            Context::step("describe the account")
                .account(account)
                .cause(cause),
            error,
        )
    });
    let known = match described {
        Ok(known) => known,
        Err(error) => return lease::end(engine, &key, Err(error)).await,
    };
    let deliveries = if domain.label == Label::PurgeNotice {
        purge_notice(engine, event, &known).await
    } else if domain.label.needs_attention() {
        attend(engine, event, &known).await
    } else {
        welcome(engine, event, &known).await
    };
    lease::end(engine, &key, Ok(reported(event, &deliveries))).await
}

/// The outcome of a notice's steps, each logged.
fn reported(event: &SpaEvent, deliveries: &[Delivery]) -> Outcome {
    let (cause, domain) = (event.event_id.as_str(), &event.event);
    let account = &domain.account;
    let mut outcome = Outcome::new(cause, Some(account), Verdict::Notified(summary(deliveries)));
    for delivery in deliveries {
        match &delivery.result {
            Ok(done) => {
                tracing::info!(%account, cause, label = %domain.label, step = delivery.step, done, "notice step done")
            }
            Err(why) => {
                tracing::error!(%account, cause, label = %domain.label, step = delivery.step, why, "notice step failed");
                outcome.warnings.push(format!("{}: {why}", delivery.step));
            }
        }
    }
    outcome
}

/// What makes a notice one: the event's own key (the same for every publication of
/// it, [`spa_core::events::DomainEvent::key`]) scoped by its sender, else the bus's
/// event id.
fn notice_key(event: &SpaEvent) -> String {
    match &event.event.key {
        Some(key) => format!("{}#{key}", event.event.account),
        None => event.event_id.as_str().to_owned(),
    }
}

/// `incident opened, slack, email; teams failed` in a few words.
pub(super) fn summary(deliveries: &[Delivery]) -> String {
    let done: Vec<String> = deliveries
        .iter()
        .filter_map(|d| d.result.as_ref().ok().map(|r| format!("{}: {r}", d.step)))
        .collect();
    let failed: Vec<&str> = deliveries
        .iter()
        .filter(|d| d.result.is_err())
        .map(|d| d.step)
        .collect();
    let mut text = if done.is_empty() {
        "nothing delivered".to_owned()
    } else {
        done.join(", ")
    };
    if !failed.is_empty() {
        text.push_str(&format!("; failed: {}", failed.join(", ")));
    }
    text
}

/// Name, holder, cost center and OU path of the account. An account that left the
/// organization is described by its id alone.
///
/// Without a call to Organizations when spa knows the account: its tags and place
/// from what its last writer left ([`crate::ports::AccountCache`]), its name and OU
/// path from what the last report run saw ([`crate::ports::KnownAccount`]; an OU renamed since shows its old
/// name until the next run).
async fn describe<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
) -> Result<Account, PortError> {
    let organization = engine.platform().organization();
    let retry = engine.retry();
    let store = engine.platform().store();
    let (known, cache) = retry
        .run("read what spa knows", || store.known_with_cache(account))
        .await?;
    if let (Some(tags), Some(ancestors), Some(known)) = (&cache.tags, &cache.ancestors, known) {
        return Ok(Account {
            name: Some(known.name),
            holder: engine
                .codec()
                .decode(tags)
                .ok()
                .and_then(|view| view.holder),
            cost_center: tags.get(engine.codec().cost_center_key()).cloned(),
            ou_path: known
                .ou_path
                .split('/')
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            lease: engine
                .settings()
                .resolve_account(account.as_str(), ancestors)
                .and_then(|resolved| resolved.lease),
            purge_notice: engine
                .settings()
                .resolve_account(account.as_str(), ancestors)
                .and_then(|resolved| resolved.purge_notice),
        });
    }
    let record = match retry
        .run("describe account", || {
            organization.describe_account(account)
        })
        .await
    {
        Ok(record) => record,
        Err(PortError::NotFound { .. }) => return Ok(Account::default()),
        Err(error) => return Err(error),
    };
    let tags = retry
        .run("read tags", || organization.tags(account))
        .await?;
    let holder = engine
        .codec()
        .decode(&tags)
        .ok()
        .and_then(|view| view.holder);
    let cost_center = tags.get(engine.codec().cost_center_key()).cloned();
    let ancestors = retry
        .run("read ancestors", || {
            organization.ancestors(account.as_str())
        })
        .await?;
    let resolved = engine
        .settings()
        .resolve_account(account.as_str(), &ancestors);
    let lease = resolved.as_ref().and_then(|resolved| resolved.lease);
    let purge_notice = resolved.and_then(|resolved| resolved.purge_notice);
    let ou_path =
        super::reports::ou_names(engine, &ancestors, &mut std::collections::HashMap::new()).await?;
    // what the next notice of the account reads instead of Organizations; a cache:
    // a failure to write it costs the next notice these reads again, nothing else
    let seen = KnownAccount {
        account: account.clone(),
        name: record.name.clone(),
        cost_center: cost_center.clone(),
        ou_path: ou_path.join("/"),
        seen: engine.now(),
    };
    let seen = std::slice::from_ref(&seen);
    if let Err(error) = retry
        .run("remember the account", || store.remember_accounts(seen))
        .await
    {
        tracing::warn!(%account, %error, "the account described could not be remembered: the next notice describes it again");
    }
    Ok(Account {
        name: Some(record.name),
        holder,
        cost_center,
        ou_path,
        lease,
        purge_notice,
    })
}

/// The notice of an event, for every channel.
fn notice<P: Platform>(engine: &Engine<'_, P>, event: &SpaEvent, known: &Account) -> Notice {
    let domain = &event.event;
    let label = domain.label;
    let id = domain.account.as_str();
    let (did, next) = guidance(label, id);
    let workbook_url = engine
        .settings()
        .notifications
        .workbooks_url
        .as_ref()
        .map(|base| format!("{}/{label}.md", base.trim_end_matches('/')));
    Notice {
        label,
        environment: domain.environment.clone(),
        account: domain.account.clone(),
        account_name: known
            .name
            .clone()
            .unwrap_or_else(|| "(no longer in the organization)".to_owned()),
        holder: known.holder.as_ref().map(Holder::masked),
        ou_path: known.ou_path.clone(),
        cost_center: known.cost_center.clone(),
        at: domain.at,
        what_happened: domain
            .reason
            .clone()
            .unwrap_or_else(|| default_reason(label).to_owned()),
        what_spa_did: did.to_owned(),
        next_steps: next,
        workbook_url,
        incident_url: None,
        cost_report_url: None,
        facts: domain
            .facts
            .iter()
            .filter(|(key, _)| key.as_str() != "notify_holder")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn default_reason(label: Label) -> &'static str {
    match label {
        Label::AccountQuarantined => {
            "the account was quarantined (its history says why: failed builds, a deadline, unreadable tags)"
        }
        Label::AccountAssigned => "the account was assigned",
        _ => "see the account's history (`spa events list`)",
    }
}

/// What spa did already, and what a person does next, by label.
fn guidance(label: Label, account: &str) -> (&'static str, Vec<String>) {
    let status = "`spa status` (state, holder, since of every managed account)".to_owned();
    let events = format!("`spa events list --account {account}` (the account's history)");
    match label {
        Label::BudgetAlert => (
            "Recorded the alert. spa stops nothing on a budget alert: the account keeps running.",
            vec![
                "Open the cost report linked to the incident: which services cost".to_owned(),
                "Ask the holder whether the spending is expected".to_owned(),
                format!("If it must stop now and the account is assigned: `spa expire {account}` purges it"),
            ],
        ),
        Label::ConsoleLoginWithRoot => (
            "Recorded the sign-in. The session was not stopped.",
            vec![
                "Ask the holder who signed in with the root user, and why".to_owned(),
                "If nobody should have: reset the root password from the account's root e-mail, check CloudTrail in the account".to_owned(),
                format!("If the account is compromised and assigned: `spa expire {account}` purges it"),
            ],
        ),
        Label::ConsoleLoginWithIamUser => (
            "Recorded the sign-in. The IAM user was left as it is.",
            vec![
                "Ask the holder why an IAM user signs in to the console (SSO is the way in)".to_owned(),
                "Remove the user's console password if it is not needed".to_owned(),
                events,
            ],
        ),
        Label::BuildFailed => (
            "Recorded the failure: the build failed on its last attempt (the account is quarantined), or could not be started.",
            vec![
                "Read the build's logs in CodeBuild in the account (project `<environment>-Prepare` or `-Purge`)".to_owned(),
                events,
                status,
            ],
        ),
        Label::PurgeDryRun => (
            "Quarantined the account: its purge ran as a dry run, so nothing was deleted and it is not handed on.",
            vec![
                "Read what the purge would delete in the build's log in CodeBuild in the account (project `<environment>-Purge`)".to_owned(),
                format!("To purge for real: set the purge variable `PURGE_MODE: --no-dry-run`, deploy the settings, then `spa reset {account}`"),
                events,
            ],
        ),
        Label::AccountQuarantined => (
            "Stopped retrying: the account is quarantined and given to nobody.",
            vec![
                "Find why the builds failed (CodeBuild logs in the account)".to_owned(),
                format!("Once fixed: `spa reset {account}` prepares the account again"),
                events,
            ],
        ),
        Label::OnboardingTimedOut | Label::MaintenanceTimedOut => (
            "The deadline passed before the account was ready: it was quarantined.",
            vec![
                events,
                "Check the account's builds in CodeBuild (stuck, never started?)".to_owned(),
                format!("Once fixed: `spa reset {account}`"),
            ],
        ),
        Label::Drift => (
            "Changed nothing it could not read: spa does not guess (the sweeper quarantines an account whose tags it cannot read).",
            vec![
                "`spa check` lists what differs from what spa expects".to_owned(),
                format!("Fix the tags by hand, or `spa reset {account}`"),
                events,
            ],
        ),
        Label::StaleAccessKey => (
            "Recorded the key's age. The key was not disabled.",
            vec![
                "Ask the holder to rotate or delete the key".to_owned(),
                events,
            ],
        ),
        Label::ResidualCost => (
            "Recorded the cost seen after the purge.",
            vec![
                "Open the cost report: what still costs after the purge".to_owned(),
                format!("If the account is assigned: `spa expire {account}` purges it again"),
            ],
        ),
        Label::SpendProjected => (
            "Estimated the account's burn from the resources its holder started (CloudTrail, priced from the Price List); froze the account when the threshold says so: a deny-all-but-read service control policy holds it, its data kept.",
            vec![
                "Read the burn report: which resources, since when, what they project".to_owned(),
                "Ask the holder whether the spending is expected".to_owned(),
                format!("To give the account back: `spa unfreeze {account}`; to purge it: `spa unfreeze {account}`, then `spa expire {account}`"),
                events,
            ],
        ),
        Label::DeadLetter => (
            "Gave up on an event or a command after every retry; archived the message as received (the reason names its S3 key). Nothing was replayed.",
            vec![
                "Read the reason: the queue, what was lost and the last error".to_owned(),
                "Fix the cause, then replay the archived message: `spa handle <file>`".to_owned(),
                events,
            ],
        ),
        _ => ("Recorded it.", vec![status]),
    }
}

/// Default impact of an incident, by label (settings' `impact` of the route wins).
pub fn default_impact(label: Label) -> u8 {
    match label {
        Label::ConsoleLoginWithRoot | Label::SpendProjected => 2,
        Label::BudgetAlert | Label::ConsoleLoginWithIamUser | Label::AccountQuarantined => 3,
        _ => 4,
    }
}

/// An exception or a quarantine: incident, channels, holder.
async fn attend<P: Platform>(
    engine: &Engine<'_, P>,
    event: &SpaEvent,
    known: &Account,
) -> Vec<Delivery> {
    let label = event.event.label;
    let settings = engine.settings();
    let route = settings.notifications.routes.route(label.as_str());
    let mut notice = notice(engine, event, known);
    let mut deliveries = Vec::new();
    // the spend guard's `tell_holder` without `raise`: the holder alone is told
    let holder_only = event
        .event
        .facts
        .contains_key(super::on_spending::HOLDER_ONLY);
    if settings.features.incident_manager && !holder_only {
        let link = cost_report(engine, event, known).await;
        let related = match link {
            Ok(url) => {
                deliveries.push(Delivery {
                    step: "cost report",
                    result: Ok("linked".into()),
                });
                notice.cost_report_url = Some(url.clone());
                vec![RelatedLink {
                    title: format!("Month-to-date costs of {}", event.event.account),
                    url,
                }]
            }
            Err(why) => {
                deliveries.push(Delivery {
                    step: "cost report",
                    result: Err(why),
                });
                Vec::new()
            }
        };
        let impact = route
            .and_then(|r| r.impact)
            .unwrap_or_else(|| default_impact(label));
        let result = incident(engine, event, known, &notice, impact, related).await;
        if let Ok((_, arn)) = &result {
            notice.facts.push(("incident".into(), arn.clone()));
        }
        deliveries.push(Delivery {
            step: "incident",
            result: result.map(|(what, _)| what),
        });
    }
    let channels = route
        .filter(|_| !holder_only)
        .map(|r| r.channels.clone())
        .unwrap_or_default();
    for channel in channels {
        let (step, result) = match channel {
            Channel::Slack => (
                "slack",
                post(
                    engine,
                    settings
                        .notifications
                        .slack_webhook
                        .as_ref()
                        .map(|s| s.as_str()),
                    "notifications.slack_webhook",
                    &slack_payload(engine, &notice),
                )
                .await,
            ),
            Channel::Teams => (
                "teams",
                post(
                    engine,
                    settings
                        .notifications
                        .teams_webhook
                        .as_ref()
                        .map(|s| s.as_str()),
                    "notifications.teams_webhook",
                    &notify::teams(&notice),
                )
                .await,
            ),
            Channel::Email => {
                let to: Vec<String> = settings
                    .notifications
                    .email_recipients
                    .iter()
                    .map(|e| e.as_str().to_owned())
                    .collect();
                ("email", send(engine, to, &notice, Audience::Team).await)
            }
        };
        deliveries.push(Delivery { step, result });
    }
    // the route tells every holder of its label; an event may ask for its own
    // (the spend guard's `tell_holder`, a freeze)
    if route.is_some_and(|r| r.notify_holder) || event.event.facts.contains_key("notify_holder") {
        let result = match &known.holder {
            Some(holder) => {
                send(
                    engine,
                    vec![holder.as_str().to_owned()],
                    &notice,
                    Audience::Holder,
                )
                .await
            }
            None => Ok("no holder to tell".into()),
        };
        deliveries.push(Delivery {
            step: "holder",
            result,
        });
    }
    deliveries
}

/// The Slack message of a notice: with the `Unfreeze` button for the admins when the
/// spend guard's notice comes where spa's buttons are answered (`slack_commands`).
fn slack_payload<P: Platform>(engine: &Engine<'_, P>, notice: &Notice) -> serde_json::Value {
    let payload = notify::slack(notice);
    if notice.label == Label::SpendProjected && engine.settings().features.slack_commands {
        let button = spa_core::chatops::Button::Unfreeze(notice.account.clone())
            .element("Unfreeze (admins)", Some("danger"));
        return notify::slack_with_button(payload, button);
    }
    payload
}

/// What a welcome comes to when it sends nothing, known from the event and the
/// settings alone: nobody to tell, or no sender to tell them with. Such a notice takes
/// no claim and reads nothing: every assignment of a maintained account would pay three
/// calls to deliver nothing.
fn welcome_unsent<P: Platform>(engine: &Engine<'_, P>, event: &SpaEvent) -> Option<Vec<Delivery>> {
    if !event.event.facts.contains_key("notify_holder") {
        return Some(Vec::new());
    }
    if engine.settings().notifications.email_sender.is_none() {
        return Some(vec![Delivery {
            step: "holder",
            result: Ok("not told: no `notifications.email_sender`".into()),
        }]);
    }
    None
}

/// An assignment: the holder learns that the account is theirs. Only a welcome that
/// can send comes here ([`on_notice`] answers the others before its claim).
async fn welcome<P: Platform>(
    engine: &Engine<'_, P>,
    event: &SpaEvent,
    known: &Account,
) -> Vec<Delivery> {
    let result = match &known.holder {
        Some(holder) => {
            let domain = &event.event;
            let welcome = Welcome {
                environment: domain.environment.clone(),
                account: domain.account.clone(),
                account_name: known.name.clone().unwrap_or_default(),
                ou_path: known.ou_path.clone(),
                cost_center: known.cost_center.clone(),
                at: domain.at,
                lease: known.lease.map(|lease| {
                    let days = lease.as_secs() / 86_400;
                    let until = domain.at
                        + TimeDelta::days(i64::try_from(days).unwrap_or(i64::MAX / 86_400_000));
                    format!(
                        "until {} ({days} days), then the account is purged and given back",
                        until.format("%Y-%m-%d")
                    )
                }),
                access_url: engine.settings().notifications.sign_in_url.clone(),
                help: engine
                    .settings()
                    .notifications
                    .workbooks_url
                    .iter()
                    .map(|url| format!("What spa tells you and why: {url}"))
                    .collect(),
            };
            mail_to(
                engine,
                vec![holder.as_str().to_owned()],
                notify::welcome(&welcome),
            )
            .await
        }
        None => Ok("no holder to tell".into()),
    };
    vec![Delivery {
        step: "holder",
        result,
    }]
}

/// The holder's pre-purge notice: the dry run's list read from the reports bucket and
/// summarized (untrusted text: see `spa_core::notify::preview`), when the purge is,
/// and how to snooze it. A dry run that failed, or a list that cannot be read, still
/// tells the holder when the purge is, and why the list is missing.
async fn purge_notice<P: Platform>(
    engine: &Engine<'_, P>,
    event: &SpaEvent,
    known: &Account,
) -> Vec<Delivery> {
    let domain = &event.event;
    let holder_step = |result| {
        vec![Delivery {
            step: "holder",
            result,
        }]
    };
    if engine.settings().notifications.email_sender.is_none() {
        return holder_step(Ok("not told: no `notifications.email_sender`".into()));
    }
    let Some(holder) = &known.holder else {
        return holder_step(Ok("no holder to tell".into()));
    };
    let Some(purge) = domain
        .facts
        .get(super::apply::PURGE_AT)
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.to_utc())
    else {
        return holder_step(Err("the notice names no purge instant".into()));
    };
    let status = domain
        .facts
        .get(super::apply::PREVIEW_STATUS)
        .map(String::as_str);
    let preview = match status {
        Some("SUCCEEDED") => {
            let key = notify::preview::list_key(
                &engine.settings().reporting.exceptions_prefix,
                &domain.account,
                purge,
            );
            let objects = engine.platform().objects();
            match engine
                .retry()
                .run("read the dry run's list", || objects.get(&key))
                .await
            {
                Ok(bytes) => Ok(notify::PreviewSummary::from_list(&bytes)),
                Err(error) => {
                    tracing::warn!(account = %domain.account, key, %error, "the dry run's list could not be read: the holder is told without it");
                    Err(format!("the dry run's list could not be read ({error})"))
                }
            }
        }
        Some("not started") | None => Err(domain
            .reason
            .clone()
            .unwrap_or_else(|| "its dry run could not start".to_owned())),
        Some(other) => Err(format!("its dry run ended {other}")),
    };
    let mail = notify::PurgeNoticeMail {
        environment: domain.environment.clone(),
        account: domain.account.clone(),
        account_name: known.name.clone().unwrap_or_default(),
        purge,
        preview,
        snooze: known.purge_notice.map(|notice| notice.snooze),
        help: engine
            .settings()
            .notifications
            .workbooks_url
            .iter()
            .map(|url| format!("What spa tells you and why: {url}"))
            .collect(),
    };
    let result = mail_to(
        engine,
        vec![holder.as_str().to_owned()],
        notify::purge_notice(&mail),
    )
    .await;
    let mut deliveries = holder_step(result);
    if engine.settings().features.slack_commands
        && engine.settings().notifications.slack_bot_token.is_some()
    {
        deliveries.push(Delivery {
            step: "holder in Slack",
            result: purge_notice_in_slack(engine, holder, &mail).await,
        });
    }
    deliveries
}

/// The notice as a direct message from spa's Slack app, with the Snooze button when
/// the settings allow one: the holder's Slack user found by their address.
async fn purge_notice_in_slack<P: Platform>(
    engine: &Engine<'_, P>,
    holder: &Holder,
    mail: &notify::PurgeNoticeMail,
) -> Result<String, String> {
    let Some(reference) = &engine.settings().notifications.slack_bot_token else {
        return Ok("no bot token".into());
    };
    let platform = engine.platform();
    let token = engine
        .retry()
        .run("read bot token", || {
            platform.secrets().secret(reference.as_str())
        })
        .await
        .map_err(|e| format!("the bot token could not be read: {e}"))?;
    let webhooks = platform.webhooks();
    let user = engine
        .retry()
        .run("find the holder in Slack", || {
            webhooks.slack_user(&token, holder.as_str())
        })
        .await
        .map_err(|e| format!("the holder could not be found in Slack: {e}"))?;
    let Some(user) = user else {
        return Ok("the holder has no Slack user with that address: e-mail only".into());
    };
    let message = spa_core::chatops::answers::purge_notice(&user, mail);
    engine
        .retry()
        .run("tell the holder in Slack", || {
            webhooks.post_message(&token, &message)
        })
        .await
        .map(|()| "told in Slack".to_owned())
        .map_err(|e| format!("the Slack message could not be sent: {e}"))
}

/// Opens the incident of the account and label, or adds to the open one's timeline.
/// Returns what was done and the incident record ARN.
async fn incident<P: Platform>(
    engine: &Engine<'_, P>,
    event: &SpaEvent,
    known: &Account,
    notice: &Notice,
    impact: u8,
    related: Vec<RelatedLink>,
) -> Result<(String, String), String> {
    let platform = engine.platform();
    let (incidents, store, retry) = (platform.incidents(), platform.store(), engine.retry());
    let domain = &event.event;
    let (account, label) = (&domain.account, domain.label);
    let token = client_token(engine.environment(), event);
    let open = retry
        .run("read open incident", || store.incident(account, label))
        .await
        .map_err(|e| format!("the open incident could not be read: {e}"))?;
    if let Some(arn) = open {
        match retry
            .run("incident status", || incidents.incident_status(&arn))
            .await
        {
            Ok(IncidentStatus::Open) => {
                let text = format!("{label} again: {}", notice.what_happened);
                retry
                    .run("add timeline event", || {
                        incidents.add_timeline_event(&arn, &token, domain.at, &text)
                    })
                    .await
                    .map_err(|e| format!("the open incident could not be updated: {e}"))?;
                return Ok(("open incident updated".into(), arn));
            }
            Ok(IncidentStatus::Resolved) | Err(PortError::NotFound { .. }) => {}
            Err(error) => return Err(format!("the open incident could not be read: {error}")),
        }
    }
    let name = known
        .name
        .as_deref()
        .unwrap_or("an account that left the organization");
    let mut tags = vec![
        ("spa:label".to_owned(), label.as_str().to_owned()),
        ("spa:account".to_owned(), account.as_str().to_owned()),
        ("spa:environment".to_owned(), domain.environment.clone()),
        ("spa:account-name".to_owned(), name.to_owned()),
    ];
    if let Some(cost_center) = &known.cost_center {
        tags.push(("spa:cost-center".into(), cost_center.clone()));
    }
    if !known.ou_path.is_empty() {
        tags.push(("spa:ou-path".into(), known.ou_path.join("/")));
    }
    if let Some(holder) = &known.holder {
        tags.push(("spa:holder".into(), holder.masked()));
    }
    let request = IncidentRequest {
        client_token: token,
        response_plan_arn: engine.response_plan_arn(),
        title: format!("[spa {}] {label}: {name} ({account})", domain.environment),
        summary: incident_summary(notice),
        impact,
        tags,
        related,
        trigger_source: "spa".into(),
        triggered_at: domain.at,
        trigger_data: serde_json::json!({
            "event": event.event_id.as_str(),
            "label": label.as_str(),
            "account": account.as_str(),
            "reason": notice.what_happened,
        })
        .to_string(),
    };
    let arn = retry
        .run("start incident", || incidents.start_incident(&request))
        .await
        .map_err(|e| format!("no incident opened: {e}"))?;
    if let Err(error) = retry
        .run("remember incident", || {
            store.set_incident(account, label, &arn, domain.at)
        })
        .await
    {
        tracing::warn!(%account, %label, %error, "incident opened but not remembered: a repeat opens another");
    }
    Ok(("incident opened".into(), arn))
}

/// The client token of the incident of an event: a retried delivery opens it once.
fn client_token(environment: &str, event: &SpaEvent) -> String {
    let raw = format!(
        "{environment}-{}-{}",
        event.event.label,
        event.event_id.as_str()
    );
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect()
}

/// The incident's summary: what happened, the account, what spa did, what to do.
fn incident_summary(notice: &Notice) -> String {
    let mut text = format!("**What happened**: {}\n\n", notice.what_happened);
    text.push_str(&format!(
        "**Account**: {} ({})",
        notice.account_name, notice.account
    ));
    if let Some(holder) = &notice.holder {
        text.push_str(&format!(", holder {holder}"));
    }
    if !notice.ou_path.is_empty() {
        text.push_str(&format!(", OU {}", notice.ou_path.join(" / ")));
    }
    if let Some(cost_center) = &notice.cost_center {
        text.push_str(&format!(", cost center {cost_center}"));
    }
    text.push_str(&format!(
        "\n\n**What spa did**: {}\n\n**What to do next**:\n",
        notice.what_spa_did
    ));
    for step in &notice.next_steps {
        text.push_str(&format!("- {step}\n"));
    }
    if let Some(url) = &notice.workbook_url {
        text.push_str(&format!("\n**Workbook**: {url}\n"));
    }
    // the cost report's link is a related item (the adapter moves a link too long for
    // one into the summary)
    spa_core::events::redact_emails(&text)
}

/// Writes the account's month-to-date cost report to the reports bucket and returns
/// a presigned link to it.
async fn cost_report<P: Platform>(
    engine: &Engine<'_, P>,
    event: &SpaEvent,
    known: &Account,
) -> Result<String, String> {
    let heading = Heading {
        name: known.name.clone(),
        holder: known.holder.as_ref().map(|h| h.as_str().to_owned()),
        cost_center: known.cost_center.clone(),
        ou_path: known.ou_path.join(" / "),
    };
    let key = write_cost_report(
        engine,
        &event.event.account,
        &heading,
        event.event.at,
        "costs",
    )
    .await?;
    let expiry = engine.settings().features.cost_link_expiry.min(MAX_LINK);
    engine
        .platform()
        .objects()
        .presigned_url(&key, expiry)
        .await
        .map_err(|e| format!("no link to the report: {e}"))
}

/// What a cost report says of its account, besides its id.
pub(crate) struct Heading {
    /// Its name.
    pub name: Option<String>,
    /// Its holder (shown in the workbook, never logged).
    pub holder: Option<String>,
    /// Its cost center.
    pub cost_center: Option<String>,
    /// Its units, root first.
    pub ou_path: String,
}

/// Writes the account's month-to-date cost report (as of `at`) to the reports bucket
/// under `reporting.exceptions_prefix`, named `<YYYY-MM>-<account>-<what>.xlsx`: its key.
/// The same key for the same month, so a retried write overwrites.
pub(crate) async fn write_cost_report<P: Platform>(
    engine: &Engine<'_, P>,
    account: &spa_core::events::AccountId,
    known: &Heading,
    at: DateTime<Utc>,
    what: &str,
) -> Result<String, String> {
    let platform = engine.platform();
    let (start, end) = month_to_date(at);
    let costs = engine
        .retry()
        .run("read costs", || {
            platform.costs().account_costs(account, start, end)
        })
        .await
        .map_err(|e| format!("costs not read: {e}"))?;
    let heading = spa_core::reports::account::AccountHeading {
        account: account.clone(),
        account_name: known.name.clone().unwrap_or_default(),
        holder: known.holder.clone(),
        cost_center: known.cost_center.clone(),
        ou_path: known.ou_path.clone(),
        period_start: start,
        period_end: end,
        currency: costs
            .first()
            .map_or_else(|| "USD".to_owned(), |c| c.currency.clone()),
        generated_at: engine.now(),
    };
    let bytes = spa_core::reports::account::account_costs_workbook(&heading, &costs)
        .map_err(|e| format!("report not written: {e}"))?;
    let prefix = engine
        .settings()
        .reporting
        .exceptions_prefix
        .trim_end_matches('/');
    let key = format!(
        "{prefix}/{account}/{:04}/{:04}-{:02}-{account}-{what}.xlsx",
        start.year(),
        start.year(),
        start.month()
    );
    let objects = platform.objects();
    engine
        .retry()
        .run("store cost report", || {
            objects.put(
                &key,
                bytes.clone(),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        })
        .await
        .map_err(|e| format!("report not stored: {e}"))?;
    Ok(key)
}

/// From the first day of the month of `at` to the day after `at` (exclusive).
fn month_to_date(at: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let day = at.date_naive();
    let start = day.with_day(1).unwrap_or(day);
    (start, day + TimeDelta::days(1))
}

/// Posts to the webhook whose secret `reference` names.
pub(super) async fn post<P: Platform>(
    engine: &Engine<'_, P>,
    reference: Option<&str>,
    setting: &str,
    body: &serde_json::Value,
) -> Result<String, String> {
    let Some(reference) = reference else {
        return Err(format!("routed, but `{setting}` is not set"));
    };
    let platform = engine.platform();
    let url = engine
        .retry()
        .run("read webhook secret", || {
            platform.secrets().secret(reference)
        })
        .await
        .map_err(|e| format!("the webhook URL could not be read from `{reference}`: {e}"))?;
    platform
        .webhooks()
        .post_json(&url, body)
        .await
        .map(|()| "posted".to_owned())
        .map_err(|e| e.to_string())
}

/// Sends the notice by e-mail.
async fn send<P: Platform>(
    engine: &Engine<'_, P>,
    to: Vec<String>,
    notice: &Notice,
    audience: Audience,
) -> Result<String, String> {
    if to.is_empty() {
        return Err("routed, but `notifications.email_recipients` is empty".into());
    }
    mail_to(engine, to, notify::email(notice, audience)).await
}

/// Sends a rendered e-mail from `notifications.email_sender`.
async fn mail_to<P: Platform>(
    engine: &Engine<'_, P>,
    to: Vec<String>,
    rendered: RenderedEmail,
) -> Result<String, String> {
    let Some(from) = &engine.settings().notifications.email_sender else {
        return Err("routed, but `notifications.email_sender` is not set".into());
    };
    let count = to.len();
    let email = Email {
        from: from.as_str().to_owned(),
        to,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        attachments: Vec::new(),
    };
    engine
        .platform()
        .mail()
        .send_email(&email)
        .await
        .map(|_| format!("sent to {count} recipient(s)"))
        .map_err(|e| e.to_string())
}
