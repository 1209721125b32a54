//! Breaking things on purpose, with real processes: kill -9 mid-task, the emulator frozen under
//! load, and a soak with a chaos loop. Each test prints its figures: submitted, accepted,
//! completed, duplicated, lost.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use bb_aws::AwsSettings;
use bb_tests::{
    BaykoProcess, OwnEmulator, TestStack, bayko_config, count_writes_from_now_on, writes_per_key,
};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

fn task(n: usize) -> Value {
    json!({
        "input": format!("Process quarterly data analysis request #{n}"),
        "data": {"format": "csv", "content": include_str!("../../../examples/quarterly.csv")},
    })
}

/// Every accepted task's final state, and how often each of its artifacts was written.
struct Figures {
    submitted: usize,
    accepted: usize,
    /// Succeeded.
    completed: usize,
    /// Ended `failed` with a reason (a task that kept losing its worker is given up on).
    failed: usize,
    duplicated: usize,
    /// Accepted but in no final state.
    lost: usize,
}

async fn figures(stack: &TestStack, submitted: usize, accepted: &[String]) -> Figures {
    let mut completed = Vec::new();
    let mut failed = 0;
    let mut lost = 0;
    for task_id in accepted {
        let status: Value = stack.status(task_id).await.json().await.unwrap();
        match status["status"].as_str() {
            Some("succeeded") => completed.push(task_id.clone()),
            Some("failed") => {
                let reason = status["error"].as_str().unwrap_or_default();
                assert!(
                    reason.contains("worker was lost"),
                    "unexpected failure: {status}"
                );
                failed += 1;
            }
            _ => lost += 1,
        }
    }
    let writes = writes_per_key(&stack.s3, stack.artifacts_bucket(), "default/").await;
    let mut per_task: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for (key, count) in &writes {
        let task_id = key.split('/').nth(1).unwrap_or_default().to_owned();
        let entry = per_task.entry(task_id).or_default();
        entry.0 += 1;
        entry.1 |= *count > 1;
    }
    let duplicated = per_task.values().filter(|(_, twice)| *twice).count();
    for task_id in &completed {
        assert_eq!(
            per_task.get(task_id).map(|(artifacts, _)| *artifacts),
            Some(3),
            "task {task_id} does not have its three artifacts"
        );
    }
    Figures {
        submitted,
        accepted: accepted.len(),
        completed: completed.len(),
        failed,
        duplicated,
        lost,
    }
}

fn report(test: &str, figures: &Figures) {
    eprintln!(
        "FIGURES {test}: submitted {}, accepted {}, completed {}, failed with reason {}, \
         duplicated {}, lost {}",
        figures.submitted,
        figures.accepted,
        figures.completed,
        figures.failed,
        figures.duplicated,
        figures.lost
    );
}

/// Polls every task until it is final, with one deadline for all; returns those that are not.
async fn wait_all_final(stack: &TestStack, task_ids: &[String], deadline: Duration) -> Vec<String> {
    let deadline = Instant::now() + deadline;
    let mut unfinished = Vec::new();
    for task_id in task_ids {
        loop {
            let status: Value = stack.status(task_id).await.json().await.unwrap();
            if !matches!(status["status"].as_str(), Some("queued" | "running")) {
                break;
            }
            if Instant::now() > deadline {
                eprintln!("{task_id} not finished: {status}");
                unfinished.push(task_id.clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    unfinished
}

/// Fails the test naming what did not finish and what the DLQ holds.
async fn assert_all_finished(stack: &TestStack, unfinished: &[String]) {
    let dead = stack
        .queue_depth(&stack.provisioned.dead_letter_queue_url)
        .await;
    assert!(
        unfinished.is_empty(),
        "{} tasks unfinished ({dead} messages in the DLQ): {unfinished:?}",
        unfinished.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_mid_task_is_replaced_and_the_task_completes_once() {
    let stack = TestStack::spawn_brown_only().await;
    count_writes_from_now_on(&stack.s3, stack.artifacts_bucket()).await;
    let mut doomed = stack.spawn_bayko_process(&[("BAYKO_CHAOS_STEP_DELAY_MS", "60000")]);
    let task_id = stack.submit_ok(&task(1)).await;
    let doomed_id = doomed.worker_id.clone();
    stack
        .wait_for_status(&task_id, |status| {
            status["status"] == "running" && status["worker"] == doomed_id.as_str()
        })
        .await;
    doomed.kill().await;

    let survivor = stack.spawn_bayko_process(&[]);
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["attempt"], 2, "{status}");
    let stored = bb_tests::stored_status(&stack.s3, stack.tasks_bucket(), &task_id)
        .await
        .unwrap();
    assert_eq!(stored["worker"], survivor.worker_id.as_str());

    let figures = figures(&stack, 1, std::slice::from_ref(&task_id)).await;
    report("kill -9 mid-task", &figures);
    assert_eq!(
        (figures.completed, figures.duplicated, figures.lost),
        (1, 0, 0)
    );
    stack.wait_until_drained(&stack.provisioned.queue_url).await;
    drop(survivor);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_unfinished_work_back_at_once() {
    let stack = TestStack::spawn_brown_only().await;
    let mut stopping = stack.spawn_bayko_process(&[
        ("BAYKO_CHAOS_STEP_DELAY_MS", "60000"),
        ("BAYKO_SHUTDOWN_GRACE_SECONDS", "1"),
        // A long lease: only an explicit hand-back lets the next worker start soon.
        ("BAYKO_LEASE_SECONDS", "120"),
        ("BAYKO_HEARTBEAT_MS", "20000"),
    ]);
    let task_id = stack.submit_ok(&task(1)).await;
    stack
        .wait_for_status(&task_id, |status| status["status"] == "running")
        .await;
    let exit = stopping.terminate().await;
    assert!(exit.success(), "graceful exit: {exit:?}");

    let started = Instant::now();
    let _next = stack.spawn_bayko_process(&[]);
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["attempt"], 2);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "taken over well before the 120 s lease ran out"
    );
    stack.stop().await;
}

#[derive(Debug)]
enum Answer {
    Accepted(String),
    Refused { status: u16, retry_after: bool },
    Failed(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_emulator_under_load_loses_nothing() {
    let emulator = OwnEmulator::start().await;
    let mut settings = AwsSettings::emulator(&emulator.endpoint);
    settings.attempt_timeout = Duration::from_secs(2);
    settings.operation_timeout = Duration::from_secs(5);
    let mut stack = TestStack::spawn_brown_only_with(settings).await;
    let mut config = bayko_config(&stack.provisioned);
    config.retry_base = Duration::from_millis(500);
    config.retry_max = Duration::from_secs(4);
    stack.start_bayko_with(config);
    count_writes_from_now_on(&stack.s3, stack.artifacts_bucket()).await;

    let http = bb_tests::client_with_key(&stack.api_key)
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap();
    let url = format!("{}/v1/tasks", stack.base_url);
    let ready_url = format!("{}/readyz", stack.base_url);
    let mut requests = tokio::task::JoinSet::new();
    let started = Instant::now();
    let mut paused_ready = None;
    let submitted = 60;
    for n in 0..submitted {
        // 60 requests over 12 s; the emulator is frozen from 3 s to 11 s.
        let at = Duration::from_millis(200 * n as u64);
        if let Some(wait) = at.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        if n == 15 {
            emulator.pause();
        }
        if n == 20 {
            let ready = http.get(&ready_url).send().await.unwrap();
            paused_ready = Some(ready.status().as_u16());
        }
        if n == 55 {
            emulator.resume();
        }
        let request = http.post(&url).json(&task(n)).send();
        requests.spawn(async move {
            match request.await {
                Ok(response) if response.status() == 202 => {
                    let body: Value = response.json().await.unwrap();
                    Answer::Accepted(body["task_id"].as_str().unwrap().to_owned())
                }
                Ok(response) => Answer::Refused {
                    status: response.status().as_u16(),
                    retry_after: response.headers().contains_key("retry-after"),
                },
                Err(err) => Answer::Failed(err.to_string()),
            }
        });
    }
    let answers = requests.join_all().await;
    assert_eq!(
        paused_ready,
        Some(503),
        "readiness tells the truth while frozen"
    );
    let ready = http.get(&ready_url).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready again after the freeze");

    let mut accepted = Vec::new();
    let mut refused = 0;
    for answer in answers {
        match answer {
            Answer::Accepted(task_id) => accepted.push(task_id),
            Answer::Refused {
                status,
                retry_after,
            } => {
                assert_eq!(status, 503);
                assert!(retry_after, "a 503 says when to retry");
                refused += 1;
            }
            // A hang would surface here as a client timeout.
            Answer::Failed(err) => panic!("a request got no answer: {err}"),
        }
    }
    assert!(refused > 0, "the freeze was felt");
    assert!(
        accepted.len() >= 15,
        "requests before and after it were accepted"
    );

    let unfinished = wait_all_final(&stack, &accepted, Duration::from_secs(120)).await;
    assert_all_finished(&stack, &unfinished).await;
    let figures = figures(&stack, submitted, &accepted).await;
    report("frozen emulator", &figures);
    eprintln!("FIGURES frozen emulator: refused with 503 {refused}");
    assert_eq!(figures.completed, figures.accepted);
    assert_eq!((figures.duplicated, figures.lost), (0, 0));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_chaos_every_task_ends_once() {
    let tasks: usize = std::env::var("BB_SOAK_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let stack = Arc::new(TestStack::spawn_brown_only().await);
    count_writes_from_now_on(&stack.s3, stack.artifacts_bucket()).await;
    let chaos_env: &[(&str, &str)] = &[("BAYKO_CHAOS_STEP_DELAY_MS", "20")];
    let workers = Arc::new(Mutex::new(vec![
        stack.spawn_bayko_process(chaos_env),
        stack.spawn_bayko_process(chaos_env),
    ]));

    // The chaos loop: every 1-3 s, kill -9 a random worker and start a fresh one.
    let stop_chaos = tokio_util::sync::CancellationToken::new();
    let chaos = tokio::spawn({
        let (stack, workers, stop) = (stack.clone(), workers.clone(), stop_chaos.clone());
        async move {
            let mut kills = 0;
            loop {
                let pause = Duration::from_millis(rand::rng().random_range(1000..3000));
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stop.cancelled() => return kills,
                }
                let mut workers = workers.lock().await;
                let victim = rand::rng().random_range(0..workers.len());
                let mut replacement: BaykoProcess = stack.spawn_bayko_process(chaos_env);
                std::mem::swap(&mut workers[victim], &mut replacement);
                replacement.kill().await;
                kills += 1;
            }
        }
    });

    let started = Instant::now();
    // Eight clients at a time.
    let clients = Arc::new(tokio::sync::Semaphore::new(8));
    let mut submissions = tokio::task::JoinSet::new();
    for n in 0..tasks {
        let (stack, permit) = (
            stack.clone(),
            clients.clone().acquire_owned().await.unwrap(),
        );
        submissions.spawn(async move {
            let task_id = stack.submit_ok(&task(n)).await;
            drop(permit);
            task_id
        });
    }
    let accepted = submissions.join_all().await;
    let limit = Duration::from_secs(120) + Duration::from_millis(300 * tasks as u64);
    let mut unfinished = wait_all_final(&stack, &accepted, limit).await;
    let kills = {
        stop_chaos.cancel();
        chaos.await.unwrap()
    };
    // A message whose deliveries all died before any claim can still reach the DLQ: never
    // lost, and an operator's redrive finishes it.
    let dlq = stack.provisioned.dead_letter_queue_url.clone();
    let redriven = bayko::redrive::redrive(&stack.sqs, &dlq, &stack.provisioned.queue_url, tasks)
        .await
        .unwrap();
    if redriven > 0 {
        workers.lock().await.push(stack.spawn_bayko_process(&[]));
        unfinished = wait_all_final(&stack, &unfinished, Duration::from_secs(120)).await;
    }
    assert_all_finished(&stack, &unfinished).await;
    let elapsed = started.elapsed();

    let figures = figures(&stack, tasks, &accepted).await;
    report("soak", &figures);
    eprintln!(
        "FIGURES soak: {kills} workers killed, {redriven} dead-lettered and redriven, {:.1} s",
        elapsed.as_secs_f64()
    );
    // Every task ends in exactly one final state: succeeded, or failed because it kept losing
    // its worker (the chaos can hit one task four times); never lost, never done twice.
    assert_eq!(figures.accepted, tasks);
    assert_eq!(figures.completed + figures.failed, tasks);
    assert!(figures.completed * 10 >= tasks * 9, "most tasks succeed");
    assert_eq!((figures.duplicated, figures.lost), (0, 0));
    workers.lock().await.clear();
    if let Ok(stack) = Arc::try_unwrap(stack) {
        stack.stop().await;
    }
}
