//! Fuzz target: bytes as the body of one SQS record (a Budgets alert or an account command) (checks in `spa_core::fuzz::sqs_body`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spa_core::fuzz::sqs_body(data));
