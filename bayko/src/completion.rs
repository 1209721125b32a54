//! Completion events: once a task's final status is in S3, Bayko publishes `Task Finished` to
//! the configured EventBridge bus, so that users learn about it through their own rules.
//!
//! The status in S3 is the record; the event is a notification about it. Publishing is retried
//! with backoff, and an event that still cannot be published is logged and counted rather than
//! holding the task's message: the task itself is never lost or repeated because of it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::{
    finished::{DETAIL_TYPE, SOURCE, TaskFinished},
    task::TaskStatus,
};

use crate::backoff::full_jitter;

/// Attempts per event, and the first pause between them (doubled each time, with jitter).
const ATTEMPTS: u32 = 5;
const RETRY_BASE: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(3);

/// Publishes `Task Finished` events. Cheap to clone; clones share the failure count.
#[derive(Clone)]
pub struct Notifier {
    events: aws_sdk_eventbridge::Client,
    bus: String,
    failures: Arc<AtomicU64>,
}

#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("PutEvents failed: {0}")]
    Call(String),
    #[error("the bus refused the event: {0}")]
    Refused(String),
}

impl Notifier {
    pub fn new(aws: &aws_config::SdkConfig, bus: String) -> Self {
        Self {
            events: aws_sdk_eventbridge::Client::new(aws),
            bus,
            failures: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Events that could not be published after every attempt, since the worker started.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Publishes the event for this final status, retrying; a failure is counted, not returned.
    pub async fn task_finished(&self, status: &TaskStatus) {
        let detail = match serde_json::to_string(&TaskFinished::from(status)) {
            Ok(detail) => detail,
            Err(err) => {
                self.count_failure(&err.to_string());
                return;
            }
        };
        for attempt in 1..=ATTEMPTS {
            match self.publish(&detail).await {
                Ok(()) => {
                    tracing::debug!(bus = %self.bus, "Task Finished published");
                    return;
                }
                Err(err) if attempt < ATTEMPTS => {
                    tracing::info!(error = %err, attempt, "Task Finished not published, retrying");
                    tokio::time::sleep(full_jitter(RETRY_BASE, RETRY_MAX, attempt)).await;
                }
                Err(err) => self.count_failure(&err.to_string()),
            }
        }
    }

    async fn publish(&self, detail: &str) -> Result<(), PublishError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(DETAIL_TYPE)
            .detail(detail)
            .build();
        let output = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|err| PublishError::Call(err.into_service_error().to_string()))?;
        // PutEvents answers 200 even when it refuses an entry: the entry says why.
        if output.failed_entry_count > 0 {
            let reason = output
                .entries
                .unwrap_or_default()
                .into_iter()
                .find_map(|entry| entry.error_code.zip(entry.error_message))
                .map(|(code, message)| format!("{code}: {message}"))
                .unwrap_or_else(|| "no reason given".into());
            return Err(PublishError::Refused(reason));
        }
        Ok(())
    }

    fn count_failure(&self, reason: &str) {
        let total = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(
            bus = %self.bus,
            %reason,
            completion_event_failures = total,
            "Task Finished could not be published; the status in S3 is unaffected"
        );
    }
}
