//! The built-in tools: the pure analysers wrapped in the [`Tool`] interface. Their work is CPU
//! bound, so it runs on the blocking pool and never stalls the worker's I/O.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    Tool, ToolError, ToolSpec,
    budget::MemoryBudget,
    cancel::{WorkMeter, run_blocking},
    capability, compliance,
    data::{self, TabularFormat},
    document::{self, DocumentOptions},
    string_field,
};

pub const DATA_PROCESSOR: &str = "data-processor";
pub const DOCUMENT_PROCESSOR: &str = "document-processor";
pub const COMPLIANCE_SCANNER: &str = "compliance-scanner";

/// Runs work that cannot be cancelled part-way (one document, one scan: bounded by the
/// shared text limit) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    run_blocking(&Arc::default(), move |_| work()).await
}

fn to_json(value: impl serde::Serialize) -> Result<Value, ToolError> {
    serde_json::to_value(value).map_err(|err| ToolError::terminal(err.to_string()))
}

/// Statistics, group totals and period-over-period change of CSV or JSON records.
pub struct DataProcessor {
    spec: ToolSpec,
    work: Arc<WorkMeter>,
    /// Reserved before each analysis; none: unlimited.
    budget: Option<Arc<MemoryBudget>>,
}

impl DataProcessor {
    /// A data-processor whose analyses share `budget`.
    pub fn with_memory_budget(budget: Arc<MemoryBudget>) -> Self {
        Self {
            budget: Some(budget),
            ..Self::default()
        }
    }

    /// What the analyses did: rows read, and analyses still running on the blocking pool.
    #[cfg(test)]
    pub fn work(&self) -> &WorkMeter {
        &self.work
    }
}

impl Default for DataProcessor {
    fn default() -> Self {
        Self {
            spec: ToolSpec {
                name: DATA_PROCESSOR.into(),
                description: "Per-column statistics (count, nulls, sum, mean, min, max, stddev, \
                              median, p90), totals grouped by the named columns (else the \
                              first text column that is not a period), and \
                              period-over-period change of CSV or JSON records"
                    .into(),
                input_schema: json!({
                    "type": "object",
                    "properties": {
                        "format": {"enum": ["csv", "json"]},
                        "content": {"type": "string"},
                        "group_by": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["format", "content"],
                }),
                capabilities: vec![capability::TABULAR_ANALYSIS.into()],
                idempotent: true,
            },
            work: Arc::default(),
            budget: None,
        }
    }
}

#[async_trait::async_trait]
impl Tool for DataProcessor {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn call(&self, input: Value) -> Result<Value, ToolError> {
        let format = match string_field(&input, "format")? {
            "csv" => TabularFormat::Csv,
            "json" => TabularFormat::Json,
            other => return Err(ToolError::terminal(format!("unsupported format {other:?}"))),
        };
        let content = string_field(&input, "content")?.to_owned();
        let group_by: Vec<String> = match input.get("group_by") {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => serde_json::from_value(value.clone()).map_err(|_| {
                ToolError::terminal("group_by must be an array of column names".to_owned())
            })?,
        };
        let reserved = match &self.budget {
            Some(budget) => Some(budget.reserve(content.len()).await?),
            None => None,
        };
        run_blocking(&self.work, move |cancel| {
            let _reserved = reserved;
            let analysis = data::analyse_cancellable(format, &content, &group_by, cancel)
                .map_err(|err| ToolError::terminal(err.to_string()))?;
            to_json(analysis)
        })
        .await
    }
}

/// Sections, counts, key phrases and an extractive summary of plain text.
pub struct DocumentProcessor {
    spec: ToolSpec,
}

impl Default for DocumentProcessor {
    fn default() -> Self {
        Self {
            spec: ToolSpec {
                name: DOCUMENT_PROCESSOR.into(),
                description: "Sections, word and sentence counts, key phrases and an extractive \
                              summary of plain text"
                    .into(),
                input_schema: json!({
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "summary_sentences": {"type": "integer", "minimum": 1},
                    },
                    "required": ["text"],
                }),
                capabilities: vec![
                    capability::SUMMARISE.into(),
                    capability::DOCUMENT_ANALYSIS.into(),
                ],
                idempotent: true,
            },
        }
    }
}

#[async_trait::async_trait]
impl Tool for DocumentProcessor {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn call(&self, input: Value) -> Result<Value, ToolError> {
        let text = string_field(&input, "text")?.to_owned();
        let mut options = DocumentOptions::default();
        if let Some(sentences) = input.get("summary_sentences").and_then(Value::as_u64) {
            options.summary_sentences = sentences.clamp(1, 20) as usize;
        }
        blocking(move || {
            let analysis = document::process(&text, &options)
                .map_err(|err| ToolError::terminal(err.to_string()))?;
            to_json(analysis)
        })
        .await
    }
}

/// PII and secrets (emails, phones, card numbers, IBANs, AWS keys, private keys) in named texts.
pub struct ComplianceScanner {
    spec: ToolSpec,
}

impl Default for ComplianceScanner {
    fn default() -> Self {
        Self {
            spec: ToolSpec {
                name: COMPLIANCE_SCANNER.into(),
                description: "Finds PII and secrets (emails, phone numbers, card numbers, IBANs, \
                              AWS access keys, private keys) in texts"
                    .into(),
                input_schema: json!({
                    "type": "object",
                    "properties": {
                        "texts": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "required": ["texts"],
                }),
                capabilities: vec![capability::PII_SCAN.into()],
                idempotent: true,
            },
        }
    }
}

#[async_trait::async_trait]
impl Tool for ComplianceScanner {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn call(&self, input: Value) -> Result<Value, ToolError> {
        let texts = input
            .get("texts")
            .and_then(Value::as_object)
            .ok_or_else(|| ToolError::terminal("input field \"texts\" must be an object"))?
            .clone();
        blocking(move || {
            let mut findings = serde_json::Map::new();
            let mut all = Vec::new();
            for (name, text) in &texts {
                let text = text
                    .as_str()
                    .ok_or_else(|| ToolError::terminal(format!("texts.{name} must be a string")))?;
                let found = compliance::scan(text);
                all.extend(found.iter().cloned());
                findings.insert(name.clone(), to_json(&found)?);
            }
            let counts: serde_json::Map<String, Value> = compliance::summarize(&all)
                .into_iter()
                .map(|(kind, count)| (kind.as_str().to_owned(), json!(count)))
                .collect();
            Ok(json!({"total": all.len(), "counts": counts, "findings": findings}))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_processor_checks_its_input() {
        let tool = DataProcessor::default();
        let ok = tool
            .call(json!({"format": "csv", "content": "a,b\nx,1\ny,3\n"}))
            .await
            .unwrap();
        assert_eq!(ok["numeric"]["b"]["sum"], 4.0);
        let bad = tool.call(json!({"format": "xml", "content": "a"})).await;
        assert!(matches!(bad, Err(ToolError::Terminal(_))));
        let missing = tool.call(json!({"format": "csv"})).await;
        assert!(matches!(missing, Err(ToolError::Terminal(m)) if m.contains("content")));
    }

    #[tokio::test]
    async fn scanner_counts_findings_per_text() {
        let tool = ComplianceScanner::default();
        let out = tool
            .call(json!({"texts": {
                "input": "mail jane.doe@example.com please",
                "data": "card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE",
            }}))
            .await
            .unwrap();
        assert_eq!(out["total"], 3);
        assert_eq!(out["counts"]["email"], 1);
        assert_eq!(out["counts"]["card_number"], 1);
        assert_eq!(out["counts"]["aws_access_key"], 1);
        assert_eq!(out["findings"]["input"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn document_processor_summarises() {
        let tool = DocumentProcessor::default();
        let out = tool
            .call(json!({"text": "Revenue grew in every quarter. Costs fell. The north led growth.", "summary_sentences": 1}))
            .await
            .unwrap();
        assert_eq!(out["sentences"], 3);
        assert!(!out["summary"].as_str().unwrap().is_empty());
    }
}
