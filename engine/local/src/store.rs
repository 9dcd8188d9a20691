//! The store as the local runtime sees it: the inner platform's, whose turn ends
//! are watched so that the outbox they write reaches the `relay` function, as the
//! transactions table's stream and its event source mapping do on AWS.
//!
//! Every call goes to the inner store; a [`WriterLeases::free_writer`] that wrote
//! new outbox items hands them on as stream records. Records gather in the relay delivery at
//! the back of the queue while it has room ([`RELAY_BATCH`]): the event source
//! mapping's batching window, so that the events of a batch of commands, or of the
//! build ends that came together, go on the bus ten a call.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use spa_core::events::{AccountId, Label, outbox_key, stream_record};
use spa_core::rules::{Function, RELAY_BATCH};
use spa_usecases::ports::{
    AccessRequests, AccountCache, Activity, ActivityQuery, Claim, Claims, Deadline, DeadlineKind,
    Deadlines, Ended, IncidentRecords, Journal, KnownAccount, KnownAccounts, Logins, Platform,
    PortError, SpendLedgers, Turn, Writer, WriterLeases,
};

use super::{Delivery, Pending, Site};

/// The inner platform's store, whose outbox goes to the relay.
pub struct LocalStore<P> {
    pub(crate) inner: Arc<P>,
    pub(crate) pending: Pending,
    pub(crate) site: Site,
}

impl<P: Platform> LocalStore<P> {
    /// The stream's ARN in the records (the relay does not read it).
    fn stream_arn(&self) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{}-transactions/stream/local",
            self.site.region, self.site.account, self.site.environment
        )
    }

    /// Hands the new items a turn wrote in the outbox to the relay, as stream
    /// records: an item written again (a resumed turn) makes no record, as DynamoDB
    /// writes none for a write that changes nothing.
    fn stream(&self, ended: &Ended<'_>) {
        let arn = self.stream_arn();
        let mut state = self.pending.lock();
        for event in &ended.writes.events {
            if !state.streamed.insert(outbox_key(event)) {
                continue;
            }
            state.sequence += 1;
            let sequence = format!("{:021}", state.sequence);
            let record = stream_record(event, &sequence, &self.site.region, &arn);
            relay(&mut state.pending, record);
        }
    }
}

/// Adds a stream record to the relay delivery at the back of the queue while it
/// holds fewer than [`RELAY_BATCH`], to a new one otherwise.
fn relay(pending: &mut VecDeque<Delivery>, record: Value) {
    let at_most = usize::try_from(RELAY_BATCH).unwrap_or(usize::MAX);
    let open = pending
        .back_mut()
        .filter(|d| d.function == Function::Relay)
        .and_then(|d| d.event.get_mut("Records").and_then(Value::as_array_mut))
        .filter(|records| records.len() < at_most);
    let count = match open {
        Some(records) => {
            records.push(record);
            records.len()
        }
        None => {
            pending.push_back(Delivery {
                function: Function::Relay,
                event: json!({ "Records": [record] }),
                summary: String::new(),
            });
            1
        }
    };
    if let Some(delivery) = pending.back_mut() {
        delivery.summary = format!("{count} event(s) of the outbox");
    }
}

impl<P: Platform> WriterLeases for LocalStore<P> {
    fn take_writer(
        &self,
        account: &AccountId,
        turn: Turn<'_>,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Writer, PortError>> + Send {
        self.inner.store().take_writer(account, turn, at, until)
    }
    fn note_turn(
        &self,
        account: &AccountId,
        cause: &str,
        note: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().note_turn(account, cause, note)
    }
    async fn free_writer(
        &self,
        account: &AccountId,
        cache: &AccountCache,
        ended: Ended<'_>,
    ) -> Result<(), PortError> {
        self.inner
            .store()
            .free_writer(account, cache, ended)
            .await?;
        self.stream(&ended);
        Ok(())
    }
    fn seed(
        &self,
        account: &AccountId,
        cache: &AccountCache,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        self.inner.store().seed(account, cache)
    }
    fn cached(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<AccountCache, PortError>> + Send {
        self.inner.store().cached(account)
    }
    fn held_by(
        &self,
        holder: &str,
    ) -> impl Future<Output = Result<BTreeMap<AccountId, AccountCache>, PortError>> + Send {
        self.inner.store().held_by(holder)
    }
    fn cached_many(
        &self,
        accounts: &[AccountId],
    ) -> impl Future<Output = Result<BTreeMap<AccountId, AccountCache>, PortError>> + Send {
        self.inner.store().cached_many(accounts)
    }
}

impl<P: Platform> Claims for LocalStore<P> {
    fn claim(
        &self,
        key: &str,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        replay: bool,
    ) -> impl Future<Output = Result<Claim, PortError>> + Send {
        self.inner.store().claim(key, at, until, replay)
    }
    fn note(&self, key: &str, note: &str) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().note(key, note)
    }
    fn complete(
        &self,
        key: &str,
        at: DateTime<Utc>,
        failed: Option<&str>,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().complete(key, at, failed)
    }
    fn release(&self, key: &str) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().release(key)
    }
}

impl<P: Platform> Journal for LocalStore<P> {
    fn record(&self, activity: &Activity) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().record(activity)
    }
    fn activities(
        &self,
        query: &ActivityQuery,
    ) -> impl Future<Output = Result<Vec<Activity>, PortError>> + Send {
        self.inner.store().activities(query)
    }
}

impl<P: Platform> Deadlines for LocalStore<P> {
    fn set_deadline(
        &self,
        deadline: &Deadline,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().set_deadline(deadline)
    }
    fn clear_deadline(
        &self,
        account: &AccountId,
        kind: DeadlineKind,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().clear_deadline(account, kind)
    }
    fn due_deadlines(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Deadline>, PortError>> + Send {
        self.inner.store().due_deadlines(now)
    }
}

impl<P: Platform> IncidentRecords for LocalStore<P> {
    fn incident(
        &self,
        account: &AccountId,
        label: Label,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send {
        self.inner.store().incident(account, label)
    }
    fn set_incident(
        &self,
        account: &AccountId,
        label: Label,
        arn: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().set_incident(account, label, arn, at)
    }
}

impl<P: Platform> Logins for LocalStore<P> {
    fn stamp_login(
        &self,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().stamp_login(account, at)
    }
    fn last_logins(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<AccountId, DateTime<Utc>>, PortError>> + Send {
        self.inner.store().last_logins()
    }
}

impl<P: Platform> KnownAccounts for LocalStore<P> {
    fn remember_accounts(
        &self,
        accounts: &[KnownAccount],
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().remember_accounts(accounts)
    }
    fn known_accounts(
        &self,
        accounts: &[AccountId],
    ) -> impl Future<Output = Result<Vec<KnownAccount>, PortError>> + Send {
        self.inner.store().known_accounts(accounts)
    }
    fn known_with_cache(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<(Option<KnownAccount>, AccountCache), PortError>> + Send {
        self.inner.store().known_with_cache(account)
    }
}

impl<P: Platform> SpendLedgers for LocalStore<P> {
    fn ledger(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<spa_core::spend::Entry>, PortError>> + Send {
        self.inner.store().ledger(account)
    }
    fn write_ledger(
        &self,
        account: &AccountId,
        entries: &[spa_core::spend::Entry],
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().write_ledger(account, entries)
    }
    fn actual(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<spa_core::spend::Actual>, PortError>> + Send {
        self.inner.store().actual(account)
    }
    fn set_actual(
        &self,
        account: &AccountId,
        actual: &spa_core::spend::Actual,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().set_actual(account, actual)
    }
    fn price_sheet(
        &self,
        list: &str,
        region: &str,
    ) -> impl Future<Output = Result<Option<spa_core::spend::PriceSheet>, PortError>> + Send {
        self.inner.store().price_sheet(list, region)
    }
    fn set_price_sheet(
        &self,
        sheet: &spa_core::spend::PriceSheet,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.inner.store().set_price_sheet(sheet)
    }
}

impl<P: Platform> AccessRequests for LocalStore<P> {
    fn put_request(
        &self,
        request: &spa_core::requests::AccessRequest,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        self.inner.store().put_request(request)
    }
    fn request(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<spa_core::requests::AccessRequest>, PortError>> + Send
    {
        self.inner.store().request(id)
    }
    fn update_request(
        &self,
        request: &spa_core::requests::AccessRequest,
        expected: &spa_core::requests::AccessRequest,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        self.inner.store().update_request(request, expected)
    }
    fn due_requests(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send {
        self.inner.store().due_requests(now)
    }
}
