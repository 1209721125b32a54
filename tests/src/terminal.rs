//! Running a program under a pseudo-terminal, so that it draws what it draws for a person
//! (progress bars decide by `isatty`).

use std::{
    io::Read,
    process::{Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use nix::{
    fcntl::{FcntlArg, FdFlag, fcntl},
    pty::{Winsize, openpty},
};

/// What a program printed on its terminal (stdout and stderr interleaved), and how it ended.
pub struct TerminalRun {
    pub status: ExitStatus,
    pub screen: String,
}

/// Runs `command` with stdin, stdout and stderr on a fresh 120×40 terminal, until it exits or
/// `deadline` passes (then it is killed and the test fails).
pub fn run_in_terminal(mut command: Command, deadline: Duration) -> TerminalRun {
    let size = Winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size), None).expect("opening a pseudo-terminal");
    // No other process may inherit the terminal: the reads below end when the child's copies
    // are the last ones and it exits.
    for fd in [&pty.master, &pty.slave] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("setting close-on-exec");
    }
    let stdio = |fd: &std::os::fd::OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
    let program = format!("{command:?}");
    let mut child = command
        .stdin(stdio(&pty.slave))
        .stdout(stdio(&pty.slave))
        .stderr(stdio(&pty.slave))
        .spawn()
        .expect("starting the program");
    // The command holds copies of the terminal too: only the child may keep it open.
    drop(command);
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut screen = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = master.read(&mut buffer) {
            if n == 0 {
                break;
            }
            screen.extend_from_slice(&buffer[..n]);
        }
        String::from_utf8_lossy(&screen).into_owned()
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the program") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("{program} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let screen = reader.join().expect("reading the terminal");
    TerminalRun { status, screen }
}
