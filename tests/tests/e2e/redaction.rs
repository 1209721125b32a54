//! Redaction without gaps, end to end: no address of a task's data reaches an artifact, the
//! status' error or Bayko's own log; the egress policy decides what the LLM (a local stub of
//! Anthropic's API) and an MCP server (the Python fixture) are sent; and when the policy asks
//! for redaction that cannot be done, the task fails with nothing written.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use bb_tests::{TestStack, client_with_key, logged::LoggedProcess, provision_isolated};
use serde_json::{Value, json};

/// The CSV that came back with its addresses as group keys: e-mail addresses in the first
/// text column, which the analysis groups by.
const EMAILS_CSV: &str = "email,region,amount\n\
    ann.lee@example.com,north,120.50\n\
    bob.kay@example.org,south,80.25\n\
    ann.lee@example.com,north,40.00\n\
    cy.moss@example.net,east,15.75\n";
const ADDRESSES: [&str; 3] = ["ann.lee", "bob.kay", "cy.moss"];

fn emails_task() -> Value {
    json!({
        "input": "Total the amounts per customer",
        "data": {"format": "csv", "content": EMAILS_CSV},
    })
}

/// Panics if `text` holds any of `secrets`.
fn assert_none_in(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} in {what}: {text}");
    }
}

fn fixture_server(extra: &str) -> String {
    let python = std::env::var("BB_TEST_MCP_PYTHON").unwrap_or_else(|_| "python3".into());
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mcp_server.py");
    format!(
        r#"
        [[mcp.servers]]
        name = "fixture"
        transport = "stdio"
        command = "{python}"
        args = ["{fixture}"]
        {extra}
        "#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_of_email_addresses_leaves_no_address_in_any_artifact() {
    let endpoint = bb_tests::endpoint();
    let provisioned =
        provision_isolated(&bb_tests::aws().await, bb_tests::test_queue_settings()).await;
    // PII flagged at the door, not rejected: the data reaches Bayko.
    let policy = r#"{"default": {"secrets": "reject", "pii": "flag", "injection": "flag"}}"#;
    let (brown, base, _) = LoggedProcess::brown(
        &endpoint,
        &provisioned,
        &[("BROWN_CONTENT_POLICIES", policy)],
    )
    .await;
    let bayko = LoggedProcess::bayko(&endpoint, &provisioned, &[]);
    let http = client_with_key(brown.api_key.as_deref().expect("Brown's key"))
        .build()
        .expect("an HTTP client");

    let response = http
        .post(format!("{base}/v1/tasks"))
        .json(&emails_task())
        .send()
        .await
        .expect("POST /v1/tasks");
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.expect("JSON");
    assert!(
        accepted["flags"].to_string().contains("email"),
        "Brown flags the addresses: {accepted}"
    );
    let task_id = accepted["task_id"].as_str().expect("task id");
    let status = crate::traces::wait_until_final(&http, &base, task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");

    let download = |name: &str| {
        let url = status["artifacts"]
            .as_array()
            .and_then(|artifacts| artifacts.iter().find(|a| a["name"] == name))
            .and_then(|artifact| artifact["url"].as_str())
            .unwrap_or_else(|| panic!("no link for {name} in {status}"))
            .to_owned();
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    let payload = download("output_payload.json").await;
    assert_none_in("output_payload.json", &payload, &ADDRESSES);
    // The groups survive, under redacted keys: three customers, three entries.
    let parsed: Value = serde_json::from_str(&payload).unwrap();
    let groups = parsed["steps"]["analyse"]["output"].to_string();
    for key in [
        "[REDACTED:email]",
        "[REDACTED:email] #2",
        "[REDACTED:email] #3",
    ] {
        assert!(groups.contains(&format!("\"{key}\"")), "{key}: {groups}");
    }
    for artifact in ["quality_metrics.json", "processing.log"] {
        assert_none_in(artifact, &download(artifact).await, &ADDRESSES);
    }
    assert_none_in("the status", &status.to_string(), &ADDRESSES);
    let logged: Vec<String> = bayko.lines().iter().map(Value::to_string).collect();
    assert_none_in("Bayko's log", &logged.join("\n"), &ADDRESSES);
}

/// What the Anthropic stub does with a request.
#[derive(Clone, Copy)]
enum Reply {
    /// Refuses it with a 400 whose message quotes the prompt, as APIs quoting bad input do.
    EchoError,
}

type StubState = (Reply, Arc<Mutex<Vec<Value>>>);

/// A stand-in for Anthropic's Messages API that records what it is sent.
async fn anthropic_stub(reply: Reply) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = Router::new()
        .route(
            "/v1/messages",
            post(
                |State((reply, seen)): State<StubState>, Json(body): Json<Value>| async move {
                    let prompt = body["messages"][0]["content"].to_string();
                    seen.lock().unwrap().push(body);
                    match reply {
                        Reply::EchoError => (
                            StatusCode::BAD_REQUEST,
                            Json(json!({"type": "error", "error": {
                                "type": "invalid_request_error",
                                "message": format!("cannot process {prompt}"),
                            }})),
                        ),
                    }
                },
            ),
        )
        .with_state((reply, seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn llm_config(url: &str, egress: &str) -> String {
    format!(
        r#"
        [llm]
        provider = "anthropic"
        model = "claude-test"
        endpoint_url = "{url}"
        api_key_env = "BB_TEST_ANTHROPIC_KEY"

        [tools.claude]
        max_attempts = 1

        {egress}
        "#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pii_an_llm_echoes_into_its_errors_is_redacted_from_the_log_the_metrics_and_the_status() {
    let (url, seen) = anthropic_stub(Reply::EchoError).await;
    let mut stack = TestStack::spawn_brown_only().await;
    // Raw for this tenant: the LLM gets the addresses, and its error quotes them back.
    let egress = "[egress.tenants.default]\nllm = \"raw\"";
    stack
        .start_bayko_with_tools(&llm_config(&url, egress))
        .await;

    let task_id = stack.submit_ok(&emails_task()).await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "degraded", "{status}");
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].to_string().contains("ann.lee@example.com"),
        "raw egress sends the data as it is: {}",
        sent[0]
    );

    let error = status["error"].as_str().unwrap();
    assert!(
        error.contains("fell back from claude") && error.contains("[REDACTED:email]"),
        "{error}"
    );
    assert_none_in("the status' error", error, &ADDRESSES);
    let quality = stack.download(&status, "quality_metrics.json").await;
    assert!(quality.contains("[REDACTED:email]"), "{quality}");
    assert_none_in("quality_metrics.json", &quality, &ADDRESSES);
    let log = stack.download(&status, "processing.log").await;
    assert!(log.contains("\"step_failed\""), "{log}");
    assert_none_in("processing.log", &log, &ADDRESSES);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_is_sent_redacted_data_by_default_and_nothing_when_refused() {
    let (url, seen) = anthropic_stub(Reply::EchoError).await;
    let mut stack = TestStack::spawn_brown_only().await;
    let egress = format!(
        "[egress.tenants.{}]\nllm = \"refuse\"",
        bb_tests::OTHER_TENANT
    );
    stack
        .start_bayko_with_tools(&llm_config(&url, &egress))
        .await;

    let task_id = stack.submit_ok(&emails_task()).await;
    stack.wait_until_final(&task_id).await;
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sent = sent[0].to_string();
    assert!(sent.contains("[REDACTED:email]"), "{sent}");
    assert_none_in("the LLM request", &sent, &ADDRESSES);

    // The other tenant's data does not leave at all: the local summariser takes over.
    let response = stack
        .other_http
        .post(format!("{}/v1/tasks", stack.base_url))
        .json(&emails_task())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let other_id = accepted["task_id"].as_str().unwrap();
    let status =
        crate::traces::wait_until_final(&stack.other_http, &stack.base_url, other_id).await;
    assert_eq!(status["status"], "degraded", "{status}");
    let error = status["error"].as_str().unwrap();
    assert!(error.contains("egress policy refuses"), "{error}");
    assert_eq!(seen.lock().unwrap().len(), 1, "nothing more was sent");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_egress_policy_decides_what_an_mcp_server_receives() {
    let dir = scratch_dir();
    let record = dir.join("received.jsonl");
    let record_path = path_str(&record).to_owned();
    let config = format!(
        "{}\n[egress.tenants.{}]\nmcp = \"refuse\"\n",
        fixture_server(&format!(
            "env = {{ BB_FIXTURE_RECORD = \"{record_path}\" }}"
        )),
        bb_tests::OTHER_TENANT
    );
    let mut stack = TestStack::spawn_brown_only().await;
    stack.start_bayko_with_tools(&config).await;
    let task = json!({
        "input": "Remember this for dee.ray@example.com",
        "data": {"format": "text", "content": "Contact ann.lee@example.com or +44 20 7946 0958."},
        "tools": ["remember"],
    });

    // The default: redacted before it leaves.
    let task_id = stack.submit_ok(&task).await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let received = std::fs::read_to_string(&record).unwrap();
    assert_eq!(received.lines().count(), 1, "{received}");
    assert!(
        received.contains("Contact [REDACTED:email] or [REDACTED:phone]."),
        "{received}"
    );
    assert_none_in("what the server received", &received, &["ann.lee", "7946"]);

    // Refused: the step fails with the reason, and the server is sent nothing.
    let response = stack
        .other_http
        .post(format!("{}/v1/tasks", stack.base_url))
        .json(&task)
        .send()
        .await
        .unwrap();
    let accepted: Value = response.json().await.unwrap();
    let other_id = accepted["task_id"].as_str().unwrap();
    let status =
        crate::traces::wait_until_final(&stack.other_http, &stack.base_url, other_id).await;
    assert_eq!(status["status"], "failed", "{status}");
    let error = status["error"].as_str().unwrap();
    assert!(error.contains("egress policy refuses"), "{error}");
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        received,
        "the server was sent nothing more"
    );
    stack.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_servers_stderr_never_reaches_baykos_log_verbatim() {
    let canary = "canary.stderr@example.com";
    // Raw egress: the server gets the canary, writes it to stderr and fails quoting it.
    let config = format!("{}\n[egress]\nmcp = \"raw\"\n", fixture_server(""));
    let dir = scratch_dir();
    let config_path = dir.join("bayko.toml");
    std::fs::write(&config_path, config).unwrap();
    let stack = TestStack::spawn_brown_only().await;
    let bayko = LoggedProcess::bayko(
        &stack.endpoint,
        &stack.provisioned,
        &[("BAYKO_CONFIG", path_str(&config_path))],
    );

    let task_id = stack
        .submit_ok(&json!({"input": format!("Notify {canary}"), "tools": ["leak"]}))
        .await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "failed", "{status}");
    let error = status["error"].as_str().unwrap();
    assert!(error.contains("could not process"), "{error}");
    assert!(error.contains("[REDACTED:email]"), "{error}");
    assert_none_in("the status' error", error, &[canary]);
    let log = stack.download(&status, "processing.log").await;
    assert_none_in("processing.log", &log, &[canary]);

    // Bayko read the server's stderr (it says how much), and never logged what it said.
    bayko
        .wait_for_line(|line| line["message"] == "mcp server wrote to stderr")
        .await;
    let logged: Vec<String> = bayko.lines().iter().map(Value::to_string).collect();
    assert_none_in(
        "Bayko's log",
        &logged.join("\n"),
        &[canary, "canary.stderr"],
    );
    stack.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_scan_off_and_redaction_required_the_task_fails_and_nothing_is_written() {
    let mut stack = TestStack::spawn_brown_only().await;
    stack
        .start_bayko_with_tools("[compliance]\nscan = false\n")
        .await;
    let task_id = stack.submit_ok(&emails_task()).await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "failed", "{status}");
    let error = status["error"].as_str().unwrap();
    assert!(
        error.contains("scan is disabled") && error.contains("no artifacts were written"),
        "{error}"
    );
    assert!(status.get("artifacts").is_none(), "{status}");
    assert_eq!(
        stack.keys(stack.artifacts_bucket(), "").await,
        Vec::<String>::new(),
        "no artifact object at all"
    );
    stack.stop().await;
}

/// A new empty directory for one test's files.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bb-redaction-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
