//! Brown's HTTP API, and nothing else: the CLI never touches AWS.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::view::{Accepted, Problem, TaskView, UploadGrant};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Brown answered with a problem document.
    #[error("{}", render_problem(.0))]
    Problem(Problem),
    #[error("cannot reach Brown at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Brown answered {status} without a problem document: {body}")]
    Unexpected { status: StatusCode, body: String },
    #[error("the event stream broke off: {0}")]
    Interrupted(String),
    #[error("Brown's answer is not what bnb expects: {0}")]
    Decode(String),
}

/// Title and detail, then one line per invalid field.
fn render_problem(problem: &Problem) -> String {
    let mut text = match (problem.title.is_empty(), problem.detail.is_empty()) {
        (false, false) => format!("{}: {}", problem.title, problem.detail),
        (false, true) => problem.title.clone(),
        _ => problem.detail.clone(),
    };
    for error in &problem.errors {
        text.push_str(&format!("\n  {}: {}", error.field, error.message));
    }
    text
}

/// The longest a plain API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct Brown {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

impl Brown {
    pub fn new(base: &str, api_key: Option<String>) -> Result<Self, ClientError> {
        // No overall timeout on the client: an event stream lasts as long as its task. Silence
        // is bounded instead (Brown sends keep-alives), and plain calls get their own timeout.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("bnb/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ClientError::Decode(err.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            api_key,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.streaming(method, path).timeout(CALL_TIMEOUT)
    }

    fn streaming(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    pub async fn submit(
        &self,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Uuid, ClientError> {
        let mut request = self.request(Method::POST, "/v1/tasks").json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = self.send(request).await?;
        // 200: an idempotent retry found its task, and the body is its status.
        let value: Value = decode(response).await?;
        serde_json::from_value::<Accepted>(value)
            .map(|accepted| accepted.task_id)
            .map_err(|err| ClientError::Decode(err.to_string()))
    }

    /// Uploads `body` for a task to name instead of sending it inline: asks Brown for a URL
    /// signed for its size, then PUTs it there (no API key: the URL carries its own authority).
    pub async fn upload(&self, body: Vec<u8>) -> Result<Uuid, ClientError> {
        let request = self
            .request(Method::POST, "/v1/uploads")
            .json(&serde_json::json!({"size": body.len()}));
        let grant: UploadGrant = decode(self.send(request).await?).await?;
        let mut put = self.http.put(&grant.url).timeout(CALL_TIMEOUT);
        for (name, value) in &grant.headers {
            // The body sets its own length, which is the size the URL was signed for.
            if name != "content-length" && name != "host" {
                put = put.header(name, value);
            }
        }
        let response = put
            .body(body)
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: "the upload URL".to_owned(),
                source,
            })?;
        checked(response).await?;
        Ok(grant.upload_id)
    }

    pub async fn status(&self, task_id: Uuid) -> Result<TaskView, ClientError> {
        let request = self.request(Method::GET, &format!("/v1/tasks/{task_id}"));
        decode(self.send(request).await?).await
    }

    pub async fn cancel(&self, task_id: Uuid) -> Result<TaskView, ClientError> {
        let request = self.request(Method::POST, &format!("/v1/tasks/{task_id}/cancel"));
        decode(self.send(request).await?).await
    }

    /// Opens the task's event stream, after `last_event_id` when given. `Ok(None)` when this
    /// Brown has no event stream (an older version): the caller polls instead.
    pub async fn events(
        &self,
        task_id: Uuid,
        last_event_id: Option<&str>,
    ) -> Result<Option<Response>, ClientError> {
        let mut request = self
            .streaming(Method::GET, &format!("/v1/tasks/{task_id}/events"))
            .header(header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        match self.send(request).await {
            Ok(response) => Ok(Some(response)),
            Err(ClientError::Problem(problem)) if problem.r#type == "/problems/route-not-found" => {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Downloads a signed artifact link (no API key: the link carries its own authority).
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, ClientError> {
        let response =
            self.http
                .get(url)
                .send()
                .await
                .map_err(|source| ClientError::Unreachable {
                    url: url.to_owned(),
                    source,
                })?;
        let response = checked(response).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|err| ClientError::Decode(err.to_string()))?;
        Ok(bytes.to_vec())
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = request
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: self.base.clone(),
                source,
            })?;
        checked(response).await
    }
}

/// A success passes; an error becomes its problem (or the raw answer when there is none).
async fn checked(response: Response) -> Result<Response, ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/problem+json"));
    let body = response.text().await.unwrap_or_default();
    match is_problem.then(|| serde_json::from_str::<Problem>(&body)) {
        Some(Ok(problem)) => Err(ClientError::Problem(problem)),
        _ => Err(ClientError::Unexpected {
            status,
            body: body.chars().take(500).collect(),
        }),
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ClientError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|err| ClientError::Decode(err.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|err| ClientError::Decode(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::FieldProblem;

    #[test]
    fn problems_read_as_title_detail_and_fields() {
        let problem = Problem {
            r#type: "/problems/validation".into(),
            status: 422,
            title: "Invalid request".into(),
            detail: "the request has 1 invalid field(s)".into(),
            errors: vec![FieldProblem {
                field: "input".into(),
                message: "must not be blank".into(),
            }],
        };
        assert_eq!(
            ClientError::Problem(problem).to_string(),
            "Invalid request: the request has 1 invalid field(s)\n  input: must not be blank"
        );
    }
}
