//! Fuzz target: what a Lambda function may be handed, into the event decoders (checks in `spa_core::fuzz::events`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spa_core::fuzz::events(data));
