//! Quality gates: every step's output is checked (schema, non-empty, numeric sanity, required
//! sections for LLM text). A failed check does not fail the task; it degrades it, with the
//! check named in the status.

use serde::Serialize;
use serde_json::Value;

use super::{config::QualityConfig, plan::StepKind};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

fn check(name: &'static str, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        name,
        passed,
        detail: detail.into(),
    }
}

/// The checks for one step's output.
/// `llm` says a language model wrote it, which is held to the report's required sections.
pub fn checks(step: StepKind, llm: bool, output: &Value, config: &QualityConfig) -> Vec<Check> {
    match step {
        StepKind::Analyse => analysis_checks(output),
        StepKind::Scan => vec![check(
            "scan_completed",
            output["total"].is_u64() && output["findings"].is_object(),
            format!("{} findings", output["total"]),
        )],
        StepKind::Summarise => summary_checks(llm, output, config),
        StepKind::Mcp => vec![check(
            "non_empty_result",
            !is_empty(output),
            "the tool returned something",
        )],
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

/// The report text a summarise step produced, whichever tool wrote it.
pub fn summary_text(output: &Value) -> &str {
    output["text"]
        .as_str()
        .or_else(|| output["summary"].as_str())
        .unwrap_or_default()
}

fn summary_checks(llm: bool, output: &Value, config: &QualityConfig) -> Vec<Check> {
    let text = summary_text(output);
    let chars = text.chars().count();
    if !llm {
        // An extractive summary is as long as its source allows: it only has to exist.
        return vec![check(
            "summary_present",
            chars > 0,
            format!("{chars} characters"),
        )];
    }
    let missing: Vec<&str> = config
        .required_sections
        .iter()
        .filter(|section| !has_section(text, section))
        .map(String::as_str)
        .collect();
    vec![
        check(
            "summary_length",
            chars >= config.min_summary_chars,
            format!(
                "{chars} characters, at least {} wanted",
                config.min_summary_chars
            ),
        ),
        check(
            "required_sections",
            missing.is_empty(),
            if missing.is_empty() {
                "every required section is present".to_owned()
            } else {
                format!("missing: {}", missing.join(", "))
            },
        ),
    ]
}

/// A Markdown heading (`## Summary`) or a bold/plain line (`**Summary**`, `Summary:`).
fn has_section(text: &str, section: &str) -> bool {
    let section = section.to_lowercase();
    text.lines().any(|line| {
        let line = line
            .trim()
            .trim_start_matches('#')
            .trim()
            .trim_matches('*')
            .trim_end_matches(':')
            .trim()
            .to_lowercase();
        line == section
    })
}

fn analysis_checks(output: &Value) -> Vec<Check> {
    let rows = output["rows"].as_u64().unwrap_or(0);
    let mut checks = vec![check("rows_present", rows > 0, format!("{rows} data rows"))];
    let numeric = output["numeric"].as_object().cloned().unwrap_or_default();
    let finite = numeric.values().all(|stats| {
        ["sum", "mean", "min", "max"]
            .iter()
            .all(|field| stats[field].as_f64().is_some_and(f64::is_finite))
    });
    checks.push(check(
        "statistics_finite",
        finite,
        format!("{} numeric columns", numeric.len()),
    ));
    let ordered = numeric.values().all(|stats| {
        match (
            stats["min"].as_f64(),
            stats["mean"].as_f64(),
            stats["max"].as_f64(),
        ) {
            (Some(min), Some(mean), Some(max)) => min <= mean && mean <= max,
            _ => false,
        }
    });
    checks.push(check(
        "mean_within_range",
        ordered,
        "min <= mean <= max for every numeric column",
    ));
    if let Some(groups) = output["group_by"]["groups"].as_object() {
        let column = output["group_by"]["column"].as_str().unwrap_or_default();
        // A grouping column is a label, not totalled.
        let is_key = |name: &str| {
            output["group_by"]["columns"]
                .as_array()
                .is_some_and(|keys| keys.iter().any(|key| key == name))
        };
        let mismatched: Vec<&String> = numeric
            .iter()
            .filter(|(name, _)| !is_key(name))
            .filter(|(name, stats)| {
                let sum = stats["sum"].as_f64().unwrap_or(f64::NAN);
                let grouped: f64 = groups
                    .values()
                    .filter_map(|group| group["totals"][name.as_str()].as_f64())
                    .sum();
                (grouped - sum).abs() > 1e-9 * sum.abs().max(1.0)
            })
            .map(|(name, _)| name)
            .collect();
        checks.push(check(
            "group_totals_reconcile",
            mismatched.is_empty(),
            if mismatched.is_empty() {
                format!("totals by {column} add up to the column sums")
            } else {
                format!("totals by {column} differ for {mismatched:?}")
            },
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn llm_text_needs_its_sections() {
        let config = QualityConfig::default();
        let good = json!({"text": "## Summary\nRevenue grew 20% over the year, led by the north.\n\n**Key findings**\n- Q4 best"});
        assert!(
            checks(StepKind::Summarise, true, &good, &config)
                .iter()
                .all(|c| c.passed)
        );
        let bad = json!({"text": "Revenue grew a lot this year, which is nice to see in numbers."});
        let failed: Vec<_> = checks(StepKind::Summarise, true, &bad, &config)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        assert_eq!(failed, ["required_sections"]);
        // The extractive fallback is not held to an LLM's format.
        let extractive =
            json!({"summary": "Revenue grew in every quarter of the year, led by north."});
        assert!(
            checks(StepKind::Summarise, false, &extractive, &config)
                .iter()
                .all(|c| c.passed)
        );
    }

    #[test]
    fn analysis_sanity() {
        let good = json!({"rows": 2, "numeric": {"x": {"sum": 3.0, "mean": 1.5, "min": 1.0, "max": 2.0}},
            "group_by": {"column": "g", "groups": {"a": {"totals": {"x": 1.0}}, "b": {"totals": {"x": 2.0}}}}});
        assert!(analysis_checks(&good).iter().all(|c| c.passed));
        let bad = json!({"rows": 2, "numeric": {"x": {"sum": 3.0, "mean": 5.0, "min": 1.0, "max": 2.0}},
            "group_by": {"column": "g", "groups": {"a": {"totals": {"x": 1.0}}}}});
        let failed: Vec<_> = analysis_checks(&bad)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        assert_eq!(failed, ["mean_within_range", "group_totals_reconcile"]);
    }

    #[test]
    fn empty_results_fail() {
        let config = QualityConfig::default();
        assert!(!checks(StepKind::Mcp, false, &json!({}), &config)[0].passed);
        assert!(checks(StepKind::Mcp, false, &json!({"result": 5}), &config)[0].passed);
    }
}
