//! The router, its shared state and layers, and the server's lifecycle.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use aws_config::SdkConfig;
use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderValue, Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bb_aws::S3Store;
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceBuilder;
use tower_http::{
    cors::CorsLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

use crate::{
    auth::{self, RateLimits},
    config::Config,
    error::ApiError,
    links::LinkSigner,
    metrics::Metrics,
    openapi, routes,
    store::{Probe, TaskStore},
    uploads::UploadSigner,
    watchers::Watchers,
};

/// What every handler can reach: one pointer, so a clone is one reference count. axum clones
/// the state for every layer and extractor of every request (and the route's whole service
/// stack with it); a struct of clients and bucket names made each clone a dozen counts and three
/// string copies.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The state itself, behind [`AppState`].
pub struct Shared {
    pub config: Arc<Config>,
    pub store: TaskStore,
    pub links: LinkSigner,
    pub rate_limits: RateLimits,
    /// Requests being served; at the limit, more are shed at once.
    pub in_flight: Arc<Semaphore>,
    pub metrics: Arc<Metrics>,
    /// Event streams open per tenant.
    pub watchers: Watchers,
    /// Presigns upload PUTs.
    pub uploads: UploadSigner,
}

impl AppState {
    pub fn new(config: Config, store: TaskStore, links: LinkSigner, uploads: UploadSigner) -> Self {
        Self(Arc::new(Shared {
            rate_limits: RateLimits::new(config.rate_per_minute, config.rate_burst),
            in_flight: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            watchers: Watchers::new(config.events_max_watchers),
            metrics: store.metrics(),
            config: Arc::new(config),
            store,
            links,
            uploads,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let metrics = state.metrics.clone();
    // Each `layer` call boxes every route once more, and axum clones a route's whole boxed
    // stack for every request, so the layers of one level go on as one `ServiceBuilder`.
    let tasks = Router::new()
        .route("/v1/tasks", post(routes::tasks::submit))
        .route("/v1/tasks/{task_id}", get(routes::tasks::status))
        .route("/v1/tasks/{task_id}/cancel", post(routes::tasks::cancel))
        .route("/v1/tasks/{task_id}/events", get(routes::events::events))
        .route("/v1/uploads", post(routes::uploads::create))
        .route_layer(
            ServiceBuilder::new()
                // Task documents are per tenant and change: no cache may keep them.
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    auth::authenticate,
                )),
        );
    let open = Router::new()
        .route("/healthz", get(routes::health::alive))
        .route("/readyz", get(routes::health::ready))
        .route("/openapi.json", get(openapi::document));
    let cors = (!state.config.cors_origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(state.config.cors_origins.clone())
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                "idempotency-key".parse().expect("a header name"),
            ])
            .expose_headers([header::LOCATION, header::RETRY_AFTER])
    });
    let layers = ServiceBuilder::new()
        // Outermost, so timeouts and body-limit refusals are counted too.
        .layer(middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(
                    |response: &axum::response::Response, _, span: &tracing::Span| {
                        span.record("http.response.status_code", response.status().as_u16());
                    },
                ),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .option_layer(cors)
        .layer(middleware::from_fn_with_state(state.clone(), shed_load))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(DefaultBodyLimit::max(body_limit));
    tasks
        .merge(open)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(layers)
        .with_state(state)
}

/// The server span of a request: it continues the caller's W3C `traceparent` when there is
/// one, and starts a trace otherwise.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
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

/// The global concurrency limit: beyond it, 503 at once rather than a growing queue.
async fn shed_load(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => ApiError::Overloaded.into_response(),
    }
}

/// A request that takes longer than the configured timeout is answered with the timeout
/// problem; the work it was waiting for is dropped.
async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit: Duration = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// A bound, not yet running, Brown.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    metrics: Arc<Metrics>,
    router: Router,
    watchers: Watchers,
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
        let s3 = bb_aws::s3(aws);
        let objects = Arc::new(S3Store::new(s3.clone(), config.tasks_bucket.clone()));
        let probe = Probe::S3 {
            s3: s3.clone(),
            bucket: config.tasks_bucket.clone(),
        };
        let store = TaskStore::new(objects, probe, metrics.clone());
        let uploads = UploadSigner::new(s3.clone(), config.tasks_bucket.clone());
        let links = match &config.cloudfront {
            Some(cloudfront) => LinkSigner::CloudFront(cloudfront.clone()),
            None => LinkSigner::S3 {
                s3,
                bucket: config.artifacts_bucket.clone(),
            },
        };
        let state = AppState::new(config, store, links, uploads);
        Ok(Self {
            listener,
            metrics_listener,
            metrics,
            watchers: state.watchers.clone(),
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
        let watchers = self.watchers;
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Event streams would hold the drain open until they end on their own.
                watchers.close_all();
            })
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
