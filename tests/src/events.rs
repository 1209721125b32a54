//! Reading Brown's event stream over real HTTP.

use std::collections::VecDeque;

use serde_json::Value;
use shared::sse::{Frame, Reader};

use crate::DEADLINE;

pub struct EventStream {
    response: reqwest::Response,
    reader: Reader,
    pending: VecDeque<Frame>,
}

/// One `status` event: its id and the status document.
#[derive(Debug, Clone)]
pub struct StatusEvent {
    pub id: i64,
    pub status: Value,
}

impl EventStream {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            reader: Reader::default(),
            pending: VecDeque::new(),
        }
    }

    /// The next frame, or `None` when the server ended the stream. Panics at the deadline.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            let chunk = tokio::time::timeout(DEADLINE, self.response.chunk())
                .await
                .expect("the event stream stalled")
                .expect("reading the event stream")?;
            self.pending.extend(self.reader.feed(&chunk));
        }
    }

    /// The next status event, skipping comments; `None` at the end of the stream.
    pub async fn next_status(&mut self) -> Option<StatusEvent> {
        loop {
            match self.next_frame().await? {
                Frame::Comment(_) => continue,
                Frame::Event { id, event, data } => {
                    assert_eq!(event.as_deref(), Some(shared::sse::STATUS_EVENT));
                    return Some(StatusEvent {
                        id: id.expect("an event id").parse().expect("a numeric id"),
                        status: serde_json::from_str(&data).expect("a JSON status"),
                    });
                }
            }
        }
    }

    /// Every remaining status event, until the server ends the stream.
    pub async fn rest(&mut self) -> Vec<StatusEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next_status().await {
            events.push(event);
        }
        events
    }
}
