//! The `Task Finished` event Bayko publishes to an EventBridge bus when a task reaches a final
//! state, for users to route with their own rules (a webhook through an API destination, SNS, a
//! queue). It says how the task ended and where its artifacts are, never what the data was.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::task::{ArtifactRef, TaskMetrics, TaskState, TaskStatus};

/// The event's `source`: rules match on it.
pub const SOURCE: &str = "bayko";
/// The event's `detail-type`.
pub const DETAIL_TYPE: &str = "Task Finished";

/// The event's `detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFinished {
    pub task_id: Uuid,
    pub tenant: String,
    pub state: TaskState,
    pub submitted_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub attempt: u32,
    /// Why the task failed or is degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<TaskMetrics>,
    /// Keys in the artifacts bucket (Brown's status API signs links to them).
    #[serde(default)]
    pub artifacts: Vec<ArtifactRef>,
}

impl From<&TaskStatus> for TaskFinished {
    fn from(status: &TaskStatus) -> Self {
        Self {
            task_id: status.task_id,
            tenant: status.tenant.clone(),
            state: status.status,
            submitted_at: status.submitted_at,
            finished_at: status.finished_at,
            attempt: status.attempt,
            error: status.error.clone(),
            metrics: status.metrics.clone(),
            artifacts: status.artifacts.clone(),
        }
    }
}
