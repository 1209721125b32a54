//! Prometheus's own tools in the tests: `promtool` and a real Prometheus server (Debian's
//! `prometheus` package; `.ci/run` installs it). In CI (`CI` set) a missing tool fails the
//! test; elsewhere the test says why it did not run and passes.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::DEADLINE;

/// The tool's path, or `None` (with the reason printed) when it is missing outside CI.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return Some(PathBuf::from(name));
    }
    let reason = format!(
        "`{name}` is not installed: install Debian's `prometheus` package (apt-get install \
         prometheus), as .ci/run does"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

/// The repository's `docker/prometheus` directory.
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docker/prometheus")
        .canonicalize()
        .expect("docker/prometheus exists")
}

/// Runs `promtool` with `args` (and `stdin`), returning its output; panics when it fails.
pub fn promtool(promtool: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(promtool)
        .args(args)
        .current_dir(config_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running promtool");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("writing to promtool");
    drop(input);
    let output = child.wait_with_output().expect("promtool's output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// A Prometheus server scraping the given targets every second, with the project's alert
/// rules loaded. Stopped and its data removed on drop.
pub struct PrometheusServer {
    child: std::process::Child,
    dir: PathBuf,
    pub url: String,
    http: reqwest::Client,
}

impl PrometheusServer {
    /// `jobs`: job name and `host:port` targets.
    pub async fn start(prometheus: &Path, jobs: &[(&str, Vec<String>)]) -> Self {
        let dir = std::env::temp_dir().join(format!("bb-prometheus-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("prometheus directory");
        let rules = config_dir().join("alerts.yml");
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n",
            rules.display()
        );
        for (job, targets) in jobs {
            let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ));
        }
        std::fs::write(dir.join("prometheus.yml"), config).expect("writing prometheus.yml");
        // Prometheus cannot report a port it picked itself: take a free one, and try again
        // should another process take it first.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let mut child = Command::new(prometheus)
                .arg(format!(
                    "--config.file={}",
                    dir.join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    std::fs::File::create(dir.join("prometheus.log")).expect("log file"),
                ))
                .spawn()
                .expect("starting prometheus");
            let url = format!("http://127.0.0.1:{port}");
            let http = reqwest::Client::new();
            let deadline = Instant::now() + DEADLINE;
            loop {
                if child.try_wait().expect("prometheus status").is_some() {
                    break;
                }
                let ready = http.get(format!("{url}/-/ready")).send().await;
                if ready.is_ok_and(|response| response.status().is_success()) {
                    return Self {
                        child,
                        dir,
                        url,
                        http,
                    };
                }
                assert!(Instant::now() < deadline, "prometheus never became ready");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!(
            "prometheus did not start: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
    }

    /// An instant query's result vector.
    pub async fn query(&self, expr: &str) -> Vec<Value> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", self.url)).expect("URL");
        url.query_pairs_mut().append_pair("query", expr);
        let response: Value = self
            .http
            .get(url)
            .send()
            .await
            .expect("querying prometheus")
            .json()
            .await
            .expect("a JSON answer");
        assert_eq!(response["status"], "success", "{expr}: {response}");
        response["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `expr` returns a result that `accept` takes, and returns it.
    pub async fn wait_for(&self, expr: &str, accept: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let result = self.query(expr).await;
            if accept(&result) {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "{expr} never matched: {result:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The loaded rules, from the HTTP API.
    pub async fn rules(&self) -> Value {
        self.http
            .get(format!("{}/api/v1/rules", self.url))
            .send()
            .await
            .expect("listing rules")
            .json()
            .await
            .expect("a JSON answer")
    }
}

/// The value of a single-sample result (`[{"value": [t, "v"]}]`).
pub fn scalar(result: &[Value]) -> Option<f64> {
    match result {
        [sample] => sample["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
