//! The local runtime's [`Handler`] of the use cases: each delivery handled exactly as the
//! deployed function handles it, through [`spa_usecases::handle`].

use serde_json::Value;

use crate::{Handler, LocalPlatform};
use spa_core::events::redact_emails;
use spa_core::rules::Function;
use spa_core::settings::Settings;
use spa_usecases::ports::Platform;
use spa_usecases::{Buildspecs, Engine, Retry, UseCaseError, handle};

/// The local runtime's handler: builds an engine on the local platform for each
/// delivery and handles it like the deployed function would.
pub struct LocalHandler<'s> {
    settings: &'s Settings,
    buildspecs: Buildspecs,
    engine_bus_arn: Option<String>,
    retry: Option<Retry>,
}

impl<'s> LocalHandler<'s> {
    /// A handler on `settings`.
    pub fn new(settings: &'s Settings) -> Self {
        Self {
            settings,
            buildspecs: Buildspecs::new(),
            engine_bus_arn: None,
            retry: None,
        }
    }

    /// The buildspec texts by path.
    pub fn with_buildspecs(mut self, buildspecs: Buildspecs) -> Self {
        self.buildspecs = buildspecs;
        self
    }

    /// The ARN of the engine's bus (the target of the member accounts' rules).
    pub fn with_engine_bus_arn(mut self, arn: impl Into<String>) -> Self {
        self.engine_bus_arn = Some(arn.into());
        self
    }

    /// How port calls are retried within a delivery.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The engine of one delivery.
    pub fn engine<'a, P: Platform>(
        &'a self,
        platform: &'a P,
    ) -> Result<Engine<'a, P>, UseCaseError> {
        let mut engine =
            Engine::new(platform, self.settings)?.with_buildspecs(self.buildspecs.clone());
        if let Some(arn) = &self.engine_bus_arn {
            engine = engine.with_engine_bus_arn(arn.clone());
        }
        if let Some(retry) = self.retry {
            engine = engine.with_retry(retry);
        }
        Ok(engine)
    }
}

impl<P: Platform> Handler<P> for LocalHandler<'_> {
    async fn handle(
        &self,
        platform: &LocalPlatform<P>,
        function: Function,
        event: &Value,
    ) -> Result<String, String> {
        // as on Lambda: claims held for the function's budget
        let engine = self
            .engine(platform)
            .map_err(|e| e.to_string())?
            .for_function(function);
        match handle(&engine, Some(function), event).await {
            Ok(handled) if handled.dispatched.batch_item_failures.is_empty() => {
                Ok(handled.summary())
            }
            Ok(handled) => Err(handled.summary()),
            Err(error) => Err(redact_emails(&error.to_string())),
        }
    }
}
