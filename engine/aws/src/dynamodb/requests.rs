//! Requests for a pool account ([`AccessRequests`]): one item each in the
//! transactions table.
//!
//! | `pk` | `sk` | more |
//! |---|---|---|
//! | `request#<id>` | `request` | `body` (the request, JSON), `status`, `account` (the account picked, or `-`), `expires` = 30 days after the request expires |
//!
//! A request is created with a conditional `PutItem` (absent) and moved with a
//! conditional `PutItem` on the `status` and `account` read: two answers at once
//! write one.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use spa_core::requests::AccessRequest;
use spa_usecases::ports::{AccessRequests, PortError};

use super::{DynamoStore, SERVICE, epoch, s, text};
use crate::error::port_error;

/// How long a request is kept after it expires (who asked, who answered).
const KEEP: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

fn key(id: &str) -> String {
    format!("request#{id}")
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

impl AccessRequests for DynamoStore {
    async fn put_request(&self, request: &AccessRequest) -> Result<bool, PortError> {
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
        self.write_request(
            request,
            "#status = :status AND #account = :account",
            Some(expected),
        )
        .await
    }
}
