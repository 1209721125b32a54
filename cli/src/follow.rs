//! Following a task to its end. Brown has no event stream yet, so this polls the status; a
//! failed poll is retried a few times before giving up, so a brief outage does not end a watch.

use std::time::Duration;

use uuid::Uuid;

use crate::{
    client::{Brown, ClientError},
    progress::Progress,
    view::TaskView,
};

const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Consecutive failed polls tolerated (with a growing pause) before the watch gives up.
const MAX_FAILED_POLLS: u32 = 6;

/// Returns the task's final status.
pub async fn until_final(
    brown: &Brown,
    task_id: Uuid,
    progress: &Progress,
) -> Result<TaskView, ClientError> {
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
            Err(err) if is_transient(&err) && failures < MAX_FAILED_POLLS => {
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

/// Worth another try: Brown unreachable or answering 503 (it says when to retry).
fn is_transient(err: &ClientError) -> bool {
    match err {
        ClientError::Unreachable { .. } => true,
        ClientError::Unexpected { status, .. } => status.is_server_error(),
        ClientError::Problem(problem) => problem.status >= 500,
        ClientError::Decode(_) => false,
    }
}
