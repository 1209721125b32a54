//! Liveness and readiness, for the load balancer and ECS.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::{app::AppState, error::ApiError};

/// The process is up and serving.
pub async fn alive() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Brown can do its job: the tasks bucket answers.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await.map_err(|err| match err {
        ApiError::Unavailable(reason) => ApiError::Unavailable(reason),
        other => ApiError::Unavailable(other.to_string()),
    })?;
    Ok(Json(json!({"status": "ready"})))
}
