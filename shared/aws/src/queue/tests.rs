use std::time::Duration;

use super::*;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(start_paused = true)]
async fn the_memory_queue_honours_the_queue_contract() {
    crate::contract::work_queue(&MemoryQueue::new()).await;
    crate::contract::only_the_latest_receipt_settles_a_message(&MemoryQueue::new()).await;
}

#[tokio::test(start_paused = true)]
async fn visibility_ends_exactly_at_its_timeout() {
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
