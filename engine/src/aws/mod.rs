//! Adapters of the ports on the official AWS SDK for Rust: the only module that
//! names an SDK crate.

pub mod codebuild;
pub mod error;
pub mod footprint;
pub mod seed;
