//! Writing a task's artifacts, each exactly once: a create-only write, so that a redelivered
//! or taken-over task keeps the first complete set instead of overwriting it.

use std::sync::Arc;

use bb_aws::{AwsError, ObjectStore, Payload, PutMode};
use shared::{keys::TaskKey, task::ArtifactRef};

use crate::failure::StoreError;

/// One artifact to write.
pub(crate) struct Artifact {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub(crate) struct ArtifactStore {
    artifacts: Arc<dyn ObjectStore>,
}

impl ArtifactStore {
    pub(crate) fn new(artifacts: Arc<dyn ObjectStore>) -> Self {
        Self { artifacts }
    }

    /// Writes every artifact that does not exist yet, and describes what is stored.
    pub(crate) async fn write_once(
        &self,
        key: &TaskKey,
        artifacts: Vec<Artifact>,
    ) -> Result<Vec<ArtifactRef>, StoreError> {
        let mut stored = Vec::with_capacity(artifacts.len());
        for artifact in artifacts {
            let object_key = key.artifact(artifact.name);
            let size = artifact.body.len() as u64;
            let payload = Payload::new(artifact.body, artifact.content_type);
            let size = match self
                .artifacts
                .put(&object_key, payload, PutMode::Create)
                .await
            {
                Ok(_) => size,
                // An earlier attempt wrote it: that version stands.
                Err(AwsError::Conflict(_)) => self.size_of(&object_key).await?,
                Err(err) => return Err(err.into()),
            };
            stored.push(ArtifactRef {
                name: artifact.name.to_owned(),
                key: object_key,
                size,
            });
        }
        Ok(stored)
    }

    async fn size_of(&self, object_key: &str) -> Result<u64, StoreError> {
        let meta = self.artifacts.head(object_key).await?.ok_or_else(|| {
            AwsError::NotFound(format!("reading the size of artifact {object_key}"))
        })?;
        Ok(meta.size)
    }
}
