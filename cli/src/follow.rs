//! Following a task to its end: through Brown's event stream, resumed with `Last-Event-ID`
//! when the connection drops; by polling the status when Brown has no stream. A failed attempt
//! is retried a few times before giving up, so a brief outage does not end a watch.

use std::time::Duration;

use shared::sse::{Frame, Reader, STATUS_EVENT};
use uuid::Uuid;

use crate::{
    client::{Brown, ClientError},
    progress::Progress,
    view::TaskView,
};

const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Consecutive failures tolerated (with a growing pause) before the watch gives up.
const MAX_FAILURES: u32 = 6;

/// Returns the task's final status.
pub async fn until_final(
    brown: &Brown,
    task_id: Uuid,
    progress: &Progress,
) -> Result<TaskView, ClientError> {
    let mut last_event_id: Option<String> = None;
    let mut failures = 0;
    loop {
        let attempt = match brown.events(task_id, last_event_id.as_deref()).await {
            Ok(Some(response)) => stream(response, &mut last_event_id, progress).await,
            Ok(None) => return poll(brown, task_id, progress).await,
            // Too many streams open for this tenant: polling costs Brown less.
            Err(ClientError::Problem(problem)) if problem.status == 429 => {
                return poll(brown, task_id, progress).await;
            }
            Err(err) => Err(err),
        };
        match attempt {
            Ok(Some(view)) => {
                progress.finish(&view);
                return Ok(view);
            }
            // The stream ended early (Brown restarted, or the stream's time was up): resume.
            Ok(None) => failures = 0,
            Err(err) if is_transient(&err) && failures < MAX_FAILURES => {
                failures += 1;
                tokio::time::sleep(POLL_INTERVAL * 2u32.pow(failures)).await;
            }
            Err(err) => {
                progress.abandon();
                return Err(err);
            }
        }
    }
}

/// Reads status events until the final one (`Some`) or the end of the stream (`None`).
async fn stream(
    mut response: reqwest::Response,
    last_event_id: &mut Option<String>,
    progress: &Progress,
) -> Result<Option<TaskView>, ClientError> {
    let mut reader = Reader::default();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| ClientError::Interrupted(err.to_string()))?
    {
        for frame in reader.feed(&chunk) {
            let Frame::Event { id, event, data } = frame else {
                continue; // keep-alive
            };
            if event.as_deref() != Some(STATUS_EVENT) {
                continue;
            }
            let view: TaskView =
                serde_json::from_str(&data).map_err(|err| ClientError::Decode(err.to_string()))?;
            if id.is_some() {
                *last_event_id = id;
            }
            if view.status.is_final() {
                return Ok(Some(view));
            }
            progress.update(&view);
        }
    }
    Ok(None)
}

async fn poll(brown: &Brown, task_id: Uuid, progress: &Progress) -> Result<TaskView, ClientError> {
    let mut failures = 0;
    loop {
        match brown.status(task_id).await {
            Ok(view) if view.status.is_final() => {
                progress.finish(&view);
                return Ok(view);
            }
            Ok(view) => {
                failures = 0;
                progress.update(&view);
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            Err(err) if is_transient(&err) && failures < MAX_FAILURES => {
                failures += 1;
                tokio::time::sleep(POLL_INTERVAL * 2u32.pow(failures)).await;
            }
            Err(err) => {
                progress.abandon();
                return Err(err);
            }
        }
    }
}

/// Worth another try: Brown unreachable, a stream cut off, or a 5xx/429 (it says when to retry).
fn is_transient(err: &ClientError) -> bool {
    match err {
        ClientError::Unreachable { .. } | ClientError::Interrupted(_) => true,
        ClientError::Unexpected { status, .. } => status.is_server_error(),
        ClientError::Problem(problem) => problem.status >= 500 || problem.status == 429,
        ClientError::Decode(_) => false,
    }
}
