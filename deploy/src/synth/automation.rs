//! The automation stack (and the small artifacts stack it reads the code from).
//!
//! Every function gets its own role, made from its [`Grant`]s, its own log group with
//! a retention, and, when it is invoked asynchronously, its own dead-letter queue.
//! Rules come from `rules::automation_rules`, tables from `table_definitions`,
//! schedules from the settings.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use spa_aws::dynamodb::{TableDefinition, table_definitions};
use spa_aws::sns::member_topics_pattern;
use spa_aws::sqs::MAX_RECEIVES;
use spa_core::events::{DEAD_LETTER_QUEUE_SUFFIX, Job, Label};
use spa_core::rules::{Function, Rule, automation_rules};
use spa_core::settings::{AthenaSource, CostSourceSettings, LogLevel, SecretRef, Settings};

use super::functions::{FunctionSpec, Grant, QueueSource, Trigger, deployed};
use super::iam::{PolicyDocument, Statement};
use super::template::{
    Parameter, Resource, Template, TemplateError, att, if_, logical, r, sorted, sub, tag_list,
};
use super::{LOG_RETENTION_DAYS, Names, SynthOptions};

/// Logical id of the engine's bus.
pub const BUS: &str = "Bus";
/// Logical id of the command queue.
pub const COMMAND_QUEUE: &str = "CommandQueue";
/// Logical id of the budget alerts queue.
pub const BUDGET_QUEUE: &str = "BudgetAlertsQueue";
/// Logical id of the dead-letter queue of EventBridge rule and schedule deliveries.
pub const DELIVERY_DLQ: &str = "DeliveryDeadLetters";
/// The logical id of the relay's dead-letter queue: where its event source mapping
/// sends what it gave up on (where in the stream, not the events: they stay in the
/// outbox until their TTL).
pub const RELAY_DLQ: &str = "RelayDeadLetters";
/// How many times the relay's event source mapping retries a batch before it gives
/// it up to [`RELAY_DLQ`].
pub const RELAY_RETRIES: u32 = 10;
/// Logical id of the reports bucket.
pub const REPORTS_BUCKET: &str = "ReportsBucket";
/// Logical id of the alarm topic.
pub const ALARM_TOPIC: &str = "AlarmTopic";
/// Logical id of the role EventBridge Scheduler assumes.
pub const SCHEDULER_ROLE: &str = "SchedulesRole";
/// Logical id of the response plan.
pub const RESPONSE_PLAN: &str = "ResponsePlan";
/// Condition: the stack creates Incident Manager's replication set.
pub const CREATE_REPLICATION_SET: &str = "CreateReplicationSet";

/// Retention of messages in the queues consumed by functions (4 days).
const SOURCE_RETENTION_SECONDS: u32 = 345_600;
/// Retention of messages in dead-letter queues (14 days, the most SQS allows).
const DLQ_RETENTION_SECONDS: u32 = 1_209_600;
/// Concurrent invocations of a queue's function at most (the Organizations rate).
const QUEUE_CONCURRENCY: u32 = 5;
/// How often the sweeper runs.
pub const SWEEPER_SCHEDULE: &str = "rate(15 minutes)";
/// When the access-key scan runs, when `features.access_key_scan` is on.
pub const ACCESS_KEY_SCAN_SCHEDULE: &str = "cron(0 5 * * ? *)";
/// Time zone of the schedules (the settings' expressions are UTC).
pub const SCHEDULE_TIMEZONE: &str = "UTC";

/// The tags of spa's resources: `automation.tags` and `spa:environment`.
pub fn tags(settings: &Settings) -> BTreeMap<String, String> {
    let mut tags = settings.automation.tags.clone();
    tags.insert(
        "spa:environment".to_owned(),
        settings.environment_identifier.clone(),
    );
    tags
}

/// The artifacts stack: one private, versioned bucket for the `bootstrap` zips.
pub fn artifacts(settings: &Settings, names: &Names) -> Result<Template, TemplateError> {
    let mut t = Template::new(format!(
        "spa {}: the bucket of the function code (bootstrap zips)",
        names.environment
    ));
    t.add(
        "ArtifactBucket",
        Resource::raw(
            "AWS::S3::Bucket",
            json!({
                "BucketName": names.artifacts_bucket,
                "BucketEncryption": sse_s3(),
                "PublicAccessBlockConfiguration": block_public(),
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {"Rules": [{
                    "Id": "old-code",
                    "Status": "Enabled",
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                }]},
                "Tags": tag_list(&tags(settings)),
            }),
        )
        .retained(),
    )?;
    t.add("ArtifactBucketPolicy", tls_only("ArtifactBucket"))?;
    t.output(
        "ArtifactBucket",
        "The bucket `spa deploy` uploads the bootstrap zip to",
        r("ArtifactBucket"),
    );
    Ok(t)
}

fn sse_s3() -> Value {
    json!({"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": true}
    ]})
}

fn block_public() -> Value {
    json!({
        "BlockPublicAcls": true,
        "BlockPublicPolicy": true,
        "IgnorePublicAcls": true,
        "RestrictPublicBuckets": true,
    })
}

/// A bucket policy that refuses every request not made over TLS.
fn tls_only(bucket: &str) -> Resource {
    tls_only_and(bucket, Vec::new())
}

/// A bucket policy that refuses every request not made over TLS, and grants `allow`.
fn tls_only_and(bucket: &str, allow: Vec<Statement>) -> Resource {
    let deny = Statement {
        effect: "Deny",
        ..Statement::allow(
            &["s3:*"],
            vec![att(bucket, "Arn"), sub(format!("${{{bucket}.Arn}}/*"))],
        )
    }
    .sid("DenyInsecureTransport")
    .to(json!("*"))
    .when(json!({"Bool": {"aws:SecureTransport": "false"}}));
    Resource::raw(
        "AWS::S3::BucketPolicy",
        json!({"Bucket": r(bucket), "PolicyDocument": PolicyDocument::new(
            std::iter::once(deny).chain(allow).collect()
        )}),
    )
}

/// Logical ids of one function's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionIds {
    /// `AccountEventsFunction`.
    pub function: String,
    /// `AccountEventsRole`.
    pub role: String,
    /// `AccountEventsLogs`.
    pub logs: String,
    /// `AccountEventsDeadLetters` (asynchronous functions only).
    pub dlq: String,
}

impl FunctionIds {
    /// The ids of the function named `name`.
    pub fn of(name: &str) -> Self {
        let base = logical(name);
        Self {
            function: format!("{base}Function"),
            role: format!("{base}Role"),
            logs: format!("{base}Logs"),
            dlq: format!("{base}DeadLetters"),
        }
    }
}

/// The automation stack.
pub fn automation(
    settings: &Settings,
    names: &Names,
    options: SynthOptions,
) -> Result<Template, TemplateError> {
    let env = &names.environment;
    let specs = deployed(settings, options.upcoming);
    let tags = tags(settings);
    let mut t = Template::new(format!(
        "spa {env}: the automation stack (bus, rules, schedules, queues, functions, tables, reports, alarms)"
    ));
    t.metadata.insert(
        "spa".into(),
        json!({
            "environment": env,
            "functions": specs.iter().map(|s| s.name).collect::<Vec<_>>(),
            "generated_by": format!("spa synth {}", env!("CARGO_PKG_VERSION")),
        }),
    );
    t.parameters.insert(
        "ArtifactBucket".into(),
        Parameter::string("The bucket of the bootstrap zip (output of the artifacts stack)"),
    );
    t.parameters.insert(
        "ArtifactKey".into(),
        Parameter::string("The key of the bootstrap zip in the artifact bucket")
            .pattern("^.+\\.zip$", "the key of a .zip object"),
    );
    t.parameters.insert(
        "OrganizationId".into(),
        Parameter::string(
            "The id of the AWS Organization whose accounts may put events on the bus",
        )
        .pattern(
            "^o-[a-z0-9]{10,32}$",
            "an organization id such as o-a1b2c3d4e5",
        ),
    );

    let account = settings.automation.account_id.as_str();
    bus(&mut t, env, account, &tags)?;
    queues(&mut t, settings, names, &specs, &tags)?;
    tables(&mut t, settings, &tags)?;
    reports_bucket(&mut t, settings, names, &tags)?;
    if settings.features.incident_manager {
        incidents(&mut t, names, &tags)?;
    }
    let dlqs = dead_letter_queues(&specs);
    for spec in &specs {
        function(&mut t, settings, names, spec, &dlqs, &tags)?;
    }
    rules(&mut t, env, account, &specs)?;
    schedules(&mut t, settings, names, &specs)?;
    alarms(&mut t, settings, names, &specs, &tags)?;
    dashboard(&mut t, names, &specs)?;

    t.output("BusArn", "The engine's event bus", att(BUS, "Arn"));
    t.output(
        "CommandQueueUrl",
        "The command queue (spa expire/reset/release without --direct)",
        r(COMMAND_QUEUE),
    );
    t.output("ReportsBucket", "The reports bucket", r(REPORTS_BUCKET));
    t.output(
        "AlarmTopicArn",
        "Subscribe the on-call mailbox or chat to this topic",
        r(ALARM_TOPIC),
    );
    if consumes(&specs, QueueSource::BudgetAlerts) {
        t.output(
            "BudgetAlertsQueueArn",
            "The queue the budget topics of member accounts deliver to",
            att(BUDGET_QUEUE, "Arn"),
        );
    }
    Ok(t)
}

fn consumes(specs: &[FunctionSpec], source: QueueSource) -> bool {
    specs.iter().any(|s| s.trigger() == Trigger::Queue(source))
}

/// Whether the stack has the relay (the outbox's stream read).
fn relays(specs: &[FunctionSpec]) -> bool {
    specs.iter().any(|s| s.trigger() == Trigger::TableStream)
}

/// The logical id of the table whose stream carries the outbox (the transactions
/// table: the one definition with a stream).
pub fn outbox_table_id(settings: &Settings) -> String {
    table_definitions(settings)
        .iter()
        .find(|d| d.stream)
        .map(|d| table_id(settings, d))
        .unwrap_or_default()
}

/// The relay's event source mapping: the transactions table's stream, new outbox
/// items only ([`spa_core::events::stream_filter`]), gathered over a few seconds,
/// partial batch responses (the sequence number to read again from), what it gives
/// up on after [`RELAY_RETRIES`] to [`RELAY_DLQ`].
fn outbox_source(settings: &Settings, function: &str) -> Resource {
    Resource::raw(
        "AWS::Lambda::EventSourceMapping",
        json!({
            "EventSourceArn": att(&outbox_table_id(settings), "StreamArn"),
            "FunctionName": r(function),
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": spa_core::rules::RELAY_BATCH,
            "MaximumBatchingWindowInSeconds": spa_core::rules::RELAY_WINDOW_SECONDS,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": {"Filters": [{"Pattern": spa_core::events::stream_filter().to_string()}]},
            "MaximumRetryAttempts": RELAY_RETRIES,
            "BisectBatchOnFunctionError": false,
            "DestinationConfig": {"OnFailure": {"Destination": att(RELAY_DLQ, "Arn")}},
        }),
    )
}

fn bus(
    t: &mut Template,
    env: &str,
    account: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    t.add(
        BUS,
        Resource::raw(
            "AWS::Events::EventBus",
            json!({"Name": env, "Tags": tag_list(tags)}),
        ),
    )?;
    let statement = Statement::allow(&["events:PutEvents"], vec![att(BUS, "Arn")])
        .sid("OrganizationPutEvents")
        .to(json!({"AWS": "*"}))
        // the accounts of the organization forward the events the rules match, never
        // one of spa's own (`source: spa`): only the automation account speaks as spa,
        // and its own principals need no bus policy
        .when(json!({
            "StringEquals": {"aws:PrincipalOrgID": r("OrganizationId")},
            "ForAllValues:StringEquals": {
                "events:source": spa_core::rules::forwarded_sources(&automation_rules(env, account)),
            },
        }));
    t.add(
        "BusPolicy",
        Resource::raw(
            "AWS::Events::EventBusPolicy",
            json!({
                "EventBusName": r(BUS),
                "StatementId": "OrganizationPutEvents",
                "Statement": statement,
            }),
        ),
    )
}

/// The visibility timeout of a queue its consumers' timeouts ask for.
fn visibility(consumers: &[Function]) -> Option<u32> {
    spa_core::rules::timeouts::visibility_for(consumers)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

fn queue(
    name: &str,
    retention: u32,
    visibility: Option<u32>,
    dlq: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> Resource {
    let mut properties = json!({
        "QueueName": name,
        "MessageRetentionPeriod": retention,
        "SqsManagedSseEnabled": true,
        "Tags": tag_list(tags),
    });
    if let Some(visibility) = visibility {
        properties["VisibilityTimeout"] = json!(visibility);
    }
    if let Some(dlq) = dlq {
        properties["RedrivePolicy"] =
            json!({"deadLetterTargetArn": att(dlq, "Arn"), "maxReceiveCount": MAX_RECEIVES});
    }
    Resource::raw("AWS::SQS::Queue", properties)
}

fn queue_policy(queues: &[&str], statements: Vec<Statement>) -> Resource {
    Resource::raw(
        "AWS::SQS::QueuePolicy",
        json!({
            "Queues": queues.iter().map(|q| r(q)).collect::<Vec<_>>(),
            "PolicyDocument": PolicyDocument::new(statements),
        }),
    )
}

fn queues(
    t: &mut Template,
    settings: &Settings,
    names: &Names,
    specs: &[FunctionSpec],
    tags: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    let env = &names.environment;
    t.add(
        "CommandDeadLetters",
        queue(
            &dead_letter_queue(&names.command_queue),
            DLQ_RETENTION_SECONDS,
            visibility(&[Function::DeadLetters]),
            None,
            tags,
        ),
    )?;
    t.add(
        COMMAND_QUEUE,
        queue(
            &names.command_queue,
            SOURCE_RETENTION_SECONDS,
            visibility(&[Function::Commands]),
            Some("CommandDeadLetters"),
            tags,
        ),
    )?;
    t.add(
        DELIVERY_DLQ,
        queue(
            &dead_letter_queue(&format!("{env}-delivery")),
            DLQ_RETENTION_SECONDS,
            visibility(&[Function::DeadLetters]),
            None,
            tags,
        ),
    )?;
    for spec in specs.iter().filter(|s| s.trigger().is_async()) {
        t.add(
            FunctionIds::of(spec.name).dlq,
            queue(
                &dead_letter_queue(&format!("{env}-{}", spec.name)),
                DLQ_RETENTION_SECONDS,
                visibility(&[Function::DeadLetters]),
                None,
                tags,
            ),
        )?;
    }
    if relays(specs) {
        t.add(
            RELAY_DLQ,
            queue(
                &dead_letter_queue(&format!("{env}-{}", Function::Relay.as_str())),
                DLQ_RETENTION_SECONDS,
                visibility(&[Function::DeadLetters]),
                None,
                tags,
            ),
        )?;
    }
    if consumes(specs, QueueSource::BudgetAlerts) {
        let name = format!("{env}-BudgetAlerts");
        t.add(
            "BudgetAlertsDeadLetters",
            queue(
                &dead_letter_queue(&name),
                DLQ_RETENTION_SECONDS,
                visibility(&[Function::DeadLetters]),
                None,
                tags,
            ),
        )?;
        t.add(
            BUDGET_QUEUE,
            queue(
                &name,
                SOURCE_RETENTION_SECONDS,
                visibility(&[Function::BudgetAlerts]),
                Some("BudgetAlertsDeadLetters"),
                tags,
            ),
        )?;
        // No central topic: AWS Budgets notifies only topics of the budget's own
        // account, so each member account has its `<env>-BudgetAlerts` topic (ensured
        // by the engine with the budget) and SNS delivers from every such topic of the
        // organization, in this region, to this one queue (see `aws::sns`).
        let from_member_topics = |queue: &str| {
            Statement::allow(&["sqs:SendMessage"], vec![att(queue, "Arn")])
                .sid("MemberBudgetTopicsSend")
                .to(json!({"Service": "sns.amazonaws.com"}))
                .when(json!({
                    "ArnLike": {"aws:SourceArn": sub(member_topics_pattern("${AWS::Partition}", "${AWS::Region}", &name))},
                    "StringEquals": {"aws:SourceOrgID": r("OrganizationId")},
                }))
        };
        t.add(
            "BudgetAlertsQueuePolicy",
            queue_policy(&[BUDGET_QUEUE], vec![from_member_topics(BUDGET_QUEUE)]),
        )?;
    }
    let _ = settings;
    Ok(())
}

/// The DynamoDB table of a definition: on demand, encrypted, point-in-time recovery,
/// TTL; keys and indexes exactly as the definition says.
pub fn table(definition: &TableDefinition, tags: &BTreeMap<String, String>) -> Resource {
    let mut attributes: Vec<&str> = vec![&definition.partition_key];
    attributes.extend(definition.sort_key.as_deref());
    for index in &definition.indexes {
        attributes.push(&index.partition_key);
        attributes.push(&index.sort_key);
    }
    attributes.sort_unstable();
    attributes.dedup();
    let mut keys = vec![json!({"AttributeName": definition.partition_key, "KeyType": "HASH"})];
    if let Some(sort) = &definition.sort_key {
        keys.push(json!({"AttributeName": sort, "KeyType": "RANGE"}));
    }
    let mut properties = json!({
        "TableName": definition.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attributes.iter()
            .map(|a| json!({"AttributeName": a, "AttributeType": "S"}))
            .collect::<Vec<_>>(),
        "KeySchema": keys,
        "SSESpecification": {"SSEEnabled": true},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
        "Tags": tag_list(tags),
    });
    if !definition.indexes.is_empty() {
        properties["GlobalSecondaryIndexes"] = definition
            .indexes
            .iter()
            .map(|index| {
                json!({
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                })
            })
            .collect();
    }
    if let Some(ttl) = &definition.ttl_attribute {
        properties["TimeToLiveSpecification"] = json!({"AttributeName": ttl, "Enabled": true});
    }
    if definition.stream {
        properties["StreamSpecification"] = json!({"StreamViewType": "NEW_IMAGE"});
    }
    Resource::raw("AWS::DynamoDB::Table", properties).retained()
}

/// The logical id of a table: `SpaDemo-Activities` → `ActivitiesTable`.
pub fn table_id(settings: &Settings, definition: &TableDefinition) -> String {
    let short = definition
        .name
        .strip_prefix(&format!("{}-", settings.environment_identifier))
        .unwrap_or(&definition.name);
    format!("{}Table", logical(short))
}

fn tables(
    t: &mut Template,
    settings: &Settings,
    tags: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    for definition in table_definitions(settings) {
        t.add(table_id(settings, &definition), table(&definition, tags))?;
    }
    Ok(())
}

fn reports_bucket(
    t: &mut Template,
    settings: &Settings,
    names: &Names,
    tags: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    let reporting = &settings.reporting;
    let prefix = |p: &str| format!("{}/", p.trim_end_matches('/'));
    t.add(
        REPORTS_BUCKET,
        Resource::raw(
            "AWS::S3::Bucket",
            json!({
                "BucketName": names.reports_bucket,
                "BucketEncryption": sse_s3(),
                "PublicAccessBlockConfiguration": block_public(),
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "LifecycleConfiguration": {"Rules": [
                    {
                        "Id": "exceptions",
                        "Status": "Enabled",
                        "Prefix": prefix(&reporting.exceptions_prefix),
                        "ExpirationInDays": 90,
                    },
                    {
                        "Id": "reports",
                        "Status": "Enabled",
                        "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 90}],
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                    },
                ]},
                "Tags": tag_list(tags),
            }),
        )
        .retained(),
    )?;
    t.add(
        "ReportsBucketPolicy",
        reports_bucket_policy(
            &settings.environment_identifier,
            &reporting.exceptions_prefix,
        ),
    )
}

/// The reports bucket's policy: TLS only, and the pre-purge notice's dry runs may put
/// their list there: spa's CodeBuild role of an account of the organization, under
/// that account's own prefix (`<exceptions_prefix>/<account>/`), nothing else.
fn reports_bucket_policy(environment: &str, exceptions_prefix: &str) -> Resource {
    let prefix = exceptions_prefix.trim_matches('/');
    let lists = Statement::allow(
        &["s3:PutObject"],
        vec![sub(format!(
            "${{{REPORTS_BUCKET}.Arn}}/{prefix}/${{!aws:PrincipalAccount}}/*"
        ))],
    )
    .sid("PurgePreviewLists")
    .to(json!({"AWS": "*"}))
    .when(json!({
        "StringEquals": {"aws:PrincipalOrgID": r("OrganizationId")},
        "ArnLike": {"aws:PrincipalArn": sub(format!(
            "arn:${{AWS::Partition}}:iam::*:role/{environment}-CodeBuildRole"
        ))},
    }));
    tls_only_and(REPORTS_BUCKET, vec![lists])
}

fn incidents(
    t: &mut Template,
    names: &Names,
    tags: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    t.parameters.insert(
        "IncidentReplicationSet".into(),
        Parameter::string(
            "`create`: this stack creates Incident Manager's replication set (first on-boarding); `existing`: the account has one",
        )
        .one_of(&["create", "existing"])
        .default("create"),
    );
    t.conditions.insert(
        CREATE_REPLICATION_SET.into(),
        json!({"Fn::Equals": [r("IncidentReplicationSet"), "create"]}),
    );
    t.add(
        "ReplicationSet",
        Resource::raw(
            "AWS::SSMIncidents::ReplicationSet",
            json!({"Regions": [{"RegionName": r("AWS::Region")}], "DeletionProtected": false}),
        )
        .when(CREATE_REPLICATION_SET),
    )?;
    let mut plan_tags = tag_list(tags);
    // references the replication set when the stack creates it, so that the plan
    // comes after it
    plan_tags.push(json!({
        "Key": "spa:replication-set",
        "Value": if_(CREATE_REPLICATION_SET, r("ReplicationSet"), json!("existing")),
    }));
    t.add(
        RESPONSE_PLAN,
        Resource::raw(
            "AWS::SSMIncidents::ResponsePlan",
            json!({
                "Name": names.response_plan,
                "DisplayName": format!("spa {}", names.environment),
                "IncidentTemplate": {
                    "Title": format!("spa {} exception", names.environment),
                    "Impact": 3,
                    "Summary": "An exception raised by spa on a managed account; the title and tags name the account and the label.",
                    "DedupeString": format!("spa-{}", names.environment),
                },
                "Tags": plan_tags,
            }),
        ),
    )?;
    t.output(
        "ResponsePlanArn",
        "The response plan of spa's incidents (features.response_plan_arn)",
        r(RESPONSE_PLAN),
    );
    Ok(())
}

/// `arn:<partition>:ssm:<region>:<account>:parameter/<name>` of an `ssm:/name`
/// reference, or the Secrets Manager ARN pattern of a `secretsmanager:name` one.
fn secret_statement(secret: &SecretRef) -> Option<Statement> {
    let text = secret.as_str();
    if let Some(name) = text.strip_prefix("ssm:") {
        let name = name.trim_start_matches('/');
        return Some(Statement::allow(
            &["ssm:GetParameter"],
            vec![sub(format!(
                "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/{name}"
            ))],
        ));
    }
    let name = text.strip_prefix("secretsmanager:")?;
    let resource = if name.starts_with("arn:") {
        json!(name)
    } else {
        // Secrets Manager appends six random characters to the name in the ARN
        sub(format!(
            "arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{name}-??????"
        ))
    };
    Some(Statement::allow(
        &["secretsmanager:GetSecretValue"],
        vec![resource],
    ))
}

/// The statements of a function's role.
pub fn statements(settings: &Settings, names: &Names, spec: &FunctionSpec) -> Vec<Statement> {
    let ids = FunctionIds::of(spec.name);
    let mut out = vec![
        Statement::allow(
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![att(&ids.logs, "Arn")],
        )
        .sid("OwnLogs"),
        Statement::allow(
            &["ssm:GetParameter"],
            vec![sub(format!(
                "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{}",
                names.settings_parameter
            ))],
        )
        .sid("Settings"),
    ];
    if spec.trigger().is_async() {
        out.push(
            Statement::allow(&["sqs:SendMessage"], vec![att(&ids.dlq, "Arn")])
                .sid("OwnDeadLetters"),
        );
    }
    if let Trigger::Queue(source) = spec.trigger() {
        let queue = match source {
            QueueSource::Commands => COMMAND_QUEUE,
            QueueSource::BudgetAlerts => BUDGET_QUEUE,
        };
        out.push(
            Statement::allow(
                &[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                vec![att(queue, "Arn")],
            )
            .sid("ConsumeQueue"),
        );
    }
    let tables: Vec<Value> = table_definitions(settings)
        .iter()
        .flat_map(|d| {
            let id = table_id(settings, d);
            [att(&id, "Arn"), sub(format!("${{{id}.Arn}}/index/*"))]
        })
        .collect();
    for grant in &spec.grants {
        match grant {
            Grant::ManagementRole => out.push(
                Statement::allow(
                    &["sts:AssumeRole"],
                    vec![json!(settings.automation.management_role_arn.as_str())],
                )
                .sid("ManagementRole"),
            ),
            Grant::OrganizationReader => out.push(
                Statement::allow(
                    &["sts:AssumeRole"],
                    vec![json!(spa_core::rules::organization_reader_role_arn(
                        settings
                    ))],
                )
                .sid("OrganizationReader"),
            ),
            Grant::Store => out.push(
                Statement::allow(
                    &[
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:Query",
                        "dynamodb:BatchWriteItem",
                        // report runs read back the accounts that left
                        "dynamodb:BatchGetItem",
                    ],
                    tables.clone(),
                )
                .sid("Store"),
            ),
            Grant::PublishEvents => out.push(
                Statement::allow(&["events:PutEvents"], vec![att(BUS, "Arn")]).sid("PublishEvents"),
            ),
            Grant::BudgetTopics => {
                let topics = member_topics_pattern(
                    "${AWS::Partition}",
                    "${AWS::Region}",
                    &format!("{}-BudgetAlerts", names.environment),
                );
                out.push(
                    Statement::allow(&["sns:Subscribe"], vec![sub(topics.clone())])
                        .sid("SubscribeBudgetQueue"),
                );
                out.push(
                    Statement::allow(
                        &[
                            "sns:GetSubscriptionAttributes",
                            "sns:SetSubscriptionAttributes",
                        ],
                        vec![sub(format!("{topics}:*"))],
                    )
                    .sid("BudgetSubscriptions"),
                );
            }
            Grant::CurQueries => {
                if let CostSourceSettings::Athena(athena) = &settings.reporting.cost_source {
                    out.extend(cur_statements(settings, athena));
                }
            }
            Grant::SendCommands => out.push(
                Statement::allow(&["sqs:SendMessage"], vec![att(COMMAND_QUEUE, "Arn")])
                    .sid("SendCommands"),
            ),
            Grant::WriteReports => out.push(
                Statement::allow(
                    &["s3:PutObject"],
                    vec![sub(format!("${{{REPORTS_BUCKET}.Arn}}/*"))],
                )
                .sid("WriteReports"),
            ),
            Grant::ReadOutbox => {
                let table = outbox_table_id(settings);
                out.push(
                    Statement::allow(
                        &[
                            "dynamodb:DescribeStream",
                            "dynamodb:GetRecords",
                            "dynamodb:GetShardIterator",
                            "dynamodb:ListStreams",
                        ],
                        vec![sub(format!("${{{table}.Arn}}/stream/*"))],
                    )
                    .sid("ReadOutbox"),
                );
                out.push(
                    Statement::allow(&["sqs:SendMessage"], vec![att(RELAY_DLQ, "Arn")])
                        .sid("RelayDeadLetters"),
                );
            }
            Grant::ArchiveDeadLetters => out.push(
                Statement::allow(
                    &["s3:PutObject"],
                    vec![sub(format!(
                        "${{{REPORTS_BUCKET}.Arn}}/{}/*",
                        spa_usecases::ARCHIVE_PREFIX
                    ))],
                )
                .sid("ArchiveDeadLetters"),
            ),
            Grant::ReadReports => out.push(
                Statement::allow(
                    &["s3:GetObject"],
                    vec![sub(format!("${{{REPORTS_BUCKET}.Arn}}/*"))],
                )
                .sid("ReadReports"),
            ),
            Grant::ChatWebhooks | Grant::SlackApp | Grant::SlackBot => {
                let n = &settings.notifications;
                let refs = match grant {
                    Grant::ChatWebhooks => [&n.slack_webhook, &n.teams_webhook],
                    Grant::SlackApp => [&n.slack_signing_secret, &n.slack_bot_token],
                    _ => [&n.slack_bot_token, &None],
                };
                let mut ssm = Vec::new();
                let mut manager = Vec::new();
                for statement in refs.into_iter().flatten().filter_map(secret_statement) {
                    if statement.action[0].starts_with("ssm:") {
                        ssm.extend(statement.resource);
                    } else {
                        manager.extend(statement.resource);
                    }
                }
                // one function may hold the webhooks and the bot token: Sids stay unique
                let (parameters, values) = match grant {
                    Grant::SlackBot => ("BotTokenParameter", "BotTokenValue"),
                    _ => ("SecretParameters", "SecretValues"),
                };
                if !ssm.is_empty() {
                    out.push(Statement::allow(&["ssm:GetParameter"], ssm).sid(parameters));
                }
                if !manager.is_empty() {
                    out.push(
                        Statement::allow(&["secretsmanager:GetSecretValue"], manager).sid(values),
                    );
                }
            }
            Grant::Mail => {
                if let Some(sender) = &settings.notifications.email_sender {
                    let address = sender.as_str();
                    let domain = address.rsplit('@').next().unwrap_or(address);
                    out.push(
                        Statement::allow(
                            &["ses:SendEmail", "ses:SendRawEmail"],
                            vec![
                                sub(format!("arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:identity/{address}")),
                                sub(format!("arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:identity/{domain}")),
                            ],
                        )
                        .sid("Mail"),
                    );
                }
            }
            Grant::Incidents => {
                // by its ARN, not a reference: the role does not wait for the plan
                let plan = match &settings.features.response_plan_arn {
                    Some(arn) => json!(arn),
                    None => sub(format!(
                        "arn:${{AWS::Partition}}:ssm-incidents::${{AWS::AccountId}}:response-plan/{}",
                        names.response_plan
                    )),
                };
                out.push(
                    Statement::allow(&["ssm-incidents:StartIncident"], vec![plan])
                        .sid("StartIncidents"),
                );
                out.push(
                    Statement::allow(
                        &[
                            "ssm-incidents:GetIncidentRecord",
                            "ssm-incidents:UpdateIncidentRecord",
                            "ssm-incidents:CreateTimelineEvent",
                            "ssm-incidents:TagResource",
                        ],
                        vec![sub(format!(
                            "arn:${{AWS::Partition}}:ssm-incidents::${{AWS::AccountId}}:incident-record/{}/*",
                            names.response_plan
                        ))],
                    )
                    .sid("UpdateIncidents"),
                );
            }
        }
    }
    out
}

fn log_level(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    }
}

/// `arm64` or `x86_64`, as `features.arm_architecture` says.
pub fn architecture(settings: &Settings) -> &'static str {
    if settings.features.arm_architecture {
        "arm64"
    } else {
        "x86_64"
    }
}

fn function(
    t: &mut Template,
    settings: &Settings,
    names: &Names,
    spec: &FunctionSpec,
    dlqs: &[(String, String)],
    tags: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    spa_core::rules::timeouts::check(spec.function).map_err(TemplateError::Timeouts)?;
    let ids = FunctionIds::of(spec.name);
    let mut policy = statements(settings, names, spec);
    if spec.trigger() == Trigger::DeadLetterQueues {
        policy.push(consume_dead_letters(dlqs));
    }
    let name = format!("{}-{}", names.environment, spec.name);
    t.add(
        &ids.logs,
        Resource::raw(
            "AWS::Logs::LogGroup",
            json!({
                "LogGroupName": format!("/aws/lambda/{name}"),
                "RetentionInDays": LOG_RETENTION_DAYS,
                "Tags": tag_list(tags),
            }),
        ),
    )?;
    t.add(
        &ids.role,
        Resource::raw(
            "AWS::IAM::Role",
            json!({
                "RoleName": name,
                "Description": format!("spa {}: the {} function", names.environment, spec.name),
                "AssumeRolePolicyDocument": PolicyDocument::trust_service("lambda.amazonaws.com", None),
                "Policies": [{
                    "PolicyName": "spa",
                    "PolicyDocument": PolicyDocument::new(policy),
                }],
                "Tags": tag_list(tags),
            }),
        ),
    )?;
    let mut properties = json!({
        "FunctionName": name,
        "Description": spec.description,
        "Role": att(&ids.role, "Arn"),
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Architectures": [architecture(settings)],
        "Code": {"S3Bucket": r("ArtifactBucket"), "S3Key": r("ArtifactKey")},
        "MemorySize": spec.memory_mb,
        "Timeout": spec.timeout_seconds(),
        "Environment": {"Variables": {
            "SPA_SETTINGS": format!("ssm:{}", names.settings_parameter),
            "SPA_FUNCTION": spec.name,
            "SPA_EVENT_BUS": att(BUS, "Arn"),
            "SPA_COMMAND_QUEUE_URL": r(COMMAND_QUEUE),
            "SPA_LOG": log_level(settings.automation.log_level),
        }},
        "Tags": tag_list(tags),
    });
    if spec.trigger().is_async() {
        properties["DeadLetterConfig"] = json!({"TargetArn": att(&ids.dlq, "Arn")});
    }
    t.add(
        &ids.function,
        Resource::raw("AWS::Lambda::Function", properties).after(&[&ids.logs]),
    )?;
    match spec.trigger() {
        Trigger::FunctionUrl => {
            let url = format!("{}Url", logical(spec.name));
            t.add(
                &url,
                Resource::raw(
                    "AWS::Lambda::Url",
                    json!({
                        "AuthType": "NONE",
                        "TargetFunctionArn": att(&ids.function, "Arn"),
                        "InvokeMode": "BUFFERED",
                    }),
                ),
            )?;
            // since October 2025 a public URL needs both permissions
            t.add(
                format!("{}UrlPermission", logical(spec.name)),
                Resource::raw(
                    "AWS::Lambda::Permission",
                    json!({
                        "Action": "lambda:InvokeFunctionUrl",
                        "FunctionName": r(&ids.function),
                        "Principal": "*",
                        "FunctionUrlAuthType": "NONE",
                    }),
                ),
            )?;
            t.add(
                format!("{}UrlInvokePermission", logical(spec.name)),
                Resource::raw(
                    "AWS::Lambda::Permission",
                    json!({
                        "Action": "lambda:InvokeFunction",
                        "FunctionName": r(&ids.function),
                        "Principal": "*",
                        "InvokedViaFunctionUrl": true,
                    }),
                ),
            )?;
            t.output(
                &format!("{}Url", logical(spec.name)),
                "The Slack slash command's Request URL (the app's slash command settings)",
                att(&url, "FunctionUrl"),
            );
        }
        Trigger::Queue(source) => {
            let queue = match source {
                QueueSource::Commands => COMMAND_QUEUE,
                QueueSource::BudgetAlerts => BUDGET_QUEUE,
            };
            t.add(
                format!("{}Source", logical(spec.name)),
                queue_source(queue, &ids.function, QUEUE_CONCURRENCY),
            )?;
        }
        Trigger::TableStream => {
            t.add(
                format!("{}Source", logical(spec.name)),
                outbox_source(settings, &ids.function),
            )?;
        }
        Trigger::DeadLetterQueues => {
            for (queue, _) in dlqs {
                t.add(
                    format!("{}From{queue}", logical(spec.name)),
                    queue_source(queue, &ids.function, 2),
                )?;
            }
        }
        _ => {
            t.add(
                format!("{}InvokeConfig", logical(spec.name)),
                Resource::raw(
                    "AWS::Lambda::EventInvokeConfig",
                    json!({
                        "FunctionName": r(&ids.function),
                        "Qualifier": "$LATEST",
                        "MaximumRetryAttempts": 2,
                        "MaximumEventAgeInSeconds": 21_600,
                    }),
                ),
            )?;
        }
    }
    Ok(())
}

/// An EventBridge rule of the engine's bus to `function`, with its dead-letter queue.
fn bus_rule(
    t: &mut Template,
    id: &str,
    name: &str,
    description: &str,
    pattern: &Value,
    function: &str,
) -> Result<(), TemplateError> {
    let ids = FunctionIds::of(function);
    t.add(
        id,
        Resource::raw(
            "AWS::Events::Rule",
            json!({
                "Name": name,
                "Description": description,
                "EventBusName": r(BUS),
                "EventPattern": pattern,
                "State": "ENABLED",
                "Targets": [{
                    "Id": "function",
                    "Arn": att(&ids.function, "Arn"),
                    "DeadLetterConfig": {"Arn": att(DELIVERY_DLQ, "Arn")},
                    "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86_400},
                }],
            }),
        ),
    )?;
    t.add(
        format!("{id}Permission"),
        Resource::raw(
            "AWS::Lambda::Permission",
            json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": r(&ids.function),
                "Principal": "events.amazonaws.com",
                "SourceArn": att(id, "Arn"),
            }),
        ),
    )
}

/// The logical id of an `automation_rules` rule: `SpaDemo-AccountEvents` → `AccountEventsRule`.
pub fn rule_id(env: &str, rule: &Rule) -> String {
    let short = rule
        .name
        .strip_prefix(&format!("{env}-"))
        .unwrap_or(&rule.name);
    format!("{}Rule", logical(short))
}

fn rules(
    t: &mut Template,
    env: &str,
    account: &str,
    specs: &[FunctionSpec],
) -> Result<(), TemplateError> {
    let mut rule_ids = Vec::new();
    for rule in automation_rules(env, account) {
        // a rule whose function is not deployed would have no target
        if !specs.iter().any(|s| s.name == rule.target.as_str()) {
            continue;
        }
        let id = rule_id(env, &rule);
        bus_rule(
            t,
            &id,
            &rule.name,
            rule.description,
            &rule.pattern,
            rule.target.as_str(),
        )?;
        rule_ids.push(id);
    }
    let delivery = Statement::allow(&["sqs:SendMessage"], vec![att(DELIVERY_DLQ, "Arn")])
        .sid("RulesDeadLetters")
        .to(json!({"Service": "events.amazonaws.com"}))
        .when(json!({"ArnEquals": {"aws:SourceArn": rule_ids.iter().map(|id| att(id, "Arn")).collect::<Vec<_>>()}}));
    t.add(
        "DeliveryDeadLettersPolicy",
        queue_policy(&[DELIVERY_DLQ], vec![delivery]),
    )
}

/// The bucket and the key prefix of an `s3://bucket/prefix` location.
fn s3_parts(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("s3://").unwrap_or(url);
    rest.split_once('/').unwrap_or((rest, ""))
}

/// What Athena needs of its caller for one CUR 2.0 query (Athena runs the query with
/// the caller's permissions): the workgroup, the Glue catalog entries of the table,
/// the export's data (read only) and the results' location.
fn cur_statements(settings: &Settings, athena: &AthenaSource) -> Vec<Statement> {
    let region = athena
        .region
        .as_ref()
        .map_or_else(|| settings.automation.region.as_str(), |r| r.as_str());
    let glue = |what: &str| {
        sub(format!(
            "arn:${{AWS::Partition}}:glue:{region}:${{AWS::AccountId}}:{what}"
        ))
    };
    let (data_bucket, data_prefix) = s3_parts(athena.data_location.as_str());
    let (out_bucket, out_prefix) = s3_parts(athena.output_location.as_str());
    let bucket = |b: &str| sub(format!("arn:${{AWS::Partition}}:s3:::{b}"));
    let objects = |b: &str, p: &str| sub(format!("arn:${{AWS::Partition}}:s3:::{b}/{p}*"));
    vec![
        Statement::allow(
            &[
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
            ],
            vec![sub(format!(
                "arn:${{AWS::Partition}}:athena:{region}:${{AWS::AccountId}}:workgroup/{}",
                athena.workgroup.as_str()
            ))],
        )
        .sid("CurQueries"),
        Statement::allow(
            &["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
            vec![
                glue("catalog"),
                glue(&format!("database/{}", athena.database.as_str())),
                glue(&format!(
                    "table/{}/{}",
                    athena.database.as_str(),
                    athena.table.as_str()
                )),
            ],
        )
        .sid("CurTable"),
        Statement::allow(
            &["s3:GetBucketLocation", "s3:ListBucket"],
            vec![bucket(data_bucket), bucket(out_bucket)],
        )
        .sid("CurBuckets"),
        Statement::allow(&["s3:GetObject"], vec![objects(data_bucket, data_prefix)]).sid("CurData"),
        Statement::allow(
            &["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            vec![objects(out_bucket, out_prefix)],
        )
        .sid("CurResults"),
    ]
}

/// One schedule of the scheduler function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// `<env>-<what>`.
    pub name: String,
    /// The job of its input.
    pub job: Job,
    /// Which report schedule, for `reports` (`costs`, `inventory`, `activities`).
    pub report: Option<&'static str>,
    /// `cron(...)` or `rate(...)`.
    pub expression: String,
}

/// The schedules the settings ask for.
pub fn schedule_specs(settings: &Settings) -> Vec<ScheduleSpec> {
    let env = &settings.environment_identifier;
    let one = |what: &str, job: Job, report: Option<&'static str>, expression: &str| ScheduleSpec {
        name: format!("{env}-{what}"),
        job,
        report,
        expression: expression.to_owned(),
    };
    let s = &settings.reporting.schedules;
    let mut specs = vec![
        one(
            "maintenance-window",
            Job::MaintenanceWindow,
            None,
            settings.automation.maintenance_window.as_str(),
        ),
        one("sweeper", Job::Sweeper, None, SWEEPER_SCHEDULE),
        one(
            "reports-costs",
            Job::Reports,
            Some("costs"),
            s.costs.as_str(),
        ),
        one(
            "reports-inventory",
            Job::Reports,
            Some("inventory"),
            s.inventory.as_str(),
        ),
        one(
            "reports-activities",
            Job::Reports,
            Some("activities"),
            s.activities.as_str(),
        ),
    ];
    // always: the digest job also runs the residual cost check after purges, and
    // skips only the chat digest when `features.daily_digest` is off
    specs.push(one("digest", Job::Digest, None, s.digest.as_str()));
    if settings.features.access_key_scan {
        specs.push(one(
            "access-key-scan",
            Job::AccessKeyScan,
            None,
            ACCESS_KEY_SCAN_SCHEDULE,
        ));
    }
    specs
}

/// The input a schedule hands the scheduler function (`events::scheduler` decodes it).
pub fn schedule_input(spec: &ScheduleSpec) -> String {
    let mut input = json!({
        "job": spec.job.as_str(),
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    });
    if let Some(report) = spec.report {
        input["report"] = json!(report);
    }
    sorted(input).to_string()
}

fn schedules(
    t: &mut Template,
    settings: &Settings,
    names: &Names,
    specs: &[FunctionSpec],
) -> Result<(), TemplateError> {
    let Some(scheduler) = specs.iter().find(|s| s.trigger() == Trigger::Schedules) else {
        return Ok(());
    };
    let target = FunctionIds::of(scheduler.name).function;
    t.add(
        SCHEDULER_ROLE,
        Resource::raw(
            "AWS::IAM::Role",
            json!({
                "RoleName": format!("{}-schedules", names.environment),
                "Description": "EventBridge Scheduler: invokes the scheduler function",
                "AssumeRolePolicyDocument": PolicyDocument::trust_service(
                    "scheduler.amazonaws.com",
                    Some(json!({"StringEquals": {"aws:SourceAccount": r("AWS::AccountId")}})),
                ),
                "Policies": [{
                    "PolicyName": "spa",
                    "PolicyDocument": PolicyDocument::new(vec![
                        Statement::allow(&["lambda:InvokeFunction"], vec![att(&target, "Arn")]).sid("Invoke"),
                        Statement::allow(&["sqs:SendMessage"], vec![att(DELIVERY_DLQ, "Arn")]).sid("DeadLetters"),
                    ]),
                }],
            }),
        ),
    )?;
    for spec in schedule_specs(settings) {
        let short = spec
            .name
            .strip_prefix(&format!("{}-", names.environment))
            .unwrap_or(&spec.name);
        t.add(
            format!("{}Schedule", logical(short)),
            Resource::raw(
                "AWS::Scheduler::Schedule",
                json!({
                    "Name": spec.name,
                    "Description": format!("spa: the {} job", spec.job),
                    "ScheduleExpression": spec.expression,
                    "ScheduleExpressionTimezone": SCHEDULE_TIMEZONE,
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "State": "ENABLED",
                    "Target": {
                        "Arn": att(&target, "Arn"),
                        "RoleArn": att(SCHEDULER_ROLE, "Arn"),
                        "Input": schedule_input(&spec),
                        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3_600},
                        "DeadLetterConfig": {"Arn": att(DELIVERY_DLQ, "Arn")},
                    },
                }),
            ),
        )?;
    }
    Ok(())
}

/// The `dead-letters` function reads and deletes the messages of every dead-letter
/// queue of the stack, and nothing else.
pub fn consume_dead_letters(dlqs: &[(String, String)]) -> Statement {
    Statement::allow(
        &[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ],
        dlqs.iter().map(|(queue, _)| att(queue, "Arn")).collect(),
    )
    .sid("ConsumeDeadLetters")
}

/// The name of the dead-letter queue of `queue` (or of a family of targets): the
/// suffix by which the engine knows a batch comes from a dead-letter queue.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}{DEAD_LETTER_QUEUE_SUFFIX}")
}

/// An SQS event source mapping from `queue` to `function` (logical ids): batches of 10,
/// partial batch responses, at most `concurrency` invocations at once (2 is Lambda's
/// floor).
fn queue_source(queue: &str, function: &str, concurrency: u32) -> Resource {
    Resource::raw(
        "AWS::Lambda::EventSourceMapping",
        json!({
            "EventSourceArn": att(queue, "Arn"),
            "FunctionName": r(function),
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": concurrency},
        }),
    )
}

/// The dead-letter queues of the stack (logical ids), with what they keep.
pub fn dead_letter_queues(specs: &[FunctionSpec]) -> Vec<(String, String)> {
    let mut dlqs = vec![
        (
            "CommandDeadLetters".to_owned(),
            "account commands that kept failing".to_owned(),
        ),
        (
            DELIVERY_DLQ.to_owned(),
            "events and schedules that could not be delivered".to_owned(),
        ),
    ];
    for spec in specs.iter().filter(|s| s.trigger().is_async()) {
        dlqs.push((
            FunctionIds::of(spec.name).dlq,
            format!("events the {} function kept failing on", spec.name),
        ));
    }
    if relays(specs) {
        dlqs.push((
            RELAY_DLQ.to_owned(),
            "batches of the outbox the relay could not put on the bus".to_owned(),
        ));
    }
    if consumes(specs, QueueSource::BudgetAlerts) {
        dlqs.push((
            "BudgetAlertsDeadLetters".to_owned(),
            "budget alerts that kept failing".to_owned(),
        ));
    }
    dlqs
}

fn alarm(name: String, description: String, metric: Value) -> Resource {
    let mut properties = json!({
        "AlarmName": name,
        "AlarmDescription": description,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0,
        "EvaluationPeriods": 1,
        "Period": 300,
        "TreatMissingData": "notBreaching",
        "AlarmActions": [r(ALARM_TOPIC)],
    });
    if let (Some(target), Some(source)) = (properties.as_object_mut(), metric.as_object()) {
        target.extend(source.clone());
    }
    Resource::raw("AWS::CloudWatch::Alarm", properties)
}

fn alarms(
    t: &mut Template,
    settings: &Settings,
    names: &Names,
    specs: &[FunctionSpec],
    tags: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    let env = &names.environment;
    t.add(
        ALARM_TOPIC,
        Resource::raw(
            "AWS::SNS::Topic",
            json!({"TopicName": format!("{env}-Alarms"), "Tags": tag_list(tags)}),
        ),
    )?;
    let publish = Statement::allow(&["sns:Publish"], vec![r(ALARM_TOPIC)])
        .sid("CloudWatchAlarms")
        .to(json!({"Service": "cloudwatch.amazonaws.com"}))
        .when(json!({"StringEquals": {"aws:SourceAccount": r("AWS::AccountId")}}));
    t.add(
        "AlarmTopicPolicy",
        Resource::raw(
            "AWS::SNS::TopicPolicy",
            json!({"Topics": [r(ALARM_TOPIC)], "PolicyDocument": PolicyDocument::new(vec![publish])}),
        ),
    )?;
    for (id, what) in dead_letter_queues(specs) {
        t.add(
            format!("{id}Alarm"),
            alarm(
                format!("{env}-{id}"),
                format!("A dead-letter queue holds {what}: read them, fix, replay (spa handle)"),
                json!({
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": att(&id, "QueueName")}],
                    "Statistic": "Maximum",
                }),
            ),
        )?;
    }
    for spec in specs {
        let ids = FunctionIds::of(spec.name);
        t.add(
            format!("{}ErrorsAlarm", logical(spec.name)),
            alarm(
                format!("{env}-{}-errors", spec.name),
                format!("The {} function failed", spec.name),
                json!({
                    "Namespace": "AWS/Lambda",
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": r(&ids.function)}],
                    "Statistic": "Sum",
                }),
            ),
        )?;
    }
    for label in Label::ALL.into_iter().filter(|l| l.is_exception()) {
        t.add(
            format!("{}Alarm", label.as_str()),
            alarm(
                format!("{env}-exception-{}", label.as_str()),
                format!("spa raised {} exceptions", label.as_str()),
                json!({
                    "Namespace": spa_core::emf::NAMESPACE,
                    "MetricName": EXCEPTIONS_METRIC,
                    "Dimensions": [
                        {"Name": "Environment", "Value": env},
                        {"Name": "Label", "Value": label.as_str()},
                    ],
                    "Statistic": "Sum",
                }),
            ),
        )?;
    }
    let _ = settings;
    Ok(())
}

/// The EMF metric of raised exceptions, with dimensions `Environment` and `Label`
/// (written by the handlers, see `spa_core::emf::EXCEPTIONS`).
pub const EXCEPTIONS_METRIC: &str = spa_core::emf::EXCEPTIONS;

fn dashboard(t: &mut Template, names: &Names, specs: &[FunctionSpec]) -> Result<(), TemplateError> {
    let env = &names.environment;
    let ns = spa_core::emf::NAMESPACE;
    let mut widgets = Vec::new();
    let mut widget = |title: &str, metrics: Vec<Value>, stat: &str| {
        let index = widgets.len();
        widgets.push(json!({
            "type": "metric",
            "x": (index % 2) * 12,
            "y": (index / 2) * 6,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": "${AWS::Region}",
                "stat": stat,
                "period": 300,
                "view": "timeSeries",
                "metrics": metrics,
            },
        }));
    };
    let per_function = |metric: &str| -> Vec<Value> {
        specs
            .iter()
            .map(|s| {
                json!([
                    "AWS/Lambda",
                    metric,
                    "FunctionName",
                    format!("{env}-{}", s.name)
                ])
            })
            .collect()
    };
    widget("Invocations", per_function("Invocations"), "Sum");
    widget("Errors", per_function("Errors"), "Sum");
    widget(
        "Lifecycle",
        [
            "Transitions",
            "BuildsStarted",
            "Duplicates",
            "FailedRecords",
        ]
        .iter()
        .flat_map(|m| specs.iter().map(move |s| (m, s)))
        .map(|(m, s)| json!([ns, m, "Environment", env, "Function", s.name]))
        .collect(),
        "Sum",
    );
    widget(
        "Exceptions by label",
        Label::ALL
            .into_iter()
            .filter(|l| l.is_exception())
            .map(|l| {
                json!([
                    ns,
                    EXCEPTIONS_METRIC,
                    "Environment",
                    env,
                    "Label",
                    l.as_str()
                ])
            })
            .collect(),
        "Sum",
    );
    let mut queues: Vec<String> = vec![names.command_queue.clone()];
    queues.push(dead_letter_queue(&names.command_queue));
    queues.push(dead_letter_queue(&format!("{env}-delivery")));
    queues.extend(
        specs
            .iter()
            .filter(|s| s.trigger().is_async())
            .map(|s| dead_letter_queue(&format!("{env}-{}", s.name))),
    );
    widget(
        "Queues (visible messages)",
        queues
            .iter()
            .map(|q| {
                json!([
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    q
                ])
            })
            .collect(),
        "Maximum",
    );
    let body = sorted(json!({ "widgets": widgets })).to_string();
    t.add(
        "Dashboard",
        Resource::raw(
            "AWS::CloudWatch::Dashboard",
            json!({"DashboardName": format!("{env}-spa"), "DashboardBody": sub(body)}),
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn schedules_follow_the_settings() {
        let mut settings = crate::synth::tests::settings();
        let specs = schedule_specs(&settings);
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "SpaDemo-maintenance-window",
                "SpaDemo-sweeper",
                "SpaDemo-reports-costs",
                "SpaDemo-reports-inventory",
                "SpaDemo-reports-activities",
                "SpaDemo-digest",
                "SpaDemo-access-key-scan"
            ]
        );
        assert_eq!(specs[0].expression, "cron(0 18 ? * SAT *)");
        settings.features.daily_digest = false;
        settings.features.access_key_scan = false;
        // the digest job stays: it runs the residual cost check too
        let names: Vec<String> = schedule_specs(&settings)
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names.len(), 6);
        assert!(names.contains(&"SpaDemo-digest".to_owned()), "{names:?}");
    }

    #[test]
    fn schedule_inputs_decode_as_the_jobs() {
        let settings = crate::synth::tests::settings();
        for spec in schedule_specs(&settings) {
            let input = schedule_input(&spec)
                .replace("<aws.scheduler.scheduled-time>", "2026-11-21T18:00:00Z");
            let decoded = spa_core::events::decode(input.as_bytes());
            let Ok(spa_core::events::Incoming::Scheduled(job)) = decoded else {
                panic!("{input} decodes as a scheduled job: {decoded:?}");
            };
            assert_eq!(job.job, spec.job);
        }
    }

    #[test]
    fn secret_references_become_their_arns() {
        let ssm = secret_statement(&SecretRef("ssm:/spa/demo/slack".into())).unwrap();
        assert_eq!(ssm.action, ["ssm:GetParameter"]);
        assert_eq!(
            ssm.resource[0],
            sub(
                "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/spa/demo/slack"
            )
        );
        let sm = secret_statement(&SecretRef("secretsmanager:spa/demo/sign".into())).unwrap();
        assert_eq!(sm.action, ["secretsmanager:GetSecretValue"]);
        assert!(
            sm.resource[0]
                .to_string()
                .contains("secret:spa/demo/sign-??????")
        );
        assert!(secret_statement(&SecretRef("vault:x".into())).is_none());
    }
}
