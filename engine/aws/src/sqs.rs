//! [`SqsCommands`]: the `Commands` port on SQS `SendMessageBatch`;
//! [`ForwardDeadLetters`]: the `Forwarding` port on the management account's
//! forwarding dead-letter queue; and [`ensure_queue`], which makes a queue with its
//! dead-letter queue for local runs.
//!
//! A message is one [`AccountCommand`] as JSON ([`AccountCommand::to_json`]); messages
//! go in batches of 10, refused entries are sent again with backoff (see
//! [`super::batch`]), and what still fails is one error saying how many and why.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::batch::{BatchCall, EntryFailure, send_in_batches};
use super::config::{AwsConfig, REFUSED_ENTRIES};
use super::error::port_error;
use spa_core::events::AccountCommand;
use spa_usecases::Retry;
use spa_usecases::ports::{Commands, Forwarding, PortError, TakenLetter};

/// Messages of one `SendMessageBatch` call, at most.
pub const BATCH: usize = 10;

/// Receives of a message before it goes to the dead-letter queue.
pub const MAX_RECEIVES: u32 = 5;

const CALL: BatchCall<'static> = BatchCall {
    service: "sqs",
    action: "SendMessageBatch",
    size: BATCH,
};

/// The command queue.
#[derive(Debug, Clone)]
pub struct SqsCommands {
    client: Client,
    queue_url: String,
    retry: Retry,
}

impl SqsCommands {
    /// Sends to the queue at `queue_url`.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            retry: REFUSED_ENTRIES,
        }
    }

    /// Another policy for refused entries.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The queue URL.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    async fn send_batch(&self, bodies: Vec<String>) -> Result<Vec<EntryFailure>, PortError> {
        let entries = bodies
            .iter()
            .enumerate()
            .map(|(index, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(body)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::Rejected {
                service: CALL.service.into(),
                action: CALL.action.into(),
                message: e.to_string(),
            })?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| port_error(CALL.service, CALL.action, &self.queue_url, e))?;
        Ok(output
            .failed()
            .iter()
            .map(|failed| {
                let index = failed.id().parse().unwrap_or(usize::MAX);
                EntryFailure::new(index, failed.code(), failed.message().unwrap_or_default())
            })
            .collect())
    }
}

impl Commands for SqsCommands {
    async fn send(&self, commands: &[AccountCommand]) -> Result<(), PortError> {
        let bodies: Vec<String> = commands.iter().map(AccountCommand::to_json).collect();
        send_in_batches(CALL, &bodies, self.retry, |batch| self.send_batch(batch)).await?;
        tracing::debug!(queue = %self.queue_url, commands = commands.len(), "commands sent");
        Ok(())
    }
}

/// Makes (or finds) the queue `name` and its dead-letter queue `<name>-dlq`, with a
/// redrive policy of [`MAX_RECEIVES`]; returns the queue's URL. Idempotent.
pub async fn ensure_queue(config: &AwsConfig, name: &str) -> Result<String, PortError> {
    let client = config.sqs();
    let dlq_name = format!("{name}{}", spa_core::events::DEAD_LETTER_QUEUE_SUFFIX);
    let dlq_url = create_queue(
        &client,
        &dlq_name,
        &[(
            QueueAttributeName::MessageRetentionPeriod,
            "1209600".to_owned(),
        )],
    )
    .await?;
    let attributes = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| port_error("sqs", "GetQueueAttributes", &dlq_name, e))?;
    let dlq_arn = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| PortError::Rejected {
            service: "sqs".into(),
            action: "GetQueueAttributes".into(),
            message: format!("no QueueArn for `{dlq_name}`"),
        })?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVES,
    })
    .to_string();
    create_queue(
        &client,
        name,
        &[
            (QueueAttributeName::RedrivePolicy, redrive),
            (
                QueueAttributeName::VisibilityTimeout,
                // as synth deploys it: from the commands function's timeouts
                spa_core::rules::Function::Commands
                    .timeouts()
                    .visibility
                    .map_or(0, |d| d.as_secs())
                    .to_string(),
            ),
        ],
    )
    .await
}

/// Creates a queue; one that exists with other attributes gets these set.
async fn create_queue(
    client: &Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String, PortError> {
    let mut create = client.create_queue().queue_name(name);
    for (key, value) in attributes {
        create = create.attributes(key.clone(), value);
    }
    match create.send().await {
        Ok(output) => output
            .queue_url()
            .map(str::to_owned)
            .ok_or_else(|| PortError::Rejected {
                service: "sqs".into(),
                action: "CreateQueue".into(),
                message: format!("no URL for `{name}`"),
            }),
        Err(e) if matches!(e.code(), Some("QueueAlreadyExists" | "QueueNameExists")) => {
            let url = client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| port_error("sqs", "GetQueueUrl", name, e))?
                .queue_url()
                .unwrap_or_default()
                .to_owned();
            let mut set = client.set_queue_attributes().queue_url(&url);
            for (key, value) in attributes {
                set = set.attributes(key.clone(), value);
            }
            set.send()
                .await
                .map_err(|e| port_error("sqs", "SetQueueAttributes", name, e))?;
            Ok(url)
        }
        Err(e) => Err(port_error("sqs", "CreateQueue", name, e)),
    }
}

/// Receives up to 10 messages of `queue_url` and deletes them, handing them back as
/// the Lambda SQS event the queue's event source mapping would deliver (`None`: the
/// queue is empty). The local runtime's stand-in for an event source mapping.
pub async fn receive_as_lambda_event(
    config: &AwsConfig,
    queue_url: &str,
    queue_arn: &str,
) -> Result<Option<serde_json::Value>, PortError> {
    let client = config.sqs();
    let received = client
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| port_error("sqs", "ReceiveMessage", queue_url, e))?;
    let messages = received.messages();
    if messages.is_empty() {
        return Ok(None);
    }
    let region = config.region().unwrap_or("us-east-1").to_owned();
    let mut records = Vec::new();
    for message in messages {
        let attributes: serde_json::Map<String, serde_json::Value> = message
            .attributes()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), serde_json::Value::String(v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        // as Lambda hands them (`stringValue` and `dataType`): EventBridge and Lambda
        // give the error of a dead letter there
        let message_attributes: serde_json::Map<String, serde_json::Value> = message
            .message_attributes()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            serde_json::json!({
                                "stringValue": v.string_value(),
                                "stringListValues": [],
                                "binaryListValues": [],
                                "dataType": v.data_type(),
                            }),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        records.push(serde_json::json!({
            "messageId": message.message_id().unwrap_or_default(),
            "receiptHandle": message.receipt_handle().unwrap_or_default(),
            "body": message.body().unwrap_or_default(),
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.md5_of_body().unwrap_or_default(),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }));
        if let Some(handle) = message.receipt_handle() {
            client
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(|e| port_error("sqs", "DeleteMessage", queue_url, e))?;
        }
    }
    Ok(Some(serde_json::json!({ "Records": records })))
}

/// The management account's forwarding dead-letter queue
/// ([`spa_core::rules::forward_dead_letter_queue`], in the Organizations region),
/// reached with the management role (so in the management account's own queues):
/// what EventBridge could not forward to the engine's bus.
#[derive(Debug, Clone)]
pub struct ForwardDeadLetters {
    client: Client,
    queue: String,
}

impl ForwardDeadLetters {
    /// The queue `queue` of the client's account, read with `client` (the management
    /// role's, in the Organizations region).
    pub fn new(client: Client, queue: impl Into<String>) -> Self {
        Self {
            client,
            queue: queue.into(),
        }
    }

    async fn url(&self) -> Result<String, PortError> {
        let output = self
            .client
            .get_queue_url()
            .queue_name(&self.queue)
            .send()
            .await
            .map_err(|e| port_error("sqs", "GetQueueUrl", &self.queue, e))?;
        output
            .queue_url()
            .map(str::to_owned)
            .ok_or_else(|| PortError::not_found("SQS queue", self.queue.as_str()))
    }
}

impl Forwarding for ForwardDeadLetters {
    async fn take_dead_letters(&self, max: usize) -> Result<Vec<TakenLetter>, PortError> {
        let url = self.url().await?;
        let output = self
            .client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(i32::try_from(max.clamp(1, BATCH)).unwrap_or(10))
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
            )
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| port_error("sqs", "ReceiveMessage", &self.queue, e))?;
        let letters = output
            .messages()
            .iter()
            .filter_map(|message| {
                let receipt = message.receipt_handle()?.to_owned();
                let body = message.body().unwrap_or_default().to_owned();
                let attributes: std::collections::BTreeMap<String, String> = message
                    .message_attributes()
                    .map(|attributes| {
                        attributes
                            .iter()
                            .filter_map(|(name, value)| {
                                Some((name.clone(), value.string_value()?.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let sent_at = message
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
                    })
                    .and_then(|ms| ms.parse::<i64>().ok())
                    .and_then(chrono::DateTime::from_timestamp_millis);
                Some(TakenLetter {
                    record: spa_core::events::DeadLetterRecord {
                        message_id: message.message_id().map(str::to_owned),
                        dead_letter: spa_core::events::DeadLetter::decode(
                            &self.queue,
                            &body,
                            &attributes,
                        ),
                        body,
                        sent_at,
                    },
                    receipt,
                })
            })
            .collect();
        Ok(letters)
    }

    async fn delete_dead_letter(&self, receipt: &str) -> Result<(), PortError> {
        let url = self.url().await?;
        self.client
            .delete_message()
            .queue_url(&url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| port_error("sqs", "DeleteMessage", &self.queue, e))?;
        Ok(())
    }
}
