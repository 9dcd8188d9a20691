//! What spa tells people, rendered for each channel (pure: no I/O, no clock, no SDK).
//!
//! The use case fills a [`Notice`] for an exception (or a [`Welcome`] when an account
//! is assigned) and asks for the channel's form:
//!
//! - [`slack`]: a Slack incoming-webhook payload with Block Kit, within Slack's limits
//!   (header 150, section text 3000, at most 10 fields of 2000), `mrkdwn` escaped;
//! - [`teams`]: a Microsoft Teams Workflows webhook payload carrying an Adaptive Card
//!   1.4 (not the retired Office 365 connector MessageCard);
//! - [`digest`]: the daily cost digest (Slack, Teams, a terminal table, JSON);
//! - [`email`]: subject, plain text and HTML for the team or for the holder, and
//!   [`welcome`], the holder's e-mail when an account is assigned to them.
//!
//! Every free text goes through [`crate::events::redact_emails`] and the holder is
//! printed masked ([`crate::events::mask`], idempotent), so no rendering carries a
//! full e-mail address; what goes into markup is escaped for that markup; URLs are
//! offered as links only when they are plain `https://` (or `http://`) URLs.

use chrono::{DateTime, Utc};

use crate::events::{AccountId, Label, mask};

pub mod digest;
mod email;
pub mod preview;
mod slack;
mod teams;
pub(crate) mod text;

pub use email::{email, purge_notice, welcome};
pub use preview::{PreviewSummary, PurgeNoticeMail};
pub use slack::{slack, with_button as slack_with_button};
pub use teams::teams;

/// An exception as the use case tells it: what happened to which account, what spa
/// did and what to do next.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The exception (BudgetAlert, ConsoleLoginWithRoot, ...).
    pub label: Label,
    /// The settings' environment identifier.
    pub environment: String,
    /// The account concerned.
    pub account: AccountId,
    /// Its name in the organization.
    pub account_name: String,
    /// Its holder, masked (`a***@example.com`); masked again here in any case.
    pub holder: Option<String>,
    /// Names of the organizational units above the account, root first.
    pub ou_path: Vec<String>,
    /// The account's cost center.
    pub cost_center: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened, in a sentence or two.
    pub what_happened: String,
    /// What spa did about it.
    pub what_spa_did: String,
    /// What a person should do next (`spa status --account 111111111111`).
    pub next_steps: Vec<String>,
    /// The operator procedure (workbook) of this exception.
    pub workbook_url: Option<String>,
    /// The Incident Manager record.
    pub incident_url: Option<String>,
    /// The account's month-to-date cost report (a presigned URL).
    pub cost_report_url: Option<String>,
    /// Facts of the exception, in order (`Amount` → `120.00 USD`, `Threshold` → `100%`).
    pub facts: Vec<(String, String)>,
}

/// Who an e-mail is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The team that runs spa (SRE, FinOps): every detail and link.
    Team,
    /// The holder of the account: friendlier wording, no operator links.
    Holder,
}

/// An e-mail ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// One line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (everything from outside escaped).
    pub html: String,
}

/// What the holder is told when an account is assigned to them (AccountAssigned).
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    /// The settings' environment identifier.
    pub environment: String,
    /// The account now theirs.
    pub account: AccountId,
    /// Its name in the organization.
    pub account_name: String,
    /// Names of the organizational units above the account, root first.
    pub ou_path: Vec<String>,
    /// The account's cost center.
    pub cost_center: Option<String>,
    /// When it was assigned.
    pub at: DateTime<Utc>,
    /// The lease, as the caller words it (`until 2026-12-31 (90 days)`); none: no lease.
    pub lease: Option<String>,
    /// Where the holder signs in (the AWS access portal).
    pub access_url: Option<String>,
    /// Where to get help, one line each (a chat channel, a page).
    pub help: Vec<String>,
}

/// The label in words, for titles.
fn title(label: Label) -> &'static str {
    match label {
        Label::BudgetAlert => "Budget alert",
        Label::ConsoleLoginWithRoot => "Console sign-in with the root user",
        Label::ConsoleLoginWithIamUser => "Console sign-in with an IAM user",
        Label::BuildFailed => "Build failed",
        Label::PurgeDryRun => "Purge ran as a dry run",
        Label::AccountQuarantined => "Account quarantined",
        Label::OnboardingTimedOut => "On-boarding timed out",
        Label::MaintenanceTimedOut => "Maintenance timed out",
        Label::Drift => "Configuration drift",
        Label::StaleAccessKey => "Stale access key",
        Label::ResidualCost => "Residual cost",
        Label::SpendProjected => "Spend projected over a threshold",
        Label::DeadLetter => "Given up after every retry",
        Label::AccountAssigned => "Account assigned",
        other => other.as_str(),
    }
}

/// The first sentence of the holder's e-mail about an exception.
fn holder_lead(label: Label) -> &'static str {
    match label {
        Label::BudgetAlert => {
            "The spending of your sandbox account has crossed a budget threshold."
        }
        Label::ConsoleLoginWithRoot => {
            "Someone signed in to the console of your sandbox account with its root user."
        }
        Label::ConsoleLoginWithIamUser => {
            "Someone signed in to the console of your sandbox account with an IAM user."
        }
        Label::BuildFailed => "spa could not finish preparing or cleaning your sandbox account.",
        Label::PurgeDryRun => {
            "The clean-up of your sandbox account only listed what it would delete: nothing was deleted."
        }
        Label::AccountQuarantined => {
            "Your sandbox account is set aside (quarantined) until the team that runs it has a look."
        }
        Label::OnboardingTimedOut => "Your sandbox account takes longer than expected to be ready.",
        Label::MaintenanceTimedOut => {
            "The maintenance of your sandbox account takes longer than expected."
        }
        Label::Drift => "Your sandbox account no longer matches its expected configuration.",
        Label::StaleAccessKey => {
            "An access key in your sandbox account is too old or unused for too long, or an IAM user in it can sign in with a password."
        }
        Label::ResidualCost => "Your sandbox account still costs money after its clean-up.",
        Label::SpendProjected => {
            "What runs in your sandbox account is projected to cost more than its limits allow. When the limit says so, the account is frozen: you can still read everything in it, nothing can be started or changed until the team that runs it unfreezes it."
        }
        Label::DeadLetter => {
            "spa could not complete an action on your sandbox account, even after retrying; the team that runs it will replay it."
        }
        _ => "Something about your sandbox account needs attention.",
    }
}

/// `Alice's sandbox (111111111111)`, or the id alone when the name is empty.
fn account_line(name: &str, account: &AccountId) -> String {
    let name = text::truncate(&text::one_line(name), 100);
    if name.is_empty() {
        account.to_string()
    } else {
        format!("{name} ({account})")
    }
}

/// `Root / Sandboxes / Team A`.
fn ou_path_line(path: &[String]) -> String {
    path.iter()
        .map(|unit| text::one_line(unit))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// `2026-10-03 14:05 UTC`.
fn at_line(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The holder as printed: masked, on one line.
fn holder_line(holder: &str) -> String {
    mask(&text::one_line(holder))
}

/// The descriptive facts of a notice (account, holder, OU path, cost center), then
/// its own facts, as (title, value) on one line each.
fn notice_facts(notice: &Notice, audience: Audience) -> Vec<(String, String)> {
    let mut facts = vec![(
        "Account".to_owned(),
        account_line(&notice.account_name, &notice.account),
    )];
    if audience == Audience::Team
        && let Some(holder) = notice.holder.as_deref().filter(|h| !h.trim().is_empty())
    {
        facts.push(("Holder".to_owned(), holder_line(holder)));
    }
    if !notice.ou_path.is_empty() {
        facts.push(("OU path".to_owned(), ou_path_line(&notice.ou_path)));
    }
    if let Some(center) = notice
        .cost_center
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        facts.push(("Cost center".to_owned(), text::one_line(center)));
    }
    for (name, value) in &notice.facts {
        facts.push((text::one_line(name), text::one_line(value)));
    }
    facts
}

/// The links of a notice that may be offered, with their titles, in a fixed order.
fn notice_links(notice: &Notice, audience: Audience, max: usize) -> Vec<(&'static str, &str)> {
    let mut links = Vec::new();
    if audience == Audience::Team {
        if let Some(url) = notice
            .incident_url
            .as_deref()
            .and_then(|u| text::link(u, max))
        {
            links.push(("Open the incident", url));
        }
        if let Some(url) = notice
            .workbook_url
            .as_deref()
            .and_then(|u| text::link(u, max))
        {
            links.push(("Read the workbook", url));
        }
    }
    if let Some(url) = notice
        .cost_report_url
        .as_deref()
        .and_then(|u| text::link(u, max))
    {
        links.push(("See the cost report", url));
    }
    links
}

#[cfg(test)]
pub(crate) mod sample {
    //! A notice and a welcome shared by the renderers' tests.

    use super::*;

    /// 2026-10-03 14:05:00 UTC.
    pub fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_791_036_300, 0).unwrap_or_default()
    }

    /// The account of the samples.
    pub fn account() -> AccountId {
        AccountId::parse("111111111111").unwrap_or_else(|| unreachable!())
    }

    /// A budget alert on Alice's sandbox, with every optional part.
    pub fn notice() -> Notice {
        Notice {
            label: Label::BudgetAlert,
            environment: "SpaDemo".into(),
            account: account(),
            account_name: "Alice's sandbox".into(),
            holder: Some("a***@example.com".into()),
            ou_path: vec!["Root".into(), "Sandboxes".into()],
            cost_center: Some("CC-42".into()),
            at: at(),
            what_happened: "Actual cost reached 120.00 USD.".into(),
            what_spa_did: "Opened an incident.".into(),
            next_steps: vec!["spa status --account 111111111111".into()],
            workbook_url: Some("https://wiki.example.com/spa/BudgetAlert".into()),
            incident_url: Some("https://console.aws.amazon.com/systems-manager/incidents/x".into()),
            cost_report_url: Some("https://reports.example.com/111111111111.xlsx?X-Amz-Signature=abc&X-Amz-Expires=3600".into()),
            facts: vec![
                ("Amount".into(), "120.00 USD".into()),
                ("Threshold".into(), "100%".into()),
            ],
        }
    }

    /// A notice whose every text is hostile: markup, an ampersand, a full address.
    pub fn hostile() -> Notice {
        let mut notice = notice();
        notice.account_name = "Bob <b>&</b> bob@example.com".into();
        notice.holder = Some("bob@example.com".into());
        notice.what_happened = "<script>alert(1)</script> & more, said carol@example.org".into();
        notice.what_spa_did = "told dave@example.net <at>".into();
        notice.next_steps = vec!["write to erin@example.com & <wait>".into()];
        notice.cost_center = Some("frank@example.com".into());
        notice.ou_path = vec!["Root".into(), "grace@example.com".into()];
        notice.facts = vec![("Owner <x>".into(), "heidi@example.com & co".into())];
        notice
    }

    /// Alice's welcome.
    pub fn welcome() -> Welcome {
        Welcome {
            environment: "SpaDemo".into(),
            account: account(),
            account_name: "Alice's sandbox".into(),
            ou_path: vec!["Root".into(), "Sandboxes".into()],
            cost_center: Some("CC-42".into()),
            at: at(),
            lease: Some("until 2026-12-31 (90 days)".into()),
            access_url: Some("https://example.awsapps.com/start".into()),
            help: vec!["#sandbox-help on Slack".into()],
        }
    }

    /// Whether `text` holds a full e-mail address (a local part longer than a masked one).
    pub fn has_full_address(text: &str) -> bool {
        [
            "alice@", "bob@", "carol@", "dave@", "erin@", "frank@", "grace@", "heidi@",
        ]
        .iter()
        .any(|a| text.contains(a))
    }
}
