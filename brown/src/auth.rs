//! Who is calling. Until API keys arrive every caller is the configured default tenant; the
//! handlers already take the tenant from this extractor, so keys change this file only.

use axum::{extract::FromRequestParts, http::request::Parts};
use shared::keys::Tenant;

use crate::{app::AppState, error::ApiError};

/// The tenant a request acts for.
pub struct CallerTenant(pub Tenant);

impl FromRequestParts<AppState> for CallerTenant {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(state.config.default_tenant.clone()))
    }
}
