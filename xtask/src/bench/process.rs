//! Brown and Bayko as real release processes, and what the kernel knows about them: CPU time
//! (`/proc/PID/stat`) and peak resident memory (`VmHWM` in `/proc/PID/status`).

use std::{
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

/// A running binary, stopped with SIGTERM when dropped.
pub(crate) struct Process {
    child: Child,
}

impl Process {
    /// Starts `bin/name` with `env` (and its default log filter: what ships), logging to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        bin: &Path,
        log: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let output =
            fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(bin.join(name))
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self { child })
    }

    /// A child started some other way (under a profiler, say), stopped the same way.
    pub(crate) fn adopt(child: Child) -> Self {
        Self { child }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU time so far.
    pub(crate) fn cpu(&self) -> anyhow::Result<Duration> {
        cpu_time(self.pid())
    }

    /// Peak resident set size so far, in bytes.
    pub(crate) fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|value| value.parse::<u64>().ok())
            .context("no VmHWM in /proc/PID/status")?;
        Ok(kib * 1024)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        // ECS's stopTimeout for Bayko: a stopping worker first finishes its open long poll
        // (up to 20 s), and a kill before then would strand what that poll brings.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process, from `/proc/PID/stat`.
pub(crate) fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count from the closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("malformed /proc/PID/stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .context("short /proc/PID/stat")?
        .iter()
        .map(|field| field.parse::<u64>())
        .sum::<Result<_, _>>()?;
    Ok(Duration::from_secs_f64(
        ticks as f64 / clock_ticks()? as f64,
    ))
}

fn clock_ticks() -> anyhow::Result<u64> {
    let output = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

/// Time from exec until Brown's `/healthz` answers, probing every millisecond.
pub(crate) fn brown_exec_to_ready(
    bin: &Path,
    env: &[(String, String)],
) -> anyhow::Result<Duration> {
    let bind = env
        .iter()
        .find(|(key, _)| key == "BROWN_BIND")
        .map(|(_, value)| value.clone())
        .context("BROWN_BIND")?;
    let started = Instant::now();
    let _brown = Process::spawn(
        "brown",
        bin,
        &std::env::temp_dir().join("bb-bench-ready.log"),
        env,
    )?;
    while started.elapsed() < Duration::from_secs(10) {
        if healthz(&bind) {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    bail!("Brown did not answer /healthz within 10 s")
}

fn healthz(bind: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(bind) else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {bind}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// Time from exec until Bayko logs its tool registry (the line before it starts receiving).
pub(crate) fn bayko_exec_to_ready(
    bin: &Path,
    env: &[(String, String)],
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut child = Command::new(bin.join("bayko"))
        .envs(env.iter().map(|(key, value)| (key, value)))
        .env("RUST_LOG", "bayko=info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting bayko")?;
    let stdout = child.stdout.take().context("bayko's stdout")?;
    let (ready, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let found = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("tools registered"));
        let _ = ready.send((found, started.elapsed()));
    });
    let answer = seen.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    match answer {
        Ok((true, elapsed)) => Ok(elapsed),
        _ => bail!("Bayko did not log its tool registry within 10 s"),
    }
}

pub(crate) fn file_size(path: PathBuf) -> anyhow::Result<u64> {
    Ok(fs::metadata(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .len())
}
