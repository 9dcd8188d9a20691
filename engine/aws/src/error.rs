//! SDK errors, turned into typed [`PortError`]s once the SDK's retries are spent.

use std::error::Error;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use spa_usecases::ports::PortError;

/// Error codes that mean "you may not": a missing or misconfigured role, an SCP.
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "AWSOrganizationsNotInUseException",
];

/// Error codes that mean "try again later" (left after the SDK's own retries).
const TRANSIENT: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "InternalError",
    "InternalServerException",
    "ServiceException",
    "ConcurrentModificationException",
    "SlowDown",
    // DynamoDB transactions: spa's carry no condition, so a cancelled one met a
    // conflicting write or a throttle
    "TransactionCanceledException",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// Turns an SDK error of `service`'s `action` about `id` into a [`PortError`].
///
/// `id` names the resource for `NotFound` (an account id, a table, a parameter).
pub fn port_error<E, R>(service: &str, action: &str, id: &str, error: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let unavailable = |message: String| PortError::Unavailable {
        service: service.to_owned(),
        message: format!("{action}: {message}"),
    };
    match &error {
        SdkError::ServiceError(context) => {
            let err = context.err();
            let code = err.code().unwrap_or("Unknown");
            let message = err.message().unwrap_or("no message").to_owned();
            classify(service, action, id, code, message)
        }
        SdkError::TimeoutError(_) => unavailable("timed out".to_owned()),
        SdkError::DispatchFailure(_) => dispatch_failure(service, action, &error),
        SdkError::ResponseError(_) => unavailable("unreadable response".to_owned()),
        SdkError::ConstructionFailure(_) => PortError::Rejected {
            service: service.to_owned(),
            action: action.to_owned(),
            message: format!("the request could not be built: {}", source_chain(&error)),
        },
        _ => unavailable(source_chain(&error)),
    }
}

/// The classification of a service error code.
pub fn classify(service: &str, action: &str, id: &str, code: &str, message: String) -> PortError {
    if DENIED.contains(&code) {
        PortError::Denied {
            service: service.to_owned(),
            action: action.to_owned(),
            message: format!("{code}: {message}"),
        }
    } else if TRANSIENT.contains(&code) {
        PortError::Unavailable {
            service: service.to_owned(),
            message: format!("{action}: {code}: {message}"),
        }
    } else if code.ends_with("NotFoundException")
        || code.ends_with("NotFound")
        || matches!(
            code,
            "NoSuchEntity"
                | "NoSuchKey"
                | "NoSuchBucket"
                | "ParameterNotFound"
                | "QueueDoesNotExist"
                | "AWS.SimpleQueueService.NonExistentQueue"
        )
    {
        PortError::not_found(missing(service, action, code), id)
    } else {
        PortError::Rejected {
            service: service.to_owned(),
            action: action.to_owned(),
            message: format!("{code}: {message}"),
        }
    }
}

/// What a "not found" of `service`'s `action` is about, as the user knows it: the
/// service and the kind of resource (an account or OU of Organizations is
/// [`PortError::ORGANIZATION`]).
fn missing(service: &str, action: &str, code: &str) -> &'static str {
    match service {
        "organizations" => PortError::ORGANIZATION,
        "dynamodb" => "DynamoDB table",
        "ssm" => "SSM parameter",
        "iam" if action == "AttachRolePolicy" => "IAM policy",
        "iam" if action.contains("AccessKey") => "IAM access key",
        "iam" if action.contains("LoginProfile") => "IAM login profile",
        "iam" if action.contains("User") => "IAM user",
        "iam" | "sts" => "IAM role",
        "s3" if code == "NoSuchKey" => "S3 object",
        "s3" => "S3 bucket",
        "secretsmanager" => "Secrets Manager secret",
        "sqs" => "SQS queue",
        "sns" if action.contains("Subscription") => "SNS subscription",
        "sns" => "SNS topic",
        "events" if action.contains("Rule") => "EventBridge rule",
        "events" => "EventBridge bus",
        "codebuild" if action.contains("Builds") => "CodeBuild build",
        "codebuild" => "CodeBuild project",
        "cloudformation" => "CloudFormation stack",
        "budgets" => "budget",
        "ssm-incidents" if action == "StartIncident" => "Incident Manager response plan",
        "ssm-incidents" => "Incident Manager incident record",
        "sesv2" => "SES identity",
        "athena" => "Athena resource",
        "ec2" => "EC2 resource",
        _ => "resource",
    }
}

/// The sources of a dispatch failure, as text (never the SDK's `Debug`).
fn dispatch_failure<E, R>(service: &str, action: &str, error: &SdkError<E, R>) -> PortError
where
    E: Error + 'static,
    R: std::fmt::Debug,
{
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(credentials) = inner.downcast_ref::<CredentialsError>() {
            let message = match credentials {
                CredentialsError::CredentialsNotLoaded(_) => format!("{NO_CREDENTIALS} were found"),
                other => format!("{NO_CREDENTIALS} could be loaded ({})", source_chain(other)),
            };
            return PortError::Denied {
                service: service.to_owned(),
                action: action.to_owned(),
                message,
            };
        }
        source = inner.source();
    }
    PortError::Unavailable {
        service: service.to_owned(),
        message: format!("{action}: could not send: {}", source_chain(error)),
    }
}

/// How the message of the [`PortError::Denied`] of a call made without credentials
/// begins: "no AWS credentials were found" (none in the environment, a profile, SSO
/// or an instance role), or "... could be loaded (why)". See [`no_credentials`].
pub const NO_CREDENTIALS: &str = "no AWS credentials";

/// When `error` is a call made without credentials, what is wrong with them (the fix
/// is the caller's: a profile, or the emulator's endpoint).
pub fn no_credentials(error: &PortError) -> Option<&str> {
    match error {
        PortError::Denied { message, .. } if message.starts_with(NO_CREDENTIALS) => Some(message),
        _ => None,
    }
}

fn source_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        let c = |code: &str| {
            classify(
                "organizations",
                "TagResource",
                "222222222222",
                code,
                "m".into(),
            )
        };
        assert!(matches!(
            c("AccessDeniedException"),
            PortError::Denied { .. }
        ));
        assert!(matches!(
            c("TooManyRequestsException"),
            PortError::Unavailable { .. }
        ));
        assert!(c("ThrottlingException").is_transient());
        assert!(c("TransactionCanceledException").is_transient());
        assert_eq!(
            c("AccountNotFoundException"),
            PortError::not_in_organization("222222222222")
        );
        assert_eq!(
            c("AccountNotFoundException").to_string(),
            "`222222222222` is not in the organization"
        );
        assert!(matches!(
            c("InvalidInputException"),
            PortError::Rejected { .. }
        ));
    }

    #[test]
    fn a_missing_resource_is_named_with_its_service_and_kind() {
        let said = |service: &str, action: &str, id: &str, code: &str| {
            classify(service, action, id, code, "m".into()).to_string()
        };
        assert_eq!(
            said(
                "dynamodb",
                "Query",
                "SpaDemo-Transactions",
                "ResourceNotFoundException"
            ),
            "DynamoDB table `SpaDemo-Transactions` does not exist"
        );
        assert_eq!(
            said(
                "ssm",
                "GetParameter",
                "/SpaDemo/settings",
                "ParameterNotFound"
            ),
            "SSM parameter `/SpaDemo/settings` does not exist"
        );
        assert_eq!(
            said("iam", "GetRole", "SpaDemo-CodeBuildRole", "NoSuchEntity"),
            "IAM role `SpaDemo-CodeBuildRole` does not exist"
        );
        // the footprint attaches a managed policy to a role it has just ensured
        assert_eq!(
            said(
                "iam",
                "AttachRolePolicy",
                "arn:aws:iam::aws:policy/AdministratorAccess",
                "NoSuchEntity"
            ),
            "IAM policy `arn:aws:iam::aws:policy/AdministratorAccess` does not exist"
        );
        assert_eq!(
            said("s3", "PutObject", "spa-reports", "NoSuchBucket"),
            "S3 bucket `spa-reports` does not exist"
        );
    }

    #[test]
    fn incident_manager_codes_are_classified() {
        let c = |code: &str| {
            classify(
                "ssm-incidents",
                "StartIncident",
                "arn:aws:ssm-incidents::123456789012:response-plan/spa",
                code,
                "m".into(),
            )
        };
        assert!(matches!(
            c("AccessDeniedException"),
            PortError::Denied { .. }
        ));
        assert!(c("ThrottlingException").is_transient());
        // its HTTP 500: "the request processing has failed because of an unknown error"
        assert!(c("InternalServerException").is_transient());
        assert_eq!(
            c("ResourceNotFoundException"),
            PortError::not_found(
                "Incident Manager response plan",
                "arn:aws:ssm-incidents::123456789012:response-plan/spa"
            )
        );
        // a bad request, and a request in conflict with the record's state: not retried
        assert!(matches!(
            c("ValidationException"),
            PortError::Rejected { .. }
        ));
        assert!(matches!(c("ConflictException"), PortError::Rejected { .. }));
    }
}
