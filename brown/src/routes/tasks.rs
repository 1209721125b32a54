//! `POST /v1/tasks`, `GET /v1/tasks/{id}` and `POST /v1/tasks/{id}/cancel`: where a task's
//! journey starts, where its owner watches it, and how the owner stops it.

use axum::{
    Json,
    extract::{FromRequestParts, Path, State},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::{
    keys::{TaskKey, Tenant},
    task::{Progress, TaskDocument, TaskMetrics, TaskState, TaskStatus, TaskV1},
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    app::AppState,
    auth::CallerTenant,
    error::{ApiError, Problem},
    openapi::TaskRequestBody,
    policy::{self, PolicyFinding},
    store::Stored,
    uploads,
    validate::{self, JsonBody},
};

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub task_id: Uuid,
    pub status: TaskState,
    pub status_url: String,
    /// The W3C trace id the task's spans share, in Brown and in Bayko.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// What the tenant's content policy flagged (and let through); absent when nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<PolicyFinding>,
}

/// Namespace of task ids derived from idempotency keys.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_8d4a_4e7b_9a05_2c1d_7e3f_b8a6);

/// Validates the request, writes the task to the inbox and answers 202 once S3 has it.
#[utoipa::path(
    post,
    path = "/v1/tasks",
    tag = "tasks",
    request_body(content = TaskRequestBody, content_type = "application/json"),
    params(
        ("Idempotency-Key" = Option<String>, Header,
         description = "Makes retries safe: the same key and body find the same task.")
    ),
    responses(
        (status = 202, description = "Accepted and stored; it waits for a worker.", body = Accepted,
         headers(("Location" = String, description = "The task's status URL"))),
        (status = 200, description = "An idempotent retry: the task its first attempt created.", body = StatusView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, invalid data, content policy, a reused Idempotency-Key, or an upload that is missing, empty or too large", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable, overloaded, or timed out", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
///
/// With an `Idempotency-Key` the task id is derived from the tenant and the key, so a retry
/// finds the task its first attempt created: the same request answers 200 with the task's
/// status, a different one is a 422. No database: the create-only write decides.
pub async fn submit(
    State(state): State<AppState>,
    CallerTenant(tenant): CallerTenant,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request = validate::task_request(&body).map_err(ApiError::Validation)?;
    validate::semantics(&request).map_err(ApiError::InvalidData)?;
    let verdict = policy::review(state.config.policies.for_tenant(&tenant), &request);
    if !verdict.rejected.is_empty() {
        tracing::info!(%tenant, findings = ?kinds(&verdict.rejected), "rejected by content policy");
        return Err(ApiError::ContentPolicy(verdict.rejected));
    }
    // Checked last of all, as it costs a call to storage.
    let mut data = request.data;
    if let (Some(id), Some(data)) = (request.upload, data.as_mut()) {
        data.upload = Some(uploads::check(&state, &tenant, id).await?);
    }
    let task_id = match &idempotency_key {
        Some(key) => Uuid::new_v5(
            &IDEMPOTENCY_NAMESPACE,
            format!("{tenant}\n{key}").as_bytes(),
        ),
        // UUIDv7: time-ordered, so inbox listings and logs sort by submission.
        None => Uuid::now_v7(),
    };
    let key = TaskKey::new(tenant.clone(), task_id);
    let document = TaskDocument::V1(TaskV1 {
        task_id,
        tenant: tenant.to_string(),
        submitted_at: Utc::now(),
        input: request.input,
        data,
        tools: request.tools,
        metadata: request.metadata,
        idempotency_key,
        flags: verdict.flagged.clone(),
    });
    let created = state.store.put_new_task(&key, &document).await?;
    let TaskDocument::V1(task) = &document;
    // Not created: either the SDK retried our own write after a lost answer (the stored
    // document is exactly ours), or an idempotent retry found its first attempt.
    let existing = match created {
        true => None,
        false => state
            .store
            .read_task(&key)
            .await?
            .filter(|stored| stored != task),
    };
    if !created && existing.is_some() {
        return match existing {
            Some(existing) if existing.same_request(task) => {
                let view = view(&state, &key).await?;
                Ok((StatusCode::OK, Json(view)).into_response())
            }
            _ => Err(ApiError::IdempotencyKeyReused(task_id)),
        };
    }
    tracing::info!(%task_id, %tenant, flags = ?kinds(&verdict.flagged), "task accepted");

    let status_url = format!("/v1/tasks/{task_id}");
    let accepted = Accepted {
        task_id,
        status: TaskState::Queued,
        status_url: status_url.clone(),
        trace_id: shared::telemetry::trace_id(&tracing::Span::current()),
        flags: verdict.flagged,
    };
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, status_url)],
        Json(accepted),
    )
        .into_response())
}

/// What a log line may say about findings: their kinds, never their text.
fn kinds(findings: &[PolicyFinding]) -> Vec<&str> {
    findings
        .iter()
        .map(|finding| finding.kind.as_str())
        .collect()
}

/// The status document as clients see it: the stored status, with download links instead of
/// bucket keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    pub task_id: Uuid,
    pub status: TaskState,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<TaskMetrics>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactLink>,
    /// The trace of the worker's run: the same trace as the submission's when the task came
    /// through Brown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The plan's steps and their states, once Bayko has planned the task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// A time-limited download link to one of the task's artifacts. What it leads to is described
/// in this document's components: `output_payload.json` is an `OutputPayload`,
/// `quality_metrics.json` a `QualityMetrics`, and `processing.log` JSON lines, each a
/// `LogEvent`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactLink {
    /// `output_payload.json`, `quality_metrics.json` or `processing.log`.
    pub name: String,
    pub size: u64,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(
    get,
    path = "/v1/tasks/{task_id}",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "The id the submission answered")),
    responses(
        (status = 200, description = "The task's status, with links to its artifacts once finished", body = StatusView),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task for this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable, overloaded, or timed out", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn status(
    State(state): State<AppState>,
    CallerTenant(tenant): CallerTenant,
    Path(task_id): Path<String>,
) -> Result<Json<StatusView>, ApiError> {
    let key = task_key(tenant, &task_id)?;
    Ok(Json(view(&state, &key).await?))
}

/// `POST /v1/tasks/{id}/cancel`: asks Bayko to stop the task. Answers 202 with the task's
/// current status; the task ends `cancelled` once Bayko sees the request (between steps, or
/// before it starts), and stays readable. Asking again is the same as asking once. A finished
/// task cannot be cancelled: 409.
///
/// A POST on a sub-resource, not a DELETE: the task is not deleted, and a DELETE that leaves
/// the resource readable would break HTTP's meaning (and clients that rely on it).
#[utoipa::path(
    post,
    path = "/v1/tasks/{task_id}/cancel",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "The id the submission answered")),
    responses(
        (status = 202, description = "Cancellation requested (now or before); the task's current status", body = StatusView),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task for this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task has finished", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable, overloaded, or timed out", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    CallerTenant(tenant): CallerTenant,
    Path(task_id): Path<String>,
) -> Result<Response, ApiError> {
    let key = task_key(tenant, &task_id)?;
    let view = view(&state, &key).await?;
    if view.status.is_final() {
        // The state's name as the API spells it everywhere: serde's.
        let state_name = serde_json::to_value(view.status)
            .ok()
            .and_then(|name| name.as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(ApiError::AlreadyFinished(key.task_id, state_name));
    }
    state.store.request_cancel(&key).await?;
    tracing::info!(task_id = %key.task_id, "cancellation requested");
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// A malformed id names no task: the same answer as an unknown one.
pub(crate) fn task_key(tenant: Tenant, task_id: &str) -> Result<TaskKey, ApiError> {
    let id = Uuid::parse_str(task_id).map_err(|_| ApiError::TaskNotFound(task_id.to_owned()))?;
    Ok(TaskKey::new(tenant, id))
}

/// The caller's `Idempotency-Key`, if any: read from the headers in place, where taking the
/// whole `HeaderMap` would copy every header of every submission.
pub struct IdempotencyKey(Option<String>);

impl<S: Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .map_err(|_| ApiError::InvalidIdempotencyKey)?
            .trim();
        let valid = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(ApiError::InvalidIdempotencyKey);
        }
        Ok(Self(Some(key.to_owned())))
    }
}

pub(crate) async fn view(state: &AppState, key: &TaskKey) -> Result<StatusView, ApiError> {
    let id = key.task_id;
    let view = match state.store.task(key).await? {
        Stored::Missing => return Err(ApiError::TaskNotFound(id.to_string())),
        Stored::Queued { submitted_at } => StatusView {
            task_id: id,
            status: TaskState::Queued,
            submitted_at,
            updated_at: submitted_at,
            started_at: None,
            finished_at: None,
            attempt: None,
            error: None,
            metrics: None,
            artifacts: Vec::new(),
            trace_id: None,
            progress: None,
        },
        Stored::Status(status) => with_links(state, key, *status).await?,
    };
    Ok(view)
}

pub(crate) async fn with_links(
    state: &AppState,
    key: &TaskKey,
    status: TaskStatus,
) -> Result<StatusView, ApiError> {
    let ttl = state.config.link_ttl;
    let expires_at = Utc::now() + ttl;
    let trace_id = status.trace_id().map(str::to_owned);
    let mut artifacts = Vec::with_capacity(status.artifacts.len());
    for artifact in status.artifacts {
        // The object is the task's own artifact of that name, wherever the document points.
        if !is_artifact_name(&artifact.name) {
            tracing::warn!(task_id = %key.task_id, "status lists an artifact with an unsafe name");
            continue;
        }
        let object = key.artifact(&artifact.name);
        artifacts.push(ArtifactLink {
            url: state.links.link(&object, ttl).await?,
            name: artifact.name,
            size: artifact.size,
            expires_at,
        });
    }
    Ok(StatusView {
        trace_id,
        task_id: status.task_id,
        status: status.status,
        submitted_at: status.submitted_at,
        updated_at: status.updated_at,
        started_at: status.started_at,
        finished_at: status.finished_at,
        attempt: Some(status.attempt),
        error: status.error,
        metrics: status.metrics,
        artifacts,
        progress: status.progress,
    })
}

/// One path segment of plain characters: a name cannot climb out of the task's prefix.
fn is_artifact_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
