//! `cargo xtask dev`: the emulator, provisioning, Brown and Bayko as real processes, a sample
//! task through the whole pipe, then everything kept running until Ctrl-C.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bb_aws::AwsSettings;
use bb_provision::{self as provision, Names, QueueSettings};
use serde_json::{Value, json};

use crate::emulator::{self, Venv};

#[derive(clap::Args)]
pub struct DevArgs {
    /// Where Brown listens.
    #[arg(long, env = "BROWN_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Build and run release binaries.
    #[arg(long)]
    release: bool,
}

/// A child process stopped with SIGTERM (gracefully) when dropped.
struct Service {
    name: &'static str,
    child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                eprintln!("xtask: {} stopped", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(root: &Path, args: DevArgs) -> anyhow::Result<()> {
    let logs = root.join(".dev/logs");
    let venv = Venv::ensure(root)?;
    let emulator = emulator::start(&venv, &logs.join("moto.log"))?;
    eprintln!("xtask: emulator (moto) at {}", emulator.endpoint);

    let runtime = tokio::runtime::Runtime::new()?;
    let names = Names::with_prefix("bb-dev");
    let provisioned = runtime.block_on(async {
        let aws = AwsSettings::emulator(&emulator.endpoint).load().await;
        provision::provision(&aws, &names, QueueSettings::default()).await
    })?;
    eprintln!(
        "xtask: provisioned buckets {} and {}, queue {}",
        names.tasks_bucket, names.artifacts_bucket, names.queue
    );

    let profile = if args.release { "release" } else { "debug" };
    let mut build = Command::new("cargo");
    build.args(["build", "--quiet", "-p", "brown", "-p", "bayko"]);
    if args.release {
        build.arg("--release");
    }
    eprintln!("xtask: building brown and bayko ({profile})");
    if !build.current_dir(root).status()?.success() {
        bail!("building brown and bayko failed");
    }
    let bin = crate::target_dir(root)?.join(profile);
    let aws_env = [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("BB_TASKS_BUCKET", names.tasks_bucket.as_str()),
        ("BB_ARTIFACTS_BUCKET", names.artifacts_bucket.as_str()),
    ];
    let api_key = dev_api_key();
    let keys = json!([{"tenant": "default", "sha256": sha256_hex(&api_key)}]).to_string();
    let brown = spawn(
        "brown",
        &bin,
        &logs,
        aws_env.iter().copied().chain([
            ("BROWN_BIND", args.bind.as_str()),
            ("BROWN_API_KEYS", keys.as_str()),
        ]),
    )?;
    let bayko = spawn(
        "bayko",
        &bin,
        &logs,
        aws_env.iter().copied().chain([
            ("BAYKO_QUEUE_URL", provisioned.queue_url.as_str()),
            // A stopping worker finishes its open long poll: short polls keep Ctrl-C quick.
            ("BAYKO_WAIT_SECONDS", "2"),
        ]),
    )?;

    let base = format!("http://{}", args.bind);
    runtime.block_on(demo(&base, root, &api_key))?;
    print_usage(&base, &logs, &api_key);

    runtime.block_on(shared::shutdown::signal());
    eprintln!("\nxtask: stopping");
    drop((bayko, brown, emulator));
    Ok(())
}

fn spawn<'a>(
    name: &'static str,
    bin: &Path,
    logs: &Path,
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> anyhow::Result<Service> {
    std::fs::create_dir_all(logs)?;
    let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
    let child = Command::new(bin.join(name))
        .envs(env)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    Ok(Service { name, child })
}

/// Submits the sample quarterly analysis and shows where it ends.
async fn demo(base: &str, root: &Path, api_key: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    wait_until_ready(&http, base).await?;
    // Artifact links carry their own signature; only Brown gets the key.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {api_key}").parse()?,
    );
    let brown = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let csv_path: PathBuf = root.join("examples/quarterly.csv");
    let csv = std::fs::read_to_string(&csv_path)
        .with_context(|| format!("reading {}", csv_path.display()))?;
    let body = json!({
        "input": "Process quarterly data analysis request",
        "data": {"format": "csv", "content": csv},
        "tools": ["data-processor"],
        "metadata": {"source": "examples/quarterly.csv"},
    });
    let accepted: Value = brown
        .post(format!("{base}/v1/tasks"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let status_url = format!(
        "{base}{}",
        accepted["status_url"].as_str().unwrap_or_default()
    );
    eprintln!("xtask: submitted {} ({status_url})", accepted["task_id"]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status: Value = brown.get(&status_url).send().await?.json().await?;
        let state = status["status"].as_str().unwrap_or_default().to_owned();
        if !["queued", "running"].contains(&state.as_str()) {
            break status;
        }
        if Instant::now() > deadline {
            bail!("the sample task is still {state} after 60 s; see .dev/logs/bayko.log");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("\n== status of the sample task ==");
    println!("{}", serde_json::to_string_pretty(&status)?);

    if let Some(url) = status["artifacts"]
        .as_array()
        .and_then(|artifacts| {
            artifacts
                .iter()
                .find(|a| a["name"] == "output_payload.json")
        })
        .and_then(|artifact| artifact["url"].as_str())
    {
        let payload: Value = http.get(url).send().await?.json().await?;
        println!("\n== output_payload.json: report ==");
        println!(
            "{}",
            payload["report"]["summary"].as_str().unwrap_or_default()
        );
        let stats = &payload["steps"]["analyse"]["output"]["numeric"];
        println!("\n== output_payload.json: revenue statistics ==");
        println!("{}", serde_json::to_string_pretty(&stats["revenue"])?);
    }
    Ok(())
}

async fn wait_until_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("Brown was not ready at {base} within 60 s; see .dev/logs/brown.log");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `BNB_DEV_API_KEY` when set, so a developer keeps one key across runs; a new one otherwise.
fn dev_api_key() -> String {
    std::env::var("BNB_DEV_API_KEY")
        .ok()
        .filter(|key| !key.is_empty())
        .unwrap_or_else(|| {
            use rand::RngCore;
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            format!("bbk_dev_{}", hex(&secret))
        })
}

pub(crate) fn sha256_hex(key: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn print_usage(base: &str, logs: &Path, api_key: &str) {
    println!(
        r#"
== Bayko & Brown are running ==
Brown:  {base}   (logs: {logs}/brown.log, Bayko: {logs}/bayko.log)

API key (tenant "default"; set BNB_DEV_API_KEY to choose your own):
  export BNB_URL={base} BNB_API_KEY={api_key}

Submit a task with the CLI (cargo install --path cli), live progress and the report in ./report:
  bnb submit examples/quarterly.csv --input "Process quarterly data analysis request" --group-by region --out report

Or with curl:
  curl -s -X POST {base}/v1/tasks -H "Authorization: Bearer $BNB_API_KEY" \
    -H 'Content-Type: application/json' \
    -d '{{"input": "Process quarterly data analysis request", "data": {{"format": "csv", "content": "quarter,region,revenue\n2025-Q1,north,100\n2025-Q2,north,120\n"}}}}'

Watch it (use the task_id from the answer):
  curl -s -H "Authorization: Bearer $BNB_API_KEY" {base}/v1/tasks/TASK_ID

Press Ctrl-C to stop everything."#,
        logs = logs.display()
    );
}
