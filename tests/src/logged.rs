//! Brown and Bayko as real processes whose JSON log lines the test reads: to learn the
//! addresses they bound (port 0) and to check what their logs carry.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bb_provision::Provisioned;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{DEADLINE, binary, signal};

pub struct LoggedProcess {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<Value>>>,
    /// For a Brown: the key of tenant `default`, to send as `Authorization: Bearer`.
    pub api_key: Option<String>,
}

impl LoggedProcess {
    /// Starts `bin` with `env` and `LOG_FORMAT=json`, collecting its stdout's JSON lines.
    pub fn spawn(bin: &str, env: &[(String, String)]) -> Self {
        let mut child = tokio::process::Command::new(binary(bin))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("starting {bin}: {err}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        // Read to the end, always: a full pipe would block the process.
        tokio::spawn({
            let lines = lines.clone();
            async move {
                let mut reader = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if let Ok(value) = serde_json::from_str(&line) {
                        lines.lock().expect("lines").push(value);
                    }
                }
            }
        });
        Self {
            child,
            lines,
            api_key: None,
        }
    }

    /// Brown on port 0 with its metrics listener on port 0; returns it with both base URLs.
    pub async fn brown(
        endpoint: &str,
        provisioned: &Provisioned,
        extra_env: &[(&str, &str)],
    ) -> (Self, String, String) {
        let mut env = aws_env(endpoint);
        env.extend(owned(&[
            ("BB_TASKS_BUCKET", &provisioned.names.tasks_bucket),
            ("BB_ARTIFACTS_BUCKET", &provisioned.names.artifacts_bucket),
            ("BROWN_BIND", "127.0.0.1:0"),
            ("BROWN_METRICS_BIND", "127.0.0.1:0"),
            ("RUST_LOG", "brown=info,warn"),
        ]));
        let (api_key, entry) = crate::new_api_key("default");
        let keys = format!("[{entry}]");
        env.extend(owned(&[("BROWN_API_KEYS", keys.as_str())]));
        env.extend(owned(extra_env));
        let mut brown = Self::spawn("brown", &env);
        brown.api_key = Some(api_key);
        let line = brown
            .wait_for_line(|line| line["message"] == "Brown listening")
            .await;
        let url = |field: &str| format!("http://{}", line[field].as_str().expect(field));
        let (base, metrics) = (url("address"), url("metrics"));
        (brown, base, metrics)
    }

    /// A Bayko worker on the stack's queue.
    pub fn bayko(endpoint: &str, provisioned: &Provisioned, extra_env: &[(&str, &str)]) -> Self {
        let mut env = crate::bayko_env(endpoint, provisioned, "logged");
        env.extend(owned(extra_env));
        Self::spawn("bayko", &env)
    }

    /// Every JSON line logged so far.
    pub fn lines(&self) -> Vec<Value> {
        self.lines.lock().expect("lines").clone()
    }

    pub async fn wait_for_line(&self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(line) = self.lines().into_iter().find(|line| matches(line)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no such log line: {:?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("a running process has a pid")
    }

    /// kill -9.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("killing");
    }

    /// SIGTERM, and waits for the exit: spans still buffered are exported on the way out.
    pub async fn terminate(&mut self) {
        signal(self.pid(), "TERM");
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .expect("waiting for the process");
    }
}

pub(crate) fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    owned(&[
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ])
}

pub(crate) fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
