//! Bayko's Prometheus metrics and its private listener (`BAYKO_METRICS_BIND`): `/metrics`, and
//! `/healthz` and `/readyz` for ECS health checks. The listener is the only port Bayko opens;
//! bind it to the task's private address, never to anything public.

mod circuits;
mod health;
mod queue;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, core::Collector,
};
use shared::{metrics::LATENCY_BUCKETS, task::TaskState};

use crate::log::Event;
use tokio::net::TcpListener;

pub use circuits::Circuits;
pub use health::{Health, Readiness};
pub use queue::{QueueWatch, watch_queues};

/// Why a message was put back on the queue rather than deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseReason {
    /// The body is not an S3 event for our bucket: it goes on to the DLQ.
    Unprocessable,
    /// Another worker holds a live lease on the task.
    Held,
    /// A transient failure (S3 unreachable, the task object not there yet): retried later.
    Retry,
    /// Shutting down: the task is handed to another worker.
    Shutdown,
    /// Another worker moved the task on while this one tried to end it.
    Conflict,
}

impl ReleaseReason {
    const ALL: [Self; 5] = [
        Self::Unprocessable,
        Self::Held,
        Self::Retry,
        Self::Shutdown,
        Self::Conflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unprocessable => "unprocessable",
            Self::Held => "held_by_another_worker",
            Self::Retry => "retry",
            Self::Shutdown => "shutdown",
            Self::Conflict => "conflict",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    tasks: IntCounterVec,
    task_duration: HistogramVec,
    tasks_in_flight: IntGauge,
    tool_calls: IntCounterVec,
    tool_errors: IntCounterVec,
    tool_retries: IntCounterVec,
    tool_duration: HistogramVec,
    fallbacks: IntCounterVec,
    circuit_rejections: IntCounterVec,
    pool_wait: HistogramVec,
    queue_lag: Histogram,
    /// Messages per receive: its count is the receives SQS bills, its sum the messages, and
    /// its lowest bucket the empty long polls.
    receive_batch: Histogram,
    visibility_extensions: IntCounter,
    takeovers: IntCounter,
    released: IntCounterVec,
    pub(crate) queue_messages: IntGaugeVec,
    pub(crate) oldest_received_age: IntGauge,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn histogram(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .expect("valid metric")
}

impl Metrics {
    pub fn new() -> Self {
        let mut metrics = Self {
            registry: Registry::new(),
            tasks: counter("bayko_tasks_total", "Tasks ended, by outcome", &["outcome"]),
            task_duration: histogram(
                "bayko_task_duration_seconds",
                "Time from claim to final status, by outcome",
                &["outcome"],
            ),
            tasks_in_flight: IntGauge::new(
                "bayko_tasks_in_flight",
                "Messages this worker is handling now",
            )
            .expect("valid metric"),
            tool_calls: counter(
                "bayko_tool_calls_total",
                "Steps run by a tool (retries included in one call)",
                &["tool"],
            ),
            tool_errors: counter(
                "bayko_tool_errors_total",
                "Tool calls that failed after their retries",
                &["tool"],
            ),
            tool_retries: counter(
                "bayko_tool_retries_total",
                "Retried tool attempts",
                &["tool"],
            ),
            tool_duration: histogram(
                "bayko_tool_call_duration_seconds",
                "Time a tool took for a step, retries included",
                &["tool"],
            ),
            fallbacks: counter(
                "bayko_fallbacks_total",
                "Steps handed to a fallback tool, by the tool that took over",
                &["tool"],
            ),
            circuit_rejections: counter(
                "bayko_circuit_rejections_total",
                "Calls refused because the tool's circuit was open",
                &["tool"],
            ),
            pool_wait: histogram(
                "bayko_pool_wait_seconds",
                "Waits over 50 ms for a slot in a tool's pool",
                &["tool"],
            ),
            queue_lag: Histogram::with_opts(
                HistogramOpts::new(
                    "bayko_queue_lag_seconds",
                    "Time from the task object's creation event to its receipt by a worker",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            receive_batch: Histogram::with_opts(
                HistogramOpts::new(
                    "bayko_receive_messages",
                    "Messages per receive call (0 for an empty long poll)",
                )
                .buckets(vec![0.0, 1.0, 2.0, 4.0, 8.0]),
            )
            .expect("valid metric"),
            visibility_extensions: IntCounter::new(
                "bayko_visibility_extensions_total",
                "Heartbeats that extended a running task's message visibility",
            )
            .expect("valid metric"),
            takeovers: IntCounter::new(
                "bayko_takeovers_total",
                "Tasks claimed after their previous worker's lease ran out",
            )
            .expect("valid metric"),
            released: counter(
                "bayko_messages_released_total",
                "Messages made visible again instead of deleted, by reason",
                &["reason"],
            ),
            queue_messages: IntGaugeVec::new(
                Opts::new(
                    "bayko_queue_messages",
                    "Messages in the work queue and DLQ as SQS reports them",
                ),
                &["queue", "state"],
            )
            .expect("valid metric"),
            oldest_received_age: IntGauge::new(
                "bayko_queue_oldest_received_age_seconds",
                "Age of the oldest message in this worker's latest receive (0 when it was empty)",
            )
            .expect("valid metric"),
        };
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(metrics.tasks.clone()),
            Box::new(metrics.task_duration.clone()),
            Box::new(metrics.tasks_in_flight.clone()),
            Box::new(metrics.tool_calls.clone()),
            Box::new(metrics.tool_errors.clone()),
            Box::new(metrics.tool_retries.clone()),
            Box::new(metrics.tool_duration.clone()),
            Box::new(metrics.fallbacks.clone()),
            Box::new(metrics.circuit_rejections.clone()),
            Box::new(metrics.pool_wait.clone()),
            Box::new(metrics.queue_lag.clone()),
            Box::new(metrics.receive_batch.clone()),
            Box::new(metrics.visibility_extensions.clone()),
            Box::new(metrics.takeovers.clone()),
            Box::new(metrics.released.clone()),
            Box::new(metrics.queue_messages.clone()),
            Box::new(metrics.oldest_received_age.clone()),
        ];
        metrics.registry = shared::metrics::registry(collectors);
        // Every outcome exists from the start, so rates and ratios have a series to work on.
        for outcome in OUTCOMES {
            metrics.tasks.with_label_values(&[outcome]);
        }
        for reason in ReleaseReason::ALL {
            metrics.released.with_label_values(&[reason.as_str()]);
        }
        metrics
    }

    /// Adds the circuit states of `tools` to the exposition, and a zero series per tool for
    /// every per-tool metric, so dashboards and ratios have data before the first call.
    pub fn register_tools(&self, tools: Arc<crate::engine::Registry>) {
        for name in tools.names() {
            for counter in [
                &self.tool_calls,
                &self.tool_errors,
                &self.tool_retries,
                &self.fallbacks,
                &self.circuit_rejections,
            ] {
                counter.with_label_values(&[name]);
            }
            self.tool_duration.with_label_values(&[name]);
            self.pool_wait.with_label_values(&[name]);
        }
        if let Err(err) = self.registry.register(Box::new(Circuits::new(tools))) {
            tracing::warn!(error = %err, "circuit states are already registered");
        }
    }

    pub fn task_finished(&self, state: TaskState, elapsed: Duration) {
        let outcome = outcome(state);
        self.tasks.with_label_values(&[outcome]).inc();
        self.task_duration
            .with_label_values(&[outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// A task that ended without running (cancelled before it started, invalid, given up on).
    pub fn task_ended_unclaimed(&self, state: TaskState) {
        self.tasks.with_label_values(&[outcome(state)]).inc();
    }

    /// Counts a message for as long as the returned guard lives.
    pub fn in_flight(self: &Arc<Self>) -> InFlight {
        self.tasks_in_flight.inc();
        InFlight(self.clone())
    }

    /// A receive of `messages`, with their objects' creation times: the oldest one's age
    /// becomes `bayko_queue_oldest_received_age_seconds`, 0 for an empty receive.
    pub fn received_batch(
        &self,
        messages: usize,
        created: impl Iterator<Item = chrono::DateTime<chrono::Utc>>,
    ) {
        self.receive_batch.observe(messages as f64);
        let age = created.min().map_or(0, |oldest| {
            (chrono::Utc::now() - oldest).num_seconds().max(0)
        });
        self.oldest_received_age.set(age);
    }

    /// One task's wait in the queue: from its object's creation event to its receipt.
    pub fn received(&self, lag: Duration) {
        self.queue_lag.observe(lag.as_secs_f64());
    }

    pub fn visibility_extended(&self) {
        self.visibility_extensions.inc();
    }

    pub fn taken_over(&self) {
        self.takeovers.inc();
    }

    pub fn released(&self, reason: ReleaseReason) {
        self.released.with_label_values(&[reason.as_str()]).inc();
    }

    /// Feeds one `processing.log` event: the engine reports each step there, so the log and
    /// the metrics cannot disagree.
    pub fn observe_event(&self, event: Event, tool: &str, duration_ms: Option<u64>) {
        let seconds = duration_ms.map(|ms| ms as f64 / 1000.0);
        match event {
            Event::StepFinished | Event::StepFailed => {
                self.tool_calls.with_label_values(&[tool]).inc();
                if let Some(seconds) = seconds {
                    self.tool_duration
                        .with_label_values(&[tool])
                        .observe(seconds);
                }
                if event == Event::StepFailed {
                    self.tool_errors.with_label_values(&[tool]).inc();
                }
            }
            Event::Retry => self.tool_retries.with_label_values(&[tool]).inc(),
            Event::Fallback => self.fallbacks.with_label_values(&[tool]).inc(),
            Event::CircuitOpen => self.circuit_rejections.with_label_values(&[tool]).inc(),
            Event::PoolWait => {
                if let Some(seconds) = seconds {
                    self.pool_wait.with_label_values(&[tool]).observe(seconds);
                }
            }
            _ => {}
        }
    }

    pub fn render(&self) -> String {
        shared::metrics::render(&self.registry)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

const OUTCOMES: [&str; 4] = ["succeeded", "degraded", "failed", "cancelled"];

fn outcome(state: TaskState) -> &'static str {
    match state {
        TaskState::Succeeded => "succeeded",
        TaskState::Degraded => "degraded",
        TaskState::Failed => "failed",
        TaskState::Cancelled => "cancelled",
        // Not final: never counted as an outcome, but named rather than hidden.
        TaskState::Queued => "queued",
        TaskState::Running => "running",
    }
}

/// Keeps a message counted in `bayko_tasks_in_flight`.
pub struct InFlight(Arc<Metrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.tasks_in_flight.dec();
    }
}

/// Starts the private listener and the queue-depth watcher when `config.metrics_bind` is set;
/// both stop when `stop` is cancelled. Returns the listener's address.
pub async fn start(
    config: &crate::Config,
    worker: &crate::Worker,
    sqs: aws_sdk_sqs::Client,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<Option<std::net::SocketAddr>> {
    let Some(bind) = config.metrics_bind else {
        return Ok(None);
    };
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind} (BAYKO_METRICS_BIND)"))?;
    let address = listener
        .local_addr()
        .context("the metrics listener's address")?;
    let (metrics, health) = (worker.metrics(), worker.health());
    tokio::spawn(watch_queues(
        sqs,
        QueueWatch {
            queue_url: config.queue_url.clone(),
            dlq_url: config.dlq_url.clone(),
            every: config.queue_watch_interval,
        },
        metrics.clone(),
        stop.clone(),
    ));
    tokio::spawn(async move {
        if let Err(err) = serve(listener, metrics, health, stop.cancelled_owned()).await {
            tracing::error!(error = ?err, "the metrics listener stopped");
        }
    });
    Ok(Some(address))
}

/// What the private listener serves from.
#[derive(Clone)]
struct Listener {
    metrics: Arc<Metrics>,
    health: Health,
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = Router::new()
        .route("/metrics", get(exposition))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(Listener { metrics, health });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving metrics")
}

async fn exposition(State(listener): State<Listener>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, shared::metrics::CONTENT_TYPE)],
        listener.metrics.render(),
    )
}

/// Ready while the worker receives from its queue; not while it starts, cannot reach the
/// queue, or stops.
async fn ready(State(listener): State<Listener>) -> impl IntoResponse {
    let readiness = listener.health.readiness();
    let status = match readiness {
        Readiness::Receiving => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, readiness.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_events_become_tool_metrics() {
        let metrics = Metrics::new();
        metrics.observe_event(Event::StepFinished, "data-processor", Some(1500));
        metrics.observe_event(Event::Retry, "claude", None);
        metrics.observe_event(Event::StepFailed, "claude", Some(200));
        metrics.observe_event(Event::Fallback, "extractive", None);
        metrics.observe_event(Event::Planned, "", None);
        metrics.task_finished(TaskState::Degraded, Duration::from_secs(2));
        let text = metrics.render();
        for line in [
            "bayko_tool_calls_total{tool=\"data-processor\"} 1",
            "bayko_tool_calls_total{tool=\"claude\"} 1",
            "bayko_tool_errors_total{tool=\"claude\"} 1",
            "bayko_tool_retries_total{tool=\"claude\"} 1",
            "bayko_fallbacks_total{tool=\"extractive\"} 1",
            "bayko_tasks_total{outcome=\"degraded\"} 1",
            "bayko_tasks_total{outcome=\"succeeded\"} 0",
            "bayko_tool_call_duration_seconds_sum{tool=\"data-processor\"} 1.5",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn in_flight_follows_the_guard() {
        let metrics = Arc::new(Metrics::new());
        let first = metrics.in_flight();
        let second = metrics.in_flight();
        assert_eq!(metrics.tasks_in_flight.get(), 2);
        drop(first);
        drop(second);
        assert_eq!(metrics.tasks_in_flight.get(), 0);
    }
}
