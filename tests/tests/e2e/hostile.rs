//! Hostile inputs against a real Bayko process: `max_in_flight` of them at once, each ending
//! with a result or a reason, and the process' peak RSS (`VmHWM`) under its memory budget plus
//! a fixed allowance, the figure the README documents.

use bb_tests::TestStack;
use serde_json::{Value, json};

/// Tasks the worker runs at once, all of them hostile.
const IN_FLIGHT: usize = 4;
/// `BAYKO_MEMORY_BUDGET_MIB` for the run: what the analyses may hold between them.
const BUDGET_MIB: u64 = 64;
/// What the worker holds besides its analyses: its code, runtime and clients, and each task in
/// flight's documents (the task, the tools' inputs, the artifacts) a few times over.
const ALLOWANCE_MIB: u64 = 128;

/// One object with 256 keys, then empty objects up to Brown's row limit: 25.6 million cells
/// from 300 kB, the shape that took a worker to 3.4 GiB.
fn sparse_json() -> String {
    let keys: Vec<String> = (0..256).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let mut json = format!("[{{{}}}", keys.join(","));
    json.push_str(&",{}".repeat(99_999));
    json.push(']');
    json
}

/// 256 one-digit columns, as many rows as Brown's body limit allows: the most cells per byte.
fn wide_csv() -> String {
    let header: Vec<String> = (0..256).map(|i| format!("c{i}")).collect();
    let row = vec!["7"; 256].join(",");
    let mut csv = header.join(",");
    for _ in 0..1_800 {
        csv.push('\n');
        csv.push_str(&row);
    }
    csv
}

/// Values nested as deep as the limit allows, in every row.
fn deep_json() -> String {
    let nested = format!("{}1{}", "[".repeat(29), "]".repeat(29));
    let rows: Vec<String> = (0..10_000)
        .map(|row| format!(r#"{{"n":{row},"deep":{nested}}}"#))
        .collect();
    format!("[{}]", rows.join(","))
}

fn task(format: &str, content: String) -> Value {
    json!({"input": "Analyse this table", "data": {"format": format, "content": content}})
}

/// The peak resident set of a process, from the kernel's own accounting.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tasks_at_once_end_with_reasons_within_the_memory_budget() {
    let stack = TestStack::spawn_brown_only().await;
    // All queued before the worker starts, so that it takes them at once.
    let hostile = [
        ("sparse", task("json", sparse_json())),
        ("sparse again", task("json", sparse_json())),
        ("wide", task("csv", wide_csv())),
        ("deep", task("json", deep_json())),
    ];
    assert_eq!(hostile.len(), IN_FLIGHT);
    let mut submitted = Vec::new();
    for (name, body) in &hostile {
        submitted.push((*name, stack.submit_ok(body).await));
    }
    let in_flight = IN_FLIGHT.to_string();
    let budget = BUDGET_MIB.to_string();
    let mut bayko = stack.spawn_bayko_process(&[
        ("BAYKO_MAX_IN_FLIGHT", &in_flight),
        ("BAYKO_MEMORY_BUDGET_MIB", &budget),
    ]);

    for (name, task_id) in &submitted {
        let status = stack.wait_until_final(task_id).await;
        if name.starts_with("sparse") {
            assert_eq!(status["status"], "failed", "{name}: {status}");
            let error = status["error"].as_str().unwrap_or_default();
            assert!(error.contains("too sparse"), "{name}: {error}");
        } else {
            assert!(
                matches!(status["status"].as_str(), Some("succeeded" | "degraded")),
                "{name}: {status}"
            );
        }
    }

    let peak = peak_rss_mib(bayko.pid());
    println!("peak RSS of the worker: {peak} MiB");
    assert!(
        peak <= BUDGET_MIB + ALLOWANCE_MIB,
        "peak RSS {peak} MiB over the budget ({BUDGET_MIB} MiB) and allowance ({ALLOWANCE_MIB} MiB)"
    );
    bayko.terminate().await;
    stack.stop().await;
}
