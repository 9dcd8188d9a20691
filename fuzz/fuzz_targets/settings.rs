//! Fuzz target: YAML bytes into the settings loader (checks in `spa_core::fuzz::settings`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spa_core::fuzz::settings(data));
