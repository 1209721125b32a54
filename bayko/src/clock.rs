//! The worker's wall clock. Leases are wall-clock times in the status document; in tests the
//! clock follows tokio's (paused) clock so an expired lease takes no real waiting.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    /// The system's clock: what leases shared between machines must use.
    #[default]
    System,
    /// The wall-clock time at `anchor`, moved on as tokio's clock moves.
    Tokio {
        anchor: Instant,
        at_anchor: DateTime<Utc>,
    },
}

impl Clock {
    /// A clock that starts at the current time and advances with `tokio::time`.
    pub fn tokio() -> Self {
        Self::Tokio {
            anchor: Instant::now(),
            at_anchor: Utc::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Tokio { anchor, at_anchor } => {
                let elapsed = chrono::Duration::from_std(anchor.elapsed()).unwrap_or_default();
                *at_anchor + elapsed
            }
        }
    }
}
