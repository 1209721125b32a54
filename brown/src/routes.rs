pub mod events;
pub mod health;
pub mod tasks;

use crate::error::ApiError;

/// Unknown paths get a problem document too.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}
