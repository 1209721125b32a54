//! `cargo xtask dev | test | emulator | bench | simulate`: the developer's commands.

mod bench;
mod containers;
mod dev;
mod emulator;
mod simulate;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use emulator::Venv;

#[derive(Parser)]
#[command(about = "Bayko & Brown developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the whole system locally on the emulator, submit a sample task, show its result,
    /// and keep running until Ctrl-C.
    Dev(dev::DevArgs),
    /// Start the emulator and run every test against it.
    Test {
        /// Extra arguments for the test runner (after `--`), e.g. a test name filter.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Build the container images (host-built binaries on a locally made base), run them
    /// non-root on read-only root filesystems against the emulator, then run the compose stack
    /// with podman-compose on the moto switch. Needs podman, runc and mmdebstrap.
    Containers,
    /// Start only the emulator and print its endpoint, until Ctrl-C: for running `cargo test`
    /// or the binaries by hand.
    Emulator,
    /// Run the benchmark suite on release builds against the emulator; the report goes to
    /// target/bench/report.{json,md}.
    Bench(bench::BenchArgs),
    /// Simulate Bayko's autoscaling over a range of target values and write the table, the
    /// chosen defaults and a plot (docs/autoscaling.md and .svg by default).
    Simulate(simulate::SimulateArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.command {
        Task::Dev(args) => dev::run(&root, args),
        Task::Test { args } => test(&root, &args),
        Task::Containers => containers::run(&root),
        Task::Bench(args) => bench::run(&root, args),
        Task::Simulate(args) => simulate::run(&root, args),
        Task::Emulator => {
            let venv = Venv::ensure(&root)?;
            let emulator = emulator::start(&venv, &target_dir(&root)?.join("xtask/moto.log"))?;
            println!("emulator listening: AWS_ENDPOINT_URL={}", emulator.endpoint);
            println!(
                "run tests by hand: BB_TEST_AWS_ENDPOINT={} cargo test",
                emulator.endpoint
            );
            wait_for_shutdown()
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Where cargo puts its builds: `CARGO_TARGET_DIR`, a config's `build.target-dir`, or
/// `target/` in the workspace. Cargo itself is asked, so every way of setting it counts.
pub(crate) fn target_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let output = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading cargo metadata")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
}

fn test(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let venv = Venv::ensure(root)?;
    // schemathesis pins its own dependencies: its own environment.
    let schemathesis = Venv::ensure_named(
        root,
        ".venv-schemathesis",
        "xtask/requirements-schemathesis.txt",
    )?;
    // The infrastructure tests' tools (xtask/tests/infra.rs), apart from the emulator's pins.
    let infra = Venv::ensure_named(root, ".venv-infra", "xtask/requirements-infra.txt")?;
    let hcl = Venv::ensure_named(root, ".venv-hcl", "xtask/requirements-hcl.txt")?;
    let target = target_dir(root)?;
    // The fault tests run the real binaries: build them before the tests need them. The whole
    // workspace with every target, so features unify exactly as in the test build that follows
    // (building two packages alone would compile the AWS SDK a second time).
    let built = Command::new("cargo")
        .args(["build", "--quiet", "--workspace", "--all-targets"])
        .current_dir(root)
        .status()
        .context("building the binaries")?;
    if !built.success() {
        bail!("building bayko and brown failed");
    }
    let emulator = emulator::start(&venv, &target.join("xtask/moto-test.log"))?;
    eprintln!("xtask: emulator at {}", emulator.endpoint);
    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    let mut command = Command::new("cargo");
    if nextest {
        command.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        command.args(["test", "--workspace", "--no-fail-fast"]);
    }
    let status = command
        .args(args)
        .current_dir(root)
        .env("BB_TEST_AWS_ENDPOINT", &emulator.endpoint)
        .env("BB_TEST_MCP_PYTHON", venv.bin("python"))
        .env("BB_TEST_MOTO_SERVER", venv.bin("moto_server"))
        .env("BB_TEST_SCHEMATHESIS", schemathesis.bin("st"))
        .env("BB_TEST_BIN_DIR", target.join("debug"))
        .env("BB_TEST_INFRA_BIN", infra.dir.join("bin"))
        .env("BB_TEST_HCL_PYTHON", hcl.bin("python"))
        // The LLM tests talk to local stubs; the client still wants a key to send.
        .env("BB_TEST_ANTHROPIC_KEY", "test-key-not-a-secret")
        .status()
        .context("running the tests")?;
    drop(emulator);
    if !status.success() {
        bail!("tests failed ({status})");
    }
    Ok(())
}

/// Blocks until Ctrl-C or SIGTERM.
fn wait_for_shutdown() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(shared::shutdown::signal());
    Ok(())
}
