//! Stopping CPU-bound work that nobody waits for any more.
//!
//! A `spawn_blocking` cannot be aborted: when the engine's timeout (or a stopped task) drops a
//! built-in tool's future, the work on the blocking pool would run on to the end, holding its
//! memory and a core. So the work passes a checkpoint every so many rows, and gives up there
//! once its caller has gone: [`run_blocking`] cancels it when its future is dropped.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
};

use super::ToolError;

/// Why the work stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the analysis was stopped: its caller stopped waiting (a timeout, or the task stopped)")]
pub struct Cancelled;

/// What one tool's blocking work has done, over all its calls: how much work passed a
/// checkpoint, and how many calls are still running on the blocking pool.
#[derive(Debug, Default)]
pub struct WorkMeter {
    units: AtomicU64,
    running: AtomicUsize,
}

// Read by the tests, which prove with them that cancelled work stops.
#[cfg(test)]
impl WorkMeter {
    /// Units of work (rows, for the data-processor) that passed a checkpoint.
    pub fn units(&self) -> u64 {
        self.units.load(Ordering::Relaxed)
    }

    /// Calls whose work is still on the blocking pool, whether or not anyone waits for it.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }
}

/// The cancellation flag of one call's blocking work.
#[derive(Debug, Default)]
pub struct Cancel {
    cancelled: AtomicBool,
    meter: Arc<WorkMeter>,
}

impl Cancel {
    /// A flag that counts the work's progress in `meter`.
    fn metered(meter: Arc<WorkMeter>) -> Self {
        Self {
            cancelled: AtomicBool::new(false),
            meter,
        }
    }

    /// Asks the work to stop at its next checkpoint.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Records `units` more work done; `Err` once the work should stop.
    pub fn checkpoint(&self, units: u64) -> Result<(), Cancelled> {
        self.meter.units.fetch_add(units, Ordering::Relaxed);
        if self.cancelled.load(Ordering::Acquire) {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Cancels the work when the future waiting for it is dropped (or finishes: by then the work
/// has ended and the flag is unread).
struct CancelOnDrop(Arc<Cancel>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Counts a call as running until its work returns, even when nobody waits for it.
struct Running(Arc<WorkMeter>);

impl Running {
    fn start(meter: Arc<WorkMeter>) -> Self {
        meter.running.fetch_add(1, Ordering::AcqRel);
        Self(meter)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `work` on the blocking pool, where CPU-bound work cannot stall the worker's I/O, with a
/// flag it checks that is set as soon as this future is dropped.
pub(crate) async fn run_blocking<T: Send + 'static>(
    meter: &Arc<WorkMeter>,
    work: impl FnOnce(&Cancel) -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    let cancel = Arc::new(Cancel::metered(Arc::clone(meter)));
    let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancel));
    let running = Running::start(Arc::clone(meter));
    tokio::task::spawn_blocking(move || {
        let _running = running;
        work(&cancel)
    })
    .await
    .map_err(|err| ToolError::terminal(format!("the tool crashed: {err}")))?
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_checkpoint_fails_once_cancelled_and_counts_the_work() {
        let cancel = Cancel::default();
        assert_eq!(cancel.checkpoint(3), Ok(()));
        cancel.cancel();
        assert_eq!(cancel.checkpoint(2), Err(Cancelled));
        assert_eq!(cancel.meter.units(), 5);
    }

    #[tokio::test]
    async fn dropping_the_future_cancels_the_work() {
        let meter = Arc::new(WorkMeter::default());
        // Spins until cancelled: only the flag can end it.
        let call = run_blocking(&meter, |cancel| {
            while cancel.checkpoint(1).is_ok() {
                std::thread::yield_now();
            }
            Ok(())
        });
        let timed_out = tokio::time::timeout(Duration::from_millis(20), call).await;
        assert!(timed_out.is_err());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while meter.running() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the blocking work ran on after its future was dropped"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
