use std::time::Duration;

use super::*;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(start_paused = true)]
async fn a_received_message_stays_hidden_until_its_timeout() {
    let queue = MemoryQueue::new();
    queue.send("task");
    let first = queue
        .receive(10, WAIT, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);

    let started = tokio::time::Instant::now();
    let again = queue
        .receive(10, WAIT, Duration::from_secs(30))
        .await
        .unwrap();
    // The long poll ran out before the message reappeared.
    assert!(again.is_empty());
    assert_eq!(started.elapsed(), WAIT);

    let third = queue
        .receive(10, WAIT, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(third.len(), 1, "visible again after 30 s");
    assert_eq!(third[0].receive_count, 2);
    assert_ne!(third[0].receipt, first[0].receipt);
}

#[tokio::test(start_paused = true)]
async fn only_the_latest_receipt_settles_a_message() {
    let queue = MemoryQueue::new();
    queue.send("task");
    let first = queue.receive(1, WAIT, Duration::ZERO).await.unwrap();
    let second = queue
        .receive(1, WAIT, Duration::from_secs(60))
        .await
        .unwrap();
    queue.delete(&first[0].receipt).await.unwrap();
    assert_eq!(queue.len(), 1, "a stale receipt does not delete");
    assert!(
        queue
            .change_visibility(&first[0].receipt, Duration::ZERO)
            .await
            .is_err()
    );
    queue.delete(&second[0].receipt).await.unwrap();
    assert!(queue.is_empty());
}

#[tokio::test(start_paused = true)]
async fn change_visibility_hides_or_releases() {
    let queue = MemoryQueue::new();
    queue.send("task");
    let message = queue
        .receive(1, WAIT, Duration::from_secs(600))
        .await
        .unwrap();
    queue
        .change_visibility(&message[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(queue.visible(), 1);
    let message = queue
        .receive(1, WAIT, Duration::from_secs(5))
        .await
        .unwrap();
    queue
        .change_visibility(&message[0].receipt, Duration::from_secs(100))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(99)).await;
    assert_eq!(queue.visible(), 0);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(queue.visible(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_wakes_for_a_send() {
    let queue = std::sync::Arc::new(MemoryQueue::new());
    let sender = queue.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        sender.send("late");
    });
    let started = tokio::time::Instant::now();
    let messages = queue
        .receive(1, WAIT, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn redrive_moves_a_message_received_too_often() {
    let queue = MemoryQueue::with_redrive(2);
    queue.send("poison");
    for _ in 0..2 {
        let message = queue.receive(1, WAIT, Duration::ZERO).await.unwrap();
        assert_eq!(message.len(), 1);
    }
    let none = queue
        .receive(1, Duration::ZERO, Duration::ZERO)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(queue.dead_letters(), vec!["poison".to_owned()]);
    assert!(queue.is_empty());
}
