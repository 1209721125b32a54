//! Reading the task a message points at, and the upload its data may be in.

use std::sync::Arc;

use bb_aws::{AwsError, Bounded, ObjectStore};
use shared::{
    keys::{TaskKey, upload_key},
    limits::{MAX_TASK_DOCUMENT_BYTES, MAX_UPLOAD_BYTES},
    task::{TaskData, TaskDocument, TaskV1},
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

    /// The task at `key`, with the trace context Brown stored beside it (object metadata), and
    /// its data in hand: an uploaded task's data is read here, so the engine sees inline data.
    /// `Invalid` means the object is there but is not a task document for this key, or its
    /// upload is unusable: the task fails with that reason rather than being retried.
    /// `size` is the object's size as its event reported it: a document over
    /// [`MAX_TASK_DOCUMENT_BYTES`] is refused before it is read.
    pub(crate) async fn read(
        &self,
        key: &TaskKey,
        size: Option<u64>,
    ) -> Result<(TaskV1, shared::telemetry::Carrier), StoreError> {
        let too_large = |size: u64| {
            StoreError::Invalid(format!(
                "the task document is {size} bytes, over the limit of {MAX_TASK_DOCUMENT_BYTES} bytes"
            ))
        };
        if let Some(size) = size.filter(|&size| size > MAX_TASK_DOCUMENT_BYTES) {
            return Err(too_large(size));
        }
        let object = self
            .tasks
            .get(&key.inbox())
            .await?
            .ok_or_else(|| AwsError::NotFound(format!("reading the task {}", key.inbox())))?;
        // An event without a size: the object's own, before it is parsed.
        if object.meta.size > MAX_TASK_DOCUMENT_BYTES {
            return Err(too_large(object.meta.size));
        }
        let TaskDocument::V1(mut task) = serde_json::from_slice(&object.body)
            .map_err(|err| StoreError::Invalid(format!("the task document is invalid: {err}")))?;
        if task.task_id != key.task_id || task.tenant != key.tenant.as_str() {
            return Err(StoreError::Invalid(format!(
                "the task document names task {} of tenant {:?}, but is stored at {}",
                task.task_id,
                task.tenant,
                key.inbox()
            )));
        }
        if let Some(data) = task.data.as_mut() {
            self.read_upload(key, data).await?;
        }
        Ok((task, object.meta.metadata))
    }

    /// Fills `data.content` from its upload, if it has one. The object is the task's tenant's
    /// (the key is built from the tenant, whatever the document says), the version Brown
    /// checked (its ETag), and at most [`MAX_UPLOAD_BYTES`]: the size is checked before the
    /// body is read, and the body goes into one buffer of that size, which becomes the content
    /// without a copy. The parser's limits (rows, columns, cells, depth) apply to it as to any
    /// data.
    async fn read_upload(&self, key: &TaskKey, data: &mut TaskData) -> Result<(), StoreError> {
        let Some(upload) = &data.upload else {
            return Ok(());
        };
        let id = upload.id;
        let object = upload_key(&key.tenant, id);
        let read = match self
            .tasks
            .get_bounded(&object, &upload.etag, MAX_UPLOAD_BYTES)
            .await
        {
            Ok(read) => read,
            Err(AwsError::Conflict(_)) => {
                return Err(StoreError::Invalid(format!(
                    "upload {id} was replaced after the task was accepted"
                )));
            }
            Err(err) => return Err(err.into()),
        };
        let body = match read {
            Bounded::Read(object) => object.body,
            Bounded::Missing => {
                return Err(StoreError::Invalid(format!(
                    "upload {id} is gone (uploads expire a day after they are made)"
                )));
            }
            Bounded::TooLarge(size) => {
                return Err(StoreError::Invalid(format!(
                    "upload {id} is {size} bytes, over the limit of {MAX_UPLOAD_BYTES} bytes"
                )));
            }
        };
        data.content = String::from_utf8(body).map_err(|err| {
            StoreError::Invalid(format!(
                "upload {id} is not UTF-8 text (invalid byte at offset {})",
                err.utf8_error().valid_up_to()
            ))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bb_aws::{MemoryStore, Payload, PutMode};
    use chrono::Utc;
    use shared::{
        keys::Tenant,
        task::{DataFormat, UploadRef},
    };
    use uuid::Uuid;

    use super::*;

    struct Fixture {
        store: Arc<MemoryStore>,
        key: TaskKey,
        upload: Uuid,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                store: Arc::new(MemoryStore::new()),
                key: TaskKey::new(Tenant::parse("acme").unwrap(), Uuid::now_v7()),
                upload: Uuid::new_v4(),
            }
        }

        /// Stores `body` as the tenant's upload and a task pinned to that version.
        async fn task_on_upload(&self, body: Vec<u8>) {
            let size = body.len() as u64;
            let written = self
                .store
                .put(
                    &upload_key(&self.key.tenant, self.upload),
                    Payload::new(body, "text/csv"),
                    PutMode::Overwrite,
                )
                .await
                .unwrap();
            let task = TaskDocument::V1(TaskV1 {
                task_id: self.key.task_id,
                tenant: "acme".into(),
                submitted_at: Utc::now(),
                input: "Summarise".into(),
                data: Some(TaskData {
                    format: DataFormat::Csv,
                    content: String::new(),
                    upload: Some(UploadRef {
                        id: self.upload,
                        size,
                        etag: written.etag,
                    }),
                    group_by: Vec::new(),
                }),
                tools: Vec::new(),
                metadata: Default::default(),
                idempotency_key: None,
                flags: Vec::new(),
            });
            self.store
                .put(
                    &self.key.inbox(),
                    Payload::json(serde_json::to_vec(&task).unwrap()),
                    PutMode::Create,
                )
                .await
                .unwrap();
        }

        async fn read(&self) -> Result<TaskV1, StoreError> {
            Inbox::new(self.store.clone())
                .read(&self.key, None)
                .await
                .map(|(task, _)| task)
        }
    }

    fn invalid(result: Result<TaskV1, StoreError>) -> String {
        match result {
            Err(StoreError::Invalid(reason)) => reason,
            other => panic!("expected an invalid task, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_uploaded_task_is_read_with_its_data() {
        let fixture = Fixture::new();
        fixture.task_on_upload(b"a,b\n1,2\n".to_vec()).await;
        let task = fixture.read().await.unwrap();
        assert_eq!(task.data.unwrap().content, "a,b\n1,2\n");
    }

    #[tokio::test]
    async fn a_replaced_missing_or_binary_upload_fails_the_task_with_a_reason() {
        let fixture = Fixture::new();
        fixture.task_on_upload(b"a,b\n1,2\n".to_vec()).await;
        let object = upload_key(&fixture.key.tenant, fixture.upload);
        fixture
            .store
            .put(
                &object,
                Payload::new("a\n9\n", "text/csv"),
                PutMode::Overwrite,
            )
            .await
            .unwrap();
        assert!(invalid(fixture.read().await).contains("replaced"));
        fixture.store.remove(&object);
        assert!(invalid(fixture.read().await).contains("is gone"));

        let binary = Fixture::new();
        binary.task_on_upload(vec![b'a', 0xff, b'\n']).await;
        assert!(invalid(binary.read().await).contains("not UTF-8"));
    }

    #[tokio::test]
    async fn an_upload_over_the_shared_limit_is_refused_before_it_is_used() {
        let fixture = Fixture::new();
        fixture
            .task_on_upload(vec![b'1'; MAX_UPLOAD_BYTES as usize + 1])
            .await;
        let reason = invalid(fixture.read().await);
        assert!(reason.contains("over the limit"), "{reason}");
    }

    #[tokio::test]
    async fn the_upload_is_the_tasks_tenants_whatever_the_document_says() {
        // A document naming another tenant's upload id still reads under its own tenant.
        let fixture = Fixture::new();
        let other = Tenant::parse("globex").unwrap();
        fixture
            .store
            .put(
                &upload_key(&other, fixture.upload),
                Payload::new("secret\n", "text/plain"),
                PutMode::Overwrite,
            )
            .await
            .unwrap();
        fixture.task_on_upload(b"a\n1\n".to_vec()).await;
        fixture
            .store
            .remove(&upload_key(&fixture.key.tenant, fixture.upload));
        assert!(invalid(fixture.read().await).contains("is gone"));
    }

    #[tokio::test]
    async fn a_task_document_over_the_limit_is_refused_before_it_is_read() {
        let fixture = Fixture::new();
        fixture.task_on_upload(b"a\n1\n".to_vec()).await;
        let inbox = Inbox::new(fixture.store.clone());
        // As its event reports it: refused without a read.
        let Err(StoreError::Invalid(reason)) = inbox
            .read(&fixture.key, Some(MAX_TASK_DOCUMENT_BYTES + 1))
            .await
        else {
            panic!("an oversized task document was read");
        };
        assert!(reason.contains("over the limit"), "{reason}");
        // Within the limit, the same document reads.
        assert!(inbox.read(&fixture.key, Some(1024)).await.is_ok());
    }
}
