//! Brown's configuration, from the environment (see the README's table).

use std::{net::SocketAddr, time::Duration};

use axum::http::HeaderValue;
use shared::{
    config::{self, ConfigError},
    limits::MAX_UPLOAD_BYTES,
};

use crate::{keys::ApiKeys, links::CloudFront, policy::Policies};

/// Artifact links live minutes by default and hours at most: a leaked link soon stops working.
const DEFAULT_LINK_TTL: Duration = Duration::from_secs(300);
const MAX_LINK_TTL_SECONDS: u64 = 12 * 3600;
/// An upload URL is for the PUT that follows at once: minutes, an hour at most.
const DEFAULT_UPLOAD_TTL_MINUTES: u64 = 15;
const MAX_UPLOAD_TTL_MINUTES: u64 = 60;

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
    /// Who may call, as which tenant.
    pub api_keys: ApiKeys,
    /// What each tenant's content may contain.
    pub policies: Policies,
    /// Largest request body accepted; larger ones get 413 before they are read.
    pub max_body_bytes: usize,
    /// How long a signed artifact link stays valid.
    pub link_ttl: Duration,
    /// Largest upload Brown signs a URL for and accepts a task on (at most the shared
    /// [`MAX_UPLOAD_BYTES`], which Bayko enforces too).
    pub upload_max_bytes: u64,
    /// How long an upload URL stays valid.
    pub upload_ttl: Duration,
    /// Sign links for this CloudFront distribution instead of presigning S3 GETs.
    pub cloudfront: Option<CloudFront>,
    /// A request that takes longer is answered 503 `/problems/timeout`, so a stuck dependency
    /// never hangs a client.
    pub request_timeout: Duration,
    /// How often an idle event stream gets a keep-alive comment.
    pub events_keep_alive: Duration,
    /// Longest life of one event stream; the client resumes with `Last-Event-ID`.
    pub events_max_duration: Duration,
    /// Event streams one tenant may hold open at once.
    pub events_max_watchers: usize,
    /// Requests per minute each tenant may make, and how many it may make at once.
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    /// Requests served at once; more are answered 503 `/problems/overloaded` at once.
    pub max_concurrent_requests: usize,
    /// Origins browsers may call from; none means no CORS headers at all.
    pub cors_origins: Vec<HeaderValue>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let link_ttl = config::seconds_or("BROWN_LINK_TTL_SECONDS", DEFAULT_LINK_TTL)?;
        Ok(Self {
            bind: config::parse_or("BROWN_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            metrics_bind: config::parse_optional("BROWN_METRICS_BIND")?,
            tasks_bucket: config::required("BB_TASKS_BUCKET")?,
            artifacts_bucket: config::required("BB_ARTIFACTS_BUCKET")?,
            api_keys: api_keys()?,
            policies: policies()?,
            max_body_bytes: config::check(
                "BROWN_MAX_BODY_BYTES",
                config::parse_or("BROWN_MAX_BODY_BYTES", 1024 * 1024)?,
                |n| *n >= 1024,
                "must be at least 1024",
            )?,
            link_ttl: config::check(
                "BROWN_LINK_TTL_SECONDS",
                link_ttl.as_secs(),
                |s| (1..=MAX_LINK_TTL_SECONDS).contains(s),
                "must be between 1 and 43200 seconds (12 hours)",
            )
            .map(Duration::from_secs)?,
            upload_max_bytes: config::check(
                "BROWN_UPLOAD_MAX_BYTES",
                config::parse_or("BROWN_UPLOAD_MAX_BYTES", MAX_UPLOAD_BYTES)?,
                |n| (1..=MAX_UPLOAD_BYTES).contains(n),
                &format!("must be between 1 and {MAX_UPLOAD_BYTES}"),
            )?,
            upload_ttl: config::check(
                "BROWN_UPLOAD_TTL_MINUTES",
                config::parse_or("BROWN_UPLOAD_TTL_MINUTES", DEFAULT_UPLOAD_TTL_MINUTES)?,
                |m| (1..=MAX_UPLOAD_TTL_MINUTES).contains(m),
                "must be between 1 and 60 minutes",
            )
            .map(|minutes| Duration::from_secs(minutes * 60))?,
            cloudfront: cloudfront()?,
            request_timeout: config::seconds_or(
                "BROWN_REQUEST_TIMEOUT_SECONDS",
                Duration::from_secs(15),
            )?,
            events_keep_alive: config::seconds_or(
                "BROWN_EVENTS_KEEPALIVE_SECONDS",
                Duration::from_secs(15),
            )?,
            events_max_duration: config::seconds_or(
                "BROWN_EVENTS_MAX_SECONDS",
                Duration::from_secs(3600),
            )?,
            events_max_watchers: config::check(
                "BROWN_EVENTS_MAX_WATCHERS",
                config::parse_or("BROWN_EVENTS_MAX_WATCHERS", 32usize)?,
                |n| *n >= 1,
                "must be at least 1",
            )?,
            rate_per_minute: positive("BROWN_RATE_LIMIT_PER_MINUTE", 600)?,
            rate_burst: positive("BROWN_RATE_LIMIT_BURST", 60)?,
            max_concurrent_requests: positive("BROWN_MAX_CONCURRENT_REQUESTS", 512)?,
            cors_origins: cors_origins()?,
        })
    }

    /// A configuration for tests and local runs: port 0, the given buckets, no keys yet.
    pub fn local(tasks_bucket: &str, artifacts_bucket: &str) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            tasks_bucket: tasks_bucket.into(),
            artifacts_bucket: artifacts_bucket.into(),
            api_keys: ApiKeys::default(),
            policies: Policies::default(),
            max_body_bytes: 1024 * 1024,
            link_ttl: DEFAULT_LINK_TTL,
            upload_max_bytes: MAX_UPLOAD_BYTES,
            upload_ttl: Duration::from_secs(DEFAULT_UPLOAD_TTL_MINUTES * 60),
            cloudfront: None,
            request_timeout: Duration::from_secs(15),
            events_keep_alive: Duration::from_secs(15),
            events_max_duration: Duration::from_secs(3600),
            events_max_watchers: 32,
            rate_per_minute: 6000,
            rate_burst: 600,
            max_concurrent_requests: 512,
            cors_origins: Vec::new(),
        }
    }
}

fn positive<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + std::fmt::Display + PartialOrd + From<u8>,
    T::Err: std::fmt::Display,
{
    config::check(
        name,
        config::parse_or(name, default)?,
        |n| *n >= T::from(1),
        "must be at least 1",
    )
}

/// An error about a variable whose value must not be echoed (keys, key hashes).
fn invalid_secret(name: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        name: name.into(),
        value: "(not shown)".into(),
        reason: reason.to_string(),
    }
}

/// `BROWN_API_KEYS` (JSON, as ECS injects a Secrets Manager secret) or the file named by
/// `BROWN_API_KEYS_FILE`. Brown without keys would answer every request 401: refuse to start.
fn api_keys() -> Result<ApiKeys, ConfigError> {
    let (name, json) = match (
        config::optional("BROWN_API_KEYS"),
        config::optional("BROWN_API_KEYS_FILE"),
    ) {
        (Some(json), None) => ("BROWN_API_KEYS", json),
        (None, Some(path)) => {
            let json = std::fs::read_to_string(&path).map_err(|err| ConfigError::Invalid {
                name: "BROWN_API_KEYS_FILE".into(),
                value: path.clone(),
                reason: err.to_string(),
            })?;
            ("BROWN_API_KEYS_FILE", json)
        }
        (Some(_), Some(_)) => {
            return Err(invalid_secret(
                "BROWN_API_KEYS",
                "set BROWN_API_KEYS or BROWN_API_KEYS_FILE, not both",
            ));
        }
        (None, None) => {
            return Err(ConfigError::Missing {
                name: "BROWN_API_KEYS (or BROWN_API_KEYS_FILE)".into(),
            });
        }
    };
    let keys = ApiKeys::from_json(&json).map_err(|err| invalid_secret(name, err))?;
    if keys.is_empty() {
        return Err(invalid_secret(name, "lists no key"));
    }
    Ok(keys)
}

fn policies() -> Result<Policies, ConfigError> {
    let name = "BROWN_CONTENT_POLICIES";
    match config::optional(name) {
        None => Ok(Policies::default()),
        Some(json) => Policies::from_json(&json).map_err(|err| ConfigError::Invalid {
            name: name.into(),
            value: json.clone(),
            reason: err.to_string(),
        }),
    }
}

/// All three CloudFront variables, or none.
fn cloudfront() -> Result<Option<CloudFront>, ConfigError> {
    let key = match (
        config::optional("BROWN_CLOUDFRONT_PRIVATE_KEY"),
        config::optional("BROWN_CLOUDFRONT_PRIVATE_KEY_FILE"),
    ) {
        (Some(pem), _) => Some(pem),
        (None, Some(path)) => {
            Some(
                std::fs::read_to_string(&path).map_err(|err| ConfigError::Invalid {
                    name: "BROWN_CLOUDFRONT_PRIVATE_KEY_FILE".into(),
                    value: path.clone(),
                    reason: err.to_string(),
                })?,
            )
        }
        (None, None) => None,
    };
    let domain = config::optional("BROWN_CLOUDFRONT_DOMAIN");
    let key_pair_id = config::optional("BROWN_CLOUDFRONT_KEY_PAIR_ID");
    match (domain, key_pair_id, key) {
        (None, None, None) => Ok(None),
        (Some(domain), Some(key_pair_id), Some(pem)) => {
            CloudFront::new(&domain, &key_pair_id, &pem)
                .map(Some)
                .map_err(|err| invalid_secret("BROWN_CLOUDFRONT_PRIVATE_KEY", err))
        }
        _ => Err(ConfigError::Missing {
            name: "BROWN_CLOUDFRONT_DOMAIN, BROWN_CLOUDFRONT_KEY_PAIR_ID and \
                   BROWN_CLOUDFRONT_PRIVATE_KEY (or _FILE) together"
                .into(),
        }),
    }
}

/// `BROWN_CORS_ORIGINS`: a comma-separated list of origins.
fn cors_origins() -> Result<Vec<HeaderValue>, ConfigError> {
    let name = "BROWN_CORS_ORIGINS";
    let Some(list) = config::optional(name) else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let valid = origin.starts_with("https://") || origin.starts_with("http://");
            HeaderValue::from_str(origin)
                .ok()
                .filter(|_| valid)
                .ok_or_else(|| ConfigError::Invalid {
                    name: name.into(),
                    value: list.clone(),
                    reason: format!("{origin:?} is not an http(s) origin"),
                })
        })
        .collect()
}
