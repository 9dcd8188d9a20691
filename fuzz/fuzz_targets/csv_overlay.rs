//! Fuzz target: CSV bytes as the overlay of a settings file, and into the overlay parser alone (checks in `spa_core::fuzz::csv_overlay`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spa_core::fuzz::csv_overlay(data));
