//! The worker's lifecycle on the in-memory seams with tokio's paused clock: claims, duplicate
//! deliveries, takeovers, the retry budget, cancellation and hand-back, each in milliseconds.
//! The same paths against the emulator and real processes are in `bb-tests`.

use std::{sync::Arc, time::Duration};

use bb_aws::{
    AwsError, MemoryQueue, MemoryStore, Object, ObjectMeta, ObjectStore, Payload, PutMode, Written,
};
use shared::{
    keys::{TaskKey, Tenant},
    task::{StatusDocument, StepState, TaskDocument, TaskState, TaskStatus, TaskV1},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::*;

const LEASE: Duration = Duration::from_secs(30);

fn config() -> Config {
    Config {
        tasks_bucket: "tasks".into(),
        artifacts_bucket: "artifacts".into(),
        queue_url: "memory".into(),
        max_in_flight: 4,
        wait_time: Duration::from_secs(1),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_secs(2),
        worker_id: "w1".into(),
        lease: LEASE,
        heartbeat: Duration::from_secs(10),
        max_attempts: 4,
        shutdown_grace: Duration::from_secs(1),
        chaos_step_delay: Duration::ZERO,
        metrics_bind: None,
        dlq_url: None,
        queue_watch_interval: Duration::from_secs(15),
        event_bus: None,
    }
}

/// A worker whose every step first pauses for a minute: a task that is still running when
/// the test acts on it.
fn slow_config() -> Config {
    Config {
        chaos_step_delay: Duration::from_secs(60),
        ..config()
    }
}

/// One queue and two buckets in memory, and workers on them.
struct Harness {
    queue: Arc<MemoryQueue>,
    tasks: Arc<MemoryStore>,
    artifacts: Arc<MemoryStore>,
    clock: Clock,
}

impl Harness {
    fn new() -> Self {
        Self {
            queue: Arc::new(MemoryQueue::new()),
            tasks: Arc::new(MemoryStore::new()),
            artifacts: Arc::new(MemoryStore::new()),
            clock: Clock::tokio(),
        }
    }

    fn worker(&self, config: Config) -> Worker {
        self.worker_over(config, self.tasks.clone())
    }

    /// A worker whose tasks bucket is `tasks`: the harness' own, wrapped to fail, slow down
    /// or record its writes.
    fn worker_over(&self, config: Config, tasks: Arc<dyn ObjectStore>) -> Worker {
        let seams = Seams {
            queue: self.queue.clone(),
            tasks,
            artifacts: self.artifacts.clone(),
            clock: self.clock,
            events: None,
        };
        Worker::with_seams(config, Arc::new(Registry::builtin()), seams)
    }

    /// Stores a task as Brown would, and delivers its event once.
    async fn submit(&self) -> TaskKey {
        let key = TaskKey::new(Tenant::parse("acme").unwrap(), Uuid::now_v7());
        let task = TaskDocument::V1(TaskV1 {
            task_id: key.task_id,
            tenant: "acme".into(),
            submitted_at: self.clock.now(),
            input: "a marker task".into(),
            data: None,
            tools: Vec::new(),
            metadata: Default::default(),
            idempotency_key: None,
            flags: Vec::new(),
        });
        let body = serde_json::to_vec(&task).unwrap();
        self.tasks
            .put(&key.inbox(), Payload::json(body), PutMode::Create)
            .await
            .unwrap();
        self.deliver(&key);
        key
    }

    /// One more delivery of the task's event.
    fn deliver(&self, key: &TaskKey) {
        let event = serde_json::json!({
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": "tasks"}, "object": {"key": key.inbox()}},
        });
        self.queue.send(event.to_string());
    }

    /// The client's cancel request, as Brown writes it.
    async fn request_cancel(&self, key: &TaskKey) {
        self.tasks
            .put(&key.cancel(), Payload::json("{}"), PutMode::Create)
            .await
            .unwrap();
    }

    async fn status(&self, key: &TaskKey) -> Option<TaskStatus> {
        let object = self.tasks.get(&key.status()).await.unwrap()?;
        let StatusDocument::V1(status) = serde_json::from_slice(&object.body).unwrap();
        Some(status)
    }

    /// A status left by another worker, as if it had claimed the task at attempt `attempt`.
    async fn held_by_another(&self, key: &TaskKey, attempt: u32, lease_left: chrono::Duration) {
        let now = self.clock.now();
        let status = TaskStatus {
            task_id: key.task_id,
            tenant: "acme".into(),
            status: TaskState::Running,
            submitted_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
            lease_until: Some(now + lease_left),
            attempt,
            worker: Some("gone".into()),
            error: None,
            metrics: None,
            artifacts: Vec::new(),
            traceparent: None,
            progress: None,
        };
        let body = serde_json::to_vec(&StatusDocument::V1(status)).unwrap();
        self.tasks
            .put(&key.status(), Payload::json(body), PutMode::Overwrite)
            .await
            .unwrap();
    }

    /// Processes batches until the task's status is final, moving the paused clock on.
    async fn until_final(&self, worker: &Worker, key: &TaskKey) -> TaskStatus {
        for _ in 0..100 {
            worker.process_batch().await.unwrap();
            if let Some(status) = self.status(key).await
                && status.status.is_final()
            {
                return status;
            }
        }
        panic!("the task never finished: {:?}", self.status(key).await);
    }
}

#[tokio::test(start_paused = true)]
async fn a_delivered_task_is_claimed_run_and_acknowledged() {
    let stack = Harness::new();
    let key = stack.submit().await;
    let handled = stack.worker(config()).process_batch().await.unwrap();
    assert_eq!(handled, 1);
    let status = stack.status(&key).await.expect("a status");
    assert_eq!(status.status, TaskState::Succeeded, "{status:?}");
    assert_eq!(status.attempt, 1);
    assert_eq!(status.worker.as_deref(), Some("w1"));
    assert_eq!(status.lease_until, None);
    let names: Vec<_> = status.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ARTIFACT_NAMES);
    for artifact in &status.artifacts {
        let stored = stack.artifacts.head(&artifact.key).await.unwrap().unwrap();
        assert_eq!(stored.size, artifact.size);
    }
    assert!(stack.queue.is_empty(), "the message is deleted");
}

/// The tasks bucket, recording when each status was written and what it said, and counting
/// the status reads.
#[derive(Debug)]
struct RecordingStatuses {
    store: Arc<MemoryStore>,
    started: tokio::time::Instant,
    written: std::sync::Mutex<Vec<(Duration, TaskStatus)>>,
    reads: std::sync::atomic::AtomicUsize,
}

impl RecordingStatuses {
    fn over(store: Arc<MemoryStore>) -> Arc<Self> {
        Arc::new(Self {
            store,
            started: tokio::time::Instant::now(),
            written: Default::default(),
            reads: Default::default(),
        })
    }
}

#[async_trait::async_trait]
impl ObjectStore for RecordingStatuses {
    async fn get(&self, key: &str) -> Result<Option<Object>, AwsError> {
        if key.starts_with("status/") {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.store.get(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, AwsError> {
        self.store.head(key).await
    }
    async fn put(&self, key: &str, payload: Payload, mode: PutMode) -> Result<Written, AwsError> {
        if key.starts_with("status/") {
            let StatusDocument::V1(status) = serde_json::from_slice(&payload.body).unwrap();
            self.written
                .lock()
                .unwrap()
                .push((self.started.elapsed(), status));
        }
        self.store.put(key, payload, mode).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_first_delivery_claims_without_reading_the_status_and_a_redelivery_reads_it() {
    let stack = Harness::new();
    let key = stack.submit().await;
    let tasks = RecordingStatuses::over(stack.tasks.clone());
    let worker = stack.worker_over(config(), tasks.clone());
    worker.process_batch().await.unwrap();
    assert_eq!(
        stack.status(&key).await.unwrap().status,
        TaskState::Succeeded
    );
    let reads = || tasks.reads.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(reads(), 0, "the create-only claim needs no read first");

    // A duplicate event, delivered for the first time after the task finished: the refused
    // claim reads the status, which says the task is done.
    stack.deliver(&key);
    worker.process_batch().await.unwrap();
    assert_eq!(reads(), 1);
    assert!(stack.queue.is_empty(), "acknowledged, not released");
    assert_eq!(
        tasks.written.lock().unwrap().len(),
        3,
        "the claim and the final status, then the refused claim"
    );
    assert_eq!(
        stack.status(&key).await.unwrap().attempt,
        1,
        "never run again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_quick_task_commits_without_waiting_for_its_progress_write() {
    let stack = Harness::new();
    let key = stack.submit().await;
    let tasks = RecordingStatuses::over(stack.tasks.clone());
    let worker = stack.worker_over(config(), tasks.clone());
    let started = tokio::time::Instant::now();
    worker.process_batch().await.unwrap();
    // On the paused clock time moves only when everything waits on a timer: a task that
    // waited out the progress write's settling time would show it here.
    assert!(
        started.elapsed() < PROGRESS_SETTLE,
        "the task waited {:?} for a progress write",
        started.elapsed()
    );
    let status = stack.status(&key).await.unwrap();
    assert_eq!(status.status, TaskState::Succeeded, "{status:?}");
    assert_eq!(
        tasks.written.lock().unwrap().len(),
        2,
        "the claim and the final status, no progress write in between"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_task_writes_its_progress_soon_after_a_step_starts() {
    let stack = Harness::new();
    stack.submit().await;
    let tasks = RecordingStatuses::over(stack.tasks.clone());
    // Each step waits 65 s before it starts: the scan starts at 65 s, between the beats at
    // 60 s and 70 s, and the task ends after 130 s.
    let config = Config {
        chaos_step_delay: Duration::from_secs(65),
        ..config()
    };
    let worker = stack.worker_over(config, tasks.clone());
    worker.process_batch().await.unwrap();
    let written = tasks.written.lock().unwrap();
    let scanning = |status: &TaskStatus| {
        status.status == TaskState::Running
            && status.progress.as_ref().is_some_and(|progress| {
                progress
                    .steps
                    .iter()
                    .any(|step| step.id == "scan" && step.state == StepState::Running)
            })
    };
    let (at, _) = written
        .iter()
        .find(|(_, status)| scanning(status))
        .expect("a running status showing the scan running");
    assert!(
        *at >= Duration::from_secs(65) && *at <= Duration::from_secs(65) + PROGRESS_SETTLE,
        "the scan's start was written at {at:?}, not within {PROGRESS_SETTLE:?} of it"
    );
    let (_, last) = written.last().unwrap();
    assert_eq!(last.status, TaskState::Succeeded, "{last:?}");
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_delivery_runs_the_task_once() {
    let stack = Harness::new();
    let key = stack.submit().await;
    stack.deliver(&key);
    let worker = stack.worker(config());
    assert_eq!(
        worker.process_batch().await.unwrap(),
        2,
        "both deliveries at once"
    );
    let first = stack.status(&key).await.unwrap();
    assert_eq!(first.status, TaskState::Succeeded);
    assert_eq!(first.attempt, 1, "only one delivery claimed the task");
    assert_eq!(
        stack.queue.len(),
        1,
        "the losing delivery is released, not deleted"
    );

    let settled = stack.until_final(&worker, &key).await;
    while !stack.queue.is_empty() {
        worker.process_batch().await.unwrap();
    }
    assert_eq!(settled.attempt, 1);
    let again = stack.status(&key).await.unwrap();
    assert_eq!(
        again.finished_at, first.finished_at,
        "the status is not rewritten"
    );
}

#[tokio::test(start_paused = true)]
async fn a_live_lease_defers_and_an_expired_one_is_taken_over() {
    let stack = Harness::new();
    let key = stack.submit().await;
    stack
        .held_by_another(&key, 1, chrono::Duration::seconds(20))
        .await;
    let worker = stack.worker(config());
    worker.process_batch().await.unwrap();
    let held = stack.status(&key).await.unwrap();
    assert_eq!(
        held.worker.as_deref(),
        Some("gone"),
        "a live lease is respected"
    );
    assert_eq!(
        stack.queue.visible(),
        0,
        "deferred until the lease runs out"
    );

    let status = stack.until_final(&worker, &key).await;
    assert_eq!(status.status, TaskState::Succeeded);
    assert_eq!(status.attempt, 2, "taken over after the lease expired");
    assert_eq!(status.worker.as_deref(), Some("w1"));
    assert!(stack.queue.is_empty());
    // The metrics saw the deferral, the takeover and the outcome.
    let exposition = worker.metrics().render();
    for line in [
        "bayko_messages_released_total{reason=\"held_by_another_worker\"} 1",
        "bayko_takeovers_total 1",
        "bayko_tasks_total{outcome=\"succeeded\"} 1",
        "bayko_tasks_in_flight 0",
    ] {
        assert!(exposition.contains(line), "{line} missing:\n{exposition}");
    }
}

/// A duplicate event's first delivery reads no status before claiming; one that finds the
/// cancel request must still look at the status before ending the task, and defer to the
/// worker whose lease is live (it stops the task itself at its next heartbeat).
#[tokio::test(start_paused = true)]
async fn a_cancel_found_on_a_first_delivery_defers_to_the_live_worker() {
    let stack = Harness::new();
    let key = stack.submit().await;
    stack
        .held_by_another(&key, 1, chrono::Duration::seconds(20))
        .await;
    stack.request_cancel(&key).await;
    let worker = stack.worker(config());
    worker.process_batch().await.unwrap();
    let held = stack.status(&key).await.unwrap();
    assert_eq!(
        (held.status, held.worker.as_deref()),
        (TaskState::Running, Some("gone")),
        "the live worker's status stands"
    );
    assert_eq!(
        stack.queue.visible(),
        0,
        "deferred until the lease runs out, as any delivery during a live lease"
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_that_keeps_losing_its_worker_fails_with_the_reason() {
    let stack = Harness::new();
    let key = stack.submit().await;
    let budget = config().max_attempts;
    stack
        .held_by_another(&key, budget, chrono::Duration::seconds(-1))
        .await;
    let status = stack.until_final(&stack.worker(config()), &key).await;
    assert_eq!(status.status, TaskState::Failed);
    let error = status.error.unwrap();
    assert!(error.contains("started 4 times"), "{error}");
    assert!(stack.queue.is_empty());
}

/// The tasks bucket with its inbox unreachable: reading a task fails as an outage does.
#[derive(Debug)]
struct InboxDown(Arc<MemoryStore>);

#[async_trait::async_trait]
impl ObjectStore for InboxDown {
    async fn get(&self, key: &str) -> Result<Option<Object>, AwsError> {
        if key.starts_with("inbox/") {
            return Err(AwsError::Transient(format!(
                "reading {key}: connection refused"
            )));
        }
        self.0.get(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, AwsError> {
        self.0.head(key).await
    }
    async fn put(&self, key: &str, payload: Payload, mode: PutMode) -> Result<Written, AwsError> {
        self.0.put(key, payload, mode).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_failing_transiently_is_given_up_after_the_retry_budget() {
    let stack = Harness::new();
    let key = stack.submit().await;
    let worker = stack.worker_over(config(), Arc::new(InboxDown(stack.tasks.clone())));
    let status = stack.until_final(&worker, &key).await;
    assert_eq!(status.status, TaskState::Failed);
    let error = status.error.unwrap();
    assert!(
        error.starts_with("gave up after 4 attempts") && error.contains("connection refused"),
        "{error}"
    );
    assert_eq!(status.started_at, None, "never claimed");
    assert!(stack.queue.is_empty(), "acknowledged once failed");
}

#[tokio::test(start_paused = true)]
async fn a_task_cancelled_before_it_starts_never_runs() {
    let stack = Harness::new();
    let key = stack.submit().await;
    stack.request_cancel(&key).await;
    stack.worker(config()).process_batch().await.unwrap();
    let status = stack.status(&key).await.unwrap();
    assert_eq!(status.status, TaskState::Cancelled);
    assert_eq!(status.started_at, None);
    assert!(status.artifacts.is_empty());
    assert!(stack.artifacts.keys().is_empty(), "no artifacts written");
    assert!(stack.queue.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_task_cancelled_while_running_stops_at_the_next_heartbeat() {
    let stack = Harness::new();
    let key = stack.submit().await;
    let worker = stack.worker(slow_config());
    let running = tokio::spawn(async move { worker.process_batch().await });
    // Mid-way through the first step's pause, before the second heartbeat.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(stack.status(&key).await.unwrap().status, TaskState::Running);
    stack.request_cancel(&key).await;
    running.await.unwrap().unwrap();
    let status = stack.status(&key).await.unwrap();
    assert_eq!(status.status, TaskState::Cancelled);
    assert!(status.started_at.is_some());
    let finished = status.finished_at.unwrap();
    let took = (finished - status.started_at.unwrap()).to_std().unwrap();
    assert!(
        took <= Duration::from_secs(20),
        "stopped at the heartbeat, not after the step: {took:?}"
    );
    let log = stack
        .artifacts
        .get(&key.artifact(PROCESSING_LOG))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8(log.body)
            .unwrap()
            .contains("\"cancelled\"")
    );
    assert!(stack.queue.is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_hands_an_unfinished_task_back_for_another_worker() {
    let stack = Harness::new();
    let key = stack.submit().await;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let worker = stack.worker(slow_config());
        let shutdown = shutdown.clone();
        async move { worker.run(shutdown).await }
    });
    while stack.status(&key).await.is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    running.await.unwrap();
    let handed_back = stack.status(&key).await.unwrap();
    assert_eq!(handed_back.status, TaskState::Running);
    assert!(
        handed_back.lease_until.unwrap() <= stack.clock.now(),
        "the lease ends at once"
    );
    assert_eq!(
        stack.queue.visible(),
        1,
        "the message is visible again at once"
    );
    assert!(stack.artifacts.keys().is_empty(), "no artifacts written");

    let next = Config {
        worker_id: "w2".into(),
        ..config()
    };
    let status = stack.until_final(&stack.worker(next), &key).await;
    assert_eq!(status.status, TaskState::Succeeded);
    assert_eq!(status.attempt, 2);
    assert_eq!(status.worker.as_deref(), Some("w2"));
}

/// The tasks bucket where the first lease renewal lands at once but its answer takes
/// `answer_after` to come back: the window in which the task may finish.
#[derive(Debug)]
struct SlowFirstRenewal {
    store: Arc<MemoryStore>,
    answer_after: Duration,
    delayed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ObjectStore for SlowFirstRenewal {
    async fn get(&self, key: &str) -> Result<Option<Object>, AwsError> {
        self.store.get(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, AwsError> {
        self.store.head(key).await
    }
    async fn put(&self, key: &str, payload: Payload, mode: PutMode) -> Result<Written, AwsError> {
        let renewal = key.starts_with("status/") && matches!(mode, PutMode::Update(_));
        let written = self.store.put(key, payload, mode).await?;
        if renewal && !self.delayed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(self.answer_after).await;
        }
        Ok(written)
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_finishing_during_a_lease_renewal_commits_once() {
    let stack = Harness::new();
    let key = stack.submit().await;
    let tasks = Arc::new(SlowFirstRenewal {
        store: stack.tasks.clone(),
        answer_after: Duration::from_secs(100),
        delayed: false.into(),
    });
    // The first renewal lands at 10 s and is answered at 110 s; the steps end in between.
    let config = Config {
        heartbeat: Duration::from_secs(10),
        chaos_step_delay: Duration::from_secs(11),
        ..config()
    };
    let worker = stack.worker_over(config, tasks);
    worker.process_batch().await.unwrap();
    let status = stack.status(&key).await.unwrap();
    assert_eq!(
        status.status,
        TaskState::Succeeded,
        "committed on the renewed ETag, not abandoned: {status:?}"
    );
    assert_eq!(status.attempt, 1, "run once");
    assert!(stack.queue.is_empty(), "acknowledged");
}

#[tokio::test(start_paused = true)]
async fn an_invalid_task_fails_with_its_error_redacted() {
    let stack = Harness::new();
    let key = TaskKey::new(Tenant::parse("acme").unwrap(), Uuid::now_v7());
    let task = TaskDocument::V1(TaskV1 {
        task_id: key.task_id,
        tenant: "acme".into(),
        submitted_at: stack.clock.now(),
        input: "a marker task".into(),
        data: None,
        tools: Vec::new(),
        metadata: Default::default(),
        idempotency_key: None,
        flags: Vec::new(),
    });
    // A wrong type: serde's error quotes the value, here an address.
    let mut body = serde_json::to_value(&task).unwrap();
    body["tools"] = serde_json::json!("ann.lee@example.com");
    stack
        .tasks
        .put(
            &key.inbox(),
            Payload::json(body.to_string()),
            PutMode::Create,
        )
        .await
        .unwrap();
    stack.deliver(&key);
    let status = stack.until_final(&stack.worker(config()), &key).await;
    assert_eq!(status.status, TaskState::Failed);
    let error = status.error.unwrap_or_default();
    assert!(error.contains("[REDACTED:email]"), "{error}");
    assert!(!error.contains("ann.lee"), "{error}");
}

/// The tasks bucket where the first lease renewal lands but its answer is lost: the SDK's
/// retry of it finds its own write in place and is answered `answer` (412, or no answer).
#[derive(Debug)]
struct LostFirstRenewalAnswer {
    store: Arc<MemoryStore>,
    answer: fn() -> AwsError,
    lost: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ObjectStore for LostFirstRenewalAnswer {
    async fn get(&self, key: &str) -> Result<Option<Object>, AwsError> {
        self.store.get(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, AwsError> {
        self.store.head(key).await
    }
    async fn put(&self, key: &str, payload: Payload, mode: PutMode) -> Result<Written, AwsError> {
        let renewal = key.starts_with("status/") && matches!(mode, PutMode::Update(_));
        let written = self.store.put(key, payload, mode).await?;
        if renewal && !self.lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err((self.answer)());
        }
        Ok(written)
    }
}

async fn a_renewal_whose_answer_is_lost(answer: fn() -> AwsError) -> TaskStatus {
    let stack = Harness::new();
    let key = stack.submit().await;
    let tasks = Arc::new(LostFirstRenewalAnswer {
        store: stack.tasks.clone(),
        answer,
        lost: false.into(),
    });
    // Steps long enough for renewals to follow the lost one.
    let config = Config {
        heartbeat: Duration::from_secs(10),
        chaos_step_delay: Duration::from_secs(15),
        ..config()
    };
    let worker = stack.worker_over(config, tasks);
    worker.process_batch().await.unwrap();
    assert!(stack.queue.is_empty(), "acknowledged");
    stack.status(&key).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_renewal_that_landed_but_was_refused_on_retry_keeps_the_lease() {
    let status = a_renewal_whose_answer_is_lost(|| AwsError::Conflict("retried".into())).await;
    assert_eq!(status.status, TaskState::Succeeded, "{status:?}");
    assert_eq!(status.attempt, 1, "run once");
}

#[tokio::test(start_paused = true)]
async fn a_renewal_that_landed_without_an_answer_keeps_the_lease() {
    let status = a_renewal_whose_answer_is_lost(|| AwsError::Transient("no answer".into())).await;
    assert_eq!(status.status, TaskState::Succeeded, "{status:?}");
    assert_eq!(status.attempt, 1, "run once");
}
