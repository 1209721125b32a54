//! The router: chooses a task's steps from its context — the data's format, the client's tool
//! hints and the registry — by rules that can be explained. Every choice carries its reason,
//! which goes to `processing.log`.

use serde::Serialize;
use shared::task::{DataFormat, TaskV1};

use crate::tools::{Registry, builtin::COMPLIANCE_SCANNER};

/// One step of a plan: a capability, the tools to try for it in order, and what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub id: String,
    pub capability: String,
    /// The first tool is preferred; the rest are its fallbacks.
    pub tools: Vec<String>,
    pub depends_on: Vec<String>,
    /// A required step that fails fails the task; any other failure degrades it.
    pub required: bool,
    pub reason: String,
}

/// A small DAG of steps, in an order where every step comes after its dependencies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Hints the router could not follow, with why.
    pub ignored_hints: Vec<String>,
}

pub const SCAN: &str = "scan";
pub const ANALYSE: &str = "analyse";
pub const SUMMARISE: &str = "summarise";

fn step(
    id: &str,
    capability: &str,
    tools: Vec<String>,
    depends_on: &[&str],
    required: bool,
    reason: String,
) -> Step {
    Step {
        id: id.into(),
        capability: capability.into(),
        tools,
        depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
        required,
        reason,
    }
}

/// Plans a task. Errors when the task needs something no registered tool can do.
pub fn plan(task: &TaskV1, registry: &Registry) -> Result<Plan, String> {
    let mut steps = Vec::new();
    let mut ignored_hints = Vec::new();

    let scanning = registry.config().compliance.scan && registry.get(COMPLIANCE_SCANNER).is_some();
    if scanning {
        steps.push(step(
            SCAN,
            "pii-scan",
            vec![COMPLIANCE_SCANNER.into()],
            &[],
            false,
            "every task's input and data are scanned for PII and secrets before anything is written".into(),
        ));
    }

    let tabular = matches!(
        task.data.as_ref().map(|data| data.format),
        Some(DataFormat::Csv | DataFormat::Json)
    );
    if tabular {
        let chain = registry.chain("tabular-analysis");
        if chain.is_empty() {
            return Err("the task has tabular data but no tabular-analysis tool is enabled".into());
        }
        let format = if task
            .data
            .as_ref()
            .is_some_and(|d| d.format == DataFormat::Csv)
        {
            "CSV"
        } else {
            "JSON"
        };
        steps.push(step(
            ANALYSE,
            "tabular-analysis",
            chain,
            &[],
            true,
            format!("the data is {format} records: tabular analysis"),
        ));
    }

    let summarisers = registry.chain("summarise");
    if summarisers.is_empty() {
        return Err("no summarise tool is enabled".into());
    }
    let what = if tabular {
        "the analysis"
    } else if task.data.is_some() {
        "the text data"
    } else {
        "the instruction"
    };
    let fallback_note = if summarisers.len() > 1 {
        format!(", falling back to {}", summarisers[1..].join(", "))
    } else {
        String::new()
    };
    let depends: &[&str] = if tabular { &[ANALYSE] } else { &[] };
    steps.push(step(
        SUMMARISE,
        "summarise",
        summarisers.clone(),
        depends,
        true,
        format!(
            "every task gets a report: {} summarises {what}{fallback_note}",
            summarisers[0]
        ),
    ));

    for hint in &task.tools {
        let planned = steps.iter().any(|s| s.tools.iter().any(|t| t == hint));
        match registry.resolve_hint(hint) {
            _ if planned => {}
            Some(name) if name.contains(':') => {
                let id = format!("mcp:{name}");
                if !steps.iter().any(|s| s.id == id) {
                    steps.push(step(
                        &id,
                        "mcp",
                        vec![name.to_owned()],
                        &[],
                        true,
                        format!("the client asked for {hint}, an MCP tool"),
                    ));
                }
            }
            Some(name) => {
                ignored_hints.push(format!("{hint}: {name} does not apply to this task's data"))
            }
            None => ignored_hints.push(format!("{hint}: no such tool is enabled")),
        }
    }
    Ok(Plan {
        steps,
        ignored_hints,
    })
}
