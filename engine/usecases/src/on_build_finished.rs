//! CodeBuild "Build State Change" from member accounts: the awaited build's result
//! moves the account; others are `Stale` or `Duplicate`.

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, UseCaseError};
use crate::ports::Platform;
use spa_core::events::BuildStateChange;
use spa_core::lifecycle::{BuildId, Trigger, TriggerKind};

/// The build id of a CodeBuild build ARN (`...:build/<project>:<uuid>` ->
/// `<project>:<uuid>`), as `StartBuild` returned it.
pub fn build_id_of(arn: &str) -> &str {
    arn.split_once(":build/").map_or(arn, |(_, id)| id)
}

/// Reacts to a build state change; in-progress statuses are ignored.
pub async fn on_build_finished<P: Platform>(
    engine: &Engine<'_, P>,
    change: &BuildStateChange,
) -> Result<Outcome, UseCaseError> {
    let cause = change.event_id.as_str();
    if !change.status.is_terminal() {
        return Ok(Outcome::new(
            cause,
            Some(&change.account),
            Verdict::Ignored(format!("the build is {}", change.status)),
        ));
    }
    let build = BuildId::new(build_id_of(&change.build_id)).map_err(|error| {
        UseCaseError::bad_input(
            Context::step("read the build id")
                .account(&change.account)
                .cause(cause),
            error.to_string(),
        )
    })?;
    let trigger = Trigger::new(
        change.at,
        TriggerKind::BuildFinished {
            build,
            status: change.status,
        },
    );
    engine.apply(cause, &change.account, trigger).await
}
