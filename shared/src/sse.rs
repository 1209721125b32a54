//! Brown's event stream (`GET /v1/tasks/{id}/events`), as its clients read it: server-sent
//! events, each a `status` event whose data is the task's status document and whose id resumes
//! the stream (`Last-Event-ID`). The reader is incremental: feed it bytes as they arrive.

/// The event type Brown sends for every status change.
pub const STATUS_EVENT: &str = "status";

/// One event, or a comment (the keep-alives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Event {
        id: Option<String>,
        event: Option<String>,
        data: String,
    },
    Comment(String),
}

/// Splits a byte stream into frames (the text/event-stream format, enough of it for Brown).
#[derive(Debug, Default)]
pub struct Reader {
    buffer: Vec<u8>,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

impl Reader {
    /// Adds bytes and returns the frames they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(frame) = self.line(line) {
                frames.push(frame);
            }
        }
        frames
    }

    fn line(&mut self, line: &str) -> Option<Frame> {
        if line.is_empty() {
            let data = self.data.take()?;
            return Some(Frame::Event {
                id: self.id.take(),
                event: self.event.take(),
                data,
            });
        }
        if let Some(comment) = line.strip_prefix(':') {
            return Some(Frame::Comment(comment.trim_start().to_owned()));
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => self.id = Some(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_events_and_comments_split_anywhere() {
        let stream = b": keep-alive\n\nid: 17\nevent: status\ndata: {\"a\":\ndata: 1}\n\r\n";
        for split in 0..stream.len() {
            let mut reader = Reader::default();
            let mut frames = reader.feed(&stream[..split]);
            frames.extend(reader.feed(&stream[split..]));
            assert_eq!(
                frames,
                [
                    Frame::Comment("keep-alive".into()),
                    Frame::Event {
                        id: Some("17".into()),
                        event: Some("status".into()),
                        data: "{\"a\":\n1}".into(),
                    }
                ],
                "split at {split}"
            );
        }
    }
}
