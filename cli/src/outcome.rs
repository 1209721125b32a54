//! Exit codes: how a task ended, for scripts.

use std::process::ExitCode;

use shared::task::TaskState;

/// bnb itself failed: Brown refused the request, could not be reached, a file could not be
/// written. (2 is clap's, for a wrong command line.)
pub const ERROR: u8 = 1;
pub const DEGRADED: u8 = 3;
pub const FAILED: u8 = 4;
pub const CANCELLED: u8 = 5;

/// 0 for a task that succeeded (or has not ended), a distinct code for each other ending.
pub fn exit_code(state: TaskState) -> ExitCode {
    ExitCode::from(code(state))
}

fn code(state: TaskState) -> u8 {
    match state {
        TaskState::Queued | TaskState::Running | TaskState::Succeeded => 0,
        TaskState::Degraded => DEGRADED,
        TaskState::Failed => FAILED,
        TaskState::Cancelled => CANCELLED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ending_has_its_own_code() {
        let codes = [
            TaskState::Succeeded,
            TaskState::Degraded,
            TaskState::Failed,
            TaskState::Cancelled,
        ]
        .map(code);
        assert_eq!(codes, [0, DEGRADED, FAILED, CANCELLED]);
        assert!(!codes.contains(&ERROR) && !codes.contains(&2));
    }
}
