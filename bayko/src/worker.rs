//! The receive loop, and what happens to one message: parse → read the task → claim → run the
//! engine → write the artifacts → commit the status → delete the message.
//!
//! A message is deleted only after the task's final status is in S3. A message that cannot be
//! processed is never deleted: it is made visible again (after a backoff) until the queue's
//! redrive moves it to the dead-letter queue.

use std::{sync::Arc, time::Duration};

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use chrono::Utc;
use rand::Rng;
use serde_json::json;
use shared::{
    event::ObjectCreated,
    keys::TaskKey,
    task::{OUTPUT_PAYLOAD, PROCESSING_LOG, QUALITY_METRICS, TaskMetrics, TaskState, TaskStatus},
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    artifacts::{Artifact, ArtifactStore},
    claim::{StatusStore, Versioned},
    config::Config,
    engine,
    inbox::Inbox,
    log::ProcessingLog,
    store::StoreError,
};

/// What to do with a message once its handling ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The task reached a final state (now or before): acknowledge.
    Delete,
    /// Not processed: make the message visible again after this delay. Each receive counts
    /// towards the queue's redrive, so a message that never succeeds ends in the DLQ.
    Release(Duration),
}

/// A worker: cheap to clone, every clone shares the same clients.
#[derive(Clone)]
pub struct Worker {
    config: Arc<Config>,
    sqs: aws_sdk_sqs::Client,
    inbox: Inbox,
    statuses: StatusStore,
    artifacts: ArtifactStore,
}

impl Worker {
    pub fn new(config: Config, aws: &aws_config::SdkConfig) -> Self {
        let s3 = shared::aws::s3(aws);
        Self {
            sqs: shared::aws::sqs(aws),
            inbox: Inbox::new(s3.clone(), config.tasks_bucket.clone()),
            statuses: StatusStore::new(s3.clone(), config.tasks_bucket.clone()),
            artifacts: ArtifactStore::new(s3, config.artifacts_bucket.clone()),
            config: Arc::new(config),
        }
    }

    /// Receives and processes until `shutdown` is cancelled, then finishes what is in flight.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut in_flight = JoinSet::new();
        let mut failures: u32 = 0;
        tracing::info!(worker = %self.config.worker_id, "Bayko receiving");
        loop {
            while in_flight.try_join_next().is_some() {}
            let capacity = self.config.max_in_flight.saturating_sub(in_flight.len());
            if capacity == 0 {
                tokio::select! {
                    _ = in_flight.join_next() => continue,
                    () = shutdown.cancelled() => break,
                }
            }
            let received = tokio::select! {
                received = self.receive(capacity) => received,
                () = shutdown.cancelled() => break,
            };
            match received {
                Ok(messages) => {
                    failures = 0;
                    for message in messages {
                        let worker = self.clone();
                        in_flight.spawn(async move { worker.process(message).await });
                    }
                }
                Err(err) => {
                    // The queue is unreachable: back off with jitter, resume by ourselves.
                    failures = failures.saturating_add(1);
                    let delay = backoff(self.config.retry_base, self.config.retry_max, failures);
                    tracing::warn!(error = %err, retry_in = ?delay, "receiving failed");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.cancelled() => break,
                    }
                }
            }
        }
        tracing::info!(
            in_flight = in_flight.len(),
            "stopping: finishing tasks in flight"
        );
        while in_flight.join_next().await.is_some() {}
        tracing::info!("Bayko stopped");
    }

    /// One receive and the processing of everything it brought: the loop's step, for tests
    /// that drive the worker without it. Returns how many messages were handled.
    pub async fn process_batch(&self) -> Result<usize, StoreError> {
        let messages = self.receive(10).await?;
        let count = messages.len();
        let mut handling = JoinSet::new();
        for message in messages {
            let worker = self.clone();
            handling.spawn(async move { worker.process(message).await });
        }
        while handling.join_next().await.is_some() {}
        Ok(count)
    }

    async fn receive(&self, max: usize) -> Result<Vec<Message>, StoreError> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.config.queue_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(self.config.wait_time.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("receiving messages", err))?;
        Ok(output.messages.unwrap_or_default())
    }

    /// Handles one message and settles it with the queue.
    async fn process(&self, message: Message) {
        let message_id = message.message_id.clone().unwrap_or_default();
        let receive_count: u32 = message
            .attributes
            .as_ref()
            .and_then(|attributes| {
                attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount)
            })
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        let span = tracing::info_span!("message", %message_id, receive_count);
        let disposition = self
            .handle(message.body().unwrap_or_default(), receive_count)
            .instrument(span.clone())
            .await;
        self.settle(&message, disposition).instrument(span).await;
    }

    async fn settle(&self, message: &Message, disposition: Disposition) {
        let Some(receipt) = message.receipt_handle() else {
            return;
        };
        let result = match disposition {
            Disposition::Delete => self
                .sqs
                .delete_message()
                .queue_url(&self.config.queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map(drop)
                .map_err(|err| StoreError::from_sdk("deleting the message", err)),
            Disposition::Release(after) => self
                .sqs
                .change_message_visibility()
                .queue_url(&self.config.queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(after.as_secs().min(43_200) as i32)
                .send()
                .await
                .map(drop)
                .map_err(|err| StoreError::from_sdk("releasing the message", err)),
        };
        // If settling fails the message simply reappears after its visibility timeout; the
        // status document makes the redelivery harmless.
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not settle the message");
        }
    }

    /// Decides a message's fate. Public so that tests can hand it bodies directly.
    pub async fn handle(&self, body: &str, receive_count: u32) -> Disposition {
        let retry = || {
            Disposition::Release(backoff(
                self.config.retry_base,
                self.config.retry_max,
                receive_count,
            ))
        };
        let event = match ObjectCreated::from_sqs_body(body) {
            Ok(event) => event,
            Err(err) => {
                // Malformed for good: release at once, so the redrive moves it to the DLQ soon.
                tracing::warn!(error = %err, "unprocessable message, leaving it for the DLQ");
                return Disposition::Release(Duration::ZERO);
            }
        };
        if event.bucket != self.config.tasks_bucket {
            tracing::warn!(bucket = %event.bucket, "event for another bucket, leaving it for the DLQ");
            return Disposition::Release(Duration::ZERO);
        }
        let key = event.task;
        let span = tracing::info_span!("task", task_id = %key.task_id, tenant = %key.tenant);
        async {
            match self.run_task(&key).await {
                Ok(disposition) => disposition,
                Err(StoreError::NotFound(object)) => {
                    tracing::warn!(%object, "the event names a missing task object");
                    retry()
                }
                Err(err) => {
                    tracing::warn!(error = %err, "task not processed, will retry");
                    retry()
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn run_task(&self, key: &TaskKey) -> Result<Disposition, StoreError> {
        let previous = self.statuses.read(key).await?;
        if let Some(held) = &previous
            && held.status.status.is_final()
        {
            tracing::info!(status = ?held.status.status, "task already finished, acknowledging");
            return Ok(Disposition::Delete);
        }
        let task = match self.inbox.read(key).await {
            Ok(task) => task,
            Err(StoreError::Invalid(reason)) => {
                let submitted_at = previous
                    .as_ref()
                    .map_or_else(Utc::now, |held| held.status.submitted_at);
                let held = self.claim(key, submitted_at, previous.as_ref()).await?;
                let mut log = ProcessingLog::new(key.task_id);
                log.record("failed", json!({"reason": reason}));
                return self
                    .finish(key, &held, Err(engine::TaskFailure { reason }), log, 0)
                    .await;
            }
            Err(err) => return Err(err),
        };
        let held = self
            .claim(key, task.submitted_at, previous.as_ref())
            .await?;
        let started = std::time::Instant::now();
        let mut log = ProcessingLog::new(key.task_id);
        log.record(
            "claimed",
            json!({"attempt": held.status.attempt, "worker": self.config.worker_id}),
        );
        let outcome = engine::run(&task, &mut log);
        let elapsed = started.elapsed().as_millis() as u64;
        self.finish(key, &held, outcome, log, elapsed).await
    }

    async fn claim(
        &self,
        key: &TaskKey,
        submitted_at: chrono::DateTime<Utc>,
        previous: Option<&Versioned>,
    ) -> Result<Versioned, StoreError> {
        let held = self
            .statuses
            .claim(key, submitted_at, previous, &self.config.worker_id)
            .await?;
        tracing::info!(attempt = held.status.attempt, "task claimed");
        Ok(held)
    }

    /// Writes the artifacts, then the final status; only then may the message go.
    async fn finish(
        &self,
        key: &TaskKey,
        held: &Versioned,
        outcome: Result<engine::Outcome, engine::TaskFailure>,
        mut log: ProcessingLog,
        elapsed_ms: u64,
    ) -> Result<Disposition, StoreError> {
        let (state, error, tools_used, mut artifacts) = match outcome {
            Ok(outcome) => {
                let artifacts = vec![
                    json_artifact(OUTPUT_PAYLOAD, &outcome.output),
                    json_artifact(QUALITY_METRICS, &outcome.quality),
                ];
                (outcome.state, outcome.reason, outcome.tools_used, artifacts)
            }
            Err(failure) => {
                log.record("failed", json!({"reason": failure.reason}));
                (
                    TaskState::Failed,
                    Some(failure.reason),
                    Vec::new(),
                    Vec::new(),
                )
            }
        };
        log.record(
            "finished",
            json!({"status": state, "processing_time_ms": elapsed_ms}),
        );
        artifacts.push(Artifact {
            name: PROCESSING_LOG,
            content_type: "application/x-ndjson",
            body: log.to_json_lines().into_bytes(),
        });
        let mut stored = self.artifacts.write_once(key, artifacts).await?;
        stored.sort_by_key(|artifact| {
            shared::task::ARTIFACT_NAMES
                .iter()
                .position(|name| *name == artifact.name)
        });
        let now = Utc::now();
        let status = TaskStatus {
            status: state,
            updated_at: now,
            finished_at: Some(now),
            error,
            metrics: Some(TaskMetrics {
                processing_time_ms: elapsed_ms,
                tools_used,
            }),
            artifacts: stored,
            ..held.status.clone()
        };
        match self.statuses.commit(key, held, status).await {
            Ok(_) => {
                tracing::info!(status = ?state, elapsed_ms, "task finished");
                Ok(Disposition::Delete)
            }
            Err(StoreError::Conflict) => {
                // Another worker took the task over; its commit is the one that counts.
                tracing::warn!("lost the task to another worker, discarding this result");
                Ok(Disposition::Delete)
            }
            Err(err) => Err(err),
        }
    }
}

fn json_artifact(name: &'static str, value: &serde_json::Value) -> Artifact {
    Artifact {
        name,
        content_type: "application/json",
        body: serde_json::to_vec_pretty(value).unwrap_or_default(),
    }
}

/// Exponential backoff with full jitter: a random delay up to `base * 2^(attempt-1)`, capped.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let ceiling = base.saturating_mul(1 << exponent).min(max);
    let millis = ceiling.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for _ in 0..100 {
            assert!(backoff(base, max, 1) <= base);
            assert!(backoff(base, max, 3) <= Duration::from_millis(400));
            assert!(backoff(base, max, 30) <= max);
        }
    }
}
