//! What each step hands its tool: built from the task and the outputs of the step's
//! dependencies, in the shape the chosen tool takes (the LLM gets a prompt, the extractive
//! summariser gets text).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::task::{DataFormat, TaskV1};

use super::plan::{ANALYSE, Step, StepKind};

/// The longest analysis excerpt put into an LLM prompt.
const PROMPT_DATA_CHARS: usize = 12_000;

/// The input for `step`'s tool; `llm` says the tool is a language model, which takes a prompt.
pub fn for_tool(
    step: &Step,
    llm: bool,
    schema: &Value,
    task: &TaskV1,
    deps: &BTreeMap<String, Value>,
) -> Value {
    match step.kind {
        StepKind::Scan => {
            let mut texts = serde_json::Map::new();
            texts.insert("input".into(), json!(task.input));
            if let Some(data) = &task.data {
                texts.insert("data".into(), json!(data.content));
            }
            json!({ "texts": texts })
        }
        StepKind::Analyse => {
            let data = task.data.as_ref();
            let format = match data.map(|d| d.format) {
                Some(DataFormat::Json) => "json",
                _ => "csv",
            };
            let mut input = json!({
                "format": format,
                "content": data.map(|d| d.content.as_str()).unwrap_or_default(),
            });
            if let Some(data) = data.filter(|d| !d.group_by.is_empty()) {
                input["group_by"] = json!(data.group_by);
            }
            input
        }
        StepKind::Summarise if llm => json!({
            "system": "You are Bayko, an analyst. Write a concise report in Markdown with the \
                       sections '## Summary' and '## Key findings'. Use only the numbers given.",
            "prompt": prompt(task, deps.get(ANALYSE)),
        }),
        StepKind::Summarise => {
            json!({"text": narrative(task, deps.get(ANALYSE)), "summary_sentences": 5})
        }
        StepKind::Mcp => mcp_arguments(schema, task),
    }
}

fn prompt(task: &TaskV1, analysis: Option<&Value>) -> String {
    let mut prompt = format!("Instruction: {}\n", task.input);
    match (analysis, &task.data) {
        (Some(analysis), _) => {
            let mut data = analysis.to_string();
            if data.len() > PROMPT_DATA_CHARS {
                let cut = (0..=PROMPT_DATA_CHARS)
                    .rev()
                    .find(|i| data.is_char_boundary(*i))
                    .unwrap_or(0);
                data.truncate(cut);
                data.push_str(" …(truncated)");
            }
            prompt.push_str(&format!("\nAnalysis of the data (JSON):\n{data}\n"));
        }
        (None, Some(data)) => prompt.push_str(&format!("\nText:\n{}\n", data.content)),
        (None, None) => {}
    }
    prompt
}

/// Plain sentences about an analysis, for the extractive summariser; or the task's own text.
pub fn narrative(task: &TaskV1, analysis: Option<&Value>) -> String {
    let Some(analysis) = analysis else {
        return match &task.data {
            Some(data) => data.content.clone(),
            None => task.input.clone(),
        };
    };
    let mut sentences = vec![format!(
        "The data has {} rows and {} columns.",
        analysis["rows"],
        analysis["columns"].as_array().map_or(0, Vec::len)
    )];
    if let Some(numeric) = analysis["numeric"].as_object() {
        for (column, stats) in numeric {
            sentences.push(format!(
                "Column {column} totals {} with a mean of {:.2}, ranging from {} to {}.",
                stats["sum"],
                stats["mean"].as_f64().unwrap_or_default(),
                stats["min"],
                stats["max"]
            ));
        }
    }
    // One sentence per period, all columns in it: the summary should not be all deltas.
    if let Some(periods) = analysis["periods"]["periods"].as_array() {
        for period in periods.iter().skip(1) {
            let changes: Vec<String> = period["change"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(column, change)| {
                    change["percent"]
                        .as_f64()
                        .map(|percent| format!("{column} {percent:+.1}%"))
                })
                .collect();
            if !changes.is_empty() {
                sentences.push(format!(
                    "Against the previous period, {} saw {}.",
                    period["period"].as_str().unwrap_or_default(),
                    changes.join(", ")
                ));
            }
        }
    }
    if let Some(groups) = analysis["group_by"]["groups"].as_object() {
        sentences.push(format!(
            "Grouped by {}, there are {} groups.",
            analysis["group_by"]["column"].as_str().unwrap_or_default(),
            groups.len()
        ));
    }
    sentences.join(" ")
}

/// Arguments for an MCP tool from its input schema: string properties named like the data
/// (`text`, `content`, `data`, `csv`, `document`) get the data (or the instruction when there
/// is none), other string properties the instruction. Other types are left to their defaults.
fn mcp_arguments(schema: &Value, task: &TaskV1) -> Value {
    let data = task
        .data
        .as_ref()
        .map_or(task.input.as_str(), |data| data.content.as_str());
    let mut arguments = serde_json::Map::new();
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            if property["type"] != "string" {
                continue;
            }
            let value = match name.as_str() {
                "text" | "content" | "data" | "csv" | "document" => data,
                _ => task.input.as_str(),
            };
            arguments.insert(name.clone(), json!(value));
        }
    }
    Value::Object(arguments)
}
