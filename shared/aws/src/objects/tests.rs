use super::*;

#[tokio::test]
async fn a_create_only_write_loses_to_an_existing_object() {
    let store = MemoryStore::new();
    let first = store
        .put("k", Payload::json("1"), PutMode::Create)
        .await
        .unwrap();
    let second = store.put("k", Payload::json("2"), PutMode::Create).await;
    assert!(matches!(second, Err(AwsError::Conflict(_))), "{second:?}");
    let object = store.get("k").await.unwrap().unwrap();
    assert_eq!(object.body, b"1");
    assert_eq!(object.meta.etag, first.etag);
}

#[tokio::test]
async fn an_if_match_write_needs_the_current_etag() {
    let store = MemoryStore::new();
    let first = store
        .put("k", Payload::json("1"), PutMode::Create)
        .await
        .unwrap();
    let second = store
        .put("k", Payload::json("2"), PutMode::Update(first.etag.clone()))
        .await
        .unwrap();
    assert_ne!(first.etag, second.etag);
    // The first version's holder lost the race.
    let stale = store
        .put("k", Payload::json("3"), PutMode::Update(first.etag))
        .await;
    assert!(matches!(stale, Err(AwsError::Conflict(_))), "{stale:?}");
    assert_eq!(store.get("k").await.unwrap().unwrap().body, b"2");
    let missing = store
        .put("nothing", Payload::json("x"), PutMode::Update(second.etag))
        .await;
    assert!(matches!(missing, Err(AwsError::NotFound(_))), "{missing:?}");
}

#[tokio::test]
async fn overwrite_replaces_and_head_reports_metadata() {
    let store = MemoryStore::new();
    assert!(store.head("k").await.unwrap().is_none());
    assert!(store.get("k").await.unwrap().is_none());
    store
        .put("k", Payload::json("old"), PutMode::Overwrite)
        .await
        .unwrap();
    let written = store
        .put(
            "k",
            Payload::new("new body", "text/plain").with_metadata("Trace-Id", "abc"),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    let meta = store.head("k").await.unwrap().unwrap();
    assert_eq!(meta.etag, written.etag);
    assert_eq!(meta.size, 8);
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        meta.metadata.get("trace-id").map(String::as_str),
        Some("abc")
    );
    assert!(meta.last_modified.is_some());
}
