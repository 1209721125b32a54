//! The one AWS failure vocabulary. Every S3 and SQS error is classified here, once, into what
//! the callers' decisions need: a lost precondition, a missing thing, a passing outage, or a
//! fault to investigate.

use aws_sdk_s3::{
    config::http::HttpResponse,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
};

/// How an AWS call failed. Each variant carries what was being done and the service's answer.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A conditional write lost: the object changed (412), or another conditional write on the
    /// same key raced this one (409).
    #[error("{0}: someone else changed the object first")]
    Conflict(String),
    /// The object, bucket or queue does not exist.
    #[error("{0}: not found")]
    NotFound(String),
    /// Worth retrying: the service was unreachable, slow, throttling or failing on its side.
    #[error("AWS unavailable, {0}")]
    Transient(String),
    /// Anything else: a request the service refused and will refuse again.
    #[error("AWS call failed, {0}")]
    Other(String),
}

/// Error codes that mean "no such thing" without a 404 (SQS answers 400 for a missing queue).
const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchKey",
    "NoSuchBucket",
    "NotFound",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
];

impl AwsError {
    /// Classifies an S3 or SQS SDK error raised while doing `action`.
    pub fn from_sdk<E>(action: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|raw| raw.status().as_u16());
        let code = err.code().unwrap_or_default().to_owned();
        let text = format!("{action}: {}", DisplayErrorContext(&err));
        match status {
            Some(412 | 409) => Self::Conflict(action.to_owned()),
            Some(404) => Self::NotFound(action.to_owned()),
            _ if NOT_FOUND_CODES.contains(&code.as_str()) => Self::NotFound(action.to_owned()),
            _ if is_transient(&err) => Self::Transient(text),
            _ => Self::Other(text),
        }
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// Whether a failed call is worth retrying later: the service was unreachable, slow, throttling
/// or failing on its side. Anything else (a 4xx answer) will fail the same way again.
fn is_transient<E>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            status >= 500 || status == 429
        }
        _ => false,
    }
}
