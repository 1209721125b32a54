//! moto's AWS emulator as a child process on a free loopback port, stopped when dropped: the
//! one launcher behind `cargo xtask test`/`emulator`/`dev` and the tests that need an emulator
//! of their own (to pause it, for instance).

use std::{
    fs,
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long moto may take to answer after it starts (it imports a lot on a cold machine).
const STARTUP: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("finding a free port: {0}")]
    Port(std::io::Error),
    #[error("creating the emulator's log {}: {source}", path.display())]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("starting {}: {source}", server.display())]
    Start {
        server: PathBuf,
        source: std::io::Error,
    },
    #[error("the emulator did not answer within {}s{}", STARTUP.as_secs(), see(.0))]
    NotReady(Option<PathBuf>),
}

fn see(log: &Option<PathBuf>) -> String {
    log.as_ref()
        .map(|log| format!("; see {}", log.display()))
        .unwrap_or_default()
}

/// A running moto server.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    /// Starts `server` (a `moto_server` executable) on a free loopback port and waits until it
    /// accepts connections. Its output goes to `log`, or nowhere.
    pub fn start(server: &Path, log: Option<&Path>) -> Result<Self, EmulatorError> {
        let port = free_port().map_err(EmulatorError::Port)?;
        let (stdout, stderr) = match log {
            Some(path) => {
                let log_error = |source| EmulatorError::Log {
                    path: path.to_owned(),
                    source,
                };
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir).map_err(log_error)?;
                }
                let file = fs::File::create(path).map_err(log_error)?;
                (
                    Stdio::from(file.try_clone().map_err(log_error)?),
                    Stdio::from(file),
                )
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|source| EmulatorError::Start {
                server: server.to_owned(),
                source,
            })?;
        let emulator = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + STARTUP;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() >= deadline {
                return Err(EmulatorError::NotReady(log.map(Path::to_owned)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(emulator)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // SIGKILL ends a stopped (SIGSTOP) process as well.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago. The tiny race with another process is acceptable for a
/// developer's loopback.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
