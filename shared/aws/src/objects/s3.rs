//! [`ObjectStore`] on S3 (or an emulator), through aws-sdk-s3.

use aws_sdk_s3::{operation::get_object::GetObjectOutput, primitives::ByteStream};
use chrono::{DateTime, Utc};

use super::{Bounded, Fresh, Object, ObjectMeta, ObjectStore, Payload, PutMode, Written};
use crate::AwsError;

/// One S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    async fn get(&self, key: &str) -> Result<Option<Object>, AwsError> {
        let action = format!("reading s3://{}/{key}", self.bucket);
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let output = match output.map_err(|err| AwsError::from_sdk(&action, err)) {
            Ok(output) => output,
            Err(AwsError::NotFound(_)) => return Ok(None),
            Err(err) => return Err(err),
        };
        let meta = get_meta(&output);
        let body = output
            .body
            .collect()
            .await
            // The answer broke off mid-body: a network failure, worth retrying.
            .map_err(|err| AwsError::Transient(format!("{action}: reading the body: {err}")))?
            .to_vec();
        Ok(Some(Object {
            meta: ObjectMeta {
                size: body.len() as u64,
                ..meta
            },
            body,
        }))
    }

    async fn get_if_changed(&self, key: &str, unless: Option<&str>) -> Result<Fresh, AwsError> {
        let action = format!("watching s3://{}/{key}", self.bucket);
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_if_none_match(unless.map(str::to_owned))
            .send()
            .await;
        let output = match output {
            Ok(output) => output,
            Err(err) if err.raw_response().map(|raw| raw.status().as_u16()) == Some(304) => {
                return Ok(Fresh::Unchanged);
            }
            Err(err) => match AwsError::from_sdk(&action, err) {
                AwsError::NotFound(_) => return Ok(Fresh::Missing),
                err => return Err(err),
            },
        };
        let meta = get_meta(&output);
        let body = output
            .body
            .collect()
            .await
            .map_err(|err| AwsError::Transient(format!("{action}: reading the body: {err}")))?
            .to_vec();
        Ok(Fresh::Changed(Object {
            meta: ObjectMeta {
                size: body.len() as u64,
                ..meta
            },
            body,
        }))
    }

    async fn get_bounded(
        &self,
        key: &str,
        etag: &str,
        max_bytes: u64,
    ) -> Result<Bounded, AwsError> {
        let action = format!("reading s3://{}/{key}", self.bucket);
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(etag)
            .send()
            .await;
        let mut output = match output.map_err(|err| AwsError::from_sdk(&action, err)) {
            Ok(output) => output,
            Err(AwsError::NotFound(_)) => return Ok(Bounded::Missing),
            Err(err) => return Err(err),
        };
        let meta = get_meta(&output);
        // Dropping the unread body closes the connection: nothing over the bound is read.
        if meta.size > max_bytes {
            return Ok(Bounded::TooLarge(meta.size));
        }
        // One buffer of the announced size; a body that outgrows it is refused, not grown.
        let mut body = Vec::with_capacity(meta.size as usize);
        while let Some(chunk) = output
            .body
            .try_next()
            .await
            .map_err(|err| AwsError::Transient(format!("{action}: reading the body: {err}")))?
        {
            if (body.len() + chunk.len()) as u64 > meta.size {
                return Ok(Bounded::TooLarge((body.len() + chunk.len()) as u64));
            }
            body.extend_from_slice(&chunk);
        }
        if body.len() as u64 != meta.size {
            return Err(AwsError::Transient(format!(
                "{action}: the body ended after {} of {} bytes",
                body.len(),
                meta.size
            )));
        }
        Ok(Bounded::Read(Object { body, meta }))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, AwsError> {
        let action = format!("looking up s3://{}/{key}", self.bucket);
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match head.map_err(|err| AwsError::from_sdk(&action, err)) {
            Ok(head) => Ok(Some(ObjectMeta {
                etag: head.e_tag.unwrap_or_default(),
                size: head.content_length.unwrap_or_default().max(0) as u64,
                last_modified: head.last_modified.and_then(to_chrono),
                content_type: head.content_type,
                metadata: head.metadata.unwrap_or_default().into_iter().collect(),
            })),
            Err(AwsError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn put(&self, key: &str, payload: Payload, mode: PutMode) -> Result<Written, AwsError> {
        let action = format!("writing s3://{}/{key}", self.bucket);
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(payload.content_type)
            .set_metadata(
                (!payload.metadata.is_empty()).then(|| payload.metadata.into_iter().collect()),
            )
            .body(ByteStream::from(payload.body));
        let request = match mode {
            PutMode::Create => request.if_none_match("*"),
            PutMode::Update(etag) => request.if_match(etag),
            PutMode::Overwrite => request,
        };
        let output = request
            .send()
            .await
            .map_err(|err| AwsError::from_sdk(&action, err))?;
        Ok(Written {
            etag: output.e_tag.unwrap_or_default(),
        })
    }
}

fn get_meta(output: &GetObjectOutput) -> ObjectMeta {
    ObjectMeta {
        etag: output.e_tag.clone().unwrap_or_default(),
        size: output.content_length.unwrap_or_default().max(0) as u64,
        last_modified: output.last_modified.and_then(to_chrono),
        content_type: output.content_type.clone(),
        metadata: output
            .metadata
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    }
}

fn to_chrono(at: aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}
