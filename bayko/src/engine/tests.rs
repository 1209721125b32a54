//! The engine's logic with scripted tools (real built-ins where they matter): DAG concurrency,
//! retries, fallbacks, circuit breaking, pools, cancellation. The real tools are proven
//! end to end in the integration tests.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use serde_json::{Value, json};
use shared::task::{DataFormat, TaskData, TaskState, TaskV1};
use uuid::Uuid;

use super::{Engine, EngineError, EngineSettings, Registry, config::EngineConfig};
use crate::{
    control::{StopReason, TaskControl},
    log::ProcessingLog,
    tools::{
        Tool, ToolError, ToolSpec,
        builtin::{ComplianceScanner, DataProcessor, DocumentProcessor},
    },
};

/// The artifacts as written, for assertions by path.
fn output_json(outcome: &super::Outcome) -> Value {
    serde_json::to_value(outcome.output.as_ref().expect("an output payload")).unwrap()
}

fn quality_json(outcome: &super::Outcome) -> Value {
    serde_json::to_value(outcome.quality.as_ref().expect("quality metrics")).unwrap()
}

/// A scripted tool's capabilities: a scripted `claude` is a language model, as the real one.
fn capabilities(name: &str, capability: &str) -> Vec<String> {
    let mut capabilities = vec![capability.to_owned()];
    if name == crate::tools::claude::CLAUDE {
        capabilities.push(crate::tools::capability::PLAN.to_owned());
    }
    capabilities
}

/// A tool that answers from a script (then repeats its last answer), after a delay, and
/// counts its calls and how many ran at once.
struct Scripted {
    spec: ToolSpec,
    script: Mutex<VecDeque<Result<Value, ToolError>>>,
    last: Mutex<Option<Result<Value, ToolError>>>,
    delay: Duration,
    calls: AtomicUsize,
    /// What each call was given.
    inputs: Mutex<Vec<Value>>,
    running: Arc<AtomicUsize>,
    max_running: Arc<AtomicUsize>,
}

impl Scripted {
    fn new(
        name: &str,
        capability: &str,
        delay: Duration,
        script: Vec<Result<Value, ToolError>>,
    ) -> Arc<Self> {
        Self::sharing(
            name,
            capability,
            delay,
            script,
            Arc::default(),
            Arc::default(),
        )
    }

    fn sharing(
        name: &str,
        capability: &str,
        delay: Duration,
        script: Vec<Result<Value, ToolError>>,
        running: Arc<AtomicUsize>,
        max_running: Arc<AtomicUsize>,
    ) -> Arc<Self> {
        Arc::new(Self {
            spec: ToolSpec {
                name: name.into(),
                description: format!("scripted {name}"),
                input_schema: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
                capabilities: capabilities(name, capability),
                idempotent: true,
            },
            script: Mutex::new(script.into()),
            last: Mutex::new(None),
            delay,
            calls: AtomicUsize::new(0),
            inputs: Mutex::default(),
            running,
            max_running,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Tool for Scripted {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn call(&self, input: Value) -> Result<Value, ToolError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inputs.lock().unwrap().push(input);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        let next = self.script.lock().unwrap().pop_front();
        match next {
            Some(answer) => {
                *self.last.lock().unwrap() = Some(answer.clone());
                answer
            }
            None => self.last.lock().unwrap().clone().unwrap_or(Ok(json!({}))),
        }
    }
}

fn report() -> Result<Value, ToolError> {
    Ok(
        json!({"text": "## Summary\nRevenue grew steadily through the year.\n\n## Key findings\n- Q4 was the best quarter."}),
    )
}

fn overloaded() -> Result<Value, ToolError> {
    Err(ToolError::Retryable {
        message: "529 overloaded".into(),
        retry_after: None,
    })
}

fn config(toml: &str) -> EngineConfig {
    EngineConfig::parse(toml).unwrap()
}

fn registry(config: EngineConfig, tools: Vec<Arc<dyn Tool>>) -> Arc<Registry> {
    let mut registry = Registry::empty(config);
    registry.register_builtin(Arc::new(DataProcessor::default()));
    registry.register_builtin(Arc::new(DocumentProcessor::default()));
    registry.register_builtin(Arc::new(ComplianceScanner::default()));
    for tool in tools {
        registry.register(tool);
    }
    Arc::new(registry)
}

fn task(tools: &[&str]) -> TaskV1 {
    TaskV1 {
        task_id: Uuid::now_v7(),
        tenant: "default".into(),
        submitted_at: Utc::now(),
        input: "Process quarterly data analysis request".into(),
        data: Some(TaskData {
            format: DataFormat::Csv,
            upload: None,
            content:
                "quarter,region,revenue\n2025-Q1,north,100\n2025-Q2,north,120\n2025-Q3,south,90\n"
                    .into(),
            group_by: Vec::new(),
        }),
        tools: tools.iter().map(|t| (*t).to_owned()).collect(),
        metadata: Default::default(),
        idempotency_key: None,
        flags: Vec::new(),
    }
}

async fn run(
    engine: &Engine,
    task: &TaskV1,
) -> (Result<super::Outcome, EngineError>, ProcessingLog) {
    let mut log = ProcessingLog::new(task.task_id);
    let result = engine.run(task, &mut log, &TaskControl::detached()).await;
    (result, log)
}

fn events<'a>(log: &'a ProcessingLog, event: &str) -> Vec<&'a crate::log::LogEvent> {
    log.events()
        .iter()
        .filter(|e| serde_json::to_value(e.event).unwrap() == event)
        .collect()
}

fn engine(registry: Arc<Registry>) -> Engine {
    Engine::new(registry, EngineSettings::default())
}

#[tokio::test]
async fn independent_steps_run_concurrently_and_dependents_wait() {
    let (running, max_running) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let slow = Duration::from_millis(300);
    let scanner = Scripted::sharing(
        "compliance-scanner",
        "pii-scan",
        slow,
        vec![Ok(json!({"total": 0, "counts": {}, "findings": {}}))],
        running.clone(),
        max_running.clone(),
    );
    let analyser = Scripted::sharing(
        "data-processor",
        "tabular-analysis",
        slow,
        vec![Ok(json!({"rows": 3, "columns": [], "numeric": {}}))],
        running,
        max_running.clone(),
    );
    let engine = engine(registry(EngineConfig::default(), vec![scanner, analyser]));
    let (result, log) = run(&engine, &task(&[])).await;
    let outcome = result.unwrap();
    assert_eq!(
        max_running.load(Ordering::SeqCst),
        2,
        "scan and analyse overlapped"
    );
    let analyse_done = events(&log, "step_finished")
        .into_iter()
        .find(|e| e.tool.as_deref() == Some("data-processor"))
        .unwrap()
        .ts;
    let summarise_started = events(&log, "step_started")
        .into_iter()
        .find(|e| e.tool.as_deref() == Some("document-processor"))
        .unwrap()
        .ts;
    assert!(
        summarise_started >= analyse_done,
        "summarise waited for its dependency"
    );
    assert_eq!(
        outcome.tools_used(),
        ["compliance-scanner", "data-processor", "document-processor"]
    );
    let planned = &events(&log, "planned")[0].detail;
    assert_eq!(planned["steps"][2]["depends_on"], json!(["analyse"]));
    assert!(
        planned["steps"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("CSV")
    );
}

#[tokio::test]
async fn retry_then_success() {
    let claude = Scripted::new(
        "claude",
        "summarise",
        Duration::ZERO,
        vec![overloaded(), overloaded(), report()],
    );
    let engine = engine(registry(
        config("[tools.claude]\nmax_attempts = 3\nretry_base_ms = 1\n"),
        vec![claude.clone()],
    ));
    let (result, log) = run(&engine, &task(&[])).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, TaskState::Succeeded, "{:?}", outcome.reason);
    assert_eq!(claude.calls(), 3);
    assert_eq!(events(&log, "retry").len(), 2);
    assert_eq!(quality_json(&outcome)["retries"], 2);
    assert_eq!(output_json(&outcome)["steps"]["summarise"]["attempts"], 3);
    assert!(
        output_json(&outcome)["report"]["summary"]
            .as_str()
            .unwrap()
            .contains("## Summary")
    );
}

#[tokio::test]
async fn failing_llm_falls_back_to_the_extractive_summary_and_degrades() {
    let claude = Scripted::new("claude", "summarise", Duration::ZERO, vec![overloaded()]);
    let engine = engine(registry(
        config("[tools.claude]\nmax_attempts = 2\nretry_base_ms = 1\n"),
        vec![claude.clone()],
    ));
    let (result, log) = run(&engine, &task(&[])).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, TaskState::Degraded);
    let reason = outcome.reason.clone().unwrap();
    assert!(
        reason.contains("fell back from claude to document-processor"),
        "{reason}"
    );
    assert_eq!(claude.calls(), 2);
    assert_eq!(events(&log, "fallback").len(), 1);
    assert_eq!(
        output_json(&outcome)["steps"]["summarise"]["tool"],
        "document-processor"
    );
    assert!(
        !output_json(&outcome)["report"]["summary"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_eq!(quality_json(&outcome)["fallbacks"][0]["from"], "claude");
}

#[tokio::test]
async fn circuit_opens_after_consecutive_failures_and_closes_after_a_good_probe() {
    let claude = Scripted::new(
        "claude",
        "summarise",
        Duration::ZERO,
        vec![overloaded(), overloaded(), report()],
    );
    let engine = engine(registry(
        config(
            "[breaker]\nfailure_threshold = 2\ncooldown_ms = 200\n[tools.claude]\nmax_attempts = 1\n",
        ),
        vec![claude.clone()],
    ));
    for _ in 0..2 {
        let (result, _) = run(&engine, &task(&[])).await;
        assert_eq!(result.unwrap().state, TaskState::Degraded);
    }
    assert_eq!(claude.calls(), 2);

    // Open: claude is not even called, the fallback answers.
    let (result, log) = run(&engine, &task(&[])).await;
    assert_eq!(result.unwrap().state, TaskState::Degraded);
    assert_eq!(claude.calls(), 2);
    assert_eq!(events(&log, "circuit_open").len(), 1);

    // After the cooldown one probe goes through; it succeeds and the circuit closes.
    let reopened = Instant::now() + Duration::from_millis(250);
    tokio::time::sleep_until(reopened.into()).await;
    let (result, _) = run(&engine, &task(&[])).await;
    assert_eq!(result.unwrap().state, TaskState::Succeeded);
    let (result, _) = run(&engine, &task(&[])).await;
    assert_eq!(result.unwrap().state, TaskState::Succeeded);
    assert_eq!(claude.calls(), 4);
}

#[tokio::test]
async fn a_slow_pooled_tool_does_not_hold_up_a_fast_one() {
    let slow = Scripted::new(
        "stats:slow",
        "mcp",
        Duration::from_millis(400),
        vec![Ok(json!({"result": 1}))],
    );
    let engine = engine(registry(
        config("[tools.\"stats:slow\"]\nconcurrency = 1\n"),
        vec![slow.clone()],
    ));
    let started = Instant::now();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move { run(&engine, &task(&["stats:slow"])).await })
        })
        .collect();
    let mut waited = 0;
    for handle in runs {
        let (result, log) = handle.await.unwrap();
        assert_eq!(result.unwrap().state, TaskState::Succeeded);
        let analysed = events(&log, "step_finished")
            .into_iter()
            .find(|e| e.tool.as_deref() == Some("data-processor"))
            .unwrap();
        // Every task's analysis finished long before the slow tool's queue drained.
        assert!(analysed.duration_ms.unwrap() < 300, "{analysed:?}");
        waited += events(&log, "pool_wait").len();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "the slow tool ran one at a time"
    );
    assert!(
        waited >= 2,
        "two tasks queued for the slow tool's only slot"
    );
    assert_eq!(slow.calls(), 3);
}

#[tokio::test]
async fn cancellation_stops_an_in_flight_call() {
    let slow = Scripted::new(
        "stats:slow",
        "mcp",
        Duration::from_secs(30),
        vec![Ok(json!({}))],
    );
    let engine = engine(registry(EngineConfig::default(), vec![slow.clone()]));
    let control = TaskControl::detached();
    let task = task(&["stats:slow"]);
    // Cancel once the slow call is in flight.
    let stopper = {
        let control = control.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while slow.calls() == 0 {
                assert!(Instant::now() < deadline, "the slow tool was never called");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            control.stop(StopReason::Cancelled);
        })
    };
    let started = Instant::now();
    let mut log = ProcessingLog::new(task.task_id);
    let result = engine.run(&task, &mut log, &control).await;
    stopper.await.unwrap();
    assert!(
        matches!(result, Err(EngineError::Stopped(StopReason::Cancelled))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_required_step_failing_fails_the_task_with_its_reason() {
    let engine = engine(registry(EngineConfig::default(), vec![]));
    let mut bad = task(&[]);
    bad.data = Some(TaskData {
        format: DataFormat::Csv,
        upload: None,
        content: "a,b\n1,2,3\n".into(),
        group_by: Vec::new(),
    });
    let (result, log) = run(&engine, &bad).await;
    let Err(EngineError::Failed(failure)) = result else {
        panic!("{result:?}")
    };
    assert!(
        failure.reason.contains("analyse") && failure.reason.contains("line 2"),
        "{}",
        failure.reason
    );
    assert_eq!(events(&log, "step_failed").len(), 1);
}

#[tokio::test]
async fn pii_is_redacted_from_the_artifacts() {
    let engine = engine(registry(EngineConfig::default(), vec![]));
    let mut leaky = task(&[]);
    leaky.input = "Summarise for jane.doe@example.com".into();
    leaky.data = Some(TaskData {
        format: DataFormat::Text,
        upload: None,
        content: "Call me at +44 20 7946 0958. The quarter went well and revenue grew.".into(),
        group_by: Vec::new(),
    });
    let (result, _) = run(&engine, &leaky).await;
    let outcome = result.unwrap();
    let payload = output_json(&outcome).to_string();
    assert!(!payload.contains("jane.doe@example.com"), "{payload}");
    assert!(payload.contains("[REDACTED:email]"), "{payload}");
    assert!(quality_json(&outcome)["redactions"].as_u64().unwrap() >= 1);
    assert_eq!(quality_json(&outcome)["pii_findings"], 2);
}

/// The CSV the issue found leaking: e-mail addresses in its first text column, which the
/// analysis groups by.
const EMAILS_CSV: &str = "email,region,amount\nann.lee@example.com,north,10\n\
    bob.kay@example.org,south,20\nann.lee@example.com,north,5\n";

fn emails_task() -> TaskV1 {
    let mut leaky = task(&[]);
    leaky.data = Some(TaskData {
        format: DataFormat::Csv,
        upload: None,
        content: EMAILS_CSV.into(),
        group_by: Vec::new(),
    });
    leaky
}

#[tokio::test]
async fn pii_in_object_keys_is_redacted_too() {
    let engine = engine(registry(EngineConfig::default(), vec![]));
    let (result, mut log) = run(&engine, &emails_task()).await;
    let outcome = result.unwrap();
    let payload = output_json(&outcome).to_string();
    assert!(payload.contains("[REDACTED:email]"), "{payload}");
    for address in ["ann.lee", "bob.kay"] {
        assert!(!payload.contains(address), "{payload}");
    }
    log.redact();
    assert!(!log.to_json_lines().contains("ann.lee"));
}

#[tokio::test]
async fn a_failed_scan_fails_the_task_and_withholds_every_artifact() {
    let scanner = Scripted::new(
        "compliance-scanner",
        "pii-scan",
        Duration::ZERO,
        vec![Err(ToolError::terminal("scanner broke"))],
    );
    let engine = engine(registry(EngineConfig::default(), vec![scanner]));
    let (result, _) = run(&engine, &emails_task()).await;
    let Err(EngineError::Failed(failure)) = result else {
        panic!("expected a failure, got {result:?}");
    };
    assert!(failure.withhold_artifacts);
    assert!(
        failure
            .reason
            .contains("compliance scan failed (scanner broke)"),
        "{}",
        failure.reason
    );
    let outcome = super::Outcome::failed(failure);
    assert!(outcome.artifacts_withheld && outcome.output.is_none());
}

#[tokio::test]
async fn a_disabled_scan_with_redaction_required_fails_before_any_call() {
    let analyser = Scripted::new(
        "data-processor",
        "tabular-analysis",
        Duration::ZERO,
        vec![Ok(json!({"rows": 3, "columns": [], "numeric": {}}))],
    );
    let engine = engine(registry(
        config("[compliance]\nscan = false\n"),
        vec![analyser.clone()],
    ));
    let (result, _) = run(&engine, &emails_task()).await;
    let Err(EngineError::Failed(failure)) = result else {
        panic!("expected a failure, got {result:?}");
    };
    assert!(failure.withhold_artifacts, "{}", failure.reason);
    assert!(
        failure.reason.contains("scan is disabled"),
        "{}",
        failure.reason
    );
    assert_eq!(analyser.calls(), 0);

    // Without redaction asked for, the same task runs.
    let engine = engine_without_redaction();
    let (result, _) = run(&engine, &emails_task()).await;
    assert!(result.is_ok(), "{result:?}");
}

fn engine_without_redaction() -> Engine {
    engine(registry(
        config("[compliance]\nscan = false\nredact_artifacts = false\n"),
        vec![],
    ))
}

/// Runs the emails task with a scripted LLM under `egress`; returns the outcome and what the
/// LLM was sent.
async fn with_egress(egress: &str) -> (super::Outcome, Vec<Value>) {
    let llm = Scripted::new("claude", "summarise", Duration::ZERO, vec![report()]);
    let engine = engine(registry(config(egress), vec![llm.clone()]));
    let mut leaky = emails_task();
    leaky.input = "Summarise for carol.day@example.net".into();
    let (result, _) = run(&engine, &leaky).await;
    let inputs = llm.inputs.lock().unwrap().clone();
    (result.unwrap(), inputs)
}

#[tokio::test]
async fn the_egress_policy_decides_what_the_llm_is_sent() {
    // Redacted by default: no address reaches the LLM, in the request or the analysis.
    let (outcome, sent) = with_egress("").await;
    assert_eq!(outcome.state, TaskState::Succeeded, "{:?}", outcome.reason);
    let sent = Value::Array(sent).to_string();
    assert!(sent.contains("[REDACTED:email]"), "{sent}");
    for address in ["carol.day", "ann.lee", "bob.kay"] {
        assert!(!sent.contains(address), "{sent}");
    }

    let (_, sent) = with_egress("[egress]\nllm = \"raw\"\n").await;
    let sent = Value::Array(sent).to_string();
    assert!(
        sent.contains("carol.day@example.net") && sent.contains("ann.lee"),
        "{sent}"
    );

    // Refused: the LLM is never called, the local summariser takes over, and the task says why.
    let (outcome, sent) = with_egress("[egress.tenants.default]\nllm = \"refuse\"\n").await;
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(outcome.state, TaskState::Degraded);
    let reason = outcome.reason.clone().unwrap_or_default();
    assert!(reason.contains("egress policy refuses"), "{reason}");
    assert_eq!(
        output_json(&outcome)["steps"]["summarise"]["tool"],
        "document-processor"
    );
}

#[test]
fn router_explains_its_choices() {
    let registry = registry(EngineConfig::default(), vec![]);
    let mut text_task = task(&["document-processor", "nope"]);
    text_task.data = Some(TaskData {
        format: DataFormat::Text,
        upload: None,
        content: "Some text.".into(),
        group_by: Vec::new(),
    });
    let plan = super::plan::plan(&text_task, &registry).unwrap();
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["scan", "summarise"]);
    assert_eq!(plan.ignored_hints.len(), 1, "{:?}", plan.ignored_hints);
    assert!(plan.ignored_hints[0].starts_with("nope"));

    let csv = super::plan::plan(&task(&[]), &registry).unwrap();
    let ids: Vec<&str> = csv.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["scan", "analyse", "summarise"]);
    assert!(csv.steps.iter().all(|s| !s.reason.is_empty()));

    let no_scan = super::plan::plan(
        &task(&[]),
        &Registry::empty(config("[compliance]\nscan = false\n")),
    );
    assert!(no_scan.is_err(), "no tools at all: a clear error");
}

#[tokio::test]
async fn an_llm_plan_is_used_when_the_router_validates_it() {
    let proposal = r#"```json
{"steps": [
  {"id": "scan", "tool": "compliance-scanner", "depends_on": []},
  {"id": "analyse", "tool": "data-processor", "depends_on": []},
  {"id": "mcp:stats:count", "tool": "stats:count", "depends_on": ["analyse"]},
  {"id": "summarise", "tool": "claude", "depends_on": ["analyse", "mcp:stats:count"]}
]}
```"#;
    let claude = Scripted::new(
        "claude",
        "summarise",
        Duration::ZERO,
        vec![Ok(json!({"text": proposal})), report()],
    );
    let count = Scripted::new(
        "stats:count",
        "mcp",
        Duration::ZERO,
        vec![Ok(json!({"result": 3}))],
    );
    let engine = engine(registry(
        config("[router]\nllm_planning = true\n"),
        vec![claude.clone(), count.clone()],
    ));
    let (result, log) = run(&engine, &task(&["stats:count"])).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, TaskState::Succeeded, "{:?}", outcome.reason);
    assert_eq!(events(&log, "llm_plan_accepted").len(), 1);
    assert_eq!(count.calls(), 1, "the LLM placed the MCP step");
    assert_eq!(
        output_json(&outcome)["plan"][3]["depends_on"],
        json!(["analyse", "mcp:stats:count"])
    );
    assert_eq!(
        output_json(&outcome)["plan"][3]["tools"],
        json!(["claude", "document-processor"])
    );
}

#[tokio::test]
async fn an_invalid_llm_plan_is_rejected_with_its_reasons() {
    let proposal = r#"{"steps": [
      {"id": "analyse", "tool": "spreadsheet-wizard", "depends_on": []},
      {"id": "summarise", "tool": "claude", "depends_on": ["later"]}
    ]}"#;
    let claude = Scripted::new(
        "claude",
        "summarise",
        Duration::ZERO,
        vec![Ok(json!({"text": proposal})), report()],
    );
    let engine = engine(registry(
        config("[router]\nllm_planning = true\n"),
        vec![claude],
    ));
    let (result, log) = run(&engine, &task(&[])).await;
    assert_eq!(result.unwrap().state, TaskState::Succeeded);
    let rejected = events(&log, "llm_plan_rejected");
    assert_eq!(rejected.len(), 1);
    let problems = rejected[0].detail["problems"].to_string();
    for expected in [
        "spreadsheet-wizard",
        "later",
        "require step scan",
        "require step analyse",
    ] {
        assert!(problems.contains(expected), "{expected} not in {problems}");
    }
    // The router's own plan ran instead.
    let planned = &events(&log, "planned")[0].detail;
    assert_eq!(planned["steps"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn an_llm_plan_may_not_add_an_mcp_step_the_client_did_not_ask_for() {
    let proposal = r#"{"steps": [
      {"id": "scan", "tool": "compliance-scanner", "depends_on": []},
      {"id": "analyse", "tool": "data-processor", "depends_on": []},
      {"id": "mcp:stats:count", "tool": "stats:count", "depends_on": []},
      {"id": "summarise", "tool": "claude", "depends_on": ["analyse"]}
    ]}"#;
    let claude = Scripted::new(
        "claude",
        "summarise",
        Duration::ZERO,
        vec![Ok(json!({"text": proposal})), report()],
    );
    let count = Scripted::new(
        "stats:count",
        "mcp",
        Duration::ZERO,
        vec![Ok(json!({"result": 3}))],
    );
    let engine = engine(registry(
        config("[router]\nllm_planning = true\n"),
        vec![claude, count.clone()],
    ));
    let (result, log) = run(&engine, &task(&[])).await;
    assert_eq!(result.unwrap().state, TaskState::Succeeded);
    let rejected = events(&log, "llm_plan_rejected");
    assert_eq!(rejected.len(), 1);
    let problems = rejected[0].detail["problems"].to_string();
    assert!(
        problems.contains("the client did not ask for stats:count"),
        "{problems}"
    );
    assert_eq!(count.calls(), 0, "the MCP tool was never called");
}

#[tokio::test]
async fn planning_goes_through_the_llms_circuit_breaker() {
    // Two failed summaries open claude's circuit; the next task's planning call must then
    // not reach claude either.
    let claude = Scripted::new(
        "claude",
        "summarise",
        Duration::ZERO,
        vec![overloaded(), overloaded(), overloaded(), overloaded()],
    );
    let engine = engine(registry(
        config(
            "[router]\nllm_planning = true\n[breaker]\nfailure_threshold = 2\ncooldown_ms = 60000\n\
             [tools.claude]\nmax_attempts = 1\n",
        ),
        vec![claude.clone()],
    ));
    let (result, _) = run(&engine, &task(&[])).await;
    assert_eq!(result.unwrap().state, TaskState::Degraded);
    assert_eq!(claude.calls(), 2, "planning and summarising both failed");
    let (result, log) = run(&engine, &task(&[])).await;
    assert_eq!(result.unwrap().state, TaskState::Degraded);
    assert_eq!(
        claude.calls(),
        2,
        "the open circuit kept the planning call away"
    );
    let rejected = events(&log, "llm_plan_rejected");
    assert!(
        rejected[0].detail["problems"]
            .to_string()
            .contains("circuit open"),
        "{rejected:?}"
    );
}

/// A table that takes the data-processor far longer than a few milliseconds.
fn large_csv(rows: usize) -> String {
    let mut csv = String::from("quarter,region,units,revenue,cost\n");
    for row in 0..rows {
        csv.push_str(&format!(
            "{}-Q{},r{},{},{}.5,{}\n",
            2020 + row % 5,
            1 + row % 4,
            row % 9,
            row % 500,
            row % 977,
            row % 613
        ));
    }
    csv
}

#[tokio::test]
async fn a_timed_out_analysis_is_not_retried_and_stops_working() {
    const ROWS: usize = 100_000;
    let data_processor = Arc::new(DataProcessor::default());
    let mut registry = Registry::empty(config(
        "[tools.data-processor]\ntimeout_ms = 1\nmax_attempts = 3\nretry_base_ms = 1\n\
         [tools.compliance-scanner]\ntimeout_ms = 600000\n",
    ));
    registry.register_builtin(data_processor.clone());
    registry.register_builtin(Arc::new(DocumentProcessor::default()));
    registry.register_builtin(Arc::new(ComplianceScanner::default()));
    let engine = engine(Arc::new(registry));
    let mut large = task(&[]);
    large.data = Some(TaskData {
        format: DataFormat::Csv,
        upload: None,
        content: large_csv(ROWS),
        group_by: Vec::new(),
    });

    let (result, log) = run(&engine, &large).await;
    let Err(EngineError::Failed(failure)) = result else {
        panic!("{result:?}")
    };
    assert!(failure.reason.contains("timed out"), "{}", failure.reason);
    // One attempt: a deterministic analysis that timed out would time out again.
    assert!(events(&log, "retry").is_empty());
    let failed = events(&log, "step_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail["attempts"], 1, "{:?}", failed[0].detail);

    // The analysis on the blocking pool stops at its next checkpoint instead of running on.
    let deadline = Instant::now() + Duration::from_secs(120);
    while data_processor.work().running() > 0 {
        assert!(Instant::now() < deadline, "the timed-out analysis ran on");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Run to its end, it would have read all but the last few hundred rows (it counts them at
    // checkpoints); cancelled after a millisecond, it stops within a few checkpoints.
    let rows_read = data_processor.work().units();
    assert!(
        rows_read < (ROWS / 2) as u64,
        "the analysis read {rows_read} rows of {ROWS} after its timeout"
    );
}

#[tokio::test]
async fn a_refused_egress_keeps_the_task_away_from_the_llm_planner_too() {
    let claude = Scripted::new("claude", "summarise", Duration::ZERO, vec![report()]);
    let engine = engine(registry(
        config("[router]\nllm_planning = true\n[egress]\nllm = \"refuse\"\n"),
        vec![claude.clone()],
    ));
    let (result, log) = run(&engine, &emails_task()).await;
    let outcome = result.unwrap();
    assert_eq!(
        claude.calls(),
        0,
        "neither planning nor summarising called the LLM"
    );
    let rejected = events(&log, "llm_plan_rejected");
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0]
            .detail
            .to_string()
            .contains("egress policy refuses"),
        "{:?}",
        rejected[0].detail
    );
    assert_eq!(events(&log, "egress_refused").len(), 2);
    assert_eq!(outcome.state, TaskState::Degraded);
}
