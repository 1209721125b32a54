//! Test helpers: a whole Brown + Bayko stack on the real emulator, isolated by a unique name
//! prefix (its own buckets, queues and rule), so tests run in parallel on one emulator.
//!
//! The emulator's endpoint comes from `BB_TEST_AWS_ENDPOINT`; `cargo xtask test` sets it.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde_json::Value;
use shared::{
    aws::AwsSettings,
    provision::{self, Names, Provisioned, QueueSettings},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a test waits for something that should happen within seconds.
pub const DEADLINE: Duration = Duration::from_secs(60);

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
    }
}

/// A running Brown (in-process, port 0) and optionally a running Bayko worker.
pub struct TestStack {
    pub base_url: String,
    pub http: reqwest::Client,
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
        let aws = aws().await;
        let provisioned = provision_isolated(&aws, test_queue_settings()).await;
        let config = brown::Config::local(
            &provisioned.names.tasks_bucket,
            &provisioned.names.artifacts_bucket,
        );
        let app = brown::Application::build(config, &aws)
            .await
            .expect("building Brown");
        let base_url = format!("http://{}", app.local_addr());
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
            http: reqwest::Client::new(),
            s3: shared::aws::s3(&aws),
            sqs: shared::aws::sqs(&aws),
            aws,
            provisioned,
            shutdown,
            brown,
            bayko: None,
        }
    }

    pub fn start_bayko(&mut self) {
        let worker = bayko::Worker::new(bayko_config(&self.provisioned), &self.aws);
        let shutdown = self.shutdown.clone();
        self.bayko = Some(tokio::spawn(async move { worker.run(shutdown).await }));
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
        let response = self.http.get(url).send().await.expect("artifact GET");
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
