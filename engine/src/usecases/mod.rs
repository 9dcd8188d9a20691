//! Use cases: one module per reaction, each taking ports and returning what it did.

pub mod resolve;
