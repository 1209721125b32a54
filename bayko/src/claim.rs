//! The task's status document, only ever replaced by a conditional write on the ETag it was
//! read with: the first claim creates it (`If-None-Match: *`), every later write names the
//! version it replaces (`If-Match`). Two deliveries of one message cannot both win.

use std::{sync::Arc, time::Duration};

use bb_aws::{ObjectStore, Payload, PutMode};
use chrono::{DateTime, Utc};
use shared::{
    keys::TaskKey,
    task::{StatusDocument, TaskState, TaskStatus},
};

use crate::failure::StoreError;

/// User metadata naming each status write uniquely, so that a write whose answer was lost can
/// be recognised as this worker's own (two writes' documents may be byte for byte the same).
const WRITE_ID: &str = "bayko-write-id";

/// A status as read or written, with the ETag that a conditional write must name.
#[derive(Debug, Clone)]
pub(crate) struct Versioned {
    pub status: TaskStatus,
    pub etag: String,
}

#[derive(Clone)]
pub(crate) struct StatusStore {
    tasks: Arc<dyn ObjectStore>,
}

/// What a conditional write may replace.
enum Replacing<'a> {
    Nothing,
    Version(&'a str),
}

impl StatusStore {
    pub(crate) fn new(tasks: Arc<dyn ObjectStore>) -> Self {
        Self { tasks }
    }

    pub(crate) async fn read(&self, key: &TaskKey) -> Result<Option<Versioned>, StoreError> {
        let Some(object) = self.tasks.get(&key.status()).await? else {
            return Ok(None);
        };
        let StatusDocument::V1(status) = serde_json::from_slice(&object.body)
            .map_err(|err| StoreError::Invalid(format!("the status document is invalid: {err}")))?;
        Ok(Some(Versioned {
            status,
            etag: object.meta.etag,
        }))
    }

    /// Marks the task `running` for this worker, recording the run's `traceparent`. Fails
    /// with `Conflict` when another worker wrote the status since `previous` was read.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn claim(
        &self,
        key: &TaskKey,
        submitted_at: DateTime<Utc>,
        previous: Option<&Versioned>,
        worker: &str,
        lease: Duration,
        now: DateTime<Utc>,
        traceparent: Option<String>,
    ) -> Result<Versioned, StoreError> {
        let status = TaskStatus {
            task_id: key.task_id,
            tenant: key.tenant.to_string(),
            status: TaskState::Running,
            submitted_at,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
            lease_until: Some(now + lease),
            attempt: previous.map_or(1, |held| held.status.attempt + 1),
            worker: Some(worker.to_owned()),
            error: None,
            metrics: None,
            artifacts: Vec::new(),
            traceparent,
            progress: None,
        };
        let replacing = match previous {
            None => Replacing::Nothing,
            Some(held) => Replacing::Version(&held.etag),
        };
        self.write(key, status, replacing).await
    }

    /// The heartbeat: pushes the lease forward. `Conflict` means another worker took over.
    pub(crate) async fn renew(
        &self,
        key: &TaskKey,
        held: &Versioned,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Versioned, StoreError> {
        let status = TaskStatus {
            updated_at: now,
            lease_until: Some(now + lease),
            ..held.status.clone()
        };
        self.write(key, status, Replacing::Version(&held.etag))
            .await
    }

    /// Writes the held status again (with its progress), leaving the lease as it is: only the
    /// heartbeat, which also extends the message's visibility, moves the lease.
    pub(crate) async fn touch(
        &self,
        key: &TaskKey,
        held: &Versioned,
        now: DateTime<Utc>,
    ) -> Result<Versioned, StoreError> {
        let status = TaskStatus {
            updated_at: now,
            ..held.status.clone()
        };
        self.write(key, status, Replacing::Version(&held.etag))
            .await
    }

    /// Gives the task up (shutdown): the lease ends now, so the next delivery takes over at
    /// once instead of waiting for it to run out.
    pub(crate) async fn release(
        &self,
        key: &TaskKey,
        held: &Versioned,
        now: DateTime<Utc>,
    ) -> Result<Versioned, StoreError> {
        let status = TaskStatus {
            updated_at: now,
            lease_until: Some(now),
            ..held.status.clone()
        };
        self.write(key, status, Replacing::Version(&held.etag))
            .await
    }

    /// Writes a final status over whatever is there (or nothing), conditionally: for a task
    /// that fails before or without a claim.
    pub(crate) async fn finish_unclaimed(
        &self,
        key: &TaskKey,
        previous: Option<&Versioned>,
        status: TaskStatus,
    ) -> Result<Versioned, StoreError> {
        let replacing = match previous {
            None => Replacing::Nothing,
            Some(held) => Replacing::Version(&held.etag),
        };
        self.write(key, status, replacing).await
    }

    /// Replaces the status this worker holds with its final one.
    pub(crate) async fn commit(
        &self,
        key: &TaskKey,
        held: &Versioned,
        status: TaskStatus,
    ) -> Result<Versioned, StoreError> {
        self.write(key, status, Replacing::Version(&held.etag))
            .await
    }

    async fn write(
        &self,
        key: &TaskKey,
        status: TaskStatus,
        replacing: Replacing<'_>,
    ) -> Result<Versioned, StoreError> {
        let body = serde_json::to_vec(&StatusDocument::V1(status.clone()))
            .map_err(|err| StoreError::Invalid(format!("serialising the status: {err}")))?;
        let mode = match replacing {
            Replacing::Nothing => PutMode::Create,
            Replacing::Version(etag) => PutMode::Update(etag.to_owned()),
        };
        let write_id = uuid::Uuid::new_v4().to_string();
        let payload = Payload::json(body).with_metadata(WRITE_ID, &write_id);
        match self.tasks.put(&key.status(), payload, mode).await {
            Ok(written) => Ok(Versioned {
                status,
                etag: written.etag,
            }),
            // The write may have landed with its answer lost: the SDK's retry of it then
            // finds its own write in place (412), or no answer ever came. Walking away would
            // abandon a task this worker still holds, to be run again after the lease.
            Err(err) if err.is_conflict() || err.is_transient() => {
                match self.landed(key, &write_id).await {
                    Some(etag) => {
                        tracing::info!(error = %err, "the status write landed, its answer was lost");
                        Ok(Versioned { status, etag })
                    }
                    None => Err(err.into()),
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The stored version's ETag if it is the write `write_id`; `None` if another write is
    /// there, or if it cannot be told.
    async fn landed(&self, key: &TaskKey, write_id: &str) -> Option<String> {
        let stored = self.tasks.head(&key.status()).await.ok()??;
        (stored.metadata.get(WRITE_ID).map(String::as_str) == Some(write_id)).then_some(stored.etag)
    }
}
