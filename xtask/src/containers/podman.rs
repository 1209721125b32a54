//! Podman, configured the way this project's machines need it (`xtask/containers.conf`).

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use anyhow::{Context, bail};

pub struct Podman {
    conf: PathBuf,
}

impl Podman {
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        let podman = Self {
            conf: root.join("xtask/containers.conf"),
        };
        podman
            .output(&["--version"])
            .context("podman is required (Debian: apt-get install podman runc)")?;
        Ok(podman)
    }

    /// A `podman` command with the project's configuration.
    pub fn command(&self) -> Command {
        let mut command = Command::new("podman");
        self.configure(&mut command);
        command
    }

    /// Points any podman-driving command (podman-compose) at the project's configuration.
    pub fn configure(&self, command: &mut Command) {
        command.env("CONTAINERS_CONF", &self.conf);
    }

    /// Runs podman with `args`; its stdout, or an error with its stderr.
    pub fn output(&self, args: &[&str]) -> anyhow::Result<String> {
        checked(self.command().args(args))
    }

    pub fn image_exists(&self, image: &str) -> bool {
        self.command()
            .args(["image", "exists", image])
            .status()
            .is_ok_and(|status| status.success())
    }

    /// One `podman inspect --format` field of a container.
    pub fn inspect(&self, container: &str, format: &str) -> anyhow::Result<String> {
        Ok(self
            .output(&["inspect", "--format", format, container])?
            .trim()
            .to_owned())
    }
}

/// Runs `command`; its stdout, or an error naming it with its stderr.
pub fn checked(command: &mut Command) -> anyhow::Result<String> {
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!(
            "{command:?} failed ({status}):\n{}",
            String::from_utf8_lossy(&stderr)
        );
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}
