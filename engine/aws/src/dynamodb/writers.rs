//! The writer lease of each account and what its last writer knew
//! ([`WriterLeases`]), one item per account in the transactions table:
//!
//! | `pk` | `sk` | more |
//! |---|---|---|
//! | `writer#<account>` | `writer` | `until` (end of the lease, epoch seconds; absent once freed), `at`, `tags` and `ancestors` (JSON), `footprint` (digest) |
//!
//! Taking the lease is one conditional `UpdateItem` (no `until`, or an `until` past)
//! that returns the old item: the cache comes with the lease, at no extra call; an
//! old `until` means its writer died holding it (resumed). A refused take is read
//! back (`GetItem`, consistent) for the end of the lease that holds it. Freeing is
//! one `UpdateItem` that removes `until` and writes the cache, parts in doubt removed.
//! No TTL: one small item per account, kept while the account is.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};

use std::collections::{BTreeMap, HashMap};

use super::{DynamoStore, Item, READ_BATCH, SERVICE, epoch, instant, s};
use crate::error::port_error;
use spa_core::events::AccountId;
use spa_usecases::ports::{AccountCache, PortError, Writer, WriterLeases};

fn key(account: &AccountId) -> (AttributeValue, AttributeValue) {
    (s(format!("writer#{account}")), s("writer"))
}

/// The cache an item holds; a part that does not read is left out (read again).
fn cache_of(item: &Item) -> AccountCache {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
    AccountCache {
        tags: text("tags").and_then(|t| serde_json::from_str(t).ok()),
        ancestors: text("ancestors").and_then(|t| serde_json::from_str(t).ok()),
        footprint: text("footprint").cloned(),
    }
}

fn until_of(item: &Item) -> Option<DateTime<Utc>> {
    item.get("until")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .and_then(|n| DateTime::from_timestamp(n, 0))
}

impl WriterLeases for DynamoStore {
    async fn take_writer(
        &self,
        account: &AccountId,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Writer, PortError> {
        let table = &self.tables.transactions;
        let (pk, sk) = key(account);
        let taken = self
            .client
            .update_item()
            .table_name(table)
            .key("pk", pk.clone())
            .key("sk", sk.clone())
            .update_expression("SET #u = :until, #at = :at")
            .condition_expression("attribute_not_exists(#u) OR #u < :now")
            .expression_attribute_names("#u", "until")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":until", epoch(until, std::time::Duration::ZERO))
            .expression_attribute_values(":now", epoch(at, std::time::Duration::ZERO))
            .expression_attribute_values(":at", s(instant(at)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match taken {
            Ok(output) => {
                let old = output.attributes().cloned().unwrap_or_default();
                Ok(Writer::Held {
                    resumed: old.contains_key("until"),
                    cache: cache_of(&old),
                })
            }
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                let held = self
                    .client
                    .get_item()
                    .table_name(table)
                    .key("pk", pk)
                    .key("sk", sk)
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| port_error(SERVICE, "GetItem", table, e))?;
                // freed between the two calls: the next delivery takes it
                let until = held.item().and_then(until_of).unwrap_or(at);
                Ok(Writer::Busy { until })
            }
            Err(e) => Err(port_error(SERVICE, "UpdateItem", table, e)),
        }
    }

    async fn free_writer(
        &self,
        account: &AccountId,
        cache: &AccountCache,
    ) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        let (pk, sk) = key(account);
        let json = |what: &str, value: Result<String, serde_json::Error>| {
            value.map_err(|e| PortError::Rejected {
                service: SERVICE.into(),
                action: "UpdateItem".into(),
                message: format!("the cached {what} do not serialize: {e}"),
            })
        };
        let mut set = Vec::new();
        let mut remove = vec!["#u"];
        let mut request = self
            .client
            .update_item()
            .table_name(table)
            .key("pk", pk)
            .key("sk", sk)
            .expression_attribute_names("#u", "until");
        for (name, alias, value) in [
            (
                "tags",
                "#t",
                cache
                    .tags
                    .as_ref()
                    .map(|tags| json("tags", serde_json::to_string(tags)))
                    .transpose()?,
            ),
            (
                "ancestors",
                "#a",
                cache
                    .ancestors
                    .as_ref()
                    .map(|ancestors| json("ancestors", serde_json::to_string(ancestors)))
                    .transpose()?,
            ),
            ("footprint", "#f", cache.footprint.clone()),
        ] {
            request = request.expression_attribute_names(alias, name);
            match value {
                Some(value) => {
                    let placeholder = format!(":{name}");
                    set.push(format!("{alias} = {placeholder}"));
                    request = request.expression_attribute_values(placeholder, s(value));
                }
                None => remove.push(alias),
            }
        }
        let mut expression = String::new();
        if !set.is_empty() {
            expression.push_str("SET ");
            expression.push_str(&set.join(", "));
            expression.push(' ');
        }
        expression.push_str("REMOVE ");
        expression.push_str(&remove.join(", "));
        request
            .update_expression(expression)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "UpdateItem", table, e))?;
        Ok(())
    }

    async fn cached(&self, account: &AccountId) -> Result<AccountCache, PortError> {
        let table = &self.tables.transactions;
        let (pk, sk) = key(account);
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", pk)
            .key("sk", sk)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "GetItem", table, e))?;
        Ok(output.item().map(cache_of).unwrap_or_default())
    }

    async fn cached_many(
        &self,
        accounts: &[AccountId],
    ) -> Result<BTreeMap<AccountId, AccountCache>, PortError> {
        let mut ids: Vec<&AccountId> = accounts.iter().collect();
        ids.sort();
        ids.dedup();
        let mut found = BTreeMap::new();
        for chunk in ids.chunks(READ_BATCH) {
            let keys = chunk
                .iter()
                .map(|id| {
                    let (pk, sk) = key(id);
                    HashMap::from([("pk".to_owned(), pk), ("sk".to_owned(), sk)])
                })
                .collect();
            for item in self.read_batch(keys).await? {
                let account = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("writer#"))
                    .and_then(AccountId::parse);
                if let Some(account) = account {
                    found.insert(account, cache_of(&item));
                }
            }
        }
        Ok(found)
    }
}
