//! The task's status document, only ever replaced by a conditional write on the ETag it was
//! read with: the first claim creates it (`If-None-Match: *`), every later write names the
//! version it replaces (`If-Match`). Two deliveries of one message cannot both win.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use shared::{
    keys::TaskKey,
    task::{StatusDocument, TaskState, TaskStatus},
};

use crate::store::StoreError;

/// A status as read or written, with the ETag that a conditional write must name.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub status: TaskStatus,
    pub etag: String,
}

#[derive(Clone)]
pub struct StatusStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

/// What a conditional write may replace.
enum Replacing<'a> {
    Nothing,
    Version(&'a str),
}

impl StatusStore {
    pub fn new(s3: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { s3, bucket }
    }

    pub async fn read(&self, key: &TaskKey) -> Result<Option<Versioned>, StoreError> {
        let Some(object) = bb_aws::s3::read(&self.s3, &self.bucket, &key.status())
            .await
            .map_err(|err| StoreError::from_read("reading the status", err))?
        else {
            return Ok(None);
        };
        let StatusDocument::V1(status) = serde_json::from_slice(&object.bytes)
            .map_err(|err| StoreError::Invalid(format!("the status document is invalid: {err}")))?;
        Ok(Some(Versioned {
            status,
            etag: object.etag.unwrap_or_default(),
        }))
    }

    /// Marks the task `running` for this worker. Fails with `Conflict` when another worker
    /// wrote the status since `previous` was read.
    pub async fn claim(
        &self,
        key: &TaskKey,
        submitted_at: DateTime<Utc>,
        previous: Option<&Versioned>,
        worker: &str,
        lease: Duration,
    ) -> Result<Versioned, StoreError> {
        let now = Utc::now();
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
            progress: None,
        };
        let replacing = match previous {
            None => Replacing::Nothing,
            Some(held) => Replacing::Version(&held.etag),
        };
        self.write(key, status, replacing).await
    }

    /// The heartbeat: pushes the lease forward. `Conflict` means another worker took over.
    pub async fn renew(
        &self,
        key: &TaskKey,
        held: &Versioned,
        lease: Duration,
    ) -> Result<Versioned, StoreError> {
        let now = Utc::now();
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
    pub async fn touch(&self, key: &TaskKey, held: &Versioned) -> Result<Versioned, StoreError> {
        let status = TaskStatus {
            updated_at: Utc::now(),
            ..held.status.clone()
        };
        self.write(key, status, Replacing::Version(&held.etag))
            .await
    }

    /// Gives the task up (shutdown): the lease ends now, so the next delivery takes over at
    /// once instead of waiting for it to run out.
    pub async fn release(&self, key: &TaskKey, held: &Versioned) -> Result<Versioned, StoreError> {
        let now = Utc::now();
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
    pub async fn finish_unclaimed(
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
    pub async fn commit(
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
            .map_err(|err| StoreError::Other(format!("serialising the status: {err}")))?;
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key.status())
            .content_type("application/json")
            .body(ByteStream::from(body));
        let request = match replacing {
            Replacing::Nothing => request.if_none_match("*"),
            Replacing::Version(etag) => request.if_match(etag),
        };
        let output = request
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("writing the status", err))?;
        Ok(Versioned {
            status,
            etag: output.e_tag.unwrap_or_default(),
        })
    }
}
