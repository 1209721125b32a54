//! A counting proxy in front of the emulator: every AWS call Brown and Bayko make passes
//! through it and is counted by service, operation and key prefix (`S3 HeadObject cancel/`,
//! `SQS ReceiveMessage`), so the report can say how many calls a task costs.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use anyhow::Context;
use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use tokio::task::JoinHandle;

#[derive(Clone)]
struct Upstream {
    endpoint: String,
    http: reqwest::Client,
    tasks_bucket: String,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

pub(crate) struct CountingProxy {
    pub endpoint: String,
    upstream: Upstream,
    server: JoinHandle<()>,
}

impl CountingProxy {
    pub(crate) async fn start(upstream: &str, tasks_bucket: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let upstream = Upstream {
            endpoint: upstream.to_owned(),
            http: reqwest::Client::new(),
            tasks_bucket: tasks_bucket.to_owned(),
            counts: Arc::default(),
        };
        let app = Router::new().fallback(forward).with_state(upstream.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            endpoint,
            upstream,
            server,
        })
    }

    /// Calls counted so far, by kind; resets the counts.
    pub(crate) fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut self.upstream.counts.lock().expect("counts lock"))
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(upstream): State<Upstream>, request: Request) -> Response {
    match relay(&upstream, request).await {
        Ok(response) => response,
        Err(err) => Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from(format!("{err:#}")))
            .expect("a static response"),
    }
}

async fn relay(upstream: &Upstream, request: Request) -> anyhow::Result<Response> {
    let (parts, body) = request.into_parts();
    let kind = classify(
        &parts.method,
        parts.uri.path(),
        &parts.headers,
        &upstream.tasks_bucket,
    );
    *upstream
        .counts
        .lock()
        .expect("counts lock")
        .entry(kind)
        .or_default() += 1;
    let body = to_bytes(body, usize::MAX)
        .await
        .context("reading the request")?;
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut headers = parts.headers;
    for hop in [
        header::HOST,
        header::CONTENT_LENGTH,
        header::CONNECTION,
        header::TRANSFER_ENCODING,
    ] {
        headers.remove(hop);
    }
    let answer = upstream
        .http
        .request(parts.method, format!("{}{path}", upstream.endpoint))
        .headers(headers)
        .body(body)
        .send()
        .await
        .context("calling the emulator")?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != header::TRANSFER_ENCODING
            && name != header::CONNECTION
            && name != header::CONTENT_LENGTH
        {
            response = response.header(name, value);
        }
    }
    let body = answer
        .bytes()
        .await
        .context("reading the emulator's answer")?;
    Ok(response.body(Body::from(body))?)
}

/// `SQS ReceiveMessage`, `S3 PutObject status/`, `S3 PutObject artifacts`, …
fn classify(
    method: &axum::http::Method,
    path: &str,
    headers: &HeaderMap,
    tasks_bucket: &str,
) -> String {
    if let Some(target) = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
    {
        let (service, operation) = target.split_once('.').unwrap_or(("?", target));
        let service = match service {
            "AmazonSQS" => "SQS",
            "AWSEvents" => "EventBridge",
            other => other,
        };
        return format!("{service} {operation}");
    }
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let bucket = segments.next().unwrap_or_default();
    let key = segments.next().unwrap_or_default();
    let operation = match (method.as_str(), key.is_empty()) {
        ("GET", false) => "GetObject",
        ("PUT", false) => "PutObject",
        ("HEAD", false) => "HeadObject",
        ("DELETE", false) => "DeleteObject",
        ("HEAD", true) => "HeadBucket",
        (other, _) => other,
    };
    let place = if bucket != tasks_bucket {
        "artifacts".to_owned()
    } else {
        key.split_once('/')
            .map_or(String::new(), |(prefix, _)| format!("{prefix}/"))
    };
    format!("S3 {operation} {place}").trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Method};

    use super::*;

    #[test]
    fn calls_are_named_by_service_operation_and_place() {
        let none = HeaderMap::new();
        let tasks = "bb-tasks";
        assert_eq!(
            classify(
                &Method::HEAD,
                "/bb-tasks/cancel/default/1.json",
                &none,
                tasks
            ),
            "S3 HeadObject cancel/"
        );
        assert_eq!(
            classify(
                &Method::PUT,
                "/bb-artifacts/default/1/processing.log",
                &none,
                tasks
            ),
            "S3 PutObject artifacts"
        );
        let mut sqs = HeaderMap::new();
        sqs.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonSQS.DeleteMessage"),
        );
        assert_eq!(
            classify(&Method::POST, "/", &sqs, tasks),
            "SQS DeleteMessage"
        );
    }
}
