//! Messages that cannot be processed end in the dead-letter queue, never deleted unexplained.

use bb_tests::TestStack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_message_ends_in_the_dlq() {
    let stack = TestStack::spawn().await;
    stack
        .sqs
        .send_message()
        .queue_url(&stack.provisioned.queue_url)
        .message_body("this is not an event")
        .send()
        .await
        .unwrap();
    let dead = stack
        .receive_until_some(&stack.provisioned.dead_letter_queue_url)
        .await;
    assert_eq!(dead, ["this is not an event"]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_for_a_missing_object_ends_in_the_dlq() {
    let stack = TestStack::spawn().await;
    let key = format!("inbox/default/{}.json", uuid::Uuid::now_v7());
    let event = json!({
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-25T11:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "version": "0",
            "bucket": {"name": stack.tasks_bucket()},
            "object": {"key": key, "size": 10},
            "reason": "PutObject"
        }
    })
    .to_string();
    stack
        .sqs
        .send_message()
        .queue_url(&stack.provisioned.queue_url)
        .message_body(&event)
        .send()
        .await
        .unwrap();
    let dead = stack
        .receive_until_some(&stack.provisioned.dead_letter_queue_url)
        .await;
    assert_eq!(dead, [event]);
    // Nothing was claimed for a task that does not exist.
    assert!(stack.keys(stack.tasks_bucket(), "status/").await.is_empty());
    stack.stop().await;
}
