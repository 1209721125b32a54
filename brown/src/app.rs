//! The router, its shared state and layers, and the server's lifecycle.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use aws_config::SdkConfig;
use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath},
    http::{Request, StatusCode},
    middleware,
    routing::get,
    routing::post,
};
use tokio::net::TcpListener;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{config::Config, metrics::Metrics, routes, store::TaskStore};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: TaskStore,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let timeout = state.config.request_timeout;
    let metrics = state.metrics.clone();
    Router::new()
        .route("/v1/tasks", post(routes::tasks::submit))
        .route(
            "/v1/tasks/{task_id}",
            get(routes::tasks::status).delete(routes::tasks::cancel),
        )
        .route("/healthz", get(routes::health::alive))
        .route("/readyz", get(routes::health::ready))
        .fallback(routes::not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(
                    |response: &axum::response::Response, _, span: &tracing::Span| {
                        span.record("http.response.status_code", response.status().as_u16());
                    },
                ),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Outermost, so timeouts and body-limit refusals are counted too.
        .layer(middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
}

/// The server span of a request: it continues the caller's W3C `traceparent` when there is
/// one, and starts a trace otherwise.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let method = request.method();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let carrier = [
        shared::telemetry::TRACEPARENT,
        shared::telemetry::TRACESTATE,
    ]
    .into_iter()
    .filter_map(|name| {
        let value = request.headers().get(name)?.to_str().ok()?;
        Some((name.to_owned(), value.to_owned()))
    })
    .collect();
    shared::telemetry::continue_trace(&span, &carrier);
    span
}

/// A bound, not yet running, Brown.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    metrics: Arc<Metrics>,
    router: Router,
}

impl Application {
    /// Binds the listener (port 0 picks a free port) and builds the router.
    pub async fn build(config: Config, aws: &SdkConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {} (BROWN_BIND)", config.bind))?;
        let metrics_listener = match config.metrics_bind {
            Some(bind) => Some(
                TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("binding {bind} (BROWN_METRICS_BIND)"))?,
            ),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let store = TaskStore::new(
            bb_aws::s3(aws),
            config.tasks_bucket.clone(),
            config.artifacts_bucket.clone(),
            metrics.clone(),
        );
        let state = AppState {
            config: Arc::new(config),
            store,
            metrics: metrics.clone(),
        };
        Ok(Self {
            listener,
            metrics_listener,
            metrics,
            router: router(state),
        })
    }

    /// Where `/metrics` is served, when `BROWN_METRICS_BIND` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stopping = tokio_util::sync::CancellationToken::new();
        let metrics = self.metrics_listener.map(|listener| {
            tokio::spawn(crate::metrics::serve(
                listener,
                self.metrics,
                stopping.clone().cancelled_owned(),
            ))
        });
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP");
        // The last scrape may come after the public port closed; stop the metrics with it.
        stopping.cancel();
        if let Some(metrics) = metrics {
            metrics.await.context("metrics listener")??;
        }
        served
    }
}
