//! The AWS API emulator: moto's server, from a project-local virtual environment, on a free
//! loopback port. Stopped when dropped.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

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

/// A running moto server.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
}

impl Emulator {
    /// Starts moto on a free loopback port and waits until it answers. Its output goes to
    /// `log`.
    pub fn start(venv: &Venv, log: &Path) -> anyhow::Result<Self> {
        Self::start_with(venv, log, &[])
    }

    /// Starts moto with these extra environment variables (moto's own settings).
    pub fn start_with(venv: &Venv, log: &Path, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let port = free_port()?;
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir)?;
        }
        let output =
            fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(venv.bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .context("starting moto_server")?;
        let emulator = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        emulator.wait_until_ready(log)?;
        Ok(emulator)
    }

    fn wait_until_ready(&self, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let address = self.endpoint.trim_start_matches("http://");
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(address).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "the emulator did not start within 60 s; see {}",
            log.display()
        )
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago. The tiny race with another process is acceptable for a
/// developer's loopback.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
