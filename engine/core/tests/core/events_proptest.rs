//! Whatever bytes a function is handed, decoding returns, never panics; where it decodes,
//! the fuzz checks hold (`spa_core::fuzz::events`: the id is stable, errors name
//! their path and show no address in clear).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Map, Value};
use spa_core::events::{decode, decode_value, redact_emails};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/events/");

const NAMES: [&str; 11] = [
    "codebuild-build-state-change.json",
    "organizations-close-account.json",
    "organizations-create-account-result.json",
    "organizations-move-account.json",
    "organizations-tag-resource.json",
    "organizations-untag-resource.json",
    "scheduler-maintenance-window.json",
    "signin-console-login-assumed-role.json",
    "signin-console-login-iam-user.json",
    "signin-console-login-root.json",
    "sqs-budget-alert.json",
];

fn fixtures() -> Vec<Vec<u8>> {
    NAMES
        .iter()
        .map(|name| std::fs::read(format!("{FIXTURES}{name}")).unwrap())
        .collect()
}

/// Arbitrary JSON, with strings that look like the ones events hold.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9:._@ -]{0,24}".prop_map(Value::String),
        prop_oneof![
            Just("aws:sqs"),
            Just("aws.organizations"),
            Just("aws.codebuild"),
            Just("aws.signin"),
            Just("spa"),
            Just("AWS API Call via CloudTrail"),
            Just("AWS Service Event via CloudTrail"),
            Just("AWS Console Sign In via CloudTrail"),
            Just("CodeBuild Build State Change"),
            Just("222222222222"),
            Just("2026-11-21T09:00:00Z"),
            Just("sweeper"),
            Just("Notification"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z-]{1,12}",
        prop::sample::select(vec![
            "source",
            "detail-type",
            "detail",
            "id",
            "account",
            "time",
            "region",
            "Records",
            "eventSource",
            "messageId",
            "body",
            "job",
            "scheduled_time",
            "eventName",
            "userIdentity",
            "requestParameters",
            "errorCode",
        ])
        .prop_map(str::to_string),
    ]
}

/// Every JSON pointer in a value.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(prop::sample::Index, Value),
    Remove(prop::sample::Index),
    Truncate(prop::sample::Index),
    FlipByte(prop::sample::Index, u8),
    /// Mutates the JSON embedded in the SQS body, where there is one.
    Body(prop::sample::Index, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), any_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        (any::<prop::sample::Index>(), any_json()).prop_map(|(i, v)| Mutation::Body(i, v)),
    ]
}

fn mutate_value(value: &mut Value, index: &prop::sample::Index, new: Option<Value>) {
    let mut all = Vec::new();
    pointers(value, String::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let pointer = index.get(&all).clone();
    match new {
        Some(new) => {
            if let Some(slot) = value.pointer_mut(&pointer) {
                *slot = new;
            }
        }
        None => {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", ""));
            match value.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = key.parse::<usize>()
                        && i < items.len()
                    {
                        items.remove(i);
                    }
                }
                _ => {}
            }
        }
    }
}

fn apply(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for m in mutations {
        match m {
            Mutation::Truncate(i) => {
                let len = i.index(bytes.len() + 1);
                bytes.truncate(len);
            }
            Mutation::FlipByte(i, b) => {
                if !bytes.is_empty() {
                    let at = i.index(bytes.len());
                    bytes[at] ^= b;
                }
            }
            Mutation::Replace(..) | Mutation::Remove(..) | Mutation::Body(..) => {
                // JSON-level mutations apply while the bytes still parse
                let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
                    continue;
                };
                match m {
                    Mutation::Replace(i, v) => mutate_value(&mut value, i, Some(v.clone())),
                    Mutation::Remove(i) => mutate_value(&mut value, i, None),
                    Mutation::Body(i, v) => {
                        if let Some(Value::String(body)) = value.pointer_mut("/Records/0/body")
                            && let Ok(mut inner) = serde_json::from_str::<Value>(body)
                        {
                            mutate_value(&mut inner, i, Some(v.clone()));
                            *body = inner.to_string();
                        }
                    }
                    _ => {}
                }
                bytes = serde_json::to_vec(&value).unwrap();
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        spa_core::fuzz::events(&bytes);
    }

    #[test]
    fn random_json_never_panics(value in any_json()) {
        let _ = decode_value(&value);
        spa_core::fuzz::events(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn random_envelopes_never_panic(
        source in prop::sample::select(vec!["aws.organizations", "aws.codebuild", "aws.signin", "spa"]),
        detail_type in prop::sample::select(vec![
            "AWS API Call via CloudTrail",
            "AWS Service Event via CloudTrail",
            "AWS Console Sign In via CloudTrail",
            "CodeBuild Build State Change",
            "AccountVended",
        ]),
        detail in any_json(),
    ) {
        let event = serde_json::json!({
            "id": "x", "source": source, "detail-type": detail_type,
            "account": "222222222222", "time": "2026-11-21T09:00:00Z",
            "region": "us-east-1", "detail": detail,
        });
        let _ = decode_value(&event);
        spa_core::fuzz::events(&serde_json::to_vec(&event).unwrap());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..NAMES.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let fixtures = fixtures();
        let bytes = apply(&fixtures[which], &mutations);
        spa_core::fuzz::events(&bytes);
        if let Err(err) = decode(&bytes) {
            // every error renders, and never with a holder's address in clear
            let text = err.to_string();
            prop_assert!(!text.contains("alice@example.com"), "{}", text);
        }
    }

    #[test]
    fn redaction_is_idempotent(text in "[a-z@. ]{0,40}") {
        let once = redact_emails(&text);
        prop_assert_eq!(redact_emails(&once), once.clone());
    }
}
