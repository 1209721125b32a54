//! Brown's side: accepted tasks/s beside the raw create-only PutObject rate at the same
//! concurrency and body size; rejected requests/s beside `/healthz`; CPU per accepted task.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    load::{Run, closed_loop, round},
    process::{Process, cpu_time},
    stack::{Stack, inbox_key},
};

/// The smallest useful task: Bayko's no-op plan runs it.
pub(crate) fn noop_request() -> Value {
    json!({"input": "noop: a benchmark task"})
}

/// What one Brown ingest comparison measured.
pub(crate) struct Ingest {
    pub concurrency: usize,
    pub brown: Run,
    pub raw_put: Run,
    /// The bench's own CPU per raw write: what the SDK costs a client per PutObject, the
    /// floor under Brown's CPU per task.
    pub raw_put_cpu: Duration,
}

impl Ingest {
    pub(crate) fn ratio(&self) -> f64 {
        self.brown.per_second() / self.raw_put.per_second()
    }
}

/// POSTs `body` at `concurrency` for `limit` (or `total` requests); success means `expected`.
pub(crate) async fn post_tasks(
    http: &reqwest::Client,
    base: &str,
    body: Value,
    concurrency: usize,
    total: usize,
    limit: Duration,
    expected: u16,
) -> Run {
    let body = Arc::new(serde_json::to_vec(&body).expect("JSON"));
    let url = Arc::new(format!("{base}/v1/tasks"));
    let http = http.clone();
    closed_loop(concurrency, total, limit, move |_| {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        async move {
            http.post(url.as_str())
                .header("content-type", "application/json")
                .body(body.as_ref().clone())
                .send()
                .await
                .is_ok_and(|response| response.status().as_u16() == expected)
        }
    })
    .await
}

/// The size of the document Brown stores for `body`, so the raw writes carry as many bytes.
pub(crate) async fn stored_size(
    stack: &Stack,
    http: &reqwest::Client,
    base: &str,
    body: &Value,
) -> anyhow::Result<usize> {
    let accepted: Value = http
        .post(format!("{base}/v1/tasks"))
        .json(body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let task_id: Uuid = accepted["task_id"].as_str().context("task_id")?.parse()?;
    let head = stack
        .s3
        .head_object()
        .bucket(stack.tasks_bucket())
        .key(inbox_key(task_id))
        .send()
        .await?;
    Ok(head.content_length().unwrap_or_default() as usize)
}

pub(crate) async fn raw_puts(
    stack: &Arc<Stack>,
    size: usize,
    concurrency: usize,
    limit: Duration,
) -> Run {
    let body = Arc::new(vec![b' '; size]);
    let stack = stack.clone();
    closed_loop(concurrency, usize::MAX, limit, move |_| {
        let (stack, body) = (stack.clone(), body.clone());
        async move { stack.put_task(&body, &inbox_key(Uuid::now_v7())).await }
    })
    .await
}

pub(crate) async fn ingest(
    stack: &Arc<Stack>,
    http: &reqwest::Client,
    base: &str,
    concurrency: usize,
    size: usize,
    limit: Duration,
) -> anyhow::Result<Ingest> {
    stack.purge().await?;
    let brown = post_tasks(
        http,
        base,
        noop_request(),
        concurrency,
        usize::MAX,
        limit,
        202,
    )
    .await;
    stack.purge().await?;
    let before = cpu_time(std::process::id())?;
    let raw_put = raw_puts(stack, size, concurrency, limit).await;
    let raw_put_cpu = (cpu_time(std::process::id())? - before) / raw_put.ok.max(1) as u32;
    Ok(Ingest {
        concurrency,
        brown,
        raw_put,
        raw_put_cpu,
    })
}

/// Invalid requests (answered 422 before any S3 call) beside the trivial `/healthz` route,
/// same process, same concurrency.
pub(crate) async fn rejected_vs_trivial(
    http: &reqwest::Client,
    base: &str,
    limit: Duration,
) -> (Run, Run) {
    let rejected = post_tasks(http, base, json!({"input": ""}), 16, usize::MAX, limit, 422).await;
    let url = Arc::new(format!("{base}/healthz"));
    let client = http.clone();
    let trivial = closed_loop(16, usize::MAX, limit, move |_| {
        let (http, url) = (client.clone(), url.clone());
        async move {
            http.get(url.as_str())
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
        }
    })
    .await;
    (rejected, trivial)
}

/// Brown's CPU time per accepted task over `tasks` submissions (they stay queued for Bayko).
pub(crate) async fn cpu_per_task(
    brown: &Process,
    http: &reqwest::Client,
    base: &str,
    tasks: usize,
) -> anyhow::Result<(Run, Duration)> {
    let before = brown.cpu()?;
    let run = post_tasks(
        http,
        base,
        noop_request(),
        16,
        tasks,
        Duration::from_secs(600),
        202,
    )
    .await;
    let spent = brown.cpu()? - before;
    let per_task = spent / run.ok.max(1) as u32;
    Ok((run, per_task))
}

pub(crate) fn ingest_json(ingest: &Ingest) -> Value {
    json!({
        "concurrency": ingest.concurrency,
        "brown": ingest.brown.to_json(),
        "raw_put": ingest.raw_put.to_json(),
        "ratio": round(ingest.ratio()),
        "raw_put_client_cpu_us": round(ingest.raw_put_cpu.as_secs_f64() * 1e6),
    })
}
