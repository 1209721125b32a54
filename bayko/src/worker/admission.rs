//! The worker's decision before it touches a task, made only from the status it read and the
//! delivery's receive count: pure, so every branch is unit-tested.

use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::task::{TaskState, TaskStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    /// No status, or a running task whose worker is gone: claim it (again).
    Claim,
    /// Finished before: acknowledge the message.
    Finished(TaskState),
    /// A live worker holds the lease for this much longer.
    Held(Duration),
    /// The task keeps losing its worker: fail it with this reason.
    GiveUp(String),
}

pub(crate) fn admit(
    previous: Option<&TaskStatus>,
    receive_count: u32,
    max_attempts: u32,
    now: DateTime<Utc>,
) -> Admission {
    let Some(previous) = previous else {
        return Admission::Claim;
    };
    if previous.status.is_final() {
        return Admission::Finished(previous.status);
    }
    if let Some(remaining) = lease_remaining(previous, now) {
        return Admission::Held(remaining);
    }
    // Here a running task's lease is over: its worker was lost mid-task (crashed, killed, out
    // of memory). When that has happened too often — by attempts, or by deliveries, which the
    // queue counts towards its redrive — the task may be what kills workers: stop with the
    // reason rather than take down another worker or let the message go to the DLQ while the
    // status still says running.
    if previous.status == TaskState::Running
        && (previous.attempt >= max_attempts || receive_count >= max_attempts)
    {
        return Admission::GiveUp(format!(
            "the task was started {} times (its message delivered {} times) and its worker \
             was lost each time; it is not retried again",
            previous.attempt, receive_count
        ));
    }
    Admission::Claim
}

/// How long a running task's lease still holds, if it does.
fn lease_remaining(status: &TaskStatus, now: DateTime<Utc>) -> Option<Duration> {
    if status.status != TaskState::Running {
        return None;
    }
    let until = status.lease_until?;
    (until > now).then(|| (until - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = 4;

    fn running(now: DateTime<Utc>, lease_until: Option<DateTime<Utc>>, attempt: u32) -> TaskStatus {
        TaskStatus {
            task_id: uuid::Uuid::now_v7(),
            tenant: "default".into(),
            status: TaskState::Running,
            submitted_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
            lease_until,
            attempt,
            worker: Some("other".into()),
            error: None,
            metrics: None,
            artifacts: Vec::new(),
            traceparent: None,
            progress: None,
        }
    }

    #[test]
    fn a_new_task_is_claimed() {
        assert_eq!(admit(None, 1, MAX, Utc::now()), Admission::Claim);
        // Even on a late delivery: the budget counts lost workers, not deliveries alone.
        assert_eq!(admit(None, MAX + 3, MAX, Utc::now()), Admission::Claim);
    }

    #[test]
    fn a_finished_task_is_acknowledged_whatever_its_lease() {
        let now = Utc::now();
        for state in [
            TaskState::Succeeded,
            TaskState::Failed,
            TaskState::Cancelled,
        ] {
            let mut status = running(now, Some(now + Duration::from_secs(30)), MAX);
            status.status = state;
            assert_eq!(
                admit(Some(&status), 9, MAX, now),
                Admission::Finished(state)
            );
        }
    }

    #[test]
    fn only_a_running_task_with_a_future_lease_is_held() {
        let now = Utc::now();
        let live = running(now, Some(now + Duration::from_secs(30)), 1);
        assert_eq!(
            admit(Some(&live), 1, MAX, now),
            Admission::Held(Duration::from_secs(30))
        );
        // A live lease defers even a task at its budget: its worker may still finish it.
        let live_at_budget = running(now, Some(now + Duration::from_secs(1)), MAX);
        assert!(matches!(
            admit(Some(&live_at_budget), MAX, MAX, now),
            Admission::Held(_)
        ));
        let expired = running(now, Some(now - Duration::from_secs(1)), 1);
        assert_eq!(admit(Some(&expired), 2, MAX, now), Admission::Claim);
        let no_lease = running(now, None, 1);
        assert_eq!(admit(Some(&no_lease), 2, MAX, now), Admission::Claim);
    }

    #[test]
    fn a_task_that_keeps_losing_its_worker_is_given_up() {
        let now = Utc::now();
        let expired = Some(now - Duration::from_secs(1));
        let by_attempts = running(now, expired, MAX);
        let Admission::GiveUp(reason) = admit(Some(&by_attempts), 2, MAX, now) else {
            panic!("expected to give up by attempts");
        };
        assert!(reason.contains("started 4 times"), "{reason}");
        let by_deliveries = running(now, expired, 1);
        assert!(matches!(
            admit(Some(&by_deliveries), MAX, MAX, now),
            Admission::GiveUp(_)
        ));
        let below = running(now, expired, MAX - 1);
        assert_eq!(admit(Some(&below), MAX - 1, MAX, now), Admission::Claim);
    }
}
