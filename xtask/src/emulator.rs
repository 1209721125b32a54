//! The AWS API emulator: moto's server (launched by `bb-emulator`) from a project-local
//! virtual environment.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use bb_emulator::MotoServer;

/// A project-local virtual environment with one pinned requirements file installed. Tools whose
/// pins clash (the emulator's boto3, a scanner's own) live in separate environments.
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    /// The emulator's environment: `.venv/` with `xtask/requirements.txt`.
    pub fn ensure(root: &Path) -> anyhow::Result<Self> {
        Self::ensure_named(root, ".venv", "xtask/requirements.txt")
    }

    /// Creates `root/dir` and installs `root/requirements` into it, unless it already holds
    /// exactly those requirements.
    pub fn ensure_named(root: &Path, dir: &str, requirements: &str) -> anyhow::Result<Self> {
        let dir = root.join(dir);
        let requirements = root.join(requirements);
        let wanted = fs::read_to_string(&requirements)
            .with_context(|| format!("reading {}", requirements.display()))?;
        let stamp = dir.join(".bb-requirements");
        if fs::read_to_string(&stamp).is_ok_and(|installed| installed == wanted) {
            return Ok(Self { dir });
        }
        if !dir.join("bin/python").exists() {
            eprintln!(
                "xtask: creating the virtual environment in {}",
                dir.display()
            );
            run(Command::new("python3").args(["-m", "venv"]).arg(&dir))
                .context("creating the virtual environment (is Python 3 with venv installed?)")?;
        }
        eprintln!(
            "xtask: installing {} into {}, once",
            requirements.display(),
            dir.display()
        );
        run(Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements))
        .with_context(|| format!("installing {}", requirements.display()))?;
        fs::write(&stamp, wanted).context("recording the installed requirements")?;
        Ok(Self { dir })
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// The emulator of `venv`, started on a free loopback port with its output in `log`.
pub fn start(venv: &Venv, log: &Path) -> anyhow::Result<MotoServer> {
    MotoServer::start(&venv.bin("moto_server"), Some(log)).context("starting the emulator")
}
