//! Large task data by upload. Brown presigns a PUT into the tenant's `uploads/` space, bound to
//! the size the client declared (S3 refuses any other `Content-Length`), and, when a task names
//! the upload, checks with a HEAD that it exists in that tenant's space and fits the limit.
//! Brown never reads an upload's body: Bayko does, checking the size again.
//!
//! The key is always built from the authenticated tenant and the upload id
//! ([`shared::keys::upload_key`]); a client never sends a key, so it cannot name another
//! tenant's object, and the signature covers the key, so a URL cannot be pointed elsewhere.

use std::{collections::BTreeMap, time::Duration};

use anyhow::Context;
use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, Utc};
use shared::{
    keys::{Tenant, upload_key},
    task::UploadRef,
};
use uuid::Uuid;

use crate::{app::AppState, error::ApiError};

/// Presigns upload PUTs into the tasks bucket.
#[derive(Clone)]
pub struct UploadSigner {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

/// A presigned PUT: send exactly these headers, before `expires_at`.
#[derive(Debug)]
pub struct PresignedPut {
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

impl UploadSigner {
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
        }
    }

    /// A URL that PUTs exactly `size` bytes at `key`, valid for `ttl`.
    pub async fn presign_put(
        &self,
        key: &str,
        size: u64,
        ttl: Duration,
    ) -> anyhow::Result<PresignedPut> {
        let presigning = PresigningConfig::expires_in(ttl).context("upload URL lifetime")?;
        let length = i64::try_from(size).context("upload size")?;
        // Boxed, as in `links`: the SDK's presigning future is kilobytes.
        let request = Box::pin(
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_length(length)
                .presigned(presigning),
        )
        .await
        .context("presigning an upload")?;
        let headers = request
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        Ok(PresignedPut {
            url: request.uri().to_owned(),
            headers,
            expires_at: Utc::now() + ttl,
        })
    }
}

/// The tenant's upload `id`, as it is now: it must exist in the tenant's space, hold something
/// and fit the configured limit. The answer pins its size and ETag for Bayko.
pub async fn check(state: &AppState, tenant: &Tenant, id: Uuid) -> Result<UploadRef, ApiError> {
    let meta = state
        .store
        .upload(&upload_key(tenant, id))
        .await?
        .ok_or(ApiError::UploadNotFound(id))?;
    let limit = state.config.upload_max_bytes;
    if meta.size == 0 {
        return Err(ApiError::UploadEmpty(id));
    }
    if meta.size > limit {
        return Err(ApiError::UploadTooLarge {
            id,
            size: meta.size,
            limit,
        });
    }
    Ok(UploadRef {
        id,
        size: meta.size,
        etag: meta.etag,
    })
}
