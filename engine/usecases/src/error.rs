//! The one error of the use cases: transient (retry the event) or permanent (bad
//! input or settings: logged, recorded, not retried), with its context.

use std::fmt;

use crate::ports::PortError;
use spa_core::events::AccountId;

/// What a use case was doing when it failed: the account, the cause (event or
/// command id) and the step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The account, when the failure is about one.
    pub account: Option<AccountId>,
    /// The event or command id being handled.
    pub cause: Option<String>,
    /// The step (`read tags`, `start build`, ...).
    pub step: &'static str,
}

impl Context {
    /// A context for a step.
    pub fn step(step: &'static str) -> Self {
        Self {
            step,
            ..Self::default()
        }
    }

    /// About an account.
    pub fn account(mut self, account: &AccountId) -> Self {
        self.account = Some(account.clone());
        self
    }

    /// Caused by an event or a command.
    pub fn cause(mut self, cause: &str) -> Self {
        self.cause = Some(cause.to_owned());
        self
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.step)?;
        if let Some(account) = &self.account {
            write!(f, " of account {account}")?;
        }
        if let Some(cause) = &self.cause {
            write!(f, " (cause `{cause}`)")?;
        }
        Ok(())
    }
}

/// Why a use case failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UseCaseError {
    /// A port failed; transient when the port says so (throttling, 5xx, network).
    #[error("{context}: {source}")]
    Port {
        /// Where.
        context: Box<Context>,
        /// What the port said.
        source: PortError,
    },
    /// The input cannot be acted on (a holder that is not an e-mail address, a command
    /// of another environment, a build id that is not one): retrying will not help.
    #[error("{context}: {reason}")]
    BadInput {
        /// Where.
        context: Box<Context>,
        /// What is wrong, for the operator (no e-mail address in clear).
        reason: String,
    },
    /// Another delivery of the same cause holds its claim: this one comes back later.
    #[error("{context}: another delivery is handling it until {until}")]
    Busy {
        /// Where.
        context: Box<Context>,
        /// When the other delivery's lease runs out.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// An earlier delivery of the same cause failed for good: not tried again (an
    /// operator replays it once the cause is fixed).
    #[error("{context}: failed for good before: {why}")]
    FailedBefore {
        /// Where.
        context: Box<Context>,
        /// The earlier error.
        why: String,
    },
    /// The settings cannot drive the engine (a tag prefix AWS refuses).
    #[error("settings: {reason}")]
    Settings {
        /// What is wrong.
        reason: String,
    },
}

impl UseCaseError {
    /// A port failure in a context.
    pub fn port(context: Context, source: PortError) -> Self {
        UseCaseError::Port {
            context: Box::new(context),
            source,
        }
    }

    /// Bad input in a context.
    pub fn bad_input(context: Context, reason: impl Into<String>) -> Self {
        UseCaseError::BadInput {
            context: Box::new(context),
            reason: spa_core::events::redact_emails(&reason.into()),
        }
    }

    /// Whether retrying the event later may succeed: the handler lets Lambda or SQS
    /// deliver it again. Permanent errors are logged and recorded, then acknowledged.
    pub fn is_transient(&self) -> bool {
        match self {
            UseCaseError::Port { source, .. } => source.is_transient(),
            UseCaseError::Busy { .. } => true,
            UseCaseError::BadInput { .. }
            | UseCaseError::FailedBefore { .. }
            | UseCaseError::Settings { .. } => false,
        }
    }

    /// The account the error is about, when known.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            UseCaseError::Port { context, .. }
            | UseCaseError::BadInput { context, .. }
            | UseCaseError::Busy { context, .. }
            | UseCaseError::FailedBefore { context, .. } => context.account.as_ref(),
            UseCaseError::Settings { .. } => None,
        }
    }
}

/// Adds a context to a port result.
pub(crate) trait PortResultExt<T> {
    /// Maps a port error into a use-case error in `context`.
    fn within(self, context: impl FnOnce() -> Context) -> Result<T, UseCaseError>;
}

impl<T> PortResultExt<T> for Result<T, PortError> {
    fn within(self, context: impl FnOnce() -> Context) -> Result<T, UseCaseError> {
        self.map_err(|source| UseCaseError::port(context(), source))
    }
}
