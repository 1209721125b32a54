//! `GET /v1/tasks/{id}/events` over real HTTP: a task followed to its end, a stream resumed
//! after a disconnect, keep-alives, and the per-tenant cap on open streams.

use std::time::{Duration, Instant};

use bb_tests::{DEADLINE, EventStream, TestStack};
use brown::store::Watched;
use serde_json::{Value, json};
use shared::sse::Frame;

const QUARTERLY: &str = include_str!("../../../examples/quarterly.csv");

fn quarterly_task() -> Value {
    json!({
        "input": "Process quarterly data analysis request",
        "data": {"format": "csv", "content": QUARTERLY},
    })
}

async fn open(stack: &TestStack, task_id: &str, last_event_id: Option<i64>) -> EventStream {
    let response = stack.events(task_id, last_event_id).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    EventStream::new(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_follows_a_task_to_its_end_and_resumes_after_a_disconnect() {
    let mut stack = TestStack::spawn_brown_only().await;
    let task_id = stack.submit_ok(&quarterly_task()).await;

    // No worker yet: the stream says queued, and the client goes away.
    let mut stream = open(&stack, &task_id, None).await;
    let queued = stream.next_status().await.expect("a first event");
    assert_eq!(queued.status["status"], "queued");
    assert_eq!(queued.status["task_id"], task_id.as_str());
    drop(stream);

    // It comes back with the last id it saw: what follows, to the end, and nothing before.
    stack.start_bayko();
    let events = open(&stack, &task_id, Some(queued.id)).await.rest().await;
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|event| event.status["status"] != "queued"),
        "{events:?}"
    );
    let ids: Vec<i64> = events.iter().map(|event| event.id).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]) && ids[0] > queued.id,
        "{ids:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(last.status["status"], "succeeded", "{:?}", last.status);
    assert_eq!(last.status["artifacts"].as_array().map(Vec::len), Some(3));
    // The plan's steps, every one ended.
    assert_eq!(
        last.status["progress"],
        json!({"steps": [
            {"id": "scan", "state": "succeeded"},
            {"id": "analyse", "state": "succeeded"},
            {"id": "summarise", "state": "succeeded"},
        ]})
    );
    // The final event is what the status API says.
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(last.status["finished_at"], status["finished_at"]);

    // Resuming after the final event: nothing more, and the stream ends.
    assert!(
        open(&stack, &task_id, Some(last.id))
            .await
            .rest()
            .await
            .is_empty()
    );
    // A new watcher of a finished task gets its final status, and the end.
    let again = open(&stack, &task_id, None).await.rest().await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, last.id);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_streams_get_keep_alives_and_each_tenant_has_a_cap() {
    let stack = TestStack::spawn_brown_only_configured(|config| {
        config.events_keep_alive = Duration::from_secs(1);
        config.events_max_watchers = 2;
    })
    .await;
    let task_id = stack.submit_ok(&quarterly_task()).await;
    let mut first = open(&stack, &task_id, None).await;
    let mut second = open(&stack, &task_id, None).await;
    for stream in [&mut first, &mut second] {
        assert_eq!(
            stream.next_status().await.unwrap().status["status"],
            "queued"
        );
    }
    // Nothing changes (no worker): a keep-alive comment arrives, the stream stays open.
    assert!(matches!(first.next_frame().await, Some(Frame::Comment(_))));

    let refused = stack.events(&task_id, None).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/too-many-watchers");

    // Closing a stream frees its place.
    drop(first);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let response = stack.events(&task_id, None).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 429);
        assert!(Instant::now() < deadline, "the place was never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let missing = stack.events(&uuid::Uuid::now_v7().to_string(), None).await;
    assert_eq!(missing.status(), 404);
    // Brown stops promptly with a stream still open, and the stream ends.
    stack.stop().await;
    assert!(second.rest().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_status_costs_a_304() {
    let stack = TestStack::spawn().await;
    let task_id = stack.submit_ok(&quarterly_task()).await;
    stack.wait_until_final(&task_id).await;
    let store = brown::store::TaskStore::new(
        std::sync::Arc::new(bb_aws::S3Store::new(stack.s3.clone(), stack.tasks_bucket())),
        brown::store::Probe::Memory,
        Default::default(),
    );
    let key = shared::keys::TaskKey::new(
        shared::keys::Tenant::parse("default").unwrap(),
        task_id.parse().unwrap(),
    );
    let Ok(Watched::Changed { etag, .. }) = store.status_if_changed(&key, None).await else {
        panic!("no status");
    };
    assert!(matches!(
        store.status_if_changed(&key, etag.as_deref()).await,
        Ok(Watched::Unchanged)
    ));
    assert!(matches!(
        store.status_if_changed(&key, Some("\"another\"")).await,
        Ok(Watched::Changed { .. })
    ));
    stack.stop().await;
}
