//! Bayko's configuration, from the environment (see the README's table).

use std::{net::SocketAddr, time::Duration};

use shared::config::{self, ConfigError};

#[derive(Debug, Clone)]
pub struct Config {
    /// Where task objects (`inbox/`) are read and statuses (`status/`) written.
    pub tasks_bucket: String,
    /// Where the three artifacts of each task are written.
    pub artifacts_bucket: String,
    /// The work queue EventBridge feeds.
    pub queue_url: String,
    /// Tasks processed at once by this worker; receiving pauses while it is reached, so a
    /// busy worker leaves messages to idle ones.
    pub max_in_flight: usize,
    /// Long-poll wait: 20 s (the maximum) keeps empty receives, and their cost, rare.
    pub wait_time: Duration,
    /// First retry delay for a message that failed transiently; doubled per receive, with
    /// jitter, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Names this worker in statuses and logs.
    pub worker_id: String,
    /// How long a claim holds without a heartbeat: the message's visibility and the status'
    /// lease. A worker that dies is replaced after at most this long.
    pub lease: Duration,
    /// How often a running task renews its lease; a third of the lease tolerates a missed beat.
    pub heartbeat: Duration,
    /// Deliveries after which a task failing transiently is failed for good, with its reason.
    /// Below the queue's maxReceiveCount (5), so the task fails before its message is redriven.
    pub max_attempts: u32,
    /// How long in-flight tasks may finish after SIGTERM. Below ECS's `stopTimeout` (30 s), so
    /// the rest is handed back before the container is killed. At least the long poll's wait:
    /// the open poll is finished and what it brings handed back too.
    pub shutdown_grace: Duration,
    /// Fault injection for tests and demos: a pause before every step. Zero in production.
    pub chaos_step_delay: Duration,
    /// Where `/metrics`, `/healthz` and `/readyz` are served: the task's private address only.
    /// Unset: no listener (and no queue-depth polling).
    pub metrics_bind: Option<SocketAddr>,
    /// The work queue's dead-letter queue, whose depth the metrics report when set.
    pub dlq_url: Option<String>,
    /// How often the queues' depths are polled for the metrics.
    pub queue_watch_interval: Duration,
    /// The EventBridge bus `Task Finished` events go to (name or ARN); none when unset.
    pub event_bus: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let max_in_flight = config::check(
            "BAYKO_MAX_IN_FLIGHT",
            config::parse_or("BAYKO_MAX_IN_FLIGHT", 8usize)?,
            |n| (1..=1000).contains(n),
            "must be between 1 and 1000",
        )?;
        let wait_time = config::check(
            "BAYKO_WAIT_SECONDS",
            config::parse_or("BAYKO_WAIT_SECONDS", 20u64)?,
            |s| *s <= 20,
            "SQS long polls last at most 20 seconds",
        )?;
        let lease = config::seconds_or("BAYKO_LEASE_SECONDS", Duration::from_secs(60))?;
        let heartbeat = config::millis_or("BAYKO_HEARTBEAT_MS", lease / 3)?;
        if heartbeat.is_zero() || heartbeat >= lease {
            return Err(ConfigError::Invalid {
                name: "BAYKO_HEARTBEAT_MS".into(),
                value: heartbeat.as_millis().to_string(),
                reason: "must be above zero and shorter than the lease (BAYKO_LEASE_SECONDS)"
                    .into(),
            });
        }
        Ok(Self {
            tasks_bucket: config::required("BB_TASKS_BUCKET")?,
            artifacts_bucket: config::required("BB_ARTIFACTS_BUCKET")?,
            queue_url: config::required("BAYKO_QUEUE_URL")?,
            max_in_flight,
            wait_time: Duration::from_secs(wait_time),
            retry_base: config::millis_or("BAYKO_RETRY_BASE_MS", Duration::from_secs(2))?,
            retry_max: config::seconds_or("BAYKO_RETRY_MAX_SECONDS", Duration::from_secs(300))?,
            worker_id: config::optional("BAYKO_WORKER_ID").unwrap_or_else(default_worker_id),
            lease,
            heartbeat,
            max_attempts: config::check(
                "BAYKO_MAX_ATTEMPTS",
                config::parse_or("BAYKO_MAX_ATTEMPTS", 4u32)?,
                |n| *n >= 1,
                "must be at least 1",
            )?,
            shutdown_grace: config::check(
                "BAYKO_SHUTDOWN_GRACE_SECONDS",
                config::seconds_or("BAYKO_SHUTDOWN_GRACE_SECONDS", Duration::from_secs(25))?
                    .as_secs(),
                |s| *s >= wait_time,
                "must leave time to finish the open long poll: at least BAYKO_WAIT_SECONDS",
            )
            .map(Duration::from_secs)?,
            chaos_step_delay: config::millis_or("BAYKO_CHAOS_STEP_DELAY_MS", Duration::ZERO)?,
            metrics_bind: config::parse_optional("BAYKO_METRICS_BIND")?,
            dlq_url: config::optional("BAYKO_DLQ_URL"),
            queue_watch_interval: config::check(
                "BAYKO_QUEUE_WATCH_SECONDS",
                config::seconds_or("BAYKO_QUEUE_WATCH_SECONDS", Duration::from_secs(15))?.as_secs(),
                |s| *s >= 1,
                "must be at least 1",
            )
            .map(Duration::from_secs)?,
            event_bus: config::optional("BAYKO_EVENT_BUS"),
        })
    }
}

fn default_worker_id() -> String {
    let host = config::optional("HOSTNAME").unwrap_or_else(|| "bayko".into());
    format!("{host}-{}", std::process::id())
}
