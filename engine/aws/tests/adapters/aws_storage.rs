//! The DynamoDB store, SSM parameters and S3 objects, against the emulator (moto
//! server).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use spa_aws::config::AwsConfig;
use spa_aws::dynamodb::{DynamoStore, ensure_tables, table_definitions};
use spa_aws::metrics::ApiCalls;
use spa_core::events::{AccountId, DomainEvent, Label, outbox_key};
use spa_core::lifecycle::State;
use spa_core::settings::{MemorySources, Settings};
use spa_usecases::ports::{
    AccountCache, Activity, ActivityQuery, Claim, Claims, Deadline, DeadlineKind, Deadlines, Ended,
    IncidentRecords, Journal, KnownAccount, KnownAccounts, Logins, PortError, SpendLedgers, Turn,
    TurnEnd, TurnWrites, Writer, WriterLeases,
};

const SETTINGS: &str = r#"
environment_identifier: SpaTest
automation:
  account_id: "123456789012"
  region: us-east-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
metering:
  activities_ttl: 30d
"#;

fn settings() -> Settings {
    spa_core::settings::load("settings.yaml", SETTINGS, &MemorySources::new())
        .expect("settings")
        .settings
}

async fn config(scenario: &spa_testkit::Scenario<'_>) -> AwsConfig {
    AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new())
}

async fn store(config: &AwsConfig) -> DynamoStore {
    let settings = settings();
    let tables = table_definitions(&settings);
    ensure_tables(config, &tables).await.expect("tables");
    DynamoStore::from_settings(config.dynamodb(), &settings)
}

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("instant") + Duration::minutes(minutes)
}

fn account(n: u64) -> AccountId {
    AccountId::parse(&format!("{:012}", 200_000_000_000u64 + n)).expect("id")
}

fn activity(n: u64, minutes: i64, label: Label) -> Activity {
    Activity {
        at: at(minutes),
        account: account(n),
        label,
        from: Some(State::Vended),
        to: Some(State::Prepared),
        detail: format!("activity {n} at {minutes}"),
        cause: Some(format!("event-{n}-{minutes}")),
    }
}

#[tokio::test]
async fn tables_are_named_after_the_environment_and_made_once() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let tables = table_definitions(&settings());
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["SpaTest-Activities", "SpaTest-Transactions"]);
    ensure_tables(&config, &tables).await.expect("created");
    ensure_tables(&config, &tables).await.expect("idempotent");
    let ttl = config
        .dynamodb()
        .describe_time_to_live()
        .table_name("SpaTest-Activities")
        .send()
        .await
        .expect("ttl");
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some("expires")
    );
    // the outbox's events reach the relay through the transactions table's stream
    let described = config
        .dynamodb()
        .describe_table()
        .table_name("SpaTest-Transactions")
        .send()
        .await
        .expect("described");
    let stream = described
        .table()
        .and_then(|t| t.stream_specification())
        .expect("a stream");
    assert!(stream.stream_enabled());
    assert_eq!(
        stream.stream_view_type().map(|v| v.as_str()),
        Some("NEW_IMAGE")
    );
}

/// The domain event `label` of account `n`, keyed by `cause`.
fn event(n: u64, cause: &str, label: Label) -> DomainEvent {
    DomainEvent::new(label, "SpaTest", account(n), at(1))
        .with_transition(Some(State::Assigned), Some(State::Expired))
        .keyed(cause)
}

/// The outbox item of `event` as the table holds it: its event, and when it expires.
async fn outbox_item(config: &AwsConfig, event: &DomainEvent) -> Option<(String, String)> {
    let item = config
        .dynamodb()
        .get_item()
        .table_name("SpaTest-Transactions")
        .key("pk", AttributeValue::S(outbox_key(event)))
        .key("sk", AttributeValue::S("event".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("read")
        .item
        .unwrap_or_default();
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s) | AttributeValue::N(s)) => Some(s.clone()),
        _ => None,
    };
    Some((text("event")?, text("expires")?))
}

/// A turn that claims nothing (putting the cache in doubt).
fn bare(cause: &str) -> Turn<'_> {
    Turn {
        cause,
        claims: false,
        replay: false,
    }
}

/// The turn of a transition: its cause claimed with the lease.
fn claiming(cause: &str) -> Turn<'_> {
    Turn {
        cause,
        claims: true,
        replay: false,
    }
}

/// Nothing written with the end of a turn.
static NOTHING: TurnWrites = TurnWrites {
    activities: Vec::new(),
    deadlines: BTreeMap::new(),
    events: Vec::new(),
};

fn ended<'a>(cause: &'a str, claims: bool, end: &'a TurnEnd, minutes: i64) -> Ended<'a> {
    Ended {
        cause,
        claims,
        end,
        expired: &[],
        at: at(minutes),
        writes: &NOTHING,
    }
}

fn held(resumed: bool, cache: AccountCache) -> Writer {
    Writer::Held {
        resumed,
        same_cause: false,
        note: None,
        cache,
        expired: Vec::new(),
    }
}

#[tokio::test]
async fn the_writer_lease_carries_what_the_last_writer_knew() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    let one = account(1);
    let released = TurnEnd::Released;
    // never written: nothing known
    assert_eq!(
        store.take_writer(&one, bare("e"), at(0), at(1)).await,
        Ok(held(false, AccountCache::default()))
    );
    assert_eq!(
        store.take_writer(&one, bare("e"), at(0), at(1)).await,
        Ok(Writer::Busy { until: at(1) })
    );
    let known = AccountCache {
        tags: Some([("spa-state".to_owned(), "assigned".to_owned())].into()),
        ancestors: Some(vec!["ou-ab12-sandbox1".into(), "r-root".into()]),
        footprint: Some("digest".into()),
        holder: Some("0123456789abcdef".into()),
    };
    store
        .free_writer(&one, &known, ended("e", false, &released, 0))
        .await
        .expect("freed");
    assert_eq!(store.cached(&one).await, Ok(known.clone()));
    // the next writer gets it with the lease, at once
    assert_eq!(
        store.take_writer(&one, bare("e"), at(0), at(1)).await,
        Ok(held(false, known.clone()))
    );
    // it dies holding the lease: the one after it is told so
    assert_eq!(
        store.take_writer(&one, bare("e"), at(2), at(3)).await,
        Ok(held(true, known.clone()))
    );
    // parts in doubt are removed, the others kept
    let doubted = AccountCache {
        tags: None,
        ..known.clone()
    };
    store
        .free_writer(&one, &doubted, ended("e", false, &released, 2))
        .await
        .expect("freed");
    assert_eq!(store.cached(&one).await, Ok(doubted.clone()));
    // another account's lease is its own
    assert!(matches!(
        store
            .take_writer(&account(2), bare("e"), at(2), at(3))
            .await,
        Ok(Writer::Held { resumed: false, .. })
    ));
    assert_eq!(store.cached(&account(3)).await, Ok(AccountCache::default()));
    // the inventory's read, in batches of 100: an account never written is left out
    let many: Vec<AccountId> = (1..=250).map(account).collect();
    let found = store.cached_many(&many).await.expect("read");
    assert_eq!(found.keys().collect::<Vec<_>>(), [&account(1), &account(2)]);
    assert_eq!(found[&account(1)], doubted);
    // a holder's accounts, by the index
    let held = store.held_by("0123456789abcdef").await.expect("query");
    assert_eq!(held.keys().collect::<Vec<_>>(), [&account(1)]);
    assert!(
        store
            .held_by("fedcba9876543210")
            .await
            .expect("query")
            .is_empty()
    );
    // the inventory's seed: only where no writer ever wrote
    assert_eq!(store.seed(&account(1), &known).await, Ok(false));
    assert_eq!(store.cached(&account(1)).await, Ok(doubted));
    assert_eq!(store.seed(&account(9), &known).await, Ok(true));
    assert_eq!(store.cached(&account(9)).await, Ok(known.clone()));
    assert!(matches!(
        store.take_writer(&account(9), bare("e"), at(2), at(3)).await,
        Ok(Writer::Held { resumed: false, cache, .. }) if cache == known
    ));
}

#[tokio::test]
async fn a_turn_claims_its_cause_with_the_lease_and_ends_it_in_one_write() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    let one = account(1);
    let known = AccountCache {
        tags: Some([("spa-state".to_owned(), "assigned".to_owned())].into()),
        ..AccountCache::default()
    };
    // taken and done: the cause is seen by a second delivery, even with the lease free
    assert_eq!(
        store.take_writer(&one, claiming("c1"), at(0), at(1)).await,
        Ok(held(false, AccountCache::default()))
    );
    let done = TurnEnd::Done;
    store
        .free_writer(&one, &known, ended("c1", true, &done, 0))
        .await
        .expect("freed");
    assert_eq!(
        store.take_writer(&one, claiming("c1"), at(0), at(1)).await,
        Ok(Writer::Seen)
    );
    // seen even while another cause holds the lease
    assert!(matches!(
        store.take_writer(&one, claiming("c2"), at(0), at(1)).await,
        Ok(Writer::Held { .. })
    ));
    assert_eq!(
        store.take_writer(&one, claiming("c1"), at(0), at(1)).await,
        Ok(Writer::Seen)
    );
    // c2 notes, then dies; a turn that claims nothing takes the lease over and
    // frees it: the note of c2 is left for c2
    store.note_turn(&one, "c2", "before").await.expect("noted");
    assert!(matches!(
        store.take_writer(&one, bare("forget"), at(2), at(3)).await,
        Ok(Writer::Held {
            resumed: true,
            same_cause: false,
            note: None,
            ..
        })
    ));
    let released = TurnEnd::Released;
    store
        .free_writer(
            &one,
            &AccountCache::default(),
            ended("forget", false, &released, 2),
        )
        .await
        .expect("freed");
    assert_eq!(
        store.take_writer(&one, claiming("c2"), at(2), at(3)).await,
        Ok(Writer::Held {
            resumed: false,
            same_cause: true,
            note: Some("before".into()),
            cache: AccountCache::default(),
            expired: Vec::new(),
        })
    );
    // failed for good: answered at once, taken again by a replay
    let failed = TurnEnd::Failed("no such holder".into());
    store
        .free_writer(&one, &known, ended("c2", true, &failed, 2))
        .await
        .expect("freed");
    assert_eq!(
        store.take_writer(&one, claiming("c2"), at(2), at(3)).await,
        Ok(Writer::Failed {
            why: "no such holder".into()
        })
    );
    let replay = Turn {
        replay: true,
        ..claiming("c2")
    };
    assert!(matches!(
        store.take_writer(&one, replay, at(2), at(3)).await,
        Ok(Writer::Held {
            same_cause: false,
            note: None,
            ..
        })
    ));
    store
        .free_writer(&one, &known, ended("c2", true, &done, 2))
        .await
        .expect("freed");
    // a cause that died without a note: the next delivery of it is told, and gets
    // the cache it decided on
    assert!(matches!(
        store.take_writer(&one, claiming("c3"), at(4), at(5)).await,
        Ok(Writer::Held {
            same_cause: false,
            ..
        })
    ));
    assert_eq!(
        store.take_writer(&one, claiming("c3"), at(6), at(7)).await,
        Ok(Writer::Held {
            resumed: true,
            same_cause: true,
            note: None,
            cache: known.clone(),
            expired: Vec::new(),
        })
    );
    // a week later the causes ended are given to the free to forget, and forgotten
    let later = 7 * 24 * 60 + 10;
    store
        .free_writer(&one, &known, ended("c3", true, &done, 6))
        .await
        .expect("freed");
    let Ok(Writer::Held { expired, .. }) = store
        .take_writer(&one, claiming("c4"), at(later), at(later + 1))
        .await
    else {
        panic!("not held");
    };
    let mut forgotten = expired.clone();
    forgotten.sort();
    assert_eq!(forgotten, ["c1", "c2", "c3"]);
    store
        .free_writer(
            &one,
            &known,
            Ended {
                expired: &expired,
                ..ended("c4", true, &done, later)
            },
        )
        .await
        .expect("freed");
    assert!(matches!(
        store.take_writer(&one, claiming("c1"), at(later), at(later + 1)).await,
        Ok(Writer::Held { expired, .. }) if expired.is_empty()
    ));
    assert_eq!(
        store
            .take_writer(&one, claiming("c4"), at(later + 2), at(later + 3))
            .await,
        Ok(Writer::Seen)
    );
}

#[tokio::test]
async fn a_turn_writes_its_records_and_deadlines_with_its_end_in_one_call() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    let one = account(1);
    store
        .set_deadline(&Deadline {
            account: one.clone(),
            kind: DeadlineKind::Lease,
            due: at(60),
        })
        .await
        .expect("set");
    assert!(matches!(
        store.take_writer(&one, claiming("c1"), at(0), at(1)).await,
        Ok(Writer::Held { .. })
    ));
    let expired = activity(1, 1, Label::AccountExpired);
    let writes = TurnWrites {
        // the same record twice is one item
        activities: vec![
            expired.clone(),
            activity(1, 1, Label::BuildStarted),
            expired.clone(),
        ],
        deadlines: BTreeMap::from([
            (DeadlineKind::Maintenance, Some(at(30))),
            (DeadlineKind::Lease, None),
        ]),
        // an event twice under one key is one item: a transaction takes one
        // operation per item
        events: vec![
            event(1, "c1", Label::AccountExpired),
            event(1, "c1", Label::BuildStarted),
            event(1, "c1", Label::AccountExpired),
        ],
    };
    let done = TurnEnd::Done;
    config.calls().reset();
    store
        .free_writer(
            &one,
            &AccountCache::default(),
            Ended {
                writes: &writes,
                ..ended("c1", true, &done, 1)
            },
        )
        .await
        .expect("freed");
    assert_eq!(
        config.calls().snapshot().into_iter().collect::<Vec<_>>(),
        [("DynamoDB:TransactWriteItems".to_owned(), 1)]
    );
    let history = store
        .activities(&ActivityQuery {
            account: Some(one.clone()),
            since: None,
            limit: None,
        })
        .await
        .expect("read");
    let labels: Vec<Label> = history.iter().map(|a| a.label).collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(labels.contains(&Label::AccountExpired) && labels.contains(&Label::BuildStarted));
    let due = store.due_deadlines(at(100)).await.expect("read");
    assert_eq!(
        due.iter().map(|d| (d.kind, d.due)).collect::<Vec<_>>(),
        [(DeadlineKind::Maintenance, at(30))]
    );
    // the events in the outbox, in the same transaction: the detail that goes on the
    // bus, and an expiry that is the event's own (written again, the same item)
    for written in &writes.events {
        let (detail, expires) = outbox_item(&config, written).await.expect("in the outbox");
        assert_eq!(detail, written.to_entry().detail);
        assert_eq!(
            expires,
            (written.at + chrono::TimeDelta::days(2))
                .timestamp()
                .to_string()
        );
    }
    assert_eq!(
        store.take_writer(&one, claiming("c1"), at(2), at(3)).await,
        Ok(Writer::Seen)
    );
    // more than one transaction takes: the first records on their own, then the rest
    // with the end
    assert!(matches!(
        store.take_writer(&one, claiming("c2"), at(2), at(3)).await,
        Ok(Writer::Held { .. })
    ));
    let many = TurnWrites {
        activities: (0..120)
            .map(|n| activity(1, 10 + n, Label::BudgetAlert))
            .collect(),
        deadlines: BTreeMap::new(),
        events: Vec::new(),
    };
    config.calls().reset();
    store
        .free_writer(
            &one,
            &AccountCache::default(),
            Ended {
                writes: &many,
                ..ended("c2", true, &done, 2)
            },
        )
        .await
        .expect("freed");
    assert_eq!(config.calls().count("DynamoDB:TransactWriteItems"), 1);
    assert_eq!(config.calls().count("DynamoDB:PutItem"), 21);
    let history = store
        .activities(&ActivityQuery {
            account: Some(one.clone()),
            since: None,
            limit: None,
        })
        .await
        .expect("read");
    assert_eq!(history.len(), 122);
}

#[tokio::test]
async fn a_turn_whose_end_is_refused_writes_nothing_of_it() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    let one = account(1);
    assert!(matches!(
        store.take_writer(&one, claiming("c1"), at(0), at(10)).await,
        Ok(Writer::Held { .. })
    ));
    // a record over DynamoDB's 400 KB: the transaction is refused whole
    let mut huge = activity(1, 1, Label::Drift);
    huge.detail = "x".repeat(500_000);
    let writes = TurnWrites {
        activities: vec![activity(1, 1, Label::AccountExpired), huge],
        deadlines: BTreeMap::from([(DeadlineKind::Maintenance, Some(at(30)))]),
        events: vec![event(1, "c1", Label::AccountExpired)],
    };
    let done = TurnEnd::Done;
    let refused = store
        .free_writer(
            &one,
            &AccountCache::default(),
            Ended {
                writes: &writes,
                ..ended("c1", true, &done, 1)
            },
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    // the lease still held, the cause not done, no record, no deadline
    assert_eq!(
        store.take_writer(&one, claiming("c1"), at(2), at(3)).await,
        Ok(Writer::Busy { until: at(10) })
    );
    let history = store
        .activities(&ActivityQuery {
            account: Some(one.clone()),
            since: None,
            limit: None,
        })
        .await
        .expect("read");
    assert!(history.is_empty(), "{history:?}");
    assert!(store.due_deadlines(at(100)).await.expect("read").is_empty());
    // and no event in the outbox: nothing reaches the bus of a turn that did not end
    assert_eq!(outbox_item(&config, &writes.events[0]).await, None);
}

#[tokio::test]
async fn a_claim_is_a_lease_done_failed_or_resumed_with_its_note() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    // leased until minute 1
    assert_eq!(
        store.claim("event-1", at(0), at(1), false).await,
        Ok(Claim::New)
    );
    store
        .note("event-1", r#"{"state":"vended"}"#)
        .await
        .expect("noted");
    // a second delivery within the lease is told to come back
    assert_eq!(
        store.claim("event-1", at(0), at(1), false).await,
        Ok(Claim::Busy { until: at(1) })
    );
    // the first one died: after its lease, the next resumes from its note
    assert_eq!(
        store.claim("event-1", at(2), at(3), false).await,
        Ok(Claim::Resumed {
            note: Some(r#"{"state":"vended"}"#.to_owned())
        })
    );
    store.complete("event-1", at(2), None).await.expect("done");
    assert_eq!(
        store.claim("event-1", at(9), at(10), false).await,
        Ok(Claim::Seen)
    );

    // failed for good: said again at once, taken again by an operator's replay
    assert_eq!(
        store.claim("event-2", at(0), at(1), false).await,
        Ok(Claim::New)
    );
    store
        .complete("event-2", at(0), Some("no such holder"))
        .await
        .expect("failed");
    assert_eq!(
        store.claim("event-2", at(5), at(6), false).await,
        Ok(Claim::Failed {
            why: "no such holder".to_owned()
        })
    );
    assert_eq!(
        store.claim("event-2", at(5), at(6), true).await,
        Ok(Claim::New)
    );

    // released: taken again at once
    assert_eq!(
        store.claim("event-3", at(0), at(1), false).await,
        Ok(Claim::New)
    );
    store.release("event-3").await.expect("released");
    assert_eq!(
        store.claim("event-3", at(0), at(1), false).await,
        Ok(Claim::New)
    );
    // releasing what is not claimed is fine
    store.release("never").await.expect("nothing to release");
    // a claim past its TTL that DynamoDB has not removed yet is new again
    assert_eq!(
        store
            .claim("event-1", at(8 * 24 * 60), at(8 * 24 * 60 + 1), false)
            .await,
        Ok(Claim::New)
    );
}

#[tokio::test]
async fn activities_read_back_newest_first_by_account_or_all() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await.with_page_size(3);
    // 6 accounts (every shard), 5 activities each, interleaved in time
    for n in 0..6u64 {
        for k in 0..5i64 {
            store
                .record(&activity(n, k * 10 + n as i64, Label::AccountPrepared))
                .await
                .expect("recorded");
        }
    }
    // recording the same activity again (a retried event) writes nothing new
    store
        .record(&activity(0, 0, Label::AccountPrepared))
        .await
        .expect("again");

    let mine = store
        .activities(&ActivityQuery {
            account: Some(account(2)),
            ..ActivityQuery::default()
        })
        .await
        .expect("of one account");
    assert_eq!(mine.len(), 5);
    assert!(mine.windows(2).all(|w| w[0].at > w[1].at), "newest first");
    assert_eq!(mine[0], activity(2, 42, Label::AccountPrepared));

    let recent = store
        .activities(&ActivityQuery {
            limit: Some(7),
            ..ActivityQuery::default()
        })
        .await
        .expect("recent");
    let minutes: Vec<i64> = recent
        .iter()
        .map(|a| (a.at - at(0)).num_minutes())
        .collect();
    assert_eq!(minutes, vec![45, 44, 43, 42, 41, 40, 35]);

    let all = store
        .activities(&ActivityQuery::default())
        .await
        .expect("all");
    assert_eq!(all.len(), 30);

    let since = store
        .activities(&ActivityQuery {
            since: Some(at(40)),
            ..ActivityQuery::default()
        })
        .await
        .expect("since");
    assert_eq!(since.len(), 6);
    let since_mine = store
        .activities(&ActivityQuery {
            account: Some(account(1)),
            since: Some(at(21)),
            limit: Some(1),
        })
        .await
        .expect("since, one account, limited");
    assert_eq!(since_mine, vec![activity(1, 41, Label::AccountPrepared)]);
}

#[tokio::test]
async fn activities_expire_after_the_settings_ttl() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    store
        .record(&activity(1, 0, Label::ConsoleLogin))
        .await
        .expect("recorded");
    let output = config
        .dynamodb()
        .query()
        .table_name("SpaTest-Activities")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("account#{}", account(1))),
        )
        .send()
        .await
        .expect("query");
    let expires = output.items()[0]
        .get("expires")
        .and_then(|v| v.as_n().ok())
        .expect("TTL attribute");
    assert_eq!(
        expires,
        &(at(0) + Duration::days(30)).timestamp().to_string()
    );
}

#[tokio::test]
async fn due_deadlines_are_found_across_pages() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await.with_page_size(4);
    // 13 due (minutes 0..=12), 5 not yet due
    for n in 0..18u64 {
        let kind = if n % 2 == 0 {
            DeadlineKind::Onboarding
        } else {
            DeadlineKind::Maintenance
        };
        store
            .set_deadline(&Deadline {
                account: account(n),
                kind,
                due: at(n as i64),
            })
            .await
            .expect("set");
    }
    // moved: account 0's onboarding later, then back; account 1's cleared
    store
        .set_deadline(&Deadline {
            account: account(0),
            kind: DeadlineKind::Onboarding,
            due: at(100),
        })
        .await
        .expect("moved");
    store
        .clear_deadline(&account(1), DeadlineKind::Maintenance)
        .await
        .expect("cleared");
    store
        .clear_deadline(&account(1), DeadlineKind::Lease)
        .await
        .expect("clearing an absent deadline");
    // one account, two kinds
    store
        .set_deadline(&Deadline {
            account: account(2),
            kind: DeadlineKind::Lease,
            due: at(3),
        })
        .await
        .expect("lease");

    config.calls().reset();
    let due = store.due_deadlines(at(12)).await.expect("due");
    // 2..=12 (11), minus account 1 (cleared, it was 1 anyway: not in 2..=12), plus lease of 2
    let mut seen: Vec<(String, DeadlineKind)> = due
        .iter()
        .map(|d| (d.account.to_string(), d.kind))
        .collect();
    seen.sort();
    assert_eq!(due.len(), 12, "{seen:?}");
    assert!(due.iter().all(|d| d.due <= at(12)));
    assert!(due.windows(2).all(|w| w[0].due <= w[1].due), "oldest first");
    assert!(due.contains(&Deadline {
        account: account(2),
        kind: DeadlineKind::Lease,
        due: at(3)
    }));
    assert!(
        !due.iter()
            .any(|d| d.account == account(0) || d.account == account(1))
    );
    assert!(
        config.calls().count("DynamoDB:Query") >= 3,
        "12 due deadlines in pages of 4"
    );
    assert_eq!(store.due_deadlines(at(-1)).await.expect("none"), vec![]);
}

#[tokio::test]
async fn a_missing_table_is_not_found() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = DynamoStore::from_settings(config.dynamodb(), &settings());
    let result = store.claim("event-1", at(0), at(1), false).await;
    assert!(
        matches!(&result, Err(PortError::NotFound { id, .. }) if id == "SpaTest-Transactions"),
        "{result:?}"
    );
    // what the user reads names the service, the kind and the name
    assert_eq!(
        result.expect_err("no table").to_string(),
        "DynamoDB table `SpaTest-Transactions` does not exist"
    );
}

#[tokio::test]
async fn a_missing_role_or_bucket_is_named_with_its_service() {
    use spa_aws::s3::S3Objects;
    use spa_usecases::ports::Objects;
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let objects = S3Objects::new(config.s3(), "spa-missing-bucket");
    assert_eq!(
        objects
            .get("reports/x.csv")
            .await
            .expect_err("no bucket")
            .to_string(),
        "S3 bucket `spa-missing-bucket` does not exist"
    );
    let role = config
        .iam()
        .get_role()
        .role_name("SpaTest-Missing")
        .send()
        .await
        .expect_err("no role");
    assert_eq!(
        spa_aws::error::port_error("iam", "GetRole", "SpaTest-Missing", role).to_string(),
        "IAM role `SpaTest-Missing` does not exist"
    );
}

/// A credentials chain that finds nothing, as on a laptop without a profile.
#[derive(Debug)]
struct NoCredentials;

impl aws_credential_types::provider::ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded(
                "no provider in the chain found credentials",
            ),
        ))
    }
}

#[tokio::test]
async fn no_credentials_is_one_denial_that_says_so() {
    use spa_aws::ssm::SsmParameters;
    use spa_usecases::ports::Parameters;
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await.with_credentials(
        aws_credential_types::provider::SharedCredentialsProvider::new(NoCredentials),
    );
    let error = SsmParameters::new(config.ssm())
        .get("/spa/settings")
        .await
        .expect_err("no credentials");
    assert_eq!(
        spa_aws::error::no_credentials(&error),
        Some("no AWS credentials were found"),
        "{error:?}"
    );
    // one line, no SDK Debug dump
    assert_eq!(
        error.to_string(),
        "ssm denied `GetParameter`: no AWS credentials were found"
    );
}

#[tokio::test]
async fn parameters_round_trip_and_secure_strings_are_decrypted() {
    use spa_aws::ssm::SsmParameters;
    use spa_usecases::ports::Parameters;
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let plain = SsmParameters::new(config.ssm());
    plain.put("/spa/settings", "first").await.expect("put");
    plain
        .put("/spa/settings", "second")
        .await
        .expect("overwritten");
    assert_eq!(plain.get("/spa/settings").await.expect("get"), "second");

    let secure = SsmParameters::new(config.ssm()).secure();
    secure
        .put("/spa/slack", "https://hooks.slack.com/services/T/B/x")
        .await
        .expect("secure put");
    assert_eq!(
        secure.get("/spa/slack").await.expect("decrypted"),
        "https://hooks.slack.com/services/T/B/x"
    );
    let stored = config
        .ssm()
        .get_parameter()
        .name("/spa/slack")
        .send()
        .await
        .expect("raw");
    assert_eq!(
        stored.parameter().and_then(|p| p.r#type()),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );

    let missing = plain.get("/spa/missing").await;
    assert_eq!(
        missing.expect_err("no parameter").to_string(),
        "SSM parameter `/spa/missing` does not exist"
    );
}

#[tokio::test]
async fn objects_round_trip_in_the_reports_bucket() {
    use spa_aws::s3::{S3Objects, ensure_bucket};
    use spa_usecases::ports::Objects;
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    ensure_bucket(&config, "spa-reports").await.expect("bucket");
    ensure_bucket(&config, "spa-reports")
        .await
        .expect("idempotent");
    let objects = S3Objects::new(config.s3(), "spa-reports");
    let key = "reports/costs/2026/2026-10-costs-summary.csv";
    objects
        .put(
            key,
            b"cost center,amount\ncc-1,12.50\n".to_vec(),
            "text/csv",
        )
        .await
        .expect("put");
    assert_eq!(
        objects.get(key).await.expect("get"),
        b"cost center,amount\ncc-1,12.50\n".to_vec()
    );
    let head = config
        .s3()
        .head_object()
        .bucket("spa-reports")
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("text/csv"));
    assert_eq!(
        objects.get("reports/none.csv").await,
        Err(PortError::not_found("S3 object", "reports/none.csv"))
    );
}

#[tokio::test]
async fn a_presigned_link_serves_the_object_until_it_expires() {
    use spa_aws::s3::{S3Objects, ensure_bucket};
    use spa_usecases::ports::Objects;
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    ensure_bucket(&config, "spa-reports").await.expect("bucket");
    let objects = S3Objects::new(config.s3(), "spa-reports");
    let key = "reports/exceptions/111111111111/2026/2026-11-111111111111-costs.xlsx";
    objects
        .put(key, b"workbook".to_vec(), "application/octet-stream")
        .await
        .expect("put");
    let url = objects
        .presigned_url(key, std::time::Duration::from_secs(3600))
        .await
        .expect("link");
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let body = reqwest::get(&url)
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    assert_eq!(body.as_ref(), b"workbook");
    // S3 refuses links valid longer than 7 days
    let refused = objects
        .presigned_url(key, std::time::Duration::from_secs(8 * 86_400))
        .await;
    assert!(
        matches!(refused, Err(PortError::Rejected { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn open_incidents_and_last_sign_ins_are_remembered() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await.with_page_size(2);
    let arn = "arn:aws:ssm-incidents::123456789012:incident-record/spa/1";
    assert_eq!(
        store.incident(&account(1), Label::BudgetAlert).await,
        Ok(None)
    );
    store
        .set_incident(&account(1), Label::BudgetAlert, arn, at(0))
        .await
        .expect("remembered");
    assert_eq!(
        store.incident(&account(1), Label::BudgetAlert).await,
        Ok(Some(arn.to_owned()))
    );
    assert_eq!(
        store
            .incident(&account(1), Label::ConsoleLoginWithRoot)
            .await,
        Ok(None),
        "one per account and label"
    );

    for n in 0..5u64 {
        store
            .stamp_login(&account(n), at(n as i64 * 10))
            .await
            .expect("stamped");
    }
    // a late, older sign-in does not move the stamp back; a newer one moves it
    store
        .stamp_login(&account(0), at(-60))
        .await
        .expect("older");
    store
        .stamp_login(&account(1), at(100))
        .await
        .expect("newer");
    let logins = store.last_logins().await.expect("every page");
    assert_eq!(logins.len(), 5);
    assert_eq!(logins[&account(0)], at(0));
    assert_eq!(logins[&account(1)], at(100));
    assert_eq!(logins[&account(4)], at(40));
}

fn known(n: u64, name: &str, cost_center: Option<&str>, minutes: i64) -> KnownAccount {
    KnownAccount {
        account: account(n),
        name: name.to_owned(),
        cost_center: cost_center.map(str::to_owned),
        ou_path: "Root/Sandboxes".to_owned(),
        seen: at(minutes),
    }
}

#[tokio::test]
async fn known_accounts_are_remembered_in_batches_and_read_back_by_id() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    // more than one write batch (25) and one read batch (100)
    let run: Vec<KnownAccount> = (0..130)
        .map(|n| known(n, &format!("account {n}"), Some("IT-001"), 0))
        .collect();
    store.remember_accounts(&run).await.expect("remembered");
    // the next run renames one, loses a cost center, and sees the same account twice
    store
        .remember_accounts(&[
            known(7, "renamed", None, 60),
            known(8, "first", None, 60),
            known(8, "second", Some("HR-002"), 60),
        ])
        .await
        .expect("overwritten");
    let mut ids: Vec<AccountId> = (0..130).rev().map(account).collect();
    ids.push(account(999)); // never remembered
    ids.push(account(3)); // asked twice
    let back = store.known_accounts(&ids).await.expect("read back");
    assert_eq!(back.len(), 130, "one per remembered account, none invented");
    assert_eq!(back[0], known(0, "account 0", Some("IT-001"), 0));
    assert_eq!(back[7], known(7, "renamed", None, 60));
    assert_eq!(back[8], known(8, "second", Some("HR-002"), 60));
    assert_eq!(back[129].name, "account 129");
    assert!(store.known_accounts(&[]).await.expect("nothing").is_empty());

    // what a notice reads of one account: the account remembered and the cache its
    // last writer left, in one call
    let cached = AccountCache {
        tags: Some([("account-state".to_owned(), "assigned".to_owned())].into()),
        ..AccountCache::default()
    };
    assert_eq!(store.seed(&account(7), &cached).await, Ok(true));
    config.calls().reset();
    assert_eq!(
        store.known_with_cache(&account(7)).await,
        Ok((Some(known(7, "renamed", None, 60)), cached))
    );
    assert_eq!(config.calls().total(), 1);
    assert_eq!(
        store.known_with_cache(&account(999)).await,
        Ok((None, AccountCache::default()))
    );

    let missing = DynamoStore::new(
        config.dynamodb(),
        spa_aws::dynamodb::StoreTables {
            activities: "Nope-Activities".into(),
            transactions: "Nope-Transactions".into(),
            activities_ttl: std::time::Duration::from_secs(60),
        },
    );
    let error = missing
        .remember_accounts(&run[..1])
        .await
        .expect_err("no table");
    assert!(error.to_string().contains("Nope-Transactions"), "{error}");
}

#[tokio::test]
async fn organizations_requests_keep_to_a_rate_shared_by_every_invocation() {
    use spa_aws::pace::Pace;
    use std::time::{Duration as Wait, Instant};
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let _tables = store(&config).await;
    let table = "SpaTest-Transactions";
    // two invocations, one rate of 20 requests a second between them
    let one = Pace::new(
        config.dynamodb(),
        table,
        "organizations",
        20,
        Wait::from_secs(5),
    );
    let two = Pace::new(
        config.dynamodb(),
        table,
        "organizations",
        20,
        Wait::from_secs(5),
    );
    let start = Instant::now();
    for _ in 0..10 {
        one.take().await.expect("a slot");
        two.take().await.expect("a slot");
    }
    // 20 slots: the last one 19 intervals of 50 ms after the first, at the earliest
    assert!(
        start.elapsed() >= Wait::from_millis(950),
        "{:?}",
        start.elapsed()
    );
    // a slot further than the invocation may wait is refused, as a transient failure
    let hasty = Pace::new(config.dynamodb(), table, "hasty", 1, Wait::ZERO);
    hasty.take().await.expect("the first slot is now");
    let refused = hasty
        .take()
        .await
        .expect_err("the next one is a second away");
    assert!(refused.is_transient(), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("`automation.organizations_rate`"),
        "{refused}"
    );
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn the_spend_ledger_keeps_the_newer_call_and_the_month_so_far() {
    use spa_core::spend::{Actual, Entry, Kind, Resource};
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    let one = account(1);
    let at = |h: u32| {
        DateTime::parse_from_rfc3339(&format!("2026-11-21T{h:02}:00:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    };
    let entry = |id: &str, changed: DateTime<Utc>, ended: Option<DateTime<Utc>>| Entry {
        resource: Resource {
            kind: Kind::Ec2Instance,
            id: id.into(),
            type_name: "p4d.24xlarge".into(),
            region: "us-east-1".into(),
            count: 1,
            since: at(10),
            until: None,
        },
        ended,
        changed,
    };
    assert!(store.ledger(&one).await.unwrap().is_empty());
    store
        .write_ledger(
            &one,
            &[entry("i-1", at(10), None), entry("i-2", at(10), None)],
        )
        .await
        .unwrap();
    // terminated at 12:00, then the late launch of 10:00 arrives again: it loses
    store
        .write_ledger(&one, &[entry("i-1", at(12), Some(at(12)))])
        .await
        .unwrap();
    store
        .write_ledger(&one, &[entry("i-1", at(10), None)])
        .await
        .unwrap();
    let mut ledger = store.ledger(&one).await.unwrap();
    ledger.sort_by(|a, b| a.resource.id.cmp(&b.resource.id));
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[0].ended, Some(at(12)), "{ledger:?}");
    assert_eq!(ledger[1], entry("i-2", at(10), None));
    assert!(store.ledger(&account(2)).await.unwrap().is_empty());

    assert_eq!(store.actual(&one).await.unwrap(), None);
    let actual = Actual {
        day: at(0).date_naive(),
        amount: spa_core::events::Amount::parse("612.5").unwrap(),
    };
    store.set_actual(&one, &actual).await.unwrap();
    assert_eq!(store.actual(&one).await.unwrap(), Some(actual));
    // the month so far lives beside the ledger, never in it
    assert_eq!(store.ledger(&one).await.unwrap().len(), 2);
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn a_request_is_written_once_and_answered_once() {
    use spa_core::requests::{AccessRequest, RequestStatus};
    use spa_usecases::ports::AccessRequests;
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let store = store(&config).await;
    let asked = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let request = AccessRequest {
        id: "r-1765015200-0123456789abcdef".into(),
        requester: "U0JANE".into(),
        email: "jane@example.com".into(),
        unit: "ou-ab12-sandbox1".into(),
        lease: Some(std::time::Duration::from_secs(7 * 86_400)),
        asked,
        expires: asked + chrono::TimeDelta::days(1),
        status: RequestStatus::Pending,
        answered_by: None,
        answered_at: None,
        account: None,
    };
    assert_eq!(store.request(&request.id).await.unwrap(), None);
    assert!(store.put_request(&request).await.unwrap());
    // a second write of the same request (a job delivered again) changes nothing
    let other = AccessRequest {
        requester: "U0MALLORY".into(),
        ..request.clone()
    };
    assert!(!store.put_request(&other).await.unwrap());
    assert_eq!(
        store.request(&request.id).await.unwrap(),
        Some(request.clone())
    );
    // two approvers answer from the same read: one answer is written
    let approved = request
        .answer("U0ONE", &["U0ONE".into(), "U0TWO".into()], true, asked)
        .unwrap();
    let denied = request
        .answer("U0TWO", &["U0ONE".into(), "U0TWO".into()], false, asked)
        .unwrap();
    assert!(store.update_request(&approved, &request).await.unwrap());
    assert!(!store.update_request(&denied, &request).await.unwrap());
    // the account picked goes in with a condition on the one read
    let picked = AccessRequest {
        account: spa_core::events::AccountId::parse("111111111111"),
        ..approved.clone()
    };
    assert!(store.update_request(&picked, &approved).await.unwrap());
    assert!(!store.update_request(&picked, &approved).await.unwrap());
    let stored = store.request(&request.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Approved);
    assert_eq!(stored.answered_by.as_deref(), Some("U0ONE"));
    assert_eq!(stored.account, picked.account);
    // the sweeper's index: a pending request is due once its expiry passed, an
    // answered one never
    let waiting = AccessRequest {
        id: "r-1765015300-00000000000000aa".into(),
        ..request.clone()
    };
    assert!(store.put_request(&waiting).await.unwrap());
    let later = asked + chrono::TimeDelta::days(2);
    assert!(store.due_requests(asked).await.unwrap().is_empty());
    assert_eq!(
        store.due_requests(later).await.unwrap(),
        vec![waiting.id.clone()]
    );
    let expired = waiting.expire(later).unwrap();
    assert!(store.update_request(&expired, &waiting).await.unwrap());
    assert!(store.due_requests(later).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_dry_runs_list_is_read_from_the_bucket_and_summarized_whatever_it_holds() {
    use spa_aws::s3::{ReportsBucket, S3Objects, ensure_bucket};
    use spa_core::events::AccountId;
    use spa_core::notify::PreviewSummary;
    use spa_core::notify::preview::list_key;
    use spa_usecases::ports::Objects;
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    ensure_bucket(&config, "spa-reports").await.expect("bucket");
    // the bucket as the engine holds it: its name goes to the dry run's build
    let bucket = ReportsBucket(Some(S3Objects::new(config.s3(), "spa-reports")));
    assert_eq!(bucket.bucket_name().as_deref(), Some("spa-reports"));
    assert_eq!(ReportsBucket(None).bucket_name(), None);
    let account = AccountId::parse("111111111111").expect("an id");
    let purge = chrono::DateTime::parse_from_rfc3339("2026-12-12T18:00:00Z")
        .expect("an instant")
        .to_utc();
    let key = list_key("reports/exceptions", &account, purge);
    // what `aws s3 cp` of the buildspec writes: aws-nuke's output, names the holder chose
    let list = "\
aws-nuke version v3.56.0
us-east-1 - EC2Instance - i-0abc - [Name: \"web\"] - would remove
eu-west-1 - S3Bucket - <img src=x onerror=alert(1)> - [] - would remove
us-east-1 - IAMRole - SpaDemo-CodeBuildRole - [] - filtered by config
";
    bucket
        .put(&key, list.as_bytes().to_vec(), "text/plain")
        .await
        .expect("put");
    let read = bucket.get(&key).await.expect("get");
    let summary = PreviewSummary::from_list(&read);
    assert_eq!(summary.total, 2);
    assert_eq!(
        summary.lines(),
        [
            "EC2Instance: 1 (i-0abc)",
            "S3Bucket: 1 (imgsrcxonerroralert1)"
        ]
    );
    // bytes that are not text, and a list past the budget, still summarize
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    bucket
        .put(&key, binary, "application/octet-stream")
        .await
        .expect("put");
    let summary = PreviewSummary::from_list(&bucket.get(&key).await.expect("get"));
    assert_eq!(summary.total, 0);
    let line = "us-east-1 - EC2Instance - i-1 - [] - would remove\n";
    let huge = line.repeat(spa_core::notify::preview::MAX_LIST_BYTES / line.len() + 100);
    bucket
        .put(&key, huge.into_bytes(), "text/plain")
        .await
        .expect("put");
    let summary = PreviewSummary::from_list(&bucket.get(&key).await.expect("get"));
    assert!(summary.truncated);
    // a list the dry run never wrote: the notice says the list could not be read
    let missing = bucket
        .get(&list_key(
            "reports/exceptions",
            &account,
            purge + chrono::TimeDelta::days(7),
        ))
        .await;
    assert!(
        matches!(missing, Err(PortError::NotFound { .. })),
        "{missing:?}"
    );
}
