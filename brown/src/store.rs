//! The S3 calls Brown may make, and no others: write a new task to `inbox/`, read a task's
//! status, sign links to its artifacts, and check that the tasks bucket is reachable.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use aws_sdk_s3::{error::SdkError, presigning::PresigningConfig, primitives::ByteStream};
use bb_aws::is_transient;
use chrono::{DateTime, Utc};
use shared::{
    keys::TaskKey,
    task::{StatusDocument, TaskDocument, TaskStatus, TaskV1},
};

use tracing::Instrument;

use shared::telemetry::Carrier;

use crate::{error::ApiError, metrics::Metrics};

#[derive(Clone)]
pub struct TaskStore {
    s3: aws_sdk_s3::Client,
    tasks_bucket: String,
    artifacts_bucket: String,
    metrics: Arc<Metrics>,
}

/// What S3 knows about a task.
pub enum Stored {
    /// Bayko has written a status.
    Status(Box<TaskStatus>),
    /// Only the inbox object exists: the task waits for a worker.
    Queued {
        submitted_at: DateTime<Utc>,
    },
    Missing,
}

/// Maps an SDK error: outages become 503s, everything else is ours to investigate.
fn s3_error<E>(
    action: &'static str,
) -> impl FnOnce(SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> ApiError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |err| {
        if is_transient(&err) {
            ApiError::Unavailable(format!(
                "{action}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&err)
            ))
        } else {
            ApiError::Internal(anyhow::Error::new(err).context(action))
        }
    }
}

impl TaskStore {
    pub fn new(
        s3: aws_sdk_s3::Client,
        tasks_bucket: String,
        artifacts_bucket: String,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            s3,
            tasks_bucket,
            artifacts_bucket,
            metrics,
        }
    }

    /// Writes a new task. Returns only once S3 has it: a 202 is a promise.
    /// `If-None-Match: *` makes the write create-only, so a task is never overwritten; a task
    /// id that exists already (an idempotent retry) answers `Ok(false)`.
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
        let metadata = shared::telemetry::inject(&producer);
        self.create_only(&key.inbox(), body, metadata, "writing the task")
            .instrument(producer)
            .await
    }

    /// The task as submitted.
    pub async fn read_task(&self, key: &TaskKey) -> Result<Option<TaskV1>, ApiError> {
        let Some(object) = self.read(&key.inbox(), "reading the task").await? else {
            return Ok(None);
        };
        let TaskDocument::V1(task) = serde_json::from_slice(&object.bytes)
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
        self.create_only(
            &key.cancel(),
            body,
            Carrier::new(),
            "requesting cancellation",
        )
        .await
        .map(drop)
    }

    /// A create-only write: `Ok(true)` when this call created the object, `Ok(false)` when it
    /// existed already.
    async fn create_only(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: Carrier,
        action: &'static str,
    ) -> Result<bool, ApiError> {
        let started = Instant::now();
        let written = self
            .s3
            .put_object()
            .bucket(&self.tasks_bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .set_metadata((!metadata.is_empty()).then(|| metadata.into_iter().collect()))
            .body(ByteStream::from(body))
            .send()
            .await;
        let (outcome, created) = match written {
            Ok(_) => ("ok", Ok(true)),
            Err(err)
                if matches!(
                    err.raw_response().map(|r| r.status().as_u16()),
                    Some(412 | 409)
                ) =>
            {
                ("exists", Ok(false))
            }
            Err(err) => ("error", Err(s3_error(action)(err))),
        };
        let prefix = key.split('/').next().unwrap_or_default();
        self.metrics.observe_s3_write(prefix, outcome, started);
        created
    }

    pub async fn task(&self, key: &TaskKey) -> Result<Stored, ApiError> {
        if let Some(object) = self.read(&key.status(), "reading the status").await? {
            let StatusDocument::V1(status) = serde_json::from_slice(&object.bytes)
                .with_context(|| format!("status document {} is invalid", key.status()))?;
            return Ok(Stored::Status(Box::new(status)));
        }
        match self
            .s3
            .head_object()
            .bucket(&self.tasks_bucket)
            .key(key.inbox())
            .send()
            .await
        {
            Ok(head) => {
                let submitted_at = head
                    .last_modified
                    .and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos()))
                    .unwrap_or_else(Utc::now);
                Ok(Stored::Queued { submitted_at })
            }
            Err(SdkError::ServiceError(err)) if err.err().is_not_found() => Ok(Stored::Missing),
            Err(err) => Err(s3_error("looking up the task")(err)),
        }
    }

    /// An object of the tasks bucket, if it exists.
    async fn read(
        &self,
        key: &str,
        action: &'static str,
    ) -> Result<Option<bb_aws::s3::Object>, ApiError> {
        bb_aws::s3::read(&self.s3, &self.tasks_bucket, key)
            .await
            .map_err(|err| match err {
                bb_aws::s3::ReadError::Request(err) => s3_error(action)(*err),
                bb_aws::s3::ReadError::Body(err) => {
                    ApiError::Unavailable(format!("{action}: {err}"))
                }
            })
    }

    /// A time-limited GET link to an artifact.
    pub async fn artifact_link(&self, key: &str, ttl: Duration) -> Result<String, ApiError> {
        let presigning = PresigningConfig::expires_in(ttl).context("link lifetime")?;
        let request = self
            .s3
            .get_object()
            .bucket(&self.artifacts_bucket)
            .key(key)
            .presigned(presigning)
            .await
            .context("signing an artifact link")?;
        Ok(request.uri().to_owned())
    }

    /// Readiness: the tasks bucket answers.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.s3
            .head_bucket()
            .bucket(&self.tasks_bucket)
            .send()
            .await
            .map_err(s3_error("reaching the tasks bucket"))?;
        Ok(())
    }
}
