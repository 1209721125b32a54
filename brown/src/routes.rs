pub mod events;
pub mod health;
pub mod tasks;
pub mod uploads;

use axum::http::{Method, Uri};

use crate::error::ApiError;

/// Unknown paths get a problem document too.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}

/// A known path with a method it does not serve (axum adds the `Allow` header).
pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

#[cfg(test)]
mod tests;
