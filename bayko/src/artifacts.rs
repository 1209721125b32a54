//! Writing a task's artifacts, each exactly once: a create-only write, so that a redelivered
//! or taken-over task keeps the first complete set instead of overwriting it.

use aws_sdk_s3::primitives::ByteStream;
use shared::{keys::TaskKey, task::ArtifactRef};

use crate::store::StoreError;

/// One artifact to write.
pub struct Artifact {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub struct ArtifactStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl ArtifactStore {
    pub fn new(s3: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { s3, bucket }
    }

    /// Writes every artifact that does not exist yet, and describes what is stored.
    pub async fn write_once(
        &self,
        key: &TaskKey,
        artifacts: Vec<Artifact>,
    ) -> Result<Vec<ArtifactRef>, StoreError> {
        let mut stored = Vec::with_capacity(artifacts.len());
        for artifact in artifacts {
            let object_key = key.artifact(artifact.name);
            let size = artifact.body.len() as u64;
            let written = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(&object_key)
                .if_none_match("*")
                .content_type(artifact.content_type)
                .body(ByteStream::from(artifact.body))
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("writing an artifact", err));
            let size = match written {
                Ok(_) => size,
                // An earlier attempt wrote it: that version stands.
                Err(StoreError::Conflict) => self.size_of(&object_key).await?,
                Err(err) => return Err(err),
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
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(object_key)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("reading an artifact's size", err))?;
        Ok(head.content_length.unwrap_or_default().max(0) as u64)
    }
}
