//! TEMPORARY: replaced by the reports helper's module at merge.

pub mod account;
