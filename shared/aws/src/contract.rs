//! The contract of the seams as assertions any implementation must pass: this crate's unit tests
//! run them on the in-memory implementations (on tokio's paused clock), `bb-tests` on S3 and SQS
//! in the emulator (on the real one). So the stand-ins the fast tests use are proven to behave
//! like the real thing.
//!
//! Waits are `tokio::time` sleeps and long polls, which a paused clock skips; every wait for
//! something to happen polls until a deadline, so a slow machine only makes the real run slower.

use std::time::Duration;

use crate::{AwsError, Bounded, ObjectStore, Payload, PutMode};

/// How long a contract check waits for a message to come back.
const DEADLINE: Duration = Duration::from_secs(60);

/// Every object check, on keys under `prefix` (each run needs a fresh prefix).
pub async fn object_store(store: &dyn ObjectStore, prefix: &str) {
    a_create_only_write_loses_to_an_existing_object(store, &format!("{prefix}/create")).await;
    an_if_match_write_needs_the_current_etag(store, &format!("{prefix}/update")).await;
    overwrite_replaces_and_head_reports_metadata(store, &format!("{prefix}/overwrite")).await;
    a_bounded_read_checks_version_and_size(store, &format!("{prefix}/bounded")).await;
}

async fn a_bounded_read_checks_version_and_size(store: &dyn ObjectStore, key: &str) {
    let missing = store.get_bounded(key, "\"none\"", 1024).await.unwrap();
    assert!(matches!(missing, Bounded::Missing), "{missing:?}");
    let body = "a,b\n1,2\n".repeat(100);
    let size = body.len() as u64;
    let written = store
        .put(
            key,
            Payload::new(body.clone(), "text/csv"),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    match store.get_bounded(key, &written.etag, size).await.unwrap() {
        Bounded::Read(object) => {
            assert_eq!(object.body, body.as_bytes());
            assert_eq!(object.meta.size, size);
        }
        other => panic!("a read within the bound answered {other:?}"),
    }
    let over = store
        .get_bounded(key, &written.etag, size - 1)
        .await
        .unwrap();
    assert!(
        matches!(over, Bounded::TooLarge(n) if n == size),
        "{over:?}"
    );
    store
        .put(
            key,
            Payload::new("replaced", "text/csv"),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    let stale = store.get_bounded(key, &written.etag, size).await;
    assert!(matches!(stale, Err(AwsError::Conflict(_))), "{stale:?}");
}

async fn a_create_only_write_loses_to_an_existing_object(store: &dyn ObjectStore, key: &str) {
    let first = store
        .put(key, Payload::json("1"), PutMode::Create)
        .await
        .unwrap();
    let second = store.put(key, Payload::json("2"), PutMode::Create).await;
    assert!(matches!(second, Err(AwsError::Conflict(_))), "{second:?}");
    let object = store.get(key).await.unwrap().unwrap();
    assert_eq!(object.body, b"1");
    assert_eq!(object.meta.etag, first.etag);
}

async fn an_if_match_write_needs_the_current_etag(store: &dyn ObjectStore, key: &str) {
    let first = store
        .put(key, Payload::json("1"), PutMode::Create)
        .await
        .unwrap();
    let second = store
        .put(key, Payload::json("2"), PutMode::Update(first.etag.clone()))
        .await
        .unwrap();
    assert_ne!(first.etag, second.etag);
    // The first version's holder lost the race.
    let stale = store
        .put(key, Payload::json("3"), PutMode::Update(first.etag))
        .await;
    assert!(matches!(stale, Err(AwsError::Conflict(_))), "{stale:?}");
    assert_eq!(store.get(key).await.unwrap().unwrap().body, b"2");
    let missing = store
        .put(
            &format!("{key}-missing"),
            Payload::json("x"),
            PutMode::Update(second.etag),
        )
        .await;
    assert!(matches!(missing, Err(AwsError::NotFound(_))), "{missing:?}");
}

async fn overwrite_replaces_and_head_reports_metadata(store: &dyn ObjectStore, key: &str) {
    assert!(store.head(key).await.unwrap().is_none());
    assert!(store.get(key).await.unwrap().is_none());
    store
        .put(key, Payload::json("old"), PutMode::Overwrite)
        .await
        .unwrap();
    let written = store
        .put(
            key,
            Payload::new("new body", "text/plain").with_metadata("Trace-Id", "abc"),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    let meta = store.head(key).await.unwrap().unwrap();
    assert_eq!(meta.etag, written.etag);
    assert_eq!(meta.size, 8);
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        meta.metadata.get("trace-id").map(String::as_str),
        Some("abc")
    );
    assert!(meta.last_modified.is_some());
    let object = store.get(key).await.unwrap().unwrap();
    assert_eq!(object.body, b"new body");
    assert_eq!(object.meta, meta);
}

#[cfg(feature = "sqs")]
pub use queue::{FillableQueue, only_the_latest_receipt_settles_a_message, work_queue};

#[cfg(feature = "sqs")]
mod queue {
    use std::time::Duration;

    use super::DEADLINE;
    use crate::{MemoryQueue, Message, SqsQueue, WorkQueue};

    /// Long enough that a receive right after another cannot outlive it on a loaded machine.
    const VISIBILITY: Duration = Duration::from_secs(10);
    /// The long poll of a receive expected to find nothing.
    const SHORT_POLL: Duration = Duration::from_secs(1);

    /// A queue the contract can fill: the seam has no send, as the worker never sends.
    #[async_trait::async_trait]
    pub trait FillableQueue: WorkQueue {
        async fn send(&self, body: &str);
    }

    #[async_trait::async_trait]
    impl FillableQueue for MemoryQueue {
        async fn send(&self, body: &str) {
            MemoryQueue::send(self, body);
        }
    }

    #[async_trait::async_trait]
    impl FillableQueue for SqsQueue {
        async fn send(&self, body: &str) {
            self.client
                .send_message()
                .queue_url(&self.url)
                .message_body(body)
                .send()
                .await
                .expect("sending a message");
        }
    }

    /// Every queue check, in turn; `queue` must start empty and ends empty.
    pub async fn work_queue(queue: &dyn FillableQueue) {
        a_received_message_stays_hidden_until_its_timeout(queue).await;
        change_visibility_hides_or_releases(queue).await;
    }

    async fn a_received_message_stays_hidden_until_its_timeout(queue: &dyn FillableQueue) {
        queue.send("hidden").await;
        let first = receive_one(queue, VISIBILITY).await;
        assert_eq!(first.body, "hidden");
        assert_eq!(first.receive_count, 1);
        assert_nothing_visible(queue).await;
        let again = receive_one(queue, VISIBILITY).await;
        assert_eq!(again.id, first.id);
        assert_eq!(again.receive_count, 2);
        assert_ne!(again.receipt, first.receipt);
        queue.delete(&again.receipt).await.unwrap();
        assert_nothing_visible(queue).await;
    }

    /// SQS's rule, which the in-memory queue keeps. Not in [`work_queue`]: moto deletes the
    /// message on a stale receipt, so the emulator cannot run this check.
    pub async fn only_the_latest_receipt_settles_a_message(queue: &dyn FillableQueue) {
        queue.send("settled").await;
        let first = receive_one(queue, Duration::ZERO).await;
        let second = receive_one(queue, VISIBILITY).await;
        assert_eq!(second.id, first.id);
        // SQS may accept or refuse a stale receipt; either way the message stays.
        let _ = queue.delete(&first.receipt).await;
        queue
            .change_visibility(&second.receipt, Duration::ZERO)
            .await
            .unwrap();
        let third = receive_one(queue, VISIBILITY).await;
        assert_eq!(third.id, first.id, "a stale receipt does not delete");
        assert_eq!(third.receive_count, 3);
        queue.delete(&third.receipt).await.unwrap();
        assert_nothing_visible(queue).await;
    }

    async fn change_visibility_hides_or_releases(queue: &dyn FillableQueue) {
        queue.send("moved").await;
        let hidden_long = receive_one(queue, Duration::from_secs(600)).await;
        queue
            .change_visibility(&hidden_long.receipt, Duration::ZERO)
            .await
            .unwrap();
        let released = receive_one(queue, Duration::from_secs(1)).await;
        assert_eq!(released.id, hidden_long.id);
        queue
            .change_visibility(&released.receipt, Duration::from_secs(600))
            .await
            .unwrap();
        assert_nothing_visible(queue).await;
        queue
            .change_visibility(&released.receipt, Duration::ZERO)
            .await
            .unwrap();
        let last = receive_one(queue, VISIBILITY).await;
        queue.delete(&last.receipt).await.unwrap();
    }

    /// Receives until exactly one message comes, within the deadline.
    async fn receive_one(queue: &dyn FillableQueue, visibility: Duration) -> Message {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let mut messages = queue.receive(10, SHORT_POLL, visibility).await.unwrap();
            assert!(messages.len() <= 1, "one message expected: {messages:?}");
            if let Some(message) = messages.pop() {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message within {DEADLINE:?}"
            );
        }
    }

    async fn assert_nothing_visible(queue: &dyn FillableQueue) {
        let messages = queue.receive(10, SHORT_POLL, Duration::ZERO).await.unwrap();
        assert!(
            messages.is_empty(),
            "nothing should be visible: {messages:?}"
        );
    }
}
