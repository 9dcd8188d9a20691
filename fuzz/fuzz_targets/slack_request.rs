//! Fuzz target: a Slack request (timestamp line, signature line, body) into the signature
//! verifier and the slash command parser (checks in `spa_core::fuzz::slack_request`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spa_core::fuzz::slack_request(data));
