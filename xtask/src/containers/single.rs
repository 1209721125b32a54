//! The images on their own: provisioning, Brown and Bayko as containers on the host's network
//! against the emulator, each non-root on a read-only root filesystem, and a task through.

use std::{fs, path::Path};

use anyhow::{Context, bail, ensure};

use super::{TASK_DEADLINE, image, pipe, podman::Podman};
use crate::emulator::{self, Venv};
use bb_emulator::free_port;

/// The `nonroot` user of the runtime images.
const NONROOT: &str = "65532";

pub fn run(
    podman: &Podman,
    emulator_venv: &Venv,
    root: &Path,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let emulator = emulator::start(
        emulator_venv,
        &crate::target_dir(root)?.join("xtask/moto-containers.log"),
    )?;
    let prefix = format!("bb-ct-{}", std::process::id());
    let env = [
        format!("AWS_ENDPOINT_URL={}", emulator.endpoint),
        "AWS_ACCESS_KEY_ID=test".into(),
        "AWS_SECRET_ACCESS_KEY=test".into(),
        "AWS_REGION=us-east-1".into(),
        "AWS_EC2_METADATA_DISABLED=true".into(),
        format!("BB_NAME_PREFIX={prefix}"),
        format!("BB_TASKS_BUCKET={prefix}-tasks"),
        format!("BB_ARTIFACTS_BUCKET={prefix}-artifacts"),
    ];

    eprintln!("xtask: provisioning through the provision image");
    let provisioned =
        Container::new(podman, &prefix, "provision", &env, &[]).run_to_completion()?;
    let queue_url = provisioned
        .lines()
        .find_map(|line| line.strip_prefix("BAYKO_QUEUE_URL="))
        .context("the provision image printed no BAYKO_QUEUE_URL")?
        .to_owned();

    let port = free_port()?;
    let brown = Container::new(
        podman,
        &prefix,
        "brown",
        &env,
        &[
            format!("BROWN_BIND=127.0.0.1:{port}"),
            format!("BROWN_API_KEYS={}", super::pipe::LOCAL_API_KEYS),
        ],
    )
    .start()?;
    let bayko = Container::new(
        podman,
        &prefix,
        "bayko",
        &env,
        &[
            format!("BAYKO_QUEUE_URL={queue_url}"),
            "BAYKO_WAIT_SECONDS=1".into(),
        ],
    )
    .start()?;

    let result = (|| {
        for container in [&brown, &bayko] {
            container.assert_hardened()?;
        }
        let status = runtime.block_on(pipe::one_task_through(
            &format!("http://127.0.0.1:{port}"),
            TASK_DEADLINE,
        ))?;
        eprintln!(
            "xtask: containers: task {} succeeded through the images (non-root, read-only)",
            status["task_id"]
        );
        anyhow::Ok(())
    })();
    if result.is_err() {
        for container in [&brown, &bayko] {
            container.print_logs();
        }
    }
    result
}

/// A container of one of the images, on the host's network, removed when dropped.
struct Container<'a> {
    podman: &'a Podman,
    name: String,
    target: &'static str,
    env: Vec<String>,
    started: bool,
}

impl<'a> Container<'a> {
    fn new(
        podman: &'a Podman,
        prefix: &str,
        target: &'static str,
        common: &[String],
        own: &[String],
    ) -> Self {
        Self {
            podman,
            name: format!("{prefix}-{target}"),
            target,
            env: common.iter().chain(own).cloned().collect(),
            started: false,
        }
    }

    /// `podman run` with the hardening the deployments use; the image's own user (no --user).
    fn run_args(&self, detach: bool) -> Vec<String> {
        let mut args: Vec<String> = vec!["run".into(), "--name".into(), self.name.clone()];
        if detach {
            args.push("--detach".into());
        } else {
            args.push("--rm".into());
        }
        args.extend(
            ["--network", "host", "--read-only", "--cap-drop", "ALL"]
                .into_iter()
                .map(String::from),
        );
        for variable in &self.env {
            args.push("--env".into());
            args.push(variable.clone());
        }
        args.push(image(self.target));
        args
    }

    fn run_to_completion(self) -> anyhow::Result<String> {
        let args = self.run_args(false);
        self.podman
            .output(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .with_context(|| format!("running the {} image", self.target))
    }

    fn start(mut self) -> anyhow::Result<Self> {
        let args = self.run_args(true);
        self.podman
            .output(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .with_context(|| format!("starting the {} image", self.target))?;
        self.started = true;
        Ok(self)
    }

    /// The running process's real and effective uids are the image's non-root user, and the
    /// container's root filesystem is read-only.
    fn assert_hardened(&self) -> anyhow::Result<()> {
        let pid = self.podman.inspect(&self.name, "{{.State.Pid}}")?;
        ensure!(pid != "0", "{} is not running", self.name);
        let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
        let uids: Vec<&str> = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .context("no Uid line in /proc/PID/status")?
            .split_whitespace()
            .collect();
        if uids.iter().any(|uid| *uid != NONROOT) {
            bail!("{} runs as uids {uids:?}, not {NONROOT}", self.name);
        }
        let read_only = self
            .podman
            .inspect(&self.name, "{{.HostConfig.ReadonlyRootfs}}")?;
        ensure!(
            read_only == "true",
            "{}'s root filesystem is writable",
            self.name
        );
        Ok(())
    }

    fn print_logs(&self) {
        if let Ok(logs) = self.podman.output(&["logs", "--tail", "40", &self.name]) {
            eprintln!("--- {} (last lines) ---\n{logs}", self.name);
        }
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        if self.started {
            let _ = self
                .podman
                .command()
                .args(["rm", "--force", "--time", "10", &self.name])
                .output();
        }
    }
}
