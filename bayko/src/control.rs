//! Stopping a running task from outside its engine: a cancel request from the client, a lease
//! lost to another worker, or a shutdown that ran out of grace. The engine checks at every step
//! boundary and races in-flight tool calls against it.
//!
//! The tasks bucket is asked for a cancel request before the claim (the worker) and then on
//! every heartbeat, never per step: a task costs one lookup, not one per step boundary
//! (`cargo xtask bench` counts them), and a cancel still interrupts in-flight tool calls.

use std::sync::{Arc, OnceLock};

use bb_aws::ObjectStore;
use shared::keys::TaskKey;
use tokio_util::sync::CancellationToken;

use crate::progress::ProgressTracker;

/// Why a task was stopped. The first reason wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The client asked (`POST /v1/tasks/{id}/cancel`): the task ends `cancelled`.
    Cancelled,
    /// Another worker took the task over: this one walks away without writing.
    LostLease,
    /// This worker is shutting down: the task is handed back to the queue at once.
    ShuttingDown,
}

/// One running task's stop switch, shared by the engine and the heartbeat.
#[derive(Clone)]
pub struct TaskControl {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
    probe: Option<CancelProbe>,
    progress: ProgressTracker,
}

/// Looks for the client's cancel request in the tasks bucket.
#[derive(Clone)]
pub struct CancelProbe {
    tasks: Arc<dyn ObjectStore>,
    key: TaskKey,
}

impl CancelProbe {
    pub(crate) fn new(tasks: Arc<dyn ObjectStore>, key: TaskKey) -> Self {
        Self { tasks, key }
    }

    /// Whether a cancel request exists. An error reads as "no": the next check will see it.
    pub async fn requested(&self) -> bool {
        match self.tasks.head(&self.key.cancel()).await {
            Ok(found) => found.is_some(),
            Err(err) => {
                tracing::debug!(error = %err, "cancel check failed");
                false
            }
        }
    }
}

impl TaskControl {
    pub fn new(parent: &CancellationToken, probe: Option<CancelProbe>) -> Self {
        Self {
            token: parent.child_token(),
            reason: Arc::new(OnceLock::new()),
            probe,
            progress: ProgressTracker::default(),
        }
    }

    /// A control nothing stops but a direct call: for tests of the engine alone.
    pub fn detached() -> Self {
        Self::new(&CancellationToken::new(), None)
    }

    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Why the task was stopped; `ShuttingDown` when the parent (the worker) was.
    pub fn stopped(&self) -> Option<StopReason> {
        if self.token.is_cancelled() {
            Some(*self.reason.get_or_init(|| StopReason::ShuttingDown))
        } else {
            None
        }
    }

    /// Completes when the task is stopped.
    pub async fn cancelled(&self) {
        self.token.cancelled().await
    }

    /// A step boundary: stops here if anything asked (the heartbeat turns a cancel request in
    /// the bucket into a stop).
    pub fn checkpoint(&self) -> Result<(), StopReason> {
        self.stopped().map_or(Ok(()), Err)
    }

    /// Where the task is in its plan: the engine reports, the heartbeat writes it down.
    pub fn progress(&self) -> &ProgressTracker {
        &self.progress
    }

    pub fn probe(&self) -> Option<&CancelProbe> {
        self.probe.as_ref()
    }
}
