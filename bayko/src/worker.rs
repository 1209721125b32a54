//! The receive loop, and what happens to one message: parse → check the status → read the task
//! → claim → run the engine (heartbeating) → write the artifacts → commit the status → delete.
//!
//! A message is deleted only after the task's final status is in S3. A message that cannot be
//! processed is never deleted: it is made visible again (after a backoff) until the queue's
//! redrive moves it to the dead-letter queue.

use std::{sync::Arc, time::Duration};

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Value, json};
use shared::{
    event::ObjectCreated,
    keys::TaskKey,
    task::{
        ARTIFACT_NAMES, OUTPUT_PAYLOAD, PROCESSING_LOG, QUALITY_METRICS, TaskMetrics, TaskState,
        TaskStatus,
    },
};
use tokio::{sync::Mutex, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    artifacts::{Artifact, ArtifactStore},
    claim::{StatusStore, Versioned},
    completion::Notifier,
    config::Config,
    control::{CancelProbe, StopReason, TaskControl},
    engine::{Engine, EngineError, EngineSettings},
    inbox::Inbox,
    log::ProcessingLog,
    store::StoreError,
    tools::Registry,
};

/// What to do with a message once its handling ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The task reached a final state (now or before): acknowledge.
    Delete,
    /// Not processed: make the message visible again after this delay. Each receive counts
    /// towards the queue's redrive, so a message that never succeeds ends in the DLQ.
    Release(Duration),
    /// Another worker took the task over and holds its own delivery: leave the message alone.
    Abandon,
}

/// How a task ended, before it is written down.
struct Conclusion {
    state: TaskState,
    error: Option<String>,
    output: Option<Value>,
    quality: Option<Value>,
    tools_used: Vec<String>,
}

/// A worker: cheap to clone, every clone shares the same clients and engine.
#[derive(Clone)]
pub struct Worker {
    config: Arc<Config>,
    engine: Engine,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    inbox: Inbox,
    statuses: StatusStore,
    artifacts: ArtifactStore,
    notifier: Option<Notifier>,
}

impl Worker {
    /// A worker with the built-in tools and default policies.
    pub fn new(config: Config, aws: &aws_config::SdkConfig) -> Self {
        Self::with_registry(config, aws, Arc::new(Registry::builtin()))
    }

    /// A worker with the tools of `registry` (see [`Registry::from_config`]).
    pub fn with_registry(
        config: Config,
        aws: &aws_config::SdkConfig,
        registry: Arc<Registry>,
    ) -> Self {
        let s3 = bb_aws::s3(aws);
        let engine = Engine::new(
            registry,
            EngineSettings {
                chaos_step_delay: config.chaos_step_delay,
            },
        );
        Self {
            engine,
            sqs: bb_aws::sqs(aws),
            inbox: Inbox::new(s3.clone(), config.tasks_bucket.clone()),
            statuses: StatusStore::new(s3.clone(), config.tasks_bucket.clone()),
            artifacts: ArtifactStore::new(s3.clone(), config.artifacts_bucket.clone()),
            notifier: config.event_bus.clone().map(|bus| Notifier::new(aws, bus)),
            s3,
            config: Arc::new(config),
        }
    }

    /// `Task Finished` events that could not be published, since the worker started.
    pub fn completion_failures(&self) -> u64 {
        self.notifier.as_ref().map_or(0, Notifier::failures)
    }

    /// Receives and processes until `shutdown` is cancelled; then stops receiving, gives the
    /// tasks in flight the grace period to finish, and hands the rest back to the queue.
    pub async fn run(&self, shutdown: CancellationToken) {
        let abort = CancellationToken::new();
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
                        let abort = abort.clone();
                        in_flight.spawn(async move { worker.process(message, &abort).await });
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
        let grace = self.config.shutdown_grace;
        tracing::info!(
            in_flight = in_flight.len(),
            ?grace,
            "stopping: finishing tasks in flight"
        );
        let drain = async { while in_flight.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!(
                unfinished = in_flight.len(),
                "grace period over: handing unfinished tasks back to the queue"
            );
            abort.cancel();
            while in_flight.join_next().await.is_some() {}
        }
        tracing::info!("Bayko stopped");
    }

    /// One receive and the processing of everything it brought: the loop's step, for tests
    /// that drive the worker without it. Returns how many messages were handled.
    pub async fn process_batch(&self) -> Result<usize, StoreError> {
        let messages = self.receive(10).await?;
        let count = messages.len();
        let abort = CancellationToken::new();
        let mut handling = JoinSet::new();
        for message in messages {
            let worker = self.clone();
            let abort = abort.clone();
            handling.spawn(async move { worker.process(message, &abort).await });
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
            .visibility_timeout(self.message_hold().as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("receiving messages", err))?;
        Ok(output.messages.unwrap_or_default())
    }

    /// Handles one message and settles it with the queue.
    async fn process(&self, message: Message, abort: &CancellationToken) {
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
        let delivery = Delivery {
            body: message.body().unwrap_or_default(),
            receive_count,
            receipt: message.receipt_handle(),
        };
        let disposition = self.handle(&delivery, abort).instrument(span.clone()).await;
        self.settle(&message, disposition).instrument(span).await;
    }

    async fn settle(&self, message: &Message, disposition: Disposition) {
        let Some(receipt) = message.receipt_handle() else {
            return;
        };
        let result = match disposition {
            Disposition::Abandon => return,
            Disposition::Delete => self
                .sqs
                .delete_message()
                .queue_url(&self.config.queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map(drop)
                .map_err(|err| StoreError::from_sdk("deleting the message", err)),
            Disposition::Release(after) => self.extend_visibility(receipt, after).await,
        };
        // If settling fails the message simply reappears after its visibility timeout; the
        // status document makes the redelivery harmless.
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not settle the message");
        }
    }

    async fn extend_visibility(&self, receipt: &str, after: Duration) -> Result<(), StoreError> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.config.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(after.as_secs().min(43_200) as i32)
            .send()
            .await
            .map(drop)
            .map_err(|err| StoreError::from_sdk("changing the message's visibility", err))
    }

    /// How long a received message stays hidden: the lease and a margin, so that when a dead
    /// worker's message reappears its lease has already run out and the task is taken over
    /// at once.
    fn message_hold(&self) -> Duration {
        self.config.lease + Duration::from_secs(2)
    }

    /// Decides a message's fate. Public so that tests can hand it deliveries directly.
    pub async fn handle(&self, delivery: &Delivery<'_>, abort: &CancellationToken) -> Disposition {
        let event = match ObjectCreated::from_sqs_body(delivery.body) {
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
            let retry = Disposition::Release(backoff(
                self.config.retry_base,
                self.config.retry_max,
                delivery.receive_count,
            ));
            match self.run_task(&key, delivery, abort).await {
                Ok(disposition) => disposition,
                Err(StoreError::NotFound(object)) => {
                    // Not ours to fail: there is no task. The redrive keeps the evidence.
                    tracing::warn!(%object, "the event names a missing task object");
                    retry
                }
                Err(err) if delivery.receive_count >= self.config.max_attempts => {
                    tracing::warn!(error = %err, "retry budget spent, failing the task");
                    let reason =
                        format!("gave up after {} attempts: {err}", delivery.receive_count);
                    self.give_up(&key, reason).await.unwrap_or(retry)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "task not processed, will retry");
                    retry
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn run_task(
        &self,
        key: &TaskKey,
        delivery: &Delivery<'_>,
        abort: &CancellationToken,
    ) -> Result<Disposition, StoreError> {
        let previous = self.statuses.read(key).await?;
        if let Some(held) = &previous {
            if held.status.status.is_final() {
                tracing::info!(status = ?held.status.status, "task already finished, acknowledging");
                return Ok(Disposition::Delete);
            }
            if let Some(remaining) = lease_remaining(&held.status, Utc::now()) {
                tracing::info!(holder = ?held.status.worker, ?remaining, "task held by a live worker, deferring");
                return Ok(Disposition::Release(remaining + Duration::from_secs(1)));
            }
        }
        // Here a running task's lease is over: its worker was lost mid-task (crashed, killed,
        // out of memory). When that has happened too often — by attempts, or by deliveries,
        // which the queue counts towards its redrive — the task may be what kills workers:
        // stop with the reason rather than take down another worker or let the message go to
        // the DLQ while the status still says running.
        if let Some(held) = &previous
            && held.status.status == TaskState::Running
            && (held.status.attempt >= self.config.max_attempts
                || delivery.receive_count >= self.config.max_attempts)
        {
            let reason = format!(
                "the task was started {} times (its message delivered {} times) and its worker \
                 was lost each time; it is not retried again",
                held.status.attempt, delivery.receive_count
            );
            tracing::warn!(
                attempts = held.status.attempt,
                "giving up on a task that keeps losing its worker"
            );
            return self
                .end_unclaimed(key, previous.as_ref(), TaskState::Failed, reason)
                .await;
        }
        let probe = CancelProbe {
            s3: self.s3.clone(),
            bucket: self.config.tasks_bucket.clone(),
            key: key.clone(),
        };
        if probe.requested().await {
            tracing::info!("cancelled before it started");
            return self
                .end_unclaimed(key, previous.as_ref(), TaskState::Cancelled, CANCELLED)
                .await;
        }
        let task = match self.inbox.read(key).await {
            Ok(task) => task,
            Err(StoreError::Invalid(reason)) => {
                tracing::warn!(%reason, "invalid task object, failing the task");
                return self
                    .end_unclaimed(key, previous.as_ref(), TaskState::Failed, reason)
                    .await;
            }
            Err(err) => return Err(err),
        };

        let held = self
            .statuses
            .claim(
                key,
                task.submitted_at,
                previous.as_ref(),
                &self.config.worker_id,
                self.config.lease,
            )
            .await?;
        tracing::info!(attempt = held.status.attempt, "task claimed");
        let started = std::time::Instant::now();
        let mut log = ProcessingLog::new(key.task_id);
        log.record(
            "claimed",
            json!({"attempt": held.status.attempt, "worker": self.config.worker_id}),
        );
        let control = TaskControl::new(abort, Some(probe));
        let held = Arc::new(Mutex::new(held));
        let heartbeat = tokio::spawn(
            self.clone()
                .heartbeat(
                    key.clone(),
                    held.clone(),
                    control.clone(),
                    delivery.receipt.map(str::to_owned),
                )
                .in_current_span(),
        );
        let outcome = self.engine.run(&task, &mut log, &control).await;
        // The heartbeat writes the status only while it holds `held`: stopping it with the lock
        // in hand never cuts a write short (a write that landed unseen would make our final
        // commit look like a lost lease).
        let mut held = {
            let held = held.lock().await;
            heartbeat.abort();
            held.clone()
        };
        let _ = heartbeat.await;
        held.status.progress = control.progress().snapshot();
        let elapsed_ms = started.elapsed().as_millis() as u64;

        let conclusion = match outcome {
            Ok(outcome) => Conclusion {
                state: outcome.state,
                error: outcome.reason,
                output: Some(outcome.output),
                quality: Some(outcome.quality),
                tools_used: outcome.tools_used,
            },
            Err(EngineError::Failed(failure)) => {
                log.record("failed", json!({"reason": failure.reason}));
                Conclusion::ended(TaskState::Failed, failure.reason)
            }
            Err(EngineError::Stopped(StopReason::Cancelled)) => {
                log.record("cancelled", json!({"before_start": false}));
                Conclusion::ended(TaskState::Cancelled, CANCELLED.into())
            }
            Err(EngineError::Stopped(StopReason::LostLease)) => {
                tracing::warn!("lost the task to another worker, walking away");
                return Ok(Disposition::Abandon);
            }
            Err(EngineError::Stopped(StopReason::ShuttingDown)) => {
                if let Err(err) = self.statuses.release(key, &held).await {
                    tracing::warn!(error = %err, "could not end the lease early");
                }
                tracing::info!("shutting down: task handed back to the queue");
                return Ok(Disposition::Release(Duration::ZERO));
            }
        };
        self.finish(key, &held, conclusion, log, elapsed_ms).await
    }

    /// Every `heartbeat` interval while the task runs: keep the message invisible, renew the
    /// lease in the status (losing it means another worker took over), and look for a cancel
    /// request.
    async fn heartbeat(
        self,
        key: TaskKey,
        held: Arc<Mutex<Versioned>>,
        control: TaskControl,
        receipt: Option<String>,
    ) {
        let mut ticks = tokio::time::interval(self.config.heartbeat);
        ticks.tick().await;
        loop {
            // Progress is written soon after a step starts or ends, and again with each beat.
            let beat = tokio::select! {
                _ = ticks.tick() => true,
                () = control.progress().changed() => {
                    // Steps often start and end together: one write for the lot, and none
                    // at all when the task ends meanwhile (its final status carries it).
                    tokio::time::sleep(PROGRESS_SETTLE.min(self.config.heartbeat / 2)).await;
                    false
                }
            };
            {
                let mut held = held.lock().await;
                held.status.progress = control.progress().snapshot();
                let written = match beat {
                    true => self.statuses.renew(&key, &held, self.config.lease).await,
                    false => self.statuses.touch(&key, &held).await,
                };
                match written {
                    Ok(renewed) => *held = renewed,
                    Err(StoreError::Conflict) => {
                        control.stop(StopReason::LostLease);
                        return;
                    }
                    Err(err) => tracing::warn!(error = %err, "could not renew the lease"),
                }
            }
            if !beat {
                continue;
            }
            // After the lease: a redelivery must find the lease already over, or it would
            // only be put back again, spending one of the message's receives.
            if let Some(receipt) = &receipt
                && let Err(err) = self.extend_visibility(receipt, self.message_hold()).await
            {
                tracing::warn!(error = %err, "could not extend the message's visibility");
            }
            if let Some(probe) = control.probe()
                && probe.requested().await
            {
                control.stop(StopReason::Cancelled);
                return;
            }
        }
    }

    /// Writes the artifacts, then the final status; only then may the message go.
    async fn finish(
        &self,
        key: &TaskKey,
        held: &Versioned,
        conclusion: Conclusion,
        mut log: ProcessingLog,
        elapsed_ms: u64,
    ) -> Result<Disposition, StoreError> {
        let mut artifacts = Vec::new();
        if let Some(output) = &conclusion.output {
            artifacts.push(json_artifact(OUTPUT_PAYLOAD, output));
        }
        if let Some(quality) = &conclusion.quality {
            artifacts.push(json_artifact(QUALITY_METRICS, quality));
        }
        log.record(
            "finished",
            json!({"status": conclusion.state, "processing_time_ms": elapsed_ms}),
        );
        artifacts.push(Artifact {
            name: PROCESSING_LOG,
            content_type: "application/x-ndjson",
            body: log.to_json_lines().into_bytes(),
        });
        let mut stored = self.artifacts.write_once(key, artifacts).await?;
        stored.sort_by_key(|artifact| {
            ARTIFACT_NAMES
                .iter()
                .position(|name| *name == artifact.name)
        });
        let now = Utc::now();
        let status = TaskStatus {
            status: conclusion.state,
            updated_at: now,
            finished_at: Some(now),
            lease_until: None,
            error: conclusion.error,
            metrics: Some(TaskMetrics {
                processing_time_ms: elapsed_ms,
                tools_used: conclusion.tools_used,
            }),
            artifacts: stored,
            ..held.status.clone()
        };
        match self.statuses.commit(key, held, status).await {
            Ok(written) => {
                tracing::info!(status = ?conclusion.state, elapsed_ms, "task finished");
                self.announce(&written.status).await;
                Ok(Disposition::Delete)
            }
            Err(StoreError::Conflict) => {
                // Another worker took the task over; its commit is the one that counts.
                tracing::warn!("lost the task to another worker, discarding this result");
                Ok(Disposition::Abandon)
            }
            Err(err) => Err(err),
        }
    }

    /// Ends a task that was never (or is no longer) claimed by this worker: cancelled before
    /// it started, invalid, or given up on. Conditional on the status it was read as.
    async fn end_unclaimed(
        &self,
        key: &TaskKey,
        previous: Option<&Versioned>,
        state: TaskState,
        reason: impl Into<String>,
    ) -> Result<Disposition, StoreError> {
        let now = Utc::now();
        let status = TaskStatus {
            task_id: key.task_id,
            tenant: key.tenant.to_string(),
            status: state,
            submitted_at: previous.map_or(now, |held| held.status.submitted_at),
            updated_at: now,
            started_at: previous.and_then(|held| held.status.started_at),
            finished_at: Some(now),
            lease_until: None,
            attempt: previous.map_or(0, |held| held.status.attempt),
            worker: Some(self.config.worker_id.clone()),
            error: Some(reason.into()),
            metrics: None,
            artifacts: Vec::new(),
            progress: None,
        };
        self.finish_unclaimed(key, previous, status).await
    }

    async fn finish_unclaimed(
        &self,
        key: &TaskKey,
        previous: Option<&Versioned>,
        status: TaskStatus,
    ) -> Result<Disposition, StoreError> {
        let state = status.status;
        match self.statuses.finish_unclaimed(key, previous, status).await {
            Ok(written) => {
                tracing::info!(status = ?state, "task finished without running");
                self.announce(&written.status).await;
                Ok(Disposition::Delete)
            }
            // Someone else moved the task on: look again on the next delivery.
            Err(StoreError::Conflict) => Ok(Disposition::Release(Duration::ZERO)),
            Err(err) => Err(err),
        }
    }

    /// Tells the event bus, when one is configured, that a task reached its final state.
    async fn announce(&self, status: &TaskStatus) {
        if let Some(notifier) = &self.notifier {
            notifier.task_finished(status).await;
        }
    }

    /// The retry budget is spent: record the failure so the client learns why.
    async fn give_up(&self, key: &TaskKey, reason: String) -> Result<Disposition, StoreError> {
        let previous = self.statuses.read(key).await?;
        if previous
            .as_ref()
            .is_some_and(|held| held.status.status.is_final())
        {
            return Ok(Disposition::Delete);
        }
        self.end_unclaimed(key, previous.as_ref(), TaskState::Failed, reason)
            .await
    }
}

const CANCELLED: &str = "cancelled at the client's request";

/// How long progress changes are gathered before one status write carries them: at most one
/// progress write a second per task, so progress does not multiply the status writes.
const PROGRESS_SETTLE: Duration = Duration::from_secs(1);

impl Conclusion {
    fn ended(state: TaskState, reason: String) -> Self {
        Self {
            state,
            error: Some(reason),
            output: None,
            quality: None,
            tools_used: Vec::new(),
        }
    }
}

/// One delivery of a message: its body, how often it was received, and the handle that
/// settles it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub body: &'a str,
    pub receive_count: u32,
    pub receipt: Option<&'a str>,
}

/// How long a running task's lease still holds, if it does.
fn lease_remaining(status: &TaskStatus, now: DateTime<Utc>) -> Option<Duration> {
    if status.status != TaskState::Running {
        return None;
    }
    let until = status.lease_until?;
    (until > now).then(|| (until - now).to_std().unwrap_or_default())
}

fn json_artifact(name: &'static str, value: &Value) -> Artifact {
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

    #[test]
    fn only_a_running_task_with_a_future_lease_is_held() {
        let now = Utc::now();
        let mut status = TaskStatus {
            task_id: uuid::Uuid::now_v7(),
            tenant: "default".into(),
            status: TaskState::Running,
            submitted_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
            lease_until: Some(now + Duration::from_secs(30)),
            attempt: 1,
            worker: None,
            error: None,
            metrics: None,
            artifacts: Vec::new(),
            progress: None,
        };
        assert!(lease_remaining(&status, now).is_some_and(|d| d <= Duration::from_secs(30)));
        status.lease_until = Some(now - Duration::from_secs(1));
        assert_eq!(lease_remaining(&status, now), None);
        status.lease_until = None;
        assert_eq!(lease_remaining(&status, now), None);
    }
}
