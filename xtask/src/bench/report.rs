//! The bench's report: a JSON document with a top-level `ratios` object (one number per
//! comparison) beside the raw figures, and the same as Markdown, each number beside its value
//! in a baseline report (by default the previous run's) so that a fix shows before and after.

use std::{collections::BTreeMap, fmt::Write, fs, path::Path};

use serde_json::{Map, Value, json};

use super::load::round;

/// Which way a goal points.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Goal {
    AtLeast(f64),
    AtMost(f64),
    None,
}

impl Goal {
    fn met(self, value: f64) -> Option<bool> {
        match self {
            Self::AtLeast(goal) => Some(value >= goal),
            Self::AtMost(goal) => Some(value <= goal),
            Self::None => None,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Self::AtLeast(goal) => format!("≥ {goal}{unit}"),
            Self::AtMost(goal) => format!("≤ {goal}{unit}"),
            Self::None => String::new(),
        }
    }
}

/// One line of a table: a ratio (unit `×`) or a figure.
struct Row {
    name: String,
    what: String,
    value: f64,
    unit: String,
    goal: Goal,
}

#[derive(Default)]
pub(crate) struct Report {
    ratios: Map<String, Value>,
    figures: Map<String, Value>,
    details: Map<String, Value>,
    ratio_rows: Vec<Row>,
    figure_rows: Vec<Row>,
    calls: BTreeMap<String, f64>,
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "",
    }
}

/// A baseline report: the numbers a run is compared with, and where they came from.
pub(crate) struct Baseline {
    pub label: String,
    pub document: Value,
}

impl Baseline {
    /// The report at `path`, if there is one that parses.
    pub(crate) fn read(path: &Path, label: impl Into<String>) -> Option<Self> {
        let document = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
        Some(Self {
            label: label.into(),
            document,
        })
    }

    fn value(&self, section: &str, name: &str) -> Option<f64> {
        self.document[section][name].as_f64()
    }
}

impl Report {
    /// One comparison, measured in this run: ours ÷ theirs.
    pub(crate) fn ratio(&mut self, name: &str, what: &str, value: f64, goal: Goal) {
        let value = round(value);
        self.ratios.insert(name.into(), json!(value));
        self.ratio_rows.push(Row {
            name: name.into(),
            what: what.into(),
            value,
            unit: "×".into(),
            goal,
        });
    }

    /// One absolute figure with its unit.
    pub(crate) fn figure(&mut self, name: &str, what: &str, value: f64, unit: &str, goal: Goal) {
        let value = round(value);
        self.figures.insert(name.into(), json!(value));
        self.figure_rows.push(Row {
            name: name.into(),
            what: what.into(),
            value,
            unit: unit.into(),
            goal,
        });
    }

    pub(crate) fn detail(&mut self, name: &str, value: Value) {
        self.details.insert(name.into(), value);
    }

    pub(crate) fn calls(&mut self, calls: BTreeMap<String, f64>) {
        self.detail("calls_per_task", json!(calls));
        self.calls = calls;
    }

    pub(crate) fn write(
        &self,
        dir: &Path,
        header: &str,
        baseline: Option<&Baseline>,
    ) -> anyhow::Result<()> {
        let document = json!({
            "ratios": self.ratios,
            "figures": self.figures,
            "details": self.details,
        });
        fs::write(
            dir.join("report.json"),
            serde_json::to_string_pretty(&document)?,
        )?;
        fs::write(dir.join("report.md"), self.markdown(header, baseline))?;
        Ok(())
    }

    fn markdown(&self, header: &str, baseline: Option<&Baseline>) -> String {
        let mut out = format!("{header}\n\n");
        if let Some(baseline) = baseline {
            let _ = writeln!(out, "\"before\": {}.\n", baseline.label);
        }
        table(
            &mut out,
            "ratio",
            "comparison",
            "ratios",
            &self.ratio_rows,
            baseline,
        );
        out.push('\n');
        table(
            &mut out,
            "figure",
            "what",
            "figures",
            &self.figure_rows,
            baseline,
        );
        if !self.calls.is_empty() {
            out.push_str("\nAWS calls per task (the README's sample task, Brown and Bayko together):\n\n| call | per task | before |\n| --- | ---: | ---: |\n");
            let before = baseline.map(|b| &b.document["details"]["calls_per_task"]);
            // Every kind either run made, so that each column adds up to its total.
            let mut kinds: std::collections::BTreeSet<&str> =
                self.calls.keys().map(String::as_str).collect();
            if let Some(calls) = before.and_then(Value::as_object) {
                kinds.extend(calls.keys().map(String::as_str));
            }
            for kind in kinds {
                let now = self
                    .calls
                    .get(kind)
                    .map(|count| format!("{count:.2}"))
                    .unwrap_or_default();
                let was = before
                    .and_then(|calls| calls[kind].as_f64())
                    .map(|was| format!("{was:.2}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "| {kind} | {now} | {was} |");
            }
            let total: f64 = self.calls.values().sum();
            let was_total = before
                .and_then(Value::as_object)
                .map(|calls| calls.values().filter_map(Value::as_f64).sum::<f64>())
                .map(|total| format!("**{total:.2}**"))
                .unwrap_or_default();
            let _ = writeln!(out, "| **all** | **{total:.2}** | {was_total} |");
        }
        out
    }
}

/// One Markdown table of rows, with the baseline's value of each beside it.
fn table(
    out: &mut String,
    kind: &str,
    what: &str,
    section: &str,
    rows: &[Row],
    baseline: Option<&Baseline>,
) {
    let _ = writeln!(
        out,
        "| {kind} | {what} | value | before | goal | met |\n| --- | --- | ---: | ---: | ---: | --- |"
    );
    for row in rows {
        let unit = if row.unit == "×" {
            String::new()
        } else {
            format!(" {}", row.unit)
        };
        let before = baseline
            .and_then(|b| b.value(section, &row.name))
            .map(|was| format!("{was}{unit}"))
            .unwrap_or_default();
        let goal_unit = if row.unit == "×" {
            "×".into()
        } else {
            unit.clone()
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {}{unit} | {before} | {} | {} |",
            row.name,
            row.what,
            row.value,
            row.goal.describe(&goal_unit),
            verdict(row.goal.met(row.value))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_number_stands_beside_its_baseline_value() {
        let mut report = Report::default();
        report.ratio("fast", "ours ÷ theirs", 0.5, Goal::AtLeast(0.8));
        report.figure("cpu", "CPU per task", 120.0, "µs", Goal::AtMost(200.0));
        report.figure("new", "not in the baseline", 3.0, "MiB", Goal::None);
        report.calls(BTreeMap::from([("S3 PutObject".to_owned(), 2.0)]));
        let baseline = Baseline {
            label: "the last run".into(),
            document: json!({
                "ratios": {"fast": 0.25},
                "figures": {"cpu": 900.0},
                "details": {"calls_per_task": {"S3 PutObject": 3.0, "S3 HeadObject": 1.0}},
            }),
        };
        let markdown = report.markdown("# report", Some(&baseline));
        assert!(markdown.contains("\"before\": the last run."), "{markdown}");
        assert!(
            markdown.contains("| `fast` | ours ÷ theirs | 0.5 | 0.25 | ≥ 0.8× | **no** |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| `cpu` | CPU per task | 120 µs | 900 µs | ≤ 200 µs | yes |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| `new` | not in the baseline | 3 MiB |  |  |  |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| S3 PutObject | 2.00 | 3.00 |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| **all** | **2.00** | **4.00** |"),
            "{markdown}"
        );
    }

    #[test]
    fn without_a_baseline_the_before_column_is_empty() {
        let mut report = Report::default();
        report.ratio("fast", "ours ÷ theirs", 1.0, Goal::AtLeast(0.8));
        let markdown = report.markdown("# report", None);
        assert!(
            markdown.contains("| `fast` | ours ÷ theirs | 1 |  | ≥ 0.8× | yes |"),
            "{markdown}"
        );
    }
}
