//! Breaking things on purpose, with real processes: kill -9 mid-task, the emulator frozen under
//! load, and a soak with a chaos loop. Each test prints its figures: submitted, accepted,
//! completed, executions (lost to kills, run twice), written twice, lost.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use bb_aws::AwsSettings;
use bb_tests::{
    BaykoProcess, OwnEmulator, TestStack, bayko_config, count_writes_from_now_on, stored_status,
    tally::Tally, writes_per_key,
};
use serde_json::{Value, json};
use tokio::sync::Mutex;

fn task(n: usize) -> Value {
    json!({
        "input": format!("Process quarterly data analysis request #{n}"),
        "data": {"format": "csv", "content": include_str!("../../../examples/quarterly.csv")},
    })
}

/// Every accepted task's final state, and how often it ran and was written, from the status'
/// version history (claims) and the artifacts' (writes).
#[derive(Debug, Default)]
struct Figures {
    submitted: usize,
    accepted: usize,
    /// Succeeded.
    completed: usize,
    /// Ended `failed` with a reason (a task that kept losing its worker is given up on).
    failed: usize,
    /// Claims, over all tasks: every time a worker started one.
    executions: usize,
    /// Executions cut short because their worker was killed.
    lost_to_kills: usize,
    /// Executions superseded although their worker was not killed: work done twice.
    run_twice: usize,
    /// Tasks with an artifact written more than once.
    written_twice: usize,
    /// Failed tasks whose history does not show `max_attempts` claims, each by a killed worker.
    unexplained_failures: usize,
    /// Accepted but in no final state.
    lost: usize,
    /// From the counting tool, when the tasks used it.
    tools: Option<ToolFigures>,
}

/// The counting tool's side of the story: how many times each task's tool really ran.
#[derive(Debug, Default)]
struct ToolFigures {
    /// Invocations, over all tasks.
    runs: usize,
    /// Tasks whose tool ran more than once (run twice, as the tool saw it).
    ran_twice: usize,
    /// Tasks claimed more than once, for comparison.
    claimed_twice: usize,
    /// Tasks whose tool ran more often than they were claimed, or more than once in workers
    /// that were never killed: a second run that no kill explains.
    unexplained: usize,
}

/// Which worker made each invocation of the counting tool, per task id.
type ToolRuns = HashMap<String, Vec<String>>;

/// Tallies the accepted tasks. `killed` are the workers the test killed; `max_attempts` is the
/// workers' `BAYKO_MAX_ATTEMPTS`. Requires versioning on both buckets before submission.
async fn figures(
    stack: &TestStack,
    submitted: usize,
    accepted: &[String],
    killed: &HashSet<String>,
    max_attempts: usize,
    tool_runs: Option<&ToolRuns>,
) -> Figures {
    let mut figures = Figures {
        submitted,
        accepted: accepted.len(),
        tools: tool_runs.map(|_| ToolFigures::default()),
        ..Figures::default()
    };
    let mut completed = Vec::new();
    for task_id in accepted {
        let status: Value = stack.status(task_id).await.json().await.unwrap();
        let history = bb_tests::status_history(&stack.s3, stack.tasks_bucket(), task_id).await;
        let claims = bb_tests::claims(&history);
        figures.executions += claims.len();
        if let (Some(tools), Some(tool_runs)) = (figures.tools.as_mut(), tool_runs) {
            let runs = tool_runs.get(task_id).map_or(&[][..], Vec::as_slice);
            tools.runs += runs.len();
            tools.ran_twice += usize::from(runs.len() > 1);
            tools.claimed_twice += usize::from(claims.len() > 1);
            let unkilled = runs
                .iter()
                .filter(|worker| !killed.contains(*worker))
                .count();
            if runs.len() > claims.len() || unkilled > 1 {
                eprintln!("{task_id}: tool runs by {runs:?} for claims {claims:?}");
                tools.unexplained += 1;
            }
        }
        // The claims that did not end the task: all but the committing one, or all of them
        // for a task given up on.
        let superseded: Vec<&String> = match status["status"].as_str() {
            Some("succeeded") => {
                completed.push(task_id.clone());
                let last = claims.last_key_value().map(|(attempt, _)| *attempt);
                assert_eq!(
                    status["attempt"].as_u64(),
                    last,
                    "the last claim committed: {status}"
                );
                claims.values().rev().skip(1).collect()
            }
            Some("failed") => {
                let reason = status["error"].as_str().unwrap_or_default();
                assert!(
                    reason.contains("worker was lost"),
                    "unexpected failure: {status}"
                );
                figures.failed += 1;
                if claims.len() != max_attempts
                    || claims.values().any(|worker| !killed.contains(worker))
                {
                    eprintln!("{task_id} failed without {max_attempts} kills: {claims:?}");
                    figures.unexplained_failures += 1;
                }
                claims.values().collect()
            }
            _ => {
                figures.lost += 1;
                Vec::new()
            }
        };
        for worker in superseded {
            if killed.contains(worker) {
                figures.lost_to_kills += 1;
            } else {
                eprintln!("{task_id} ran twice: {claims:?}");
                figures.run_twice += 1;
            }
        }
    }
    figures.completed = completed.len();
    let writes = writes_per_key(&stack.s3, stack.artifacts_bucket(), "default/").await;
    let mut per_task: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for (key, count) in &writes {
        let task_id = key.split('/').nth(1).unwrap_or_default().to_owned();
        let entry = per_task.entry(task_id).or_default();
        entry.0 += 1;
        entry.1 |= *count > 1;
    }
    figures.written_twice = per_task.values().filter(|(_, twice)| *twice).count();
    for task_id in &completed {
        assert_eq!(
            per_task.get(task_id).map(|(artifacts, _)| *artifacts),
            Some(3),
            "task {task_id} does not have its three artifacts"
        );
    }
    figures
}

fn report(test: &str, figures: &Figures) {
    eprintln!(
        "FIGURES {test}: submitted {}, accepted {}, completed {}, failed with reason {}, \
         executions {} (lost to kills {}, run twice {}), written twice {}, lost {}",
        figures.submitted,
        figures.accepted,
        figures.completed,
        figures.failed,
        figures.executions,
        figures.lost_to_kills,
        figures.run_twice,
        figures.written_twice,
        figures.lost
    );
    if let Some(tools) = &figures.tools {
        eprintln!(
            "FIGURES {test}: tool runs {} (tasks whose tool ran more than once {}, claimed more \
             than once {}, second runs no kill explains {})",
            tools.runs, tools.ran_twice, tools.claimed_twice, tools.unexplained
        );
    }
}

/// Turns on versioning on both buckets, so that every claim and every write is counted.
async fn count_executions_from_now_on(stack: &TestStack) {
    count_writes_from_now_on(&stack.s3, stack.tasks_bucket()).await;
    count_writes_from_now_on(&stack.s3, stack.artifacts_bucket()).await;
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
    count_executions_from_now_on(&stack).await;
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

    let killed = HashSet::from([doomed_id]);
    let figures = figures(&stack, 1, std::slice::from_ref(&task_id), &killed, 4, None).await;
    report("kill -9 mid-task", &figures);
    assert_eq!(
        (figures.completed, figures.executions, figures.lost_to_kills),
        (1, 2, 1)
    );
    assert_eq!(
        (figures.run_twice, figures.written_twice, figures.lost),
        (0, 0, 0)
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
    // Handed back: the lease ended when the worker stopped, not 120 s after its last beat.
    let handed_back = bb_tests::stored_status(&stack.s3, stack.tasks_bucket(), &task_id)
        .await
        .expect("a status");
    assert_eq!(handed_back["status"], "running", "{handed_back}");
    assert_eq!(
        handed_back["lease_until"], handed_back["updated_at"],
        "the lease ends at the hand-back: {handed_back}"
    );

    let _next = stack.spawn_bayko_process(&[]);
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["attempt"], 2);
    stack.stop().await;
}

/// A grace period shorter than the long poll could not finish the open poll on the way out:
/// Bayko refuses it at start-up, naming the setting, rather than strand messages at each stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grace_shorter_than_the_long_poll_is_refused_at_start_up() {
    let stack = TestStack::spawn_brown_only().await;
    let env = bb_tests::bayko_env(&stack.endpoint, &stack.provisioned, "grace");
    let output = tokio::process::Command::new(bb_tests::binary("bayko"))
        .envs(env)
        .envs([
            ("BAYKO_WAIT_SECONDS", "20"),
            ("BAYKO_SHUTDOWN_GRACE_SECONDS", "5"),
        ])
        .stdin(std::process::Stdio::null())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("bayko exits")
        .expect("running bayko");
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BAYKO_SHUTDOWN_GRACE_SECONDS") && stderr.contains("BAYKO_WAIT_SECONDS"),
        "{stderr}"
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
    count_executions_from_now_on(&stack).await;

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
    // How many fall either side of the freeze depends on the machine's speed; that some do not.
    assert!(!accepted.is_empty(), "requests around it were accepted");

    let unfinished = wait_all_final(&stack, &accepted, Duration::from_secs(120)).await;
    assert_all_finished(&stack, &unfinished).await;
    let figures = figures(&stack, submitted, &accepted, &HashSet::new(), 4, None).await;
    report("frozen emulator", &figures);
    eprintln!("FIGURES frozen emulator: refused with 503 {refused}");
    assert_eq!(figures.completed, figures.accepted);
    // A freeze longer than the lease may let a task be claimed again while its first run is
    // still alive (a takeover, reported as run twice); its result is still written once.
    assert_eq!((figures.written_twice, figures.lost), (0, 0));
    stack.stop().await;
}

/// The soak's workers give up on a task after this many lost workers: above the queue's
/// `max_receive_count` (5), so only claims, never bare deliveries, count towards it.
const SOAK_MAX_ATTEMPTS: usize = 6;
/// Tasks completed between two kills: the chaos follows progress, not the wall clock.
const COMPLETIONS_PER_KILL: usize = 8;
/// A worker is only killed while every task it holds has been hit fewer times than this.
const KILLS_PER_TASK: usize = 2;

/// Task ids with a processing log: finished with their artifacts.
async fn finished_tasks(stack: &TestStack) -> HashSet<String> {
    bb_tests::list_all_keys(&stack.s3, stack.artifacts_bucket(), "default/")
        .await
        .into_iter()
        .filter(|key| key.ends_with("/processing.log"))
        .filter_map(|key| key.split('/').nth(1).map(str::to_owned))
        .collect()
}

/// Which live worker holds which unfinished task, from the stored statuses.
async fn holdings(stack: &TestStack, tasks: &[String]) -> HashMap<String, Vec<String>> {
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    for task_id in tasks {
        if let Some(status) = stored_status(&stack.s3, stack.tasks_bucket(), task_id).await
            && status["status"] == "running"
            && let Some(worker) = status["worker"].as_str()
        {
            held.entry(worker.to_owned())
                .or_default()
                .push(task_id.clone());
        }
    }
    held
}

/// Starts the soak's Bayko processes, each with the counting tool, and remembers their pids:
/// the tool names the worker process behind each invocation by its pid.
struct Spawner {
    stack: Arc<TestStack>,
    tally: Tally,
    workers_by_pid: std::sync::Mutex<HashMap<u32, String>>,
}

impl Spawner {
    fn spawn(&self, env: &[(&str, &str)]) -> BaykoProcess {
        let config = self.tally.config_file().to_str().expect("a UTF-8 path");
        let mut env = env.to_vec();
        env.push(("BAYKO_CONFIG", config));
        let worker = self.stack.spawn_bayko_process(&env);
        self.workers_by_pid
            .lock()
            .unwrap()
            .insert(worker.pid(), worker.worker_id.clone());
        worker
    }

    /// Task id → the worker behind each of its tool's invocations.
    fn tool_runs(&self, labels: &HashMap<String, String>) -> ToolRuns {
        let workers = self.workers_by_pid.lock().unwrap();
        let mut runs = ToolRuns::new();
        for (label, pids) in self.tally.runs() {
            let task_id = labels.get(&label).expect("a label the soak submitted");
            let by = pids.iter().map(|pid| workers[pid].clone()).collect();
            runs.insert(task_id.clone(), by);
        }
        runs
    }
}

/// A soak task: the usual analysis plus the counting tool, its input as its label.
fn tallied_task(n: usize) -> (String, Value) {
    let mut task = task(n);
    task["tools"] = json!(["tally"]);
    (task["input"].as_str().unwrap().to_owned(), task)
}

/// The chaos loop: after every `COMPLETIONS_PER_KILL` completions, kill -9 a worker that holds
/// claims (none of them hit `KILLS_PER_TASK` times yet) and start a fresh one. Returns the
/// killed workers' ids.
async fn chaos(
    spawner: Arc<Spawner>,
    workers: Arc<Mutex<Vec<BaykoProcess>>>,
    env: &'static [(&'static str, &'static str)],
    tasks: Arc<[String]>,
    stop: tokio_util::sync::CancellationToken,
) -> HashSet<String> {
    let mut killed = HashSet::new();
    let mut hits: HashMap<String, usize> = HashMap::new();
    let mut finished_at_last_kill = 0;
    let stack = spawner.stack.clone();
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = stop.cancelled() => return killed,
        }
        let finished = finished_tasks(&stack).await;
        if finished.len() < finished_at_last_kill + COMPLETIONS_PER_KILL.min(tasks.len() / 2) {
            continue;
        }
        let unfinished: Vec<String> = tasks
            .iter()
            .filter(|task_id| !finished.contains(*task_id))
            .cloned()
            .collect();
        let held = holdings(&stack, &unfinished).await;
        let mut workers = workers.lock().await;
        let victim = workers.iter().position(|worker| {
            held.get(&worker.worker_id).is_some_and(|tasks| {
                tasks
                    .iter()
                    .all(|task| hits.get(task).copied().unwrap_or(0) < KILLS_PER_TASK)
            })
        });
        let Some(victim) = victim else { continue };
        for task_id in &held[&workers[victim].worker_id] {
            *hits.entry(task_id.clone()).or_default() += 1;
        }
        let mut replacement = spawner.spawn(env);
        std::mem::swap(&mut workers[victim], &mut replacement);
        replacement.kill().await;
        killed.insert(replacement.worker_id.clone());
        finished_at_last_kill = finished.len();
    }
}

/// Every task ends exactly once whatever the kills, and the verdict is exact, so it does not
/// depend on the machine's speed: every execution that did not end its task was cut short by a
/// kill (none ran twice), every failed task lost its worker `SOAK_MAX_ATTEMPTS` times, nothing
/// is lost or written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_chaos_every_task_ends_once() {
    let tasks: usize = std::env::var("BB_SOAK_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let stack = Arc::new(TestStack::spawn_brown_only().await);
    count_executions_from_now_on(&stack).await;
    // A lease long enough that a live worker on a loaded machine never loses one: only kills
    // take tasks over.
    const CHAOS_ENV: &[(&str, &str)] = &[
        ("BAYKO_CHAOS_STEP_DELAY_MS", "20"),
        ("BAYKO_LEASE_SECONDS", "15"),
        ("BAYKO_MAX_IN_FLIGHT", "4"),
        ("BAYKO_MAX_ATTEMPTS", "6"),
    ];
    // The first worker is stuck in its steps, so that it surely holds claims when the first
    // kill is due.
    const STUCK_ENV: &[(&str, &str)] = &[
        ("BAYKO_CHAOS_STEP_DELAY_MS", "600000"),
        ("BAYKO_LEASE_SECONDS", "15"),
        ("BAYKO_MAX_IN_FLIGHT", "4"),
        ("BAYKO_MAX_ATTEMPTS", "6"),
    ];
    let spawner = Arc::new(Spawner {
        stack: stack.clone(),
        tally: Tally::new(),
        workers_by_pid: Default::default(),
    });
    let workers = Arc::new(Mutex::new(vec![
        spawner.spawn(STUCK_ENV),
        spawner.spawn(CHAOS_ENV),
    ]));

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
            let (label, task) = tallied_task(n);
            let task_id = stack.submit_ok(&task).await;
            drop(permit);
            (label, task_id)
        });
    }
    let labels: HashMap<String, String> = submissions.join_all().await.into_iter().collect();
    let accepted: Arc<[String]> = labels.values().cloned().collect();
    let stop_chaos = tokio_util::sync::CancellationToken::new();
    let chaos = tokio::spawn(chaos(
        spawner.clone(),
        workers.clone(),
        CHAOS_ENV,
        accepted.clone(),
        stop_chaos.clone(),
    ));

    // A deadline against hangs only; the verdict below does not depend on it.
    let limit = Duration::from_secs(300) + Duration::from_millis(500 * tasks as u64);
    let mut unfinished = wait_all_final(&stack, &accepted, limit).await;
    let killed = {
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
        workers.lock().await.push(spawner.spawn(CHAOS_ENV));
        unfinished = wait_all_final(&stack, &unfinished, Duration::from_secs(120)).await;
    }
    assert_all_finished(&stack, &unfinished).await;
    let elapsed = started.elapsed();

    let tool_runs = spawner.tool_runs(&labels);
    let figures = figures(
        &stack,
        tasks,
        &accepted,
        &killed,
        SOAK_MAX_ATTEMPTS,
        Some(&tool_runs),
    )
    .await;
    report("soak", &figures);
    eprintln!(
        "FIGURES soak: {} workers killed, {redriven} dead-lettered and redriven, {:.1} s",
        killed.len(),
        elapsed.as_secs_f64()
    );
    assert_eq!(figures.accepted, tasks);
    assert_eq!(figures.completed + figures.failed, tasks);
    assert!(!killed.is_empty(), "the stuck worker was killed");
    assert!(figures.lost_to_kills > 0, "the kills cut executions short");
    assert_eq!(
        (figures.run_twice, figures.unexplained_failures),
        (0, 0),
        "every repeated execution and every failure is explained by kills"
    );
    assert_eq!((figures.written_twice, figures.lost), (0, 0));
    let tools = figures
        .tools
        .as_ref()
        .expect("the tasks used the counting tool");
    assert!(
        tools.runs >= figures.completed,
        "every completed task's tool ran"
    );
    assert_eq!(
        tools.unexplained, 0,
        "every second run of a tool is explained by a kill"
    );
    workers.lock().await.clear();
    drop(spawner);
    if let Ok(stack) = Arc::try_unwrap(stack) {
        stack.stop().await;
    }
}
