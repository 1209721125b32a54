//! The SQS message body that EventBridge delivers for an S3 "Object Created" event.
//!
//! The event's `id` is not an identity (emulators repeat it; AWS may deliver one event twice):
//! the task key inside it is.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::keys::{KeyError, TaskKey};

/// What Bayko needs from one event: which bucket, which task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub bucket: String,
    pub key: String,
    pub task: TaskKey,
    /// Size S3 reported for the object, if it did.
    pub size: Option<u64>,
    /// When S3 created the object, by the event: how long a task waited is measured from here.
    pub time: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("message body is not an EventBridge event: {0}")]
    NotAnEvent(#[from] serde_json::Error),
    #[error("event source is {0:?}, expected \"aws.s3\"")]
    UnexpectedSource(String),
    #[error("event detail-type is {0:?}, expected \"Object Created\"")]
    UnexpectedDetailType(String),
    #[error("object key is not a task: {0}")]
    NotATask(#[from] KeyError),
}

#[derive(Deserialize)]
struct Envelope {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    time: Option<DateTime<Utc>>,
    detail: Detail,
}

#[derive(Deserialize)]
struct Detail {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
}

impl ObjectCreated {
    /// Parses an SQS body. Anything else than an S3 "Object Created" event for an inbox task
    /// is an error: the caller leaves such a message for the queue's redrive.
    pub fn from_sqs_body(body: &str) -> Result<Self, EnvelopeError> {
        let envelope: Envelope = serde_json::from_str(body)?;
        if envelope.source != "aws.s3" {
            return Err(EnvelopeError::UnexpectedSource(envelope.source));
        }
        if envelope.detail_type != "Object Created" {
            return Err(EnvelopeError::UnexpectedDetailType(envelope.detail_type));
        }
        let Detail { bucket, object } = envelope.detail;
        let task = TaskKey::from_inbox_key(&object.key)?;
        Ok(Self {
            bucket: bucket.name,
            key: object.key,
            task,
            size: object.size,
            time: envelope.time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(source: &str, detail_type: &str, key: &str) -> String {
        json!({
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": "2026-11-25T11:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:s3:::tasks"],
            "detail": {
                "version": "0",
                "bucket": {"name": "tasks"},
                "object": {"key": key, "size": 120, "etag": "abc", "sequencer": "00"},
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": "123456789012",
                "reason": "PutObject"
            }
        })
        .to_string()
    }

    #[test]
    fn parses_an_inbox_object_created_event() {
        let id = uuid::Uuid::now_v7();
        let key = format!("inbox/acme/{id}.json");
        let parsed =
            ObjectCreated::from_sqs_body(&event("aws.s3", "Object Created", &key)).unwrap();
        assert_eq!(parsed.bucket, "tasks");
        assert_eq!(parsed.key, key);
        assert_eq!(parsed.task.task_id, id);
        assert_eq!(parsed.task.tenant.as_str(), "acme");
        assert_eq!(parsed.size, Some(120));
        assert_eq!(parsed.time, Some("2026-11-25T11:00:00Z".parse().unwrap()));
    }

    #[test]
    fn rejects_everything_else() {
        let id = uuid::Uuid::now_v7();
        let key = format!("inbox/acme/{id}.json");
        assert!(matches!(
            ObjectCreated::from_sqs_body("not json"),
            Err(EnvelopeError::NotAnEvent(_))
        ));
        assert!(matches!(
            ObjectCreated::from_sqs_body("{\"source\": \"aws.s3\"}"),
            Err(EnvelopeError::NotAnEvent(_))
        ));
        assert!(matches!(
            ObjectCreated::from_sqs_body(&event("aws.ec2", "Object Created", &key)),
            Err(EnvelopeError::UnexpectedSource(_))
        ));
        assert!(matches!(
            ObjectCreated::from_sqs_body(&event("aws.s3", "Object Tags Added", &key)),
            Err(EnvelopeError::UnexpectedDetailType(_))
        ));
        assert!(matches!(
            ObjectCreated::from_sqs_body(&event("aws.s3", "Object Created", "other/x.json")),
            Err(EnvelopeError::NotATask(_))
        ));
    }
}
