//! [`AwsOrganization`]: the `Organization` and `OrganizationTree` ports on AWS
//! Organizations, called with the management role's credentials.
//!
//! Every list is read to its last page, one request at a time; `page_size` only
//! serves the tests (the emulator pages like AWS when asked for small pages). When
//! spa keeps to its share of the management account's quota ([`Pace`]), each
//! request takes a slot first.

use std::collections::{BTreeMap, HashSet};

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{
    Account, AccountState, AccountStatus as SdkStatus, ParentType, PolicyType, Tag,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use std::sync::Arc;

use super::error::port_error;
use super::pace::Pace;
use spa_core::events::{AccountId, Sensitive};
use spa_core::lifecycle::TagChanges;
use spa_usecases::ports::{
    AccountRecord, AccountStatus, Organization, OrganizationTree, PortError, Unit,
};

const SERVICE: &str = "organizations";

/// Nesting AWS allows: 5 levels of OUs under the root, so an account has at most 6
/// ancestors; one more is tolerated, past that the answer is inconsistent.
pub const MAX_DEPTH: usize = 7;

/// AWS Organizations, from the management account.
#[derive(Debug, Clone)]
pub struct AwsOrganization {
    client: Client,
    page_size: Option<i32>,
    /// spa's share of the management account's quota, if kept ([`Pace`]).
    pace: Option<Arc<Pace>>,
}

impl AwsOrganization {
    /// On a client with the management role's credentials.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            page_size: None,
            pace: None,
        }
    }

    /// Every request takes a slot of `pace` first (spa's share of the quota).
    pub fn with_pace(mut self, pace: Arc<Pace>) -> Self {
        self.pace = Some(pace);
        self
    }

    /// Waits for the slot of the next request, when the rate is kept.
    async fn pace(&self) -> Result<(), PortError> {
        match &self.pace {
            Some(pace) => pace.take().await,
            None => Ok(()),
        }
    }

    /// Asks for pages of `size` items (tests: exercise pagination with few items).
    pub fn with_page_size(mut self, size: i32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// The SDK client (for setup code such as the demo's seeding).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// The token of the next page, if there is one.
fn next(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_owned)
}

fn rejected(action: &str, message: impl Into<String>) -> PortError {
    PortError::Rejected {
        service: SERVICE.to_owned(),
        action: action.to_owned(),
        message: message.into(),
    }
}

fn inconsistent(id: &str, why: impl Into<String>) -> PortError {
    PortError::Inconsistent {
        id: id.to_owned(),
        why: why.into(),
    }
}

/// The port's status of an account: the new `State` when the service gives it, else
/// the older `Status`. Closed accounts count as suspended; an account pending
/// activation as active; a state this code does not know as suspended (nothing acts
/// on a suspended account), with a warning.
#[allow(deprecated)]
fn status_of(account: &Account) -> AccountStatus {
    let id = account.id().unwrap_or("?");
    if let Some(state) = account.state() {
        return match state {
            AccountState::Active | AccountState::PendingActivation => AccountStatus::Active,
            AccountState::PendingClosure => AccountStatus::PendingClosure,
            AccountState::Suspended | AccountState::Closed => AccountStatus::Suspended,
            other => {
                tracing::warn!(
                    account = id,
                    state = other.as_str(),
                    "unknown account state, taken as suspended"
                );
                AccountStatus::Suspended
            }
        };
    }
    match account.status() {
        Some(SdkStatus::Active) => AccountStatus::Active,
        Some(SdkStatus::PendingClosure) => AccountStatus::PendingClosure,
        Some(SdkStatus::Suspended) => AccountStatus::Suspended,
        other => {
            tracing::warn!(account = id, status = ?other.map(SdkStatus::as_str), "unknown account status, taken as suspended");
            AccountStatus::Suspended
        }
    }
}

fn record(account: &Account) -> Result<AccountRecord, PortError> {
    let raw = account.id().unwrap_or_default();
    let id = AccountId::parse(raw)
        .ok_or_else(|| inconsistent(raw, "an account without a 12-digit id"))?;
    Ok(AccountRecord {
        name: account.name().unwrap_or_default().to_owned(),
        email: Sensitive::new(account.email().unwrap_or_default()),
        status: status_of(account),
        id,
    })
}

impl OrganizationTree for AwsOrganization {
    async fn ancestors(&self, id: &str) -> Result<Vec<String>, PortError> {
        let mut ancestors = Vec::new();
        let mut seen: HashSet<String> = HashSet::from([id.to_owned()]);
        let mut child = id.to_owned();
        loop {
            self.pace().await?;
            let output = self
                .client
                .list_parents()
                .child_id(&child)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "ListParents", &child, e))?;
            let Some(parent) = output.parents().first() else {
                return Err(inconsistent(&child, "no parent, and not a root"));
            };
            let parent_id = parent.id().unwrap_or_default().to_owned();
            if parent_id.is_empty() {
                return Err(inconsistent(&child, "a parent without an id"));
            }
            if !seen.insert(parent_id.clone()) {
                return Err(inconsistent(&parent_id, format!("a cycle above `{id}`")));
            }
            ancestors.push(parent_id.clone());
            if matches!(parent.r#type(), Some(ParentType::Root)) || parent_id.starts_with("r-") {
                return Ok(ancestors);
            }
            if ancestors.len() >= MAX_DEPTH {
                return Err(inconsistent(
                    id,
                    format!("more than {MAX_DEPTH} ancestors without reaching the root"),
                ));
            }
            child = parent_id;
        }
    }
}

impl Organization for AwsOrganization {
    async fn describe_account(&self, id: &AccountId) -> Result<AccountRecord, PortError> {
        self.pace().await?;
        let output = self
            .client
            .describe_account()
            .account_id(id.as_str())
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "DescribeAccount", id.as_str(), e))?;
        let account = output.account().ok_or_else(|| {
            rejected(
                "DescribeAccount",
                format!("no account in the answer for `{id}`"),
            )
        })?;
        record(account)
    }

    async fn list_accounts(&self) -> Result<Vec<AccountRecord>, PortError> {
        let mut accounts = Vec::new();
        let mut token = None;
        loop {
            self.pace().await?;
            let page = self
                .client
                .list_accounts()
                .set_max_results(self.page_size)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "ListAccounts", "organization", e))?;
            for account in page.accounts() {
                accounts.push(record(account)?);
            }
            match next(page.next_token()) {
                Some(next) => token = Some(next),
                None => return Ok(accounts),
            }
        }
    }

    async fn accounts_in(&self, parent: &str) -> Result<Vec<AccountRecord>, PortError> {
        let mut accounts = Vec::new();
        let mut token = None;
        loop {
            self.pace().await?;
            let page = self
                .client
                .list_accounts_for_parent()
                .parent_id(parent)
                .set_max_results(self.page_size)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "ListAccountsForParent", parent, e))?;
            for account in page.accounts() {
                accounts.push(record(account)?);
            }
            match next(page.next_token()) {
                Some(next) => token = Some(next),
                None => return Ok(accounts),
            }
        }
    }

    async fn units_in(&self, parent: &str) -> Result<Vec<Unit>, PortError> {
        let mut units = Vec::new();
        let mut token = None;
        loop {
            self.pace().await?;
            let page = self
                .client
                .list_organizational_units_for_parent()
                .parent_id(parent)
                .set_max_results(self.page_size)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "ListOrganizationalUnitsForParent", parent, e))?;
            units.extend(page.organizational_units().iter().map(|unit| Unit {
                id: unit.id().unwrap_or_default().to_owned(),
                name: unit.name().unwrap_or_default().to_owned(),
            }));
            match next(page.next_token()) {
                Some(next) => token = Some(next),
                None => return Ok(units),
            }
        }
    }

    async fn describe_unit(&self, id: &str) -> Result<Unit, PortError> {
        self.pace().await?;
        let output = self
            .client
            .describe_organizational_unit()
            .organizational_unit_id(id)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "DescribeOrganizationalUnit", id, e))?;
        let unit = output.organizational_unit();
        Ok(Unit {
            id: id.to_owned(),
            name: unit.and_then(|u| u.name()).unwrap_or_default().to_owned(),
        })
    }

    async fn roots(&self) -> Result<Vec<Unit>, PortError> {
        let mut roots = Vec::new();
        let mut token = None;
        loop {
            self.pace().await?;
            let page = self
                .client
                .list_roots()
                .set_max_results(self.page_size)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "ListRoots", "organization", e))?;
            roots.extend(page.roots().iter().map(|root| Unit {
                id: root.id().unwrap_or_default().to_owned(),
                name: root.name().unwrap_or_default().to_owned(),
            }));
            match next(page.next_token()) {
                Some(next) => token = Some(next),
                None => return Ok(roots),
            }
        }
    }

    async fn tags(&self, id: &AccountId) -> Result<BTreeMap<String, String>, PortError> {
        let mut tags = BTreeMap::new();
        let mut token = None;
        loop {
            self.pace().await?;
            let page = self
                .client
                .list_tags_for_resource()
                .resource_id(id.as_str())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "ListTagsForResource", id.as_str(), e))?;
            for tag in page.tags() {
                tags.insert(tag.key().to_owned(), tag.value().to_owned());
            }
            match next(page.next_token()) {
                Some(next) => token = Some(next),
                None => return Ok(tags),
            }
        }
    }

    async fn change_tags(&self, id: &AccountId, changes: &TagChanges) -> Result<(), PortError> {
        if !changes.set.is_empty() {
            let tags = changes
                .set
                .iter()
                .map(|(key, value)| Tag::builder().key(key).value(value).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| rejected("TagResource", e.to_string()))?;
            self.pace().await?;
            self.client
                .tag_resource()
                .resource_id(id.as_str())
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "TagResource", id.as_str(), e))?;
        }
        if !changes.remove.is_empty() {
            self.pace().await?;
            self.client
                .untag_resource()
                .resource_id(id.as_str())
                .set_tag_keys(Some(changes.remove.iter().cloned().collect()))
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "UntagResource", id.as_str(), e))?;
        }
        Ok(())
    }

    async fn move_account(&self, id: &AccountId, from: &str, to: &str) -> Result<(), PortError> {
        self.pace().await?;
        let result = self
            .client
            .move_account()
            .account_id(id.as_str())
            .source_parent_id(from)
            .destination_parent_id(to)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // a retried move finds the account where it was sent
            Err(e)
                if e.as_service_error().and_then(|s| s.code())
                    == Some("DuplicateAccountException") =>
            {
                tracing::debug!(account = %id, to, "account already in its destination");
                Ok(())
            }
            Err(e) => Err(port_error(SERVICE, "MoveAccount", id.as_str(), e)),
        }
    }

    async fn close_account(&self, id: &AccountId) -> Result<(), PortError> {
        self.pace().await?;
        let result = self
            .client
            .close_account()
            .account_id(id.as_str())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // a retried close finds the account closed or closing
            Err(e)
                if e.as_service_error().and_then(|s| s.code())
                    == Some("AccountAlreadyClosedException") =>
            {
                tracing::debug!(account = %id, "account already closed");
                Ok(())
            }
            Err(e) => Err(port_error(SERVICE, "CloseAccount", id.as_str(), e)),
        }
    }

    async fn freeze(
        &self,
        id: &AccountId,
        policy: &spa_core::guardrails::Policy,
    ) -> Result<(), PortError> {
        let policy_id = match self.policy_id(&policy.name).await? {
            Some(policy_id) => policy_id,
            None => self.create_policy(policy).await?,
        };
        self.pace().await?;
        let result = self
            .client
            .attach_policy()
            .policy_id(&policy_id)
            .target_id(id.as_str())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("DuplicatePolicyAttachmentException") => {
                tracing::debug!(account = %id, policy = policy.name, "the policy was attached already");
                Ok(())
            }
            Err(e) => Err(port_error(SERVICE, "AttachPolicy", id.as_str(), e)),
        }
    }

    async fn thaw(&self, id: &AccountId, policy: &str) -> Result<(), PortError> {
        let Some(policy_id) = self.policy_id(policy).await? else {
            tracing::debug!(account = %id, policy, "no such policy: nothing to detach");
            return Ok(());
        };
        self.pace().await?;
        let result = self
            .client
            .detach_policy()
            .policy_id(&policy_id)
            .target_id(id.as_str())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    code(&e),
                    Some("PolicyNotAttachedException" | "PolicyNotFoundException")
                ) =>
            {
                tracing::debug!(account = %id, policy, "the policy was not attached");
                Ok(())
            }
            Err(e) => Err(port_error(SERVICE, "DetachPolicy", id.as_str(), e)),
        }
    }
}

/// The error code of a service error.
fn code<E: ProvideErrorMetadata, R>(
    error: &aws_sdk_organizations::error::SdkError<E, R>,
) -> Option<&str> {
    error.as_service_error().and_then(|s| s.code())
}

impl AwsOrganization {
    /// The id of the service control policy named `name`, if the organization has one.
    async fn policy_id(&self, name: &str) -> Result<Option<String>, PortError> {
        let mut token = None;
        loop {
            self.pace().await?;
            let page = self
                .client
                .list_policies()
                .filter(PolicyType::ServiceControlPolicy)
                .set_max_results(self.page_size)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "ListPolicies", name, e))?;
            if let Some(found) = page
                .policies()
                .iter()
                .find(|p| p.name() == Some(name))
                .and_then(|p| p.id())
            {
                return Ok(Some(found.to_owned()));
            }
            token = match next(page.next_token()) {
                Some(token) => Some(token),
                None => return Ok(None),
            };
        }
    }

    /// Creates a service control policy; a twin created meanwhile (another
    /// invocation) is found and used.
    async fn create_policy(
        &self,
        policy: &spa_core::guardrails::Policy,
    ) -> Result<String, PortError> {
        self.pace().await?;
        let result = self
            .client
            .create_policy()
            .name(&policy.name)
            .description(&policy.description)
            .content(&policy.content)
            .r#type(PolicyType::ServiceControlPolicy)
            .send()
            .await;
        match result {
            Ok(output) => output
                .policy()
                .and_then(|p| p.policy_summary())
                .and_then(|s| s.id())
                .map(str::to_owned)
                .ok_or_else(|| rejected("CreatePolicy", "no policy id in the answer")),
            Err(e) if code(&e) == Some("DuplicatePolicyException") => self
                .policy_id(&policy.name)
                .await?
                .ok_or_else(|| rejected("CreatePolicy", "the policy exists and cannot be listed")),
            Err(e) => Err(port_error(SERVICE, "CreatePolicy", &policy.name, e)),
        }
    }
}
