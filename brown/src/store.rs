//! The storage calls Brown may make, and no others: write a new task to `inbox/`, read a task's
//! status (or watch it change), request a cancellation, and check that the tasks bucket is
//! reachable, and HEAD an upload. (Links are signed by `links`, upload URLs by `uploads`.) The bucket is an [`ObjectStore`]: S3 in the
//! product, memory in the route tests.

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use bb_aws::{AwsError, Fresh, ObjectMeta, ObjectStore, Payload, PutMode};
use chrono::{DateTime, Utc};
use shared::{
    keys::TaskKey,
    task::{StatusDocument, TaskDocument, TaskStatus, TaskV1},
};
use tracing::Instrument;

use crate::{error::ApiError, metrics::Metrics};

#[derive(Clone)]
pub struct TaskStore {
    objects: Arc<dyn ObjectStore>,
    probe: Probe,
    /// S3 write latency and outcomes, for `/metrics`.
    metrics: Arc<Metrics>,
}

/// How readiness is checked: a missing object is an answer, so the bucket itself is asked.
#[derive(Clone)]
pub enum Probe {
    S3 {
        s3: aws_sdk_s3::Client,
        bucket: String,
    },
    /// An in-memory store is always there.
    Memory,
}

/// What the store knows about a task.
pub enum Stored {
    /// Bayko has written a status.
    Status(Box<TaskStatus>),
    /// Only the inbox object exists: the task waits for a worker.
    Queued {
        submitted_at: DateTime<Utc>,
    },
    Missing,
}

/// A status looked at again with the ETag it had.
pub enum Watched {
    Changed {
        status: Box<TaskStatus>,
        etag: Option<String>,
    },
    Unchanged,
    /// No status yet: the task is queued (or unknown).
    NoStatus,
}

/// Outages become 503s (the text goes to the log only); everything else is ours to
/// investigate.
impl From<AwsError> for ApiError {
    fn from(err: AwsError) -> Self {
        match err {
            AwsError::Transient(reason) => ApiError::Unavailable(reason),
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl TaskStore {
    pub fn new(objects: Arc<dyn ObjectStore>, probe: Probe, metrics: Arc<Metrics>) -> Self {
        Self {
            objects,
            probe,
            metrics,
        }
    }

    /// The metrics this store reports to, shared with the rest of Brown.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Writes a new task. Returns only once the store has it: a 202 is a promise.
    /// The write is create-only, so a task is never overwritten; a task id that exists already
    /// (an idempotent retry) answers `Ok(false)`.
    ///
    /// The write is the producer span of the task's message (OpenTelemetry messaging
    /// conventions: S3 → EventBridge → SQS is the channel); its context goes with the object
    /// as metadata, so Bayko's spans join this trace.
    pub async fn put_new_task(&self, key: &TaskKey, task: &TaskDocument) -> Result<bool, ApiError> {
        let body = serde_json::to_vec(task).context("serialising the task")?;
        let producer = tracing::info_span!(
            "send",
            otel.name = "send inbox",
            otel.kind = "producer",
            messaging.system = "aws_sqs",
            messaging.operation.type = "send",
            messaging.destination.name = "inbox",
            messaging.message.id = %key.task_id,
            task_id = %key.task_id,
            tenant = %key.tenant,
        );
        let mut payload = Payload::json(body);
        for (name, value) in shared::telemetry::inject(&producer) {
            payload = payload.with_metadata(&name, value);
        }
        self.create_only(&key.inbox(), payload)
            .instrument(producer)
            .await
    }

    /// The task as submitted.
    pub async fn read_task(&self, key: &TaskKey) -> Result<Option<TaskV1>, ApiError> {
        let Some(object) = self.objects.get(&key.inbox()).await? else {
            return Ok(None);
        };
        let TaskDocument::V1(task) = serde_json::from_slice(&object.body)
            .with_context(|| format!("task document {} is invalid", key.inbox()))?;
        Ok(Some(task))
    }

    /// Records a cancel request. Requesting twice is the same as once.
    pub async fn request_cancel(&self, key: &TaskKey) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "task_id": key.task_id,
            "requested_at": Utc::now(),
        }))
        .context("serialising the cancel request")?;
        self.create_only(&key.cancel(), Payload::json(body))
            .await
            .map(drop)
    }

    /// `Ok(true)` when this call created the object, `Ok(false)` when it existed already.
    async fn create_only(&self, key: &str, payload: Payload) -> Result<bool, ApiError> {
        let started = Instant::now();
        let (outcome, created) = match self.objects.put(key, payload, PutMode::Create).await {
            Ok(_) => ("ok", Ok(true)),
            Err(AwsError::Conflict(_)) => ("exists", Ok(false)),
            Err(err) => ("error", Err(err.into())),
        };
        let prefix = key.split('/').next().unwrap_or_default();
        self.metrics.observe_s3_write(prefix, outcome, started);
        created
    }

    pub async fn task(&self, key: &TaskKey) -> Result<Stored, ApiError> {
        if let Some(object) = self.objects.get(&key.status()).await? {
            let StatusDocument::V1(status) = serde_json::from_slice(&object.body)
                .with_context(|| format!("status document {} is invalid", key.status()))?;
            return Ok(Stored::Status(Box::new(status)));
        }
        Ok(match self.objects.head(&key.inbox()).await? {
            Some(meta) => Stored::Queued {
                submitted_at: meta.last_modified.unwrap_or_else(Utc::now),
            },
            None => Stored::Missing,
        })
    }

    /// The status, unless it still has `etag`: S3 answers 304 to a conditional GET, so watching
    /// an unchanged status costs no transfer.
    pub async fn status_if_changed(
        &self,
        key: &TaskKey,
        etag: Option<&str>,
    ) -> Result<Watched, ApiError> {
        match self.objects.get_if_changed(&key.status(), etag).await? {
            Fresh::Unchanged => Ok(Watched::Unchanged),
            Fresh::Missing => Ok(Watched::NoStatus),
            Fresh::Changed(object) => {
                let StatusDocument::V1(status) = serde_json::from_slice(&object.body)
                    .with_context(|| format!("status document {} is invalid", key.status()))?;
                Ok(Watched::Changed {
                    status: Box::new(status),
                    etag: Some(object.meta.etag),
                })
            }
        }
    }

    /// An upload's size and ETag (a HEAD: Brown never reads an upload's body).
    pub async fn upload(&self, key: &str) -> Result<Option<ObjectMeta>, ApiError> {
        Ok(self.objects.head(key).await?)
    }

    /// Readiness: the tasks bucket answers.
    pub async fn ping(&self) -> Result<(), ApiError> {
        let Probe::S3 { s3, bucket } = &self.probe else {
            return Ok(());
        };
        s3.head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("reaching the tasks bucket", err))?;
        Ok(())
    }
}
