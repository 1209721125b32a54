//! The whole pipe: Brown → S3 → EventBridge → SQS → Bayko → artifacts and status.

use std::collections::BTreeMap;

use bb_tests::TestStack;
use serde_json::{Value, json};

const QUARTERLY: &str = include_str!("../../../examples/quarterly.csv");

/// Column statistics computed here, independently of the data-processor.
struct Expected {
    count: usize,
    sum: f64,
    mean: f64,
    min: f64,
    max: f64,
    stddev: f64,
}

fn expected(values: &[f64]) -> Expected {
    let count = values.len();
    let sum: f64 = values.iter().sum();
    let mean = sum / count as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1) as f64;
    Expected {
        count,
        sum,
        mean,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        stddev: variance.sqrt(),
    }
}

/// The sample CSV has no quoting, so a plain split reads it.
fn column(csv: &str, name: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let index = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|line| line.split(',').nth(index).unwrap().parse().unwrap())
        .collect()
}

fn close(actual: &Value, expected: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{actual} is not a number"));
    assert!(
        (actual - expected).abs() <= 1e-6 * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_task_succeeds_with_three_correct_artifacts() {
    let stack = TestStack::spawn().await;
    let task_id = stack
        .submit_ok(&json!({
            "input": "Process quarterly data analysis request",
            "data": {"format": "csv", "content": QUARTERLY},
            "tools": ["data-processor"],
        }))
        .await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["attempt"], 1);
    assert!(status.get("error").is_none());
    // Scan → analyse → summarise: three tools, no LLM configured.
    assert_eq!(
        status["metrics"]["tools_used"],
        json!(["compliance-scanner", "data-processor", "document-processor"])
    );
    assert!(status["metrics"]["processing_time_ms"].is_u64());
    for field in ["submitted_at", "started_at", "finished_at", "updated_at"] {
        assert!(status[field].is_string(), "{field} missing: {status}");
    }

    let names: Vec<&str> = status["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "output_payload.json",
            "processing.log",
            "quality_metrics.json"
        ]
    );

    let payload: Value =
        serde_json::from_str(&stack.download(&status, "output_payload.json").await).unwrap();
    assert_eq!(payload["task_id"], task_id.as_str());
    let numeric = &payload["steps"]["analyse"]["output"]["numeric"];
    for name in ["revenue", "units", "cost"] {
        let want = expected(&column(QUARTERLY, name));
        let got = &numeric[name];
        assert_eq!(got["count"], want.count, "{name}");
        close(&got["sum"], want.sum);
        close(&got["mean"], want.mean);
        close(&got["min"], want.min);
        close(&got["max"], want.max);
        close(&got["stddev"], want.stddev);
    }

    // Totals grouped by the first text column that is not a period (region, not quarter),
    // checked against a hand-made sum.
    let mut by_region: BTreeMap<&str, f64> = BTreeMap::new();
    for line in QUARTERLY.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        *by_region.entry(cells[1]).or_default() += cells[2].parse::<f64>().unwrap();
    }
    let groups = &payload["steps"]["analyse"]["output"]["group_by"];
    assert_eq!(groups["column"], "region");
    assert_eq!(groups["groups"].as_object().unwrap().len(), by_region.len());
    for (region, revenue) in by_region {
        close(&groups["groups"][region]["totals"]["revenue"], revenue);
        assert_eq!(groups["groups"][region]["rows"], 4);
    }

    let quality: Value =
        serde_json::from_str(&stack.download(&status, "quality_metrics.json").await).unwrap();
    assert_eq!(quality["rows"]["total"], 8);
    assert_eq!(quality["checks_passed"], quality["checks_total"]);
    assert!(quality["checks_total"].as_u64().unwrap() >= 3);
    close(&quality["score"], 1.0);

    let log = stack.download(&status, "processing.log").await;
    let events: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"claimed"));
    assert!(kinds.contains(&"step_started") && kinds.contains(&"step_finished"));
    assert_eq!(kinds.last(), Some(&"finished"));
    assert!(events.iter().all(|e| e["task_id"] == task_id.as_str()));

    // The artifacts live under the tenant and task, and the message is gone.
    let keys = stack.keys(stack.artifacts_bucket(), "default/").await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("default/{task_id}/")))
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_records_are_analysed_like_csv() {
    let stack = TestStack::spawn().await;
    let records = json!([
        {"region": "north", "revenue": 10.5, "units": 3},
        {"region": "south", "revenue": "4.5", "units": null},
        {"region": "north", "revenue": 5, "units": 7},
    ]);
    let task_id = stack
        .submit_ok(&json!({
            "input": "Summarise revenue",
            "data": {"format": "json", "content": records.to_string()},
        }))
        .await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let payload: Value =
        serde_json::from_str(&stack.download(&status, "output_payload.json").await).unwrap();
    let output = &payload["steps"]["analyse"]["output"];
    close(&output["numeric"]["revenue"]["sum"], 20.0);
    assert_eq!(output["numeric"]["units"]["nulls"], 1);
    close(
        &output["group_by"]["groups"]["north"]["totals"]["revenue"],
        15.5,
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_csv_is_rejected_at_the_door_with_its_place() {
    // Brown runs the shared parser Bayko uses, so data Bayko could not parse never gets in.
    let stack = TestStack::spawn().await;
    let response = stack
        .submit(&json!({
            "input": "Analyse this",
            "data": {"format": "csv", "content": "region,revenue\nnorth,10\nsouth,20,extra\n"},
        }))
        .await;
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/invalid-data");
    assert_eq!(problem["errors"][0]["line"], 3);
    assert_eq!(problem["errors"][0]["column"], 3);
    assert!(stack.keys(stack.tasks_bucket(), "inbox/").await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_outside_the_inbox_cause_no_work() {
    let stack = TestStack::spawn_brown_only().await;
    let stray = format!("elsewhere/default/{}.json", uuid::Uuid::now_v7());
    stack
        .s3
        .put_object()
        .bucket(stack.tasks_bucket())
        .key(&stray)
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    // A real task after the stray object: once its event arrived, the stray one would have too.
    let task_id = stack.submit_ok(&json!({"input": "a marker task"})).await;
    let bodies = stack.receive_until_some(&stack.provisioned.queue_url).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains(&task_id), "{}", bodies[0]);
    assert!(!bodies.iter().any(|body| body.contains("elsewhere/")));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouping_by_a_column_the_data_lacks_fails_with_its_columns() {
    let stack = TestStack::spawn().await;
    let task_id = stack
        .submit_ok(&json!({
            "input": "Revenue per country",
            "data": {"format": "csv", "content": QUARTERLY, "group_by": ["country"]},
        }))
        .await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "failed", "{status}");
    let error = status["error"].as_str().unwrap();
    assert!(error.contains("cannot group by \"country\""), "{error}");
    assert!(
        error.contains("quarter, region, revenue, units, cost"),
        "{error}"
    );
    stack.stop().await;
}
