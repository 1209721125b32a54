//! The engine's configuration file (TOML, path in `BAYKO_CONFIG`): which tools are on, their
//! pools and policies, the LLM provider, fallback chains, quality rules and MCP servers. Every
//! section is optional; without a file Bayko runs its built-in tools with the defaults below.

use std::{collections::BTreeMap, path::Path, time::Duration};

use serde::Deserialize;

use crate::tools::mcp::McpServerConfig;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Policy for every tool without its own entry in `tools`.
    pub defaults: ToolPolicy,
    /// Per-tool overrides, by tool name (`data-processor`, `claude`, `server:tool`, …).
    pub tools: BTreeMap<String, ToolOverride>,
    pub breaker: BreakerConfig,
    pub llm: Option<LlmConfig>,
    /// Tools tried in order for a capability, e.g. `summarise = ["claude", "document-processor"]`.
    pub fallbacks: BTreeMap<String, Vec<String>>,
    pub quality: QualityConfig,
    pub compliance: ComplianceConfig,
    /// What task data may leave the private tier for the LLM and MCP servers.
    pub egress: EgressConfig,
    pub mcp: McpConfig,
    pub router: RouterConfig,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// Let the LLM (when one is configured) propose each task's plan. The router validates the
    /// proposal against the registry and its own rules, and keeps its own plan when the
    /// proposal does not pass.
    pub llm_planning: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ToolPolicy {
    /// Calls of this tool running at once, across all tasks of the worker.
    pub concurrency: usize,
    /// Call starts per second across the worker; unset for no limit.
    pub rate_per_second: Option<f64>,
    /// One call's limit.
    pub timeout_ms: u64,
    /// Attempts per call, including the first.
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt with full jitter.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for ToolPolicy {
    fn default() -> Self {
        Self {
            concurrency: 4,
            rate_per_second: None,
            timeout_ms: 30_000,
            max_attempts: 3,
            retry_base_ms: 200,
            retry_max_ms: 5_000,
        }
    }
}

impl ToolPolicy {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ToolOverride {
    /// `false` takes the tool out of the registry.
    pub enabled: Option<bool>,
    pub concurrency: Option<usize>,
    pub rate_per_second: Option<f64>,
    pub timeout_ms: Option<u64>,
    pub max_attempts: Option<u32>,
    pub retry_base_ms: Option<u64>,
    pub retry_max_ms: Option<u64>,
}

impl EngineConfig {
    /// Reads the file at `path`; errors name the file and the offending key.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("reading {}: {err}", path.display()))?;
        Self::parse(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn enabled(&self, tool: &str) -> bool {
        self.tools
            .get(tool)
            .and_then(|entry| entry.enabled)
            .unwrap_or(true)
    }

    /// The effective policy of a tool: its overrides on top of the defaults.
    pub fn policy(&self, tool: &str) -> ToolPolicy {
        let base = self.defaults;
        let Some(entry) = self.tools.get(tool) else {
            return base;
        };
        ToolPolicy {
            concurrency: entry.concurrency.unwrap_or(base.concurrency).max(1),
            rate_per_second: entry.rate_per_second.or(base.rate_per_second),
            timeout_ms: entry.timeout_ms.unwrap_or(base.timeout_ms),
            max_attempts: entry.max_attempts.unwrap_or(base.max_attempts).max(1),
            retry_base_ms: entry.retry_base_ms.unwrap_or(base.retry_base_ms),
            retry_max_ms: entry.retry_max_ms.unwrap_or(base.retry_max_ms),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed calls that open a tool's circuit.
    pub failure_threshold: u32,
    /// How long an open circuit refuses calls before one probe is let through.
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cooldown_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// Amazon Bedrock's Converse API: reachable through a VPC endpoint, no internet needed.
    Bedrock,
    /// The Anthropic Messages API over HTTPS, key from the environment.
    Anthropic,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: LlmProvider,
    /// Bedrock model id or Anthropic model name.
    pub model: String,
    /// Override of the API's address: a Bedrock VPC endpoint, an Anthropic-compatible proxy,
    /// or a local stub in tests.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// The environment variable holding the Anthropic API key.
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
}

fn default_api_key_env() -> String {
    "ANTHROPIC_API_KEY".into()
}

fn default_max_tokens() -> u32 {
    1024
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Markdown headings an LLM-written report must contain.
    pub required_sections: Vec<String>,
    /// Shortest acceptable summary.
    pub min_summary_chars: usize,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            required_sections: vec!["Summary".into(), "Key findings".into()],
            min_summary_chars: 40,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceConfig {
    /// Scan every task's input and data for PII and secrets.
    pub scan: bool,
    /// Replace what the scan finds with `[REDACTED:kind]` in the artifacts.
    pub redact_artifacts: bool,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self {
            scan: true,
            redact_artifacts: true,
        }
    }
}

/// What a call to the LLM or an MCP server may carry of a task's data.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Egress {
    /// The data as the client sent it.
    Raw,
    /// The data with every finding of the compliance scanner replaced by `[REDACTED:kind]`.
    #[default]
    Redacted,
    /// Nothing: the call is not made, and the step falls back to a local tool or fails.
    Refuse,
}

impl Egress {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Redacted => "redacted",
            Self::Refuse => "refuse",
        }
    }
}

/// Where a call takes a task's data out of the private tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Llm,
    Mcp,
}

impl Destination {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Llm => "llm",
            Self::Mcp => "mcp",
        }
    }
}

/// The egress policy: one setting per destination, and per-tenant overrides, e.g.
///
/// ```toml
/// [egress]
/// llm = "redacted"
/// mcp = "refuse"
///
/// [egress.tenants.acme]
/// llm = "raw"
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EgressConfig {
    pub llm: Egress,
    pub mcp: Egress,
    /// By tenant name; what a tenant's entry leaves out comes from the settings above.
    pub tenants: BTreeMap<String, EgressOverride>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EgressOverride {
    pub llm: Option<Egress>,
    pub mcp: Option<Egress>,
}

impl EgressConfig {
    /// The policy for `tenant`'s data going to `destination`.
    pub fn policy(&self, tenant: &str, destination: Destination) -> Egress {
        let tenant = self.tenants.get(tenant);
        match destination {
            Destination::Llm => tenant.and_then(|t| t.llm).unwrap_or(self.llm),
            Destination::Mcp => tenant.and_then(|t| t.mcp).unwrap_or(self.mcp),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    pub servers: Vec<McpServerConfig>,
    /// Connecting to a server and listing its tools.
    pub connect_timeout_ms: u64,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            connect_timeout_ms: 20_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let config = EngineConfig::parse(
            r#"
            [defaults]
            concurrency = 8
            timeout_ms = 10000

            [tools.claude]
            concurrency = 2
            rate_per_second = 5.0
            timeout_ms = 120000

            [tools.document-processor]
            enabled = true

            [tools.compliance-scanner]
            enabled = false

            [breaker]
            failure_threshold = 3
            cooldown_ms = 1000

            [llm]
            provider = "bedrock"
            model = "anthropic.claude-3-5-sonnet-20240620-v1:0"

            [fallbacks]
            summarise = ["claude", "document-processor"]

            [quality]
            required_sections = ["Summary"]

            [compliance]
            redact_artifacts = false

            [[mcp.servers]]
            name = "stats"
            transport = "stdio"
            command = "python3"
            args = ["server.py"]
            "#,
        )
        .unwrap();
        assert_eq!(config.policy("claude").concurrency, 2);
        assert_eq!(config.policy("claude").rate_per_second, Some(5.0));
        assert_eq!(config.policy("data-processor").concurrency, 8);
        assert_eq!(
            config.policy("data-processor").timeout(),
            Duration::from_secs(10)
        );
        assert!(!config.enabled("compliance-scanner"));
        assert!(config.enabled("data-processor"));
        assert_eq!(config.llm.unwrap().provider, LlmProvider::Bedrock);
        assert_eq!(
            config.fallbacks["summarise"],
            ["claude", "document-processor"]
        );
        assert_eq!(config.mcp.servers.len(), 1);
        assert!(!config.compliance.redact_artifacts);
    }

    #[test]
    fn the_shipped_example_parses() {
        let config = EngineConfig::parse(include_str!("../../../examples/bayko.toml")).unwrap();
        assert_eq!(config.policy("claude").concurrency, 2);
        assert_eq!(
            config.llm.map(|llm| llm.provider),
            Some(LlmProvider::Bedrock)
        );
    }

    #[test]
    fn egress_defaults_to_redacted_and_tenants_override_it() {
        let config = EngineConfig::parse(
            "[egress]\nmcp = \"refuse\"\n[egress.tenants.acme]\nllm = \"raw\"\n",
        )
        .unwrap();
        let policy = |tenant, destination| config.egress.policy(tenant, destination);
        assert_eq!(policy("default", Destination::Llm), Egress::Redacted);
        assert_eq!(policy("default", Destination::Mcp), Egress::Refuse);
        assert_eq!(policy("acme", Destination::Llm), Egress::Raw);
        assert_eq!(policy("acme", Destination::Mcp), Egress::Refuse);
        let defaults = EngineConfig::parse("").unwrap().egress;
        assert_eq!(defaults.policy("x", Destination::Mcp), Egress::Redacted);
        assert!(EngineConfig::parse("[egress]\nllm = \"open\"\n").is_err());
    }

    #[test]
    fn unknown_keys_are_errors_that_name_them() {
        let err = EngineConfig::parse("[breaker]\nthreshold = 3\n").unwrap_err();
        assert!(err.to_string().contains("threshold"), "{err}");
    }

    #[test]
    fn empty_file_means_defaults() {
        let config = EngineConfig::parse("").unwrap();
        assert!(config.llm.is_none());
        assert!(config.compliance.scan);
        assert_eq!(config.policy("anything"), ToolPolicy::default());
    }
}
