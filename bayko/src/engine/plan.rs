//! The router: chooses a task's steps from its context — the data's format, the client's tool
//! hints and the registry — by rules that can be explained. Every choice carries its reason,
//! which goes to `processing.log`.

use shared::task::{DataFormat, TaskV1};

use super::Registry;
use crate::tools::{builtin::COMPLIANCE_SCANNER, capability};

/// One step of a plan: a capability, the tools to try for it in order, and what it waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
    /// The first tool is preferred; the rest are its fallbacks.
    pub tools: Vec<String>,
    pub depends_on: Vec<String>,
    /// A required step that fails fails the task; any other failure degrades it.
    pub required: bool,
    pub reason: String,
}

impl Step {
    /// The step as `output_payload.json` lists it.
    pub fn planned(&self) -> shared::artifacts::PlannedStep {
        shared::artifacts::PlannedStep {
            id: self.id.clone(),
            capability: self.kind.capability().to_owned(),
            tools: self.tools.clone(),
            depends_on: self.depends_on.clone(),
            required: self.required,
            reason: self.reason.clone(),
        }
    }
}

/// A small DAG of steps, in an order where every step comes after its dependencies.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Hints the router could not follow, with why.
    pub ignored_hints: Vec<String>,
}

pub const SCAN: &str = "scan";
pub const ANALYSE: &str = "analyse";
pub const SUMMARISE: &str = "summarise";

/// The kinds of step the engine runs, each served by tools of one capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `scan`: PII and secrets in the input and data.
    Scan,
    /// `analyse`: the tabular data.
    Analyse,
    /// `summarise`: the report.
    Summarise,
    /// `mcp:SERVER:TOOL`: an MCP tool the client asked for.
    Mcp,
}

impl StepKind {
    /// The kind a step id names, if any.
    pub fn of(id: &str) -> Option<Self> {
        match id {
            SCAN => Some(Self::Scan),
            ANALYSE => Some(Self::Analyse),
            SUMMARISE => Some(Self::Summarise),
            _ if id.starts_with("mcp:") => Some(Self::Mcp),
            _ => None,
        }
    }

    /// What a tool must be able to do to run this step.
    pub fn capability(self) -> &'static str {
        match self {
            Self::Scan => capability::PII_SCAN,
            Self::Analyse => capability::TABULAR_ANALYSIS,
            Self::Summarise => capability::SUMMARISE,
            Self::Mcp => capability::MCP,
        }
    }
}

fn step(
    id: &str,
    kind: StepKind,
    tools: Vec<String>,
    depends_on: &[&str],
    required: bool,
    reason: String,
) -> Step {
    Step {
        id: id.into(),
        kind,
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
            StepKind::Scan,
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
        let chain = registry.chain(StepKind::Analyse.capability());
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
            StepKind::Analyse,
            chain,
            &[],
            true,
            format!("the data is {format} records: tabular analysis"),
        ));
    }

    let summarisers = registry.chain(StepKind::Summarise.capability());
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
        StepKind::Summarise,
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
                        StepKind::Mcp,
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

/// Checks a plan the LLM proposed (JSON: `{"steps": [{"id", "tool", "depends_on"}]}`, possibly
/// in a Markdown code fence) against the registry and the router's own rules. The proposal may
/// choose tools and order; it may not drop a step the rules require, use a tool that is not
/// registered or lacks the step's capability, or form a cycle. Returns every problem found.
pub fn validate_proposal(
    text: &str,
    registry: &Registry,
    baseline: &Plan,
) -> Result<Plan, Vec<String>> {
    let json = extract_json(text).ok_or_else(|| vec!["the proposal is not JSON".to_owned()])?;
    let proposal: serde_json::Value = serde_json::from_str(json)
        .map_err(|err| vec![format!("the proposal is not JSON: {err}")])?;
    let Some(proposed) = proposal["steps"].as_array() else {
        return Err(vec!["the proposal has no \"steps\" array".into()]);
    };
    let mut problems = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    for (index, item) in proposed.iter().enumerate() {
        let (Some(id), Some(tool)) = (item["id"].as_str(), item["tool"].as_str()) else {
            problems.push(format!("step {index} needs a string id and tool"));
            continue;
        };
        let Some(kind) = StepKind::of(id) else {
            problems.push(format!(
                "step {id:?} is not a kind the engine runs (scan, analyse, summarise, mcp:TOOL)"
            ));
            continue;
        };
        let capability = kind.capability();
        let Some(registered) = registry.get(tool) else {
            problems.push(format!("step {id}: no tool {tool:?} is registered"));
            continue;
        };
        if !registered
            .tool
            .spec()
            .capabilities
            .iter()
            .any(|c| c == capability)
        {
            problems.push(format!("step {id}: {tool} cannot {capability}"));
            continue;
        }
        if kind == StepKind::Mcp && id != format!("mcp:{tool}") {
            problems.push(format!("step {id}: an MCP step is named mcp:{tool}"));
            continue;
        }
        if steps.iter().any(|s| s.id == id) {
            problems.push(format!("step {id} appears twice"));
            continue;
        }
        let depends_on: Vec<String> = item["depends_on"]
            .as_array()
            .map(|deps| {
                deps.iter()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for dep in &depends_on {
            // Only earlier steps: a plan in order has no cycles.
            if !steps.iter().any(|s| &s.id == dep) {
                problems.push(format!(
                    "step {id} depends on {dep:?}, which does not come before it"
                ));
            }
        }
        // The chosen tool leads; the capability's other tools stay as its fallbacks.
        let mut tools = vec![tool.to_owned()];
        if kind != StepKind::Mcp {
            tools.extend(registry.chain(capability).into_iter().filter(|t| t != tool));
        }
        let required = baseline
            .steps
            .iter()
            .find(|s| s.id == id)
            .is_none_or(|s| s.required);
        steps.push(Step {
            id: id.to_owned(),
            kind,
            tools,
            depends_on,
            required,
            reason: format!("proposed by the LLM: {tool}"),
        });
    }
    for required in &baseline.steps {
        if (required.required || required.id == SCAN) && !steps.iter().any(|s| s.id == required.id)
        {
            problems.push(format!(
                "the rules require step {}, which the proposal leaves out",
                required.id
            ));
        }
    }
    if let Some(summarise) = steps.iter().find(|s| s.id == SUMMARISE)
        && baseline.steps.iter().any(|s| s.id == ANALYSE)
        && !summarise.depends_on.iter().any(|d| d == ANALYSE)
    {
        problems.push("summarise must come after analyse: it summarises the analysis".into());
    }
    if problems.is_empty() {
        Ok(Plan {
            steps,
            ignored_hints: baseline.ignored_hints.clone(),
        })
    } else {
        Err(problems)
    }
}

/// The JSON object in an LLM's answer: the whole text, or a fenced block within it.
fn extract_json(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (start < end).then(|| &text[start..=end])
}
