//! TEMPORARY rendering, replaced by the notify helper's module at merge.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::events::Label;

/// An exception or assignment as told to people.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub label: Label,
    pub environment: String,
    pub account: String,
    pub account_name: Option<String>,
    pub holder: Option<String>,
    pub ou_path: Vec<String>,
    pub cost_center: Option<String>,
    pub at: DateTime<Utc>,
    pub what_happened: String,
    pub what_spa_did: String,
    pub next_steps: Vec<String>,
    pub workbook_url: Option<String>,
    pub incident_url: Option<String>,
    pub cost_report_url: Option<String>,
    pub facts: Vec<(String, String)>,
}

/// Who reads an e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Team,
    Holder,
    Welcome,
}

/// An e-mail's parts.
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Slack.
pub fn slack(notice: &Notice) -> Value {
    json!({"text": format!("{}: {}", notice.label, notice.what_happened)})
}

/// Teams.
pub fn teams(notice: &Notice) -> Value {
    json!({"type": "message", "text": format!("{}: {}", notice.label, notice.what_happened)})
}

/// E-mail.
pub fn email(notice: &Notice, _audience: Audience) -> RenderedEmail {
    RenderedEmail {
        subject: format!("[spa {}] {}", notice.environment, notice.label),
        text: notice.what_happened.clone(),
        html: notice.what_happened.clone(),
    }
}
