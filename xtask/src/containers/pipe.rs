//! The proof that a deployment works: a task submitted to Brown ends `succeeded`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The key compose's Brown grants by default (only its SHA-256 is in `compose.yaml`), also
/// given to the single-container Brown.
pub const LOCAL_API_KEY: &str = "bbk_local-compose-only-not-a-secret";

/// `BROWN_API_KEYS` granting [`LOCAL_API_KEY`] to tenant `default`.
pub const LOCAL_API_KEYS: &str = r#"[{"tenant":"default","sha256":"8f1357cd075de9fc119f9f1b145d7a5a2051d17d415fdda0f90a2a97fce153ca"}]"#;

/// Waits for Brown's readiness, submits a small CSV analysis and waits for its final status,
/// which must be `succeeded`. Returns the status document.
pub async fn one_task_through(base: &str, deadline: Duration) -> anyhow::Result<Value> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {LOCAL_API_KEY}").parse()?,
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .default_headers(headers)
        .build()?;
    let until = Instant::now() + deadline;
    loop {
        match http.get(format!("{base}/readyz")).send().await {
            Ok(response) if response.status().is_success() => break,
            _ if Instant::now() > until => bail!("Brown at {base} was not ready in {deadline:?}"),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    let accepted: Value = http
        .post(format!("{base}/v1/tasks"))
        .json(&json!({
            "input": "Process quarterly data analysis request",
            "data": {"format": "csv", "content": "quarter,region,revenue\n2025-Q1,north,100\n2025-Q2,north,120\n"},
            "tools": ["data-processor"],
        }))
        .send()
        .await?
        .error_for_status()
        .context("submitting the task")?
        .json()
        .await?;
    let status_url = format!(
        "{base}{}",
        accepted["status_url"].as_str().unwrap_or_default()
    );
    loop {
        let status: Value = http.get(&status_url).send().await?.json().await?;
        match status["status"].as_str().unwrap_or_default() {
            "queued" | "running" if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            "succeeded" => return Ok(status),
            other => bail!(
                "task {} is {other:?}, not succeeded: {status}",
                accepted["task_id"]
            ),
        }
    }
}
