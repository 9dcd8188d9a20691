//! CloudFormation stacks for `spa deploy` and `spa destroy`: created and updated only
//! through change sets (planned, shown, then executed), waited for with their events
//! reported as they come, and deleted.
//!
//! The only module that names `aws-sdk-cloudformation`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, StackStatus, Tag,
};

use super::config::AwsConfig;
use super::error::port_error;
use spa_usecases::ports::PortError;

const SERVICE: &str = "cloudformation";

/// Where a template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// The JSON text (at most 51,200 bytes).
    Body(String),
    /// An S3 URL (templates up to 1 MB).
    Url(String),
}

/// The largest template CloudFormation takes inline.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

/// A stack to create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRequest {
    /// The stack's name.
    pub name: String,
    /// Its template.
    pub template: TemplateSource,
    /// Parameter values, by name.
    pub parameters: BTreeMap<String, String>,
    /// Tags of the stack (propagated to its resources).
    pub tags: BTreeMap<String, String>,
}

/// Whether a change set creates the stack or updates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSetKind {
    /// The stack does not exist yet.
    Create,
    /// The stack exists.
    Update,
}

/// One resource a change set changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    /// The logical id.
    pub logical_id: String,
    /// `AWS::Service::Type`.
    pub resource_type: String,
    /// `True`, `False`, `Conditional` for a modification.
    pub replacement: Option<String>,
}

/// A change set ready to be executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// The stack.
    pub stack: String,
    /// The change set's ARN.
    pub id: String,
    /// Create or update.
    pub kind: ChangeSetKind,
    /// What it changes.
    pub changes: Vec<ResourceChange>,
}

/// One event of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    /// The logical id of the resource (the stack's name for the stack itself).
    pub logical_id: String,
    /// Its type.
    pub resource_type: String,
    /// `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `UPDATE_FAILED`, ...
    pub status: String,
    /// Why, when CloudFormation says.
    pub reason: Option<String>,
}

/// A stack as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState {
    /// Its name.
    pub name: String,
    /// `CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, ...
    pub status: String,
    /// Why, when CloudFormation says.
    pub reason: Option<String>,
    /// Its outputs.
    pub outputs: BTreeMap<String, String>,
}

impl StackState {
    /// Whether CloudFormation is working on the stack.
    pub fn in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS")
    }
}

/// CloudFormation stacks of one account and region.
#[derive(Debug, Clone)]
pub struct Stacks {
    client: Client,
    poll: Duration,
    patience: Duration,
}

fn rejected(action: &str, message: impl Into<String>) -> PortError {
    PortError::Rejected {
        service: SERVICE.into(),
        action: action.into(),
        message: message.into(),
    }
}

/// Whether an error says the stack does not exist (CloudFormation answers a
/// `ValidationError`, not a NotFound code).
fn is_missing(error: &PortError) -> bool {
    match error {
        PortError::NotFound { .. } => true,
        PortError::Rejected { message, .. } => message.contains("does not exist"),
        _ => false,
    }
}

/// Whether a failed change set only says that nothing would change.
pub fn is_no_change(reason: &str) -> bool {
    reason.contains("didn't contain changes")
        || reason.contains("No updates are to be performed")
        || reason.contains("does not contain changes")
}

impl Stacks {
    /// Stacks through `config`'s CloudFormation client; polls every 5 s, gives up
    /// after an hour.
    pub fn new(config: &AwsConfig) -> Self {
        Self {
            client: config.cloudformation(),
            poll: Duration::from_secs(5),
            patience: Duration::from_secs(3600),
        }
    }

    /// Polls every `every`, gives up after `patience` (the emulator answers at once).
    pub fn with_polling(mut self, every: Duration, patience: Duration) -> Self {
        self.poll = every;
        self.patience = patience;
        self
    }

    /// The stack `name`, if it exists (a deleted stack does not).
    pub async fn describe(&self, name: &str) -> Result<Option<StackState>, PortError> {
        let result = self.client.describe_stacks().stack_name(name).send().await;
        let output = match result {
            Ok(output) => output,
            Err(e) => {
                let error = port_error(SERVICE, "DescribeStacks", name, e);
                return if is_missing(&error) {
                    Ok(None)
                } else {
                    Err(error)
                };
            }
        };
        let Some(stack) = output.stacks().first() else {
            return Ok(None);
        };
        let status = stack
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if status == StackStatus::DeleteComplete.as_str() {
            return Ok(None);
        }
        Ok(Some(StackState {
            name: name.to_owned(),
            status,
            reason: stack.stack_status_reason().map(str::to_owned),
            outputs: stack
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
                .collect(),
        }))
    }

    /// Plans `request`: a change set that creates or updates the stack, waited for
    /// until CloudFormation has computed it. `None`: nothing would change (the empty
    /// change set is deleted).
    pub async fn plan(&self, request: &StackRequest) -> Result<Option<ChangeSet>, PortError> {
        let name = &request.name;
        let kind = match self.describe(name).await? {
            None => ChangeSetKind::Create,
            // created by a change set never executed: create again
            Some(s) if s.status == StackStatus::ReviewInProgress.as_str() => ChangeSetKind::Create,
            Some(s) if s.in_progress() => {
                return Err(rejected(
                    "CreateChangeSet",
                    format!(
                        "the stack `{name}` is busy ({}): wait until it is done",
                        s.status
                    ),
                ));
            }
            Some(s)
                if s.status == StackStatus::RollbackComplete.as_str()
                    || s.status == StackStatus::RollbackFailed.as_str() =>
            {
                return Err(rejected(
                    "CreateChangeSet",
                    format!(
                        "the stack `{name}` failed to create ({}); delete it (spa destroy) before deploying again",
                        s.status
                    ),
                ));
            }
            Some(_) => ChangeSetKind::Update,
        };
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let mut call = self
            .client
            .create_change_set()
            .stack_name(name)
            .change_set_name(format!("spa-{stamp}"))
            .change_set_type(match kind {
                ChangeSetKind::Create => ChangeSetType::Create,
                ChangeSetKind::Update => ChangeSetType::Update,
            })
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .description("spa deploy");
        call = match &request.template {
            TemplateSource::Body(body) => call.template_body(body),
            TemplateSource::Url(url) => call.template_url(url),
        };
        for (key, value) in &request.parameters {
            call = call.parameters(
                Parameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build(),
            );
        }
        for (key, value) in &request.tags {
            call = call.tags(Tag::builder().key(key).value(value).build());
        }
        let created = match call.send().await {
            Ok(created) => created,
            Err(e) => {
                let error = port_error(SERVICE, "CreateChangeSet", name, e);
                // some implementations refuse an unchanged template at once
                if let PortError::Rejected { message, .. } = &error
                    && is_no_change(message)
                {
                    return Ok(None);
                }
                return Err(error);
            }
        };
        let id = created
            .id()
            .ok_or_else(|| rejected("CreateChangeSet", "no change set id in the answer"))?
            .to_owned();
        let started = std::time::Instant::now();
        loop {
            let described = self
                .client
                .describe_change_set()
                .change_set_name(&id)
                .stack_name(name)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "DescribeChangeSet", &id, e))?;
            match described.status() {
                Some(ChangeSetStatus::CreateComplete) => break,
                Some(ChangeSetStatus::Failed) => {
                    let reason = described.status_reason().unwrap_or("no reason given");
                    if is_no_change(reason) {
                        self.discard_id(name, &id, kind).await?;
                        return Ok(None);
                    }
                    return Err(rejected(
                        "CreateChangeSet",
                        format!("the change set of `{name}` failed: {reason}"),
                    ));
                }
                _ => {}
            }
            if started.elapsed() > self.patience {
                return Err(PortError::Unavailable {
                    service: SERVICE.into(),
                    message: format!("the change set of `{name}` was not ready in time"),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
        let mut changes = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .describe_change_set()
                .change_set_name(&id)
                .stack_name(name)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "DescribeChangeSet", &id, e))?;
            changes.extend(page.changes().iter().filter_map(|c| {
                let r = c.resource_change()?;
                Some(ResourceChange {
                    action: r
                        .action()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                    logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
                    resource_type: r.resource_type().unwrap_or_default().to_owned(),
                    replacement: r.replacement().map(|x| x.as_str().to_owned()),
                })
            }));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(Some(ChangeSet {
            stack: name.clone(),
            id,
            kind,
            changes,
        }))
    }

    /// Deletes a change set that will not be executed (and the empty stack a create
    /// change set made).
    pub async fn discard(&self, change_set: &ChangeSet) -> Result<(), PortError> {
        self.discard_id(&change_set.stack, &change_set.id, change_set.kind)
            .await
    }

    async fn discard_id(
        &self,
        stack: &str,
        id: &str,
        kind: ChangeSetKind,
    ) -> Result<(), PortError> {
        self.client
            .delete_change_set()
            .change_set_name(id)
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "DeleteChangeSet", id, e))?;
        if kind == ChangeSetKind::Create {
            let review = self
                .describe(stack)
                .await?
                .is_some_and(|s| s.status == StackStatus::ReviewInProgress.as_str());
            if review {
                self.client
                    .delete_stack()
                    .stack_name(stack)
                    .send()
                    .await
                    .map_err(|e| port_error(SERVICE, "DeleteStack", stack, e))?;
            }
        }
        Ok(())
    }

    /// The id of the newest event of the stack, so that only later ones are reported.
    async fn newest_event(&self, stack: &str) -> Result<Option<String>, PortError> {
        let result = self
            .client
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await;
        match result {
            Ok(page) => Ok(page
                .stack_events()
                .first()
                .and_then(|e| e.event_id())
                .map(str::to_owned)),
            Err(e) => {
                let error = port_error(SERVICE, "DescribeStackEvents", stack, e);
                if is_missing(&error) {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// The events after `seen` (oldest first); `seen` moves to the newest.
    async fn events_since(
        &self,
        stack: &str,
        seen: &mut Option<String>,
    ) -> Result<Vec<StackEvent>, PortError> {
        let result = self
            .client
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await;
        let page = match result {
            Ok(page) => page,
            Err(e) => {
                let error = port_error(SERVICE, "DescribeStackEvents", stack, e);
                return if is_missing(&error) {
                    Ok(Vec::new())
                } else {
                    Err(error)
                };
            }
        };
        let mut fresh = Vec::new();
        for event in page.stack_events() {
            if event.event_id().is_some() && event.event_id() == seen.as_deref() {
                break;
            }
            fresh.push(StackEvent {
                logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: event.resource_type().unwrap_or_default().to_owned(),
                status: event
                    .resource_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: event.resource_status_reason().map(str::to_owned),
            });
        }
        if let Some(first) = page.stack_events().first().and_then(|e| e.event_id()) {
            *seen = Some(first.to_owned());
        }
        fresh.reverse();
        Ok(fresh)
    }

    /// Waits until the stack is no longer in progress, reporting its events.
    async fn wait(
        &self,
        stack: &str,
        seen: &mut Option<String>,
        progress: &mut (dyn FnMut(&StackEvent) + Send),
    ) -> Result<Option<StackState>, PortError> {
        let started = std::time::Instant::now();
        loop {
            for event in self.events_since(stack, seen).await? {
                progress(&event);
            }
            let state = self.describe(stack).await?;
            match &state {
                Some(s) if s.in_progress() => {}
                _ => return Ok(state),
            }
            if started.elapsed() > self.patience {
                return Err(PortError::Unavailable {
                    service: SERVICE.into(),
                    message: format!(
                        "the stack `{stack}` was still in progress after {:?}",
                        self.patience
                    ),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Executes `change_set` and waits for the stack, reporting each event as it
    /// comes; a stack that ends rolled back or failed is an error that says why.
    pub async fn execute(
        &self,
        change_set: &ChangeSet,
        progress: &mut (dyn FnMut(&StackEvent) + Send),
    ) -> Result<StackState, PortError> {
        let stack = &change_set.stack;
        let mut seen = self.newest_event(stack).await?;
        self.client
            .execute_change_set()
            .change_set_name(&change_set.id)
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "ExecuteChangeSet", stack, e))?;
        let mut failures = Vec::new();
        let mut record = |event: &StackEvent| {
            if event.status.ends_with("_FAILED") {
                failures.push(format!(
                    "{} ({}): {}",
                    event.logical_id,
                    event.resource_type,
                    event.reason.as_deref().unwrap_or(&event.status)
                ));
            }
            progress(event);
        };
        let state = self.wait(stack, &mut seen, &mut record).await?;
        let state = state.ok_or_else(|| {
            rejected(
                "ExecuteChangeSet",
                format!("the stack `{stack}` is gone: {}", failures.join("; ")),
            )
        })?;
        let ok = [
            StackStatus::CreateComplete.as_str(),
            StackStatus::UpdateComplete.as_str(),
        ];
        if ok.contains(&state.status.as_str()) {
            Ok(state)
        } else {
            Err(rejected(
                "ExecuteChangeSet",
                format!(
                    "the stack `{stack}` ended {}{}",
                    state.status,
                    if failures.is_empty() {
                        state
                            .reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    } else {
                        format!(": {}", failures.join("; "))
                    }
                ),
            ))
        }
    }

    /// Deletes the stack `name` and waits until it is gone. `false`: there was none.
    pub async fn delete(
        &self,
        name: &str,
        progress: &mut (dyn FnMut(&StackEvent) + Send),
    ) -> Result<bool, PortError> {
        if self.describe(name).await?.is_none() {
            return Ok(false);
        }
        let mut seen = self.newest_event(name).await?;
        self.client
            .delete_stack()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "DeleteStack", name, e))?;
        match self.wait(name, &mut seen, progress).await? {
            None => Ok(true),
            Some(state) => Err(rejected(
                "DeleteStack",
                format!(
                    "the stack `{name}` ended {}{}",
                    state.status,
                    state.reason.map(|r| format!(": {r}")).unwrap_or_default()
                ),
            )),
        }
    }
}
