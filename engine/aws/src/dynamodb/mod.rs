//! [`DynamoStore`]: the store's ports on DynamoDB (claims, writer leases, journal,
//! deadlines, incident records, logins, known accounts: together a `Store`), and the tables it needs
//! ([`table_definitions`], [`ensure_tables`]).
//!
//! # Key design
//!
//! Two tables, named `<environment_identifier>-<name>` from the settings' `metering`
//! (`SpaDemo-Activities`, `SpaDemo-Transactions`). Every key attribute is a string;
//! instants are written `2026-11-21T08:30:00.000000Z` (fixed width, so that text order
//! is time order). `expires` (epoch seconds) is the TTL attribute of both.
//!
//! **Activities** (`metering.activities_table`, kept `metering.activities_ttl` after
//! the activity):
//!
//! | attribute | value |
//! |---|---|
//! | `pk` (partition) | `account#<account>` |
//! | `sk` (sort) | `<at>#<label>#<digest>` |
//! | `shard` (partition of index `recent`) | `shard#<account mod 4>` |
//! | `rk` (sort of index `recent`) | `<at>#<account>#<label>#<digest>` |
//! | `body` | the activity as JSON |
//!
//! An account's history is a `Query` on its partition, newest first. Recent activities
//! of every account are a `Query` of each of the 4 shards of the `recent` index
//! (newest first, `Limit` = the limit, `rk >= since`), merged: no `Scan`, no clock, no
//! walking day by day, and writes spread over 4 index partitions. `<digest>` is a
//! stable hash of the activity, so recording the same activity twice (a retried
//! event) writes one item.
//!
//! **Transactions** (`metering.transactions_table`): claims and deadlines.
//!
//! | item | `pk` | `sk` | more |
//! |---|---|---|---|
//! | claim | `claim#<key>` | `claim` | `status` (`leased`, `done`, `failed`), `at`, `until` (end of the lease), `note`, `why`, `expires` = at + 7 days |
//! | deadline | `deadline#<account>` | `<kind>` | `due`, `due_shard` = `due`, `due_key` = `<due>#<account>#<kind>` |
//! | open incident | `incident#<account>` | `<label>` | `arn`, `at`, `expires` = at + 90 days |
//! | last sign-in | `login` | `<account>` | `at` (only ever moves forward) |
//! | known account | `known#<account>` | `account` | `name`, `cost_center`, `ou_path`, `seen` |
//! | writer lease | `writer#<account>` | `writer` | `until`, `at`, the account's cache, `holder` (`writers`) |
//! | a shared rate | `pace#organizations` | `pace` | `next`: the next free slot, epoch microseconds (`crate::pace`) |
//! | spend ledger entry | `spend#<account>` | the resource's id | `body` (JSON), `changed`, `expires` = a week after it ended (`ledgers`) |
//! | the month so far | `actual#<account>` | `actual` | `day`, `micros`: what Cost Explorer said of the account's month (`ledgers`) |
//! | a request | `request#<id>` | `request` | `body` (JSON), `status`, `account`, `expires` = 30 days after it expires (`requests`) |
//! | an event to relay | `outbox#<account>/<event key>` | `event` | `event` (the detail, JSON), `expires` = the event's time + 2 days ([`spa_core::events::OUTBOX_PREFIX`]) |
//!
//! The transactions table has a stream of new images: its event source mapping hands
//! the new outbox items, and nothing else, to the `relay` function.
//!
//! Known accounts are what each report run saw of every account (overwritten at each
//! run, `BatchWriteItem` by 25, no TTL: an account that left is named in the reports
//! of its months as long as they are re-run); they are read back by id with
//! `BatchGetItem` (100 keys a call), one partition per account so that 10,000 writes
//! spread.
//!
//! A claim is a lease taken with a conditional `UpdateItem` (absent, expired but not
//! yet removed by TTL, or a lease that ran out: its old attributes say it was resumed
//! and what its holder noted); a refused one is read back (`GetItem`, consistent) to
//! tell done from failed from busy. Ending it sets `done` or `failed`. Deadlines are found by the sparse index `due` (partition `due_shard`, sort
//! `due_key`: only deadline items have them): `due_key <= <now>#~` reads exactly the
//! due ones, oldest first, page by page; at 10,000 accounts with a few deadlines each
//! the index holds tens of thousands of small items in one partition, which a Query
//! reads in a few pages.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, PutRequest, ReturnValue,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
    TimeToLiveStatus, WriteRequest,
};
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, SecondsFormat, Utc};

use super::config::{AwsConfig, UNPROCESSED_ITEMS};
use super::error::port_error;
use spa_core::events::{AccountId, Label};
use spa_core::settings::Settings;
mod ledgers;
mod requests;
mod writers;

use spa_usecases::ports::{
    AccountCache, Activity, ActivityQuery, Claim, Claims, Deadline, DeadlineKind, Deadlines,
    IncidentRecords, Journal, KnownAccount, KnownAccounts, Logins, PortError,
};
use spa_usecases::retry::Unfinished;

const SERVICE: &str = "dynamodb";

/// The `status` of a claim held by a delivery at work.
const LEASED: &str = "leased";
/// The `status` of a claim whose reaction ended.
const DONE: &str = "done";
/// The `status` of a claim whose reaction failed for good.
const FAILED: &str = "failed";

/// How long a claimed key is remembered.
pub const CLAIM_TTL: Duration = Duration::from_secs(7 * 86_400);

/// Partitions of the `recent` index of activities.
pub const ACTIVITY_SHARDS: u64 = 4;

/// The index of recent activities.
pub const RECENT_INDEX: &str = "recent";
/// The sparse index of deadlines by due time.
pub const DUE_INDEX: &str = "due";
/// The TTL attribute of both tables.
pub const TTL_ATTRIBUTE: &str = "expires";
/// The sparse index of the writer leases by holder (the holder → accounts index).
pub const HOLDER_INDEX: &str = "holder";

/// A table as `spa local init` creates it (and the deployment templates describe it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// Full name (`SpaDemo-Activities`).
    pub name: String,
    /// Partition key attribute (a string).
    pub partition_key: String,
    /// Sort key attribute (a string).
    pub sort_key: Option<String>,
    /// TTL attribute (epoch seconds).
    pub ttl_attribute: Option<String>,
    /// Global secondary indexes (all attributes projected).
    pub indexes: Vec<IndexDefinition>,
    /// Whether the table has a stream of new images (the transactions table: the
    /// outbox's events go to the `relay` function through it).
    pub stream: bool,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    /// Its name.
    pub name: String,
    /// Partition key attribute (a string).
    pub partition_key: String,
    /// Sort key attribute (a string).
    pub sort_key: String,
}

/// The names and retention of spa's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreTables {
    /// Full name of the activities table.
    pub activities: String,
    /// Full name of the transactions table (claims, deadlines).
    pub transactions: String,
    /// How long activities are kept.
    pub activities_ttl: Duration,
}

impl StoreTables {
    /// From the settings: `<environment_identifier>-<metering table>`.
    pub fn from_settings(settings: &Settings) -> Self {
        let env = &settings.environment_identifier;
        Self {
            activities: format!("{env}-{}", settings.metering.activities_table),
            transactions: format!("{env}-{}", settings.metering.transactions_table),
            activities_ttl: settings.metering.activities_ttl,
        }
    }
}

/// The tables of the store (see the module's key design).
pub fn table_definitions(settings: &Settings) -> Vec<TableDefinition> {
    let tables = StoreTables::from_settings(settings);
    vec![
        TableDefinition {
            name: tables.activities,
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
            ttl_attribute: Some(TTL_ATTRIBUTE.into()),
            indexes: vec![IndexDefinition {
                name: RECENT_INDEX.into(),
                partition_key: "shard".into(),
                sort_key: "rk".into(),
            }],
            stream: false,
        },
        TableDefinition {
            name: tables.transactions,
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
            ttl_attribute: Some(TTL_ATTRIBUTE.into()),
            indexes: vec![
                IndexDefinition {
                    name: DUE_INDEX.into(),
                    partition_key: "due_shard".into(),
                    sort_key: "due_key".into(),
                },
                IndexDefinition {
                    name: HOLDER_INDEX.into(),
                    partition_key: "holder".into(),
                    sort_key: "pk".into(),
                },
            ],
            stream: true,
        },
    ]
}

fn rejected(action: &str, message: impl Into<String>) -> PortError {
    PortError::Rejected {
        service: SERVICE.into(),
        action: action.into(),
        message: message.into(),
    }
}

/// Creates the tables that do not exist (on-demand capacity), waits until they are
/// active and turns their TTL on. Idempotent: an existing table is left as it is.
pub async fn ensure_tables(
    config: &AwsConfig,
    tables: &[TableDefinition],
) -> Result<(), PortError> {
    let client = config.dynamodb();
    for table in tables {
        create_table(&client, table).await?;
        wait_active(&client, &table.name).await?;
        if let Some(attribute) = &table.ttl_attribute {
            enable_ttl(&client, &table.name, attribute).await?;
        }
    }
    Ok(())
}

fn key(attribute: &str, kind: KeyType) -> Result<KeySchemaElement, PortError> {
    KeySchemaElement::builder()
        .attribute_name(attribute)
        .key_type(kind)
        .build()
        .map_err(|e| rejected("CreateTable", e.to_string()))
}

async fn create_table(client: &Client, table: &TableDefinition) -> Result<(), PortError> {
    let mut attributes: Vec<&str> = vec![&table.partition_key];
    attributes.extend(table.sort_key.as_deref());
    for index in &table.indexes {
        attributes.push(&index.partition_key);
        attributes.push(&index.sort_key);
    }
    attributes.sort_unstable();
    attributes.dedup();
    let definitions = attributes
        .iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| rejected("CreateTable", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut schema = vec![key(&table.partition_key, KeyType::Hash)?];
    if let Some(sort) = &table.sort_key {
        schema.push(key(sort, KeyType::Range)?);
    }
    let indexes = table
        .indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .key_schema(key(&index.partition_key, KeyType::Hash)?)
                .key_schema(key(&index.sort_key, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| rejected("CreateTable", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let result = client
        .create_table()
        .table_name(&table.name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(schema))
        .set_global_secondary_indexes(Some(indexes).filter(|i| !i.is_empty()))
        .set_stream_specification(
            table
                .stream
                .then(|| {
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::NewImage)
                        .build()
                })
                .transpose()
                .map_err(|e| rejected("CreateTable", e.to_string()))?,
        )
        .send()
        .await;
    match result {
        Ok(_) => {
            tracing::info!(table = %table.name, "table created");
            Ok(())
        }
        Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
        Err(e) => Err(port_error(SERVICE, "CreateTable", &table.name, e)),
    }
}

/// Waits for `name` to be `ACTIVE` with the SDK's own waiter (`TableExists`: it also
/// waits through the moments a new table is not visible yet), for a minute at most.
async fn wait_active(client: &Client, name: &str) -> Result<(), PortError> {
    let waited = client
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(60))
        .await;
    match waited {
        Ok(_) => Ok(()),
        Err(WaiterError::OperationFailed(failed)) => Err(port_error(
            SERVICE,
            "DescribeTable",
            name,
            failed.into_error(),
        )),
        Err(WaiterError::ExceededMaxWait(_)) => Err(PortError::Unavailable {
            service: SERVICE.into(),
            message: format!("`{name}` is not active after a minute"),
        }),
        Err(other) => Err(PortError::Unavailable {
            service: SERVICE.into(),
            message: format!("waiting for `{name}` to be active: {other}"),
        }),
    }
}

async fn enable_ttl(client: &Client, name: &str, attribute: &str) -> Result<(), PortError> {
    let output = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| port_error(SERVICE, "DescribeTimeToLive", name, e))?;
    let status = output
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let specification = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|e| rejected("UpdateTimeToLive", e.to_string()))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| port_error(SERVICE, "UpdateTimeToLive", name, e))?;
    Ok(())
}

/// History and bookkeeping in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: StoreTables,
    page_size: Option<i32>,
}

type Item = HashMap<String, AttributeValue>;

/// Instants as fixed-width text: text order is time order.
pub fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Reads back what [`instant`] wrote.
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.6fZ")
        .ok()
        .map(|naive| naive.and_utc())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn epoch(at: DateTime<Utc>, after: Duration) -> AttributeValue {
    let seconds = i64::try_from(after.as_secs()).unwrap_or(i64::MAX);
    AttributeValue::N(at.timestamp().saturating_add(seconds).to_string())
}

fn text<'a>(item: &'a Item, name: &str, key: &str) -> Result<&'a str, PortError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| PortError::Inconsistent {
            id: key.to_owned(),
            why: format!("stored item without the text attribute `{name}`"),
        })
}

/// FNV-1a: a hash that stays the same across Rust versions and runs.
fn digest(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn shard_of(account: &AccountId) -> String {
    let number: u64 = account.as_str().parse().unwrap_or(0);
    format!("shard#{}", number % ACTIVITY_SHARDS)
}

fn kind_name(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::Onboarding => "onboarding",
        DeadlineKind::Maintenance => "maintenance",
        DeadlineKind::Lease => "lease",
        DeadlineKind::Cooldown => "cooldown",
        DeadlineKind::Notice => "notice",
        DeadlineKind::Snooze => "snooze",
    }
}

fn kind_of(name: &str) -> Option<DeadlineKind> {
    match name {
        "onboarding" => Some(DeadlineKind::Onboarding),
        "maintenance" => Some(DeadlineKind::Maintenance),
        "lease" => Some(DeadlineKind::Lease),
        "cooldown" => Some(DeadlineKind::Cooldown),
        "notice" => Some(DeadlineKind::Notice),
        "snooze" => Some(DeadlineKind::Snooze),
        _ => None,
    }
}

impl DynamoStore {
    /// Every item of partition `pk` of the transactions table, page by page.
    async fn partition(&self, pk: &str) -> Result<Vec<Item>, PortError> {
        let table = &self.tables.transactions;
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(table)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s(pk))
                .set_limit(self.page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "Query", table, e))?;
            items.extend(output.items().iter().cloned());
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// On the tables named by `tables`.
    pub fn new(client: Client, tables: StoreTables) -> Self {
        Self {
            client,
            tables,
            page_size: None,
        }
    }

    /// On the tables of the settings.
    pub fn from_settings(client: Client, settings: &Settings) -> Self {
        Self::new(client, StoreTables::from_settings(settings))
    }

    /// Reads pages of at most `size` items (tests: exercise pagination).
    pub fn with_page_size(mut self, size: i32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// The tables.
    pub fn tables(&self) -> &StoreTables {
        &self.tables
    }

    /// Reads a query of the activities table to its end or to `limit` items, newest
    /// first. `index` is `None`
    /// for the table itself.
    async fn query_activities(
        &self,
        index: Option<&str>,
        partition: (&str, String),
        since: Option<(&str, String)>,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, PortError> {
        let table = &self.tables.activities;
        let mut condition = "#p = :p".to_owned();
        let mut names = HashMap::from([("#p".to_owned(), partition.0.to_owned())]);
        let mut values = HashMap::from([(":p".to_owned(), s(partition.1))]);
        if let Some((attribute, from)) = since {
            condition.push_str(" AND #s >= :s");
            names.insert("#s".into(), attribute.into());
            values.insert(":s".into(), s(from));
        }
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let remaining = limit.map(|l| l.saturating_sub(items.len()));
            let page = match (remaining, self.page_size) {
                (Some(r), Some(p)) => Some(i32::try_from(r).unwrap_or(i32::MAX).min(p)),
                (Some(r), None) => Some(i32::try_from(r).unwrap_or(i32::MAX)),
                (None, p) => p,
            };
            let output = self
                .client
                .query()
                .table_name(table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(&condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .set_limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "Query", table, e))?;
            items.extend(output.items().iter().cloned());
            if limit.is_some_and(|l| items.len() >= l) {
                items.truncate(limit.unwrap_or(usize::MAX));
                return Ok(items);
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }
}

fn activity_of(item: &Item) -> Result<Activity, PortError> {
    let key = format!(
        "{}/{}",
        text(item, "pk", "?").unwrap_or("?"),
        text(item, "sk", "?").unwrap_or("?")
    );
    let body = text(item, "body", &key)?;
    serde_json::from_str(body).map_err(|e| PortError::Inconsistent {
        id: key,
        why: format!("stored activity unreadable: {e}"),
    })
}

impl Claims for DynamoStore {
    async fn claim(
        &self,
        key: &str,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        replay: bool,
    ) -> Result<Claim, PortError> {
        let table = &self.tables.transactions;
        // absent, expired and not yet removed by TTL (which lags), or a lease that
        // ran out (its holder died); with `replay`, a failure too
        let mut condition =
            "attribute_not_exists(pk) OR #e < :now OR (#s = :leased AND #u < :now)".to_owned();
        let mut request = self
            .update_claim(key)
            .update_expression(
                "SET #at = :at, #s = :leased, #u = :until, #e = :expires REMOVE #why",
            )
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#u", "until")
            .expression_attribute_names("#e", TTL_ATTRIBUTE)
            .expression_attribute_names("#why", "why")
            .expression_attribute_values(":at", s(instant(at)))
            .expression_attribute_values(":leased", s(LEASED))
            .expression_attribute_values(":until", epoch(until, Duration::ZERO))
            .expression_attribute_values(":expires", epoch(at, CLAIM_TTL))
            .expression_attribute_values(":now", epoch(at, Duration::ZERO))
            .return_values(ReturnValue::AllOld);
        if replay {
            condition.push_str(" OR #s = :failed");
            request = request.expression_attribute_values(":failed", s(FAILED));
        }
        match request.condition_expression(condition).send().await {
            Ok(output) => {
                let old = output.attributes();
                let status = old
                    .and_then(|o| o.get("status"))
                    .and_then(|v| v.as_s().ok());
                Ok(match status.map(String::as_str) {
                    Some(LEASED) => Claim::Resumed {
                        note: old
                            .and_then(|o| o.get("note"))
                            .and_then(|v| v.as_s().ok())
                            .cloned(),
                    },
                    _ => Claim::New,
                })
            }
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                self.held(key, at).await
            }
            Err(e) => Err(port_error(SERVICE, "UpdateItem", table, e)),
        }
    }

    async fn note(&self, key: &str, note: &str) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        self.update_claim(key)
            .update_expression("SET #n = :note")
            .expression_attribute_names("#n", "note")
            .expression_attribute_values(":note", s(note))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "UpdateItem", table, e))?;
        Ok(())
    }

    async fn complete(
        &self,
        key: &str,
        at: DateTime<Utc>,
        failed: Option<&str>,
    ) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        let mut request = self
            .update_claim(key)
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#u", "until")
            .expression_attribute_names("#e", TTL_ATTRIBUTE)
            .expression_attribute_names("#n", "note")
            .expression_attribute_values(":at", s(instant(at)))
            .expression_attribute_values(":expires", epoch(at, CLAIM_TTL));
        request = match failed {
            Some(why) => request
                .update_expression(
                    "SET #at = :at, #s = :status, #e = :expires, #why = :why REMOVE #u, #n",
                )
                .expression_attribute_names("#why", "why")
                .expression_attribute_values(":status", s(FAILED))
                .expression_attribute_values(":why", s(why)),
            None => request
                .update_expression("SET #at = :at, #s = :status, #e = :expires REMOVE #u, #n")
                .expression_attribute_values(":status", s(DONE)),
        };
        request
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "UpdateItem", table, e))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        self.client
            .delete_item()
            .table_name(table)
            .key("pk", s(format!("claim#{key}")))
            .key("sk", s("claim"))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "DeleteItem", table, e))?;
        Ok(())
    }
}

impl DynamoStore {
    /// An `UpdateItem` of the claim of `key`.
    fn update_claim(
        &self,
        key: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.tables.transactions)
            .key("pk", s(format!("claim#{key}")))
            .key("sk", s("claim"))
    }

    /// What holds a claim that could not be taken: done, failed, or a lease.
    async fn held(&self, key: &str, at: DateTime<Utc>) -> Result<Claim, PortError> {
        let table = &self.tables.transactions;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", s(format!("claim#{key}")))
            .key("sk", s("claim"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "GetItem", table, e))?;
        let Some(item) = output.item() else {
            // released between the two calls: the next delivery takes it
            return Ok(Claim::Busy { until: at });
        };
        let attribute = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        Ok(match attribute("status").map(String::as_str) {
            Some(LEASED) => Claim::Busy {
                until: item
                    .get("until")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok())
                    .and_then(|n| DateTime::from_timestamp(n, 0))
                    .unwrap_or(at),
            },
            Some(FAILED) => Claim::Failed {
                why: attribute("why").cloned().unwrap_or_default(),
            },
            // done, or a claim written before claims were leases
            _ => Claim::Seen,
        })
    }
}

/// The item of an activity record (its key names its instant, label and a digest of
/// its body: writing it twice writes one item).
fn activity_item(activity: &Activity, ttl: Duration) -> Result<Item, PortError> {
    let body = serde_json::to_string(activity)
        .map_err(|e| rejected("PutItem", format!("activity not serializable: {e}")))?;
    let at = instant(activity.at);
    let account = activity.account.as_str();
    let label = activity.label.as_str();
    let hash = digest(&[&body]);
    Ok(HashMap::from([
        ("pk".to_owned(), s(format!("account#{account}"))),
        ("sk".to_owned(), s(format!("{at}#{label}#{hash}"))),
        ("shard".to_owned(), s(shard_of(&activity.account))),
        ("rk".to_owned(), s(format!("{at}#{account}#{label}#{hash}"))),
        ("account".to_owned(), s(account)),
        ("label".to_owned(), s(label)),
        (
            "at".to_owned(),
            s(activity.at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ),
        ("body".to_owned(), s(body)),
        (TTL_ATTRIBUTE.to_owned(), epoch(activity.at, ttl)),
    ]))
}

/// The key of an account's deadline of one kind.
fn deadline_key(account: &AccountId, kind: DeadlineKind) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("deadline#{account}"))),
        ("sk".to_owned(), s(kind_name(kind))),
    ])
}

/// The item of a deadline.
fn deadline_item(deadline: &Deadline) -> Item {
    let account = deadline.account.as_str();
    let kind = kind_name(deadline.kind);
    let due = instant(deadline.due);
    let mut item = deadline_key(&deadline.account, deadline.kind);
    item.extend([
        ("account".to_owned(), s(account)),
        ("kind".to_owned(), s(kind)),
        (
            "due".to_owned(),
            s(deadline.due.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        ),
        ("due_shard".to_owned(), s("due")),
        ("due_key".to_owned(), s(format!("{due}#{account}#{kind}"))),
    ]);
    item
}

impl Journal for DynamoStore {
    async fn record(&self, activity: &Activity) -> Result<(), PortError> {
        let table = &self.tables.activities;
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(activity_item(activity, self.tables.activities_ttl)?))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "PutItem", table, e))?;
        Ok(())
    }

    async fn activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, PortError> {
        let since = query.since.map(instant);
        let items = match &query.account {
            Some(account) => {
                self.query_activities(
                    None,
                    ("pk", format!("account#{account}")),
                    since.map(|from| ("sk", from)),
                    query.limit,
                )
                .await?
            }
            None => {
                let mut items = Vec::new();
                for shard in 0..ACTIVITY_SHARDS {
                    items.extend(
                        self.query_activities(
                            Some(RECENT_INDEX),
                            ("shard", format!("shard#{shard}")),
                            since.clone().map(|from| ("rk", from)),
                            query.limit,
                        )
                        .await?,
                    );
                }
                items
            }
        };
        let mut activities = items
            .iter()
            .map(activity_of)
            .collect::<Result<Vec<_>, _>>()?;
        activities.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.account.cmp(&b.account)));
        if let Some(limit) = query.limit {
            activities.truncate(limit);
        }
        Ok(activities)
    }
}

impl Deadlines for DynamoStore {
    async fn set_deadline(&self, deadline: &Deadline) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(deadline_item(deadline)))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "PutItem", table, e))?;
        Ok(())
    }

    async fn clear_deadline(
        &self,
        account: &AccountId,
        kind: DeadlineKind,
    ) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        self.client
            .delete_item()
            .table_name(table)
            .set_key(Some(deadline_key(account, kind)))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "DeleteItem", table, e))?;
        Ok(())
    }

    async fn due_deadlines(&self, now: DateTime<Utc>) -> Result<Vec<Deadline>, PortError> {
        let table = &self.tables.transactions;
        let mut deadlines = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(table)
                .index_name(DUE_INDEX)
                .key_condition_expression("due_shard = :d AND due_key <= :now")
                .expression_attribute_values(":d", s("due"))
                // `~` sorts after every character of an account id and a kind
                .expression_attribute_values(":now", s(format!("{}#~", instant(now))))
                .set_limit(self.page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "Query", table, e))?;
            for item in output.items() {
                deadlines.push(deadline_of(item)?);
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(deadlines),
            }
        }
    }
}

impl IncidentRecords for DynamoStore {
    async fn incident(
        &self,
        account: &AccountId,
        label: Label,
    ) -> Result<Option<String>, PortError> {
        self.incident_of(account, label).await
    }

    async fn set_incident(
        &self,
        account: &AccountId,
        label: Label,
        arn: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        self.client
            .put_item()
            .table_name(table)
            .item("pk", s(format!("incident#{account}")))
            .item("sk", s(label.as_str()))
            .item("arn", s(arn))
            .item("at", s(instant(at)))
            .item(TTL_ATTRIBUTE, epoch(at, INCIDENT_TTL))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "PutItem", table, e))?;
        Ok(())
    }
}

impl Logins for DynamoStore {
    async fn stamp_login(&self, account: &AccountId, at: DateTime<Utc>) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        let result = self
            .client
            .put_item()
            .table_name(table)
            .item("pk", s("login"))
            .item("sk", s(account.as_str()))
            .item("at", s(instant(at)))
            .condition_expression("attribute_not_exists(pk) OR #at < :at")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":at", s(instant(at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // a later sign-in is stamped already
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(port_error(SERVICE, "PutItem", table, e)),
        }
    }

    async fn last_logins(&self) -> Result<BTreeMap<AccountId, DateTime<Utc>>, PortError> {
        let mut logins = BTreeMap::new();
        for item in self.partition("login").await? {
            let key = text(&item, "sk", "login")?;
            let bad = || PortError::Inconsistent {
                id: format!("login/{key}"),
                why: "stored sign-in unreadable".into(),
            };
            let account = AccountId::parse(key).ok_or_else(bad)?;
            let at = parse_instant(text(&item, "at", key)?).ok_or_else(bad)?;
            logins.insert(account, at);
        }
        Ok(logins)
    }
}

impl KnownAccounts for DynamoStore {
    async fn remember_accounts(&self, accounts: &[KnownAccount]) -> Result<(), PortError> {
        for chunk in accounts.chunks(WRITE_BATCH) {
            // one write per account in a batch (DynamoDB refuses a key twice)
            let mut unique: BTreeMap<&AccountId, &KnownAccount> = BTreeMap::new();
            for known in chunk {
                unique.insert(&known.account, known);
            }
            let requests = unique
                .values()
                .map(|known| {
                    let put = PutRequest::builder()
                        .set_item(Some(known_item(known)))
                        .build()
                        .map_err(|e| rejected("BatchWriteItem", e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, PortError>>()?;
            self.write_batch(requests).await?;
        }
        Ok(())
    }

    async fn known_accounts(&self, accounts: &[AccountId]) -> Result<Vec<KnownAccount>, PortError> {
        let mut ids: Vec<&AccountId> = accounts.iter().collect();
        ids.sort();
        ids.dedup();
        let mut known = Vec::new();
        for chunk in ids.chunks(READ_BATCH) {
            let keys = chunk.iter().map(|id| known_key(id)).collect();
            for item in self.read_batch(keys).await? {
                known.push(known_of(&item)?);
            }
        }
        known.sort_by(|a, b| a.account.cmp(&b.account));
        Ok(known)
    }

    async fn known_with_cache(
        &self,
        account: &AccountId,
    ) -> Result<(Option<KnownAccount>, AccountCache), PortError> {
        let keys = vec![known_key(account), writers::writer_key(account)];
        let mut known = None;
        let mut cache = AccountCache::default();
        for item in self.read_batch(keys).await? {
            match item.get("pk").and_then(|v| v.as_s().ok()) {
                Some(pk) if pk.starts_with("known#") => known = Some(known_of(&item)?),
                Some(_) => cache = writers::cache_of(&item),
                None => {}
            }
        }
        Ok((known, cache))
    }
}

/// Items of one `BatchWriteItem` (DynamoDB's limit).
const WRITE_BATCH: usize = 25;
/// Keys of one `BatchGetItem` (DynamoDB's limit).
const READ_BATCH: usize = 100;

fn known_key(account: &AccountId) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("known#{account}"))),
        ("sk".to_owned(), s("account")),
    ])
}

fn known_item(known: &KnownAccount) -> Item {
    let mut item = known_key(&known.account);
    item.insert("account".into(), s(known.account.as_str()));
    item.insert("name".into(), s(&known.name));
    item.insert("ou_path".into(), s(&known.ou_path));
    item.insert("seen".into(), s(instant(known.seen)));
    if let Some(center) = &known.cost_center {
        item.insert("cost_center".into(), s(center));
    }
    item
}

fn known_of(item: &Item) -> Result<KnownAccount, PortError> {
    let key = text(item, "pk", "known")?;
    let bad = |why: &str| PortError::Inconsistent {
        id: key.to_owned(),
        why: why.to_owned(),
    };
    Ok(KnownAccount {
        account: AccountId::parse(text(item, "account", key)?)
            .ok_or_else(|| bad("stored account of an invalid id"))?,
        name: text(item, "name", key)?.to_owned(),
        cost_center: item.get("cost_center").and_then(|v| v.as_s().ok()).cloned(),
        ou_path: text(item, "ou_path", key).unwrap_or_default().to_owned(),
        seen: parse_instant(text(item, "seen", key)?)
            .ok_or_else(|| bad("stored account with an unreadable time"))?,
    })
}

impl DynamoStore {
    async fn write_batch(&self, requests: Vec<WriteRequest>) -> Result<(), PortError> {
        let (client, table) = (&self.client, &self.tables.transactions);
        let written = UNPROCESSED_ITEMS
            .resend("BatchWriteItem", requests, |requests| async move {
                let output = client
                    .batch_write_item()
                    .request_items(table, requests)
                    .send()
                    .await
                    .map_err(|e| port_error(SERVICE, "BatchWriteItem", table, e))?;
                let left = output
                    .unprocessed_items()
                    .and_then(|items| items.get(table.as_str()));
                Ok(match left {
                    Some(left) if !left.is_empty() => ControlFlow::Continue(left.clone()),
                    _ => ControlFlow::Break(()),
                })
            })
            .await;
        written.map_err(|unfinished| match unfinished {
            Unfinished::Failed(error) => error,
            Unfinished::Left(requests) => PortError::Unavailable {
                service: SERVICE.into(),
                message: format!(
                    "{} items of `{table}` left unprocessed after {} tries",
                    requests.len(),
                    UNPROCESSED_ITEMS.attempts
                ),
            },
        })
    }

    async fn read_batch(&self, keys: Vec<Item>) -> Result<Vec<Item>, PortError> {
        let (client, table) = (&self.client, &self.tables.transactions);
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .build()
            .map_err(|e| rejected("BatchGetItem", e.to_string()))?;
        let read = UNPROCESSED_ITEMS
            .resend(
                "BatchGetItem",
                (keys, Vec::new()),
                |(keys, mut items): (KeysAndAttributes, Vec<Item>)| async move {
                    let output = client
                        .batch_get_item()
                        .request_items(table, keys)
                        .send()
                        .await
                        .map_err(|e| port_error(SERVICE, "BatchGetItem", table, e))?;
                    if let Some(found) = output.responses().and_then(|r| r.get(table.as_str())) {
                        items.extend(found.iter().cloned());
                    }
                    let left = output
                        .unprocessed_keys()
                        .and_then(|left| left.get(table.as_str()));
                    Ok(match left {
                        Some(left) if !left.keys().is_empty() => {
                            ControlFlow::Continue((left.clone(), items))
                        }
                        _ => ControlFlow::Break(items),
                    })
                },
            )
            .await;
        read.map_err(|unfinished| match unfinished {
            Unfinished::Failed(error) => error,
            Unfinished::Left(_) => PortError::Unavailable {
                service: SERVICE.into(),
                message: format!(
                    "keys of `{table}` left unprocessed after {} tries",
                    UNPROCESSED_ITEMS.attempts
                ),
            },
        })
    }
}

/// How long the incident of an account and label is remembered: a repeat after that
/// opens a new one even if the old one is still open.
const INCIDENT_TTL: Duration = Duration::from_secs(90 * 86_400);

impl DynamoStore {
    async fn incident_of(
        &self,
        account: &AccountId,
        label: Label,
    ) -> Result<Option<String>, PortError> {
        let table = &self.tables.transactions;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", s(format!("incident#{account}")))
            .key("sk", s(label.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "GetItem", table, e))?;
        match output.item() {
            Some(item) => Ok(Some(text(item, "arn", "incident")?.to_owned())),
            None => Ok(None),
        }
    }
}

fn deadline_of(item: &Item) -> Result<Deadline, PortError> {
    let key = text(item, "due_key", "deadline")?;
    let bad = |why: &str| PortError::Inconsistent {
        id: key.to_owned(),
        why: why.to_owned(),
    };
    let account = AccountId::parse(text(item, "account", key)?)
        .ok_or_else(|| bad("stored deadline of an invalid account id"))?;
    let kind = kind_of(text(item, "kind", key)?)
        .ok_or_else(|| bad("stored deadline of an unknown kind"))?;
    let due = DateTime::parse_from_rfc3339(text(item, "due", key)?)
        .map_err(|_| bad("stored deadline with an unreadable due time"))?
        .with_timezone(&Utc);
    Ok(Deadline { account, kind, due })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_sort_as_text() {
        let a = DateTime::from_timestamp(1_790_000_000, 5_000).unwrap_or_default();
        let b = DateTime::from_timestamp(1_790_000_000, 600_000).unwrap_or_default();
        let c = DateTime::from_timestamp(1_790_000_001, 0).unwrap_or_default();
        assert!(instant(a) < instant(b) && instant(b) < instant(c));
        assert_eq!(instant(c).len(), "2026-09-21T13:46:41.000000Z".len());
    }

    #[test]
    fn digests_are_stable() {
        assert_eq!(digest(&["a"]), digest(&["a"]));
        assert_ne!(digest(&["a", "b"]), digest(&["ab"]));
        assert_eq!(digest(&[]), "cbf29ce484222325");
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [
            DeadlineKind::Onboarding,
            DeadlineKind::Maintenance,
            DeadlineKind::Lease,
            DeadlineKind::Cooldown,
            DeadlineKind::Notice,
            DeadlineKind::Snooze,
        ] {
            assert_eq!(kind_of(kind_name(kind)), Some(kind));
        }
    }
}
