//! MCP (Model Context Protocol) client: connects to the MCP servers named in
//! Bayko's config, lists their tools and calls them.
//!
//! Two transports are supported: a child process spoken to over stdio, and a
//! remote server over streamable HTTP. Both are driven by the `rmcp` SDK with
//! the classic `initialize` handshake.
//!
//! An [`McpConnection`] is a cheap, cloneable handle: many tasks can call
//! tools over one connection at the same time. Closing it (or dropping every
//! clone) shuts the server down; a stdio child is never left running.

use std::collections::{BTreeMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ErrorCode,
    Implementation, ProtocolVersion, Tool,
};
use rmcp::service::RunningService;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{Peer, RoleClient, ServiceError, ServiceExt};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStderr, Command};
use tokio::task::JoinHandle;

use super::ToolError;

/// Name Bayko introduces itself with in the `initialize` handshake.
const CLIENT_NAME: &str = "bayko";

/// How many of a stdio server's last stderr lines are kept to explain a
/// failed start.
const STDERR_TAIL_LINES: usize = 20;
/// And of each line, this many characters.
const STDERR_LINE_CHARS: usize = 300;

/// How long a failed start waits for the server's stderr to be fully read,
/// so the error can quote it.
const STDERR_DRAIN_GRACE: Duration = Duration::from_secs(1);

/// One MCP server from Bayko's config, e.g.
///
/// ```toml
/// [[mcp.servers]]
/// name = "stats"
/// transport = "stdio"
/// command = "python3"
/// args = ["server.py"]
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "transport", rename_all = "snake_case", deny_unknown_fields)]
pub enum McpServerConfig {
    /// A server started as a child process and spoken to over its stdin/stdout, in a cleared
    /// environment: `PATH`, the variables named in `pass_env`, and `env`. Its stderr is not
    /// logged (it may echo task data); its last lines explain a failed start.
    Stdio {
        /// Name the server is known by in Bayko (logs, errors, tool routing).
        name: String,
        /// Program to run, looked up on `PATH` when not a path.
        command: String,
        /// Arguments passed to `command`.
        #[serde(default)]
        args: Vec<String>,
        /// Variables set for the child.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Bayko's own variables passed on to the child by name; no other is (API keys and AWS
        /// credentials stay with Bayko unless named here).
        #[serde(default)]
        pass_env: Vec<String>,
    },
    /// A server reached over streamable HTTP.
    Http {
        /// Name the server is known by in Bayko (logs, errors, tool routing).
        name: String,
        /// The server's MCP endpoint, e.g. `http://127.0.0.1:8000/mcp`.
        url: String,
    },
}

impl McpServerConfig {
    /// The server's name from the config.
    pub fn name(&self) -> &str {
        match self {
            Self::Stdio { name, .. } | Self::Http { name, .. } => name,
        }
    }
}

/// A tool offered by an MCP server, as listed when connecting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McpToolInfo {
    /// Name of the server offering the tool.
    pub server: String,
    /// The tool's name, as passed to [`McpConnection::call`].
    pub name: String,
    /// What the tool does (empty when the server gives no description).
    pub description: String,
    /// JSON Schema of the tool's arguments object.
    pub input_schema: Value,
}

/// A live connection to one MCP server. Clones share the connection, and
/// calls may run concurrently.
#[derive(Clone)]
pub struct McpConnection {
    inner: Arc<Inner>,
}

struct Inner {
    server: String,
    tools: Vec<McpToolInfo>,
    /// Sends requests; cloned per call so calls don't serialise on a lock.
    peer: Peer<RoleClient>,
    /// The running client. `close` takes it out; dropping it (with the last
    /// clone) also shuts the transport down, killing a stdio child.
    service: Mutex<Option<RunningService<RoleClient, ClientConfig>>>,
    /// Process id of a stdio server (shown in `Debug`, checked by tests).
    child_pid: Option<u32>,
}

impl std::fmt::Debug for McpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tools: Vec<&str> = self.inner.tools.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("McpConnection")
            .field("server", &self.inner.server)
            .field("tools", &tools)
            .field("child_pid", &self.inner.child_pid)
            .finish_non_exhaustive()
    }
}

impl McpConnection {
    /// Starts (stdio) or reaches (HTTP) the server, performs the MCP
    /// handshake and lists all its tools (every page), all within `timeout`.
    pub async fn connect(config: &McpServerConfig, timeout: Duration) -> Result<Self, ToolError> {
        // On timeout the half-built transport is dropped, which kills a child.
        tokio::time::timeout(timeout, Self::establish(config))
            .await
            .unwrap_or_else(|_| {
                Err(connect_error(
                    config.name(),
                    format!("no answer within {timeout:?}"),
                ))
            })
    }

    /// Name of the server, from the config.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// The server's tools, as listed when connecting.
    pub fn tools(&self) -> &[McpToolInfo] {
        &self.inner.tools
    }

    /// Calls a tool with JSON object arguments (`null` means no arguments)
    /// and waits as long as it takes; dropping the future cancels the call
    /// on the server. Returns the tool's result as JSON:
    /// `structuredContent` when the server gives it, otherwise the text
    /// content blocks (a single text block that parses as JSON → that JSON;
    /// otherwise `{"text": "..."}`, blocks joined by newlines).
    /// Only the tests wait without a limit; the engine calls through
    /// [`call_with_timeout`](Self::call_with_timeout).
    #[cfg(test)]
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<Value, ToolError> {
        let arguments = self.arguments_object(tool, arguments)?;
        let result = self
            .inner
            .peer
            .call_tool(call_params(tool, arguments))
            .await;
        self.tool_result(tool, result)
    }

    /// Like [`call`](Self::call), but gives up after `timeout` with a
    /// retryable [`ToolError`] and tells the server to cancel the call.
    /// The connection stays usable.
    pub async fn call_with_timeout(
        &self,
        tool: &str,
        arguments: Value,
        timeout: Duration,
    ) -> Result<Value, ToolError> {
        let arguments = self.arguments_object(tool, arguments)?;
        let call = self.inner.peer.call_tool(call_params(tool, arguments));
        // Dropping the timed-out future sends `notifications/cancelled`.
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => self.tool_result(tool, result),
            Err(_) => Err(self.call_error(tool, format!("no result within {timeout:?}"), true)),
        }
    }

    /// Shuts the connection down and waits for it: a stdio server gets EOF
    /// on stdin, then SIGTERM, then SIGKILL if it lingers, and is reaped.
    /// Other clones of this connection get a retryable [`ToolError`] afterwards.
    pub async fn close(self) -> Result<(), ToolError> {
        let service = self
            .inner
            .service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Another clone already closed it.
        let Some(mut service) = service else {
            return Ok(());
        };
        service
            .close()
            .await
            .map(drop)
            .map_err(|e| closed_error(&self.inner.server, &format!("shutting down failed: {e}")))
    }

    /// Process id of a stdio server's child process.
    #[cfg(test)]
    fn child_pid(&self) -> Option<u32> {
        self.inner.child_pid
    }

    async fn establish(config: &McpServerConfig) -> Result<Self, ToolError> {
        let server = config.name().to_owned();
        let (service, child_pid) = match config {
            McpServerConfig::Stdio {
                command,
                args,
                env,
                pass_env,
                ..
            } => start_stdio(&server, command, args, env, pass_env).await?,
            McpServerConfig::Http { url, .. } => (start_http(&server, url).await?, None),
        };
        let tools = list_tools(&server, service.peer()).await?;
        log_connected(&server, &service, tools.len());
        Ok(Self {
            inner: Arc::new(Inner {
                peer: service.peer().clone(),
                server,
                tools,
                service: Mutex::new(Some(service)),
                child_pid,
            }),
        })
    }

    /// MCP wants an object (or nothing) as arguments.
    fn arguments_object(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<Option<Map<String, Value>>, ToolError> {
        match arguments {
            Value::Object(object) => Ok(Some(object)),
            Value::Null => Ok(None),
            other => Err(self.call_error(
                tool,
                format!("arguments must be a JSON object, got {other}"),
                false,
            )),
        }
    }

    fn tool_result(
        &self,
        tool: &str,
        result: Result<CallToolResult, ServiceError>,
    ) -> Result<Value, ToolError> {
        let result = result.map_err(|e| self.service_error(tool, e))?;
        if result.is_error == Some(true) {
            let (server, message) = (&self.inner.server, error_message(&result));
            return Err(ToolError::terminal(format!(
                "tool `{tool}` on MCP server `{server}` reported an error: {message}"
            )));
        }
        Ok(result_json(result))
    }

    fn service_error(&self, tool: &str, error: ServiceError) -> ToolError {
        match error {
            ServiceError::TransportClosed => closed_error(
                &self.inner.server,
                "the connection was closed or the server went away",
            ),
            // A JSON-RPC error: the server rejected the request (unknown
            // method, invalid params...); only an internal error may be transient.
            ServiceError::McpError(data) => {
                let retryable = data.code == ErrorCode::INTERNAL_ERROR;
                let message = format!("server error {}: {}", data.code.0, data.message);
                self.call_error(tool, message, retryable)
            }
            // A hiccup on the way (HTTP error, timeout, cancellation).
            e @ (ServiceError::TransportSend(_)
            | ServiceError::Timeout { .. }
            | ServiceError::Cancelled { .. }) => self.call_error(tool, e.to_string(), true),
            // Protocol mismatches, e.g. a reply that is not a tool result.
            e => self.call_error(tool, e.to_string(), false),
        }
    }

    /// The call did not produce a result: bad arguments, a protocol error, a transport error or
    /// a timeout. `retryable` says whether the same call may succeed later.
    fn call_error(&self, tool: &str, message: String, retryable: bool) -> ToolError {
        let server = &self.inner.server;
        ToolError::classified(
            format!("call to tool `{tool}` on MCP server `{server}` failed: {message}"),
            retryable,
        )
    }
}

/// What Bayko tells servers about itself. The protocol version is pinned
/// to the newest one that still uses the `initialize` handshake we speak.
fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(CLIENT_NAME, env!("CARGO_PKG_VERSION")),
    )
    .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
}

type Client = RunningService<RoleClient, ClientConfig>;

async fn start_stdio(
    server: &str,
    program: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    pass_env: &[String],
) -> Result<(Client, Option<u32>), ToolError> {
    let mut command = Command::new(program);
    command.env_clear();
    for name in std::iter::once("PATH").chain(pass_env.iter().map(String::as_str)) {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    // Safety net: if the transport is dropped where its own cleanup can't
    // run (runtime shutting down), tokio still kills the child.
    command.args(args).envs(env).kill_on_drop(true);
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| connect_error(server, format!("cannot start `{program}`: {e}")))?;
    let pid = transport.id();
    let stderr = stderr.map(|stderr| StderrTail::follow(server, stderr));
    match client_config().serve(transport).await {
        Ok(client) => Ok((client, pid)),
        Err(e) => {
            let mut message = format!("handshake failed: {e}");
            if let Some(stderr) = stderr {
                message.push_str(&stderr.explain().await);
            }
            Err(connect_error(server, message))
        }
    }
}

async fn start_http(server: &str, url: &str) -> Result<Client, ToolError> {
    let transport = StreamableHttpClientTransport::from_uri(url);
    client_config()
        .serve(transport)
        .await
        .map_err(|e| connect_error(server, format!("handshake with {url} failed: {e}")))
}

async fn list_tools(server: &str, peer: &Peer<RoleClient>) -> Result<Vec<McpToolInfo>, ToolError> {
    let tools = peer
        .list_all_tools()
        .await
        // Retryable, like every failure to reach a server: it may be briefly unavailable.
        .map_err(|e| {
            ToolError::retryable(
                format!("cannot list the tools of MCP server `{server}`: {e}"),
                None,
            )
        })?;
    Ok(tools
        .into_iter()
        .map(|tool| tool_info(server, tool))
        .collect())
}

fn tool_info(server: &str, tool: Tool) -> McpToolInfo {
    McpToolInfo {
        server: server.to_owned(),
        name: tool.name.into_owned(),
        description: tool.description.map(|d| d.into_owned()).unwrap_or_default(),
        input_schema: Value::Object(Arc::unwrap_or_clone(tool.input_schema)),
    }
}

fn log_connected(server: &str, client: &Client, tools: usize) {
    let info = client.peer().peer_info();
    let implementation = info
        .as_ref()
        .and_then(|info| info.server_info.as_ref())
        .map(|i| format!("{} {}", i.name, i.version));
    tracing::info!(
        server,
        tools,
        protocol = info.as_ref().map(|i| i.protocol_version.to_string()),
        implementation,
        "connected to MCP server"
    );
}

fn call_params(tool: &str, arguments: Option<Map<String, Value>>) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(tool.to_owned());
    match arguments {
        Some(arguments) => params.with_arguments(arguments),
        None => params,
    }
}

/// The JSON value of a successful tool result (see [`McpConnection::call`]).
fn result_json(result: CallToolResult) -> Value {
    if let Some(structured) = result.structured_content {
        return structured;
    }
    let texts = texts(&result);
    if let [text] = texts.as_slice()
        && let Ok(value) = serde_json::from_str(text)
    {
        return value;
    }
    json!({ "text": texts.join("\n") })
}

/// The message of a tool-reported error: its text, else its structured content.
fn error_message(result: &CallToolResult) -> String {
    let text = texts(result).join("\n");
    match &result.structured_content {
        Some(structured) if text.is_empty() => structured.to_string(),
        _ => text,
    }
}

/// The text content blocks of a result; other kinds (images...) are skipped.
fn texts(result: &CallToolResult) -> Vec<&str> {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect()
}

/// The server could not be started, reached or initialised in time: retryable over a new
/// connection, as servers may be briefly unavailable (callers bound their retries).
fn connect_error(server: &str, message: String) -> ToolError {
    ToolError::retryable(
        format!("cannot connect to MCP server `{server}`: {message}"),
        None,
    )
}

/// The connection is gone: it was closed, or the server went away.
fn closed_error(server: &str, message: &str) -> ToolError {
    ToolError::retryable(
        format!("the connection to MCP server `{server}` is closed: {message}"),
        None,
    )
}

/// Counts what a stdio server writes to stderr (logged as sizes, never as text) and keeps
/// its last lines, redacted and truncated, so a failed start can say why (a Python
/// traceback, a missing module...).
struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    reader: JoinHandle<()>,
}

impl StderrTail {
    fn follow(server: &str, stderr: ChildStderr) -> Self {
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let reader = tokio::spawn(read_stderr(server.to_owned(), stderr, lines.clone()));
        Self { lines, reader }
    }

    /// A suffix for an error message quoting the last stderr lines, once the
    /// (probably exited) server has finished writing them.
    async fn explain(mut self) -> String {
        let _ = tokio::time::timeout(STDERR_DRAIN_GRACE, &mut self.reader).await;
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            return String::new();
        }
        let tail: Vec<&str> = lines.iter().map(String::as_str).collect();
        format!("; the server's stderr ends with:\n{}", tail.join("\n"))
    }
}

async fn read_stderr(server: String, stderr: ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut reader = BufReader::new(stderr);
    let mut buffer = Vec::new();
    // Bytes, not `lines()`: a server printing invalid UTF-8 must not stop the logging.
    while reader
        .read_until(b'\n', &mut buffer)
        .await
        .is_ok_and(|n| n > 0)
    {
        // Redacted before it is kept: the tail ends up in an error message, and so in logs.
        let head: String = String::from_utf8_lossy(&buffer)
            .trim_end()
            .chars()
            .take(2 * STDERR_LINE_CHARS)
            .collect();
        let line: String = shared::compliance::redact(&head)
            .text
            .chars()
            .take(STDERR_LINE_CHARS)
            .collect();
        // Counted, not quoted: a server may echo the task data it was given.
        tracing::debug!(server = %server, bytes = buffer.len(), "mcp server wrote to stderr");
        buffer.clear();
        let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

// ---------------------------------------------------------------------------
// The adapter to the engine's Tool interface
// ---------------------------------------------------------------------------

/// One tool of an MCP server, named `server:tool` in the registry.
pub struct McpTool {
    spec: super::ToolSpec,
    connection: McpConnection,
    tool: String,
    timeout: Duration,
}

impl McpTool {
    pub fn new(connection: McpConnection, info: &McpToolInfo, timeout: Duration) -> Self {
        Self {
            spec: super::ToolSpec {
                name: format!("{}:{}", info.server, info.name),
                description: info.description.clone(),
                input_schema: info.input_schema.clone(),
                capabilities: vec![super::capability::MCP.into()],
                // Unknown side effects: retried only when the call surely did not run.
                idempotent: false,
            },
            connection,
            tool: info.name.clone(),
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl super::Tool for McpTool {
    fn spec(&self) -> &super::ToolSpec {
        &self.spec
    }

    async fn call(&self, input: Value) -> Result<Value, ToolError> {
        self.connection
            .call_with_timeout(&self.tool, input, self.timeout)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;
    use std::time::Instant;

    const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
    const KNOWN_SENTENCE: &str = "the quick brown fox jumps over the lazy dog The end";

    /// The Python interpreter that runs the fixture: `BB_TEST_MCP_PYTHON`,
    /// else the repository's venv, else `python3`. It must have the `mcp`
    /// SDK 2.x; the tests fail (rather than skip) when it is missing.
    fn python() -> &'static str {
        static PYTHON: OnceLock<String> = OnceLock::new();
        PYTHON.get_or_init(|| {
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
            let python = std::env::var("BB_TEST_MCP_PYTHON").unwrap_or_else(|_| {
                if venv.exists() {
                    venv.display().to_string()
                } else {
                    "python3".to_owned()
                }
            });
            let probe = std::process::Command::new(&python)
                .args(["-c", "import mcp.server.mcpserver"])
                .output();
            match probe {
                Ok(output) if output.status.success() => python,
                Ok(output) => panic!(
                    "`{python}` cannot import the MCP SDK 2.x (`mcp.server.mcpserver`): {}\n\
                     install it (`pip install \"mcp>=2,<3\"`) or point BB_TEST_MCP_PYTHON \
                     at an interpreter that has it",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                Err(e) => panic!(
                    "cannot run the Python interpreter `{python}`: {e}; \
                     set BB_TEST_MCP_PYTHON to one that has the MCP SDK 2.x"
                ),
            }
        })
    }

    /// The fixture server: `BB_TEST_MCP_FIXTURE`, else the workspace's
    /// `tests/fixtures/mcp_server.py`.
    fn fixture() -> String {
        std::env::var("BB_TEST_MCP_FIXTURE").unwrap_or_else(|_| {
            let path: PathBuf =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mcp_server.py");
            path.display().to_string()
        })
    }

    fn stdio_config(name: &str) -> McpServerConfig {
        McpServerConfig::Stdio {
            name: name.to_owned(),
            command: python().to_owned(),
            args: vec![fixture()],
            env: BTreeMap::new(),
            pass_env: Vec::new(),
        }
    }

    async fn connect_stdio(name: &str) -> McpConnection {
        McpConnection::connect(&stdio_config(name), CONNECT_TIMEOUT)
            .await
            .expect("connect to the stdio fixture")
    }

    fn tool<'a>(connection: &'a McpConnection, name: &str) -> &'a McpToolInfo {
        connection
            .tools()
            .iter()
            .find(|tool| tool.name == name)
            .unwrap_or_else(|| panic!("tool `{name}` is not listed"))
    }

    /// Whether a process is running (a zombie counts as gone).
    fn process_alive(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    /// Polls `condition` until it holds or `within` has passed.
    async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if condition() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        condition()
    }

    #[test]
    fn config_parses_both_transports_and_rejects_unknown_fields() {
        let stdio: McpServerConfig = serde_json::from_value(json!({
            "name": "stats", "transport": "stdio", "command": "python3", "args": ["server.py"],
        }))
        .unwrap();
        assert_eq!(
            stdio,
            McpServerConfig::Stdio {
                name: "stats".into(),
                command: "python3".into(),
                args: vec!["server.py".into()],
                env: BTreeMap::new(),
                pass_env: Vec::new(),
            }
        );
        let http: McpServerConfig = serde_json::from_value(json!({
            "name": "remote", "transport": "http", "url": "http://127.0.0.1:1/mcp",
        }))
        .unwrap();
        assert_eq!(http.name(), "remote");
        let typo = serde_json::from_value::<McpServerConfig>(json!({
            "name": "x", "transport": "stdio", "command": "y", "argz": [],
        }));
        assert!(typo.is_err(), "an unknown field must be rejected");
    }

    #[test]
    fn results_become_json() {
        let result = |value: Value| serde_json::from_value::<CallToolResult>(value).unwrap();
        let structured = result(json!({
            "content": [{"type": "text", "text": "{\"a\": 1}"}],
            "structuredContent": {"a": 2},
        }));
        assert_eq!(result_json(structured), json!({"a": 2}));
        let json_text = result(json!({"content": [{"type": "text", "text": "[1, 2]"}]}));
        assert_eq!(result_json(json_text), json!([1, 2]));
        let plain = result(json!({"content": [{"type": "text", "text": "done"}]}));
        assert_eq!(result_json(plain), json!({"text": "done"}));
        let two = result(json!({"content": [
            {"type": "text", "text": "1"}, {"type": "text", "text": "2"},
        ]}));
        assert_eq!(result_json(two), json!({"text": "1\n2"}));
    }

    #[test]
    fn unreachable_servers_are_retryable_and_name_the_server() {
        for error in [
            connect_error("s", "refused".into()),
            closed_error("s", "gone"),
        ] {
            assert!(error.is_retryable(), "{error:?}");
            assert!(error.to_string().contains("MCP server `s`"), "{error}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stdio_lists_and_calls_tools_and_closes_cleanly() {
        let connection = connect_stdio("stats").await;
        assert_eq!(connection.server(), "stats");

        let mut names: Vec<&str> = connection.tools().iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["add", "fail", "leak", "remember", "slow", "word_stats"]
        );
        for tool in connection.tools() {
            assert_eq!(tool.server, "stats");
            assert!(
                !tool.description.is_empty(),
                "{} has no description",
                tool.name
            );
        }
        let word_stats = tool(&connection, "word_stats");
        assert!(word_stats.description.contains("Count the words"));
        assert_eq!(
            word_stats.input_schema["properties"]["text"]["type"],
            "string"
        );

        let stats = connection
            .call("word_stats", json!({"text": KNOWN_SENTENCE}))
            .await
            .unwrap();
        assert_eq!(
            stats,
            json!({"words": 11, "unique_words": 9, "longest_word": "quick"})
        );

        // A float result is wrapped by the SDK into structured content.
        let sum = connection
            .call("add", json!({"a": 2, "b": 3.5}))
            .await
            .unwrap();
        assert_eq!(sum, json!({"result": 5.5}));

        match connection.call("fail", json!({"message": "boom"})).await {
            Err(e @ ToolError::Terminal(_)) => {
                let message = e.to_string();
                assert!(message.contains("reported an error"), "{message}");
                assert!(message.contains("boom"), "{message}");
            }
            other => panic!("expected a terminal tool-reported error, got {other:?}"),
        }

        let unknown = connection.call("no_such_tool", json!({})).await;
        assert!(unknown.is_err(), "an unknown tool must fail: {unknown:?}");

        let not_an_object = connection.call("add", json!([1, 2])).await;
        assert!(
            matches!(&not_an_object, Err(ToolError::Terminal(m)) if m.contains("must be a JSON object")),
            "{not_an_object:?}"
        );

        let pid = connection.child_pid().expect("the stdio child's pid");
        assert!(process_alive(pid));
        let clone = connection.clone();
        connection.close().await.unwrap();
        assert!(
            eventually(Duration::from_secs(10), || !process_alive(pid)).await,
            "the server process {pid} is still running after close"
        );
        let after_close = clone.call("add", json!({"a": 1, "b": 1})).await;
        assert!(
            matches!(&after_close, Err(e @ ToolError::Retryable { .. }) if e.to_string().contains("is closed")),
            "{after_close:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_calls_share_one_connection() {
        let connection = connect_stdio("stats").await;
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..10 {
            let connection = connection.clone();
            calls.spawn(async move {
                // A distinct text per call, so answers can't be mixed up.
                let text = vec!["word"; i + 1].join(" ") + " longestwordhere";
                let stats = connection
                    .call("word_stats", json!({ "text": text }))
                    .await
                    .unwrap();
                (i, stats)
            });
        }
        let mut seen = 0;
        while let Some(joined) = calls.join_next().await {
            let (i, stats) = joined.unwrap();
            assert_eq!(
                stats,
                json!({"words": i + 2, "unique_words": 2, "longest_word": "longestwordhere"})
            );
            seen += 1;
        }
        assert_eq!(seen, 10);
        connection.close().await.unwrap();
    }

    /// Kills the HTTP fixture server when the test ends, even on panic.
    struct ChildGuard(std::process::Child);

    impl Drop for ChildGuard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn free_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn streamable_http_lists_and_calls_tools() {
        let port = free_port();
        let mut server = ChildGuard(
            std::process::Command::new(python())
                .arg(fixture())
                .args(["--http", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the HTTP fixture"),
        );
        let listening = eventually(Duration::from_secs(30), || {
            let exited = server.0.try_wait().unwrap();
            assert!(exited.is_none(), "the HTTP fixture exited: {exited:?}");
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        assert!(listening, "the HTTP fixture never listened on {port}");

        let config = McpServerConfig::Http {
            name: "remote".into(),
            url: format!("http://127.0.0.1:{port}/mcp"),
        };
        let connection = McpConnection::connect(&config, CONNECT_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(connection.tools().len(), 6);
        assert!(tool(&connection, "add").input_schema["properties"]["a"].is_object());
        let sum = connection
            .call("add", json!({"a": 40, "b": 2}))
            .await
            .unwrap();
        assert_eq!(sum, json!({"result": 42.0}));
        connection.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn connecting_to_a_missing_command_names_the_server() {
        let config = McpServerConfig::Stdio {
            name: "ghost".into(),
            command: "/nonexistent/bayko-mcp-server".into(),
            args: vec![],
            env: BTreeMap::new(),
            pass_env: Vec::new(),
        };
        let error = McpConnection::connect(&config, CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("cannot connect to MCP server `ghost`"),
            "{error}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_server_that_dies_at_start_is_explained_by_its_stderr() {
        let config = McpServerConfig::Stdio {
            name: "broken".into(),
            command: python().to_owned(),
            args: vec![
                "-c".into(),
                "import sys; print('for canary.person@example.com', file=sys.stderr); \
                 import no_such_module_for_bayko"
                    .into(),
            ],
            env: BTreeMap::new(),
            pass_env: Vec::new(),
        };
        let error = McpConnection::connect(&config, CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("cannot connect"), "{error}");
        assert!(
            error.to_string().contains("no_such_module_for_bayko"),
            "{error}"
        );
        // Quoted redacted: a server's stderr can echo the data it was given.
        assert!(
            error.to_string().contains("for [REDACTED:email]"),
            "{error}"
        );
        assert!(!error.to_string().contains("canary.person"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_server_starts_with_only_the_allowed_environment() {
        // Set for every test run, like the AWS variables and API keys in production.
        let inherited = "CARGO_MANIFEST_DIR";
        assert!(std::env::var_os(inherited).is_some());
        let script = format!(
            "echo \"inherited=${{{inherited}:-unset}} path=${{PATH:+set}} own=$OWN\" >&2; exit 1"
        );
        let environment_seen = |pass_env: Vec<String>| {
            let config = McpServerConfig::Stdio {
                name: "env".into(),
                command: "sh".into(),
                args: vec!["-c".into(), script.clone()],
                env: BTreeMap::from([("OWN".into(), "given".into())]),
                pass_env,
            };
            async move {
                McpConnection::connect(&config, CONNECT_TIMEOUT)
                    .await
                    .unwrap_err()
                    .to_string()
            }
        };
        let cleared = environment_seen(Vec::new()).await;
        assert!(
            cleared.contains("inherited=unset path=set own=given"),
            "{cleared}"
        );
        let allowed = environment_seen(vec![inherited.into()]).await;
        assert!(
            allowed.contains(&format!("inherited={} ", env!("CARGO_MANIFEST_DIR"))),
            "{allowed}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn connect_timeout_is_honoured() {
        // A process that never answers the handshake.
        let config = McpServerConfig::Stdio {
            name: "mute".into(),
            command: python().to_owned(),
            args: vec!["-c".into(), "import time; time.sleep(60)".into()],
            env: BTreeMap::new(),
            pass_env: Vec::new(),
        };
        let started = Instant::now();
        let error = McpConnection::connect(&config, Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("cannot connect"), "{error}");
        assert!(error.is_retryable());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn call_timeout_is_honoured_and_the_connection_survives() {
        let connection = connect_stdio("sleepy").await;
        let started = Instant::now();
        let error = connection
            .call_with_timeout("slow", json!({"seconds": 30}), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert!(error.to_string().contains("no result within"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));

        let done = connection
            .call_with_timeout("slow", json!({"seconds": 0.01}), CONNECT_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(done, json!({"result": "done"}));
        connection.close().await.unwrap();
    }

    #[test]
    fn connection_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<McpConnection>();
    }
}
