//! Reading the task a message points at.

use shared::{
    keys::TaskKey,
    task::{TaskDocument, TaskV1},
};

use crate::store::StoreError;

#[derive(Clone)]
pub struct Inbox {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Inbox {
    pub fn new(s3: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { s3, bucket }
    }

    /// The task at `key`, with the trace context Brown stored beside it (object metadata).
    /// `Invalid` means the object is there but is not a task document for this key: the task
    /// fails with that reason rather than being retried.
    pub async fn read(
        &self,
        key: &TaskKey,
    ) -> Result<(TaskV1, shared::telemetry::Carrier), StoreError> {
        let object = bb_aws::s3::read(&self.s3, &self.bucket, &key.inbox())
            .await
            .map_err(|err| StoreError::from_read("reading the task", err))?
            .ok_or_else(|| StoreError::NotFound(key.inbox()))?;
        let TaskDocument::V1(task) = serde_json::from_slice(&object.bytes)
            .map_err(|err| StoreError::Invalid(format!("the task document is invalid: {err}")))?;
        if task.task_id != key.task_id || task.tenant != key.tenant.as_str() {
            return Err(StoreError::Invalid(format!(
                "the task document names task {} of tenant {:?}, but is stored at {}",
                task.task_id,
                task.tenant,
                key.inbox()
            )));
        }
        Ok((task, object.metadata))
    }
}
