//! Ports of exceptions and money: budgets in member accounts, Incident Manager, the
//! cost of an account, secrets, chat webhooks and e-mail.
//!
//! Like every port they speak domain types only; the AWS adapters live in `aws/`,
//! the webhook adapter in `webhooks.rs`, the in-memory ones in `memory.rs`.

use std::fmt;
use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use super::PortError;
use spa_core::events::AccountId;
use spa_core::reports::ServiceCost;

/// A secret value (a webhook URL, a signing secret): never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value: pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The budget spa keeps in a member account (AWS Budgets, cost, monthly).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetPlan {
    /// The budget's name (`<environment>-Budget`).
    pub name: String,
    /// Monthly limit.
    pub amount: f64,
    /// Unit of the limit (`USD`).
    pub currency: String,
    /// One notification per threshold, in percent of the amount, on the actual cost.
    pub thresholds: Vec<f64>,
    /// The member account's own SNS topic every alert goes to (AWS Budgets notifies
    /// only a topic of the budget's account); it feeds the central budget alerts queue.
    pub topic_arn: String,
    /// E-mail subscribers (the holder), at most 9 besides the topic.
    pub emails: Vec<String>,
}

/// What ensuring a budget did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetChange {
    /// The budget was absent and was created with its notifications.
    Created,
    /// The budget differed; the list says what changed (`amount`, `threshold 120`).
    Updated(Vec<String>),
    /// Nothing to do.
    Unchanged,
}

/// AWS Budgets in member accounts, through the member role.
pub trait Budgets: Send + Sync {
    /// Creates or updates the budget and its notifications so that they are exactly
    /// `plan` (amount, unit, thresholds, subscribers); reads first, writes what differs.
    fn ensure_budget(
        &self,
        account: &AccountId,
        plan: &BudgetPlan,
    ) -> impl Future<Output = Result<BudgetChange, PortError>> + Send;
}

/// A link attached to an incident (Incident Manager related item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedLink {
    /// What it is, for humans.
    pub title: String,
    /// Where (a presigned URL that expires).
    pub url: String,
}

/// An incident as spa asks Incident Manager to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRequest {
    /// Makes a retried start open one incident (`clientToken`).
    pub client_token: String,
    /// The response plan.
    pub response_plan_arn: String,
    /// One line: label, account name and id.
    pub title: String,
    /// What happened, what spa did, what to do next (Markdown, within AWS limits).
    pub summary: String,
    /// 1 (critical) to 5 (no impact).
    pub impact: u8,
    /// Tags of the incident record (label, account, cost center, OU path, ...).
    pub tags: Vec<(String, String)>,
    /// Links to attach.
    pub related: Vec<RelatedLink>,
    /// What triggered it (`spa`) and when.
    pub trigger_source: String,
    pub triggered_at: DateTime<Utc>,
    /// The trigger's raw data (the domain event, as JSON).
    pub trigger_data: String,
}

/// Whether an incident record is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    Open,
    Resolved,
}

/// AWS Systems Manager Incident Manager.
pub trait Incidents: Send + Sync {
    /// Starts an incident (idempotent on `client_token`), tags it, and returns the
    /// ARN of its record.
    fn start_incident(
        &self,
        request: &IncidentRequest,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    /// Whether the incident is open or resolved.
    fn incident_status(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<IncidentStatus, PortError>> + Send;
    /// Adds a custom event to the incident's timeline (idempotent on `client_token`).
    fn add_timeline_event(
        &self,
        arn: &str,
        client_token: &str,
        at: DateTime<Utc>,
        text: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Cost Explorer.
pub trait Costs: Send + Sync {
    /// The unblended cost of `account` per service from `start` (inclusive) to `end`
    /// (exclusive), read in the member account through the member role; highest first.
    fn account_costs(
        &self,
        account: &AccountId,
        start: NaiveDate,
        end: NaiveDate,
    ) -> impl Future<Output = Result<Vec<ServiceCost>, PortError>> + Send;
}

/// Where secrets are kept (SSM Parameter Store SecureString, Secrets Manager).
pub trait Secrets: Send + Sync {
    /// The value of a reference `ssm:/path` or `secretsmanager:name`.
    fn secret(&self, reference: &str) -> impl Future<Output = Result<Secret, PortError>> + Send;
}

/// Chat incoming webhooks (Slack, Microsoft Teams Workflows).
pub trait Webhooks: Send + Sync {
    /// POSTs `body` as JSON to `url`; a 5xx, 429 or timeout is retried with backoff,
    /// then reported as `Unavailable`; another 4xx is `Rejected` at once.
    fn post_json(
        &self,
        url: &Secret,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Posts a message with Slack's Web API (`chat.postMessage`, bot token
    /// `chat:write`): `body` names its `channel` (a user id: a direct message from the
    /// app). Retried like a webhook; Slack's `ok: false` is `Rejected` with its error.
    fn post_message(
        &self,
        token: &Secret,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The Slack user of an e-mail address (`users.lookupByEmail`, bot token
    /// `users:read.email`): `None` when the workspace has no such user.
    fn slack_user(
        &self,
        token: &Secret,
        email: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
}

/// A file attached to an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// `2026-10-summary.xlsx`.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// An e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// A verified sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// Files (sent as raw MIME when there are any).
    pub attachments: Vec<Attachment>,
}

/// E-mail (SES v2).
pub trait Mail: Send + Sync {
    /// Sends one e-mail; returns the provider's message id.
    fn send_email(&self, email: &Email) -> impl Future<Output = Result<String, PortError>> + Send;
}
