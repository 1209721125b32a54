//! `POST /v1/uploads`: a presigned PUT for data too large to send inline. The client PUTs the
//! file to the URL, then submits a task whose `data` names the upload instead of `content`.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use shared::keys::upload_key;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    app::AppState,
    auth::CallerTenant,
    error::{ApiError, Problem},
    openapi::UploadRequestBody,
    validate::{FieldError, JsonBody},
};

/// Where and how to PUT the file, and what to put in the task afterwards.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadGrant {
    /// Name this in the task: `"data": {"format": "csv", "upload": "<upload_id>"}`.
    pub upload_id: Uuid,
    /// The presigned URL; it carries its own authority, so send no API key with it.
    pub url: String,
    #[schema(example = "PUT")]
    pub method: &'static str,
    /// Headers the PUT must carry, exactly as given (they are part of the signature).
    pub headers: BTreeMap<String, String>,
    /// The URL stops working at this time; the upload itself expires a day after it is made.
    pub expires_at: DateTime<Utc>,
    /// The largest upload a task may reference.
    pub max_bytes: u64,
}

#[utoipa::path(
    post,
    path = "/v1/uploads",
    tag = "uploads",
    request_body(content = UploadRequestBody, content_type = "application/json"),
    responses(
        (status = 200, description = "A presigned PUT into this tenant's upload space", body = UploadGrant),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid size: missing, not a positive integer, or over the upload limit", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded or timed out", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    CallerTenant(tenant): CallerTenant,
    JsonBody(body): JsonBody,
) -> Result<Json<UploadGrant>, ApiError> {
    let max_bytes = state.config.upload_max_bytes;
    let size = declared_size(&body, max_bytes).map_err(ApiError::Validation)?;
    // Random, not time-ordered: an upload id says nothing about others.
    let upload_id = Uuid::new_v4();
    let put = state
        .uploads
        .presign_put(
            &upload_key(&tenant, upload_id),
            size,
            state.config.upload_ttl,
        )
        .await?;
    tracing::info!(%tenant, %upload_id, size, "upload URL issued");
    Ok(Json(UploadGrant {
        upload_id,
        url: put.url,
        method: "PUT",
        headers: put.headers,
        expires_at: put.expires_at,
        max_bytes,
    }))
}

/// `{"size": n}` with `1 <= n <= max_bytes`, and nothing else.
fn declared_size(body: &Value, max_bytes: u64) -> Result<u64, Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("", "the body must be a JSON object")]);
    };
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|field| *field != "size")
        .map(|field| FieldError::new(field, "unknown field"))
        .collect();
    let size = match object.get("size") {
        None | Some(Value::Null) => Err("is required: the file's size in bytes".to_owned()),
        Some(value) => match value.as_u64() {
            Some(size) if (1..=max_bytes).contains(&size) => Ok(size),
            Some(0) => Err("must be at least 1: an empty file has nothing to analyse".to_owned()),
            Some(size) => Err(format!(
                "is {size} bytes, over the upload limit of {max_bytes} bytes"
            )),
            None => Err("must be a positive integer (bytes)".to_owned()),
        },
    };
    match size {
        Ok(size) if errors.is_empty() => Ok(size),
        Ok(_) => Err(errors),
        Err(message) => {
            errors.push(FieldError::new("size", message));
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(body: Value) -> Vec<String> {
        declared_size(&body, 100)
            .unwrap_err()
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn the_size_is_a_positive_integer_within_the_limit() {
        assert_eq!(declared_size(&json!({"size": 100}), 100), Ok(100));
        assert_eq!(declared_size(&json!({"size": 1}), 100), Ok(1));
        for size in [
            json!(0),
            json!(101),
            json!(-1),
            json!(1.5),
            json!("10"),
            json!(null),
        ] {
            assert_eq!(fields(json!({ "size": size })), ["size"], "{size}");
        }
        assert_eq!(fields(json!({})), ["size"]);
        assert_eq!(fields(json!({"size": 5, "key": "x"})), ["key"]);
        assert_eq!(fields(json!([1])), [""]);
    }
}
