//! The artifacts Bayko writes for a task, as types: `output_payload.json`,
//! `quality_metrics.json` and the lines of `processing.log`. Bayko builds them, and Brown, the
//! tests and tools read them typed; with the `openapi` feature their schemas are in Brown's
//! OpenAPI description, so clients can check what they download.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::task::PolicyFinding;

/// `output_payload.json`: what the task produced, step by step.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputPayload {
    pub task_id: Uuid,
    pub input: String,
    pub report: Report,
    /// The plan as run, in order.
    pub plan: Vec<PlannedStep>,
    /// By step id.
    pub steps: BTreeMap<String, StepOutput>,
    /// Tools that produced a result, in the order they first did.
    pub tools_used: Vec<String>,
    pub processing_time_ms: u64,
}

/// The answer to the client's instruction.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The summary step's text; empty when it did not run.
    pub summary: String,
}

/// One step of the plan: a capability, the tools tried for it in order, and its dependencies.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub id: String,
    pub capability: String,
    /// The first tool is preferred; the rest are its fallbacks.
    pub tools: Vec<String>,
    pub depends_on: Vec<String>,
    /// A required step that fails fails the task; any other failure degrades it.
    pub required: bool,
    pub reason: String,
}

/// How one step ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StepOutput {
    Done {
        tool: String,
        duration_ms: u64,
        attempts: u32,
        /// The tool's own result.
        output: Value,
    },
    Failed {
        error: String,
    },
}

/// `quality_metrics.json`: how well each step did, and what it took.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityMetrics {
    pub task_id: Uuid,
    pub rows: RowCounts,
    /// By step id, for the steps that produced a result.
    pub steps: BTreeMap<String, StepQuality>,
    /// Every check of every step.
    pub checks: Vec<StepCheck>,
    pub checks_passed: usize,
    pub checks_total: usize,
    /// Share of checks passed, 1.0 when there were none.
    pub score: f64,
    pub latency_ms: BTreeMap<String, u64>,
    /// Retries across all steps (attempts beyond the first).
    pub retries: u32,
    pub fallbacks: Vec<Fallback>,
    pub pii_findings: u64,
    pub redactions: usize,
    /// What the tenant's content policy flagged at the door and let through (from the task):
    /// where and what kind, never the text.
    #[serde(default)]
    pub flags: Vec<PolicyFinding>,
    /// The same flags, counted by kind.
    #[serde(default)]
    pub flag_counts: BTreeMap<String, usize>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounts {
    pub total: u64,
    pub analysed: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepQuality {
    pub tool: String,
    pub checks: Vec<Check>,
    pub score: f64,
    pub attempts: u32,
    pub latency_ms: u64,
}

/// One quality check of a step's result.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// A check, with the step it belongs to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepCheck {
    pub step: String,
    #[serde(flatten)]
    pub check: Check,
}

/// A step whose preferred tool failed and another took over.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub step: String,
    pub from: String,
    pub to: String,
    pub error: String,
}

/// How many of `flags` there are of each kind.
pub fn count_by_kind(flags: &[PolicyFinding]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for flag in flags {
        *counts.entry(flag.kind.clone()).or_insert(0) += 1;
    }
    counts
}

/// One line of `processing.log`: what happened to the task, when, and with which tool.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    pub ts: DateTime<Utc>,
    pub task_id: Uuid,
    /// W3C trace id (32 hex digits) of this run, so log lines join up with traces; absent
    /// when the worker runs untraced (embedded in tests).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
    pub event: LogEventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Free-form, by kind of event.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

/// What happened, one name per kind of line in `processing.log`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogEventKind {
    /// The worker claimed the task (attempt, worker).
    Claimed,
    /// The router's plan (steps, ignored hints).
    Planned,
    LlmPlanAccepted,
    LlmPlanRejected,
    StepStarted,
    /// A call waited for a slot in its tool's pool.
    PoolWait,
    Retry,
    /// A step moved on to the next tool of its chain.
    Fallback,
    /// A tool's circuit breaker refused the call.
    CircuitOpen,
    StepFinished,
    StepFailed,
    QualityChecked,
    /// PII and secrets replaced in the artifacts.
    Redacted,
    /// PII and secrets replaced in what a call sent to the LLM or an MCP server.
    EgressRedacted,
    /// The egress policy kept a call to the LLM or an MCP server from being made.
    EgressRefused,
    Failed,
    Cancelled,
    Finished,
}

/// Share of `checks` passed; 1.0 when there are none (nothing failed).
pub fn score(passed: usize, total: usize) -> f64 {
    if total == 0 {
        1.0
    } else {
        passed as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn step_outputs_read_back_as_written() {
        let done = json!({"tool": "t", "duration_ms": 3, "attempts": 1, "output": {"x": 1}});
        let failed = json!({"error": "boom"});
        let done: StepOutput = serde_json::from_value(done).unwrap();
        assert!(matches!(done, StepOutput::Done { attempts: 1, .. }));
        let failed: StepOutput = serde_json::from_value(failed).unwrap();
        assert_eq!(
            failed,
            StepOutput::Failed {
                error: "boom".into()
            }
        );
    }

    #[test]
    fn a_step_check_is_flat() {
        let check = StepCheck {
            step: "scan".into(),
            check: Check {
                name: "non_empty".into(),
                passed: true,
                detail: String::new(),
            },
        };
        let value = serde_json::to_value(&check).unwrap();
        assert_eq!(
            value,
            json!({"step": "scan", "name": "non_empty", "passed": true, "detail": ""})
        );
        assert_eq!(serde_json::from_value::<StepCheck>(value).unwrap(), check);
    }

    #[test]
    fn the_score_of_no_checks_is_full() {
        assert_eq!(score(0, 0), 1.0);
        assert_eq!(score(1, 4), 0.25);
    }
}
