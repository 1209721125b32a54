//! How Bayko's S3 calls fail, in the terms its decisions need.

use aws_sdk_s3::{config::http::HttpResponse, error::SdkError};
use bb_aws::is_transient;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Worth retrying: S3 unreachable, slow, throttling or failing on its side.
    #[error("S3 is unavailable: {0}")]
    Transient(String),
    /// A conditional write lost: someone else changed the object first.
    #[error("the object changed since it was read")]
    Conflict,
    /// The object does not exist.
    #[error("no such object: {0}")]
    NotFound(String),
    /// The object exists but is not what it should be.
    #[error("{0}")]
    Invalid(String),
    #[error("S3 call failed: {0}")]
    Other(String),
}

impl StoreError {
    pub fn from_read(action: &str, err: bb_aws::s3::ReadError) -> Self {
        match err {
            bb_aws::s3::ReadError::Request(err) => Self::from_sdk(action, *err),
            bb_aws::s3::ReadError::Body(err) => Self::Transient(format!("{action}: {err}")),
        }
    }

    pub fn from_sdk<E>(action: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|raw| raw.status().as_u16());
        // 409 is S3's answer to two conditional writes racing on one key.
        if matches!(status, Some(412 | 409)) {
            return Self::Conflict;
        }
        let text = format!("{action}: {}", aws_sdk_s3::error::DisplayErrorContext(&err));
        if is_transient(&err) {
            Self::Transient(text)
        } else {
            Self::Other(text)
        }
    }
}
