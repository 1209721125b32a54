//! `cargo xtask simulate`: Bayko's autoscaling (ECS target tracking on backlog per task) as a
//! discrete-event simulation, swept over the target value. Writes the table, the chosen row and
//! a plot of the chosen run: into `docs/autoscaling.md` (between its markers) and
//! `docs/autoscaling.svg` by default.

mod load;
mod model;
mod plot;
mod report;
mod scaler;

use std::{
    fmt::Write,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use rand::{SeedableRng, rngs::StdRng};

use load::{Arrivals, Durations};
use model::Service;
use report::Row;
use scaler::ScalingPolicy;

const BEGIN: &str = "<!-- simulate:begin -->";
const END: &str = "<!-- simulate:end -->";

#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Directory for autoscaling.md and autoscaling.svg. An existing autoscaling.md keeps
    /// everything outside its generated section.
    #[arg(long, default_value = "docs")]
    out: PathBuf,
    /// Simulated time.
    #[arg(long, default_value_t = 8.0)]
    hours: f64,
    #[arg(long, default_value_t = 13)]
    seed: u64,
    /// Tasks per second outside bursts.
    #[arg(long, default_value_t = 3.0)]
    base_rate: f64,
    /// Rate during a burst, as a multiple of the base rate.
    #[arg(long, default_value_t = 6.0)]
    burst_factor: f64,
    /// Mean minutes between the starts of two bursts.
    #[arg(long, default_value_t = 60.0)]
    burst_every_minutes: f64,
    #[arg(long, default_value_t = 10.0)]
    burst_minutes: f64,
    /// A JSON array of measured task durations in milliseconds (`cargo xtask bench` writes
    /// target/bench/task-durations.json). Without it, the log-normal placeholder below.
    #[arg(long)]
    durations: Option<PathBuf>,
    /// The placeholder's median task duration.
    #[arg(long, default_value_t = 1500.0)]
    median_ms: f64,
    /// The placeholder's log-normal shape.
    #[arg(long, default_value_t = 0.7)]
    sigma: f64,
    /// Messages one Bayko task works on at once (BAYKO_MAX_IN_FLIGHT).
    #[arg(long, default_value_t = 8)]
    slots: u32,
    /// Seconds from launching a task to its first receive.
    #[arg(long, default_value_t = 60.0)]
    startup_seconds: f64,
    #[arg(long, default_value_t = 60.0)]
    metric_period_seconds: f64,
    #[arg(long, default_value_t = 60.0)]
    scale_out_cooldown_seconds: f64,
    #[arg(long, default_value_t = 300.0)]
    scale_in_cooldown_seconds: f64,
    #[arg(long, default_value_t = 1)]
    min: u32,
    #[arg(long, default_value_t = 20)]
    max: u32,
    /// The objective the chosen row must meet: the cheapest row with a p99 under it wins.
    #[arg(long, default_value_t = 120.0)]
    p99_objective_seconds: f64,
    /// Target values to sweep.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,6,8,12,16,24,32")]
    targets: Vec<f64>,
}

pub fn run(root: &Path, args: SimulateArgs) -> anyhow::Result<()> {
    if args.targets.is_empty() || args.min > args.max {
        bail!("give at least one target value, and --min at most --max");
    }
    let durations = match &args.durations {
        Some(path) => read_durations(&root.join(path))?,
        None => Durations::LogNormal {
            median: args.median_ms / 1e3,
            sigma: args.sigma,
        },
    };
    let load = Arrivals {
        base_rate: args.base_rate,
        burst_factor: args.burst_factor,
        burst_every: args.burst_every_minutes * 60.0,
        burst_length: args.burst_minutes * 60.0,
    };
    let horizon = args.hours * 3600.0;
    // One arrival trace for every target value, so rows differ only by the policy.
    let arrivals = load.sample(horizon, &mut StdRng::seed_from_u64(args.seed));

    let mut runs = Vec::new();
    for &target in &args.targets {
        let service = service(&args, target);
        let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
        let outcome = model::run(service, &arrivals, &durations, horizon, &mut rng);
        runs.push((Row::new(target, &outcome), outcome));
    }
    let rows: Vec<Row> = runs.iter().map(|(row, _)| row.clone()).collect();
    let chosen = report::choose(&rows, args.p99_objective_seconds)
        .cloned()
        .context("no rows")?;
    let (_, chosen_run) = runs
        .iter()
        .find(|(row, _)| *row == chosen)
        .context("the chosen row's run")?;

    let out = root.join(&args.out);
    fs::create_dir_all(&out)?;
    plot::draw(
        &out.join("autoscaling.svg"),
        &format!("target {} backlog per task", chosen.target),
        &chosen_run.series,
    )?;
    let section = section(&args, &durations, arrivals.len(), &rows, &chosen);
    let markdown = out.join("autoscaling.md");
    write_section(&markdown, &section)?;
    println!("{section}");
    eprintln!(
        "xtask: wrote {} and {}",
        markdown.display(),
        out.join("autoscaling.svg").display()
    );
    Ok(())
}

fn service(args: &SimulateArgs, target: f64) -> Service {
    Service {
        policy: ScalingPolicy {
            target,
            scale_out_cooldown: args.scale_out_cooldown_seconds,
            scale_in_cooldown: args.scale_in_cooldown_seconds,
            scale_out_periods: 3,
            scale_in_periods: 15,
            min: args.min,
            max: args.max,
        },
        metric_period: args.metric_period_seconds,
        startup: args.startup_seconds,
        slots: args.slots,
        initial: args.min,
    }
}

fn read_durations(path: &Path) -> anyhow::Result<Durations> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let millis: Vec<f64> = serde_json::from_str(&text)
        .with_context(|| format!("{}: expected a JSON array of milliseconds", path.display()))?;
    if millis.is_empty() || millis.iter().any(|ms| !ms.is_finite() || *ms < 0.0) {
        bail!("{}: no usable durations", path.display());
    }
    Ok(Durations::Measured(
        millis.into_iter().map(|ms| ms / 1e3).collect(),
    ))
}

fn section(
    args: &SimulateArgs,
    durations: &Durations,
    tasks: usize,
    rows: &[Row],
    chosen: &Row,
) -> String {
    let command: Vec<String> = std::env::args().skip(1).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Generated by `cargo xtask {}` (seed {}).\n",
        command.join(" "),
        args.seed
    );
    let _ = writeln!(
        out,
        "- Load: {tasks} tasks over {} h; Poisson at {}/s, bursts of {}× lasting {} min every {} min on average.",
        args.hours, args.base_rate, args.burst_factor, args.burst_minutes, args.burst_every_minutes
    );
    let _ = writeln!(out, "- Task durations: {}.", durations.describe());
    let _ = writeln!(
        out,
        "- Service: {} slots per Bayko task, {} s start-up, a datapoint every {} s, scale-out after 3 datapoints above the target, scale-in after 15 under 90 % of it; cooldowns {} s out, {} s in; min {}, max {}.",
        args.slots,
        args.startup_seconds,
        args.metric_period_seconds,
        args.scale_out_cooldown_seconds,
        args.scale_in_cooldown_seconds,
        args.min,
        args.max
    );
    let _ = writeln!(
        out,
        "- Latency is arrival to done (queue wait + duration). Objective for the choice: p99 ≤ {} s at the fewest task-hours.\n",
        args.p99_objective_seconds
    );
    out.push_str(&report::table(rows, Some(chosen)));
    let _ = writeln!(
        out,
        "\nChosen: **target {}** (p99 {:.1} s, {:.1} task-hours). Terraform:\n",
        chosen.target, chosen.p99, chosen.task_hours
    );
    out.push_str("| variable | value |\n| --- | ---: |\n");
    for (name, value) in [
        ("bayko_backlog_per_task_target", chosen.target.to_string()),
        (
            "bayko_scale_out_cooldown_seconds",
            args.scale_out_cooldown_seconds.to_string(),
        ),
        (
            "bayko_scale_in_cooldown_seconds",
            args.scale_in_cooldown_seconds.to_string(),
        ),
        ("bayko_min_count", args.min.to_string()),
        ("bayko_max_count", args.max.to_string()),
    ] {
        let _ = writeln!(out, "| `{name}` | {value} |");
    }
    out.push_str("\n![backlog, tasks and latency of the chosen run](autoscaling.svg)\n");
    out
}

/// Replaces the generated section of `path`, or writes the file with only that section.
fn write_section(path: &Path, section: &str) -> anyhow::Result<()> {
    let generated = format!("{BEGIN}\n{section}{END}\n");
    let text = match fs::read_to_string(path) {
        Ok(existing) => match (existing.find(BEGIN), existing.find(END)) {
            (Some(begin), Some(end)) if begin < end => format!(
                "{}{generated}{}",
                &existing[..begin],
                existing[end + END.len()..].trim_start_matches('\n')
            ),
            _ => bail!(
                "{} exists without its {BEGIN} … {END} markers",
                path.display()
            ),
        },
        Err(_) => format!("# Autoscaling simulation\n\n{generated}"),
    };
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
