//! SDK errors, turned into typed [`PortError`]s once the SDK's retries are spent.

use std::error::Error;

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
        SdkError::DispatchFailure(failure) => unavailable(format!("could not send: {failure:?}")),
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
            "NoSuchEntity" | "NoSuchKey" | "NoSuchBucket" | "ParameterNotFound"
        )
    {
        PortError::NotFound { id: id.to_owned() }
    } else {
        PortError::Rejected {
            service: service.to_owned(),
            action: action.to_owned(),
            message: format!("{code}: {message}"),
        }
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
        assert_eq!(
            c("AccountNotFoundException"),
            PortError::NotFound {
                id: "222222222222".into()
            }
        );
        assert!(matches!(
            c("InvalidInputException"),
            PortError::Rejected { .. }
        ));
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
            PortError::NotFound {
                id: "arn:aws:ssm-incidents::123456789012:response-plan/spa".into()
            }
        );
        // a bad request, and a request in conflict with the record's state: not retried
        assert!(matches!(
            c("ValidationException"),
            PortError::Rejected { .. }
        ));
        assert!(matches!(c("ConflictException"), PortError::Rejected { .. }));
    }
}
