//! The bench's report: a JSON document with a top-level `ratios` object (one number per
//! comparison) beside the raw figures, and the same as Markdown.

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

#[derive(Default)]
pub(crate) struct Report {
    ratios: Map<String, Value>,
    figures: Map<String, Value>,
    details: Map<String, Value>,
    ratio_rows: Vec<String>,
    figure_rows: Vec<String>,
    calls: BTreeMap<String, f64>,
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "",
    }
}

impl Report {
    /// One comparison, measured in this run: ours ÷ theirs.
    pub(crate) fn ratio(&mut self, name: &str, what: &str, value: f64, goal: Goal) {
        let value = round(value);
        self.ratios.insert(name.into(), json!(value));
        self.ratio_rows.push(format!(
            "| `{name}` | {what} | {value} | {} | {} |",
            goal.describe("×"),
            verdict(goal.met(value))
        ));
    }

    /// One absolute figure with its unit.
    pub(crate) fn figure(&mut self, name: &str, what: &str, value: f64, unit: &str, goal: Goal) {
        let value = round(value);
        self.figures.insert(name.into(), json!(value));
        self.figure_rows.push(format!(
            "| `{name}` | {what} | {value} {unit} | {} | {} |",
            goal.describe(&format!(" {unit}")),
            verdict(goal.met(value))
        ));
    }

    pub(crate) fn detail(&mut self, name: &str, value: Value) {
        self.details.insert(name.into(), value);
    }

    pub(crate) fn calls(&mut self, calls: BTreeMap<String, f64>) {
        self.detail("calls_per_task", json!(calls));
        self.calls = calls;
    }

    pub(crate) fn write(&self, dir: &Path, header: &str) -> anyhow::Result<()> {
        let document = json!({
            "ratios": self.ratios,
            "figures": self.figures,
            "details": self.details,
        });
        fs::write(
            dir.join("report.json"),
            serde_json::to_string_pretty(&document)?,
        )?;
        fs::write(dir.join("report.md"), self.markdown(header))?;
        Ok(())
    }

    fn markdown(&self, header: &str) -> String {
        let mut out = format!("{header}\n\n");
        out.push_str(
            "| ratio | comparison | value | goal | met |\n| --- | --- | ---: | ---: | --- |\n",
        );
        for row in &self.ratio_rows {
            let _ = writeln!(out, "{row}");
        }
        out.push_str(
            "\n| figure | what | value | goal | met |\n| --- | --- | ---: | ---: | --- |\n",
        );
        for row in &self.figure_rows {
            let _ = writeln!(out, "{row}");
        }
        if !self.calls.is_empty() {
            out.push_str("\nAWS calls per task (the README's sample task, Brown and Bayko together):\n\n| call | per task |\n| --- | ---: |\n");
            for (kind, count) in &self.calls {
                let _ = writeln!(out, "| {kind} | {count:.2} |");
            }
            let total: f64 = self.calls.values().sum();
            let _ = writeln!(out, "| **all** | **{total:.2}** |");
        }
        out
    }
}
