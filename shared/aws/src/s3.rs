//! Reading an object that may not exist: the one S3 read both agents make, in one place.

use std::collections::BTreeMap;

use aws_sdk_s3::{
    config::http::HttpResponse, error::SdkError, operation::get_object::GetObjectError,
    primitives::ByteStreamError,
};

/// An object's content, with the ETag a conditional write must name and its user metadata
/// (where a task's trace context travels).
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}", aws_sdk_s3::error::DisplayErrorContext(.0.as_ref()))]
    Request(Box<SdkError<GetObjectError, HttpResponse>>),
    /// The answer broke off while its body was read.
    #[error("reading the object's body: {0}")]
    Body(#[from] ByteStreamError),
}

/// The object at `bucket`/`key`, or `None` when there is none.
pub async fn read(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Object>, ReadError> {
    let object = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => object,
        Err(SdkError::ServiceError(err)) if err.err().is_no_such_key() => return Ok(None),
        Err(err) => return Err(ReadError::Request(Box::new(err))),
    };
    let etag = object.e_tag.clone();
    let metadata = object
        .metadata
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let bytes = object.body.collect().await?.to_vec();
    Ok(Some(Object {
        bytes,
        etag,
        metadata,
    }))
}
