//! [`WorkQueue`] in memory. Visibility runs on `tokio::time`, so under a paused clock a hidden
//! message reappears as soon as the test's time passes its timeout. Like SQS, each receive hands
//! out a new receipt; only the latest settles the message, and with a redrive policy a message
//! received too often moves to the dead letters.

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};

use super::{MAX_VISIBILITY, Message, WorkQueue};
use crate::AwsError;

#[derive(Debug, Default)]
pub struct MemoryQueue {
    state: Mutex<State>,
    sent: Notify,
    /// Receives after which a message moves to the dead letters instead (SQS `maxReceiveCount`).
    max_receives: Option<u32>,
}

#[derive(Debug, Default)]
struct State {
    /// By id, which grows with each send: receives take the oldest first.
    messages: BTreeMap<u64, Stored>,
    dead: Vec<String>,
    next_id: u64,
    next_receipt: u64,
}

#[derive(Debug)]
struct Stored {
    body: String,
    visible_at: Instant,
    receive_count: u32,
    receipt: Option<String>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// A queue whose messages go to the dead letters on their receive after `max_receives`.
    pub fn with_redrive(max_receives: u32) -> Self {
        Self {
            max_receives: Some(max_receives),
            ..Self::default()
        }
    }

    /// Enqueues a message, visible at once.
    pub fn send(&self, body: impl Into<String>) {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.messages.insert(
            id,
            Stored {
                body: body.into(),
                visible_at: Instant::now(),
                receive_count: 0,
                receipt: None,
            },
        );
        drop(state);
        self.sent.notify_waiters();
    }

    /// Messages not yet deleted, visible or not.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages not yet deleted and visible now.
    pub fn visible(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .messages
            .values()
            .filter(|message| message.visible_at <= now)
            .count()
    }

    /// The bodies moved to the dead letters, oldest first.
    pub fn dead_letters(&self) -> Vec<String> {
        self.lock().dead.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes what is visible now, or says when the next hidden message reappears.
    fn take(&self, max: usize, visibility: Duration) -> Result<Vec<Message>, Option<Instant>> {
        let now = Instant::now();
        let mut state = self.lock();
        let state = &mut *state;
        let mut taken = Vec::new();
        let mut dead = Vec::new();
        for (id, message) in state.messages.iter_mut() {
            if taken.len() == max {
                break;
            }
            if message.visible_at > now {
                continue;
            }
            if self
                .max_receives
                .is_some_and(|max_receives| message.receive_count >= max_receives)
            {
                dead.push(*id);
                continue;
            }
            state.next_receipt += 1;
            let receipt = format!("{id}-{}", state.next_receipt);
            message.receive_count += 1;
            message.visible_at = now + visibility.min(MAX_VISIBILITY);
            message.receipt = Some(receipt.clone());
            taken.push(Message {
                id: id.to_string(),
                body: message.body.clone(),
                receipt,
                receive_count: message.receive_count,
            });
        }
        for id in dead {
            if let Some(message) = state.messages.remove(&id) {
                state.dead.push(message.body);
            }
        }
        if taken.is_empty() {
            Err(state.messages.values().map(|m| m.visible_at).min())
        } else {
            Ok(taken)
        }
    }

    /// The message this receipt belongs to, if it is its latest delivery.
    fn holder(state: &mut State, receipt: &str) -> Option<u64> {
        let id: u64 = receipt.split('-').next()?.parse().ok()?;
        let message = state.messages.get(&id)?;
        (message.receipt.as_deref() == Some(receipt)).then_some(id)
    }
}

#[async_trait::async_trait]
impl WorkQueue for MemoryQueue {
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Message>, AwsError> {
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a send between the look and the wait is not missed.
            let sent = self.sent.notified();
            let next_visible = match self.take(max.clamp(1, 10), visibility) {
                Ok(messages) => return Ok(messages),
                Err(next_visible) => next_visible,
            };
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let until = next_visible
                .map_or(deadline, |at| at.min(deadline))
                .max(now);
            tokio::select! {
                () = sent => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), AwsError> {
        let mut state = self.lock();
        // As SQS: a stale receipt is accepted, but only the latest one deletes.
        if let Some(id) = Self::holder(&mut state, receipt) {
            state.messages.remove(&id);
        }
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), AwsError> {
        let mut state = self.lock();
        let Some(id) = Self::holder(&mut state, receipt) else {
            return Err(AwsError::Other(format!(
                "changing a message's visibility: receipt {receipt} is not the message's latest"
            )));
        };
        if let Some(message) = state.messages.get_mut(&id) {
            message.visible_at = Instant::now() + timeout.min(MAX_VISIBILITY);
        }
        drop(state);
        // A message made visible now may be what a long poll waits for.
        self.sent.notify_waiters();
        Ok(())
    }
}
