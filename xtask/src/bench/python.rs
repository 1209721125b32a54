//! The Python comparison points, from `.venv-bench/`: a Celery worker (SQS transport, default
//! prefork concurrency) running a 100 ms task, and pandas aggregating the same CSV as the
//! data-processor.

use std::{
    fs,
    os::unix::process::CommandExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::emulator::Venv;

pub(crate) struct CeleryRun {
    pub tasks: usize,
    /// From the first task's end to the last's.
    pub per_second: f64,
}

/// Enqueues `tasks` 100 ms tasks, starts one worker and waits until all are done.
pub(crate) fn celery(
    root: &Path,
    out: &Path,
    venv: &Venv,
    endpoint: &str,
    tasks: usize,
) -> anyhow::Result<CeleryRun> {
    let scripts = root.join("xtask/bench");
    let done = out.join("celery-done.txt");
    let _ = fs::remove_file(&done);
    let address = endpoint.trim_start_matches("http://");
    let env = [
        ("BENCH_BROKER_URL", format!("sqs://test:test@{address}")),
        (
            "BENCH_QUEUE",
            format!("bb-bench-celery-{}", std::process::id()),
        ),
        ("BENCH_DONE_FILE", done.display().to_string()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
    ];
    let enqueued = Command::new(venv.bin("python"))
        .arg("celery_enqueue.py")
        .arg(tasks.to_string())
        .current_dir(&scripts)
        .envs(env.clone())
        .status()
        .context("enqueuing Celery tasks")?;
    if !enqueued.success() {
        bail!("enqueuing Celery tasks failed: {enqueued}");
    }
    let log = fs::File::create(out.join("logs/celery.log"))?;
    let mut worker = Command::new(venv.bin("celery"))
        .args(["-A", "celery_app", "worker", "--loglevel=WARNING"])
        .current_dir(&scripts)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group, so the prefork children stop with it.
        .process_group(0)
        .spawn()
        .context("starting the Celery worker")?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let ends = loop {
        let ends: Vec<f64> = fs::read_to_string(&done)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.parse().ok())
            .collect();
        if ends.len() >= tasks || Instant::now() > deadline {
            break ends;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let group = format!("-{}", worker.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = worker.wait();
    if ends.len() < tasks {
        bail!("Celery finished {} of {tasks} tasks in 600 s", ends.len());
    }
    let first = ends.iter().copied().fold(f64::INFINITY, f64::min);
    let last = ends.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Ok(CeleryRun {
        tasks,
        per_second: (tasks - 1) as f64 / (last - first),
    })
}

/// pandas over `csv`: (rows, seconds).
pub(crate) fn pandas(root: &Path, venv: &Venv, csv: &Path) -> anyhow::Result<(usize, f64)> {
    let output = Command::new(venv.bin("python"))
        .arg(root.join("xtask/bench/pandas_rows.py"))
        .arg(csv)
        .output()
        .context("running pandas")?;
    if !output.status.success() {
        bail!("pandas failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let answer: Value = serde_json::from_slice(&output.stdout)?;
    Ok((
        answer["rows"].as_u64().context("rows")? as usize,
        answer["seconds"].as_f64().context("seconds")?,
    ))
}
