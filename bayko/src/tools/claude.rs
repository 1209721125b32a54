//! The "claude" tool: a prompt to the configured LLM provider (Bedrock or Anthropic), adapted
//! to the [`Tool`] interface.

use serde_json::{Value, json};

use super::{
    Tool, ToolError, ToolSpec, capability,
    llm::{LlmClient, LlmError, LlmRequest},
    string_field,
};

pub const CLAUDE: &str = "claude";

/// The LLM as a tool.
pub struct ClaudeTool {
    spec: ToolSpec,
    client: LlmClient,
    max_tokens: u32,
}

impl ClaudeTool {
    pub fn new(client: LlmClient, max_tokens: u32) -> Self {
        Self {
            spec: ToolSpec {
                name: CLAUDE.into(),
                description: format!(
                    "Claude ({} via {}): writes summaries and reports from an instruction and \
                     the outputs of earlier steps",
                    client.model(),
                    client.provider()
                ),
                input_schema: json!({
                    "type": "object",
                    "properties": {
                        "prompt": {"type": "string"},
                        "system": {"type": "string"},
                    },
                    "required": ["prompt"],
                }),
                capabilities: vec![capability::SUMMARISE.into(), capability::PLAN.into()],
                idempotent: true,
            },
            client,
            max_tokens,
        }
    }
}

impl From<LlmError> for ToolError {
    fn from(err: LlmError) -> Self {
        match err {
            LlmError::Retryable {
                message,
                retry_after,
            } => ToolError::Retryable {
                message,
                retry_after,
            },
            LlmError::Terminal { message } => ToolError::Terminal(message),
        }
    }
}

#[async_trait::async_trait]
impl Tool for ClaudeTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn call(&self, input: Value) -> Result<Value, ToolError> {
        let request = LlmRequest {
            system: input
                .get("system")
                .and_then(Value::as_str)
                .map(str::to_owned),
            prompt: string_field(&input, "prompt")?.to_owned(),
            max_tokens: self.max_tokens,
            temperature: Some(0.2),
        };
        let response = self.client.complete(&request).await?;
        Ok(json!({
            "text": response.text,
            "model": response.model,
            "provider": response.provider,
            "stop_reason": response.stop_reason,
            "usage": {
                "input_tokens": response.input_tokens,
                "output_tokens": response.output_tokens,
            },
        }))
    }
}
