//! `cargo xtask bench`: the benchmark suite on release builds against the local emulator, every
//! comparison measured in one run (these machines are shared and noisy: ratios, not absolute
//! figures, are what carry over). Writes `target/bench/report.{json,md}`, the measured task
//! durations for `cargo xtask simulate --durations`, and the processes' logs.
//!
//! The load generator runs optimised too (`cargo xtask bench` rebuilds itself in release and
//! re-executes): a debug client would spend more CPU than the servers it measures.

mod bayko;
mod brown;
mod callgrind;
mod load;
mod pipeline;
mod process;
mod proxy;
mod python;
mod report;
mod rows;
mod stack;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::json;

use crate::emulator::Venv;
use load::round;
use report::{Baseline, Goal, Report};
use stack::Stack;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Tasks for the CPU-per-task runs and the queue drains.
    #[arg(long, default_value_t = 2000)]
    tasks: usize,
    /// Tasks for the 100 ms tool and Celery.
    #[arg(long, default_value_t = 400)]
    slow_tasks: usize,
    /// Seconds per throughput measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Tasks submitted at 20/s for the end-to-end latency.
    #[arg(long, default_value_t = 400)]
    e2e_tasks: usize,
    /// The build whose binaries run. `debug` (already built, e.g. by `cargo xtask test`)
    /// checks the suite itself in a minute; its figures mean nothing.
    #[arg(long, default_value = "release")]
    profile: String,
    /// Instead of the suite: Brown's instructions per accepted task under callgrind, by part
    /// (the README's profile). Needs valgrind.
    #[arg(long)]
    profile_brown: bool,
    /// A report to compare with: each number is shown beside its value there ("before").
    /// By default the previous run's, kept as `target/bench/report.previous.json`.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Set by the bench itself once the binaries are built.
    #[arg(long, hide = true)]
    built: bool,
}

pub fn run(root: &Path, args: BenchArgs) -> anyhow::Result<()> {
    let target = crate::target_dir(root)?;
    if args.profile_brown {
        return callgrind::run(root, &target);
    }
    if !args.built {
        return build_and_reexec(root, &target, &args.profile);
    }
    let venv = Venv::ensure(root)?;
    let bench_venv = Venv::ensure_named(root, ".venv-bench", "xtask/requirements-bench.txt")?;
    let out = target.join("bench");
    let logs = out.join("logs");
    fs::create_dir_all(&logs)?;
    let baseline = match &args.baseline {
        Some(path) => Some(
            Baseline::read(path, format!("`{}`", path.display()))
                .with_context(|| format!("reading the baseline report {}", path.display()))?,
        ),
        // A check run of the debug build measures nothing worth comparing with.
        None if args.profile != "release" => None,
        None => {
            let previous = out.join("report.previous.json");
            let _ = fs::rename(out.join("report.json"), &previous);
            Baseline::read(
                &previous,
                "the previous run's report (`report.previous.json`)",
            )
        }
    };
    let log = logs.join("moto.log");
    let emulator = crate::emulator::start(&venv, &log)?;
    eprintln!("bench: emulator at {}", emulator.endpoint);
    let runtime = tokio::runtime::Runtime::new()?;
    let bin = target.join(&args.profile);
    let report = runtime.block_on(suite(
        root,
        &bin,
        &out,
        &args,
        &emulator.endpoint,
        &bench_venv,
    ))?;
    drop(emulator);
    let header = format!(
        "# Bayko & Brown: benchmark report\n\n`cargo xtask bench` on {} ({} cores, load average before the run: {}). \
         {} builds, moto {}, one run: ratios are measured side by side within it.",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, usize::from),
        fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        args.profile,
        "5.2.5",
    );
    report.write(&out, &header, baseline.as_ref())?;
    println!("{}", fs::read_to_string(out.join("report.md"))?);
    eprintln!("bench: wrote {}/report.json and report.md", out.display());
    Ok(())
}

/// Builds Brown, Bayko and this tool in release in one cargo invocation (one feature
/// resolution, one build of the dependencies), then runs the suite from the release build.
/// The re-executed bench lets moto purge the queue more often than AWS's one purge a minute
/// (the bench empties it between measurements); moto reads that setting from its environment.
fn build_and_reexec(root: &Path, target: &Path, profile: &str) -> anyhow::Result<()> {
    let bench = if profile == "release" {
        build_release(root)?;
        target.join("release/xtask")
    } else {
        std::env::current_exe()?
    };
    let status = Command::new(bench)
        .args(std::env::args().skip(1))
        .arg("--built")
        .env("MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR", "false")
        .current_dir(root)
        .status()
        .context("running the bench")?;
    if !status.success() {
        bail!("the bench failed ({status})");
    }
    Ok(())
}

fn build_release(root: &Path) -> anyhow::Result<()> {
    eprintln!("bench: building brown, bayko and xtask (release)");
    let built = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "brown",
            "-p",
            "bayko",
            "-p",
            "xtask",
        ])
        .current_dir(root)
        .status()
        .context("building the release binaries")?;
    if !built.success() {
        bail!("the release build failed");
    }
    Ok(())
}

async fn suite(
    root: &Path,
    bin: &Path,
    out: &Path,
    args: &BenchArgs,
    endpoint: &str,
    bench_venv: &Venv,
) -> anyhow::Result<Report> {
    let stack = Arc::new(Stack::provision(endpoint, bin.to_owned(), out.join("logs")).await?);
    let http = stack::http_client()?;
    let limit = Duration::from_secs(args.seconds);
    let mut report = Report::default();

    // Start-up and size.
    let mut brown_ready = Vec::new();
    let mut bayko_ready = Vec::new();
    for _ in 0..5 {
        let mut env = stack.env(endpoint);
        env.push(("BROWN_BIND".into(), stack::free_bind()?));
        brown_ready.push(process::brown_exec_to_ready(bin, &env)?);
        bayko_ready.push(process::bayko_exec_to_ready(bin, &env)?);
    }
    brown_ready.sort();
    bayko_ready.sort();
    report.figure(
        "brown_exec_to_ready_ms",
        "Brown: exec → `/healthz` answers (median of 5)",
        ms(brown_ready[2]),
        "ms",
        Goal::AtMost(100.0),
    );
    report.figure(
        "bayko_exec_to_ready_ms",
        "Bayko: exec → tools registered, receiving (median of 5)",
        ms(bayko_ready[2]),
        "ms",
        Goal::AtMost(100.0),
    );
    for name in ["brown", "bayko"] {
        let size = process::file_size(bin.join(name))? as f64 / (1024.0 * 1024.0);
        report.figure(
            &format!("{name}_binary_mib"),
            &format!("{name} binary (release, stripped)"),
            size,
            "MiB",
            Goal::None,
        );
    }
    eprintln!("bench: start-up measured");

    // Brown: ingest beside raw writes, rejections beside a trivial route, CPU per task.
    let bind = stack::free_bind()?;
    let base = format!("http://{bind}");
    let brown = stack.spawn_brown(&bind, endpoint)?;
    let size = brown::stored_size(&stack, &http, &base, &brown::noop_request()).await?;
    let mut ingests = Vec::new();
    let mut ingests_cpu = None;
    for concurrency in [1, 16, 64] {
        let ingest = brown::ingest(&stack, &http, &base, concurrency, size, limit).await?;
        eprintln!(
            "bench: ingest c={concurrency}: brown {:.0}/s, raw {:.0}/s",
            ingest.brown.per_second(),
            ingest.raw_put.per_second()
        );
        report.ratio(
            &format!("brown_ingest_vs_raw_put_c{concurrency}"),
            &format!("Brown accepted tasks/s ÷ raw create-only PutObject/s ({size} B), concurrency {concurrency}"),
            ingest.ratio(),
            Goal::AtLeast(0.9),
        );
        for (name, what, value, unit) in [
            (
                "per_second",
                "accepted tasks/s",
                ingest.brown.per_second(),
                "/s",
            ),
            (
                "p50_ms",
                "latency p50",
                ingest.brown.percentile_ms(0.50),
                "ms",
            ),
            (
                "p99_ms",
                "latency p99",
                ingest.brown.percentile_ms(0.99),
                "ms",
            ),
        ] {
            report.figure(
                &format!("brown_ingest_{name}_c{concurrency}"),
                &format!("Brown {what}, concurrency {concurrency}"),
                value,
                unit,
                Goal::None,
            );
        }
        if concurrency == 16 {
            ingests_cpu = Some(ingest.raw_put_cpu);
        }
        ingests.push(brown::ingest_json(&ingest));
    }
    report.detail("ingest", json!(ingests));
    let (rejected, trivial) = brown::rejected_vs_trivial(&http, &base, limit).await;
    report.ratio(
        "brown_rejected_vs_trivial_route",
        "Brown rejected (422) requests/s ÷ `/healthz` requests/s, concurrency 16",
        rejected.per_second() / trivial.per_second(),
        Goal::AtLeast(0.7),
    );
    report.detail(
        "rejected",
        json!({"rejected": rejected.to_json(), "healthz": trivial.to_json()}),
    );
    eprintln!(
        "bench: rejected {:.0}/s, healthz {:.0}/s",
        rejected.per_second(),
        trivial.per_second()
    );

    stack.purge().await?;
    let (accepted, brown_cpu) = brown::cpu_per_task(&brown, &http, &base, args.tasks).await?;
    report.figure(
        "brown_cpu_us_per_task",
        &format!(
            "Brown CPU per accepted task ({} tasks, concurrency 16)",
            accepted.ok
        ),
        us(brown_cpu),
        "µs",
        Goal::AtMost(50.0),
    );
    if let Some(c16) = ingests_cpu {
        report.figure(
            "raw_put_client_cpu_us",
            "the bench's own CPU per raw PutObject at concurrency 16 (the SDK's floor under Brown's)",
            us(c16),
            "µs",
            Goal::None,
        );
    }
    stack
        .wait_for_depth(Some(accepted.ok as u64), Duration::from_secs(120))
        .await?;
    eprintln!("bench: Brown CPU per task {brown_cpu:?}");

    // Bayko: drain the no-op tasks Brown just accepted, then the bare loop on as many.
    let config = out.join("noop.toml");
    fs::write(&config, bayko::NOOP_CONFIG)?;
    let config = config.display().to_string();
    let mut bayko_peak = 0;
    let started = Instant::now();
    let metrics_bind = stack::free_bind()?;
    let worker = stack.spawn_bayko(
        "noop",
        endpoint,
        &[
            ("BAYKO_CONFIG", &config),
            ("BAYKO_METRICS_BIND", &metrics_bind),
        ],
    )?;
    let drained = bayko::drain(&stack, accepted.ok, started).await?;
    let bayko_cpu = worker.cpu()? / accepted.ok.max(1) as u32;
    let bayko_receives = bayko::Receives::scrape(&http, &metrics_bind).await?;
    bayko_peak = bayko_peak.max(worker.peak_rss()?);
    drop(worker);
    eprintln!(
        "bench: Bayko no-op {:.1}/s, CPU {bayko_cpu:?}, {bayko_receives:?}",
        drained.per_second()
    );
    bayko::prefill(&stack, args.tasks).await?;
    let bayko::BareLoop {
        drain: bare,
        cpu_per_task: bare_cpu,
        receives: bare_receives,
    } = bayko::bare_loop(&stack, args.tasks).await?;
    eprintln!(
        "bench: bare loop {:.1}/s, {bare_receives:?}",
        bare.per_second()
    );
    report.ratio(
        "bayko_noop_vs_bare_loop",
        "Bayko no-op tasks/s ÷ a bare receive → get → put → delete loop (8 in flight)",
        drained.per_second() / bare.per_second(),
        Goal::AtLeast(0.8),
    );
    for (key, who, receives, tasks) in [
        ("bayko", "Bayko", bayko_receives, drained.tasks),
        ("bare_loop", "the bare loop", bare_receives, bare.tasks),
    ] {
        report.figure(
            &format!("{key}_receives_per_task"),
            &format!("{who}: SQS receives per no-op task"),
            receives.per_task(tasks),
            "",
            Goal::None,
        );
        report.figure(
            &format!("{key}_messages_per_receive"),
            &format!("{who}: messages per receive"),
            receives.messages_per_call(),
            "",
            Goal::None,
        );
    }
    report.figure(
        "bayko_cpu_us_per_task",
        &format!(
            "Bayko CPU per no-op task ({} tasks, start-up included)",
            accepted.ok
        ),
        us(bayko_cpu),
        "µs",
        Goal::AtMost(200.0),
    );
    report.figure(
        "bare_loop_cpu_us_per_task",
        "the bare loop's own CPU per task (the SDK's floor under Bayko's)",
        us(bare_cpu),
        "µs",
        Goal::None,
    );
    report.detail("bayko_noop", json!({"tasks": drained.tasks, "per_second": round(drained.per_second()), "bare_loop_tasks": bare.tasks, "bare_loop_per_second": round(bare.per_second())}));

    // A 100 ms tool: Bayko beside the ideal and beside Celery.
    bayko::prefill(&stack, args.slow_tasks).await?;
    let started = Instant::now();
    let worker = stack.spawn_bayko(
        "100ms",
        endpoint,
        &[
            ("BAYKO_CONFIG", &config),
            ("BAYKO_CHAOS_STEP_DELAY_MS", "100"),
        ],
    )?;
    let slow = bayko::drain(&stack, args.slow_tasks, started).await?;
    bayko_peak = bayko_peak.max(worker.peak_rss()?);
    drop(worker);
    let ideal = bayko::IN_FLIGHT as f64 / 0.1;
    let celery = python::celery(root, out, bench_venv, endpoint, args.slow_tasks)?;
    eprintln!(
        "bench: 100 ms tool: Bayko {:.1}/s, Celery {:.1}/s",
        slow.per_second(),
        celery.per_second
    );
    report.ratio(
        "bayko_100ms_vs_ideal",
        &format!(
            "Bayko tasks/s with a 100 ms tool ÷ the ideal ({} in flight ÷ 0.1 s)",
            bayko::IN_FLIGHT
        ),
        slow.per_second() / ideal,
        Goal::AtLeast(0.8),
    );
    report.ratio(
        "bayko_100ms_vs_celery",
        "Bayko ÷ a Celery worker (SQS transport, default prefork concurrency), same 100 ms task",
        slow.per_second() / celery.per_second,
        Goal::AtLeast(20.0),
    );
    report.detail("tool_100ms", json!({"tasks": slow.tasks, "bayko_per_second": round(slow.per_second()), "ideal_per_second": ideal, "celery_per_second": round(celery.per_second), "celery_tasks": celery.tasks}));

    // End to end at a steady 20 tasks/s, Bayko with its defaults (20 s long poll).
    stack.purge().await?;
    let csv = fs::read_to_string(root.join("examples/quarterly.csv"))?;
    let worker = stack.spawn_bayko("e2e", endpoint, &[])?;
    let finished = pipeline::end_to_end(
        &stack,
        &http,
        &base,
        pipeline::sample_request(&csv),
        20.0,
        args.e2e_tasks,
    )
    .await?;
    bayko_peak = bayko_peak.max(worker.peak_rss()?);
    drop(worker);
    let mut latencies: Vec<Duration> = finished.iter().map(|task| task.latency).collect();
    latencies.sort();
    let p50 = load::percentile_ms(&latencies, 0.50);
    let p99 = load::percentile_ms(&latencies, 0.99);
    report.figure(
        "e2e_p50_ms",
        &format!(
            "POST → final status, p50, {} sample tasks at 20/s",
            finished.len()
        ),
        p50,
        "ms",
        Goal::AtMost(100.0),
    );
    report.figure(
        "e2e_p99_ms",
        "POST → final status, p99",
        p99,
        "ms",
        Goal::AtMost(500.0),
    );
    let states = finished.iter().fold(
        std::collections::BTreeMap::<&str, usize>::new(),
        |mut counts, task| {
            *counts.entry(task.state.as_str()).or_default() += 1;
            counts
        },
    );
    report.detail("e2e", json!({"tasks": finished.len(), "p50_ms": round(p50), "p99_ms": round(p99), "states": states}));
    let durations: Vec<f64> = finished
        .iter()
        .map(|task| round(ms(task.duration)))
        .collect();
    fs::write(
        out.join("task-durations.json"),
        serde_json::to_string(&durations)?,
    )?;
    eprintln!("bench: e2e p50 {p50:.0} ms, p99 {p99:.0} ms");

    report.figure(
        "brown_peak_rss_mib",
        "Brown peak RSS over the ingest and CPU runs",
        brown.peak_rss()? as f64 / MIB,
        "MiB",
        Goal::AtMost(20.0),
    );
    report.figure(
        "bayko_peak_rss_mib",
        "Bayko peak RSS over the drains and the end-to-end run",
        bayko_peak as f64 / MIB,
        "MiB",
        Goal::AtMost(50.0),
    );
    drop(brown);

    // Calls per task, through the counting proxy.
    stack.purge().await?;
    let proxy = proxy::CountingProxy::start(endpoint, stack.tasks_bucket()).await?;
    let counted_bind = stack::free_bind()?;
    let counted_brown = stack.spawn_brown(&counted_bind, &proxy.endpoint)?;
    let counted_bayko = stack.spawn_bayko("counted", &proxy.endpoint, &[])?;
    proxy.take();
    let calls = pipeline::calls_per_task(
        &stack,
        &http,
        &format!("http://{counted_bind}"),
        pipeline::sample_request(&csv),
        100,
        || proxy.take(),
    )
    .await?;
    drop((counted_bayko, counted_brown));
    report.figure(
        "calls_per_task",
        "AWS calls per sample task (Brown + Bayko, all kinds)",
        calls.values().sum(),
        "",
        Goal::None,
    );
    report.calls(calls);

    // The data-processor beside pandas on the largest table a task may carry (the shared row
    // limit, 100,000 rows; a million rows would be refused as over it).
    let table_rows = shared::limits::DataLimits::DEFAULT.max_rows;
    let csv_path = out.join(format!("rows-{table_rows}.csv"));
    rows::generate(&csv_path, table_rows)?;
    // A run takes a tenth of a second, so one run is at the mercy of whatever else the
    // machine does: the median of five, the two taken in turn.
    let (mut rust_runs, mut pandas_runs) = (Vec::new(), Vec::new());
    for _ in 0..DATA_RUNS {
        rust_runs.push(rows::data_processor(&csv_path)?);
        pandas_runs.push(python::pandas(root, bench_venv, &csv_path)?);
    }
    let (rust_rows, rust_seconds) = median_run(&mut rust_runs);
    let (pandas_rows, pandas_seconds) = median_run(&mut pandas_runs);
    report.ratio(
        "data_processor_vs_pandas",
        "data-processor rows/s ÷ pandas rows/s, same aggregation, 100,000-row CSV (median of 5 each)",
        (rust_rows as f64 / rust_seconds) / (pandas_rows as f64 / pandas_seconds),
        Goal::AtLeast(1.0),
    );
    report.detail("data_processor", json!({"rows": rust_rows, "seconds": round(rust_seconds), "pandas_rows": pandas_rows, "pandas_seconds": round(pandas_seconds)}));
    eprintln!("bench: data-processor {rust_seconds:.2} s, pandas {pandas_seconds:.2} s");
    Ok(report)
}

const MIB: f64 = 1024.0 * 1024.0;

/// Runs of the data-processor and of pandas; each side's median counts.
const DATA_RUNS: usize = 5;

/// The median of (rows, seconds) runs, by time.
fn median_run(runs: &mut [(usize, f64)]) -> (usize, f64) {
    runs.sort_by(|a, b| a.1.total_cmp(&b.1));
    runs[runs.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn us(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
