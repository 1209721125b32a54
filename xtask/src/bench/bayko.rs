//! Bayko's side: draining a full queue of no-op tasks beside a bare receive → get → put →
//! delete loop on the same emulator, and a 100 ms tool beside the ideal.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use aws_sdk_s3::primitives::ByteStream;
use shared::event::ObjectCreated;
use tokio::{sync::Semaphore, task::JoinSet};
use uuid::Uuid;

use super::{
    load::closed_loop,
    process::cpu_time,
    stack::{Stack, inbox_key, task_document},
};

/// Bayko's engine configuration for the no-op plan: no PII scan, no data, so the plan is one
/// extractive summary of a one-line instruction. Redaction off too: required redaction without
/// a scan fails the task.
pub(crate) const NOOP_CONFIG: &str = "[compliance]\nscan = false\nredact_artifacts = false\n";

/// Messages one worker (and the bare loop) works on at once: Bayko's default.
pub(crate) const IN_FLIGHT: usize = 8;

/// A drain: how long a consumer took to empty a queue of `tasks`.
pub(crate) struct Drain {
    pub tasks: usize,
    pub elapsed: Duration,
}

/// The bare loop's drain and its own CPU per task (the floor under Bayko's).
pub(crate) struct BareLoop {
    pub drain: Drain,
    pub cpu_per_task: Duration,
    pub receives: Receives,
}

/// How a consumer received: on SQS every receive is billed, and on the emulator each one
/// scans the queue for every message it returns.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Receives {
    pub calls: u64,
    pub messages: u64,
}

impl Receives {
    /// Bayko's own count, from its `bayko_receive_messages` histogram.
    pub(crate) async fn scrape(http: &reqwest::Client, bind: &str) -> anyhow::Result<Self> {
        let text = http
            .get(format!("http://{bind}/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let value = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|value| value.trim().parse::<f64>().ok())
                .with_context(|| format!("no {name} in Bayko's metrics"))
        };
        Ok(Self {
            calls: value("bayko_receive_messages_count")? as u64,
            messages: value("bayko_receive_messages_sum")? as u64,
        })
    }

    pub(crate) fn per_task(&self, tasks: usize) -> f64 {
        self.calls as f64 / tasks.max(1) as f64
    }

    pub(crate) fn messages_per_call(&self) -> f64 {
        self.messages as f64 / self.calls.max(1) as f64
    }
}

impl Drain {
    pub(crate) fn per_second(&self) -> f64 {
        self.tasks as f64 / self.elapsed.as_secs_f64()
    }
}

/// Writes `tasks` no-op task documents straight into `inbox/` and waits until their events
/// are all queued.
pub(crate) async fn prefill(stack: &Arc<Stack>, tasks: usize) -> anyhow::Result<()> {
    stack.purge().await?;
    let writer = stack.clone();
    let run = closed_loop(16, tasks, Duration::from_secs(600), move |_| {
        let stack = writer.clone();
        async move {
            let task_id = Uuid::now_v7();
            let body = task_document(task_id, "noop: a benchmark task");
            stack.put_task(&body, &inbox_key(task_id)).await
        }
    })
    .await;
    if run.failed > 0 {
        bail!("{} of {tasks} prefill writes failed", run.failed);
    }
    stack
        .wait_for_depth(Some(tasks as u64), Duration::from_secs(120))
        .await?;
    Ok(())
}

/// Waits until the queue is empty: every message was deleted, so every task is final.
pub(crate) async fn drain(stack: &Stack, tasks: usize, started: Instant) -> anyhow::Result<Drain> {
    stack.wait_for_depth(None, Duration::from_secs(900)).await?;
    Ok(Drain {
        tasks,
        elapsed: started.elapsed(),
    })
}

/// The least any worker must do per task, with Bayko's bound on messages in flight: receive,
/// read the task, write one status, delete the message.
pub(crate) async fn bare_loop(stack: &Arc<Stack>, tasks: usize) -> anyhow::Result<BareLoop> {
    let started = Instant::now();
    let cpu_before = cpu_time(std::process::id())?;
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut handled = 0;
    let mut receives = Receives::default();
    let mut work = JoinSet::new();
    while handled < tasks {
        if started.elapsed() > Duration::from_secs(900) {
            bail!("the bare loop handled {handled} of {tasks} tasks in 900 s");
        }
        // As Bayko does: with every slot busy, wait for one to free before receiving again.
        if slots.available_permits() == 0 {
            if let Some(done) = work.join_next().await {
                done??;
            }
            continue;
        }
        let free = slots.available_permits().min(10);
        let received = stack
            .sqs
            .receive_message()
            .queue_url(stack.queue_url())
            .max_number_of_messages(free as i32)
            .wait_time_seconds(1)
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        receives.calls += 1;
        receives.messages += messages.len() as u64;
        // The queue may hold a message or two fewer than were written (a write the emulator
        // answered late): an empty queue with nothing in hand also ends the run.
        if messages.is_empty() && work.is_empty() && stack.queue_depth().await? == 0 {
            break;
        }
        for message in messages {
            let permit = slots.clone().acquire_owned().await?;
            let stack = stack.clone();
            handled += 1;
            work.spawn(async move {
                let _permit = permit;
                handle_bare(&stack, message).await
            });
        }
        while let Some(done) = work.try_join_next() {
            done??;
        }
    }
    while let Some(done) = work.join_next().await {
        done??;
    }
    let cpu = cpu_time(std::process::id())? - cpu_before;
    Ok(BareLoop {
        drain: Drain {
            tasks: handled,
            elapsed: started.elapsed(),
        },
        cpu_per_task: cpu / handled.max(1) as u32,
        receives,
    })
}

async fn handle_bare(stack: &Stack, message: aws_sdk_sqs::types::Message) -> anyhow::Result<()> {
    let event = ObjectCreated::from_sqs_body(message.body().unwrap_or_default())
        .context("a bench message that is not an S3 event")?;
    let task = stack
        .s3
        .get_object()
        .bucket(stack.tasks_bucket())
        .key(&event.key)
        .send()
        .await?
        .body
        .collect()
        .await?
        .into_bytes();
    stack
        .s3
        .put_object()
        .bucket(stack.tasks_bucket())
        .key(event.task.status())
        .body(ByteStream::from(
            format!("{{\"status\":\"succeeded\",\"bytes\":{}}}", task.len()).into_bytes(),
        ))
        .send()
        .await?;
    stack
        .sqs
        .delete_message()
        .queue_url(stack.queue_url())
        .receipt_handle(message.receipt_handle().unwrap_or_default())
        .send()
        .await?;
    Ok(())
}
