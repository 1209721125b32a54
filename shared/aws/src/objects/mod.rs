//! The object seam: one narrow trait over a bucket, modelled on the `object_store` crate's
//! `PutMode` contract, with the S3 implementation the product runs on and an in-memory one for
//! fast tests of the logic above it. Both honour the same preconditions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::AwsError;

mod memory;
mod s3;

pub use memory::MemoryStore;
pub use s3::S3Store;

/// The objects of one bucket. Keys are the bucket's keys; a missing object is an answer
/// (`None`), not a failure.
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// The object's body and metadata, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Object>, AwsError>;

    /// The object's metadata without its body, or `None` when there is none.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, AwsError>;

    /// The object unless it still has the ETag `unless`: watching an unchanged object then
    /// costs no body. This default reads the whole object; S3 answers a conditional GET with 304.
    async fn get_if_changed(&self, key: &str, unless: Option<&str>) -> Result<Fresh, AwsError> {
        Ok(match self.get(key).await? {
            None => Fresh::Missing,
            Some(object) if unless == Some(object.meta.etag.as_str()) => Fresh::Unchanged,
            Some(object) => Fresh::Changed(object),
        })
    }

    /// The version of the object with ETag `etag`, if it is at most `max_bytes`, read into one
    /// buffer of its size. The size is checked before the body is read; an object replaced
    /// since `etag` is [`AwsError::Conflict`]. This default reads the whole object (memory);
    /// S3 checks the length and streams the body.
    async fn get_bounded(
        &self,
        key: &str,
        etag: &str,
        max_bytes: u64,
    ) -> Result<Bounded, AwsError> {
        Ok(match self.get(key).await? {
            None => Bounded::Missing,
            Some(object) if object.meta.etag != etag => {
                return Err(AwsError::Conflict(format!("reading {key}")));
            }
            Some(object) if object.meta.size > max_bytes => Bounded::TooLarge(object.meta.size),
            Some(object) => Bounded::Read(object),
        })
    }

    /// Writes `payload` at `key` as `mode` allows. A lost precondition is
    /// [`AwsError::Conflict`]; an `Update` of a missing object is [`AwsError::NotFound`], as S3
    /// answers it.
    async fn put(&self, key: &str, payload: Payload, mode: PutMode) -> Result<Written, AwsError>;
}

/// The answer to [`ObjectStore::get_if_changed`].
#[derive(Debug, Clone)]
pub enum Fresh {
    Changed(Object),
    /// Still the version the caller has.
    Unchanged,
    Missing,
}

/// The answer to [`ObjectStore::get_bounded`].
#[derive(Debug, Clone)]
pub enum Bounded {
    Read(Object),
    /// The object is this many bytes, over the bound; its body was not read.
    TooLarge(u64),
    Missing,
}

/// What a write may replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Only if nothing is there yet (`If-None-Match: *`).
    Create,
    /// Only the version with this ETag (`If-Match`).
    Update(String),
    /// Whatever is there.
    Overwrite,
}

/// An object's content and metadata.
#[derive(Debug, Clone)]
pub struct Object {
    pub body: Vec<u8>,
    pub meta: ObjectMeta,
}

/// What the store says about an object besides its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The version a conditional write must name.
    pub etag: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`), keys lower-case.
    pub metadata: BTreeMap<String, String>,
}

/// A body to write, with its content type and user metadata.
#[derive(Debug, Clone)]
pub struct Payload {
    pub body: Vec<u8>,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
}

impl Payload {
    pub fn new(body: impl Into<Vec<u8>>, content_type: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            content_type: content_type.into(),
            metadata: BTreeMap::new(),
        }
    }

    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::new(body, "application/json")
    }

    /// Adds one user metadata entry; the key is stored lower-case, as S3 does.
    pub fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metadata.insert(key.to_lowercase(), value.into());
        self
    }
}

/// The result of a successful write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The new version's ETag.
    pub etag: String,
}

#[cfg(test)]
mod tests;
