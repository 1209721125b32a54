//! One trace from POST to artifact: Brown and Bayko as real processes exporting OTLP/HTTP to a
//! receiver in the test, the trace context carried through S3 object metadata.

use std::time::{Duration, Instant};

use bb_tests::{
    DEADLINE, aws, endpoint,
    logged::LoggedProcess,
    otlp::{OtlpReceiver, ReceivedSpan},
    provision_isolated, stored_status, test_queue_settings,
};
use serde_json::{Value, json};

const QUARTERLY: &str = include_str!("../../../examples/quarterly.csv");

/// Span kinds as OTLP numbers them.
const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

fn otel_env(receiver: &OtlpReceiver) -> [(&str, &str); 2] {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        // Export every 100 ms rather than every 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|span| span.name() == name).collect()
}

fn one<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    match named(spans, name).as_slice() {
        [span] => span,
        other => panic!("expected one {name:?} span, found {}", other.len()),
    }
}

pub(crate) async fn wait_until_final(http: &reqwest::Client, base: &str, task_id: &str) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status: Value = http
            .get(format!("{base}/v1/tasks/{task_id}"))
            .send()
            .await
            .expect("GET status")
            .json()
            .await
            .expect("JSON status");
        if !matches!(status["status"].as_str(), Some("queued" | "running")) {
            return status;
        }
        assert!(Instant::now() < deadline, "not final in time: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_submitted_with_a_traceparent_yields_one_trace_across_brown_and_bayko() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = endpoint();
    let provisioned = provision_isolated(&aws().await, test_queue_settings()).await;
    let otel = otel_env(&receiver);
    let (brown, base, _) = LoggedProcess::brown(&endpoint, &provisioned, &otel).await;
    let bayko = LoggedProcess::bayko(&endpoint, &provisioned, &otel);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let http = bb_tests::client_with_key(brown.api_key.as_deref().expect("Brown's key"))
        .build()
        .expect("an HTTP client");
    let response = http
        .post(format!("{base}/v1/tasks"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({
            "input": "Process quarterly data analysis request",
            "data": {"format": "csv", "content": QUARTERLY},
        }))
        .send()
        .await
        .expect("POST /v1/tasks");
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.expect("JSON");
    assert_eq!(accepted["trace_id"], trace_id);
    let task_id = accepted["task_id"].as_str().expect("task id").to_owned();

    let status = wait_until_final(&http, &base, &task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(
        status["trace_id"], trace_id,
        "the status names the real trace"
    );

    // processing.log: every line carries the trace id; the plan says which steps ran.
    let link = status["artifacts"]
        .as_array()
        .and_then(|artifacts| artifacts.iter().find(|a| a["name"] == "processing.log"))
        .and_then(|artifact| artifact["url"].as_str())
        .expect("a processing.log link");
    // A signed link carries its own authorisation: no key goes with it.
    let log = reqwest::get(link).await.unwrap().text().await.unwrap();
    let events: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().all(|event| event["trace_id"] == trace_id),
        "{log}"
    );
    let steps: Vec<String> = events
        .iter()
        .find(|event| event["event"] == "planned")
        .and_then(|planned| planned["detail"]["steps"].as_array())
        .expect("a planned event")
        .iter()
        .map(|step| step["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(steps.len() >= 3, "{steps:?}");

    let spans = receiver
        .wait_for_trace(trace_id, |spans| {
            !named(spans, "commit status").is_empty()
                && steps
                    .iter()
                    .all(|step| !named(spans, &format!("step {step}")).is_empty())
                && !named(spans, "POST /v1/tasks").is_empty()
        })
        .await;

    // Brown: the server span continues the caller's, the producer span is its child.
    let server = one(&spans, "POST /v1/tasks");
    assert_eq!(server.service, "brown");
    assert_eq!(server.span.kind, SERVER);
    assert_eq!(server.parent_span_id(), caller_span);
    let producer = one(&spans, "send inbox");
    assert_eq!(producer.service, "brown");
    assert_eq!(producer.span.kind, PRODUCER);
    assert_eq!(producer.parent_span_id(), server.span_id());
    assert_eq!(
        producer.attribute("messaging.message.id").as_deref(),
        Some(task_id.as_str())
    );

    // Bayko: receive and process are consumers of Brown's producer span.
    let receive = one(&spans, "receive inbox");
    let process = one(&spans, "process inbox");
    for consumer in [receive, process] {
        assert_eq!(consumer.service, "bayko");
        assert_eq!(consumer.span.kind, CONSUMER);
        assert_eq!(consumer.parent_span_id(), producer.span_id());
    }
    assert_eq!(process.attribute("task.attempt").as_deref(), Some("1"));
    for name in ["claim", "write artifacts", "commit status"] {
        assert_eq!(
            one(&spans, name).parent_span_id(),
            process.span_id(),
            "{name}"
        );
    }
    // A span per step, and under each a client span per tool call.
    for step in &steps {
        let step_span = one(&spans, &format!("step {step}"));
        assert_eq!(step_span.parent_span_id(), process.span_id(), "{step}");
        let calls: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|span| span.parent_span_id() == step_span.span_id())
            .collect();
        assert!(!calls.is_empty(), "no tool call under step {step}");
        for call in calls {
            assert!(call.name().starts_with("tool "), "{}", call.name());
            assert_eq!(call.span.kind, CLIENT);
        }
    }
    assert!(spans.iter().all(|span| span.trace_id() == trace_id));

    // JSON logs carry the task id, tenant and trace id.
    for process in [&brown, &bayko] {
        process
            .wait_for_line(|line| {
                line["task_id"] == task_id.as_str()
                    && line["tenant"] == "default"
                    && line["trace_id"] == trace_id
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_after_a_redelivery_links_to_the_earlier_attempt() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = endpoint();
    let provisioned = provision_isolated(&aws().await, test_queue_settings()).await;
    let otel = otel_env(&receiver);
    let (brown, base, _) = LoggedProcess::brown(&endpoint, &provisioned, &otel).await;
    // The first worker is slow (a pause before each step) and is killed mid-task.
    let slow = [otel[0], otel[1], ("BAYKO_CHAOS_STEP_DELAY_MS", "20000")];
    let mut first = LoggedProcess::bayko(&endpoint, &provisioned, &slow);

    let http = bb_tests::client_with_key(brown.api_key.as_deref().expect("Brown's key"))
        .build()
        .expect("an HTTP client");
    let accepted: Value = http
        .post(format!("{base}/v1/tasks"))
        .json(&json!({"input": "Summarise this short text, please."}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let task_id = accepted["task_id"].as_str().expect("task id").to_owned();
    let trace_id = accepted["trace_id"].as_str().expect("trace id").to_owned();

    let s3 = bb_aws::s3(&aws().await);
    let deadline = Instant::now() + DEADLINE;
    let running = loop {
        if let Some(status) = stored_status(&s3, &provisioned.names.tasks_bucket, &task_id).await
            && status["status"] == "running"
        {
            break status;
        }
        assert!(Instant::now() < deadline, "the task never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let earlier = running["traceparent"].as_str().expect("a traceparent");
    let earlier_span = earlier.split('-').nth(2).expect("a span id").to_owned();
    assert_eq!(earlier.split('-').nth(1), Some(trace_id.as_str()));
    first.kill().await;

    let _second = LoggedProcess::bayko(&endpoint, &provisioned, &otel);
    let status = wait_until_final(&http, &base, &task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["attempt"], 2);
    assert_eq!(status["trace_id"], trace_id.as_str());

    let spans = receiver
        .wait_for_trace(&trace_id, |spans| {
            named(spans, "process inbox")
                .iter()
                .any(|span| span.attribute("task.attempt").as_deref() == Some("2"))
        })
        .await;
    let retry = named(&spans, "process inbox")
        .into_iter()
        .find(|span| span.attribute("task.attempt").as_deref() == Some("2"))
        .expect("the second run");
    let linked: Vec<String> = retry
        .span
        .links
        .iter()
        .map(|link| bb_tests::otlp::hex(&link.span_id))
        .collect();
    assert_eq!(linked, [earlier_span], "the retry links to the first run");
}
