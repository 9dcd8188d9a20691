//! Fuzz target: YAML bytes into the settings loader (checks in `spa_engine::fuzz::settings`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spa_engine::fuzz::settings(data));
