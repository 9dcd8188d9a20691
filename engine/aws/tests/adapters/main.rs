//! The adapters against the emulator (moto server, one per test binary) and, where moto lacks a service, against the exact requests (aws-smithy-mocks); the webhooks against a real local HTTP server; the fault proxy.
//!
//! One test binary per crate: each module was a binary of its own, and every binary
//! linked the whole SDK again.

mod aws_budgets;
mod aws_cost_sources;
mod aws_costs;
mod aws_footprint;
mod aws_incidents;
mod aws_mail;
mod aws_messaging;
mod aws_organizations;
#[cfg(feature = "pricing")]
mod aws_pricing;
mod aws_secrets;
mod aws_storage;
mod aws_unprocessed;
mod fault_proxy;
mod webhooks;
