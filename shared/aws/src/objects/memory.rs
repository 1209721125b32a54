//! [`ObjectStore`] in memory, for fast tests of the logic above the seam. It answers as S3
//! does: create-only and if-match writes lose with a conflict, every write makes a new ETag.

use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono::Utc;

use super::{Object, ObjectMeta, ObjectStore, Payload, PutMode, Written};
use crate::AwsError;

/// One bucket's objects, held in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<HashMap<String, Object>>,
    versions: AtomicU64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys stored, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Removes an object, as a test's outside actor might.
    pub fn remove(&self, key: &str) -> Option<Object> {
        self.lock().remove(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Object>> {
        // A panic while holding the map cannot leave it half-updated: every change is one insert.
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Object>, AwsError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, AwsError> {
        Ok(self.lock().get(key).map(|object| object.meta.clone()))
    }

    async fn put(&self, key: &str, payload: Payload, mode: PutMode) -> Result<Written, AwsError> {
        let action = || format!("writing memory://{key}");
        let mut objects = self.lock();
        match (&mode, objects.get(key)) {
            (PutMode::Create, Some(_)) => return Err(AwsError::Conflict(action())),
            (PutMode::Update(_), None) => return Err(AwsError::NotFound(action())),
            (PutMode::Update(etag), Some(current)) if current.meta.etag != *etag => {
                return Err(AwsError::Conflict(action()));
            }
            _ => {}
        }
        let version = self.versions.fetch_add(1, Ordering::Relaxed) + 1;
        let etag = format!("\"{version:032x}\"");
        let meta = ObjectMeta {
            etag: etag.clone(),
            size: payload.body.len() as u64,
            last_modified: Some(Utc::now()),
            content_type: Some(payload.content_type),
            metadata: payload.metadata,
        };
        objects.insert(
            key.to_owned(),
            Object {
                body: payload.body,
                meta,
            },
        );
        Ok(Written { etag })
    }
}
