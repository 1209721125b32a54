//! Effectively-once on top of at-least-once: idempotency keys, duplicate deliveries,
//! cancellation and redrive.

use std::time::Duration;

use bb_tests::{
    TestStack, bayko_config, count_writes_from_now_on, logged::LoggedProcess, stored_status,
    writes_per_key,
};
use serde_json::{Value, json};

fn quarterly_task() -> Value {
    json!({
        "input": "Process quarterly data analysis request",
        "data": {"format": "csv", "content": include_str!("../../../examples/quarterly.csv")},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_returns_the_same_task() {
    let stack = TestStack::spawn_brown_only().await;
    let url = format!("{}/v1/tasks", stack.base_url);
    let post = |body: Value, key: &'static str| {
        stack
            .http
            .post(&url)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };

    let first = post(quarterly_task(), "order-42").await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();

    let again = post(quarterly_task(), "order-42").await.unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["task_id"], first["task_id"]);
    assert_eq!(again["status"], "queued");

    let different = post(json!({"input": "something else"}), "order-42")
        .await
        .unwrap();
    assert_eq!(different.status(), 422);
    let problem: Value = different.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/idempotency-key-reused");

    let other_key = post(quarterly_task(), "order-43").await.unwrap();
    assert_eq!(other_key.status(), 202);

    let bad_key = stack
        .http
        .post(&url)
        .header("idempotency-key", "")
        .json(&quarterly_task())
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 400);

    assert_eq!(stack.keys(stack.tasks_bucket(), "inbox/").await.len(), 2);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_to_two_workers_give_one_result() {
    let mut stack = TestStack::spawn_brown_only().await;
    count_writes_from_now_on(&stack.s3, stack.artifacts_bucket()).await;
    count_writes_from_now_on(&stack.s3, stack.tasks_bucket()).await;
    let task_id = stack.submit_ok(&quarterly_task()).await;

    // The real event, and the same event delivered twice more.
    let bodies = stack.receive_until_some(&stack.provisioned.queue_url).await;
    assert_eq!(bodies.len(), 1);
    for _ in 0..2 {
        stack
            .sqs
            .send_message()
            .queue_url(&stack.provisioned.queue_url)
            .message_body(&bodies[0])
            .send()
            .await
            .unwrap();
    }
    stack.start_bayko();
    stack.start_bayko();

    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    stack.wait_until_drained(&stack.provisioned.queue_url).await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["attempt"], 1, "{status}");

    let writes = writes_per_key(&stack.s3, stack.artifacts_bucket(), "default/").await;
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(writes.values().all(|count| *count == 1), "{writes:?}");
    // One worker claimed it, once: every version of the status (the claim, progress and lease
    // renewals, the commit) is that worker's first attempt, and exactly one is final.
    let versions = status_versions(&stack, &task_id).await;
    assert!(versions.len() >= 2, "{versions:?}");
    assert!(
        versions
            .iter()
            .all(|v| v["attempt"] == 1 && v["worker"] == versions[0]["worker"]),
        "{versions:?}"
    );
    let finals = versions
        .iter()
        .filter(|v| v["status"] == "succeeded")
        .count();
    assert_eq!(finals, 1, "{versions:?}");
    assert_eq!(
        stack
            .queue_depth(&stack.provisioned.dead_letter_queue_url)
            .await,
        0
    );
    stack.stop().await;
}

/// SQS hands a message to a long poll whose caller has gone, and so does moto: a worker
/// stopped mid-poll must finish the poll and give back what it brings, or the task sits
/// invisible to every worker for the message hold (the lease and a margin) after a deploy or a
/// scale-in. Found by the bench: its end-to-end run waited 62 s for one task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_poll_gives_back_what_the_poll_brings() {
    let stack = TestStack::spawn_brown_only().await;
    let mut worker = LoggedProcess::bayko(
        &stack.endpoint,
        &stack.provisioned,
        &[("BAYKO_WAIT_SECONDS", "20"), ("BAYKO_LEASE_SECONDS", "60")],
    );
    worker
        .wait_for_line(|line| line["message"] == "Bayko receiving")
        .await;

    // Stopped first, so the task arrives while the stopping worker's poll is still open.
    bb_tests::signal(worker.pid(), "TERM");
    worker
        .wait_for_line(|line| line["message"] == "stopping: finishing tasks in flight")
        .await;
    let task_id = stack.submit_ok(&quarterly_task()).await;
    worker.terminate().await;

    // Visible at once, to the next worker: not held for the stopped worker's 62 s.
    let (visible, hidden) = stack.queue_messages(&stack.provisioned.queue_url).await;
    assert_eq!(
        (visible, hidden),
        (1, 0),
        "the task's message after the stop"
    );
    assert_eq!(
        stored_status(&stack.s3, stack.tasks_bucket(), &task_id).await,
        None,
        "a stopping worker starts nothing"
    );
    let handed_back = worker
        .lines()
        .into_iter()
        .find(|line| line["message"] == "stopping: handing the last receive back to the queue");
    assert_eq!(
        handed_back.map(|line| line["messages"].clone()),
        Some(json!(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_queued_task() {
    let mut stack = TestStack::spawn_brown_only().await;
    let task_id = stack.submit_ok(&quarterly_task()).await;
    let url = format!("{}/v1/tasks/{task_id}/cancel", stack.base_url);
    let cancel = stack.http.post(&url).send().await.unwrap();
    assert_eq!(cancel.status(), 202);
    let again = stack.http.post(&url).send().await.unwrap();
    assert_eq!(again.status(), 202, "asking twice is asking once");

    stack.start_bayko();
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "cancelled", "{status}");
    assert!(status["error"].as_str().unwrap().contains("cancel"));
    assert!(
        stack.keys(stack.artifacts_bucket(), "").await.is_empty(),
        "a task cancelled before it started produces nothing"
    );

    let finished = stack.http.post(&url).send().await.unwrap();
    assert_eq!(finished.status(), 409);
    let problem: Value = finished.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/task-finished");

    let unknown = stack
        .http
        .post(format!(
            "{}/v1/tasks/{}/cancel",
            stack.base_url,
            uuid::Uuid::now_v7()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_task_stops_it_between_steps() {
    let mut stack = TestStack::spawn_brown_only().await;
    let mut config = bayko_config(&stack.provisioned);
    config.chaos_step_delay = Duration::from_secs(30);
    config.heartbeat = Duration::from_millis(500);
    stack.start_bayko_with(config);

    let task_id = stack.submit_ok(&quarterly_task()).await;
    stack
        .wait_for_status(&task_id, |status| status["status"] == "running")
        .await;
    let cancel = stack
        .http
        .post(format!("{}/v1/tasks/{task_id}/cancel", stack.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 202);
    let accepted: Value = cancel.json().await.unwrap();
    assert_eq!(accepted["status"], "running");

    // The step was paused for 30 s: ending well before that means the pause was interrupted.
    let started = std::time::Instant::now();
    let status = stack.wait_until_final(&task_id).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(status["status"], "cancelled", "{status}");
    let log = stack.download(&status, "processing.log").await;
    assert!(log.contains("\"cancelled\""), "{log}");
    assert!(!log.contains("step_finished"), "{log}");
    stack.wait_until_drained(&stack.provisioned.queue_url).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_message_ends_in_the_dlq_and_redrive_completes_it_after_the_fix() {
    let mut stack = TestStack::spawn_brown_only().await;
    // The fault: a worker deployed with the wrong tasks bucket cannot process anything.
    let mut broken = bayko_config(&stack.provisioned);
    broken.tasks_bucket = "a-bucket-that-is-not-ours".into();
    let broken = bayko::Worker::new(broken, &stack.aws);
    let stop_broken = tokio_util::sync::CancellationToken::new();
    let broken = tokio::spawn({
        let stop = stop_broken.clone();
        async move { broken.run(stop).await }
    });

    let task_id = stack.submit_ok(&quarterly_task()).await;
    let dlq = stack.provisioned.dead_letter_queue_url.clone();
    let deadline = std::time::Instant::now() + bb_tests::DEADLINE;
    while stack.queue_depth(&dlq).await == 0 {
        assert!(std::time::Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_broken.cancel();
    broken.await.unwrap();
    let status: Value = stack.status(&task_id).await.json().await.unwrap();
    assert_eq!(status["status"], "queued", "nothing was done: {status}");

    // The fix: a correctly configured worker, then the redrive.
    stack.start_bayko();
    let moved = bayko::redrive::redrive(&stack.sqs, &dlq, &stack.provisioned.queue_url, 100)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(stack.queue_depth(&dlq).await, 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_keeps_losing_its_worker_is_failed_with_the_reason() {
    let mut stack = TestStack::spawn_brown_only().await;
    let task_id = stack.submit_ok(&quarterly_task()).await;
    // Four workers claimed it and died: the status says running, attempt 4, lease long over.
    let now = chrono::Utc::now();
    let status = json!({
        "version": "v1",
        "task_id": task_id,
        "tenant": "default",
        "status": "running",
        "submitted_at": now,
        "updated_at": now,
        "started_at": now,
        "lease_until": now - chrono::Duration::seconds(30),
        "attempt": 4,
        "worker": "long-gone",
    });
    stack
        .s3
        .put_object()
        .bucket(stack.tasks_bucket())
        .key(format!("status/default/{task_id}.json"))
        .body(serde_json::to_vec(&status).unwrap().into())
        .send()
        .await
        .unwrap();
    stack.start_bayko();
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .contains("worker was lost"),
        "{status}"
    );
    assert_eq!(status["attempt"], 4);
    stack.wait_until_drained(&stack.provisioned.queue_url).await;
    assert_eq!(
        stack
            .queue_depth(&stack.provisioned.dead_letter_queue_url)
            .await,
        0
    );
    stack.stop().await;
}

/// Every version of a task's status document (versioning must be on).
async fn status_versions(stack: &TestStack, task_id: &str) -> Vec<Value> {
    let key = format!("status/default/{task_id}.json");
    let listed = stack
        .s3
        .list_object_versions()
        .bucket(stack.tasks_bucket())
        .prefix(&key)
        .send()
        .await
        .expect("listing versions");
    let mut versions = Vec::new();
    for version in listed.versions.unwrap_or_default() {
        let object = stack
            .s3
            .get_object()
            .bucket(stack.tasks_bucket())
            .key(&key)
            .set_version_id(version.version_id)
            .send()
            .await
            .expect("reading a version");
        let bytes = object.body.collect().await.expect("a body").into_bytes();
        versions.push(serde_json::from_slice(&bytes).expect("a status document"));
    }
    versions
}
