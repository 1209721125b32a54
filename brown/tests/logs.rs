//! Brown's human-readable log, as a file or a pipe receives it: plain text, no colour codes.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// How long Brown may take to say it listens: generous for a slow, shared machine, and a
/// bound so that a Brown that never says it fails the test instead of hanging it.
const STARTUP: Duration = Duration::from_secs(60);

#[test]
fn the_text_log_has_no_colour_codes_when_it_is_not_a_terminal() {
    let mut brown = Command::new(env!("CARGO_BIN_EXE_brown"))
        .env_remove("LOG_FORMAT")
        .env_remove("RUST_LOG")
        .env(
            "BROWN_API_KEYS",
            format!(r#"[{{"tenant":"acme","sha256":"{}"}}]"#, "0".repeat(64)),
        )
        .env("BROWN_BIND", "127.0.0.1:0")
        .env("BB_TASKS_BUCKET", "tasks")
        .env("BB_ARTIFACTS_BUCKET", "artifacts")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        // Never called: Brown makes no AWS call to start.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("brown starts");
    // Lines are read on a thread, so that the wait for them has a deadline.
    let stdout = BufReader::new(brown.stdout.take().expect("piped stdout"));
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + STARTUP;
    let mut seen = Vec::new();
    while let Ok(line) = received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let listening = line.contains("Brown listening");
        seen.push(line);
        if listening {
            break;
        }
    }
    brown.kill().expect("brown stops");
    let _ = brown.wait();
    let log = seen.join("\n");
    assert!(log.contains("INFO brown: Brown listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in {log:?}");
}
