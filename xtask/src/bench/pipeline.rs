//! The whole pipe: POST → final status latency at a steady rate, and the AWS calls one task
//! costs, counted by a proxy in front of the emulator.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    brown::post_tasks,
    load::open_loop,
    stack::{Stack, TENANT},
};

/// The README's sample: a quarterly CSV through the scan, the data-processor and a summary.
pub(crate) fn sample_request(csv: &str) -> Value {
    json!({
        "input": "Process quarterly data analysis request",
        "data": {"format": "csv", "content": csv},
        "tools": ["data-processor"],
    })
}

/// One task's life as the bench saw it.
pub(crate) struct Finished {
    /// POST sent → final status written.
    pub latency: Duration,
    /// Claimed → final: how long Bayko worked on it.
    pub duration: Duration,
    pub state: String,
}

/// Submits `total` tasks at `rate` per second and waits for each one's final status.
pub(crate) async fn end_to_end(
    stack: &Arc<Stack>,
    http: &reqwest::Client,
    base: &str,
    body: Value,
    rate: f64,
    total: usize,
) -> anyhow::Result<Vec<Finished>> {
    let body = Arc::new(body);
    let url = Arc::new(format!("{base}/v1/tasks"));
    let submitted = open_loop(rate, total, |_| {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        async move {
            let sent = SystemTime::now();
            let answer: Value = http
                .post(url.as_str())
                .json(body.as_ref())
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let task_id: Uuid = answer["task_id"].as_str()?.parse().ok()?;
            Some((task_id, sent))
        }
    })
    .await;
    let submitted: Vec<(Uuid, SystemTime)> = submitted.into_iter().flatten().collect();
    if submitted.len() < total {
        bail!("{} of {total} submissions failed", total - submitted.len());
    }
    // Every task is final once the queue is empty (Bayko deletes a message after the final
    // status): wait for that, which costs the emulator one cheap call a quarter second, then
    // read each status. Sweeping every pending status instead kept the emulator busy answering
    // the bench rather than the workers. The latency is the status' own `finished_at`, so the
    // waiting adds nothing to it.
    stack
        .wait_for_depth(None, Duration::from_secs(600))
        .await
        .context("waiting for the end-to-end tasks")?;
    let mut pending: BTreeMap<Uuid, SystemTime> = submitted.into_iter().collect();
    let mut finished = Vec::with_capacity(total);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pending.is_empty() {
        if Instant::now() > deadline {
            bail!(
                "{} tasks were not final a minute after the queue emptied",
                pending.len()
            );
        }
        for (task_id, sent) in pending.clone() {
            if let Some(done) = final_status(stack, task_id, sent).await? {
                finished.push(done);
                pending.remove(&task_id);
            }
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(finished)
}

async fn final_status(
    stack: &Stack,
    task_id: Uuid,
    sent: SystemTime,
) -> anyhow::Result<Option<Finished>> {
    let Ok(object) = stack
        .s3
        .get_object()
        .bucket(stack.tasks_bucket())
        .key(format!("status/{TENANT}/{task_id}.json"))
        .send()
        .await
    else {
        return Ok(None);
    };
    let status: Value = serde_json::from_slice(&object.body.collect().await?.into_bytes())?;
    let state = status["status"].as_str().unwrap_or_default().to_owned();
    let (Some(started), Some(ended)) = (time(&status["started_at"]), time(&status["finished_at"]))
    else {
        return Ok(None);
    };
    let sent: DateTime<Utc> = sent.into();
    Ok(Some(Finished {
        latency: (ended - sent).to_std().unwrap_or_default(),
        duration: (ended - started).to_std().unwrap_or_default(),
        state,
    }))
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    serde_json::from_value(value.clone()).ok()
}

/// Submits `tasks` through a Brown whose AWS calls pass the proxy, lets a Bayko behind the
/// same proxy finish them, and answers the calls counted per task, by kind.
pub(crate) async fn calls_per_task(
    stack: &Stack,
    http: &reqwest::Client,
    base: &str,
    body: Value,
    tasks: usize,
    counted: impl FnOnce() -> BTreeMap<String, u64>,
) -> anyhow::Result<BTreeMap<String, f64>> {
    let run = post_tasks(http, base, body, 4, tasks, Duration::from_secs(300), 202).await;
    if run.ok != tasks {
        bail!("{} of {tasks} counted submissions failed", run.failed);
    }
    stack
        .wait_for_depth(None, Duration::from_secs(300))
        .await
        .context("waiting for the counted tasks")?;
    Ok(counted()
        .into_iter()
        .map(|(kind, count)| (kind, count as f64 / tasks as f64))
        .collect())
}
