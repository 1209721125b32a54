//! The compose stack under podman-compose with the moto switch: provisioning by the init
//! service, a task through Brown and two Bayko workers, and the network split checked from
//! inside a worker's own network namespace.

use std::{path::Path, process::Command};

use anyhow::{Context, bail, ensure};

use super::{
    REPOSITORY, TAG, TASK_DEADLINE, pipe,
    podman::{Podman, checked},
};
use crate::emulator::Venv;
use bb_emulator::free_port;

/// Connects to each `host:port` argument from wherever it runs; prints `open` or `closed`.
const PROBE: &str = "import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(':', 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        print(target, 'open')
    except OSError:
        print(target, 'closed')
";

pub fn run(
    podman: &Podman,
    infra_venv: &Venv,
    root: &Path,
    moto_image: &str,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let project = format!("bb-ct-{}", std::process::id());
    let port = free_port()?;
    let stack = Stack {
        podman,
        root,
        compose: infra_venv.bin("podman-compose"),
        project: project.clone(),
        moto_image: moto_image.to_owned(),
        brown_port: port,
    };
    eprintln!("xtask: starting the compose stack (moto switch) as project {project}");
    let result = (|| {
        stack.up()?;
        let status = runtime.block_on(pipe::one_task_through(
            &format!("http://127.0.0.1:{port}"),
            TASK_DEADLINE,
        ))?;
        eprintln!("xtask: compose: task {} succeeded", status["task_id"]);
        let workers = stack.containers("bayko")?;
        ensure!(
            workers.len() == 2,
            "expected two Bayko replicas, found {workers:?}"
        );
        stack.check_isolation(&workers[0])
    })();
    if result.is_err() {
        let _ = stack
            .compose(&["logs", "--tail", "30"])
            .map(|logs| eprintln!("{logs}"));
    }
    stack.compose(&["down", "--timeout", "10"])?;
    result
}

struct Stack<'a> {
    podman: &'a Podman,
    root: &'a Path,
    compose: std::path::PathBuf,
    project: String,
    moto_image: String,
    brown_port: u16,
}

impl Stack<'_> {
    /// `up`, one step at a time. Podman 4.3 cannot start a container whose `--requires` chain
    /// is longer than one (podman-compose expresses depends_on that way), so the dependencies
    /// are started here in order, each with --no-deps, and the init service's success is
    /// awaited as `service_completed_successfully` would.
    fn up(&self) -> anyhow::Result<()> {
        self.compose(&["up", "--detach", "--no-deps", "emulator"])?;
        self.compose(&["up", "--detach", "--no-deps", "init"])?;
        let init = format!("{}_init_1", self.project);
        let exit = self.podman.output(&["wait", &init])?;
        if exit.trim() != "0" {
            let logs = self.podman.output(&["logs", &init]).unwrap_or_default();
            bail!("the init service exited {}:\n{logs}", exit.trim());
        }
        // Prometheus and Grafana are left out: their images come from a registry.
        self.compose(&["up", "--detach", "--no-deps", "brown", "bayko"])?;
        Ok(())
    }

    fn compose(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(&self.compose);
        self.podman.configure(&mut command);
        command
            .args(["--project-name", &self.project])
            .args(["--file", "compose.yaml", "--file", "compose.moto.yaml"])
            .args(args)
            .current_dir(self.root)
            .env("BB_EMULATOR_IMAGE", &self.moto_image)
            .env("BB_IMAGE_REPOSITORY", REPOSITORY)
            .env("BB_IMAGE_TAG", TAG)
            .env("BB_BINARIES", "prebuilt")
            .env("BROWN_PORT", self.brown_port.to_string());
        checked(&mut command).with_context(|| format!("podman-compose {}", args.join(" ")))
    }

    /// The running containers of one service.
    fn containers(&self, service: &str) -> anyhow::Result<Vec<String>> {
        let listing = self.podman.output(&[
            "ps",
            "--filter",
            &format!("label=io.podman.compose.project={}", self.project),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
            "--format",
            "{{.Names}}",
        ])?;
        Ok(listing.lines().map(str::to_owned).collect())
    }

    /// The container's addresses on every network it is attached to.
    fn addresses(&self, container: &str) -> anyhow::Result<Vec<String>> {
        let listing = self.podman.inspect(
            container,
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
        )?;
        Ok(listing.split_whitespace().map(str::to_owned).collect())
    }

    /// From inside a worker's network namespace: the emulator answers (the probe works), and
    /// no address of Brown's does, on its API port or its metrics port.
    fn check_isolation(&self, worker: &str) -> anyhow::Result<()> {
        let ensure_one = |service: &str| -> anyhow::Result<String> {
            match self.containers(service)?.as_slice() {
                [one] => Ok(one.clone()),
                other => bail!("expected one {service} container, found {other:?}"),
            }
        };
        let emulator = ensure_one("emulator")?;
        let brown = ensure_one("brown")?;
        let worker_addresses = self.addresses(worker)?;
        let reachable: Vec<String> = self
            .addresses(&emulator)?
            .into_iter()
            .map(|address| format!("{address}:4566"))
            .collect();
        let brown_addresses = self.addresses(&brown)?;
        ensure!(!brown_addresses.is_empty(), "Brown has no address");
        let unreachable: Vec<String> = brown_addresses
            .iter()
            .flat_map(|address| [format!("{address}:8080"), format!("{address}:9100")])
            // podman-compose groups the stack in a pod; a pod must not share one network. (Not
            // 127.0.0.1:9100: that is the worker's own metrics listener.)
            .chain(["127.0.0.1:8080".to_owned()])
            .collect();
        // Joining a container's network namespace from outside its pod is refused.
        let pod = self.podman.inspect(worker, "{{.Pod}}")?;
        let mut probe = vec!["run", "--rm"];
        if !pod.is_empty() {
            probe.extend(["--pod", &pod]);
        }

        let report = self.podman.output(
            &probe
                .into_iter()
                .chain([
                    "--network",
                    &format!("container:{worker}"),
                    "--entrypoint",
                    "/opt/moto/bin/python",
                    &self.moto_image,
                    "-c",
                    PROBE,
                ])
                .chain(reachable.iter().map(String::as_str))
                .chain(unreachable.iter().map(String::as_str))
                .collect::<Vec<_>>(),
        )?;
        let state = |target: &str| {
            report
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{target} ")))
                .unwrap_or("missing")
                .to_owned()
        };
        ensure!(
            reachable.iter().any(|target| state(target) == "open"),
            "from {worker} ({worker_addresses:?}) the emulator is unreachable: {report}"
        );
        for target in &unreachable {
            ensure!(
                state(target) == "closed",
                "from {worker} Brown's {target} is {}: the networks are not split",
                state(target)
            );
        }
        eprintln!(
            "xtask: compose: from {worker} the emulator answers and Brown ({}) does not",
            unreachable.join(", ")
        );
        Ok(())
    }
}
