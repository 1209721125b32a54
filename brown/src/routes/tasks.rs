//! `POST /v1/tasks` and `GET /v1/tasks/{id}`: where a task's journey starts and where its
//! owner watches it.

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::{
    keys::TaskKey,
    task::{TaskDocument, TaskMetrics, TaskState, TaskStatus, TaskV1},
};
use uuid::Uuid;

use crate::{
    app::AppState,
    auth::CallerTenant,
    error::ApiError,
    store::Stored,
    validate::{self, JsonBody},
};

#[derive(Serialize)]
pub struct Accepted {
    pub task_id: Uuid,
    pub status: TaskState,
    pub status_url: String,
}

/// Validates the request, writes the task to the inbox and answers 202 once S3 has it.
pub async fn submit(
    State(state): State<AppState>,
    CallerTenant(tenant): CallerTenant,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request = validate::task_request(&body).map_err(ApiError::Validation)?;
    // UUIDv7: time-ordered, so inbox listings and logs sort by submission.
    let task_id = Uuid::now_v7();
    let key = TaskKey::new(tenant.clone(), task_id);
    let task = TaskDocument::V1(TaskV1 {
        task_id,
        tenant: tenant.to_string(),
        submitted_at: Utc::now(),
        input: request.input,
        data: request.data,
        tools: request.tools,
        metadata: request.metadata,
    });
    state.store.put_new_task(&key, &task).await?;
    tracing::info!(%task_id, %tenant, "task accepted");

    let status_url = format!("/v1/tasks/{task_id}");
    let accepted = Accepted {
        task_id,
        status: TaskState::Queued,
        status_url: status_url.clone(),
    };
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, status_url)],
        Json(accepted),
    )
        .into_response())
}

/// The status document as clients see it: the stored status, with download links instead of
/// bucket keys.
#[derive(Debug, Serialize)]
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
}

#[derive(Debug, Serialize)]
pub struct ArtifactLink {
    pub name: String,
    pub size: u64,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn status(
    State(state): State<AppState>,
    CallerTenant(tenant): CallerTenant,
    Path(task_id): Path<String>,
) -> Result<Json<StatusView>, ApiError> {
    // A malformed id names no task: same answer as an unknown one.
    let id = Uuid::parse_str(&task_id).map_err(|_| ApiError::TaskNotFound(task_id.clone()))?;
    let key = TaskKey::new(tenant, id);
    let view = match state.store.task(&key).await? {
        Stored::Missing => return Err(ApiError::TaskNotFound(task_id)),
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
        },
        Stored::Status(status) => with_links(&state, status).await?,
    };
    Ok(Json(view))
}

async fn with_links(state: &AppState, status: TaskStatus) -> Result<StatusView, ApiError> {
    let ttl = state.config.link_ttl;
    let expires_at = Utc::now() + ttl;
    let mut artifacts = Vec::with_capacity(status.artifacts.len());
    for artifact in status.artifacts {
        artifacts.push(ArtifactLink {
            url: state.store.artifact_link(&artifact.key, ttl).await?,
            name: artifact.name,
            size: artifact.size,
            expires_at,
        });
    }
    Ok(StatusView {
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
    })
}
