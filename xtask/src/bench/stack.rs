//! The bench's stack: one emulator, one provisioned set of buckets and queues, the AWS clients
//! the bench drives directly, and the environment Brown and Bayko run with.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use bb_aws::AwsSettings;
use bb_provision::{self as provision, Names, Provisioned, QueueSettings};
use serde_json::json;
use uuid::Uuid;

use super::process::Process;

pub(crate) const TENANT: &str = "default";

/// How often the bench asks the queue's depth. moto answers `GetQueueAttributes` by scanning
/// every message, several times: polled every 20 ms it took a third of the emulator's time
/// from the workers being measured. A quarter second is a small error on a drain of a minute.
const DEPTH_POLL: Duration = Duration::from_millis(250);

pub(crate) struct Stack {
    pub provisioned: Provisioned,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub bin: PathBuf,
    pub logs: PathBuf,
}

impl Stack {
    pub(crate) async fn provision(
        endpoint: &str,
        bin: PathBuf,
        logs: PathBuf,
    ) -> anyhow::Result<Self> {
        let aws = AwsSettings::emulator(endpoint).load().await;
        let provisioned = provision::provision(
            &aws,
            &Names::with_prefix("bb-bench"),
            QueueSettings::default(),
        )
        .await
        .context("provisioning the bench's buckets and queues")?;
        Ok(Self {
            s3: bb_aws::s3(&aws),
            sqs: bb_aws::sqs(&aws),
            provisioned,
            bin,
            logs,
        })
    }

    pub(crate) fn tasks_bucket(&self) -> &str {
        &self.provisioned.names.tasks_bucket
    }

    pub(crate) fn queue_url(&self) -> &str {
        &self.provisioned.queue_url
    }

    /// The variables both binaries read, against `endpoint` (the emulator or a proxy of it).
    /// Brown knows the bench's key, and its per-tenant rate limit is out of the way: the bench
    /// measures what Brown costs, not how it throttles one tenant.
    pub(crate) fn env(&self, endpoint: &str) -> Vec<(String, String)> {
        let keys = serde_json::json!([
            {"tenant": "default", "sha256": crate::dev::sha256_hex(BENCH_API_KEY)}
        ])
        .to_string();
        [
            ("BROWN_API_KEYS", keys.as_str()),
            ("BROWN_RATE_LIMIT_PER_MINUTE", "600000000"),
            ("BROWN_RATE_LIMIT_BURST", "10000000"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("BB_TASKS_BUCKET", self.tasks_bucket()),
            (
                "BB_ARTIFACTS_BUCKET",
                &self.provisioned.names.artifacts_bucket,
            ),
            ("BAYKO_QUEUE_URL", self.queue_url()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
    }

    pub(crate) fn spawn_brown(&self, bind: &str, endpoint: &str) -> anyhow::Result<Process> {
        let mut env = self.env(endpoint);
        env.push(("BROWN_BIND".into(), bind.into()));
        let brown = Process::spawn(
            "brown",
            &self.bin,
            &self.logs.join(format!("brown-{}.log", port_of(bind))),
            &env,
        )?;
        wait_for_healthz(bind)?;
        Ok(brown)
    }

    pub(crate) fn spawn_bayko(
        &self,
        name: &str,
        endpoint: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Process> {
        let mut env = self.env(endpoint);
        env.extend(
            extra
                .iter()
                .map(|&(key, value)| (key.to_owned(), value.to_owned())),
        );
        Process::spawn(
            "bayko",
            &self.bin,
            &self.logs.join(format!("bayko-{name}.log")),
            &env,
        )
    }

    /// Messages visible plus in flight.
    pub(crate) async fn queue_depth(&self) -> anyhow::Result<u64> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.queue_url())
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await?;
        let count = |name| {
            attributes
                .attributes()
                .and_then(|map| map.get(&name))
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }

    /// Polls until the queue holds `at_least` messages (`None`: until it is empty).
    pub(crate) async fn wait_for_depth(
        &self,
        at_least: Option<u64>,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            let depth = self.queue_depth().await?;
            let reached = match at_least {
                Some(wanted) => depth >= wanted,
                None => depth == 0,
            };
            if reached {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                bail!("the queue holds {depth} messages after {limit:?} (wanted {at_least:?})");
            }
            tokio::time::sleep(DEPTH_POLL).await;
        }
    }

    /// Empties the queue between measurements (an emulator slows as its queue grows).
    pub(crate) async fn purge(&self) -> anyhow::Result<()> {
        self.sqs
            .purge_queue()
            .queue_url(self.queue_url())
            .send()
            .await?;
        self.wait_for_depth(None, Duration::from_secs(30)).await?;
        Ok(())
    }

    /// Writes a task document straight into `inbox/`, create-only, as Brown would.
    pub(crate) async fn put_task(&self, body: &[u8], key: &str) -> bool {
        self.s3
            .put_object()
            .bucket(self.tasks_bucket())
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .is_ok()
    }
}

/// The bench's API key, for tenant `default` on the bench's own Brown only.
pub(crate) const BENCH_API_KEY: &str = "bbk_bench-local-only-not-a-secret";

/// An HTTP client that presents the bench's key on every request.
pub(crate) fn http_client() -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {BENCH_API_KEY}").parse()?,
    );
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// A valid stored task document with this id: what Brown writes for `request`.
pub(crate) fn task_document(task_id: Uuid, input: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "v1",
        "task_id": task_id,
        "tenant": TENANT,
        "submitted_at": chrono::Utc::now(),
        "input": input,
    }))
    .expect("a JSON document")
}

pub(crate) fn inbox_key(task_id: Uuid) -> String {
    format!("inbox/{TENANT}/{task_id}.json")
}

fn port_of(bind: &str) -> &str {
    bind.rsplit(':').next().unwrap_or(bind)
}

pub(crate) fn wait_for_healthz(bind: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(bind).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("Brown did not listen on {bind} within 30 s")
}

pub(crate) fn free_bind() -> anyhow::Result<String> {
    Ok(format!("127.0.0.1:{}", bb_emulator::free_port()?))
}
