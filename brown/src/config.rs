//! Brown's configuration, from the environment (see the README's table).

use std::{net::SocketAddr, time::Duration};

use shared::{
    config::{self, ConfigError},
    keys::Tenant,
};

#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen. Port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Where `/metrics` is served (`BROWN_METRICS_BIND`): a private address, never the public
    /// port. Unset: no metrics listener.
    pub metrics_bind: Option<SocketAddr>,
    /// The bucket tasks are written to (under `inbox/`) and statuses read from (`status/`).
    pub tasks_bucket: String,
    /// The bucket Bayko writes artifacts to; Brown only signs links to them.
    pub artifacts_bucket: String,
    /// The tenant every request belongs to until API keys map callers to tenants.
    pub default_tenant: Tenant,
    /// Largest request body accepted; larger ones get 413 before they are read.
    pub max_body_bytes: usize,
    /// How long a signed artifact link stays valid.
    pub link_ttl: Duration,
    /// A request that takes longer is answered 503, so a stuck dependency never hangs a client.
    pub request_timeout: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let tenant_var = "BROWN_DEFAULT_TENANT";
        let default_tenant = config::optional(tenant_var).unwrap_or_else(|| "default".into());
        let default_tenant =
            Tenant::parse(&default_tenant).map_err(|err| ConfigError::Invalid {
                name: tenant_var.into(),
                value: default_tenant.clone(),
                reason: err.to_string(),
            })?;
        let link_ttl = config::seconds_or("BROWN_LINK_TTL_SECONDS", Duration::from_secs(900))?;
        Ok(Self {
            bind: config::parse_or("BROWN_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            metrics_bind: config::parse_optional("BROWN_METRICS_BIND")?,
            tasks_bucket: config::required("BB_TASKS_BUCKET")?,
            artifacts_bucket: config::required("BB_ARTIFACTS_BUCKET")?,
            default_tenant,
            max_body_bytes: config::check(
                "BROWN_MAX_BODY_BYTES",
                config::parse_or("BROWN_MAX_BODY_BYTES", 1024 * 1024)?,
                |n| *n >= 1024,
                "must be at least 1024",
            )?,
            // SigV4 presigned URLs are valid for at most 7 days.
            link_ttl: config::check(
                "BROWN_LINK_TTL_SECONDS",
                link_ttl.as_secs(),
                |s| (1..=604_800).contains(s),
                "must be between 1 and 604800 seconds",
            )
            .map(Duration::from_secs)?,
            request_timeout: config::seconds_or(
                "BROWN_REQUEST_TIMEOUT_SECONDS",
                Duration::from_secs(15),
            )?,
        })
    }

    /// A configuration for tests and local runs: port 0 and the given buckets.
    pub fn local(tasks_bucket: &str, artifacts_bucket: &str) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            tasks_bucket: tasks_bucket.into(),
            artifacts_bucket: artifacts_bucket.into(),
            default_tenant: Tenant::parse("default").expect("valid tenant"),
            max_body_bytes: 1024 * 1024,
            link_ttl: Duration::from_secs(900),
            request_timeout: Duration::from_secs(15),
        }
    }
}
