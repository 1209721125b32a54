//! Brown's HTTP contract: answers, problems, and that a rejected request writes nothing.

use bb_tests::TestStack;
use serde_json::{Value, json};

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.expect("problem body");
    assert_eq!(problem["status"], status);
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/"))
    );
    assert!(problem["title"].is_string());
    assert!(problem["detail"].is_string());
    problem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_task_is_in_the_inbox_and_reads_back_as_queued() {
    let stack = TestStack::spawn_brown_only().await;
    let response = stack
        .submit(&json!({
            "input": "Process quarterly data analysis request",
            "data": {"format": "csv", "content": "region,revenue\nnorth,10\n"},
            "tools": ["data-processor"],
            "metadata": {"team": "finance"},
        }))
        .await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = response.json().await.unwrap();
    let task_id = accepted["task_id"].as_str().unwrap();
    assert_eq!(accepted["status"], "queued");
    assert_eq!(accepted["status_url"], location);
    assert_eq!(location, format!("/v1/tasks/{task_id}"));
    let id = uuid::Uuid::parse_str(task_id).unwrap();
    assert_eq!(id.get_version_num(), 7);

    // The 202 came after S3 had it: the object is there, create-only, and complete.
    let key = format!("inbox/default/{task_id}.json");
    assert_eq!(
        stack.keys(stack.tasks_bucket(), "inbox/").await,
        std::slice::from_ref(&key)
    );
    let object = stack
        .s3
        .get_object()
        .bucket(stack.tasks_bucket())
        .key(&key)
        .send()
        .await
        .unwrap();
    let stored: Value =
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(stored["version"], "v1");
    assert_eq!(stored["task_id"], task_id);
    assert_eq!(stored["tenant"], "default");
    assert_eq!(stored["data"]["content"], "region,revenue\nnorth,10\n");
    assert_eq!(stored["metadata"]["team"], "finance");

    let status: Value = stack.status(task_id).await.json().await.unwrap();
    assert_eq!(status["status"], "queued");
    assert_eq!(status["task_id"], task_id);
    assert!(status.get("artifacts").is_none());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_get_problems_and_write_nothing() {
    let stack = TestStack::spawn_brown_only().await;
    let url = format!("{}/v1/tasks", stack.base_url);

    let malformed = stack
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"input\": ")
        .send()
        .await
        .unwrap();
    let body = problem(malformed, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("line 1"),
        "{body}"
    );

    let wrong_type = stack
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body("{\"input\": \"hi\"}")
        .send()
        .await
        .unwrap();
    problem(wrong_type, 415).await;

    let no_type = stack.http.post(&url).body("{}").send().await.unwrap();
    problem(no_type, 415).await;

    let huge =
        json!({"input": "x", "data": {"format": "text", "content": "y".repeat(2 * 1024 * 1024)}});
    let too_large = stack.submit(&huge).await;
    let body = problem(too_large, 413).await;
    assert!(
        body["detail"].as_str().unwrap().contains("1048576"),
        "{body}"
    );

    let invalid = stack
        .submit(&json!({
            "input": "",
            "data": {"format": "xml", "content": "a"},
            "tools": "data-processor",
            "metadata": {"n": 1},
            "priority": "high",
        }))
        .await;
    let body = problem(invalid, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["priority", "input", "data.format", "tools", "metadata.n"]
    );
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|error| !error["message"].as_str().unwrap().is_empty())
    );

    let missing_input = stack.submit(&json!({"tools": []})).await;
    let body = problem(missing_input, 422).await;
    assert_eq!(body["errors"][0]["field"], "input");
    assert_eq!(body["errors"][0]["message"], "is required");

    let long_input = stack.submit(&json!({"input": "x".repeat(8193)})).await;
    problem(long_input, 422).await;

    assert!(stack.keys(stack.tasks_bucket(), "").await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tasks_and_routes_are_404_problems() {
    let stack = TestStack::spawn_brown_only().await;
    problem(stack.status(&uuid::Uuid::now_v7().to_string()).await, 404).await;
    problem(stack.status("not-a-uuid").await, 404).await;
    let nowhere = stack
        .http
        .get(format!("{}/v2/nothing", stack.base_url))
        .send()
        .await
        .unwrap();
    problem(nowhere, 404).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let stack = TestStack::spawn_brown_only().await;
    let alive = stack
        .http
        .get(format!("{}/healthz", stack.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);
    assert!(alive.headers().contains_key("x-request-id"));
    let ready = stack
        .http
        .get(format!("{}/readyz", stack.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // Without its bucket Brown is alive but not ready.
    let aws = bb_tests::aws().await;
    let mut config = brown::Config::local("no-such-bucket-bb", "no-such-bucket-bb");
    // Readiness needs no key.
    config.request_timeout = std::time::Duration::from_secs(5);
    let app = brown::Application::build(config, &aws).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
    let ready = stack
        .http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["retry-after"], "1");
    server.abort();
    stack.stop().await;
}
