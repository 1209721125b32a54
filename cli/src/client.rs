//! Brown's HTTP API, and nothing else: the CLI never touches AWS.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::view::{Accepted, Problem, TaskView};

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

#[derive(Clone)]
pub struct Brown {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

impl Brown {
    pub fn new(base: &str, api_key: Option<String>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
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

    pub async fn status(&self, task_id: Uuid) -> Result<TaskView, ClientError> {
        let request = self.request(Method::GET, &format!("/v1/tasks/{task_id}"));
        decode(self.send(request).await?).await
    }

    pub async fn cancel(&self, task_id: Uuid) -> Result<TaskView, ClientError> {
        let request = self.request(Method::DELETE, &format!("/v1/tasks/{task_id}"));
        decode(self.send(request).await?).await
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
