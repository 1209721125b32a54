//! Who is calling, and whether they may call now: the bearer key names the tenant, and each
//! tenant has its own rate limit. Runs before every `/v1` handler; `/healthz`, `/readyz` and
//! `/openapi.json` stay open.

use std::{num::NonZeroU32, sync::Arc};

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use shared::keys::Tenant;

use crate::{app::AppState, error::ApiError, keys::Caller};

/// The tenant a request acts for, as the key proved it.
pub struct CallerTenant(pub Tenant);

impl FromRequestParts<AppState> for CallerTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .map(|caller| Self(caller.tenant.clone()))
            // Only reachable if a route were added outside the authenticating layer.
            .ok_or(ApiError::Unauthorized)
    }
}

type TenantLimiter =
    RateLimiter<Tenant, DefaultKeyedStateStore<Tenant>, DefaultClock, StateInformationMiddleware>;

/// Each tenant's token bucket: `per_minute` sustained, `burst` at once.
#[derive(Clone)]
pub struct RateLimits {
    limiter: Arc<TenantLimiter>,
    /// `RateLimit-Policy`, the same for every tenant.
    policy: HeaderValue,
    burst: u32,
    /// Seconds until one more request is allowed, rounded up.
    refill_seconds: u64,
}

impl RateLimits {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        let limiter = RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>();
        let policy = HeaderValue::from_str(&format!("\"tenant\";q={per_minute};w=60"))
            .expect("a valid header value");
        Self {
            limiter: Arc::new(limiter),
            policy,
            burst: burst.get(),
            refill_seconds: 60_u64.div_ceil(u64::from(per_minute.get())),
        }
    }

    /// Takes one request from the tenant's bucket, or says how long to wait.
    fn check(&self, tenant: &Tenant) -> Result<u32, u64> {
        match self.limiter.check_key(tenant) {
            Ok(state) => Ok(state.remaining_burst_capacity()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
        }
    }

    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
    fn annotate(&self, headers: &mut HeaderMap, remaining: u32, reset_seconds: u64) {
        headers.insert("ratelimit-policy", self.policy.clone());
        let value = format!("\"tenant\";r={remaining};t={reset_seconds}");
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert("ratelimit", value);
        }
    }
}

/// Authenticates the bearer key, applies the tenant's rate limit and runs the handler with the
/// caller in the request's extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(caller) = bearer(request.headers()).and_then(|key| state.config.api_keys.verify(key))
    else {
        return ApiError::Unauthorized.into_response();
    };
    let limits = &state.rate_limits;
    match limits.check(&caller.tenant) {
        Ok(remaining) => {
            tracing::debug!(tenant = %caller.tenant, key_id = %caller.key_id, "authenticated");
            request.extensions_mut().insert(caller);
            let mut response = next.run(request).await;
            let reset = if remaining >= limits.burst {
                0
            } else {
                limits.refill_seconds
            };
            limits.annotate(response.headers_mut(), remaining, reset);
            response
        }
        Err(retry_after) => {
            tracing::info!(tenant = %caller.tenant, retry_after, "rate limited");
            let mut response = ApiError::RateLimited { retry_after }.into_response();
            limits.annotate(response.headers_mut(), 0, retry_after);
            response
        }
    }
}

/// The key from `Authorization: Bearer <key>` (the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|key| !key.is_empty())
}
