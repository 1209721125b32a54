//! The tools Bayko runs, all behind one interface: JSON in, JSON out, with a declared name,
//! description, input schema, capabilities and idempotency. Built-in tools, the LLM and MCP
//! tools look the same to the engine, so pools, retries, breakers and metrics never depend on a
//! particular tool's types.

pub mod budget;
pub mod builtin;
pub mod cancel;
pub mod claude;
pub mod compliance;
pub mod data;
pub mod document;
pub mod llm;
pub mod mcp;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// What tools can do: the names the router, the fallback chains and the tools' specs share.
pub mod capability {
    pub const PII_SCAN: &str = "pii-scan";
    pub const TABULAR_ANALYSIS: &str = "tabular-analysis";
    pub const SUMMARISE: &str = "summarise";
    pub const DOCUMENT_ANALYSIS: &str = "document-analysis";
    /// A language model: it answers a prompt, and can propose a task's plan.
    pub const PLAN: &str = "plan";
    pub const MCP: &str = "mcp";
}

/// What a tool is, for the router, the logs and the LLM planner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the input object.
    pub input_schema: Value,
    /// What the tool can do (`tabular-analysis`, `summarise`, `pii-scan`, …): the router picks
    /// by capability, the fallback chains are per capability.
    pub capabilities: Vec<String>,
    /// Whether calling twice is harmless: only idempotent tools are retried after a timeout,
    /// when the first call may have had its effect.
    pub idempotent: bool,
}

/// Why a call failed, in the terms retrying needs: the one error of every tool, the LLM client
/// and the MCP client alike. The message names what failed (provider, server, tool).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// Worth another attempt (throttled, overloaded, unavailable, a connection lost), after
    /// `retry_after` if the tool's server said so.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way again (bad input, refused, the tool reported an error).
    #[error("{0}")]
    Terminal(String),
    /// The call outlived the engine's timeout; whether to try again depends on the tool's
    /// idempotency, which the engine knows.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

impl ToolError {
    pub fn terminal(message: impl Into<String>) -> Self {
        Self::Terminal(message.into())
    }

    pub fn retryable(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::Retryable {
            message: message.into(),
            retry_after,
        }
    }

    /// A retryable error when `retryable`, else a terminal one.
    pub fn classified(message: impl Into<String>, retryable: bool) -> Self {
        if retryable {
            Self::retryable(message, None)
        } else {
            Self::terminal(message)
        }
    }

    /// Whether the same call may succeed later (a timeout is the engine's call).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// The server's requested back-off, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Retryable { retry_after, .. } => *retry_after,
            Self::Terminal(_) | Self::Timeout(_) => None,
        }
    }
}

/// One tool.
#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    fn spec(&self) -> &ToolSpec;

    /// Runs the tool on a JSON object. Validates its input itself: bad input is `Terminal`.
    async fn call(&self, input: Value) -> Result<Value, ToolError>;
}

/// Reads a required string field of a tool's input.
pub fn string_field<'a>(input: &'a Value, field: &str) -> Result<&'a str, ToolError> {
    input
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::terminal(format!("input field {field:?} must be a string")))
}
