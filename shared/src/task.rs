//! The task document (written once by Brown to `inbox/`) and the status document (written by
//! Bayko to `status/`). Both are versioned by a `version` tag so that a newer Bayko can still
//! read what an older Brown wrote, and unknown fields are rejected so that a typo never passes
//! silently.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Artifacts every finished task leaves in the artifacts bucket, in the order they are listed.
pub const ARTIFACT_NAMES: [&str; 3] = [OUTPUT_PAYLOAD, PROCESSING_LOG, QUALITY_METRICS];
pub const OUTPUT_PAYLOAD: &str = "output_payload.json";
pub const PROCESSING_LOG: &str = "processing.log";
pub const QUALITY_METRICS: &str = "quality_metrics.json";

/// A task as stored in the tasks bucket. The tag lets the schema evolve without a flag day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum TaskDocument {
    #[serde(rename = "v1")]
    V1(TaskV1),
}

impl TaskDocument {
    pub fn task_id(&self) -> Uuid {
        match self {
            TaskDocument::V1(task) => task.task_id,
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            TaskDocument::V1(task) => &task.tenant,
        }
    }
}

/// Version 1 of the task: what the client asked for, plus who asked and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskV1 {
    pub task_id: Uuid,
    pub tenant: String,
    pub submitted_at: DateTime<Utc>,
    /// The instruction, in the client's words.
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<TaskData>,
    /// Tool hints from the client; the router has the last word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The client's `Idempotency-Key`, when it sent one: the task id is derived from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// What the tenant's content policy flagged at the door and let through, so the worker and
    /// the task's artifacts know it too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<PolicyFinding>,
}

impl TaskV1 {
    /// Whether two tasks carry the same request (what an idempotent retry must repeat).
    pub fn same_request(&self, other: &TaskV1) -> bool {
        self.input == other.input
            && self.data == other.data
            && self.tools == other.tools
            && self.metadata == other.metadata
    }
}

/// One thing the content policy found in a request: where, and what kind. Never the text
/// itself, which may be personal data or a secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFinding {
    /// The request field (`input`, `data.content`, `metadata.{key}`).
    pub field: String,
    /// `secret`, `pii` or `injection`.
    pub category: String,
    /// What was found: `aws_access_key`, `email`, `instruction_override`, …
    pub kind: String,
    /// 1-based line in the field's text.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub line: usize,
    /// 1-based column (in characters) where it starts on that line.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub column: usize,
}

/// The data to work on: inline `content`, or an `upload` Bayko reads from the tasks bucket.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskData {
    pub format: DataFormat,
    /// The data itself; empty in a stored task whose data was uploaded, until Bayko reads it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// The upload that holds the data, as Brown found it when it accepted the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadRef>,
    /// Columns to total the data by; by default, the first text column that is not a period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
}

/// An upload a task reads its data from (`uploads/{tenant}/{id}`, see [`crate::keys::upload_key`]).
/// Brown records the size and ETag it checked, so Bayko reads exactly that version: an object
/// replaced after the task was accepted fails the task rather than feeding it other data.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRef {
    pub id: Uuid,
    pub size: u64,
    pub etag: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    Csv,
    Json,
    Text,
}

impl DataFormat {
    pub const ALL: [&str; 3] = ["csv", "json", "text"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            "text" => Some(Self::Text),
            _ => None,
        }
    }
}

/// Where a task is in its life. `Queued` is never stored: it is what a task is while only its
/// inbox object exists.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Queued,
    Running,
    Succeeded,
    /// Succeeded, but a fallback or a failed non-blocking quality gate is recorded.
    Degraded,
    Failed,
    Cancelled,
}

impl TaskState {
    /// A final state is never left: a redelivered message for such a task is acknowledged
    /// without work.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Degraded | Self::Failed | Self::Cancelled
        )
    }
}

/// The task's state as Bayko records it in `status/{tenant}/{task_id}.json`. Replaced only by a
/// conditional write on the ETag it was read with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum StatusDocument {
    #[serde(rename = "v1")]
    V1(TaskStatus),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStatus {
    pub task_id: Uuid,
    pub tenant: String,
    pub status: TaskState,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// How many times a worker has claimed this task; more than one means a takeover.
    pub attempt: u32,
    /// While `running`: the holder renews this with its heartbeat. A duplicate delivery leaves
    /// the task alone until it passes; after that the holder is presumed dead and another
    /// worker takes over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    /// The worker that holds (or last held) the task, for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Why the task failed, or why it is degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<TaskMetrics>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactRef>,
    /// W3C `traceparent` of the worker's run (its `process` span): the trace id names the
    /// task's trace; a later attempt links its own run to this span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The plan's steps and how far each has come, written at step boundaries and with the
    /// heartbeat; absent before the task is planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

impl TaskStatus {
    /// The trace id of the run that wrote this status, if it was traced.
    pub fn trace_id(&self) -> Option<&str> {
        self.traceparent.as_deref()?.split('-').nth(1)
    }
}

/// Where a task is in its plan.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// In plan order.
    pub steps: Vec<StepProgress>,
    /// The steps running now (independent steps run at once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_flight: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepProgress {
    pub id: String,
    pub state: StepState,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Progress {
    /// Steps that have ended, either way.
    pub fn done(&self) -> usize {
        self.steps
            .iter()
            .filter(|step| matches!(step.state, StepState::Succeeded | StepState::Failed))
            .count()
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskMetrics {
    pub processing_time_ms: u64,
    pub tools_used: Vec<String>,
}

/// An artifact Bayko wrote; Brown turns it into a download link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactRef {
    pub name: String,
    /// Key in the artifacts bucket.
    pub key: String,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_task() -> TaskDocument {
        TaskDocument::V1(TaskV1 {
            task_id: Uuid::now_v7(),
            tenant: "acme".into(),
            submitted_at: Utc::now(),
            input: "Process quarterly data analysis request".into(),
            data: Some(TaskData {
                format: DataFormat::Csv,
                content: "a,b\n1,2\n".into(),
                upload: None,
                group_by: vec!["a".into()],
            }),
            tools: vec!["data-processor".into()],
            metadata: BTreeMap::from([("team".into(), "finance".into())]),
            idempotency_key: None,
            flags: vec![PolicyFinding {
                field: "input".into(),
                category: "injection".into(),
                kind: "role_marker".into(),
                line: 1,
                column: 1,
            }],
        })
    }

    #[test]
    fn task_round_trips_with_its_version_tag() {
        let task = sample_task();
        let json = serde_json::to_value(&task).unwrap();
        assert_eq!(json["version"], "v1");
        assert_eq!(json["data"]["format"], "csv");
        let back: TaskDocument = serde_json::from_value(json).unwrap();
        assert_eq!(back, task);
    }

    #[test]
    fn an_uploaded_tasks_data_round_trips_without_content() {
        let TaskDocument::V1(mut task) = sample_task();
        let data = task.data.as_mut().unwrap();
        data.content.clear();
        data.upload = Some(UploadRef {
            id: Uuid::new_v4(),
            size: 42,
            etag: "\"abc\"".into(),
        });
        let json = serde_json::to_value(TaskDocument::V1(task.clone())).unwrap();
        assert!(json["data"].get("content").is_none(), "{json}");
        assert_eq!(json["data"]["upload"]["size"], 42);
        let back: TaskDocument = serde_json::from_value(json).unwrap();
        assert_eq!(back, TaskDocument::V1(task));
    }

    #[test]
    fn task_with_unknown_field_is_rejected() {
        let mut json = serde_json::to_value(sample_task()).unwrap();
        json["surprise"] = serde_json::json!(true);
        let err = serde_json::from_value::<TaskDocument>(json).unwrap_err();
        assert!(err.to_string().contains("surprise"), "{err}");
    }

    #[test]
    fn task_with_unknown_version_is_rejected() {
        let mut json = serde_json::to_value(sample_task()).unwrap();
        json["version"] = serde_json::json!("v9");
        assert!(serde_json::from_value::<TaskDocument>(json).is_err());
    }

    #[test]
    fn final_states() {
        assert!(!TaskState::Queued.is_final());
        assert!(!TaskState::Running.is_final());
        assert!(TaskState::Succeeded.is_final());
        assert!(TaskState::Degraded.is_final());
        assert!(TaskState::Failed.is_final());
        assert!(TaskState::Cancelled.is_final());
    }
}
