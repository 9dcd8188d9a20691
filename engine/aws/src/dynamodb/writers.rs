//! The writer lease of each account and what its last writer knew
//! ([`WriterLeases`]), one item per account in the transactions table:
//!
//! | `pk` | `sk` | more |
//! |---|---|---|
//! | `writer#<account>` | `writer` | `until` (end of the lease, epoch seconds; absent once freed), `at`, `tags` and `ancestors` (JSON), `footprint` (digest), `holder` (fingerprint) |
//!
//! `holder` is the partition key of the sparse index `holder` (sort key `pk`): a
//! holder's accounts are one `Query`, whatever the size of the organization.
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

use super::{DynamoStore, HOLDER_INDEX, Item, READ_BATCH, SERVICE, epoch, instant, s};
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
        holder: text("holder").cloned(),
    }
}

fn account_of(item: &Item) -> Option<AccountId> {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .and_then(|pk| pk.strip_prefix("writer#"))
        .and_then(AccountId::parse)
}

/// The aliases of the cache's attributes in a `REMOVE`, in the order of
/// [`cache_values`].
const CACHE_ALIASES: [&str; 4] = ["#c0", "#c1", "#c2", "#c3"];

/// The cache's attributes and their text (JSON for the tags and ancestors); `None`:
/// in doubt, removed.
fn cache_values(cache: &AccountCache) -> Result<[(&'static str, Option<String>); 4], PortError> {
    let json = |what: &str, value: Result<String, serde_json::Error>| {
        value.map_err(|e| PortError::Rejected {
            service: SERVICE.into(),
            action: "UpdateItem".into(),
            message: format!("the cached {what} do not serialize: {e}"),
        })
    };
    Ok([
        (
            "tags",
            cache
                .tags
                .as_ref()
                .map(|tags| json("tags", serde_json::to_string(tags)))
                .transpose()?,
        ),
        (
            "ancestors",
            cache
                .ancestors
                .as_ref()
                .map(|ancestors| json("ancestors", serde_json::to_string(ancestors)))
                .transpose()?,
        ),
        ("footprint", cache.footprint.clone()),
        ("holder", cache.holder.clone()),
    ])
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
        let mut set = Vec::new();
        let mut remove = vec!["#u"];
        let mut request = self
            .client
            .update_item()
            .table_name(table)
            .key("pk", pk)
            .key("sk", sk)
            .expression_attribute_names("#u", "until");
        for (n, (name, value)) in cache_values(cache)?.into_iter().enumerate() {
            let alias = format!("#c{n}");
            request = request.expression_attribute_names(&alias, name);
            match value {
                Some(value) => {
                    let placeholder = format!(":c{n}");
                    set.push(format!("{alias} = {placeholder}"));
                    request = request.expression_attribute_values(placeholder, s(value));
                }
                None => remove.push(CACHE_ALIASES[n]),
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

    async fn seed(&self, account: &AccountId, cache: &AccountCache) -> Result<bool, PortError> {
        let table = &self.tables.transactions;
        let (pk, sk) = key(account);
        let mut item: Item = HashMap::from([("pk".to_owned(), pk), ("sk".to_owned(), sk)]);
        for (name, value) in cache_values(cache)? {
            if let Some(value) = value {
                item.insert(name.to_owned(), s(value));
            }
        }
        let put = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(port_error(SERVICE, "PutItem", table, e)),
        }
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
                if let Some(account) = account_of(&item) {
                    found.insert(account, cache_of(&item));
                }
            }
        }
        Ok(found)
    }

    async fn held_by(&self, holder: &str) -> Result<BTreeMap<AccountId, AccountCache>, PortError> {
        let table = &self.tables.transactions;
        let mut found = BTreeMap::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(table)
                .index_name(HOLDER_INDEX)
                .key_condition_expression("#h = :h")
                .expression_attribute_names("#h", "holder")
                .expression_attribute_values(":h", s(holder))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "Query", table, e))?;
            for item in output.items() {
                if let Some(account) = account_of(item) {
                    found.insert(account, cache_of(item));
                }
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(found),
            }
        }
    }
}
