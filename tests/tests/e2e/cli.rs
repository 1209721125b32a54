//! The `bnb` binary against a live stack: what a person sees on a terminal, what a script
//! gets with `--json`, and the exit codes.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use bb_tests::{DEADLINE, TestStack, binary, run_in_terminal};
use serde_json::Value;

const QUARTERLY: &str = include_str!("../../../examples/quarterly.csv");

/// A scratch folder of the test's own.
pub(crate) fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bnb-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("creating a scratch folder");
    dir
}

/// `bnb ARGS` pointed at the stack, run in `dir`.
pub(crate) fn bnb(stack: &TestStack, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary("bnb"));
    command
        .args(args)
        .current_dir(dir)
        .env("BNB_URL", &stack.base_url)
        .env("BNB_API_KEY", &stack.api_key)
        .env_remove("NO_COLOR");
    command
}

/// Runs a command with pipes, off the runtime's threads (Brown and Bayko run on them).
pub(crate) async fn piped(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("running bnb"))
        .await
        .expect("bnb runner")
}

pub(crate) fn json_stdout(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{} not downloaded: {err}", path.display()));
    serde_json::from_str(&text).expect("an artifact in JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_shows_progress_on_a_terminal_and_downloads_the_artifacts() {
    let stack = TestStack::spawn().await;
    let dir = scratch();
    std::fs::write(dir.join("quarterly.csv"), QUARTERLY).unwrap();
    let command = bnb(
        &stack,
        &dir,
        &[
            "submit",
            "quarterly.csv",
            "--input",
            "Process quarterly data analysis request",
            "--out",
            "report",
            "--group-by",
            "quarter",
        ],
    );
    let run = tokio::task::spawn_blocking(move || run_in_terminal(command, DEADLINE))
        .await
        .unwrap();
    assert!(run.status.success(), "{:?}\n{}", run.status, run.screen);
    // indicatif drew (and redrew) its line: terminal control sequences, not plain lines.
    assert!(
        run.screen.contains("\u{1b}["),
        "no progress drawn:\n{}",
        run.screen
    );
    assert!(run.screen.contains("succeeded"), "{}", run.screen);
    // The bar over the plan's steps, full at the end.
    assert!(run.screen.contains("3/3 steps"), "{}", run.screen);

    let out = dir.join("report");
    let payload = read_json(&out.join("output_payload.json"));
    let task_id = payload["task_id"].as_str().expect("task id").to_owned();
    assert!(run.screen.contains(&task_id), "{}", run.screen);
    assert_eq!(
        payload["steps"]["analyse"]["output"]["numeric"]["revenue"]["count"],
        8
    );
    // `--group-by quarter` overrides the default grouping (by region).
    let groups = &payload["steps"]["analyse"]["output"]["group_by"];
    assert_eq!(groups["column"], "quarter");
    let quarters: Vec<&String> = groups["groups"].as_object().unwrap().keys().collect();
    assert_eq!(quarters, ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]);
    let summary = payload["report"]["summary"].as_str().expect("a summary");
    assert!(!summary.is_empty());
    assert!(run.screen.contains(summary.lines().next().unwrap()));
    let quality = read_json(&out.join("quality_metrics.json"));
    assert_eq!(quality["checks_passed"], quality["checks_total"]);
    let log = std::fs::read_to_string(out.join("processing.log")).unwrap();
    assert!(
        log.lines().last().unwrap().contains("\"finished\""),
        "{log}"
    );

    // The files are exactly what Brown's links serve.
    let status = stack.wait_until_final(&task_id).await;
    for name in [
        "output_payload.json",
        "processing.log",
        "quality_metrics.json",
    ] {
        let served = stack.download(&status, name).await;
        assert_eq!(std::fs::read_to_string(out.join(name)).unwrap(), served);
    }
    // Nothing half-written is left behind.
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "output_payload.json",
            "processing.log",
            "quality_metrics.json"
        ]
    );
    stack.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_get_json_and_an_exit_code_per_ending() {
    let mut stack = TestStack::spawn_brown_only().await;
    let dir = scratch();
    std::fs::write(dir.join("notes.txt"), "Quarterly notes: revenue grew.").unwrap();
    std::fs::write(
        dir.join("broken.csv"),
        // Valid at the door; Bayko fails it: there is no column to group by of that name.
        "region,revenue\nnorth,10\nsouth,20\n",
    )
    .unwrap();

    // Submitted without waiting, then cancelled before any worker runs: `watch` ends 5.
    let submitted = piped(bnb(
        &stack,
        &dir,
        &[
            "submit",
            "notes.txt",
            "--input",
            "Summarise",
            "--no-wait",
            "--json",
        ],
    ))
    .await;
    assert!(submitted.status.success(), "{submitted:?}");
    let task_id = json_stdout(&submitted)["task_id"]
        .as_str()
        .expect("task_id")
        .to_owned();
    let cancelled = piped(bnb(&stack, &dir, &["cancel", &task_id, "--json"])).await;
    assert!(cancelled.status.success(), "{cancelled:?}");
    assert_eq!(json_stdout(&cancelled)["status"], "queued");
    stack.start_bayko();
    let watched = piped(bnb(&stack, &dir, &["watch", &task_id, "--json"])).await;
    assert_eq!(watched.status.code(), Some(5), "{watched:?}");
    let status = json_stdout(&watched);
    assert_eq!(status["status"], "cancelled");
    assert_eq!(status["task_id"], task_id.as_str());
    // Without a terminal nothing but the JSON is printed: no progress drawing.
    assert!(!String::from_utf8_lossy(&watched.stderr).contains('\u{1b}'));

    // A task that fails: exit code 4, and its log is still downloaded.
    let failed = piped(bnb(
        &stack,
        &dir,
        &[
            "submit",
            "broken.csv",
            "--input",
            "Analyse",
            "--group-by",
            "country",
            "--out",
            "failed",
            "--json",
        ],
    ))
    .await;
    assert_eq!(failed.status.code(), Some(4), "{failed:?}");
    let status = json_stdout(&failed);
    assert_eq!(status["status"], "failed");
    assert!(status["error"].as_str().unwrap().contains("country"));
    assert!(dir.join("failed/processing.log").exists());

    // `get` on a finished task downloads again, with the same exit code.
    let failed_id = status["task_id"].as_str().unwrap();
    let fetched = piped(bnb(&stack, &dir, &["get", failed_id, "--out", "again"])).await;
    assert_eq!(fetched.status.code(), Some(4), "{fetched:?}");
    assert_eq!(
        std::fs::read(dir.join("again/processing.log")).unwrap(),
        std::fs::read(dir.join("failed/processing.log")).unwrap()
    );
    stack.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_are_shown_as_title_and_detail() {
    let stack = TestStack::spawn_brown_only().await;
    let dir = scratch();
    std::fs::write(dir.join("data.csv"), "a,b\n1,2\n").unwrap();

    let invalid = piped(bnb(&stack, &dir, &["submit", "data.csv", "--input", "   "])).await;
    assert_eq!(invalid.status.code(), Some(1), "{invalid:?}");
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(stderr.contains("Invalid request: "), "{stderr}");
    assert!(stderr.contains("  input: "), "{stderr}");
    assert!(!stderr.contains('{'), "raw JSON shown: {stderr}");

    let missing = uuid::Uuid::now_v7().to_string();
    let unknown = piped(bnb(&stack, &dir, &["status", &missing])).await;
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("Task not found: "), "{stderr}");
    assert!(stderr.contains(&missing), "{stderr}");

    let mut unreachable = bnb(&stack, &dir, &["status", &missing]);
    unreachable.env("BNB_URL", "http://127.0.0.1:1");
    let unreachable = piped(unreachable).await;
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach Brown"));
    stack.stop().await;
    std::fs::remove_dir_all(dir).ok();
}
