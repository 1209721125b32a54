//! What Brown answers, as the CLI reads it. The task's state and metrics are the `shared`
//! contract's own types; unknown fields are ignored, so a newer Brown does not break an older
//! `bnb`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::task::{Progress, TaskMetrics, TaskState};
use uuid::Uuid;

/// `POST /v1/tasks`'s 202.
#[derive(Debug, Deserialize)]
pub struct Accepted {
    pub task_id: Uuid,
}

/// `POST /v1/uploads`'s answer: where to PUT the file.
#[derive(Debug, Deserialize)]
pub struct UploadGrant {
    pub upload_id: Uuid,
    pub url: String,
    /// Signed headers to send with the PUT.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// `GET /v1/tasks/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskView {
    pub task_id: Uuid,
    pub status: TaskState,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<TaskMetrics>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactLink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Every other field, kept so that `--json` prints Brown's document whole.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArtifactLink {
    pub name: String,
    pub size: u64,
    pub url: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// An RFC 9457 problem, as Brown reports every error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub r#type: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

pub fn state_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "queued",
        TaskState::Running => "running",
        TaskState::Succeeded => "succeeded",
        TaskState::Degraded => "degraded",
        TaskState::Failed => "failed",
        TaskState::Cancelled => "cancelled",
    }
}
