//! Requests for a pool account ([`AccessRequests`]): one item each in the
//! transactions table.
//!
//! | `pk` | `sk` | more |
//! |---|---|---|
//! | `request#<id>` | `request` | `body` (the request, JSON), `status`, `account` (the account picked, or `-`), `expires` = 30 days after the request expires |
//! | `requests#pending` | `<expiry instant>#<id>` | `expires` as above: the index of the requests waiting for an answer, read by the sweeper |
//!
//! A request is created with a conditional `PutItem` (absent), its index item first (a
//! crash between the two leaves an index item without request, which the sweeper
//! skips); it is moved with a conditional `PutItem` on the `status` and `account`
//! read, so two answers at once write one, and its index item goes once it is no
//! longer pending.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use spa_core::requests::AccessRequest;
use spa_usecases::ports::{AccessRequests, PortError};

use super::{DynamoStore, SERVICE, epoch, instant, s, text};
use crate::error::port_error;

/// How long a request is kept after it expires (who asked, who answered).
const KEEP: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

fn key(id: &str) -> String {
    format!("request#{id}")
}

/// The partition of the pending requests' index.
const PENDING: &str = "requests#pending";

/// A request's item in the pending index.
fn pending_key(request: &AccessRequest) -> String {
    format!("{}#{}", instant(request.expires), request.id)
}

/// The `account` attribute: the account picked, or `-`.
fn account(request: &AccessRequest) -> String {
    request
        .account
        .as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

impl DynamoStore {
    /// Writes `request`, under `condition` on its item (with `:status` and `:account`
    /// of `expected`, when given): `false` when the condition failed.
    async fn write_request(
        &self,
        request: &AccessRequest,
        condition: &str,
        expected: Option<&AccessRequest>,
    ) -> Result<bool, PortError> {
        let table = &self.tables.transactions;
        let body = serde_json::to_string(request).map_err(|error| PortError::Rejected {
            service: SERVICE.into(),
            action: "PutItem".into(),
            message: format!("a request that does not write: {error}"),
        })?;
        let mut put = self
            .client
            .put_item()
            .table_name(table)
            .item("pk", s(key(&request.id)))
            .item("sk", s("request"))
            .item("body", s(body))
            .item("status", s(request.status.as_str()))
            .item("account", s(account(request)))
            .item(super::TTL_ATTRIBUTE, epoch(request.expires, KEEP))
            .condition_expression(condition);
        if let Some(expected) = expected {
            put = put
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#account", "account")
                .expression_attribute_values(":status", s(expected.status.as_str()))
                .expression_attribute_values(":account", s(account(expected)));
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(port_error(SERVICE, "PutItem", table, e)),
        }
    }
}

impl DynamoStore {
    /// Adds `request` to the pending index, or takes it out.
    async fn index_request(&self, request: &AccessRequest, pending: bool) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        if pending {
            self.client
                .put_item()
                .table_name(table)
                .item("pk", s(PENDING))
                .item("sk", s(pending_key(request)))
                .item(super::TTL_ATTRIBUTE, epoch(request.expires, KEEP))
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "PutItem", table, e))?;
        } else {
            self.client
                .delete_item()
                .table_name(table)
                .key("pk", s(PENDING))
                .key("sk", s(pending_key(request)))
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "DeleteItem", table, e))?;
        }
        Ok(())
    }
}

impl AccessRequests for DynamoStore {
    async fn put_request(&self, request: &AccessRequest) -> Result<bool, PortError> {
        let pending = request.status == spa_core::requests::RequestStatus::Pending;
        if pending {
            self.index_request(request, true).await?;
        }
        self.write_request(request, "attribute_not_exists(pk)", None)
            .await
    }

    async fn request(&self, id: &str) -> Result<Option<AccessRequest>, PortError> {
        let table = &self.tables.transactions;
        let item_key = key(id);
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(item_key.clone()))
            .key("sk", s("request"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "GetItem", table, e))?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let body = text(item, "body", &item_key)?;
        serde_json::from_str(body)
            .map(Some)
            .map_err(|error| PortError::Inconsistent {
                id: item_key,
                why: format!("stored request unreadable: {error}"),
            })
    }

    async fn update_request(
        &self,
        request: &AccessRequest,
        expected: &AccessRequest,
    ) -> Result<bool, PortError> {
        let written = self
            .write_request(
                request,
                "#status = :status AND #account = :account",
                Some(expected),
            )
            .await?;
        let pending = spa_core::requests::RequestStatus::Pending;
        if written && expected.status == pending && request.status != pending {
            // no longer pending: out of the index (left behind, it is skipped)
            if let Err(error) = self.index_request(request, false).await {
                tracing::warn!(request = request.id, %error, "the pending index item could not be removed");
            }
        }
        Ok(written)
    }

    async fn due_requests(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, PortError> {
        let until = format!("{}#~", instant(now));
        let mut due = Vec::new();
        for item in self.partition(PENDING).await? {
            let sort = text(&item, "sk", PENDING)?;
            if sort > until.as_str() {
                continue;
            }
            if let Some((_, id)) = sort.split_once('#') {
                due.push(id.to_owned());
            }
        }
        Ok(due)
    }
}
