//! What `/readyz` answers: whether the worker is receiving from its queue.

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Starting,
    Receiving,
    /// The last receive failed: the queue (or the network to it) is down.
    QueueUnreachable,
    Stopping,
}

impl Readiness {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Receiving => "ready",
            Self::QueueUnreachable => "queue unreachable",
            Self::Stopping => "stopping",
        }
    }
}

/// Shared between the receive loop, which sets it, and the listener, which reports it.
#[derive(Clone, Default)]
pub struct Health(Arc<AtomicU8>);

impl Health {
    pub fn set(&self, readiness: Readiness) {
        self.0.store(readiness as u8, Ordering::Relaxed);
    }

    pub fn readiness(&self) -> Readiness {
        match self.0.load(Ordering::Relaxed) {
            1 => Readiness::Receiving,
            2 => Readiness::QueueUnreachable,
            3 => Readiness::Stopping,
            _ => Readiness::Starting,
        }
    }
}
