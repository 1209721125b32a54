//! The work-queue seam: receive, delete, change visibility — the three calls a worker makes —
//! with the SQS implementation and an in-memory one whose visibility timeouts run on tokio's
//! clock, so tests with a paused clock see messages reappear without waiting.

use std::time::Duration;

use crate::AwsError;

mod memory;
mod sqs;

pub use memory::MemoryQueue;
pub use sqs::SqsQueue;

/// A queue of work messages, each hidden for a while once received and gone once deleted.
#[async_trait::async_trait]
pub trait WorkQueue: Send + Sync + std::fmt::Debug {
    /// Up to `max` (1..=10) messages, waiting up to `wait` for the first; each stays hidden
    /// from other receivers for `visibility`.
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Message>, AwsError>;

    /// Acknowledges the message this receipt was handed out with.
    async fn delete(&self, receipt: &str) -> Result<(), AwsError>;

    /// Hides the message for `timeout` from now (zero: visible at once).
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), AwsError>;
}

/// One delivery of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub body: String,
    /// Settles this delivery; every delivery has its own.
    pub receipt: String,
    /// How often the message has been received, this delivery included.
    pub receive_count: u32,
}

/// SQS caps a visibility timeout at twelve hours.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);

#[cfg(test)]
mod tests;
