//! `processing.log`: what happened to one task, as JSON lines, in order. Kept in memory while
//! the task runs (it is small) and written once with the other artifacts.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use crate::metrics::Metrics;

// The lines' types are part of the shared contract: their schemas are in Brown's OpenAPI
// description, for clients that read the log.
pub use shared::artifacts::{LogEvent, LogEventKind as Event};

#[derive(Debug, Clone)]
pub struct ProcessingLog {
    task_id: Uuid,
    trace_id: String,
    events: Vec<LogEvent>,
    /// The worker's metrics see every event too, so the log and the metrics agree.
    metrics: Option<Arc<Metrics>>,
}

impl ProcessingLog {
    /// A log outside any trace, feeding no metrics (engine tests, placeholders).
    pub fn new(task_id: Uuid) -> Self {
        Self::traced(task_id, String::new(), None)
    }

    /// The log of a run in trace `trace_id` (the task's trace, continued from Brown).
    pub fn traced(task_id: Uuid, trace_id: String, metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            task_id,
            trace_id,
            events: Vec::new(),
            metrics,
        }
    }

    /// Records an event; `detail` is any JSON (`Value::Null` for none).
    pub fn record(&mut self, event: Event, detail: Value) {
        self.push(event, None, None, detail);
    }

    pub fn record_tool(
        &mut self,
        event: Event,
        tool: &str,
        duration_ms: Option<u64>,
        detail: Value,
    ) {
        self.push(event, Some(tool.to_owned()), duration_ms, detail);
    }

    fn push(
        &mut self,
        event: Event,
        tool: Option<String>,
        duration_ms: Option<u64>,
        detail: Value,
    ) {
        if let (Some(metrics), Some(tool)) = (&self.metrics, &tool) {
            metrics.observe_event(event, tool, duration_ms);
        }
        self.events.push(LogEvent {
            ts: Utc::now(),
            task_id: self.task_id,
            trace_id: self.trace_id.clone(),
            event,
            tool,
            duration_ms,
            detail,
        });
    }

    /// Replaces PII and secrets in every event's detail (errors quote tools, tools quote the
    /// task's data); returns how many were replaced.
    pub fn redact(&mut self) -> usize {
        self.events
            .iter_mut()
            .map(|event| shared::compliance::redact_json(&mut event.detail))
            .sum()
    }

    pub fn events(&self) -> &[LogEvent] {
        &self.events
    }

    /// The log as JSON lines, one event per line.
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        for event in &self.events {
            // A LogEvent always serialises: its fields are plain data.
            out.push_str(&serde_json::to_string(event).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_one_json_object_per_line() {
        let id = Uuid::now_v7();
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".to_owned();
        let mut log = ProcessingLog::traced(id, trace_id.clone(), None);
        log.record(Event::Claimed, json!({"attempt": 1}));
        log.record_tool(Event::StepFinished, "data-processor", Some(3), Value::Null);
        let lines: Vec<Value> = log
            .to_json_lines()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "claimed");
        assert_eq!(lines[0]["task_id"], id.to_string());
        assert_eq!(lines[0]["trace_id"], trace_id);
        assert_eq!(lines[0]["trace_id"], lines[1]["trace_id"]);
        assert_eq!(lines[1]["tool"], "data-processor");
        assert_eq!(lines[1]["duration_ms"], 3);
        assert!(lines[1].get("detail").is_none());
    }
}
