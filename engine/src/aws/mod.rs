//! Adapters of the ports on the official AWS SDK for Rust: the only module that
//! names an SDK crate.

pub mod batch;
pub mod config;
pub mod dynamodb;
pub mod error;
pub mod eventbridge;
pub mod metrics;
pub mod organizations;
pub mod s3;
pub mod sqs;
pub mod ssm;
pub mod sts;
