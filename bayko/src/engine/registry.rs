//! The tools one worker has, each with its pool, circuit breaker, retry policy and timeout,
//! shared by all the tasks the worker runs. Built from the engine's configuration file.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use anyhow::Context;

use super::{
    breaker::{BreakerSettings, CircuitBreaker},
    config::{EngineConfig, LlmProvider, ToolPolicy},
    pool::{PoolSettings, ToolPool},
    retry::RetryPolicy,
};
use crate::tools::{
    Tool,
    budget::MemoryBudget,
    builtin::{ComplianceScanner, DataProcessor, DocumentProcessor},
    capability,
    claude::ClaudeTool,
    llm::{AnthropicConfig, BedrockConfig, LlmClient},
    mcp::{McpConnection, McpTool},
};

/// A tool with everything that governs its calls.
pub struct RegisteredTool {
    pub tool: Arc<dyn Tool>,
    pub pool: ToolPool,
    pub breaker: CircuitBreaker,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

impl RegisteredTool {
    /// Whether a call that timed out may run again: it may have had its effect, so only an
    /// idempotent tool, and only one whose policy retries timeouts.
    pub fn retries_timeouts(&self) -> bool {
        self.tool.spec().idempotent && self.retry.retry_timeouts
    }
}

pub struct Registry {
    tools: BTreeMap<String, RegisteredTool>,
    config: EngineConfig,
    /// Kept so that MCP servers can be shut down cleanly with the worker.
    connections: Vec<McpConnection>,
}

impl Registry {
    /// The built-in tools with default policies: what Bayko runs without a config file.
    pub fn builtin() -> Self {
        let mut registry = Self::empty(EngineConfig::default());
        registry.add_builtins();
        registry
    }

    /// No tools yet, with this configuration's policies for those registered next.
    pub fn empty(config: EngineConfig) -> Self {
        Self {
            tools: BTreeMap::new(),
            config,
            connections: Vec::new(),
        }
    }

    fn add_builtins(&mut self) {
        let tools: [Arc<dyn Tool>; 3] = [
            Arc::new(DataProcessor::default()),
            Arc::new(DocumentProcessor::default()),
            Arc::new(ComplianceScanner::default()),
        ];
        for tool in tools {
            self.register_builtin(tool);
        }
    }

    /// Holds the data-processor's analyses to a memory budget of `bytes`, shared by all the
    /// tasks of the worker.
    pub fn limit_analysis_memory(&mut self, bytes: u64) {
        let budget = Arc::new(MemoryBudget::new(bytes));
        self.register_builtin(Arc::new(DataProcessor::with_memory_budget(budget)));
    }

    /// Registers a built-in tool: deterministic work on this worker, whose timed-out calls
    /// would time out again and so are not retried.
    pub(crate) fn register_builtin(&mut self, tool: Arc<dyn Tool>) {
        self.register_with(tool, false);
    }

    /// Everything the configuration names: built-ins, the LLM and every MCP server's tools.
    pub async fn from_config(
        config: EngineConfig,
        aws: &aws_config::SdkConfig,
    ) -> anyhow::Result<Self> {
        let mut registry = Self::empty(config.clone());
        registry.add_builtins();
        if let Some(llm) = &config.llm {
            let client = match llm.provider {
                LlmProvider::Bedrock => LlmClient::bedrock(
                    aws,
                    BedrockConfig {
                        model_id: llm.model.clone(),
                        endpoint_url: llm.endpoint_url.clone(),
                    },
                ),
                LlmProvider::Anthropic => {
                    let key = std::env::var(&llm.api_key_env).with_context(|| {
                        format!(
                            "the Anthropic API key variable {} is not set",
                            llm.api_key_env
                        )
                    })?;
                    let mut settings = AnthropicConfig::new(key, llm.model.clone());
                    if let Some(url) = &llm.endpoint_url {
                        settings.base_url = url.clone();
                    }
                    LlmClient::anthropic(settings).context("configuring the Anthropic client")?
                }
            };
            registry.register(Arc::new(ClaudeTool::new(client, llm.max_tokens)));
        }
        let connect_timeout = Duration::from_millis(config.mcp.connect_timeout_ms);
        for server in &config.mcp.servers {
            let connection = McpConnection::connect(server, connect_timeout)
                .await
                .with_context(|| format!("connecting to MCP server {}", server.name()))?;
            for info in connection.tools() {
                let name = format!("{}:{}", info.server, info.name);
                let timeout = config.policy(&name).timeout();
                registry.register(Arc::new(McpTool::new(connection.clone(), info, timeout)));
            }
            registry.connections.push(connection);
        }
        Ok(registry)
    }

    /// Adds a tool (replacing one of the same name) unless the configuration turns it off.
    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        self.register_with(tool, true);
    }

    /// [`Registry::register`], saying whether the tool's timed-out calls may be retried.
    fn register_with(&mut self, tool: Arc<dyn Tool>, retry_timeouts: bool) {
        let name = tool.spec().name.clone();
        if !self.config.enabled(&name) {
            return;
        }
        let policy: ToolPolicy = self.config.policy(&name);
        let registered = RegisteredTool {
            pool: ToolPool::new(PoolSettings {
                concurrency: policy.concurrency,
                rate_per_second: policy.rate_per_second,
            }),
            breaker: CircuitBreaker::new(BreakerSettings {
                failure_threshold: self.config.breaker.failure_threshold,
                cooldown: Duration::from_millis(self.config.breaker.cooldown_ms),
            }),
            retry: RetryPolicy {
                max_attempts: policy.max_attempts,
                base: Duration::from_millis(policy.retry_base_ms),
                max_delay: Duration::from_millis(policy.retry_max_ms),
                retry_timeouts,
            },
            timeout: policy.timeout(),
            tool,
        };
        self.tools.insert(name, registered);
    }

    pub fn get(&self, name: &str) -> Option<&RegisteredTool> {
        self.tools.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.keys().map(String::as_str)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The tools to try, in order, for a capability: the configured fallback chain (tools
    /// that are registered and have the capability), else every tool that has it, LLM first.
    pub fn chain(&self, capability: &str) -> Vec<String> {
        let has = |name: &str| {
            self.tools
                .get(name)
                .is_some_and(|t| t.tool.spec().capabilities.iter().any(|c| c == capability))
        };
        if let Some(chain) = self.config.fallbacks.get(capability) {
            return chain.iter().filter(|name| has(name)).cloned().collect();
        }
        let mut chain: Vec<String> = self
            .tools
            .keys()
            .filter(|name| has(name))
            .cloned()
            .collect();
        // An LLM, when there is one, leads; the built-ins are its fallback.
        chain.sort_by_key(|name| !self.is_llm(name));
        chain
    }

    /// Whether `name` is a language model (it can plan): it takes a prompt, not raw text.
    pub fn is_llm(&self, name: &str) -> bool {
        self.tools.get(name).is_some_and(|t| {
            t.tool
                .spec()
                .capabilities
                .iter()
                .any(|c| c == capability::PLAN)
        })
    }

    /// Whether `name` is an MCP server's tool: it runs outside the private tier.
    pub fn is_mcp(&self, name: &str) -> bool {
        self.tools.get(name).is_some_and(|t| {
            t.tool
                .spec()
                .capabilities
                .iter()
                .any(|c| c == capability::MCP)
        })
    }

    /// A tool named by a client's hint: an exact name, or an MCP tool's bare name when only one
    /// server has it.
    pub fn resolve_hint(&self, hint: &str) -> Option<&str> {
        if let Some((name, _)) = self.tools.get_key_value(hint) {
            return Some(name);
        }
        let mut matches = self
            .tools
            .keys()
            .filter(|name| name.rsplit_once(':').is_some_and(|(_, tool)| tool == hint));
        match (matches.next(), matches.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// Shuts the MCP servers down.
    pub async fn close(&mut self) {
        for connection in self.connections.drain(..) {
            let server = connection.server().to_owned();
            if let Err(err) = connection.close().await {
                tracing::warn!(%server, error = %err, "closing an MCP server failed");
            }
        }
    }
}
