//! Requests for a pool account (`/spa request [LEASE]`), pure: what a request is, who
//! may answer it and when, and which pool accounts are free to give.
//!
//! A request is asked on a unit whose settings open requests (`requests.feature`).
//! Without approvers it is granted at once; with approvers it waits, `pending`, until
//! one of them approves or denies it, or until it expires. An approved request is then
//! granted: a free pool account of the unit is given to the person who asked.
//!
//! ```text
//! pending --approve--> approved --account given--> granted
//!    |  \--deny------> denied
//!    \----expiry-----> expired (the sweeper tells the person who asked; a late
//!                      answer is refused)
//! ```
//!
//! The status only moves forward (the store writes it with a condition on the status
//! read), so two approvers who click at once answer once, and a re-delivered answer
//! changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::lifecycle::{AccountView, State};
use crate::vocabulary::AccountId;

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waits for an approver.
    Pending,
    /// An approver agreed: an account is being given.
    Approved,
    /// An approver refused.
    Denied,
    /// An account was given.
    Granted,
    /// Nobody answered in time: the person who asked was told.
    Expired,
}

impl RequestStatus {
    /// The one word of this status, as stored, logged and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Granted => "granted",
            RequestStatus::Expired => "expired",
        }
    }
}

/// A request for a pool account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    /// Its id ([`request_id`]): the button values of its approvers' messages.
    pub id: String,
    /// The Slack user who asked (where the answer is sent).
    pub requester: String,
    /// Their e-mail address, as Slack gave it: the holder of the account given.
    pub email: String,
    /// The unit whose pool account is asked for.
    pub unit: String,
    /// The lease asked, when shorter than the unit's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Duration>,
    /// When it was asked.
    pub asked: DateTime<Utc>,
    /// When it expires unanswered.
    pub expires: DateTime<Utc>,
    /// Where it is.
    pub status: RequestStatus,
    /// Who answered (a Slack user id), when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// When it was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    /// The account picked for it (written before the account is given, so that a
    /// request resumed after a crash gives the same one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountId>,
}

/// Why an answer to a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerRefused {
    /// The person who clicked is not an approver of the request's unit.
    #[error("only the approvers of this unit answer its requests")]
    NotApprover,
    /// Nobody answered in time.
    #[error("this request expired at {}: ask again with `/spa request`", .at.format("%Y-%m-%d %H:%M UTC"))]
    Expired {
        /// When it expired.
        at: DateTime<Utc>,
    },
    /// Somebody answered first.
    #[error("this request was {} already", .status.as_str())]
    Answered {
        /// Its status.
        status: RequestStatus,
        /// Who answered it.
        by: Option<String>,
    },
}

/// The id of a request: from the verified Slack request that asked it, so that a
/// re-delivered job names the same request. Letters, digits and `-` only.
pub fn request_id(timestamp: i64, signature: &str) -> String {
    let mark: String = signature
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    format!("r-{timestamp}-{mark}")
}

/// Whether `text` can be a request id (a button value is checked before any read).
pub fn is_request_id(text: &str) -> bool {
    (3..=64).contains(&text.len())
        && text.starts_with("r-")
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl AccessRequest {
    /// The request answered by `approver` at `now`: approved, or denied. `approvers`:
    /// the request's unit's, as the settings say now.
    pub fn answer(
        &self,
        approver: &str,
        approvers: &[String],
        approve: bool,
        now: DateTime<Utc>,
    ) -> Result<AccessRequest, AnswerRefused> {
        if !approvers.iter().any(|a| a == approver) {
            return Err(AnswerRefused::NotApprover);
        }
        if self.status != RequestStatus::Pending {
            return Err(AnswerRefused::Answered {
                status: self.status,
                by: self.answered_by.clone(),
            });
        }
        if self.expires <= now {
            return Err(AnswerRefused::Expired { at: self.expires });
        }
        Ok(AccessRequest {
            status: if approve {
                RequestStatus::Approved
            } else {
                RequestStatus::Denied
            },
            answered_by: Some(approver.to_owned()),
            answered_at: Some(now),
            ..self.clone()
        })
    }
}

impl AccessRequest {
    /// The request expired at `now`, when it waits still and its time has passed.
    pub fn expire(&self, now: DateTime<Utc>) -> Option<AccessRequest> {
        (self.status == RequestStatus::Pending && self.expires <= now).then(|| AccessRequest {
            status: RequestStatus::Expired,
            ..self.clone()
        })
    }
}

/// The pool accounts free to give at `now`, in the order they are offered: prepared,
/// without holder, not cooling down after their last purge, not being closed. The
/// longest prepared first (the pool turns over), then by id.
pub fn free_accounts(accounts: &[(AccountId, AccountView)], now: DateTime<Utc>) -> Vec<AccountId> {
    let mut free: Vec<(&AccountId, Option<DateTime<Utc>>)> = accounts
        .iter()
        .filter(|(_, view)| {
            view.state == Some(State::Prepared)
                && view.holder.is_none()
                && view.cooling(now).is_none()
                && view.closing.is_none()
        })
        .map(|(account, view)| (account, view.since))
        .collect();
    free.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    free.into_iter()
        .map(|(account, _)| account.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::lifecycle::Holder;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn pending() -> AccessRequest {
        AccessRequest {
            id: request_id(1_765_000_000, "0123456789abcdef0123"),
            requester: "U0JANE".into(),
            email: "jane@example.com".into(),
            unit: "ou-ab12-sandbox1".into(),
            lease: None,
            asked: at("2026-12-06T10:00:00Z"),
            expires: at("2026-12-07T10:00:00Z"),
            status: RequestStatus::Pending,
            answered_by: None,
            answered_at: None,
            account: None,
        }
    }

    #[test]
    fn a_request_id_comes_from_the_slack_request_and_is_checked() {
        let id = request_id(1_765_000_000, "0123456789abcdef0123");
        assert_eq!(id, "r-1765000000-0123456789abcdef");
        assert!(is_request_id(&id));
        for bad in ["", "r-", "x-1-2", "r-1-ABC", "r-1/../2", &"r-1".repeat(30)] {
            assert!(!is_request_id(bad), "{bad}");
        }
    }

    #[test]
    fn an_approver_answers_once_in_time() {
        let approvers = vec!["U0APPROVER".to_owned()];
        let now = at("2026-12-06T11:00:00Z");
        let approved = pending()
            .answer("U0APPROVER", &approvers, true, now)
            .unwrap();
        assert_eq!(approved.status, RequestStatus::Approved);
        assert_eq!(approved.answered_by.as_deref(), Some("U0APPROVER"));
        let denied = pending()
            .answer("U0APPROVER", &approvers, false, now)
            .unwrap();
        assert_eq!(denied.status, RequestStatus::Denied);
        // the requester, or anyone else, is not an approver
        assert_eq!(
            pending().answer("U0JANE", &approvers, true, now),
            Err(AnswerRefused::NotApprover)
        );
        // a second answer is refused, whoever gives it
        assert!(matches!(
            approved.answer("U0APPROVER", &approvers, false, now),
            Err(AnswerRefused::Answered {
                status: RequestStatus::Approved,
                ..
            })
        ));
        // expired by the sweeper: then refused as answered
        let late = at("2026-12-07T10:00:00Z");
        assert_eq!(pending().expire(at("2026-12-07T09:59:59Z")), None);
        let expired = pending().expire(late).unwrap();
        assert_eq!(expired.status, RequestStatus::Expired);
        assert_eq!(expired.expire(late), None);
        assert!(matches!(
            expired.answer("U0APPROVER", &approvers, true, late),
            Err(AnswerRefused::Answered {
                status: RequestStatus::Expired,
                ..
            })
        ));
        // too late, before the sweeper came
        let refused = pending().answer("U0APPROVER", &approvers, true, late);
        assert_eq!(
            refused,
            Err(AnswerRefused::Expired {
                at: at("2026-12-07T10:00:00Z")
            })
        );
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("expired at 2026-12-07 10:00 UTC")
        );
    }

    #[test]
    fn only_free_pool_accounts_are_offered_the_longest_prepared_first() {
        let now = at("2026-12-06T10:00:00Z");
        let id = |n: &str| AccountId::parse(n).unwrap();
        let prepared = |since: &str| AccountView {
            state: Some(State::Prepared),
            since: Some(at(since)),
            ..AccountView::default()
        };
        let accounts = vec![
            (id("111111111111"), prepared("2026-12-05T00:00:00Z")),
            (id("222222222222"), prepared("2026-12-01T00:00:00Z")),
            (
                id("333333333333"),
                AccountView {
                    holder: Some(Holder::new("bob@example.com").unwrap()),
                    ..prepared("2026-11-01T00:00:00Z")
                },
            ),
            (
                id("444444444444"),
                AccountView {
                    cooldown_until: Some(at("2026-12-07T00:00:00Z")),
                    ..prepared("2026-11-01T00:00:00Z")
                },
            ),
            (
                id("555555555555"),
                AccountView {
                    closing: Some(at("2026-12-01T00:00:00Z")),
                    ..prepared("2026-11-01T00:00:00Z")
                },
            ),
            (
                id("666666666666"),
                AccountView {
                    state: Some(State::Assigned),
                    ..prepared("2026-11-01T00:00:00Z")
                },
            ),
        ];
        assert_eq!(
            free_accounts(&accounts, now),
            vec![id("222222222222"), id("111111111111")]
        );
    }
}
