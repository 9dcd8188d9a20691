//! The fuzz targets' checks (`spa_core::fuzz`) in `cargo test`: on the committed seed
//! corpus (`fuzz/seeds/<target>/`), on every input a fuzzer once crashed on
//! (`engine/core/tests/fuzz_regressions/<target>/`), and on seeds mutated the way libFuzzer
//! mutates them (bit flips, inserted tokens, cut and repeated ranges), bounded so that
//! each target takes a few seconds. `make fuzz` runs the same checks coverage-guided.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use spa_core::fuzz;
use spa_core::settings::{MemorySources, load};

/// One fuzz target: its name (the folder of its seeds and regressions) and its checks.
struct Target {
    name: &'static str,
    check: fn(&[u8]),
    /// Tokens of its input language, inserted by the mutator.
    tokens: &'static [&'static str],
}

const YAML: &[&str] = &[
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "  ",
    "#",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "|\n",
    ">-\n",
    "~",
    "null",
    "true",
    "yes",
    "0x1F",
    ".inf",
    "1e999",
    "---\n",
    "...\n",
    "? ",
    "\t",
    "\\u0000",
    "accounts_csv: [accounts.csv]\n",
    "identifier: '123456789012'",
    "ou-ab12-cd34ef56",
    "7d",
    "cron(0 18 ? * SAT *)",
    "rate(1 day)",
    "ssm:/x",
    "https://hooks.slack.com/services/T/B/x",
];
const CSV: &[&str] = &[
    ",",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "\r",
    " ",
    "Account",
    "Holder",
    "Budget",
    "Cost center",
    "Tag: ",
    "Preparation: ",
    "Purge: ",
    "123456789012",
    "alice@example.com",
    "-1",
    "NaN",
    "inf",
    "1e308",
    "AKIAIOSFODNN7EXAMPLE",
    "\u{feff}",
];
const JSON: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "true",
    "-0",
    "1e999",
    "0.1",
    "\\\"",
    "\\u0000",
    "\\ud800",
    "\"Records\":",
    "\"body\":",
    "\"detail\":",
    "\"source\":",
    "\"job\":",
    "\"aws:sqs\"",
    "\"spa\"",
    "\"222222222222\"",
    "\"2026-11-21T09:00:00Z\"",
    "alice@example.com",
];

const FORM: &[&str] = &[
    "\n",
    "&",
    "=",
    "%",
    "%2F",
    "%ZZ",
    "+",
    "command=%2Fspa",
    "&text=",
    "status",
    "costs",
    "me",
    "help",
    "&user_id=",
    "&team_id=",
    "&response_url=",
    "https%3A%2F%2Fhooks.slack.com%2F",
    "v0=",
    "0",
    "f",
    "1795348800",
    "1795349100",
    "1795348499",
    "\u{fffd}",
];

const TARGETS: [Target; 5] = [
    Target {
        name: "settings",
        check: fuzz::settings,
        tokens: YAML,
    },
    Target {
        name: "csv_overlay",
        check: fuzz::csv_overlay,
        tokens: CSV,
    },
    Target {
        name: "events",
        check: fuzz::events,
        tokens: JSON,
    },
    Target {
        name: "sqs_body",
        check: fuzz::sqs_body,
        tokens: JSON,
    },
    Target {
        name: "slack_request",
        check: fuzz::slack_request,
        tokens: FORM,
    },
];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files of a folder, sorted; none when the folder does not exist.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .filter(|(name, _)| name != "README.md")
        .collect();
    files.sort();
    files
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    files(&repository().join("fuzz/seeds").join(target))
}

fn target(name: &str) -> &'static Target {
    TARGETS.iter().find(|t| t.name == name).unwrap()
}

#[test]
fn every_target_has_seeds_that_pass_its_checks() {
    for target in &TARGETS {
        let seeds = seeds(target.name);
        assert!(
            seeds.len() >= 3,
            "fuzz/seeds/{} holds {} seeds",
            target.name,
            seeds.len()
        );
        for (name, bytes) in seeds {
            let result = std::panic::catch_unwind(|| (target.check)(&bytes));
            assert!(
                result.is_ok(),
                "seed fuzz/seeds/{}/{name} breaks a check",
                target.name
            );
        }
    }
}

/// The seeds reach past the parsers: settings that load (so the reload check runs),
/// events that decode (so the id check runs).
#[test]
fn the_seeds_reach_the_checks_behind_the_parsers() {
    let overlay = MemorySources::new().with("accounts.csv", fuzz::OVERLAY);
    let loaded = load("settings.yaml", fuzz::SETTINGS_WITH_OVERLAY, &overlay).unwrap();
    assert_eq!(
        loaded.settings.accounts.len(),
        2,
        "the rows overlay the file"
    );
    for (name, bytes) in seeds("settings") {
        let text = String::from_utf8(bytes).unwrap();
        let sources = MemorySources::new()
            .with("accounts.csv", fuzz::OVERLAY)
            .with("examples/accounts.csv", fuzz::OVERLAY);
        assert!(
            load("settings.yaml", &text, &sources).is_ok(),
            "seed {name} does not load"
        );
    }
    for (name, bytes) in seeds("events") {
        assert!(
            spa_core::events::decode(&bytes).is_ok(),
            "seed {name} does not decode"
        );
    }
    let signed = seeds("slack_request")
        .into_iter()
        .find(|(name, _)| name == "status-me")
        .unwrap()
        .1;
    let mut parts = signed.splitn(3, |b| *b == b'\n');
    let (timestamp, signature, body) = (
        std::str::from_utf8(parts.next().unwrap()).unwrap(),
        std::str::from_utf8(parts.next().unwrap()).unwrap(),
        parts.next().unwrap(),
    );
    let now = chrono::DateTime::from_timestamp(fuzz::SLACK_NOW, 0).unwrap();
    let verified = spa_core::chatops::verify(
        fuzz::SLACK_SECRET,
        Some(timestamp),
        Some(signature),
        body,
        now,
    );
    assert!(verified.is_ok(), "the signed seed verifies: {verified:?}");
}

/// Every input a fuzzer found a fault with stays fixed.
#[test]
fn fuzz_regressions_stay_fixed() {
    let root = repository().join("engine/core/tests/fuzz_regressions");
    for target in &TARGETS {
        for (name, bytes) in files(&root.join(target.name)) {
            let result = std::panic::catch_unwind(|| (target.check)(&bytes));
            assert!(
                result.is_ok(),
                "engine/core/tests/fuzz_regressions/{}/{name} fails again",
                target.name
            );
        }
    }
}

/// How libFuzzer changes an input, in small steps.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Token(prop::sample::Index, prop::sample::Index),
    Bytes(prop::sample::Index, Vec<u8>),
    Cut(prop::sample::Index, usize),
    Repeat(prop::sample::Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(i, t)| Mutation::Token(i, t)),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..8)
        )
            .prop_map(|(i, b)| Mutation::Bytes(i, b)),
        (any::<prop::sample::Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Cut(i, n)),
        (any::<prop::sample::Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Repeat(i, n)),
    ]
}

fn mutate(seed: &[u8], tokens: &[&str], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Flip(i, b) => {
                if len > 0 {
                    bytes[i.index(len)] ^= b;
                }
            }
            Mutation::Token(i, t) => {
                let at = i.index(len + 1);
                let token = t.get(tokens).as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            Mutation::Bytes(i, b) => {
                let at = i.index(len + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Cut(i, n) => {
                let at = i.index(len + 1);
                bytes.drain(at..(at + n).min(len));
            }
            Mutation::Repeat(i, n) => {
                let at = i.index(len + 1);
                let piece: Vec<u8> = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, piece);
            }
        }
    }
    bytes
}

fn mutated_seeds(name: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = seeds(name).into_iter().map(|(_, b)| b).collect();
    let tokens = target(name).tokens;
    (
        prop::sample::select(seeds),
        prop::collection::vec(mutation(), 1..6),
    )
        .prop_map(move |(seed, mutations)| mutate(&seed, tokens, &mutations))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_settings_keep_the_checks(bytes in mutated_seeds("settings")) {
        fuzz::settings(&bytes);
    }

    #[test]
    fn mutated_overlays_keep_the_checks(bytes in mutated_seeds("csv_overlay")) {
        fuzz::csv_overlay(&bytes);
    }

    #[test]
    fn mutated_events_keep_the_checks(bytes in mutated_seeds("events")) {
        fuzz::events(&bytes);
    }

    #[test]
    fn mutated_sqs_bodies_keep_the_checks(bytes in mutated_seeds("sqs_body")) {
        fuzz::sqs_body(&bytes);
    }

    #[test]
    fn mutated_slack_requests_keep_the_checks(bytes in mutated_seeds("slack_request")) {
        fuzz::slack_request(&bytes);
    }
}
