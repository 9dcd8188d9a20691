//! DynamoDB's batch calls against mocked clients: moto always processes every item,
//! so `aws-smithy-mocks` answers with unprocessed items and keys, as DynamoDB does
//! when it throttles, and the store sends what was left again (spa's one retry
//! mechanism, `config::UNPROCESSED_ITEMS`). No credentials, no network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::DateTime;
use spa_aws::dynamodb::{DynamoStore, StoreTables};
use spa_core::events::AccountId;
use spa_usecases::ports::{KnownAccount, KnownAccounts};

const TABLE: &str = "SpaTest-Transactions";

fn tables() -> StoreTables {
    StoreTables {
        activities: "SpaTest-Activities".into(),
        transactions: TABLE.into(),
        activities_ttl: std::time::Duration::from_secs(86_400),
    }
}

fn known(n: u64) -> KnownAccount {
    KnownAccount {
        account: AccountId::parse(&format!("{n:012}")).unwrap(),
        name: format!("sandbox-{n}"),
        cost_center: None,
        ou_path: "Root/Sandboxes".into(),
        seen: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
    }
}

fn item(n: u64) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    HashMap::from([
        ("pk".to_owned(), s(&format!("known#{n:012}"))),
        ("sk".to_owned(), s("account")),
        ("account".to_owned(), s(&format!("{n:012}"))),
        ("name".to_owned(), s(&format!("sandbox-{n}"))),
        ("ou_path".to_owned(), s("Root/Sandboxes")),
        ("seen".to_owned(), s("2026-09-21T14:13:20.000000Z")),
    ])
}

#[tokio::test]
async fn unprocessed_items_are_written_again_until_none_is_left() {
    let throttled = mock!(Client::batch_write_item)
        .match_requests(|r| r.request_items().and_then(|i| i.get(TABLE)).map(Vec::len) == Some(3))
        .then_output(|| {
            // DynamoDB wrote one of the three and left two
            let left = vec![
                aws_sdk_dynamodb::types::WriteRequest::builder().build(),
                aws_sdk_dynamodb::types::WriteRequest::builder().build(),
            ];
            BatchWriteItemOutput::builder()
                .unprocessed_items(TABLE, left)
                .build()
        });
    let written = mock!(Client::batch_write_item)
        .match_requests(|r| r.request_items().and_then(|i| i.get(TABLE)).map(Vec::len) == Some(2))
        .then_output(|| BatchWriteItemOutput::builder().build());
    let client: Client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::Sequential,
        [&throttled, &written]
    );
    let store = DynamoStore::new(client, tables());

    store
        .remember_accounts(&[known(1), known(2), known(3)])
        .await
        .expect("written once the unprocessed items were sent again");
    assert_eq!(throttled.num_calls(), 1);
    assert_eq!(written.num_calls(), 1);
}

#[tokio::test]
async fn unprocessed_keys_are_read_again_and_the_items_gathered() {
    let first = mock!(Client::batch_get_item)
        .match_requests(|r| {
            r.request_items()
                .and_then(|i| i.get(TABLE))
                .map(|k| k.keys().len())
                == Some(2)
        })
        .then_output(|| {
            let left = KeysAndAttributes::builder()
                .keys(HashMap::from([(
                    "pk".to_owned(),
                    AttributeValue::S(format!("known#{:012}", 2)),
                )]))
                .build()
                .unwrap();
            BatchGetItemOutput::builder()
                .responses(TABLE, vec![item(1)])
                .unprocessed_keys(TABLE, left)
                .build()
        });
    let second = mock!(Client::batch_get_item)
        .match_requests(|r| {
            r.request_items()
                .and_then(|i| i.get(TABLE))
                .map(|k| k.keys().len())
                == Some(1)
        })
        .then_output(|| {
            BatchGetItemOutput::builder()
                .responses(TABLE, vec![item(2)])
                .build()
        });
    let client: Client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&first, &second]);
    let store = DynamoStore::new(client, tables());

    let found = store
        .known_accounts(&[known(1).account, known(2).account])
        .await
        .expect("read once the unprocessed keys were sent again");
    let names: Vec<&str> = found.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, vec!["sandbox-1", "sandbox-2"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}
