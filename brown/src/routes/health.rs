//! Liveness and readiness, for the load balancer and ECS. Open: no key needed.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::{
    app::AppState,
    error::{ApiError, Problem},
};

/// The process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Serving", body = Object)))]
pub async fn alive() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Brown can do its job: the tasks bucket answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "Storage unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    // Not ready, whatever the cause: the balancer only needs to know to wait.
    state.store.ping().await.map_err(|err| match err {
        ApiError::Unavailable(reason) => ApiError::Unavailable(reason),
        ApiError::Internal(err) => ApiError::Unavailable(format!("{err:#}")),
        other => ApiError::Unavailable(other.to_string()),
    })?;
    Ok(Json(json!({"status": "ready"})))
}
