//! Test helpers: a whole Brown + Bayko stack on the real emulator, isolated by a unique name
//! prefix (its own buckets, queues and rule), so tests run in parallel on one emulator.
//!
//! The emulator's endpoint comes from `BB_TEST_AWS_ENDPOINT`; `cargo xtask test` sets it.

mod events;
mod terminal;

use std::time::{Duration, Instant};

pub use events::{EventStream, StatusEvent};
pub use terminal::{TerminalRun, run_in_terminal};

use aws_config::SdkConfig;
use bb_aws::AwsSettings;
use bb_provision::{self as provision, Names, Provisioned, QueueSettings};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub mod fault_proxy;
pub mod logged;
pub mod otlp;
pub mod prometheus;
pub mod sigv4;
pub mod tally;

/// How long a test waits for something that should happen within seconds.
pub const DEADLINE: Duration = Duration::from_secs(60);

fn tenant(name: &str) -> shared::keys::Tenant {
    shared::keys::Tenant::parse(name).expect("a valid tenant")
}

pub fn endpoint() -> String {
    std::env::var("BB_TEST_AWS_ENDPOINT").expect(
        "BB_TEST_AWS_ENDPOINT is not set: run the tests with `cargo xtask test`, or start \
         `cargo xtask emulator` and export the endpoint it prints",
    )
}

pub async fn aws() -> SdkConfig {
    AwsSettings::emulator(endpoint()).load().await
}

/// Provisions a fresh, uniquely named set of buckets, queues and rule.
pub async fn provision_isolated(aws: &SdkConfig, queue: QueueSettings) -> Provisioned {
    let prefix = format!("t-{}", &Uuid::new_v4().simple().to_string()[..12]);
    provision::provision(aws, &Names::with_prefix(&prefix), queue)
        .await
        .expect("provisioning the test stack")
}

/// Queue settings for tests: short visibility so redrive is quick.
pub fn test_queue_settings() -> QueueSettings {
    QueueSettings {
        visibility_timeout: Duration::from_secs(10),
        max_receive_count: 5,
    }
}

pub fn bayko_config(provisioned: &Provisioned) -> bayko::Config {
    bayko::Config {
        tasks_bucket: provisioned.names.tasks_bucket.clone(),
        artifacts_bucket: provisioned.names.artifacts_bucket.clone(),
        queue_url: provisioned.queue_url.clone(),
        max_in_flight: 4,
        wait_time: Duration::from_secs(1),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        worker_id: format!("test-{}", Uuid::new_v4().simple()),
        lease: Duration::from_secs(6),
        heartbeat: Duration::from_secs(2),
        max_attempts: 4,
        shutdown_grace: Duration::from_secs(5),
        chaos_step_delay: Duration::ZERO,
        metrics_bind: None,
        dlq_url: Some(provisioned.dead_letter_queue_url.clone()),
        queue_watch_interval: Duration::from_secs(1),
        event_bus: None,
    }
}

/// The second tenant every test stack knows, for isolation tests.
pub const OTHER_TENANT: &str = "globex";

/// A new API key for `tenant`, and the `BROWN_API_KEYS` entry that grants it.
pub fn new_api_key(tenant: &str) -> (String, String) {
    let tenant = shared::keys::Tenant::parse(tenant).expect("a valid tenant");
    let (key, entry) = brown::keys::generate(&tenant);
    (
        key,
        serde_json::to_string(&entry).expect("serialisable entry"),
    )
}

/// An HTTP client that sends `key` as its bearer token on every request.
pub fn client_with_key(key: &str) -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value: reqwest::header::HeaderValue =
        format!("Bearer {key}").parse().expect("a header value");
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers)
}

/// A running Brown (in-process, port 0) and optionally a running Bayko worker.
pub struct TestStack {
    pub base_url: String,
    /// Brown's `/metrics` listener.
    pub brown_metrics_url: String,
    /// The emulator this stack runs on.
    pub endpoint: String,
    /// Sends the `default` tenant's key.
    pub http: reqwest::Client,
    pub api_key: String,
    /// Sends the [`OTHER_TENANT`]'s key.
    pub other_http: reqwest::Client,
    pub other_key: String,
    /// No key: for artifact links and the open routes.
    pub anonymous: reqwest::Client,
    pub aws: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub provisioned: Provisioned,
    shutdown: CancellationToken,
    brown: JoinHandle<()>,
    bayko: Option<JoinHandle<()>>,
}

impl TestStack {
    /// Brown and Bayko.
    pub async fn spawn() -> Self {
        let mut stack = Self::spawn_brown_only().await;
        stack.start_bayko();
        stack
    }

    /// Brown alone: tasks are accepted and their messages stay in the queue.
    pub async fn spawn_brown_only() -> Self {
        Self::spawn_brown_only_on(&endpoint()).await
    }

    /// Brown alone, on the emulator at `endpoint`.
    pub async fn spawn_brown_only_on(endpoint: &str) -> Self {
        Self::spawn_brown_only_with(AwsSettings::emulator(endpoint)).await
    }

    /// Brown alone, with these AWS settings (an emulator endpoint is required).
    pub async fn spawn_brown_only_with(settings: AwsSettings) -> Self {
        Self::spawn_brown_configured(settings, |_| {}).await
    }

    /// Brown alone, its configuration adjusted by `configure`.
    pub async fn spawn_brown_only_configured(configure: impl FnOnce(&mut brown::Config)) -> Self {
        Self::spawn_brown_configured(AwsSettings::emulator(endpoint()), configure).await
    }

    /// Brown alone, with these AWS settings and `configure`'s changes to its configuration.
    pub async fn spawn_brown_configured(
        settings: AwsSettings,
        configure: impl FnOnce(&mut brown::Config),
    ) -> Self {
        let endpoint = settings.endpoint_url.clone().expect("an emulator endpoint");
        let endpoint = endpoint.as_str();
        let aws = settings.load().await;
        let provisioned = provision_isolated(&aws, test_queue_settings()).await;
        let mut config = brown::Config::local(
            &provisioned.names.tasks_bucket,
            &provisioned.names.artifacts_bucket,
        );
        let (api_key, _) = new_api_key("default");
        let (other_key, _) = new_api_key(OTHER_TENANT);
        config.api_keys = std::mem::take(&mut config.api_keys)
            .with_key(tenant("default"), &api_key)
            .with_key(tenant(OTHER_TENANT), &other_key);
        configure(&mut config);
        let app = brown::Application::build(config, &aws)
            .await
            .expect("building Brown");
        let base_url = format!("http://{}", app.local_addr());
        let brown_metrics_url = format!(
            "http://{}",
            app.metrics_addr().expect("local Brown serves metrics")
        );
        let shutdown = CancellationToken::new();
        let brown = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                app.run_until_stopped(shutdown.cancelled_owned())
                    .await
                    .expect("Brown serving");
            }
        });
        Self {
            base_url,
            brown_metrics_url,
            endpoint: endpoint.to_owned(),
            http: client_with_key(&api_key).build().expect("an HTTP client"),
            other_http: client_with_key(&other_key).build().expect("an HTTP client"),
            api_key,
            other_key,
            anonymous: reqwest::Client::new(),
            s3: bb_aws::s3(&aws),
            sqs: bb_aws::sqs(&aws),
            aws,
            provisioned,
            shutdown,
            brown,
            bayko: None,
        }
    }

    pub fn start_bayko(&mut self) {
        self.start_bayko_with(bayko_config(&self.provisioned));
    }

    /// Starts an in-process worker whose tools come from an engine configuration file's text.
    pub async fn start_bayko_with_tools(&mut self, engine_toml: &str) {
        let engine =
            bayko::engine::config::EngineConfig::parse(engine_toml).expect("engine config");
        let registry = bayko::engine::Registry::from_config(engine, &self.aws)
            .await
            .expect("building the registry");
        let worker = bayko::Worker::with_registry(
            bayko_config(&self.provisioned),
            &self.aws,
            std::sync::Arc::new(registry),
        );
        self.start_worker(worker);
    }

    /// Starts an in-process worker with its metrics listener (and queue watcher); returns the
    /// listener's base URL.
    pub async fn start_bayko_with_metrics(&mut self) -> String {
        let mut config = bayko_config(&self.provisioned);
        config.metrics_bind = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let worker = bayko::Worker::new(config.clone(), &self.aws);
        let address = bayko::metrics::start(
            &config,
            &worker,
            self.sqs.clone(),
            self.shutdown.child_token(),
        )
        .await
        .expect("starting the metrics listener")
        .expect("metrics_bind is set");
        self.start_worker(worker);
        format!("http://{address}")
    }

    /// Starts an in-process worker with this configuration; it stops with the stack.
    pub fn start_bayko_with(&mut self, config: bayko::Config) {
        self.start_worker(bayko::Worker::new(config, &self.aws));
    }

    /// Starts this in-process worker; it stops with the stack.
    pub fn start_worker(&mut self, worker: bayko::Worker) {
        let shutdown = self.shutdown.clone();
        let previous = self.bayko.take();
        self.bayko = Some(tokio::spawn(async move {
            tokio::join!(worker.run(shutdown), async {
                if let Some(previous) = previous {
                    let _ = previous.await;
                }
            });
        }));
    }

    /// A real Bayko process on this stack's queue.
    pub fn spawn_bayko_process(&self, extra_env: &[(&str, &str)]) -> BaykoProcess {
        BaykoProcess::spawn(&self.endpoint, &self.provisioned, extra_env)
    }

    /// Polls the stored status until `ready` says so.
    pub async fn wait_for_status(&self, task_id: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = stored_status(&self.s3, self.tasks_bucket(), task_id).await
                && ready(&status)
            {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "status of {task_id} never matched"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Messages visible plus in flight in a queue.
    pub async fn queue_depth(&self, queue_url: &str) -> usize {
        let (visible, hidden) = self.queue_messages(queue_url).await;
        visible + hidden
    }

    /// Messages in a queue: visible, and in flight (received, not yet deleted).
    pub async fn queue_messages(&self, queue_url: &str) -> (usize, usize) {
        use aws_sdk_sqs::types::QueueAttributeName as Name;
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(Name::ApproximateNumberOfMessages)
            .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        let count = |name| {
            attributes
                .get(&name)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        (
            count(Name::ApproximateNumberOfMessages),
            count(Name::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Waits until a queue holds no message at all.
    pub async fn wait_until_drained(&self, queue_url: &str) {
        let deadline = Instant::now() + DEADLINE;
        while self.queue_depth(queue_url).await > 0 {
            assert!(Instant::now() < deadline, "{queue_url} never drained");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn tasks_bucket(&self) -> &str {
        &self.provisioned.names.tasks_bucket
    }

    pub fn artifacts_bucket(&self) -> &str {
        &self.provisioned.names.artifacts_bucket
    }

    pub async fn submit(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/tasks", self.base_url))
            .json(body)
            .send()
            .await
            .expect("POST /v1/tasks")
    }

    /// Submits and returns the new task's id, asserting a 202.
    pub async fn submit_ok(&self, body: &Value) -> String {
        let response = self.submit(body).await;
        assert_eq!(response.status(), 202, "{:?}", response.text().await);
        let accepted: Value = response.json().await.expect("JSON body");
        accepted["task_id"].as_str().expect("task_id").to_owned()
    }

    /// Opens the task's event stream, resuming after `last_event_id` when given.
    pub async fn events(&self, task_id: &str, last_event_id: Option<i64>) -> reqwest::Response {
        let mut request = self
            .http
            .get(format!("{}/v1/tasks/{task_id}/events", self.base_url));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        request.send().await.expect("GET /v1/tasks/{id}/events")
    }

    pub async fn status(&self, task_id: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/v1/tasks/{task_id}", self.base_url))
            .send()
            .await
            .expect("GET /v1/tasks/{id}")
    }

    /// Polls the task's status until it is final, or panics at the deadline.
    pub async fn wait_until_final(&self, task_id: &str) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let response = self.status(task_id).await;
            assert_eq!(response.status(), 200);
            let status: Value = response.json().await.expect("JSON status");
            if !matches!(status["status"].as_str(), Some("queued" | "running")) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "task {task_id} not final in time: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Downloads an artifact through the link the status gave.
    pub async fn download(&self, status: &Value, name: &str) -> String {
        let url = status["artifacts"]
            .as_array()
            .and_then(|artifacts| artifacts.iter().find(|a| a["name"] == name))
            .and_then(|artifact| artifact["url"].as_str())
            .unwrap_or_else(|| panic!("no link for {name} in {status}"));
        // The link carries its own authorisation; Brown's key must not travel to storage.
        let response = self.anonymous.get(url).send().await.expect("artifact GET");
        assert_eq!(response.status(), 200, "downloading {name}");
        response.text().await.expect("artifact body")
    }

    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        list_keys(&self.s3, bucket, prefix).await
    }

    /// Waits until the queue at `queue_url` holds a message, and returns its bodies.
    pub async fn receive_until_some(&self, queue_url: &str) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receiving");
            let bodies: Vec<String> = output
                .messages
                .unwrap_or_default()
                .into_iter()
                .filter_map(|message| message.body)
                .collect();
            if !bodies.is_empty() {
                return bodies;
            }
            assert!(
                Instant::now() < deadline,
                "no message in {queue_url} in time"
            );
        }
    }

    /// Stops Bayko and Brown gracefully and waits for both.
    pub async fn stop(self) {
        self.shutdown.cancel();
        if let Some(bayko) = self.bayko {
            bayko.await.expect("Bayko stopped cleanly");
        }
        self.brown.await.expect("Brown stopped cleanly");
    }
}

pub async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let output = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("listing objects");
    output
        .contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(|object| object.key)
        .collect()
}

/// Where the project's binaries are (`cargo xtask test` builds them first).
pub fn binary(name: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("BB_TEST_BIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            // target/debug/deps/e2e-… → target/debug
            let exe = std::env::current_exe().expect("test executable path");
            exe.parent()
                .and_then(|p| p.parent())
                .expect("target dir")
                .to_path_buf()
        });
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo xtask test` (it builds the binaries)",
        path.display()
    );
    path
}

/// Sends a signal by name (`TERM`, `KILL`, `STOP`, `CONT`) to a process.
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// A real Bayko process on the stack's queue.
pub struct BaykoProcess {
    child: tokio::process::Child,
    pub worker_id: String,
}

/// The environment of a Bayko process on the stack's queue: short waits, leases and retries.
pub fn bayko_env(endpoint: &str, provisioned: &Provisioned, name: &str) -> Vec<(String, String)> {
    let worker_id = format!("{name}-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let mut env = logged::aws_env(endpoint);
    env.extend(logged::owned(&[
        ("BB_TASKS_BUCKET", &provisioned.names.tasks_bucket),
        ("BB_ARTIFACTS_BUCKET", &provisioned.names.artifacts_bucket),
        ("BAYKO_QUEUE_URL", &provisioned.queue_url),
        ("BAYKO_WORKER_ID", &worker_id),
        ("BAYKO_WAIT_SECONDS", "1"),
        ("BAYKO_LEASE_SECONDS", "3"),
        ("BAYKO_HEARTBEAT_MS", "1000"),
        ("BAYKO_RETRY_BASE_MS", "100"),
        ("BAYKO_RETRY_MAX_SECONDS", "1"),
        ("RUST_LOG", "bayko=debug,warn"),
    ]));
    env
}

impl BaykoProcess {
    pub fn spawn(endpoint: &str, provisioned: &Provisioned, extra_env: &[(&str, &str)]) -> Self {
        Self::spawn_logging_to(endpoint, provisioned, extra_env, None)
    }

    /// A Bayko process whose stdout and stderr go to `log` (when given).
    pub fn spawn_logging_to(
        endpoint: &str,
        provisioned: &Provisioned,
        extra_env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        let env = bayko_env(endpoint, provisioned, "proc");
        let worker_id = env
            .iter()
            .find(|(name, _)| name == "BAYKO_WORKER_ID")
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        let child = tokio::process::Command::new(binary("bayko"))
            .envs(env)
            .envs(extra_env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(output(log))
            .stderr(output(log))
            .kill_on_drop(true)
            .spawn()
            .expect("starting bayko");
        Self { child, worker_id }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("a running process has a pid")
    }

    /// kill -9: no chance to clean up.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("killing bayko");
    }

    /// SIGTERM, then waits for the exit (graceful shutdown).
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        signal(self.pid(), "TERM");
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("bayko exits after SIGTERM")
            .expect("waiting for bayko")
    }
}

/// A moto server of the test's own, so that it can be paused (SIGSTOP) without disturbing
/// the other tests.
pub struct OwnEmulator {
    server: bb_emulator::MotoServer,
    pub endpoint: String,
}

impl OwnEmulator {
    pub async fn start() -> Self {
        let server = std::env::var("BB_TEST_MOTO_SERVER")
            .expect("BB_TEST_MOTO_SERVER is not set: run the tests with `cargo xtask test`");
        let server = tokio::task::spawn_blocking(move || {
            bb_emulator::MotoServer::start(std::path::Path::new(&server), None)
        })
        .await
        .expect("the launcher ran")
        .expect("starting moto_server");
        Self {
            endpoint: server.endpoint.clone(),
            server,
        }
    }

    pub fn pause(&self) {
        signal(self.server.pid(), "STOP");
    }

    pub fn resume(&self) {
        signal(self.server.pid(), "CONT");
    }
}

/// Turns on versioning, so that every write to a key is counted.
pub async fn count_writes_from_now_on(s3: &aws_sdk_s3::Client, bucket: &str) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enabling versioning");
}

/// How many times each key under `prefix` was written (with versioning on).
pub async fn writes_per_key(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut key_marker = None;
    let mut version_marker = None;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .expect("listing versions");
        for version in page.versions.unwrap_or_default() {
            *counts.entry(version.key.unwrap_or_default()).or_insert(0) += 1;
        }
        if page.is_truncated != Some(true) {
            return counts;
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
}

/// Reads a task's status document straight from S3.
pub async fn stored_status(s3: &aws_sdk_s3::Client, bucket: &str, task_id: &str) -> Option<Value> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(format!("status/default/{task_id}.json"))
        .send()
        .await
        .ok()?;
    let bytes = object.body.collect().await.ok()?.into_bytes();
    serde_json::from_slice(&bytes).ok()
}

/// Where a child process's output goes: appended to `log`, or nowhere.
fn output(log: Option<&std::path::Path>) -> std::process::Stdio {
    match log {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("opening the log file")
            .into(),
        None => std::process::Stdio::null(),
    }
}

/// A real Brown process on a stack's buckets, its output in a log file.
pub struct BrownProcess {
    child: tokio::process::Child,
    pub base_url: String,
}

impl BrownProcess {
    /// Starts Brown with `env` (keys, policies, log settings) and waits until it answers.
    pub async fn spawn(
        endpoint: &str,
        provisioned: &Provisioned,
        env: &[(&str, &str)],
        log: &std::path::Path,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new(binary("brown"))
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("BB_TASKS_BUCKET", &provisioned.names.tasks_bucket)
            .env("BB_ARTIFACTS_BUCKET", &provisioned.names.artifacts_bucket)
            .env("BROWN_BIND", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(output(Some(log)))
            .stderr(output(Some(log)))
            .kill_on_drop(true)
            .spawn()
            .expect("starting brown");
        let base_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + DEADLINE;
        let http = reqwest::Client::new();
        while !http
            .get(format!("{base_url}/healthz"))
            .send()
            .await
            .is_ok_and(|response| response.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "brown did not start; see {log:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, base_url }
    }

    /// SIGTERM, then waits for the exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("a running process has a pid");
        signal(pid, "TERM");
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("brown exits after SIGTERM")
            .expect("waiting for brown")
    }
}

/// Every version of a task's status document, in no particular order (versioning on the tasks
/// bucket, see [`count_writes_from_now_on`]): its claims, renewals and final write.
pub async fn status_history(s3: &aws_sdk_s3::Client, bucket: &str, task_id: &str) -> Vec<Value> {
    let key = format!("status/default/{task_id}.json");
    let mut version_ids = Vec::new();
    let mut key_marker = None;
    let mut version_marker = None;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(&key)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .expect("listing status versions");
        for version in page.versions.unwrap_or_default() {
            if version.key.as_deref() == Some(key.as_str()) {
                version_ids.push(version.version_id);
            }
        }
        if page.is_truncated != Some(true) {
            break;
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
    let mut history = Vec::new();
    for version_id in version_ids {
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .set_version_id(version_id)
            .send()
            .await
            .expect("reading a status version");
        let bytes = object
            .body
            .collect()
            .await
            .expect("status body")
            .into_bytes();
        history.push(serde_json::from_slice(&bytes).expect("a status document"));
    }
    history
}

/// The claims in a status history: attempt number → the worker that made it.
pub fn claims(history: &[Value]) -> std::collections::BTreeMap<u64, String> {
    history
        .iter()
        .filter(|status| status["status"] == "running")
        .filter_map(|status| {
            let attempt = status["attempt"].as_u64()?;
            let worker = status["worker"].as_str()?.to_owned();
            Some((attempt, worker))
        })
        .collect()
}

/// Every key under `prefix`, all pages.
pub async fn list_all_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .expect("listing objects");
        keys.extend(
            page.contents
                .unwrap_or_default()
                .into_iter()
                .filter_map(|o| o.key),
        );
        match page.next_continuation_token {
            Some(next) if page.is_truncated == Some(true) => token = Some(next),
            _ => return keys,
        }
    }
}
