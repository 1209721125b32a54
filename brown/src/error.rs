//! Every error Brown answers, as an RFC 9457 problem (`application/problem+json`). Details never
//! carry internals (bucket names, SDK messages, ARNs): those go to the log under an incident id,
//! and the client gets the id to quote.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{policy::PolicyFinding, validate::FieldError};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request body must be JSON, sent as Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request has {} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    #[error("the data does not parse as its declared format within the limits")]
    InvalidData(Vec<FieldError>),
    #[error("the content breaks this tenant's content policy ({} finding(s))", .0.len())]
    ContentPolicy(Vec<PolicyFinding>),
    #[error("a valid API key is required: send it as Authorization: Bearer <key>")]
    Unauthorized,
    #[error("too many requests for this tenant; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("no task {0} for this tenant")]
    TaskNotFound(String),
    #[error("Idempotency-Key must be 1-255 visible ASCII characters")]
    InvalidIdempotencyKey,
    #[error("this Idempotency-Key was used for a different request (task {0})")]
    IdempotencyKeyReused(uuid::Uuid),
    #[error("task {0} is already {1}; only a queued or running task can be cancelled")]
    AlreadyFinished(uuid::Uuid, String),
    #[error("this tenant already has {0} event streams open; close one or poll the status")]
    TooManyWatchers(usize),
    #[error("no upload {0} for this tenant: it was never PUT, has expired, or is another tenant's")]
    UploadNotFound(Uuid),
    #[error("upload {id} is {size} bytes, over the limit of {limit} bytes")]
    UploadTooLarge { id: Uuid, size: u64, limit: u64 },
    #[error("upload {0} is empty: PUT the data to its URL before submitting the task")]
    UploadEmpty(Uuid),
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("{0} is not allowed here")]
    MethodNotAllowed(String),
    /// The reason is logged, never answered.
    #[error("storage is unavailable, try again shortly")]
    Unavailable(String),
    #[error("the server is at its limit of concurrent requests, try again shortly")]
    Overloaded,
    #[error("the request took too long, try again shortly")]
    Timeout,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// The problem document. `type` is a relative URI naming the problem kind, documented in the
/// README; `errors` lists each invalid field for 422s, `findings` what the content policy
/// rejected; `incident` identifies the log entry of a 5xx.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<PolicyFinding>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<Uuid>,
}

impl ApiError {
    /// Status, type URI and title of every problem Brown answers.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::MalformedJson(_) => {
                (S::BAD_REQUEST, "/problems/malformed-json", "Malformed JSON")
            }
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "/problems/unsupported-media-type",
                "Unsupported media type",
            ),
            Self::PayloadTooLarge { .. } => (
                S::PAYLOAD_TOO_LARGE,
                "/problems/payload-too-large",
                "Payload too large",
            ),
            Self::Validation(_) => (
                S::UNPROCESSABLE_ENTITY,
                "/problems/validation",
                "Invalid request",
            ),
            Self::InvalidData(_) => (
                S::UNPROCESSABLE_ENTITY,
                "/problems/invalid-data",
                "Invalid data",
            ),
            Self::ContentPolicy(_) => (
                S::UNPROCESSABLE_ENTITY,
                "/problems/content-policy",
                "Content policy",
            ),
            Self::Unauthorized => (S::UNAUTHORIZED, "/problems/unauthorized", "Unauthorized"),
            Self::RateLimited { .. } => (
                S::TOO_MANY_REQUESTS,
                "/problems/rate-limited",
                "Too many requests",
            ),
            Self::TaskNotFound(_) => (S::NOT_FOUND, "/problems/task-not-found", "Task not found"),
            Self::InvalidIdempotencyKey => (
                S::BAD_REQUEST,
                "/problems/invalid-idempotency-key",
                "Invalid Idempotency-Key",
            ),
            Self::IdempotencyKeyReused(_) => (
                S::UNPROCESSABLE_ENTITY,
                "/problems/idempotency-key-reused",
                "Idempotency-Key reused",
            ),
            Self::AlreadyFinished(..) => (
                S::CONFLICT,
                "/problems/task-finished",
                "Task already finished",
            ),
            Self::TooManyWatchers(_) => (
                S::TOO_MANY_REQUESTS,
                "/problems/too-many-watchers",
                "Too many event streams",
            ),
            Self::UploadNotFound(_) => (
                S::UNPROCESSABLE_ENTITY,
                "/problems/upload-not-found",
                "Upload not found",
            ),
            Self::UploadTooLarge { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "/problems/upload-too-large",
                "Upload too large",
            ),
            Self::UploadEmpty(_) => (
                S::UNPROCESSABLE_ENTITY,
                "/problems/upload-empty",
                "Upload empty",
            ),
            Self::RouteNotFound(_) => (S::NOT_FOUND, "/problems/route-not-found", "Not found"),
            Self::MethodNotAllowed(_) => (
                S::METHOD_NOT_ALLOWED,
                "/problems/method-not-allowed",
                "Method not allowed",
            ),
            Self::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "/problems/unavailable",
                "Service unavailable",
            ),
            Self::Overloaded => (S::SERVICE_UNAVAILABLE, "/problems/overloaded", "Overloaded"),
            Self::Timeout => (
                S::SERVICE_UNAVAILABLE,
                "/problems/timeout",
                "Request timed out",
            ),
            Self::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "/problems/internal",
                "Internal error",
            ),
        }
    }

    /// The cause of a 5xx goes to the log under a new incident id.
    fn log_incident(&self) -> Option<Uuid> {
        let incident = Uuid::now_v7();
        match self {
            Self::Internal(err) => tracing::error!(%incident, error = ?err, "internal error"),
            Self::Unavailable(reason) => {
                tracing::warn!(%incident, %reason, "dependency unavailable")
            }
            Self::Timeout => tracing::warn!(%incident, "request timed out"),
            _ => return None,
        }
        Some(incident)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.parts();
        let incident = self.log_incident();
        let detail = match incident {
            Some(incident) => format!("{self} (incident {incident})"),
            None => self.to_string(),
        };
        let retry_after = match &self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            Self::TooManyWatchers(_) => Some(1),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => None,
        };
        let (errors, findings) = match self {
            Self::Validation(errors) | Self::InvalidData(errors) => (Some(errors), None),
            Self::ContentPolicy(findings) => (None, Some(findings)),
            _ => (None, None),
        };
        let problem = Problem {
            kind,
            title,
            status: status.as_u16(),
            detail,
            errors,
            findings,
            incident,
        };
        let mut response = (status, Json(problem)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status.is_client_error() {
            let reason = kind.trim_start_matches("/problems/");
            response
                .extensions_mut()
                .insert(crate::metrics::Rejection(reason));
        }
        let headers = response.headers_mut();
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="brown""#),
            );
        }
        response
    }
}
