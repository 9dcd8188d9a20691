//! The writer lease of each account, the causes it processed, and what its last
//! writer knew ([`WriterLeases`]), one item per account in the transactions table:
//!
//! | `pk` | `sk` | more |
//! |---|---|---|
//! | `writer#<account>` | `writer` | `until` (end of the lease, epoch seconds; absent once freed), `at`, `cause` (the claimed cause whose turn has not ended), `note` and `noted` (what that cause noted, and the cause), `ended` (map: cause → `done <epoch>` or `failed <epoch> <why>`), `tags` and `ancestors` (JSON), `footprint` (digest), `holder` (fingerprint) |
//!
//! `holder` is the partition key of the sparse index `holder` (sort key `pk`): a
//! holder's accounts are one `Query`, whatever the size of the organization.
//! A transition is two writes. Taking its turn is one conditional `UpdateItem` (no
//! `until` or an `until` past, and the cause not in `ended`) that returns the old
//! item: the claim and the cache come with the lease, at no extra call; an old
//! `until` means its writer died holding it (resumed), an old `cause` equal to this
//! one that a delivery of the same cause died at work. A refused take is read back
//! (`GetItem`, consistent): `Seen`, `Failed`, or `Busy` until the end of the lease
//! that holds it. Ending the turn is one `UpdateItem` that removes `until`, `cause`
//! and the note, marks the cause in `ended`, forgets the causes ended 7 days ago
//! (or beyond the newest 200), and writes the cache, parts in doubt removed.
//! No TTL: one small item per account, kept while the account is.
//!
//! The turn's activity records, deadlines and domain events are written with its end,
//! in one `TransactWriteItems`: the events as outbox items
//! ([`spa_core::events::OUTBOX_PREFIX`]), which the table's stream hands to the
//! `relay` function.

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};

use std::collections::{BTreeMap, HashMap};

use super::{
    DynamoStore, HOLDER_INDEX, Item, READ_BATCH, SERVICE, activity_item, deadline_item,
    deadline_key, epoch, instant, s,
};
use crate::error::port_error;
use spa_core::events::{
    AccountId, DomainEvent, OUTBOX_EVENT, OUTBOX_SORT, outbox_detail, outbox_expires, outbox_key,
};
use spa_usecases::ports::{
    AccountCache, Deadline, Ended, PortError, Turn, TurnEnd, Writer, WriterLeases, expired_causes,
};

fn key(account: &AccountId) -> (AttributeValue, AttributeValue) {
    (s(format!("writer#{account}")), s("writer"))
}

/// The key of an account's writer item, for a batch read.
pub(super) fn writer_key(account: &AccountId) -> Item {
    let (pk, sk) = key(account);
    HashMap::from([("pk".to_owned(), pk), ("sk".to_owned(), sk)])
}

/// The outbox item of an event ([`spa_core::events::outbox_key`]): the same item
/// every time the event is written.
pub(super) fn outbox_item(event: &DomainEvent) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(outbox_key(event))),
        ("sk".to_owned(), s(OUTBOX_SORT)),
        (OUTBOX_EVENT.to_owned(), s(outbox_detail(event))),
        (
            super::TTL_ATTRIBUTE.to_owned(),
            AttributeValue::N(outbox_expires(event).to_string()),
        ),
    ])
}

/// The cache an item holds; a part that does not read is left out (read again).
pub(super) fn cache_of(item: &Item) -> AccountCache {
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

/// The value of a cause in `ended`: `done <epoch>` or `failed <epoch> <why>`.
fn ended_value(end: &TurnEnd, at: DateTime<Utc>) -> Option<String> {
    match end {
        TurnEnd::Released => None,
        TurnEnd::Done => Some(format!("{DONE} {}", at.timestamp())),
        TurnEnd::Failed(why) => Some(format!("{FAILED} {} {why}", at.timestamp())),
    }
}

/// What `ended` says of a cause: when, and why it failed (`None`: done).
fn ended_of(value: &str) -> Option<(DateTime<Utc>, Option<String>)> {
    let (status, rest) = value.split_once(' ')?;
    let (when, why) = match rest.split_once(' ') {
        Some((when, why)) => (when, Some(why)),
        None => (rest, None),
    };
    let when = DateTime::from_timestamp(when.parse().ok()?, 0)?;
    match status {
        DONE => Some((when, None)),
        FAILED => Some((when, Some(why.unwrap_or_default().to_owned()))),
        _ => None,
    }
}

const DONE: &str = "done";
const FAILED: &str = "failed";
/// The causes forgotten by one free at most (the rest by the next ones).
const FORGOTTEN_AT_ONCE: usize = 50;

fn ended_map(item: &Item) -> BTreeMap<String, (DateTime<Utc>, Option<String>)> {
    item.get("ended")
        .and_then(|v| v.as_m().ok())
        .map(|map| {
            map.iter()
                .filter_map(|(cause, value)| Some((cause.clone(), ended_of(value.as_s().ok()?)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The most items one `TransactWriteItems` takes.
const TRANSACTION_ITEMS: usize = 100;

type Names = HashMap<String, String>;
type Values = HashMap<String, AttributeValue>;

/// The update that frees an account's writer lease and ends the turn: the
/// expression, its names and its values.
fn free_expression(
    cache: &AccountCache,
    ended: Ended<'_>,
) -> Result<(String, Names, Values), PortError> {
    let mut names: Names = HashMap::from([("#u".to_owned(), "until".to_owned())]);
    let mut values: Values = HashMap::new();
    let mut set = Vec::new();
    let mut remove = vec!["#u".to_owned()];
    for (n, (name, value)) in cache_values(cache)?.into_iter().enumerate() {
        let alias = format!("#c{n}");
        names.insert(alias.clone(), name.to_owned());
        match value {
            Some(value) => {
                let placeholder = format!(":c{n}");
                set.push(format!("{alias} = {placeholder}"));
                values.insert(placeholder, s(value));
            }
            None => remove.push(CACHE_ALIASES[n].to_owned()),
        }
    }
    let mark = ended_value(ended.end, ended.at).filter(|_| ended.claims);
    if mark.is_some() || !ended.expired.is_empty() {
        names.insert("#ended".to_owned(), "ended".to_owned());
    }
    if let Some(mark) = mark {
        set.push("#ended.#k = :ended".to_owned());
        names.insert("#k".to_owned(), ended.cause.to_owned());
        values.insert(":ended".to_owned(), s(mark));
    }
    for (n, cause) in ended.expired.iter().enumerate() {
        let alias = format!("#x{n}");
        remove.push(format!("#ended.{alias}"));
        names.insert(alias, cause.clone());
    }
    if ended.claims {
        // the turn of the cause ends, and its note with it; a turn that claimed
        // nothing leaves those of a cause that died at work
        remove.extend(["#lc".to_owned(), "#n".to_owned(), "#nd".to_owned()]);
        names.insert("#lc".to_owned(), "cause".to_owned());
        names.insert("#n".to_owned(), "note".to_owned());
        names.insert("#nd".to_owned(), "noted".to_owned());
    }
    let mut expression = String::new();
    if !set.is_empty() {
        expression.push_str("SET ");
        expression.push_str(&set.join(", "));
        expression.push(' ');
    }
    expression.push_str("REMOVE ");
    expression.push_str(&remove.join(", "));
    Ok((expression, names, values))
}

impl WriterLeases for DynamoStore {
    async fn take_writer(
        &self,
        account: &AccountId,
        turn: Turn<'_>,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Writer, PortError> {
        let table = &self.tables.transactions;
        let (pk, sk) = key(account);
        let mut request = self
            .client
            .update_item()
            .table_name(table)
            .key("pk", pk.clone())
            .key("sk", sk.clone())
            .expression_attribute_names("#u", "until")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":until", epoch(until, std::time::Duration::ZERO))
            .expression_attribute_values(":now", epoch(at, std::time::Duration::ZERO))
            .expression_attribute_values(":at", s(instant(at)))
            .return_values(ReturnValue::AllOld);
        request = if turn.claims {
            let mut condition =
                "(attribute_not_exists(#u) OR #u < :now) AND (attribute_not_exists(#ended.#k)"
                    .to_owned();
            if turn.replay {
                condition.push_str(" OR begins_with(#ended.#k, :failed)");
                request = request.expression_attribute_values(":failed", s(FAILED));
            }
            condition.push(')');
            request
                .update_expression(
                    "SET #u = :until, #at = :at, #c = :cause, #ended = if_not_exists(#ended, :none)",
                )
                .condition_expression(condition)
                .expression_attribute_names("#c", "cause")
                .expression_attribute_names("#ended", "ended")
                .expression_attribute_names("#k", turn.cause)
                .expression_attribute_values(":cause", s(turn.cause))
                .expression_attribute_values(":none", AttributeValue::M(HashMap::new()))
        } else {
            request
                .update_expression("SET #u = :until, #at = :at")
                .condition_expression("attribute_not_exists(#u) OR #u < :now")
        };
        match request.send().await {
            Ok(output) => {
                let old = output.attributes().cloned().unwrap_or_default();
                let text = |name: &str| old.get(name).and_then(|v| v.as_s().ok());
                let same_cause =
                    turn.claims && text("cause").map(String::as_str) == Some(turn.cause);
                let note = text("note")
                    .filter(|_| same_cause && text("noted").map(String::as_str) == Some(turn.cause))
                    .cloned();
                let ended = ended_map(&old);
                let mut expired = expired_causes(
                    ended
                        .iter()
                        .map(|(cause, (when, _))| (cause.as_str(), *when)),
                    at,
                );
                expired.retain(|cause| cause != turn.cause);
                expired.truncate(FORGOTTEN_AT_ONCE);
                Ok(Writer::Held {
                    resumed: old.contains_key("until"),
                    same_cause,
                    note,
                    cache: cache_of(&old),
                    expired,
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
                let item = held.item().cloned().unwrap_or_default();
                if turn.claims {
                    match ended_map(&item).remove(turn.cause) {
                        Some((_, None)) => return Ok(Writer::Seen),
                        Some((_, Some(why))) if !turn.replay => {
                            return Ok(Writer::Failed { why });
                        }
                        _ => {}
                    }
                }
                // freed between the two calls: the next delivery takes it
                let until = until_of(&item).unwrap_or(at);
                Ok(Writer::Busy { until })
            }
            Err(e) => Err(port_error(SERVICE, "UpdateItem", table, e)),
        }
    }

    async fn note_turn(
        &self,
        account: &AccountId,
        cause: &str,
        note: &str,
    ) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        let (pk, sk) = key(account);
        self.client
            .update_item()
            .table_name(table)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET #n = :note, #nd = :cause")
            .expression_attribute_names("#n", "note")
            .expression_attribute_names("#nd", "noted")
            .expression_attribute_values(":note", s(note))
            .expression_attribute_values(":cause", s(cause))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "UpdateItem", table, e))?;
        Ok(())
    }

    async fn free_writer(
        &self,
        account: &AccountId,
        cache: &AccountCache,
        ended: Ended<'_>,
    ) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        let (pk, sk) = key(account);
        let (expression, names, values) = free_expression(cache, ended)?;
        let writes = ended.writes;
        if writes.is_empty() {
            self.client
                .update_item()
                .table_name(table)
                .key("pk", pk)
                .key("sk", sk)
                .update_expression(expression)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "UpdateItem", table, e))?;
            return Ok(());
        }
        let transact = |e: aws_sdk_dynamodb::error::BuildError| PortError::Rejected {
            service: SERVICE.into(),
            action: "TransactWriteItems".into(),
            message: e.to_string(),
        };
        let mut items = Vec::new();
        let free = Update::builder()
            .table_name(table)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(transact)?;
        items.push(TransactWriteItem::builder().update(free).build());
        for (kind, due) in &writes.deadlines {
            let item = match due {
                Some(due) => {
                    let deadline = Deadline {
                        account: account.clone(),
                        kind: *kind,
                        due: *due,
                    };
                    let put = Put::builder()
                        .table_name(table)
                        .set_item(Some(deadline_item(&deadline)))
                        .build()
                        .map_err(transact)?;
                    TransactWriteItem::builder().put(put).build()
                }
                None => {
                    let delete = Delete::builder()
                        .table_name(table)
                        .set_key(Some(deadline_key(account, *kind)))
                        .build()
                        .map_err(transact)?;
                    TransactWriteItem::builder().delete(delete).build()
                }
            };
            items.push(item);
        }
        // the outbox: the table's stream hands each new item to the relay; an event
        // written again is the same item, which makes no new stream record. One
        // operation per item in a transaction: the first event of a key is the one
        // (whoever reacts to an event takes the first of a key too)
        let mut outboxed = std::collections::BTreeSet::new();
        for event in &writes.events {
            if !outboxed.insert(outbox_key(event)) {
                continue;
            }
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(outbox_item(event)))
                .build()
                .map_err(transact)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        // one item per key: an activity written twice is one item
        let mut activities = BTreeMap::new();
        for activity in &writes.activities {
            let item = activity_item(activity, self.tables.activities_ttl)?;
            let key = (
                item.get("pk").and_then(|v| v.as_s().ok()).cloned(),
                item.get("sk").and_then(|v| v.as_s().ok()).cloned(),
            );
            activities.insert(key, item);
        }
        let room = TRANSACTION_ITEMS.saturating_sub(items.len());
        let mut activities: Vec<Item> = activities.into_values().collect();
        // beyond what one transaction takes, the first records are written on their
        // own before it (a record written twice is one item)
        let overflow = activities.len().saturating_sub(room);
        let table_of_activities = &self.tables.activities;
        for item in activities.drain(..overflow) {
            self.client
                .put_item()
                .table_name(table_of_activities)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "PutItem", table_of_activities, e))?;
        }
        for item in activities {
            let put = Put::builder()
                .table_name(table_of_activities)
                .set_item(Some(item))
                .build()
                .map_err(transact)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "TransactWriteItems", table, e))?;
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
