//! `cargo xtask containers`: the images built and run for real.
//!
//! 1. Brown, Bayko and bb-provision are built on the host (debug profile: the build
//!    `cargo xtask test` already made, so CI compiles nothing twice) and copied into the build
//!    context's `target/container/`.
//! 2. The base images are made locally (no registry is reachable): see [`base`].
//! 3. `docker/Dockerfile` is built with `BINARIES=prebuilt` for each target.
//! 4. The images run as non-root on read-only root filesystems against the emulator on the
//!    host, and a task goes through.
//! 5. The compose stack runs under podman-compose with the moto switch: a task goes through,
//!    two workers run, and Bayko cannot reach Brown.

mod base;
mod compose;
mod pipe;
mod podman;
mod single;

use std::{fs, path::Path, process::Command, time::Duration};

use anyhow::{Context, bail};

use crate::emulator::Venv;
use podman::Podman;

/// The image targets of `docker/Dockerfile`, with the binary each one carries.
const TARGETS: [(&str, &str); 3] = [
    ("brown", "brown"),
    ("bayko", "bayko"),
    ("provision", "bb-provision"),
];
const REPOSITORY: &str = "localhost/bayko-brown";
const TAG: &str = "container-test";
/// How long a task may take to go through a freshly started stack.
const TASK_DEADLINE: Duration = Duration::from_secs(90);

pub fn run(root: &Path) -> anyhow::Result<()> {
    let emulator_venv = Venv::ensure(root)?;
    let infra_venv = Venv::ensure_named(root, ".venv-infra", "xtask/requirements-infra.txt")?;
    let podman = Podman::new(root)?;

    let binaries = stage_binaries(root)?;
    let base = base::runtime_base(&podman, root, &binaries)?;
    let moto = base::moto(&podman, root, &emulator_venv)?;
    for (target, _) in TARGETS {
        let image = image(target);
        eprintln!("xtask: building {image} (BINARIES=prebuilt, RUNTIME_IMAGE={base})");
        podman::checked(
            podman
                .command()
                .args([
                    "build",
                    "--quiet",
                    "--file",
                    "docker/Dockerfile",
                    "--target",
                    target,
                ])
                .args(["--build-arg", "BINARIES=prebuilt"])
                .arg("--build-arg")
                .arg(format!("RUNTIME_IMAGE={base}"))
                .args(["--tag", &image, "."])
                .current_dir(root),
        )?;
    }

    let runtime = tokio::runtime::Runtime::new()?;
    single::run(&podman, &emulator_venv, root, &runtime)?;
    compose::run(&podman, &infra_venv, root, &moto, &runtime)?;
    // The runner's closing line: images (hardened, task through), compose (task through, two
    // workers), compose isolation.
    println!("containers: 3 passed, 0 failed");
    Ok(())
}

pub fn image(target: &str) -> String {
    format!("{REPOSITORY}/{target}:{TAG}")
}

/// Builds the binaries on the host and copies them where the Dockerfile's `prebuilt` stage
/// looks. Debug builds: they are what the test suite built already, and the images' behaviour
/// does not depend on the profile (release images come from the `compiled` stage).
fn stage_binaries(root: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--workspace", "--all-targets"])
        .current_dir(root)
        .status()
        .context("building the binaries")?;
    if !status.success() {
        bail!("building the binaries failed");
    }
    // Built wherever cargo builds; staged inside the build context.
    let built = crate::target_dir(root)?.join("debug");
    let staged = root.join("target/container");
    fs::create_dir_all(&staged)?;
    TARGETS
        .iter()
        .map(|(_, binary)| {
            let to = staged.join(binary);
            stage_stripped(&built.join(binary), &to)
                .with_context(|| format!("staging {binary}"))?;
            Ok(to)
        })
        .collect()
}

/// Copies a binary without its symbols and line tables, which are 40% of a debug build, since
/// every image layer holds a copy and disk on CI machines can be tight. Falls back to a plain
/// copy where binutils' `strip` is missing.
fn stage_stripped(from: &Path, to: &Path) -> anyhow::Result<()> {
    let _ = fs::remove_file(to);
    let stripped = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(to)
        .arg(from)
        .status()
        .is_ok_and(|status| status.success());
    if !stripped {
        fs::copy(from, to)?;
    }
    Ok(())
}
