//! The sweep's table, the chosen row and the Markdown that documents them.

use std::fmt::Write;

use super::model::Outcome;

/// One target value's result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub target: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub task_hours: f64,
    pub peak_running: u32,
    pub scale_outs: u32,
    pub scale_ins: u32,
}

impl Row {
    pub(crate) fn new(target: f64, outcome: &Outcome) -> Self {
        let mut latencies = outcome.latencies.clone();
        latencies.sort_by(f64::total_cmp);
        Self {
            target,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            max: latencies.last().copied().unwrap_or(0.0),
            task_hours: outcome.task_hours,
            peak_running: outcome.peak_running,
            scale_outs: outcome.scale_outs,
            scale_ins: outcome.scale_ins,
        }
    }
}

/// Nearest-rank percentile of sorted values (0 for none).
pub(crate) fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The cheapest row (fewest task-hours) whose p99 meets the objective; the lowest p99 when
/// none does.
pub(crate) fn choose(rows: &[Row], p99_objective: f64) -> Option<&Row> {
    rows.iter()
        .filter(|row| row.p99 <= p99_objective)
        .min_by(|a, b| a.task_hours.total_cmp(&b.task_hours))
        .or_else(|| rows.iter().min_by(|a, b| a.p99.total_cmp(&b.p99)))
}

pub(crate) fn table(rows: &[Row], chosen: Option<&Row>) -> String {
    let mut out = String::from(
        "| target (backlog per task) | p50 latency | p99 latency | max latency | task-hours | peak tasks | scale-outs | scale-ins |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows {
        let mark = if chosen == Some(row) { " **←**" } else { "" };
        let _ = writeln!(
            out,
            "| {}{mark} | {:.1} s | {:.1} s | {:.1} s | {:.1} | {} | {} | {} |",
            row.target,
            row.p50,
            row.p99,
            row.max,
            row.task_hours,
            row.peak_running,
            row.scale_outs,
            row.scale_ins
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: f64, p99: f64, task_hours: f64) -> Row {
        Row {
            target,
            p50: 0.0,
            p99,
            max: p99,
            task_hours,
            peak_running: 1,
            scale_outs: 0,
            scale_ins: 0,
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn choice_is_the_cheapest_row_meeting_the_objective() {
        let rows = [
            row(1.0, 5.0, 30.0),
            row(4.0, 20.0, 12.0),
            row(16.0, 90.0, 8.0),
        ];
        assert_eq!(choose(&rows, 30.0).map(|row| row.target), Some(4.0));
        assert_eq!(
            choose(&rows, 1.0).map(|row| row.target),
            Some(1.0),
            "none meets it: the fastest"
        );
    }
}
