//! Network faults between the daemons and storage, through the fault proxy: latency, reset
//! connections, 5xx bursts, and writes that land while their answer is lost. Each is aimed at
//! one kind of write (claim, heartbeat, artifact, commit) of one task at a time. Each task must
//! end in a final state, run once (claims from the status' version history; tool runs from the
//! counting MCP tool) and write each artifact once; where a second run is legitimately needed,
//! the figures say so.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use bb_aws::AwsSettings;
use bb_tests::{
    TestStack, bayko_config, count_writes_from_now_on,
    fault_proxy::{Fault, FaultProxy, Rule},
    tally::Tally,
    writes_per_key,
};
use serde_json::{Value, json};

/// A stack whose Bayko reaches storage through the proxy (Brown and the test's own reads go
/// straight to the emulator), with the counting tool and versioning on both buckets.
struct Rig {
    stack: TestStack,
    proxy: FaultProxy,
    tally: Tally,
}

impl Rig {
    async fn new() -> Self {
        let stack = TestStack::spawn_brown_only().await;
        count_writes_from_now_on(&stack.s3, stack.tasks_bucket()).await;
        count_writes_from_now_on(&stack.s3, stack.artifacts_bucket()).await;
        let proxy = FaultProxy::start(&stack.endpoint).await;
        Self {
            stack,
            proxy,
            tally: Tally::new(),
        }
    }

    /// Starts the worker, behind the proxy. Steps take a while, so that heartbeats happen.
    async fn start_bayko(&mut self) {
        let aws = AwsSettings::emulator(&self.proxy.url).load().await;
        let engine = bayko::engine::config::EngineConfig::parse(&self.tally.engine_config())
            .expect("engine config");
        let registry = bayko::engine::Registry::from_config(engine, &aws)
            .await
            .expect("building the registry");
        let mut config = bayko_config(&self.stack.provisioned);
        config.max_in_flight = 8;
        config.heartbeat = Duration::from_millis(500);
        config.chaos_step_delay = Duration::from_millis(300);
        let worker = bayko::Worker::with_registry(config, &aws, Arc::new(registry));
        self.stack.start_worker(worker);
    }

    async fn submit(&self, label: &str) -> String {
        self.stack
            .submit_ok(&json!({
                "input": label,
                "data": {"format": "csv", "content": include_str!("../../../examples/quarterly.csv")},
                "tools": ["tally"],
            }))
            .await
    }

    fn status_path(&self, task_id: &str) -> String {
        format!(
            "/{}/status/default/{task_id}.json",
            self.stack.tasks_bucket()
        )
    }

    fn artifact_path(&self, task_id: &str, name: &str) -> String {
        format!(
            "/{}/default/{task_id}/{name}",
            self.stack.artifacts_bucket()
        )
    }

    /// The task's writes as the proxy saw them: `PUT name → answer`, the faults marked.
    fn writes(&self, task_id: &str) -> String {
        let seen = self.proxy.seen(task_id);
        let described: Vec<String> = seen
            .iter()
            .filter(|seen| seen.method != "GET")
            .map(|seen| {
                let name = match seen.path.rsplit('/').next().unwrap_or_default() {
                    _ if seen.path.contains("/status/") => "status",
                    _ if seen.path.contains("/cancel/") => "cancel request",
                    artifact => artifact,
                };
                let fault = seen
                    .fault
                    .map(|fault| format!(" [{fault:?}]"))
                    .unwrap_or_default();
                let answer = seen
                    .upstream
                    .map_or("no answer".to_owned(), |status| status.to_string());
                format!("{} {name}{fault} → {answer}", seen.method)
            })
            .collect();
        described.join(", ")
    }

    /// The task's figures once it is final.
    async fn figures(&self, label: &str, task_id: &str) -> TaskFigures {
        let status = self.stack.wait_until_final(task_id).await;
        let history =
            bb_tests::status_history(&self.stack.s3, self.stack.tasks_bucket(), task_id).await;
        let writes = writes_per_key(
            &self.stack.s3,
            self.stack.artifacts_bucket(),
            &format!("default/{task_id}/"),
        )
        .await;
        TaskFigures {
            label: label.to_owned(),
            state: status["status"].as_str().unwrap_or_default().to_owned(),
            attempt: status["attempt"].as_u64().unwrap_or_default(),
            claims: bb_tests::claims(&history).len(),
            tool_runs: self.tally.count(label),
            artifact_writes: writes
                .into_iter()
                .map(|(key, count)| (key.rsplit('/').next().unwrap_or_default().to_owned(), count))
                .collect(),
            status: status.clone(),
        }
    }
}

/// What happened to one task.
#[derive(Debug)]
struct TaskFigures {
    label: String,
    state: String,
    attempt: u64,
    /// Claims in the status' version history: executions started.
    claims: usize,
    /// Invocations of the counting tool: executions that got as far as the tool.
    tool_runs: usize,
    /// Artifact name → versions written.
    artifact_writes: BTreeMap<String, usize>,
    status: Value,
}

impl TaskFigures {
    fn print(&self, test: &str) {
        eprintln!(
            "FIGURES {test} / {}: {} (attempt {}), claims {}, tool runs {}, artifact writes {:?}",
            self.label, self.state, self.attempt, self.claims, self.tool_runs, self.artifact_writes
        );
    }

    /// Ended once, ran once, each of its three artifacts written once.
    fn assert_once(&self) {
        assert_eq!(self.state, "succeeded", "{}: {}", self.label, self.status);
        assert_eq!(
            (self.claims, self.tool_runs, self.attempt),
            (1, 1, 1),
            "{}: claimed and run once",
            self.label
        );
        assert_eq!(
            self.artifact_writes.values().copied().collect::<Vec<_>>(),
            [1, 1, 1],
            "{}: three artifacts, each written once: {:?}",
            self.label,
            self.artifact_writes
        );
    }
}

/// The fault classes, each as a rule on whatever requests `aim` picks.
fn faults() -> Vec<(&'static str, Fault, usize)> {
    vec![
        ("latency", Fault::Latency(Duration::from_secs(2)), 1),
        ("reset", Fault::Reset, 1),
        ("503 burst", Fault::ServerError(503), 2),
        ("500 burst", Fault::ServerError(500), 2),
        ("answer lost", Fault::DropResponse, 1),
    ]
}

/// Submits one task per fault class, aims each fault at one write of its task (`aim` makes the
/// rule from the task's id), runs them, and checks every task ran and wrote once.
async fn every_fault_on(test: &str, aim: impl Fn(&Rig, &str, Fault) -> Rule) {
    let mut rig = Rig::new().await;
    let mut cases = Vec::new();
    for (name, fault, times) in faults() {
        let label = format!("{test}: {name}");
        let task_id = rig.submit(&label).await;
        let rule = rig.proxy.inject(aim(&rig, &task_id, fault).times(times));
        cases.push((label, task_id, rule));
    }
    // The rules are in place before the worker sees the first message.
    rig.start_bayko().await;
    for (label, task_id, rule) in &cases {
        let figures = rig.figures(label, task_id).await;
        figures.print(test);
        eprintln!(
            "FIGURES {test} / {label}: fault applied {} times; the task's writes {}",
            rule.fired(),
            rig.writes(task_id)
        );
        assert!(rule.spent(), "{label}: the fault was applied");
        figures.assert_once();
    }
    rig.stack
        .wait_until_drained(&rig.stack.provisioned.queue_url)
        .await;
    rig.stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_survive_every_network_fault() {
    every_fault_on("claim", |rig, task_id, fault| {
        Rule::new("PUT", &rig.status_path(task_id), fault).with_body("\"status\":\"running\"")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_survive_every_network_fault() {
    // The first lease-holding write after the claim: a renewal or a progress update.
    every_fault_on("heartbeat", |rig, task_id, fault| {
        Rule::new("PUT", &rig.status_path(task_id), fault)
            .with_body("\"status\":\"running\"")
            .after(1)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_writes_survive_every_network_fault() {
    every_fault_on("artifact", |rig, task_id, fault| {
        Rule::new(
            "PUT",
            &rig.artifact_path(task_id, "output_payload.json"),
            fault,
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_survive_every_network_fault() {
    every_fault_on("commit", |rig, task_id, fault| {
        Rule::new("PUT", &rig.status_path(task_id), fault).with_body("\"status\":\"succeeded\"")
    })
    .await;
}

/// The heartbeat race, made deterministic: a lease renewal lands in S3 but its answer is lost,
/// so the SDK's retry of it meets its own write (412). The worker must recognise its write and
/// commit on the new ETag; before the fix it believed it had lost the lease, walked away, and
/// the task ran again once the lease ran out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_whose_answer_is_lost_does_not_run_the_task_twice() {
    let mut rig = Rig::new().await;
    let label = "heartbeat race";
    let task_id = rig.submit(label).await;
    let status_path = rig.status_path(&task_id);
    let lost = rig.proxy.inject(
        Rule::new("PUT", &status_path, Fault::DropResponse)
            .with_body("\"status\":\"running\"")
            .after(1),
    );
    rig.start_bayko().await;
    lost.wait_spent(bb_tests::DEADLINE).await;
    let figures = rig.figures(label, &task_id).await;
    figures.print("heartbeat race");
    eprintln!("FIGURES heartbeat race: {}", rig.writes(&task_id));
    let writes = rig.proxy.seen(&status_path);
    let dropped = writes
        .iter()
        .position(|seen| seen.fault == Some(Fault::DropResponse))
        .expect("the renewal went through the proxy");
    assert_eq!(
        writes[dropped].upstream,
        Some(200),
        "the renewal landed in S3"
    );
    assert!(
        writes[dropped + 1..]
            .iter()
            .any(|seen| seen.method == "PUT" && seen.upstream == Some(200)),
        "a later status write (the commit at least) named the renewal's ETag: {writes:?}"
    );
    figures.assert_once();
    rig.stack
        .wait_until_drained(&rig.stack.provisioned.queue_url)
        .await;
    rig.stack.stop().await;
}

/// A storage outage on the final commit that outlasts the SDK's three attempts: the worker
/// cannot know the outcome, so the message goes back to the queue and, once the lease runs out,
/// the task is run again. The figures must say so: two claims, two tool runs, and still one
/// version of each artifact (create-only: the first set stands) and one final status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_outage_longer_than_the_retries_runs_the_task_again_and_says_so() {
    let mut rig = Rig::new().await;
    let label = "commit outage";
    let task_id = rig.submit(label).await;
    let outage = rig.proxy.inject(
        Rule::new("PUT", &rig.status_path(&task_id), Fault::ServerError(503))
            .with_body("\"status\":\"succeeded\"")
            .times(3),
    );
    rig.start_bayko().await;
    let figures = rig.figures(label, &task_id).await;
    figures.print("commit outage");
    assert!(outage.spent(), "the outage hit every attempt");
    assert_eq!(figures.state, "succeeded", "{}", figures.status);
    assert_eq!(
        (figures.claims, figures.tool_runs, figures.attempt),
        (2, 2, 2),
        "run twice, and counted as such"
    );
    assert_eq!(
        figures
            .artifact_writes
            .values()
            .copied()
            .collect::<Vec<_>>(),
        [1, 1, 1],
        "the second run kept the first run's artifacts"
    );
    let finals = bb_tests::status_history(&rig.stack.s3, rig.stack.tasks_bucket(), &task_id)
        .await
        .into_iter()
        .filter(|status| status["status"] == "succeeded")
        .count();
    assert_eq!(finals, 1, "one final status");
    rig.stack.stop().await;
}

/// Brown's side: a submission whose task write meets each fault is answered 202 once, its task
/// object is written once (so one event, one message), and the task runs once. Brown reaches
/// storage through the proxy; Bayko and the test's reads go straight to the emulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_survive_every_network_fault() {
    let proxy = FaultProxy::start(&bb_tests::endpoint()).await;
    let mut stack = TestStack::spawn_brown_only_on(&proxy.url).await;
    let direct = bb_tests::aws().await;
    let s3 = bb_aws::s3(&direct);
    count_writes_from_now_on(&s3, stack.tasks_bucket()).await;
    let tally = Tally::new();
    let engine =
        bayko::engine::config::EngineConfig::parse(&tally.engine_config()).expect("engine config");
    let registry = bayko::engine::Registry::from_config(engine, &direct)
        .await
        .expect("building the registry");
    stack.start_worker(bayko::Worker::with_registry(
        bayko_config(&stack.provisioned),
        &direct,
        Arc::new(registry),
    ));
    let inbox = format!("/{}/inbox/", stack.tasks_bucket());
    for (name, fault, times) in faults() {
        let label = format!("submission: {name}");
        // One submission at a time, so that the rule can only meet this one's write.
        let rule = proxy.inject(Rule::new("PUT", &inbox, fault).times(times));
        let task_id = stack
            .submit_ok(&json!({
                "input": label,
                "data": {"format": "csv", "content": include_str!("../../../examples/quarterly.csv")},
                "tools": ["tally"],
            }))
            .await;
        proxy.heal();
        let status = stack.wait_until_final(&task_id).await;
        let task_writes = writes_per_key(
            &s3,
            stack.tasks_bucket(),
            &format!("inbox/default/{task_id}"),
        )
        .await
        .into_values()
        .sum::<usize>();
        let history = bb_tests::status_history(&s3, stack.tasks_bucket(), &task_id).await;
        let claims = bb_tests::claims(&history).len();
        let tool_runs = tally.count(&label);
        eprintln!(
            "FIGURES {label}: 202, fault applied {} times, task object written {task_writes} \
             times, {} (attempt {}), claims {claims}, tool runs {tool_runs}",
            rule.fired(),
            status["status"],
            status["attempt"]
        );
        assert!(rule.spent(), "{label}: the fault was applied");
        assert_eq!(status["status"], "succeeded", "{label}: {status}");
        assert_eq!(
            (task_writes, claims, tool_runs),
            (1, 1, 1),
            "{label}: stored, claimed and run once"
        );
    }
    stack.wait_until_drained(&stack.provisioned.queue_url).await;
    stack.stop().await;
}
