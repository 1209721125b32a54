//! Reading the task a message points at.

use std::sync::Arc;

use bb_aws::{AwsError, ObjectStore};
use shared::{
    keys::TaskKey,
    task::{TaskDocument, TaskV1},
};

use crate::failure::StoreError;

#[derive(Clone)]
pub(crate) struct Inbox {
    tasks: Arc<dyn ObjectStore>,
}

impl Inbox {
    pub(crate) fn new(tasks: Arc<dyn ObjectStore>) -> Self {
        Self { tasks }
    }

    /// The task at `key`, with the trace context Brown stored beside it (object metadata).
    /// `Invalid` means the object is there but is not a task document for this key: the task
    /// fails with that reason rather than being retried.
    pub(crate) async fn read(
        &self,
        key: &TaskKey,
    ) -> Result<(TaskV1, shared::telemetry::Carrier), StoreError> {
        let object = self
            .tasks
            .get(&key.inbox())
            .await?
            .ok_or_else(|| AwsError::NotFound(format!("reading the task {}", key.inbox())))?;
        let TaskDocument::V1(task) = serde_json::from_slice(&object.body)
            .map_err(|err| StoreError::Invalid(format!("the task document is invalid: {err}")))?;
        if task.task_id != key.task_id || task.tenant != key.tenant.as_str() {
            return Err(StoreError::Invalid(format!(
                "the task document names task {} of tenant {:?}, but is stored at {}",
                task.task_id,
                task.tenant,
                key.inbox()
            )));
        }
        Ok((task, object.meta.metadata))
    }
}
