//! The one parser of task data: does the content parse in its declared format, within
//! [`DataLimits`]? Brown runs it before accepting a task and Bayko's data tools before analysing
//! one. Every error names a line and a column, so a submitter can find the problem.
//!
//! Nothing is built while checking: JSON is walked by a visitor that keeps no values and CSV is
//! read one record at a time, so memory stays bounded by the largest cell.

use std::{cell::RefCell, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::{limits::DataLimits, task::DataFormat};

/// Where a problem is. `line` counts from 1. `column` counts characters from 1 on that line,
/// except for CSV records, where it is the 1-based field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {problem}")]
pub struct ContentError {
    pub line: u64,
    pub column: u64,
    pub problem: Problem,
}

/// What is wrong with the content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("control character U+{0:04X} (the content must be text, not binary)")]
    Binary(u32),
    #[error("the CSV has no header")]
    NoHeader,
    #[error("CSV record has {found} fields, but the header has {expected}")]
    RaggedRecord { expected: u64, found: u64 },
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("more than {limit} rows")]
    TooManyRows { limit: usize },
    #[error("more than {limit} columns")]
    TooManyColumns { limit: usize },
    #[error("a cell of more than {limit} characters")]
    CellTooLong { limit: usize },
    #[error("JSON nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("more than {limit} cells (rows × columns)")]
    TooManyCells { limit: usize },
    #[error("more than {limit} characters")]
    TooLong { limit: usize },
}

/// Checks that `content` is valid `format` data within `limits`.
pub fn check(format: DataFormat, content: &str, limits: &DataLimits) -> Result<(), ContentError> {
    check_length(content, limits)?;
    check_text(content)?;
    match format {
        DataFormat::Text => Ok(()),
        DataFormat::Csv => check_csv(content, limits),
        DataFormat::Json => check_json(content, limits),
    }
}

/// At most `max_text_chars` characters; the error points at the first one over.
fn check_length(content: &str, limits: &DataLimits) -> Result<(), ContentError> {
    // Cheap first: a string cannot hold more characters than bytes.
    if content.len() <= limits.max_text_chars {
        return Ok(());
    }
    let Some((at, _)) = content.char_indices().nth(limits.max_text_chars) else {
        return Ok(());
    };
    let (line, column) = line_and_column(content, at);
    Err(ContentError {
        line,
        column,
        problem: Problem::TooLong {
            limit: limits.max_text_chars,
        },
    })
}

/// Text, not binary: no control characters but tab, line feed and carriage return.
fn check_text(content: &str) -> Result<(), ContentError> {
    // Every control character is a byte below 0x20, 0x7F, or (U+0080 to U+009F) 0xC2 then a
    // continuation byte: content without those bytes needs no scan by character.
    let suspect = |byte: &u8| matches!(byte, 0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F | 0xC2);
    if !content.as_bytes().iter().any(suspect) {
        return Ok(());
    }
    let Some(at) = content
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    else {
        return Ok(());
    };
    let (line, column) = line_and_column(content, at.0);
    Err(ContentError {
        line,
        column,
        problem: Problem::Binary(u32::from(at.1)),
    })
}

/// The 1-based line and character column of a byte offset.
fn line_and_column(content: &str, byte: usize) -> (u64, u64) {
    let before = content.get(..byte).unwrap_or(content);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u64, column as u64)
}

fn check_csv(content: &str, limits: &DataLimits) -> Result<(), ContentError> {
    with_csv_records(content, |records| check_records(content, records, limits))
}

fn check_records(
    content: &str,
    records: &mut Records<'_>,
    limits: &DataLimits,
) -> Result<(), ContentError> {
    let mut header_len = None;
    let mut rows = 0usize;
    while let Some(start) = records.next_record() {
        // Where the record starts is worked out only for an error: counting lines from the start
        // of the content for every record would make the check quadratic in its size.
        let at = |column: usize, problem| {
            // The reader counts the blank lines it skips as part of the record: step over them.
            let blank = content.get(start..).map_or(0, |rest| {
                rest.len() - rest.trim_start_matches(['\r', '\n']).len()
            });
            ContentError {
                line: line_and_column(content, start + blank).0,
                column: column as u64,
                problem,
            }
        };
        // A field has no more characters than bytes: count only the long ones.
        if let Some(field) = records.fields().position(|field| {
            field.len() > limits.max_cell_chars && chars_in(field) > limits.max_cell_chars
        }) {
            return Err(at(
                field + 1,
                Problem::CellTooLong {
                    limit: limits.max_cell_chars,
                },
            ));
        }
        let fields = records.len();
        match header_len {
            None => {
                if fields > limits.max_columns {
                    return Err(at(
                        limits.max_columns + 1,
                        Problem::TooManyColumns {
                            limit: limits.max_columns,
                        },
                    ));
                }
                header_len = Some(fields);
            }
            Some(expected) if fields != expected => {
                let column = expected.min(fields) + 1;
                return Err(at(
                    column,
                    Problem::RaggedRecord {
                        expected: expected as u64,
                        found: fields as u64,
                    },
                ));
            }
            Some(columns) => {
                rows += 1;
                if rows > limits.max_rows {
                    return Err(at(
                        1,
                        Problem::TooManyRows {
                            limit: limits.max_rows,
                        },
                    ));
                }
                if rows.saturating_mul(columns) > limits.max_cells {
                    return Err(at(
                        1,
                        Problem::TooManyCells {
                            limit: limits.max_cells,
                        },
                    ));
                }
            }
        }
    }
    match header_len {
        Some(_) => Ok(()),
        None => Err(ContentError {
            line: 1,
            column: 1,
            problem: Problem::NoHeader,
        }),
    }
}

thread_local! {
    /// The CSV dialect (the `csv` crate's defaults: comma, double quote, any line ending, blank
    /// lines skipped) with its DFA built once per thread and reset for each check. Building it
    /// walks every state and byte, about 90,000 instructions: more than checking a small table
    /// costs. (Not a clone of one prepared reader: csv-core 0.1.13 clones only part of its DFA,
    /// and a clone reads nothing right.)
    static CSV_READER: RefCell<csv_core::Reader> = RefCell::new(csv_core::Reader::new());
}

/// Calls `read` with the CSV records of `content`.
fn with_csv_records<T>(content: &str, read: impl FnOnce(&mut Records<'_>) -> T) -> T {
    CSV_READER.with(|reader| {
        let mut reader = reader.borrow_mut();
        reader.reset();
        read(&mut Records::new(&mut reader, content.as_bytes()))
    })
}

/// The records of CSV text, one at a time, into buffers reused from record to record.
///
/// Reading text cannot fail: csv-core splits only at ASCII bytes and drops only quotes, so
/// every field of valid UTF-8 is valid UTF-8, and a record may have any number of fields.
struct Records<'a> {
    reader: &'a mut csv_core::Reader,
    input: &'a [u8],
    /// Bytes of `input` read so far.
    read: usize,
    /// The current record's fields, unquoted, one after another.
    fields: Vec<u8>,
    /// Where each field of the current record ends in `fields`.
    ends: Vec<usize>,
    /// Fields in the current record.
    len: usize,
}

impl<'a> Records<'a> {
    fn new(reader: &'a mut csv_core::Reader, input: &'a [u8]) -> Self {
        Self {
            reader,
            input,
            read: 0,
            fields: vec![0; 1024],
            ends: vec![0; 64],
            len: 0,
        }
    }

    /// Reads the next record; returns the byte offset it starts at (blank lines before it
    /// included), or `None` at the end.
    fn next_record(&mut self) -> Option<usize> {
        use csv_core::ReadRecordResult;
        let start = self.read;
        let (mut written, mut ended) = (0, 0);
        loop {
            // Once the input is used up, the empty slice tells the reader it has ended.
            let (result, read, wrote, ends) = self.reader.read_record(
                &self.input[self.read..],
                &mut self.fields[written..],
                &mut self.ends[ended..],
            );
            self.read += read;
            written += wrote;
            ended += ends;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => self.fields.resize(self.fields.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record => {
                    self.len = ended;
                    return Some(start);
                }
                ReadRecordResult::End => return None,
            }
        }
    }

    /// Fields in the current record.
    fn len(&self) -> usize {
        self.len
    }

    /// The current record's fields.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let ends = &self.ends[..self.len];
        let starts = std::iter::once(0).chain(ends.iter().copied());
        starts
            .zip(ends)
            .map(|(start, &end)| &self.fields[start..end])
    }
}

/// Characters in a field of valid UTF-8: every byte but continuation bytes starts one.
fn chars_in(field: &[u8]) -> usize {
    field.iter().filter(|&&byte| byte & 0xC0 != 0x80).count()
}

fn check_json(content: &str, limits: &DataLimits) -> Result<(), ContentError> {
    let mut deserializer = serde_json::Deserializer::from_str(content);
    let checked = Checked { limits, depth: 1 }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    checked.map_err(|err| {
        let position = format!(" at line {} column {}", err.line(), err.column());
        let message = err.to_string();
        let message = message.strip_suffix(&position).unwrap_or(&message);
        ContentError {
            line: err.line() as u64,
            column: err.column().max(1) as u64,
            problem: limit_problem(message).unwrap_or_else(|| Problem::Json(message.to_owned())),
        }
    })
}

/// Our visitor's errors travel through serde_json as text (that is how they get a position);
/// this turns them back into problems.
fn limit_problem(message: &str) -> Option<Problem> {
    let (kind, limit) = message.strip_prefix(LIMIT_MARK)?.split_once(':')?;
    let limit = limit.parse().ok()?;
    Some(match kind {
        "rows" => Problem::TooManyRows { limit },
        "columns" => Problem::TooManyColumns { limit },
        "cell" => Problem::CellTooLong { limit },
        "depth" => Problem::TooDeep { limit },
        _ => return None,
    })
}

const LIMIT_MARK: &str = "limit exceeded: ";

fn over<E: de::Error>(kind: &str, limit: usize) -> E {
    E::custom(format_args!("{LIMIT_MARK}{kind}:{limit}"))
}

/// Walks one JSON value, keeping nothing, and fails at the first limit it crosses.
#[derive(Clone, Copy)]
struct Checked<'a> {
    limits: &'a DataLimits,
    depth: usize,
}

impl Checked<'_> {
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= self.limits.max_json_depth {
            return Err(over("depth", self.limits.max_json_depth));
        }
        Ok(Self {
            depth: self.depth + 1,
            ..self
        })
    }

    fn string<E: de::Error>(self, text: &str) -> Result<(), E> {
        if text.len() > self.limits.max_cell_chars
            && text.chars().count() > self.limits.max_cell_chars
        {
            return Err(over("cell", self.limits.max_cell_chars));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// An object key, checked for length like any string.
struct Key<'a>(Checked<'a>);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self.0)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.string(text)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        let mut count = 0usize;
        while items.next_element_seed(inner)?.is_some() {
            count += 1;
            if count > self.limits.max_rows {
                return Err(over("rows", self.limits.max_rows));
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        let mut count = 0usize;
        while entries.next_key_seed(Key(self))?.is_some() {
            count += 1;
            if count > self.limits.max_columns {
                return Err(over("columns", self.limits.max_columns));
            }
            entries.next_value_seed(inner)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
