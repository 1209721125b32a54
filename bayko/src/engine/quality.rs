//! Quality gates: every step's output is checked (schema, non-empty, numeric sanity, required
//! sections for LLM text). A failed check does not fail the task; it degrades it, with the
//! check named in the status.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{config::QualityConfig, plan::StepKind};
use crate::tools::data::{Analysis, GroupTotals, NumericStats};

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

/// The data-processor's checks, on its analysis read back typed.
fn analysis_checks(output: &Value) -> Vec<Check> {
    let analysis = match Analysis::from_output(output) {
        Ok(analysis) => analysis,
        Err(error) => {
            return vec![check(
                "analysis_readable",
                false,
                format!("the output is not an analysis: {error}"),
            )];
        }
    };
    let rows = analysis.rows;
    let numeric = &analysis.numeric;
    let mut checks = vec![
        check("rows_present", rows > 0, format!("{rows} data rows")),
        check(
            "statistics_finite",
            numeric
                .values()
                .all(|s| [s.sum, s.mean, s.min, s.max].iter().all(|v| v.is_finite())),
            format!("{} numeric columns", numeric.len()),
        ),
        check(
            "mean_within_range",
            // NaN compares false: an overflowed statistic fails here too.
            numeric.values().all(|s| s.min <= s.mean && s.mean <= s.max),
            "min <= mean <= max for every numeric column",
        ),
    ];
    if let Some(group_by) = &analysis.group_by {
        checks.push(group_totals_check(numeric, group_by));
    }
    checks
}

/// The totals per group add up to each numeric column's sum.
fn group_totals_check(numeric: &BTreeMap<String, NumericStats>, group_by: &GroupTotals) -> Check {
    let column = &group_by.column;
    let mismatched: Vec<&String> = numeric
        .iter()
        // A grouping column is a label, not totalled.
        .filter(|(name, _)| !group_by.columns.contains(name))
        .filter(|(name, stats)| {
            let grouped: f64 = group_by
                .groups
                .values()
                .filter_map(|group| group.totals.get(name.as_str()))
                .sum();
            (grouped - stats.sum).abs() > 1e-9 * stats.sum.abs().max(1.0)
        })
        .map(|(name, _)| name)
        .collect();
    check(
        "group_totals_reconcile",
        mismatched.is_empty(),
        if mismatched.is_empty() {
            format!("totals by {column} add up to the column sums")
        } else {
            format!("totals by {column} differ for {mismatched:?}")
        },
    )
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
        use crate::tools::data::{TabularFormat, analyse};
        let analysis = analyse(TabularFormat::Csv, "g,x\na,1\nb,2\n", &[]).unwrap();
        let good = serde_json::to_value(&analysis).unwrap();
        assert!(analysis_checks(&good).iter().all(|c| c.passed));
        let mut bad = good.clone();
        bad["numeric"]["x"]["mean"] = json!(5.0);
        bad["group_by"]["groups"]
            .as_object_mut()
            .unwrap()
            .remove("b");
        let failed: Vec<_> = analysis_checks(&bad)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        assert_eq!(failed, ["mean_within_range", "group_totals_reconcile"]);
    }

    #[test]
    fn an_overflowed_sum_fails_the_statistics_check() {
        use crate::tools::data::{TabularFormat, analyse};
        let analysis = analyse(TabularFormat::Csv, "x\n1e308\n1e308\n", &[]).unwrap();
        let output = serde_json::to_value(&analysis).unwrap();
        let failed: Vec<_> = analysis_checks(&output)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        assert_eq!(failed, ["statistics_finite"]);
    }

    #[test]
    fn an_output_that_is_no_analysis_fails_readably() {
        let checks = analysis_checks(&json!({"rows": "many"}));
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].name, "analysis_readable");
        assert!(!checks[0].passed);
    }

    #[test]
    fn empty_results_fail() {
        let config = QualityConfig::default();
        assert!(!checks(StepKind::Mcp, false, &json!({}), &config)[0].passed);
        assert!(checks(StepKind::Mcp, false, &json!({"result": 5}), &config)[0].passed);
    }
}
