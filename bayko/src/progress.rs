//! A running task's progress through its plan, kept by the engine at step boundaries and written
//! into the status by the heartbeat (at once when it changes, and with every beat).

use std::sync::{Arc, Mutex};

use shared::task::{Progress, StepProgress, StepState};
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct ProgressTracker {
    progress: Arc<Mutex<Option<Progress>>>,
    changed: Arc<Notify>,
}

impl ProgressTracker {
    /// The plan is known: every step pending.
    pub fn planned<'a>(&self, steps: impl IntoIterator<Item = &'a str>) {
        let steps = steps
            .into_iter()
            .map(|id| StepProgress {
                id: id.to_owned(),
                state: StepState::Pending,
            })
            .collect();
        self.update(|progress| {
            *progress = Some(Progress {
                steps,
                in_flight: Vec::new(),
            })
        });
    }

    pub fn started(&self, step: &str) {
        self.set(step, StepState::Running);
    }

    pub fn finished(&self, step: &str, succeeded: bool) {
        let state = match succeeded {
            true => StepState::Succeeded,
            false => StepState::Failed,
        };
        self.set(step, state);
    }

    pub fn snapshot(&self) -> Option<Progress> {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Completes after the next change (or at once if one happened since the last call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn set(&self, id: &str, state: StepState) {
        self.update(|progress| {
            let Some(progress) = progress else { return };
            if let Some(step) = progress.steps.iter_mut().find(|step| step.id == id) {
                step.state = state;
            }
            progress.in_flight = progress
                .steps
                .iter()
                .filter(|step| step.state == StepState::Running)
                .map(|step| step.id.clone())
                .collect();
        });
    }

    fn update(&self, change: impl FnOnce(&mut Option<Progress>)) {
        change(&mut self.progress.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_move_from_pending_to_their_end() {
        let tracker = ProgressTracker::default();
        assert_eq!(tracker.snapshot(), None);
        tracker.planned(["scan", "analyse", "summarise"]);
        tracker.started("scan");
        tracker.started("analyse");
        tracker.finished("scan", true);
        let progress = tracker.snapshot().unwrap();
        let states: Vec<StepState> = progress.steps.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [StepState::Succeeded, StepState::Running, StepState::Pending]
        );
        assert_eq!(progress.in_flight, ["analyse"]);
        assert_eq!(progress.done(), 1);
        tracker.finished("analyse", false);
        assert_eq!(tracker.snapshot().unwrap().done(), 2);
        assert!(tracker.snapshot().unwrap().in_flight.is_empty());
    }
}
