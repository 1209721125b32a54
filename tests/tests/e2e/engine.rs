//! The engine end to end, through Brown and Bayko: the LLM (Anthropic's API, as a local stub
//! that speaks its shapes), its fallback, and a Python MCP server's tool.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use bb_tests::TestStack;
use serde_json::{Value, json};

const QUARTERLY: &str = include_str!("../../../examples/quarterly.csv");

/// What the stub answers with, and what it was sent.
type StubState = (Option<&'static str>, Arc<Mutex<Vec<Value>>>);

/// A stand-in for the Anthropic Messages API: answers with `reply` (or an overloaded error when
/// there is none) and records the requests.
async fn anthropic_stub(reply: Option<&'static str>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = Router::new()
        .route(
            "/v1/messages",
            post(|State((reply, seen)): State<StubState>, Json(body): Json<Value>| async move {
                seen.lock().unwrap().push(body);
                match reply {
                    Some(text) => (StatusCode::OK, Json(json!({
                        "id": "msg_01", "type": "message", "role": "assistant",
                        "model": "claude-test", "content": [{"type": "text", "text": text}],
                        "stop_reason": "end_turn", "usage": {"input_tokens": 321, "output_tokens": 54},
                    }))),
                    None => (StatusCode::from_u16(529).unwrap(), Json(json!({
                        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
                    }))),
                }
            }),
        )
        .with_state((reply, seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn llm_config(url: &str) -> String {
    format!(
        r#"
        [llm]
        provider = "anthropic"
        model = "claude-test"
        endpoint_url = "{url}"
        api_key_env = "BB_TEST_ANTHROPIC_KEY"

        [tools.claude]
        max_attempts = 2
        retry_base_ms = 10
        "#
    )
}

fn quarterly() -> Value {
    json!({
        "input": "Process quarterly data analysis request",
        "data": {"format": "csv", "content": QUARTERLY},
        "tools": ["data-processor", "claude"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarterly_analysis_is_scanned_analysed_and_summarised_by_the_llm() {
    let report = "## Summary\nRevenue rose to 956,002.60 over four quarters.\n\n## Key findings\n- The north led every quarter.";
    let (url, seen) = anthropic_stub(Some(report)).await;
    let mut stack = TestStack::spawn_brown_only().await;
    stack.start_bayko_with_tools(&llm_config(&url)).await;

    let task_id = stack.submit_ok(&quarterly()).await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(
        status["metrics"]["tools_used"],
        json!(["compliance-scanner", "data-processor", "claude"])
    );
    let payload: Value =
        serde_json::from_str(&stack.download(&status, "output_payload.json").await).unwrap();
    assert_eq!(payload["report"]["summary"], report);
    assert_eq!(
        payload["steps"]["summarise"]["output"]["usage"]["input_tokens"],
        321
    );

    // The LLM was given the analysis, not the raw CSV: the revenue total is in its prompt.
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let prompt = requests[0]["messages"][0]["content"].as_str().unwrap();
    assert!(prompt.contains("956002.6"), "{prompt}");
    assert!(
        requests[0]["system"]
            .as_str()
            .unwrap()
            .contains("Key findings")
    );

    let quality: Value =
        serde_json::from_str(&stack.download(&status, "quality_metrics.json").await).unwrap();
    assert_eq!(quality["steps"]["summarise"]["tool"], "claude");
    assert_eq!(quality["checks_passed"], quality["checks_total"]);
    let log = stack.download(&status, "processing.log").await;
    assert!(log.contains("\"planned\""), "{log}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_llm_overloaded_the_task_degrades_to_an_extractive_summary() {
    let (url, seen) = anthropic_stub(None).await;
    let mut stack = TestStack::spawn_brown_only().await;
    stack.start_bayko_with_tools(&llm_config(&url)).await;

    let task_id = stack.submit_ok(&quarterly()).await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "degraded", "{status}");
    let reason = status["error"].as_str().unwrap();
    assert!(
        reason.contains("fell back from claude to document-processor"),
        "{reason}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "two attempts, then the fallback"
    );

    let payload: Value =
        serde_json::from_str(&stack.download(&status, "output_payload.json").await).unwrap();
    assert_eq!(payload["steps"]["summarise"]["tool"], "document-processor");
    let summary = payload["report"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("revenue") || summary.contains("rows"),
        "{summary}"
    );
    let log = stack.download(&status, "processing.log").await;
    for event in ["\"retry\"", "\"fallback\"", "\"step_failed\""] {
        assert!(log.contains(event), "{event} missing from {log}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_mcp_servers_tool_is_called_by_bayko() {
    let python = std::env::var("BB_TEST_MCP_PYTHON").unwrap_or_else(|_| "python3".into());
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mcp_server.py");
    let config = format!(
        r#"
        [[mcp.servers]]
        name = "fixture"
        transport = "stdio"
        command = "{python}"
        args = ["{fixture}"]
        "#
    );
    let mut stack = TestStack::spawn_brown_only().await;
    stack.start_bayko_with_tools(&config).await;

    let task_id = stack
        .submit_ok(&json!({
            "input": "Count the words",
            "data": {"format": "text", "content": "alpha beta beta gamma extraordinarily"},
            "tools": ["word_stats"],
        }))
        .await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert!(
        status["metrics"]["tools_used"]
            .as_array()
            .unwrap()
            .contains(&json!("fixture:word_stats")),
        "{status}"
    );
    let payload: Value =
        serde_json::from_str(&stack.download(&status, "output_payload.json").await).unwrap();
    let stats = &payload["steps"]["mcp:fixture:word_stats"]["output"];
    assert_eq!(stats["words"], 5, "{payload}");
    assert_eq!(stats["unique_words"], 4, "{payload}");
    assert_eq!(stats["longest_word"], "extraordinarily", "{payload}");
    stack.stop().await;
}
