//! The storage calls Brown may make, and no others: write a new task to `inbox/`, read a task's
//! status, request a cancellation, and check that the tasks bucket is reachable. (Links are
//! signed by `links`.) The bucket is an [`ObjectStore`]: S3 in the product, memory in the route
//! tests.

use std::sync::Arc;

use anyhow::Context;
use bb_aws::{AwsError, ObjectStore, Payload, PutMode};
use chrono::{DateTime, Utc};
use shared::{
    keys::TaskKey,
    task::{StatusDocument, TaskDocument, TaskStatus, TaskV1},
};

use crate::error::ApiError;

#[derive(Clone)]
pub struct TaskStore {
    objects: Arc<dyn ObjectStore>,
    probe: Probe,
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
    pub fn new(objects: Arc<dyn ObjectStore>, probe: Probe) -> Self {
        Self { objects, probe }
    }

    /// Writes a new task. Returns only once the store has it: a 202 is a promise.
    /// The write is create-only, so a task is never overwritten; a task id that exists already
    /// (an idempotent retry) answers `Ok(false)`.
    pub async fn put_new_task(&self, key: &TaskKey, task: &TaskDocument) -> Result<bool, ApiError> {
        let body = serde_json::to_vec(task).context("serialising the task")?;
        self.create_only(&key.inbox(), body).await
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
        self.create_only(&key.cancel(), body).await.map(drop)
    }

    /// `Ok(true)` when this call created the object, `Ok(false)` when it existed already.
    async fn create_only(&self, key: &str, body: Vec<u8>) -> Result<bool, ApiError> {
        match self
            .objects
            .put(key, Payload::json(body), PutMode::Create)
            .await
        {
            Ok(_) => Ok(true),
            Err(AwsError::Conflict(_)) => Ok(false),
            Err(err) => Err(err.into()),
        }
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
