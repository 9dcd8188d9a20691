//! Counts the AWS API calls of every client built by [`super::config::AwsConfig`]:
//! an SDK interceptor keyed by `Service:Operation` (`Organizations:ListAccounts`).
//!
//! One call is one operation as the code asks for it: the SDK's own retries of that
//! operation are counted apart, in [`ApiCalls::attempts`], so that benchmarks can
//! report both "calls per account" and how much throttling cost.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Default)]
struct Counts {
    calls: BTreeMap<String, u64>,
    attempts: u64,
}

/// API calls made so far, by `Service:Operation`; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct ApiCalls {
    counts: Arc<Mutex<Counts>>,
}

impl ApiCalls {
    /// New counters, all at zero.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Counts) -> T) -> T {
        // a panic while counting leaves the counts usable
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut counts)
    }

    /// The calls so far, by `Service:Operation`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.with(|c| c.calls.clone())
    }

    /// Every call so far.
    pub fn total(&self) -> u64 {
        self.with(|c| c.calls.values().sum())
    }

    /// The calls of one `Service:Operation` so far.
    pub fn count(&self, key: &str) -> u64 {
        self.with(|c| c.calls.get(key).copied().unwrap_or(0))
    }

    /// Attempts sent on the wire (calls plus the SDK's retries).
    pub fn attempts(&self) -> u64 {
        self.with(|c| c.attempts)
    }

    /// Starts counting again from zero.
    pub fn reset(&self) {
        self.with(|c| *c = Counts::default());
    }
}

impl Intercept for ApiCalls {
    fn name(&self) -> &'static str {
        "SpaApiCalls"
    }

    // once per operation, after the operation's configuration (its `Metadata`) is in
    // the bag: `read_before_execution` of a client interceptor runs before it
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = match cfg.load::<Metadata>() {
            Some(metadata) => format!("{}:{}", metadata.service(), metadata.name()),
            None => "Unknown:Unknown".to_owned(),
        };
        // `SPA_LOG=spa_aws::metrics=debug`: every call, in the order it is sent
        tracing::debug!(call = %key, "API call");
        self.with(|c| *c.calls.entry(key).or_default() += 1);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.with(|c| c.attempts += 1);
        Ok(())
    }
}
