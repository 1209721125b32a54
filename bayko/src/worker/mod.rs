//! The receive loop, and what happens to one message: parse → check the status → read the task
//! → claim → run the engine (heartbeating) → write the artifacts → commit the status → delete.
//! A first delivery skips the status check: its create-only claim is the check, and the status
//! is read only when that claim is refused.
//!
//! A message is deleted only after the task's final status is in S3. A message that cannot be
//! processed is never deleted: it is made visible again (after a backoff) until the queue's
//! redrive moves it to the dead-letter queue.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use bb_aws::{Message, ObjectStore, WorkQueue};
use serde_json::json;
use shared::{
    event::ObjectCreated,
    keys::TaskKey,
    task::{
        ARTIFACT_NAMES, OUTPUT_PAYLOAD, PROCESSING_LOG, QUALITY_METRICS, TaskMetrics, TaskState,
        TaskStatus, TaskV1,
    },
};
use tokio::{sync::Mutex, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    artifacts::{Artifact, ArtifactStore},
    backoff,
    claim::{StatusStore, Versioned},
    clock::Clock,
    completion::Notifier,
    config::Config,
    control::{CancelProbe, StopReason, TaskControl},
    engine::Registry,
    engine::{Engine, EngineError, EngineSettings, Outcome},
    failure::StoreError,
    inbox::Inbox,
    log::{Event, ProcessingLog},
    metrics::{Health, Metrics, Readiness, ReleaseReason},
};

mod admission;
#[cfg(test)]
mod tests;

use admission::{Admission, admit};

/// What the status says about a delivery before any claim.
// Returned once per delivery and matched at once: boxing the status would only add a malloc.
#[allow(clippy::large_enum_variant)]
enum Admitted {
    /// Claim the task, replacing this version of the status (none: create it).
    Claim(Option<Versioned>),
    /// Settle the delivery without running the task.
    Settled(Disposition),
}

/// What to do with a message once its handling ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The task reached a final state (now or before): acknowledge.
    Delete,
    /// Not processed: make the message visible again after this delay. Each receive counts
    /// towards the queue's redrive, so a message that never succeeds ends in the DLQ.
    Release(Duration, ReleaseReason),
    /// Another worker took the task over and holds its own delivery: leave the message alone.
    Abandon,
}

/// A worker: cheap to clone, every clone shares the same seams and engine.
#[derive(Clone)]
pub struct Worker {
    config: Arc<Config>,
    engine: Engine,
    queue: Arc<dyn WorkQueue>,
    tasks: Arc<dyn ObjectStore>,
    inbox: Inbox,
    statuses: StatusStore,
    artifacts: ArtifactStore,
    metrics: Arc<Metrics>,
    health: Health,
    notifier: Option<Notifier>,
    clock: Clock,
}

/// What a worker reads and writes through: the work queue, the two buckets, and the clock its
/// leases are measured by.
pub struct Seams {
    pub queue: Arc<dyn WorkQueue>,
    pub tasks: Arc<dyn ObjectStore>,
    pub artifacts: Arc<dyn ObjectStore>,
    pub clock: Clock,
    /// Where `Task Finished` events go; none publishes nothing.
    pub events: Option<Notifier>,
}

impl Seams {
    /// The configured queue and buckets on AWS (or the emulator `aws` points at).
    pub fn aws(config: &Config, aws: &aws_config::SdkConfig) -> Self {
        let s3 = bb_aws::s3(aws);
        Self {
            queue: Arc::new(bb_aws::SqsQueue::new(
                bb_aws::sqs(aws),
                config.queue_url.clone(),
            )),
            tasks: Arc::new(bb_aws::S3Store::new(
                s3.clone(),
                config.tasks_bucket.clone(),
            )),
            artifacts: Arc::new(bb_aws::S3Store::new(s3, config.artifacts_bucket.clone())),
            clock: Clock::System,
            events: config.event_bus.clone().map(|bus| Notifier::new(aws, bus)),
        }
    }
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
        let seams = Seams::aws(&config, aws);
        Self::with_seams(config, registry, seams)
    }

    /// A worker on any queue and stores: AWS in production, memory in unit tests.
    pub fn with_seams(config: Config, registry: Arc<Registry>, seams: Seams) -> Self {
        let metrics = Arc::new(Metrics::new());
        metrics.register_tools(registry.clone());
        let engine = Engine::new(
            registry,
            EngineSettings {
                chaos_step_delay: config.chaos_step_delay,
            },
        );
        Self {
            engine,
            inbox: Inbox::new(seams.tasks.clone()),
            statuses: StatusStore::new(seams.tasks.clone()),
            artifacts: ArtifactStore::new(seams.artifacts),
            notifier: seams.events,
            queue: seams.queue,
            tasks: seams.tasks,
            clock: seams.clock,
            config: Arc::new(config),
            metrics,
            health: Health::default(),
        }
    }

    /// This worker's metrics, for its listener (`BAYKO_METRICS_BIND`).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Whether this worker receives from its queue, for `/readyz`.
    pub fn health(&self) -> Health {
        self.health.clone()
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
            // Asked to stop while waiting for a slot: no new long poll to wait out.
            if shutdown.is_cancelled() {
                break;
            }
            let mut receive = Box::pin({
                let worker = self.clone();
                async move { worker.receive(capacity).await }
            });
            let received = tokio::select! {
                received = &mut receive => received,
                () = shutdown.cancelled() => {
                    // Within the grace period, beside the tasks in flight.
                    let worker = self.clone();
                    in_flight.spawn(async move { worker.hand_back_last_receive(receive).await });
                    break;
                }
            };
            match received {
                Ok(messages) => {
                    self.health.set(Readiness::Receiving);
                    failures = 0;
                    for message in messages {
                        let worker = self.clone();
                        let abort = abort.clone();
                        in_flight.spawn(async move { worker.process(message, &abort).await });
                    }
                }
                Err(err) => {
                    // The queue is unreachable: back off with jitter, resume by ourselves.
                    self.health.set(Readiness::QueueUnreachable);
                    failures = failures.saturating_add(1);
                    let delay = backoff::full_jitter(
                        self.config.retry_base,
                        self.config.retry_max,
                        failures,
                    );
                    tracing::warn!(error = %err, retry_in = ?delay, "receiving failed");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.cancelled() => break,
                    }
                }
            }
        }
        self.health.set(Readiness::Stopping);
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

    /// Finishes a receive that shutdown interrupted and makes what it brings visible again at
    /// once. SQS (and moto) hands messages to a long poll whose caller has gone, so a dropped
    /// poll would hide them from every worker for the whole message hold; waiting costs at
    /// most one long poll, and the slack bounds a poll whose connection hangs.
    async fn hand_back_last_receive(
        &self,
        receive: impl Future<Output = Result<Vec<Message>, bb_aws::AwsError>>,
    ) {
        let limit = self.config.wait_time + RECEIVE_SLACK;
        let messages = match tokio::time::timeout(limit, receive).await {
            Ok(Ok(messages)) => messages,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "the last receive failed");
                return;
            }
            Err(_) => {
                tracing::warn!(?limit, "the last receive did not return: abandoned");
                return;
            }
        };
        if !messages.is_empty() {
            tracing::info!(
                messages = messages.len(),
                "stopping: handing the last receive back to the queue"
            );
        }
        for message in messages {
            self.settle(
                &message,
                Disposition::Release(Duration::ZERO, ReleaseReason::Shutdown),
            )
            .await;
        }
    }

    /// One receive and the processing of everything it brought: the loop's step, for tests
    /// that drive the worker without it. Returns how many messages were handled.
    #[cfg(test)]
    pub(crate) async fn process_batch(&self) -> Result<usize, StoreError> {
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

    async fn receive(&self, max: usize) -> Result<Vec<Message>, bb_aws::AwsError> {
        let messages = self
            .queue
            .receive(max, self.config.wait_time, self.message_hold())
            .await?;
        self.metrics.received_batch(
            messages.len(),
            messages
                .iter()
                .filter_map(|message| ObjectCreated::from_sqs_body(&message.body).ok()?.time),
        );
        Ok(messages)
    }

    /// Handles one message and settles it with the queue.
    async fn process(&self, message: Message, abort: &CancellationToken) {
        let received_at = SystemTime::now();
        let _in_flight = self.metrics.in_flight();
        let span = tracing::info_span!(
            "message",
            message_id = %message.id,
            receive_count = message.receive_count
        );
        let disposition = self
            .handle(&message, received_at, abort)
            .instrument(span.clone())
            .await;
        self.settle(&message, disposition).instrument(span).await;
    }

    async fn settle(&self, message: &Message, disposition: Disposition) {
        let receipt = &message.receipt;
        let result = match disposition {
            Disposition::Abandon => return,
            Disposition::Delete => self.queue.delete(receipt).await,
            Disposition::Release(after, reason) => {
                self.metrics.released(reason);
                self.queue.change_visibility(receipt, after).await
            }
        };
        // If settling fails the message simply reappears after its visibility timeout; the
        // status document makes the redelivery harmless.
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not settle the message");
        }
    }

    /// How long a received message stays hidden: the lease and a margin, so that when a dead
    /// worker's message reappears its lease has already run out and the task is taken over
    /// at once.
    fn message_hold(&self) -> Duration {
        self.config.lease + Duration::from_secs(2)
    }

    /// Decides a message's fate.
    async fn handle(
        &self,
        delivery: &Message,
        received_at: SystemTime,
        abort: &CancellationToken,
    ) -> Disposition {
        let event = match ObjectCreated::from_sqs_body(&delivery.body) {
            Ok(event) => event,
            Err(err) => {
                // Malformed for good: release at once, so the redrive moves it to the DLQ soon.
                tracing::warn!(error = %err, "unprocessable message, leaving it for the DLQ");
                return Disposition::Release(Duration::ZERO, ReleaseReason::Unprocessable);
            }
        };
        if event.bucket != self.config.tasks_bucket {
            tracing::warn!(bucket = %event.bucket, "event for another bucket, leaving it for the DLQ");
            return Disposition::Release(Duration::ZERO, ReleaseReason::Unprocessable);
        }
        if let Some(created) = event.time {
            let lag = (self.clock.now() - created).to_std().unwrap_or_default();
            self.metrics.received(lag);
        }
        let (key, size) = (event.task, event.size);
        let span = tracing::info_span!("task", task_id = %key.task_id, tenant = %key.tenant);
        async {
            let retry = Disposition::Release(
                backoff::full_jitter(
                    self.config.retry_base,
                    self.config.retry_max,
                    delivery.receive_count,
                ),
                ReleaseReason::Retry,
            );
            match self
                .run_task(&key, size, delivery, received_at, abort)
                .await
            {
                Ok(disposition) => disposition,
                Err(StoreError::Aws(bb_aws::AwsError::NotFound(object))) => {
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
        size: Option<u64>,
        delivery: &Message,
        received_at: SystemTime,
        abort: &CancellationToken,
    ) -> Result<Disposition, StoreError> {
        // A first delivery almost never finds a status: claim create-only without reading it,
        // and read it only if that claim is refused. One GET fewer on nearly every task.
        let optimistic = delivery.receive_count <= 1;
        let mut previous = None;
        if !optimistic {
            match self.read_and_admit(key, delivery).await? {
                Admitted::Claim(read) => previous = read,
                Admitted::Settled(disposition) => return Ok(disposition),
            }
        }
        let probe = CancelProbe::new(self.tasks.clone(), key.clone());
        if probe.requested().await {
            return self
                .end_before_claim(
                    key,
                    optimistic,
                    previous,
                    delivery,
                    TaskState::Cancelled,
                    CANCELLED.into(),
                )
                .await;
        }
        let (task, trace_context) = match self.inbox.read(key, size).await {
            Ok(read) => read,
            Err(StoreError::Invalid(reason)) => {
                return self
                    .end_before_claim(
                        key,
                        optimistic,
                        previous,
                        delivery,
                        TaskState::Failed,
                        reason,
                    )
                    .await;
            }
            Err(err) => return Err(err),
        };
        let process = self.process_span(
            key,
            delivery,
            received_at,
            previous.as_ref(),
            &trace_context,
        );
        let mut claimed = self
            .claim(key, &task, previous.as_ref(), &process)
            .instrument(process.clone())
            .await;
        if optimistic && matches!(&claimed, Err(err) if err.is_conflict()) {
            // The status was there after all (a duplicate event, another worker's claim):
            // decide on what it says, as a later delivery would.
            match self.read_and_admit(key, delivery).await? {
                Admitted::Claim(read) => previous = read,
                Admitted::Settled(disposition) => return Ok(disposition),
            }
            if let Some(earlier) = previous
                .as_ref()
                .and_then(|held| held.status.traceparent.as_deref())
            {
                shared::telemetry::link(&process, earlier);
            }
            claimed = self
                .claim(key, &task, previous.as_ref(), &process)
                .instrument(process.clone())
                .await;
        }
        let held = claimed?;
        if previous
            .as_ref()
            .is_some_and(|held| held.status.status == TaskState::Running)
        {
            self.metrics.taken_over();
        }
        self.run_claimed(key, delivery, abort, held, probe, task, &process)
            .instrument(process.clone())
            .await
    }

    /// Ends a task that never ran (cancelled before it started, or an invalid task object).
    /// On a first delivery the status was not read: read it now, since a duplicate event may
    /// find the task finished or held by another worker, which this must not overwrite.
    async fn end_before_claim(
        &self,
        key: &TaskKey,
        optimistic: bool,
        previous: Option<Versioned>,
        delivery: &Message,
        state: TaskState,
        reason: String,
    ) -> Result<Disposition, StoreError> {
        let previous = if optimistic {
            match self.read_and_admit(key, delivery).await? {
                Admitted::Claim(read) => read,
                Admitted::Settled(disposition) => return Ok(disposition),
            }
        } else {
            previous
        };
        if state == TaskState::Cancelled {
            tracing::info!("cancelled before it started");
        } else {
            tracing::warn!(reason = %redacted(&reason), "invalid task object, failing the task");
        }
        self.end_unclaimed(key, previous.as_ref(), state, reason)
            .await
    }

    /// Reads the status and decides on it: claim (replacing what was read), or settle the
    /// delivery at once (the task is final, held by a live worker, or keeps losing its worker).
    async fn read_and_admit(
        &self,
        key: &TaskKey,
        delivery: &Message,
    ) -> Result<Admitted, StoreError> {
        let previous = self.statuses.read(key).await?;
        let admission = admit(
            previous.as_ref().map(|held| &held.status),
            delivery.receive_count,
            self.config.max_attempts,
            self.clock.now(),
        );
        let settled = match admission {
            Admission::Claim => return Ok(Admitted::Claim(previous)),
            Admission::Finished(state) => {
                tracing::info!(status = ?state, "task already finished, acknowledging");
                Disposition::Delete
            }
            Admission::Held(remaining) => {
                tracing::info!(holder = ?previous.as_ref().and_then(|held| held.status.worker.as_deref()), ?remaining, "task held by a live worker, deferring");
                Disposition::Release(remaining + Duration::from_secs(1), ReleaseReason::Held)
            }
            Admission::GiveUp(reason) => {
                tracing::warn!("giving up on a task that keeps losing its worker");
                self.end_unclaimed(key, previous.as_ref(), TaskState::Failed, reason)
                    .await?
            }
        };
        Ok(Admitted::Settled(settled))
    }

    /// Marks the task running for this worker: create-only with no `previous`, else replacing
    /// the version read.
    async fn claim(
        &self,
        key: &TaskKey,
        task: &TaskV1,
        previous: Option<&Versioned>,
        process: &tracing::Span,
    ) -> Result<Versioned, StoreError> {
        self.statuses
            .claim(
                key,
                task.submitted_at,
                previous,
                &self.config.worker_id,
                self.config.lease,
                self.clock.now(),
                shared::telemetry::traceparent(process),
            )
            .instrument(tracing::info_span!("claim", otel.name = "claim"))
            .await
    }

    /// The task's `process` span (a consumer span, OpenTelemetry messaging conventions): a
    /// child of Brown's producer span, whose context came with the task object, so the task
    /// has one trace from POST to artifact. The `receive` span, from the message's arrival to
    /// here, is recorded in that trace too. A redelivered task's run links to the earlier
    /// attempt's run.
    fn process_span(
        &self,
        key: &TaskKey,
        delivery: &Message,
        received_at: SystemTime,
        previous: Option<&Versioned>,
        trace_context: &shared::telemetry::Carrier,
    ) -> tracing::Span {
        use shared::telemetry::{self, KeyValue};
        let process = tracing::info_span!(
            "process",
            otel.name = "process inbox",
            otel.kind = "consumer",
            messaging.system = "aws_sqs",
            messaging.operation.type = "process",
            messaging.destination.name = "inbox",
            messaging.message.id = %key.task_id,
            task.attempt = tracing::field::Empty,
            task.status = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        telemetry::continue_trace(&process, trace_context);
        if let Some(earlier) = previous.and_then(|held| held.status.traceparent.as_deref()) {
            telemetry::link(&process, earlier);
        }
        telemetry::record_consumer_span(
            "receive inbox",
            received_at,
            trace_context,
            vec![
                KeyValue::new("messaging.system", "aws_sqs"),
                KeyValue::new("messaging.operation.type", "receive"),
                KeyValue::new("messaging.destination.name", "inbox"),
                KeyValue::new("messaging.message.id", key.task_id.to_string()),
                KeyValue::new(
                    "messaging.aws.sqs.receive_count",
                    i64::from(delivery.receive_count),
                ),
            ],
        );
        process
    }

    /// Runs the claimed task (heartbeating) and writes its artifacts and final status.
    #[allow(clippy::too_many_arguments)]
    async fn run_claimed(
        &self,
        key: &TaskKey,
        delivery: &Message,
        abort: &CancellationToken,
        held: Versioned,
        probe: CancelProbe,
        task: TaskV1,
        process: &tracing::Span,
    ) -> Result<Disposition, StoreError> {
        process.record("task.attempt", held.status.attempt);
        tracing::info!(attempt = held.status.attempt, "task claimed");
        let started = std::time::Instant::now();
        let mut log = ProcessingLog::traced(
            key.task_id,
            shared::telemetry::trace_id(process).unwrap_or_default(),
            Some(self.metrics.clone()),
        );
        log.record(
            Event::Claimed,
            json!({"attempt": held.status.attempt, "worker": self.config.worker_id}),
        );
        let control = TaskControl::new(abort, Some(probe));
        let held = Arc::new(Mutex::new(held));
        let stop_heartbeat = CancellationToken::new();
        let heartbeat = tokio::spawn(
            self.clone()
                .heartbeat(
                    key.clone(),
                    held.clone(),
                    control.clone(),
                    delivery.receipt.clone(),
                    stop_heartbeat.clone(),
                )
                .in_current_span(),
        );
        let outcome = self.engine.run(&task, &mut log, &control).await;
        // Stopped between beats, never aborted: a renewal in flight may already have landed
        // in S3, and only its answer carries the ETag the final commit must name.
        stop_heartbeat.cancel();
        if let Err(err) = heartbeat.await {
            tracing::warn!(error = %err, "the heartbeat task failed");
        }
        let mut held = held.lock().await.clone();
        held.status.progress = control.progress().snapshot();
        let elapsed_ms = started.elapsed().as_millis() as u64;

        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(EngineError::Failed(failure)) => {
                log.record(Event::Failed, json!({"reason": failure.reason}));
                Outcome::failed(failure)
            }
            Err(EngineError::Stopped(StopReason::Cancelled)) => {
                log.record(Event::Cancelled, json!({"before_start": false}));
                Outcome::ended(TaskState::Cancelled, CANCELLED)
            }
            Err(EngineError::Stopped(StopReason::LostLease)) => {
                tracing::warn!("lost the task to another worker, walking away");
                return Ok(Disposition::Abandon);
            }
            Err(EngineError::Stopped(StopReason::ShuttingDown)) => {
                if let Err(err) = self.statuses.release(key, &held, self.clock.now()).await {
                    tracing::warn!(error = %err, "could not end the lease early");
                }
                tracing::info!("shutting down: task handed back to the queue");
                return Ok(Disposition::Release(
                    Duration::ZERO,
                    ReleaseReason::Shutdown,
                ));
            }
        };
        self.finish(key, &held, outcome, log, elapsed_ms).await
    }

    /// Every `heartbeat` interval until `stop`: keep the message invisible, renew the lease in
    /// the status (losing it means another worker took over), and look for a cancel request.
    /// `stop` is only looked at between beats, so a renewal is never cut off mid-flight.
    async fn heartbeat(
        self,
        key: TaskKey,
        held: Arc<Mutex<Versioned>>,
        control: TaskControl,
        receipt: String,
        stop: CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(self.config.heartbeat);
        ticks.tick().await;
        loop {
            // Progress is written soon after a step starts or ends, and again with each beat.
            let beat = tokio::select! {
                _ = ticks.tick() => true,
                () = control.progress().changed() => {
                    // Steps often start and end together: one write for the lot, and none
                    // at all when the task ends meanwhile (its final status carries it). The
                    // task waits for this loop before it commits, so the wait must end with it.
                    tokio::select! {
                        () = tokio::time::sleep(PROGRESS_SETTLE.min(self.config.heartbeat / 2)) => {}
                        () = stop.cancelled() => return,
                    }
                    false
                }
                () = stop.cancelled() => return,
            };
            {
                let mut held = held.lock().await;
                held.status.progress = control.progress().snapshot();
                let now = self.clock.now();
                let written = match beat {
                    true => {
                        self.statuses
                            .renew(&key, &held, self.config.lease, now)
                            .await
                    }
                    false => self.statuses.touch(&key, &held, now).await,
                };
                match written {
                    Ok(renewed) => *held = renewed,
                    Err(err) if err.is_conflict() => {
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
            match self
                .queue
                .change_visibility(&receipt, self.message_hold())
                .await
            {
                Ok(()) => self.metrics.visibility_extended(),
                Err(err) => {
                    tracing::warn!(error = %err, "could not extend the message's visibility")
                }
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
        outcome: Outcome,
        mut log: ProcessingLog,
        elapsed_ms: u64,
    ) -> Result<Disposition, StoreError> {
        let mut artifacts = Vec::new();
        if self.engine.redacts_artifacts() {
            log.redact();
        }
        if let Some(output) = &outcome.output {
            artifacts.push(json_artifact(OUTPUT_PAYLOAD, output));
        }
        if let Some(quality) = &outcome.quality {
            artifacts.push(json_artifact(QUALITY_METRICS, quality));
        }
        log.record(
            Event::Finished,
            json!({"status": outcome.state, "processing_time_ms": elapsed_ms}),
        );
        artifacts.push(Artifact {
            name: PROCESSING_LOG,
            content_type: "application/x-ndjson",
            body: log.to_json_lines().into_bytes(),
        });
        if outcome.artifacts_withheld {
            tracing::warn!("the task's data could not be redacted: no artifacts written");
            artifacts.clear();
        }
        let mut stored = self
            .artifacts
            .write_once(key, artifacts)
            .instrument(tracing::info_span!(
                "artifacts",
                otel.name = "write artifacts"
            ))
            .await?;
        stored.sort_by_key(|artifact| {
            ARTIFACT_NAMES
                .iter()
                .position(|name| *name == artifact.name)
        });
        let now = self.clock.now();
        let status = TaskStatus {
            status: outcome.state,
            updated_at: now,
            finished_at: Some(now),
            lease_until: None,
            error: outcome.reason.as_deref().map(redacted),
            metrics: Some(TaskMetrics {
                processing_time_ms: elapsed_ms,
                tools_used: outcome.tools_used().to_vec(),
            }),
            artifacts: stored,
            ..held.status.clone()
        };
        let committed = self
            .statuses
            .commit(key, held, status)
            .instrument(commit_span(outcome.state))
            .await;
        match committed {
            Ok(written) => {
                tracing::Span::current()
                    .record("task.status", tracing::field::debug(outcome.state));
                self.metrics
                    .task_finished(outcome.state, Duration::from_millis(elapsed_ms));
                tracing::info!(status = ?outcome.state, elapsed_ms, "task finished");
                self.announce(&written.status).await;
                Ok(Disposition::Delete)
            }
            Err(err) if err.is_conflict() => {
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
        let now = self.clock.now();
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
            error: Some(redacted(&reason.into())),
            metrics: None,
            artifacts: Vec::new(),
            // The last run's trace, if there was one: this ending had no run of its own.
            traceparent: previous.and_then(|held| held.status.traceparent.clone()),
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
        let committed = self
            .statuses
            .finish_unclaimed(key, previous, status)
            .instrument(commit_span(state))
            .await;
        match committed {
            Ok(written) => {
                self.metrics.task_ended_unclaimed(state);
                tracing::info!(status = ?state, "task finished without running");
                self.announce(&written.status).await;
                Ok(Disposition::Delete)
            }
            // Someone else moved the task on: look again on the next delivery.
            Err(err) if err.is_conflict() => Ok(Disposition::Release(
                Duration::ZERO,
                ReleaseReason::Conflict,
            )),
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

/// A status' error without PII or secrets, whatever the artifact policy: the status travels
/// through Brown's API, its events and the `Task Finished` notification, and an error can
/// quote the task's data (a value that did not parse, a tool's message echoing its input).
fn redacted(reason: &str) -> String {
    shared::compliance::redact(reason).text
}

/// The span of a final status write.
fn commit_span(state: TaskState) -> tracing::Span {
    tracing::info_span!("commit", otel.name = "commit status", task.status = ?state)
}

/// How long progress changes are gathered before one status write carries them: at most one
/// progress write a second per task, so progress does not multiply the status writes.
const PROGRESS_SETTLE: Duration = Duration::from_secs(1);

/// Beyond its wait time, how long a receive may take to answer before shutdown gives up on it.
const RECEIVE_SLACK: Duration = Duration::from_secs(5);

fn json_artifact(name: &'static str, value: &impl serde::Serialize) -> Artifact {
    Artifact {
        name,
        content_type: "application/json",
        body: serde_json::to_vec_pretty(value).unwrap_or_default(),
    }
}
