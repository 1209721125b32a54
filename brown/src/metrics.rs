//! Brown's Prometheus metrics, served on their own listener (`BROWN_METRICS_BIND`), never on
//! the public port.

use std::{future::Future, sync::Arc, time::Instant};

use anyhow::Context;
use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};
use shared::metrics::LATENCY_BUCKETS;
use tokio::net::TcpListener;

/// Why a request was refused, attached to the error response so the metrics layer can count it
/// without knowing the error type.
#[derive(Debug, Clone, Copy)]
pub struct Rejection(pub &'static str);

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    rejections: IntCounterVec,
    s3_write_duration: HistogramVec,
    rate_limited: IntCounter,
}

impl Metrics {
    pub fn new() -> Self {
        let requests = IntCounterVec::new(
            Opts::new("brown_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "brown_http_request_duration_seconds",
                "Time from request to response",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid metric");
        let rejections = IntCounterVec::new(
            Opts::new(
                "brown_rejections_total",
                "Requests refused with a 4xx problem, by problem type",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let s3_write_duration = HistogramVec::new(
            HistogramOpts::new(
                "brown_s3_write_duration_seconds",
                "Time S3 took to accept (or refuse) a write",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["prefix", "outcome"],
        )
        .expect("valid metric");
        let rate_limited = IntCounter::new(
            "brown_rate_limit_hits_total",
            "Requests answered 429 because a caller went over its rate limit",
        )
        .expect("valid metric");
        let registry = shared::metrics::registry(vec![
            Box::new(requests.clone()),
            Box::new(request_duration.clone()),
            Box::new(rejections.clone()),
            Box::new(s3_write_duration.clone()),
            Box::new(rate_limited.clone()),
        ]);
        Self {
            registry,
            requests,
            request_duration,
            rejections,
            s3_write_duration,
            rate_limited,
        }
    }

    /// Times one S3 write under `prefix` (`inbox`, `cancel`); `outcome` is `ok`, `exists` (a
    /// create-only write found the object) or `error`.
    pub fn observe_s3_write(&self, prefix: &str, outcome: &str, started: Instant) {
        self.s3_write_duration
            .with_label_values(&[prefix, outcome])
            .observe(started.elapsed().as_secs_f64());
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

/// Middleware: counts and times every request by its route template (not its path, which
/// would give every task id its own series).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Both are shared, not copied: a method is a small value and a matched path an `Arc<str>`.
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let status = response.status();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics
        .requests
        .with_label_values(&[method.as_str(), route, status.as_str()])
        .inc();
    metrics
        .request_duration
        .with_label_values(&[method.as_str(), route])
        .observe(started.elapsed().as_secs_f64());
    if let Some(Rejection(reason)) = response.extensions().get::<Rejection>() {
        metrics.rejections.with_label_values(&[reason]).inc();
    }
    if status.as_u16() == 429 {
        metrics.rate_limited.inc();
    }
    response
}

/// Serves `/metrics` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = Router::new()
        .route("/metrics", get(exposition))
        .with_state(metrics);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving metrics")
}

async fn exposition(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, shared::metrics::CONTENT_TYPE)],
        metrics.render(),
    )
}
