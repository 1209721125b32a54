//! `Task Finished` events: Bayko publishes one per finished task to the configured bus, and a
//! user's rule routes it (here to a queue of the test's own).

use std::time::Instant;

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use bb_tests::{DEADLINE, TestStack, bayko_config};
use serde_json::{Value, json};
use shared::{
    finished::{DETAIL_TYPE, SOURCE, TaskFinished},
    task::TaskState,
};

const QUARTERLY: &str = include_str!("../../../examples/quarterly.csv");

/// A bus with a rule that sends `Task Finished` to a new queue; returns the bus and the queue.
async fn bus_routed_to_a_queue(stack: &TestStack) -> (String, String) {
    let name = format!("{}-finished", stack.provisioned.names.queue);
    let events = aws_sdk_eventbridge::Client::new(&stack.aws);
    events
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("creating the bus");
    let queue_url = stack
        .sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("creating the queue")
        .queue_url
        .expect("a queue url");
    let queue_arn = stack
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .expect("a queue arn");
    events
        .put_rule()
        .name(&name)
        .event_bus_name(&name)
        .event_pattern(json!({"source": [SOURCE], "detail-type": [DETAIL_TYPE]}).to_string())
        .send()
        .await
        .expect("creating the rule");
    events
        .put_targets()
        .rule(&name)
        .event_bus_name(&name)
        .targets(
            Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("targeting the queue");
    (name, queue_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_finished_reaches_a_queue_through_a_rule() {
    let mut stack = TestStack::spawn_brown_only().await;
    let (bus, queue_url) = bus_routed_to_a_queue(&stack).await;
    let mut config = bayko_config(&stack.provisioned);
    config.event_bus = Some(bus);
    stack.start_bayko_with(config);

    let task_id = stack
        .submit_ok(&json!({
            "input": "Process quarterly data analysis request",
            "data": {"format": "csv", "content": QUARTERLY},
        }))
        .await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");

    let bodies = stack.receive_until_some(&queue_url).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let event: Value = serde_json::from_str(&bodies[0]).expect("an EventBridge event");
    assert_eq!(event["source"], SOURCE);
    assert_eq!(event["detail-type"], DETAIL_TYPE);
    let finished: TaskFinished =
        serde_json::from_value(event["detail"].clone()).expect("a Task Finished detail");
    assert_eq!(finished.task_id.to_string(), task_id);
    assert_eq!(finished.tenant, "default");
    assert_eq!(finished.state, TaskState::Succeeded);
    assert_eq!(finished.attempt, 1);
    let keys: Vec<&str> = finished.artifacts.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            format!("default/{task_id}/output_payload.json"),
            format!("default/{task_id}/processing.log"),
            format!("default/{task_id}/quality_metrics.json"),
        ]
    );
    let metrics = finished.metrics.expect("metrics");
    assert!(metrics.tools_used.contains(&"data-processor".to_owned()));
    // How the task ended, never what the data was.
    assert!(!bodies[0].contains("120000.5") && !bodies[0].contains("north"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpublishable_event_is_counted_and_the_task_still_finishes() {
    let mut stack = TestStack::spawn_brown_only().await;
    let mut config = bayko_config(&stack.provisioned);
    config.event_bus = Some(format!("{}-no-such-bus", stack.provisioned.names.queue));
    let worker = bayko::Worker::new(config, &stack.aws);
    let observer = worker.clone();
    stack.start_worker(worker);

    let task_id = stack.submit_ok(&json!({"input": "Summarise this"})).await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let deadline = Instant::now() + DEADLINE;
    while observer.completion_failures() == 0 {
        assert!(Instant::now() < deadline, "the failure was never counted");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(observer.completion_failures(), 1);
    // The task's message is acknowledged all the same.
    stack.wait_until_drained(&stack.provisioned.queue_url).await;
    stack.stop().await;
}
