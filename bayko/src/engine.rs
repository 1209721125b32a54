//! Runs the tools a task needs and judges their output. What it returns becomes the task's
//! three artifacts and its final state.

use std::time::Instant;

use serde_json::{Value, json};
use shared::task::{DataFormat, TaskState, TaskV1};

use crate::{
    control::{StopReason, TaskControl},
    log::ProcessingLog,
    tools::data::{self, Analysis, TabularFormat},
};

pub const DATA_PROCESSOR: &str = "data-processor";

/// A task the engine finished: `Succeeded`, or `Degraded` with a reason.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: TaskState,
    /// Why the task is degraded.
    pub reason: Option<String>,
    pub output: Value,
    pub quality: Value,
    pub tools_used: Vec<String>,
}

/// A task that cannot succeed, with a reason its owner can act on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct TaskFailure {
    pub reason: String,
}

/// One quality check of a step's output.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// Why the engine did not produce an outcome.
#[derive(Debug, Clone)]
pub enum EngineError {
    /// The task cannot succeed: it ends `failed` with this reason.
    Failed(TaskFailure),
    /// Something outside the task stopped it.
    Stopped(StopReason),
}

impl From<StopReason> for EngineError {
    fn from(reason: StopReason) -> Self {
        Self::Stopped(reason)
    }
}

/// Knobs the worker passes to every run.
#[derive(Debug, Clone, Default)]
pub struct EngineSettings {
    /// Fault injection: a pause before every step, so that fault tests can act on a task
    /// mid-run. Zero in production.
    pub chaos_step_delay: std::time::Duration,
}

/// A step boundary: stop if asked, then wait out the chaos delay (stoppable too).
async fn step_boundary(
    control: &TaskControl,
    settings: &EngineSettings,
) -> Result<(), EngineError> {
    control.checkpoint().await?;
    if !settings.chaos_step_delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(settings.chaos_step_delay) => {}
            () = control.cancelled() => {}
        }
        control.checkpoint().await?;
    }
    Ok(())
}

pub async fn run(
    task: &TaskV1,
    log: &mut ProcessingLog,
    control: &TaskControl,
    settings: &EngineSettings,
) -> Result<Outcome, EngineError> {
    let started = Instant::now();
    let tabular = task.data.as_ref().and_then(|data| match data.format {
        DataFormat::Csv => Some((TabularFormat::Csv, data.content.as_str())),
        DataFormat::Json => Some((TabularFormat::Json, data.content.as_str())),
        DataFormat::Text => None,
    });
    let Some((format, content)) = tabular else {
        log.record(
            "no_step",
            json!({"reason": "the task has no CSV or JSON data to analyse"}),
        );
        let output = json!({
            "task_id": task.task_id,
            "input": task.input,
            "report": {"summary": "The task has no CSV or JSON data; there was nothing to analyse."},
            "steps": {},
            "tools_used": [],
            "processing_time_ms": started.elapsed().as_millis() as u64,
        });
        let quality = json!({
            "task_id": task.task_id,
            "rows": {"total": 0, "analysed": 0},
            "checks": [],
            "checks_passed": 0,
            "checks_total": 0,
            "score": 1.0,
        });
        return Ok(Outcome {
            state: TaskState::Succeeded,
            reason: None,
            output,
            quality,
            tools_used: Vec::new(),
        });
    };

    step_boundary(control, settings).await?;
    log.record_tool(
        "step_started",
        DATA_PROCESSOR,
        None,
        json!({"step": "analyse"}),
    );
    let step_started = Instant::now();
    let analysis = data::analyse(format, content).map_err(|err| {
        let reason = format!("the data could not be analysed: {err}");
        log.record_tool(
            "step_failed",
            DATA_PROCESSOR,
            Some(step_started.elapsed().as_millis() as u64),
            json!({"step": "analyse", "error": err.to_string()}),
        );
        EngineError::Failed(TaskFailure { reason })
    })?;
    let step_ms = step_started.elapsed().as_millis() as u64;
    log.record_tool(
        "step_finished",
        DATA_PROCESSOR,
        Some(step_ms),
        json!({"step": "analyse", "rows": analysis.rows, "columns": analysis.columns.len()}),
    );

    step_boundary(control, settings).await?;
    let checks = quality_checks(&analysis);
    let passed = checks.iter().filter(|check| check.passed).count();
    let failed: Vec<&Check> = checks.iter().filter(|check| !check.passed).collect();
    let (state, reason) = if failed.is_empty() {
        (TaskState::Succeeded, None)
    } else {
        let names: Vec<&str> = failed.iter().map(|check| check.name).collect();
        (
            TaskState::Degraded,
            Some(format!("quality checks failed: {}", names.join(", "))),
        )
    };
    log.record(
        "quality_checked",
        json!({"passed": passed, "total": checks.len()}),
    );

    let tools_used = vec![DATA_PROCESSOR.to_owned()];
    let output = json!({
        "task_id": task.task_id,
        "input": task.input,
        "report": {"summary": summary(&analysis)},
        "steps": {
            "analyse": {"tool": DATA_PROCESSOR, "duration_ms": step_ms, "output": analysis},
        },
        "tools_used": tools_used,
        "processing_time_ms": started.elapsed().as_millis() as u64,
    });
    let quality = json!({
        "task_id": task.task_id,
        "rows": {"total": analysis.rows, "analysed": analysis.rows},
        "checks": checks,
        "checks_passed": passed,
        "checks_total": checks.len(),
        "score": if checks.is_empty() { 1.0 } else { passed as f64 / checks.len() as f64 },
        "latency_ms": {"analyse": step_ms},
    });
    Ok(Outcome {
        state,
        reason,
        output,
        quality,
        tools_used,
    })
}

fn quality_checks(analysis: &Analysis) -> Vec<Check> {
    let mut checks = vec![Check {
        name: "rows_present",
        passed: analysis.rows > 0,
        detail: format!("{} data rows", analysis.rows),
    }];
    let finite = analysis.numeric.values().all(|stats| {
        [stats.sum, stats.mean, stats.min, stats.max]
            .iter()
            .chain(stats.stddev.iter())
            .all(|value| value.is_finite())
    });
    checks.push(Check {
        name: "statistics_finite",
        passed: finite,
        detail: format!("{} numeric columns", analysis.numeric.len()),
    });
    let ordered = analysis
        .numeric
        .values()
        .all(|stats| stats.min <= stats.mean && stats.mean <= stats.max);
    checks.push(Check {
        name: "mean_within_range",
        passed: ordered,
        detail: "min <= mean <= max for every numeric column".into(),
    });
    if let Some(groups) = &analysis.group_by {
        let mut mismatches = Vec::new();
        for (column, stats) in &analysis.numeric {
            let grouped: f64 = groups
                .groups
                .values()
                .filter_map(|group| group.totals.get(column))
                .sum();
            let tolerance = 1e-9 * stats.sum.abs().max(1.0);
            if (grouped - stats.sum).abs() > tolerance {
                mismatches.push(column.clone());
            }
        }
        checks.push(Check {
            name: "group_totals_reconcile",
            passed: mismatches.is_empty(),
            detail: if mismatches.is_empty() {
                format!("totals by {} add up to the column sums", groups.column)
            } else {
                format!(
                    "totals by {} differ for {}",
                    groups.column,
                    mismatches.join(", ")
                )
            },
        });
    }
    checks
}

fn summary(analysis: &Analysis) -> String {
    let mut summary = format!(
        "Analysed {} rows and {} columns ({} numeric).",
        analysis.rows,
        analysis.columns.len(),
        analysis.numeric.len()
    );
    for (column, stats) in &analysis.numeric {
        summary.push_str(&format!(
            " {column}: total {}, mean {:.2}, range {} to {}.",
            stats.sum, stats.mean, stats.min, stats.max
        ));
    }
    if let Some(groups) = &analysis.group_by {
        summary.push_str(&format!(
            " Grouped by {} into {} groups.",
            groups.column,
            groups.groups.len()
        ));
    }
    summary
}
