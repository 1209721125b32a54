//! Load generators: a closed loop (N callers, each sending its next request when the last one
//! answered) and an open loop (a steady rate, whatever the answers).

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::task::JoinSet;

/// What one closed-loop run measured.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub ok: usize,
    pub failed: usize,
    pub elapsed: Duration,
    /// Of the successful calls, sorted.
    pub latencies: Vec<Duration>,
}

impl Run {
    pub(crate) fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn percentile_ms(&self, quantile: f64) -> f64 {
        percentile_ms(&self.latencies, quantile)
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "ok": self.ok,
            "failed": self.failed,
            "seconds": round(self.elapsed.as_secs_f64()),
            "per_second": round(self.per_second()),
            "p50_ms": round(self.percentile_ms(0.50)),
            "p99_ms": round(self.percentile_ms(0.99)),
        })
    }
}

/// Nearest-rank percentile of sorted durations, in milliseconds.
pub(crate) fn percentile_ms(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// Three significant decimals are plenty for a noisy machine.
pub(crate) fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// `concurrency` callers run `call(i)` for i = 0, 1, … until `total` calls were made or
/// `limit` passed. A call answers whether it succeeded.
pub(crate) async fn closed_loop<F, Fut>(
    concurrency: usize,
    total: usize,
    limit: Duration,
    call: F,
) -> Run
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut callers = JoinSet::new();
    for _ in 0..concurrency {
        let next = next.clone();
        let call = call.clone();
        callers.spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total || started.elapsed() >= limit {
                    return (latencies, failed);
                }
                let sent = Instant::now();
                if call(index).await {
                    latencies.push(sent.elapsed());
                } else {
                    failed += 1;
                }
            }
        });
    }
    let mut run = Run {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    while let Some(joined) = callers.join_next().await {
        let (latencies, failed) = joined.expect("a load caller panicked");
        run.ok += latencies.len();
        run.failed += failed;
        run.latencies.extend(latencies);
    }
    run.elapsed = started.elapsed();
    run.latencies.sort();
    run
}

/// Starts `call(i)` every `1 / rate` seconds, `total` times, and collects the answers.
pub(crate) async fn open_loop<F, Fut, T>(rate: f64, total: usize, call: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut calls = JoinSet::new();
    for index in 0..total {
        ticks.tick().await;
        calls.spawn(call(index));
    }
    let mut answers = Vec::with_capacity(total);
    while let Some(answer) = calls.join_next().await {
        answers.push(answer.expect("a load call panicked"));
    }
    answers
}
