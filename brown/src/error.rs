//! Every error Brown answers, as an RFC 9457 problem (`application/problem+json`).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use uuid::Uuid;

use crate::validate::FieldError;

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
    #[error("no task {0} for this tenant")]
    TaskNotFound(String),
    #[error("Idempotency-Key must be 1-255 visible ASCII characters")]
    InvalidIdempotencyKey,
    #[error("this Idempotency-Key was used for a different request (task {0})")]
    IdempotencyKeyReused(uuid::Uuid),
    #[error("task {0} is already {1}; only a queued or running task can be cancelled")]
    AlreadyFinished(uuid::Uuid, &'static str),
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("storage is unavailable, try again shortly: {0}")]
    Unavailable(String),
    #[error("the request took too long")]
    Timeout,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The problem document. `type` is a relative URI naming the problem kind, documented in the
/// README; `errors` lists each invalid field for 422s.
#[derive(Serialize)]
struct Problem<'a> {
    r#type: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::MalformedJson(_) => (
                StatusCode::BAD_REQUEST,
                "/problems/malformed-json",
                "Malformed JSON",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "/problems/unsupported-media-type",
                "Unsupported media type",
            ),
            Self::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "/problems/payload-too-large",
                "Payload too large",
            ),
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/validation",
                "Invalid request",
            ),
            Self::TaskNotFound(_) => (
                StatusCode::NOT_FOUND,
                "/problems/task-not-found",
                "Task not found",
            ),
            Self::InvalidIdempotencyKey => (
                StatusCode::BAD_REQUEST,
                "/problems/invalid-idempotency-key",
                "Invalid Idempotency-Key",
            ),
            Self::IdempotencyKeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/idempotency-key-reused",
                "Idempotency-Key reused",
            ),
            Self::AlreadyFinished(..) => (
                StatusCode::CONFLICT,
                "/problems/task-finished",
                "Task already finished",
            ),
            Self::RouteNotFound(_) => (
                StatusCode::NOT_FOUND,
                "/problems/route-not-found",
                "Not found",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "/problems/unavailable",
                "Service unavailable",
            ),
            Self::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "/problems/timeout",
                "Request timed out",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "/problems/internal",
                "Internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, r#type, title) = self.parts();
        let detail = match &self {
            Self::Internal(err) => {
                // The cause stays in the log; the client gets an id to quote.
                let incident = Uuid::now_v7();
                tracing::error!(%incident, error = ?err, "internal error");
                format!("internal error, incident {incident}")
            }
            Self::Unavailable(reason) => {
                tracing::warn!(%reason, "dependency unavailable");
                self.to_string()
            }
            other => other.to_string(),
        };
        let errors = match &self {
            Self::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let problem = Problem {
            r#type,
            title,
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = (status, Json(problem)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status.is_client_error() {
            let reason = r#type.trim_start_matches("/problems/");
            response
                .extensions_mut()
                .insert(crate::metrics::Rejection(reason));
        }
        let headers = response.headers_mut();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
