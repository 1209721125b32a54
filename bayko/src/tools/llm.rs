//! The LLM client behind the `claude` tool.
//!
//! Two providers, chosen in config: Amazon Bedrock (the Converse API through
//! `aws-sdk-bedrockruntime`) and the Anthropic Messages API over HTTPS.
//!
//! The client makes exactly one attempt per call. It never retries: it only
//! classifies failures as [`ToolError::Retryable`] (with the server's
//! `retry-after` hint when there is one) or [`ToolError::Terminal`], and the
//! caller's retry layer decides what to do. Keeping a single retry policy in
//! one place avoids multiplying attempts (SDK retries × caller retries) and
//! keeps back-off under the caller's budget.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::{ConverseError, ConverseOutput};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, SystemContentBlock,
};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};

use super::ToolError;

/// Default base URL of the Anthropic API.
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// Default value of the `anthropic-version` header.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
/// Default whole-request timeout for the Anthropic API. Non-streaming
/// completions of long outputs can legitimately take minutes.
pub const DEFAULT_ANTHROPIC_TIMEOUT: Duration = Duration::from_secs(600);

/// Connecting should be quick even when generating is slow: fail fast (and
/// retryably) on an unreachable host instead of waiting the whole timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an unparseable error body goes into an error message.
const BODY_SNIPPET_CHARS: usize = 300;
/// The most of a reply body read: a Messages reply is at most `max_tokens` of text, far below
/// this, so a bigger body is a wrong endpoint or a hostile one, not an answer.
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// One single-turn completion: an optional system prompt and one user prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    /// System prompt; `None` or an empty string sends none.
    pub system: Option<String>,
    /// The user message.
    pub prompt: String,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Sampling temperature; `None` leaves the provider's default.
    pub temperature: Option<f32>,
}

/// The text a model produced, with the accounting the caller records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmResponse {
    /// All text blocks of the reply, concatenated in order.
    pub text: String,
    /// The model that answered (as reported by the provider when it says).
    pub model: String,
    /// `"anthropic"` or `"bedrock"`.
    pub provider: &'static str,
    /// Prompt tokens billed.
    pub input_tokens: u64,
    /// Generated tokens billed.
    pub output_tokens: u64,
    /// Why generation stopped (`end_turn`, `max_tokens`, ...), if reported.
    pub stop_reason: Option<String>,
}

/// Settings for the Anthropic Messages API.
#[derive(Clone)]
pub struct AnthropicConfig {
    /// Scheme and host, without `/v1/...` (default [`DEFAULT_ANTHROPIC_BASE_URL`]).
    pub base_url: String,
    /// Secret API key, sent as `x-api-key`. Never logged.
    pub api_key: String,
    /// Model name, e.g. `claude-sonnet-4-5`.
    pub model: String,
    /// `anthropic-version` header (default [`DEFAULT_ANTHROPIC_VERSION`]).
    pub version: String,
    /// Whole-request timeout (default [`DEFAULT_ANTHROPIC_TIMEOUT`]).
    pub timeout: Duration,
}

impl AnthropicConfig {
    /// A config for `model` with the default base URL, version and timeout.
    pub fn new(api_key: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_ANTHROPIC_BASE_URL.to_owned(),
            api_key: api_key.into(),
            model: model.into(),
            version: DEFAULT_ANTHROPIC_VERSION.to_owned(),
            timeout: DEFAULT_ANTHROPIC_TIMEOUT,
        }
    }
}

// Hand-written so that `{:?}` of a config can never print the key.
impl std::fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("version", &self.version)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Settings for Bedrock's Converse API. Region and credentials come from the
/// `SdkConfig` passed to [`LlmClient::bedrock`].
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockConfig {
    /// Model or inference-profile id, e.g. `anthropic.claude-3-5-sonnet-20240620-v1:0`.
    pub model_id: String,
    /// Endpoint override, for a VPC endpoint or a test stub.
    pub endpoint_url: Option<String>,
}

/// An LLM client for the provider chosen in config.
#[derive(Debug, Clone)]
pub enum LlmClient {
    /// The Anthropic Messages API over HTTPS.
    Anthropic(AnthropicClient),
    /// Amazon Bedrock's Converse API.
    Bedrock(BedrockClient),
}

impl LlmClient {
    /// An Anthropic client. Fails (terminally) only on an unusable config,
    /// such as an API key that is not a valid header value.
    pub fn anthropic(config: AnthropicConfig) -> Result<Self, ToolError> {
        AnthropicClient::new(config).map(Self::Anthropic)
    }

    /// A Bedrock client using `sdk`'s region and credentials.
    pub fn bedrock(sdk: &aws_config::SdkConfig, config: BedrockConfig) -> Self {
        Self::Bedrock(BedrockClient::new(sdk, config))
    }

    /// Runs one completion: a single attempt, no retries.
    pub async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, ToolError> {
        let result = match self {
            Self::Anthropic(client) => client.complete(request).await,
            Self::Bedrock(client) => client.complete(request).await,
        };
        match &result {
            Ok(response) => tracing::debug!(
                provider = response.provider,
                model = %response.model,
                input_tokens = response.input_tokens,
                output_tokens = response.output_tokens,
                stop_reason = ?response.stop_reason,
                "LLM completion finished"
            ),
            Err(error) => {
                tracing::debug!(provider = self.provider(), %error, "LLM completion failed")
            }
        }
        result
    }

    /// `"anthropic"` or `"bedrock"`.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Anthropic(_) => AnthropicClient::PROVIDER,
            Self::Bedrock(_) => BedrockClient::PROVIDER,
        }
    }

    /// The configured model (Anthropic model name or Bedrock model id).
    pub fn model(&self) -> &str {
        match self {
            Self::Anthropic(client) => &client.model,
            Self::Bedrock(client) => &client.model_id,
        }
    }
}

/// A system prompt worth sending: both APIs reject empty text blocks.
fn system_prompt(request: &LlmRequest) -> Option<&str> {
    request.system.as_deref().filter(|s| !s.is_empty())
}

/// The reply's text, or a terminal error: retrying a reply that had no text
/// (only tool calls, or stopped before any output) gives the same result.
fn require_text(
    provider: &str,
    text: String,
    stop_reason: Option<&str>,
) -> Result<String, ToolError> {
    if text.is_empty() {
        let stop = stop_reason.unwrap_or("unknown");
        return Err(ToolError::terminal(format!(
            "{provider}: response has no text (stop_reason: {stop})"
        )));
    }
    Ok(text)
}

/// Parses a `retry-after` value: delay seconds or an HTTP-date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    // A date in the past means "now".
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An error and its sources, joined, since reqwest's own `Display` hides the
/// interesting part ("connection refused") in the source chain.
fn error_chain(error: &dyn StdError) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

// ---------------------------------------------------------------------------
// Anthropic
// ---------------------------------------------------------------------------

/// A client for the Anthropic Messages API.
#[derive(Debug, Clone)]
pub struct AnthropicClient {
    http: reqwest::Client,
    messages_url: String,
    model: String,
}

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    messages: [UserMessage<'a>; 1],
}

#[derive(Serialize)]
struct UserMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Deserialize)]
struct MessagesResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Vec<AnthropicContentBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnthropicUsage,
}

#[derive(Deserialize)]
struct AnthropicContentBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Default, Deserialize)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

impl AnthropicClient {
    const PROVIDER: &'static str = "anthropic";

    fn new(config: AnthropicConfig) -> Result<Self, ToolError> {
        let http = reqwest::Client::builder()
            .default_headers(Self::default_headers(&config)?)
            .timeout(config.timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(config.timeout))
            // Every request carries the API key: it goes to the configured host or nowhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                ToolError::terminal(format!(
                    "anthropic: cannot build HTTP client: {}",
                    error_chain(&e)
                ))
            })?;
        let messages_url = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
        Ok(Self {
            http,
            messages_url,
            model: config.model,
        })
    }

    /// Headers sent on every request. The key is stored once, marked
    /// sensitive so that `Debug` output and HTTP tracing never show it.
    fn default_headers(config: &AnthropicConfig) -> Result<HeaderMap, ToolError> {
        let mut api_key = HeaderValue::from_str(&config.api_key)
            .map_err(|_| ToolError::terminal("anthropic: API key is not a valid header value"))?;
        api_key.set_sensitive(true);
        let version = HeaderValue::from_str(&config.version)
            .map_err(|_| ToolError::terminal("anthropic: version is not a valid header value"))?;
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", api_key);
        headers.insert("anthropic-version", version);
        Ok(headers)
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, ToolError> {
        let body = MessagesRequest {
            model: &self.model,
            max_tokens: request.max_tokens,
            system: system_prompt(request),
            temperature: request.temperature,
            messages: [UserMessage {
                role: "user",
                content: &request.prompt,
            }],
        };
        // `.json()` also sets `content-type: application/json`.
        let response = self
            .http
            .post(&self.messages_url)
            .json(&body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = read_capped(response).await?;
        if !status.is_success() {
            return Err(anthropic_status_error(status, retry_after, &bytes));
        }
        self.parse_success(&bytes)
    }

    fn parse_success(&self, bytes: &[u8]) -> Result<LlmResponse, ToolError> {
        // An undecodable 200 is not transient: a wrong base URL or an API
        // change will keep producing it.
        let reply: MessagesResponse = serde_json::from_slice(bytes).map_err(|e| {
            ToolError::terminal(format!(
                "anthropic: cannot decode response: {e}: {}",
                snippet(bytes)
            ))
        })?;
        let text: String = reply
            .content
            .iter()
            .filter(|block| block.kind == "text")
            .filter_map(|block| block.text.as_deref())
            .collect();
        let text = require_text(Self::PROVIDER, text, reply.stop_reason.as_deref())?;
        Ok(LlmResponse {
            text,
            model: reply.model.unwrap_or_else(|| self.model.clone()),
            provider: Self::PROVIDER,
            input_tokens: reply.usage.input_tokens,
            output_tokens: reply.usage.output_tokens,
            stop_reason: reply.stop_reason,
        })
    }
}

/// Reads a reply body, refusing one over [`MAX_RESPONSE_BYTES`] before holding it in memory.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, ToolError> {
    let too_big = || {
        ToolError::terminal(format!(
            "anthropic: the reply exceeds {MAX_RESPONSE_BYTES} bytes"
        ))
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Classifies a failure to send the request or read the reply. Everything
/// on the wire (connect, timeout, reset) may succeed next time; only a
/// request we could not even build (a bad base URL) will not.
fn transport_error(error: reqwest::Error) -> ToolError {
    // Drop the URL from the message: it is config, and the chain says enough.
    let terminal = error.is_builder() || error.is_redirect();
    let kind = if error.is_timeout() {
        "timed out"
    } else {
        "transport error"
    };
    let message = format!("anthropic: {kind}: {}", error_chain(&error.without_url()));
    if terminal {
        ToolError::terminal(message)
    } else {
        ToolError::retryable(message, None)
    }
}

/// Classifies a non-2xx reply by status and by the API's error type.
fn anthropic_status_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> ToolError {
    let detail = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .map(|e| e.error);
    let message = match &detail {
        Some(detail) => format!(
            "anthropic: HTTP {} {}: {}",
            status.as_u16(),
            detail.kind,
            detail.message
        ),
        None => format!("anthropic: HTTP {}: {}", status.as_u16(), snippet(body)),
    };
    let retryable_type = detail.as_ref().is_some_and(|d| {
        matches!(
            d.kind.as_str(),
            "rate_limit_error" | "overloaded_error" | "api_error" | "timeout_error"
        )
    });
    // 529 (overloaded) is covered by `is_server_error`.
    let retryable_status = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error();
    if retryable_status || retryable_type {
        ToolError::retryable(message, retry_after)
    } else {
        ToolError::terminal(message)
    }
}

/// The start of a body, for error messages about bodies we could not parse.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut snippet: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
    if text.chars().nth(BODY_SNIPPET_CHARS).is_some() {
        snippet.push('…');
    }
    snippet
}

// ---------------------------------------------------------------------------
// Bedrock
// ---------------------------------------------------------------------------

/// A client for Amazon Bedrock's Converse API.
#[derive(Debug, Clone)]
pub struct BedrockClient {
    client: aws_sdk_bedrockruntime::Client,
    model_id: String,
}

impl BedrockClient {
    const PROVIDER: &'static str = "bedrock";

    fn new(sdk: &aws_config::SdkConfig, config: BedrockConfig) -> Self {
        // The SDK's own retries are off: the caller's retry layer owns the
        // policy and honours `retry_after`, and SDK retries on top would both
        // multiply attempts and hide the throttling signal from it.
        let mut builder = aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled());
        if let Some(url) = &config.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        Self {
            client: aws_sdk_bedrockruntime::Client::from_conf(builder.build()),
            model_id: config.model_id,
        }
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, ToolError> {
        let mut call = self
            .client
            .converse()
            .model_id(&self.model_id)
            .messages(user_message(&request.prompt)?)
            .inference_config(inference_config(request)?);
        if let Some(system) = system_prompt(request) {
            call = call.system(SystemContentBlock::Text(system.to_owned()));
        }
        let output = call.send().await.map_err(bedrock_error)?;
        self.parse_success(&output)
    }

    fn parse_success(&self, output: &ConverseOutput) -> Result<LlmResponse, ToolError> {
        let stop_reason = output.stop_reason().as_str().to_owned();
        let text: String = output
            .output()
            .and_then(|o| o.as_message().ok())
            .map(|message| {
                message
                    .content()
                    .iter()
                    .filter_map(|block| block.as_text().ok())
                    .map(String::as_str)
                    .collect()
            })
            .unwrap_or_default();
        let text = require_text(Self::PROVIDER, text, Some(&stop_reason))?;
        // Token counts are i32 in the SDK; a negative one would be a service bug.
        let tokens = |n: i32| u64::try_from(n).unwrap_or(0);
        let usage = output.usage();
        Ok(LlmResponse {
            text,
            model: self.model_id.clone(),
            provider: Self::PROVIDER,
            input_tokens: usage.map_or(0, |u| tokens(u.input_tokens())),
            output_tokens: usage.map_or(0, |u| tokens(u.output_tokens())),
            stop_reason: Some(stop_reason),
        })
    }
}

fn user_message(prompt: &str) -> Result<Message, ToolError> {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(prompt.to_owned()))
        .build()
        .map_err(|e| ToolError::terminal(format!("bedrock: cannot build message: {e}")))
}

fn inference_config(request: &LlmRequest) -> Result<InferenceConfiguration, ToolError> {
    let max_tokens = i32::try_from(request.max_tokens).map_err(|_| {
        ToolError::terminal(format!(
            "bedrock: max_tokens {} is too large",
            request.max_tokens
        ))
    })?;
    Ok(InferenceConfiguration::builder()
        .max_tokens(max_tokens)
        .set_temperature(request.temperature)
        .build())
}

/// Classifies an SDK failure.
fn bedrock_error(error: SdkError<ConverseError>) -> ToolError {
    match &error {
        SdkError::ServiceError(service) => {
            let retry_after = service
                .raw()
                .headers()
                .get("retry-after")
                .and_then(parse_retry_after);
            bedrock_service_error(service.err(), service.raw().status().as_u16(), retry_after)
        }
        // Nothing was sent, or the request can never be sent as configured.
        SdkError::ConstructionFailure(_) => {
            ToolError::terminal(format!("bedrock: {}", DisplayErrorContext(&error)))
        }
        SdkError::DispatchFailure(failure) if failure.is_user() => {
            ToolError::terminal(format!("bedrock: {}", DisplayErrorContext(&error)))
        }
        // Timeouts, connection failures (including fetching credentials) and
        // unreadable replies may all succeed on another attempt.
        _ => ToolError::retryable(format!("bedrock: {}", DisplayErrorContext(&error)), None),
    }
}

/// Classifies an error the service returned, by its modelled type, falling
/// back to the HTTP status for codes this SDK version does not know.
fn bedrock_service_error(
    error: &ConverseError,
    status: u16,
    retry_after: Option<Duration>,
) -> ToolError {
    let code = error.code().unwrap_or("UnknownError");
    let message = format!(
        "bedrock: HTTP {status} {code}: {}",
        error.message().unwrap_or("(no message)")
    );
    let retryable = match error {
        ConverseError::ThrottlingException(_)
        | ConverseError::ServiceUnavailableException(_)
        | ConverseError::InternalServerException(_)
        | ConverseError::ModelNotReadyException(_)
        | ConverseError::ModelTimeoutException(_) => true,
        ConverseError::AccessDeniedException(_)
        | ConverseError::ValidationException(_)
        | ConverseError::ResourceNotFoundException(_)
        | ConverseError::ModelErrorException(_) => false,
        _ => status == 429 || status >= 500,
    };
    if retryable {
        ToolError::retryable(message, retry_after)
    } else {
        ToolError::terminal(message)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use aws_sdk_bedrockruntime::config::{Credentials, SharedCredentialsProvider};
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus, Uri};
    use axum::response::{IntoResponse, Response};
    use serde_json::{Value, json};

    use super::*;

    const API_KEY: &str = "sk-ant-test-secret-key";

    /// What the stub received.
    #[derive(Debug, Clone)]
    struct Seen {
        path: String,
        headers: AxumHeaders,
        body: Value,
    }

    /// The stub's canned reply.
    #[derive(Clone)]
    struct Reply {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: Value,
        delay: Duration,
    }

    impl Reply {
        fn new(status: u16, body: Value) -> Self {
            Self {
                status,
                headers: Vec::new(),
                body,
                delay: Duration::ZERO,
            }
        }

        fn header(mut self, name: &'static str, value: &'static str) -> Self {
            self.headers.push((name, value));
            self
        }
    }

    #[derive(Clone)]
    struct StubState {
        reply: Reply,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    /// A local HTTP server that records every request and answers `reply`.
    struct Stub {
        addr: SocketAddr,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Stub {
        async fn start(reply: Reply) -> Self {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let state = StubState {
                reply,
                seen: Arc::clone(&seen),
            };
            let app = Router::new().fallback(record_and_reply).with_state(state);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Self { addr, seen }
        }

        fn url(&self) -> String {
            format!("http://{}", self.addr)
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    async fn record_and_reply(
        State(state): State<StubState>,
        uri: Uri,
        headers: AxumHeaders,
        body: Bytes,
    ) -> Response {
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        state.seen.lock().unwrap().push(Seen {
            path: uri.path().to_owned(),
            headers,
            body,
        });
        tokio::time::sleep(state.reply.delay).await;
        let mut response = (
            AxumStatus::from_u16(state.reply.status).unwrap(),
            [("content-type", "application/json")],
            state.reply.body.to_string(),
        )
            .into_response();
        for (name, value) in &state.reply.headers {
            response.headers_mut().insert(*name, value.parse().unwrap());
        }
        response
    }

    fn request() -> LlmRequest {
        LlmRequest {
            system: Some("You are terse.".to_owned()),
            prompt: "Summarise the data.".to_owned(),
            max_tokens: 256,
            temperature: Some(0.5),
        }
    }

    // --- Anthropic ---------------------------------------------------------

    fn anthropic_client(base_url: String) -> LlmClient {
        LlmClient::anthropic(AnthropicConfig {
            base_url,
            timeout: Duration::from_secs(10),
            ..AnthropicConfig::new(API_KEY, "claude-test")
        })
        .unwrap()
    }

    fn anthropic_error(kind: &str, message: &str) -> Value {
        json!({"type": "error", "error": {"type": kind, "message": message}})
    }

    async fn anthropic_call(reply: Reply) -> Result<LlmResponse, ToolError> {
        let stub = Stub::start(reply).await;
        anthropic_client(stub.url()).complete(&request()).await
    }

    #[tokio::test]
    async fn anthropic_success_sends_the_messages_request_and_parses_the_reply() {
        let stub = Stub::start(Reply::new(
            200,
            json!({
                "id": "msg_01", "type": "message", "role": "assistant",
                "model": "claude-test-20250101",
                "content": [
                    {"type": "text", "text": "Hello, "},
                    {"type": "tool_use", "id": "t1", "name": "x", "input": {}},
                    {"type": "text", "text": "world."}
                ],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 12, "output_tokens": 34}
            }),
        ))
        .await;
        // A trailing slash on the base URL must not double up in the path.
        let client = anthropic_client(format!("{}/", stub.url()));
        assert_eq!(client.provider(), "anthropic");
        assert_eq!(client.model(), "claude-test");

        let response = client.complete(&request()).await.unwrap();

        assert_eq!(
            response,
            LlmResponse {
                text: "Hello, world.".to_owned(),
                model: "claude-test-20250101".to_owned(),
                provider: "anthropic",
                input_tokens: 12,
                output_tokens: 34,
                stop_reason: Some("end_turn".to_owned()),
            }
        );
        let seen = stub.seen();
        assert_eq!(seen.len(), 1);
        let seen = &seen[0];
        assert_eq!(seen.path, "/v1/messages");
        assert_eq!(seen.headers["x-api-key"], API_KEY);
        assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
        assert_eq!(seen.headers["content-type"], "application/json");
        assert_eq!(
            seen.body,
            json!({
                "model": "claude-test",
                "max_tokens": 256,
                "system": "You are terse.",
                "temperature": 0.5,
                "messages": [{"role": "user", "content": "Summarise the data."}]
            })
        );
    }

    #[tokio::test]
    async fn anthropic_redirects_are_not_followed_with_the_key() {
        let elsewhere = Stub::start(Reply::new(200, json!({}))).await;
        let location: &'static str = format!("{}/v1/messages", elsewhere.url()).leak();
        let error = anthropic_call(Reply::new(307, json!({})).header("location", location))
            .await
            .unwrap_err();
        assert!(!error.is_retryable(), "{error}");
        assert!(error.to_string().contains("HTTP 307"), "{error}");
        assert!(
            elsewhere.seen().is_empty(),
            "the key never left for the redirect"
        );
    }

    #[tokio::test]
    async fn anthropic_replies_over_the_cap_are_refused() {
        let huge = "x".repeat(MAX_RESPONSE_BYTES + 1);
        let error = anthropic_call(Reply::new(
            200,
            json!({"type": "message", "content": [{"type": "text", "text": huge}],
                   "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}),
        ))
        .await
        .unwrap_err();
        assert!(!error.is_retryable(), "{error}");
        assert!(error.to_string().contains("exceeds"), "{error}");
    }

    #[tokio::test]
    async fn anthropic_omits_absent_system_and_temperature() {
        let stub = Stub::start(Reply::new(
            200,
            json!({"type": "message", "content": [{"type": "text", "text": "ok"}],
                   "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}),
        ))
        .await;
        let request = LlmRequest {
            system: None,
            temperature: None,
            ..request()
        };
        let response = anthropic_client(stub.url())
            .complete(&request)
            .await
            .unwrap();
        // Without a model in the reply, the configured one is reported.
        assert_eq!(response.model, "claude-test");
        let body = &stub.seen()[0].body;
        assert!(body.get("system").is_none(), "{body}");
        assert!(body.get("temperature").is_none(), "{body}");
    }

    #[tokio::test]
    async fn anthropic_429_is_retryable_with_retry_after() {
        let reply = Reply::new(429, anthropic_error("rate_limit_error", "slow down"))
            .header("retry-after", "7");
        let error = anthropic_call(reply).await.unwrap_err();
        assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
        let ToolError::Retryable { message, .. } = error else {
            panic!("expected Retryable, got {error:?}");
        };
        assert!(
            message.contains("rate_limit_error") && message.contains("slow down"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn anthropic_529_overloaded_is_retryable() {
        let reply = Reply::new(529, anthropic_error("overloaded_error", "Overloaded"));
        let error = anthropic_call(reply).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert!(error.to_string().contains("overloaded_error"), "{error}");
        assert_eq!(error.retry_after(), None);
    }

    #[tokio::test]
    async fn anthropic_500_is_retryable_even_without_a_json_body() {
        let error = anthropic_call(Reply::new(500, json!("upstream exploded")))
            .await
            .unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert!(error.to_string().contains("upstream exploded"), "{error}");
    }

    #[tokio::test]
    async fn anthropic_400_invalid_request_is_terminal_with_the_message() {
        let reply = Reply::new(
            400,
            anthropic_error("invalid_request_error", "max_tokens: must be at most 8192"),
        );
        let error = anthropic_call(reply).await.unwrap_err();
        let ToolError::Terminal(message) = &error else {
            panic!("expected Terminal, got {error:?}");
        };
        assert!(message.contains("HTTP 400"), "{message}");
        assert!(message.contains("invalid_request_error"), "{message}");
        assert!(
            message.contains("max_tokens: must be at most 8192"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn anthropic_401_is_terminal_and_does_not_leak_the_key() {
        let reply = Reply::new(
            401,
            anthropic_error("authentication_error", "invalid x-api-key"),
        );
        let error = anthropic_call(reply).await.unwrap_err();
        assert!(!error.is_retryable(), "{error:?}");
        assert!(
            error.to_string().contains("authentication_error"),
            "{error}"
        );
        assert!(!format!("{error:?}").contains(API_KEY));
    }

    #[tokio::test]
    async fn anthropic_connection_refused_is_retryable() {
        // Bind and drop to find a port with nothing listening.
        let port = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let client = anthropic_client(format!("http://127.0.0.1:{port}"));
        let error = client.complete(&request()).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert!(!error.to_string().contains(API_KEY));
    }

    #[tokio::test]
    async fn anthropic_timeout_is_retryable() {
        let mut reply = Reply::new(200, json!({}));
        reply.delay = Duration::from_secs(5);
        let stub = Stub::start(reply).await;
        let client = LlmClient::anthropic(AnthropicConfig {
            base_url: stub.url(),
            timeout: Duration::from_millis(200),
            ..AnthropicConfig::new(API_KEY, "claude-test")
        })
        .unwrap();
        let error = client.complete(&request()).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert!(error.to_string().contains("timed out"), "{error}");
    }

    #[tokio::test]
    async fn anthropic_reply_without_text_is_terminal() {
        let reply = Reply::new(
            200,
            json!({
                "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-test",
                "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}],
                "stop_reason": "tool_use",
                "usage": {"input_tokens": 5, "output_tokens": 3}
            }),
        );
        let error = anthropic_call(reply).await.unwrap_err();
        let ToolError::Terminal(message) = &error else {
            panic!("expected Terminal, got {error:?}");
        };
        assert!(
            message.contains("no text") && message.contains("tool_use"),
            "{message}"
        );
    }

    #[test]
    fn anthropic_debug_output_hides_the_key() {
        let config = AnthropicConfig::new(API_KEY, "claude-test");
        assert!(!format!("{config:?}").contains(API_KEY));
        let client = LlmClient::anthropic(config).unwrap();
        assert!(!format!("{client:?}").contains(API_KEY));
    }

    #[test]
    fn anthropic_rejects_a_key_that_is_not_a_header_value() {
        let error = LlmClient::anthropic(AnthropicConfig::new("bad\nkey", "m")).unwrap_err();
        assert!(!error.is_retryable());
        assert!(!error.to_string().contains("bad\nkey"));
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        let later = SystemTime::now() + Duration::from_secs(120);
        let parsed = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120),
            "{parsed:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    // --- Bedrock -----------------------------------------------------------

    const MODEL_ID: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

    fn bedrock_client(endpoint_url: String) -> LlmClient {
        // Static credentials so that SigV4 signing works offline; the stub
        // ignores the signature.
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            )))
            .build();
        LlmClient::bedrock(
            &sdk,
            BedrockConfig {
                model_id: MODEL_ID.to_owned(),
                endpoint_url: Some(endpoint_url),
            },
        )
    }

    fn bedrock_error_reply(status: u16, error_type: &'static str, message: &str) -> Reply {
        Reply::new(status, json!({"message": message})).header("x-amzn-errortype", error_type)
    }

    async fn bedrock_call(reply: Reply) -> (Result<LlmResponse, ToolError>, Vec<Seen>) {
        let stub = Stub::start(reply).await;
        let result = bedrock_client(stub.url()).complete(&request()).await;
        (result, stub.seen())
    }

    #[tokio::test]
    async fn bedrock_success_sends_converse_and_parses_the_reply() {
        let reply = Reply::new(
            200,
            json!({
                "output": {"message": {"role": "assistant", "content": [{"text": "Hello, "}, {"text": "world."}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 12, "outputTokens": 34, "totalTokens": 46},
                "metrics": {"latencyMs": 100}
            }),
        );
        let stub = Stub::start(reply).await;
        let client = bedrock_client(stub.url());
        assert_eq!(client.provider(), "bedrock");
        assert_eq!(client.model(), MODEL_ID);

        let response = client.complete(&request()).await.unwrap();

        assert_eq!(
            response,
            LlmResponse {
                text: "Hello, world.".to_owned(),
                model: MODEL_ID.to_owned(),
                provider: "bedrock",
                input_tokens: 12,
                output_tokens: 34,
                stop_reason: Some("end_turn".to_owned()),
            }
        );
        let seen = stub.seen();
        assert_eq!(seen.len(), 1);
        // The SDK percent-encodes the `:` in the model id.
        assert_eq!(
            seen[0].path,
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
        );
        assert!(
            seen[0].headers.contains_key("authorization"),
            "request is signed"
        );
        let body = &seen[0].body;
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": [{"text": "Summarise the data."}]}])
        );
        assert_eq!(body["system"], json!([{"text": "You are terse."}]));
        assert_eq!(
            body["inferenceConfig"],
            json!({"maxTokens": 256, "temperature": 0.5})
        );
    }

    #[tokio::test]
    async fn bedrock_throttling_is_retryable_with_retry_after() {
        let reply = bedrock_error_reply(429, "ThrottlingException", "Too many requests")
            .header("retry-after", "3");
        let (result, seen) = bedrock_call(reply).await;
        let error = result.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
        assert!(error.to_string().contains("ThrottlingException"), "{error}");
        assert!(error.to_string().contains("Too many requests"), "{error}");
        // SDK retries are disabled: exactly one attempt reached the server.
        assert_eq!(seen.len(), 1);
    }

    #[tokio::test]
    async fn bedrock_service_unavailable_is_retryable() {
        let reply = bedrock_error_reply(503, "ServiceUnavailableException", "Try later");
        let (result, seen) = bedrock_call(reply).await;
        let error = result.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert_eq!(error.retry_after(), None);
        assert_eq!(seen.len(), 1);
    }

    #[tokio::test]
    async fn bedrock_validation_error_is_terminal() {
        let reply = bedrock_error_reply(400, "ValidationException", "maxTokens exceeds the limit");
        let (result, _) = bedrock_call(reply).await;
        let error = result.unwrap_err();
        let ToolError::Terminal(message) = &error else {
            panic!("expected Terminal, got {error:?}");
        };
        assert!(message.contains("ValidationException"), "{message}");
        assert!(message.contains("maxTokens exceeds the limit"), "{message}");
    }

    #[tokio::test]
    async fn bedrock_reply_without_text_is_terminal() {
        let reply = Reply::new(
            200,
            json!({
                "output": {"message": {"role": "assistant", "content": []}},
                "stopReason": "max_tokens",
                "usage": {"inputTokens": 12, "outputTokens": 0, "totalTokens": 12},
                "metrics": {"latencyMs": 10}
            }),
        );
        let (result, _) = bedrock_call(reply).await;
        let error = result.unwrap_err();
        assert!(!error.is_retryable(), "{error:?}");
        assert!(error.to_string().contains("no text"), "{error}");
    }

    #[tokio::test]
    async fn bedrock_connection_refused_is_retryable() {
        let port = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let client = bedrock_client(format!("http://127.0.0.1:{port}"));
        let error = client.complete(&request()).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
    }

    #[test]
    fn bedrock_service_errors_are_classified_by_type_then_status() {
        use aws_sdk_bedrockruntime::error::ErrorMetadata;
        use aws_sdk_bedrockruntime::types::error::{
            AccessDeniedException, ModelNotReadyException, ModelTimeoutException,
        };

        let not_ready =
            ConverseError::ModelNotReadyException(ModelNotReadyException::builder().build());
        assert!(bedrock_service_error(&not_ready, 429, None).is_retryable());
        let timeout =
            ConverseError::ModelTimeoutException(ModelTimeoutException::builder().build());
        assert!(bedrock_service_error(&timeout, 408, None).is_retryable());
        let denied = ConverseError::AccessDeniedException(AccessDeniedException::builder().build());
        assert!(!bedrock_service_error(&denied, 403, None).is_retryable());
        // Codes this SDK version does not model fall back on the status.
        let unknown = |status| {
            let meta = ErrorMetadata::builder()
                .code("NewException")
                .message("m")
                .build();
            bedrock_service_error(
                &ConverseError::generic(meta),
                status,
                Some(Duration::from_secs(2)),
            )
        };
        assert_eq!(unknown(502).retry_after(), Some(Duration::from_secs(2)));
        assert!(unknown(429).is_retryable());
        assert!(!unknown(400).is_retryable());
        assert!(unknown(400).to_string().contains("NewException: m"));
    }
}
