//! The router, its shared state and layers, and the server's lifecycle.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use aws_config::SdkConfig;
use axum::{Router, extract::DefaultBodyLimit, http::StatusCode, routing::get, routing::post};
use tokio::net::TcpListener;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{config::Config, routes, store::TaskStore, watchers::Watchers};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: TaskStore,
    /// Event streams open per tenant.
    pub watchers: Watchers,
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/v1/tasks", post(routes::tasks::submit))
        .route(
            "/v1/tasks/{task_id}",
            get(routes::tasks::status).delete(routes::tasks::cancel),
        )
        .route("/v1/tasks/{task_id}/events", get(routes::events::events))
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
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// A bound, not yet running, Brown.
pub struct Application {
    listener: TcpListener,
    router: Router,
    watchers: Watchers,
}

impl Application {
    /// Binds the listener (port 0 picks a free port) and builds the router.
    pub async fn build(config: Config, aws: &SdkConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {} (BROWN_BIND)", config.bind))?;
        let store = TaskStore::new(
            bb_aws::s3(aws),
            config.tasks_bucket.clone(),
            config.artifacts_bucket.clone(),
        );
        let state = AppState {
            watchers: Watchers::new(config.events_max_watchers),
            config: Arc::new(config),
            store,
        };
        Ok(Self {
            listener,
            watchers: state.watchers.clone(),
            router: router(state),
        })
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
        let watchers = self.watchers;
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Event streams would hold the drain open until they end on their own.
                watchers.close_all();
            })
            .await
            .context("serving HTTP")
    }
}
