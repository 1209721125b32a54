//! Reading CSV or JSON into a column-major table of nullable cell texts, within the shared
//! limits, checking for cancellation every [`CHECK_EVERY`] rows.
//!
//! Memory is what this module is about. Each column keeps its cells' texts in one buffer, so
//! reading allocates per column, not per cell. JSON is read one value at a time into the table,
//! never into a tree of `Value`s first. And a JSON table's cells (rows × the union of keys) are
//! held to the shared cell limit and to one cell per byte of content, as they are read: a
//! missing key costs nothing in the input but a cell in the table.

use std::{borrow::Cow, collections::HashMap, fmt, fmt::Write};

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    value::{MapAccessDeserializer, SeqAccessDeserializer},
};
use serde_json::Value;
use shared::limits::DataLimits;

use super::{DataError, MAX_COLUMNS, NULL_TOKENS};
use crate::tools::cancel::Cancel;

/// Rows read between two checks for cancellation.
const CHECK_EVERY: usize = 1024;

/// One column's cells. Their texts share one buffer: a `String` per cell was the
/// data-processor's largest cost, in time and in memory.
#[derive(Debug, Default)]
pub(super) struct Cells {
    text: String,
    /// Each cell's byte range in `text`; [`Cells::NULL`] marks a null cell.
    spans: Vec<(u32, u32)>,
}

impl Cells {
    const NULL: (u32, u32) = (u32::MAX, u32::MAX);

    fn nulls(count: usize) -> Self {
        Self {
            text: String::new(),
            spans: vec![Self::NULL; count],
        }
    }

    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Appends a cell as written in the input: trimmed, and null when it is a null token.
    fn push_raw(&mut self, raw: &str) {
        let text = raw.trim();
        if NULL_TOKENS.contains(&text) {
            self.spans.push(Self::NULL);
        } else {
            self.push_written(|buffer| buffer.push_str(text));
        }
    }

    fn push_null(&mut self) {
        self.spans.push(Self::NULL);
    }

    /// Appends what `write` writes as one (non-null) cell.
    fn push_written(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        // Task text is held to a few megabytes, far below 4 GiB, before it is read.
        let offset = |at: usize| u32::try_from(at).unwrap_or(u32::MAX - 1);
        self.spans.push((offset(start), offset(self.text.len())));
    }

    fn fill_nulls(&mut self, len: usize) {
        self.spans.resize(len, Self::NULL);
    }

    /// The cell of `row`; `None` when it is null (or there is no such row).
    pub(super) fn get(&self, row: usize) -> Option<&str> {
        self.spans.get(row).and_then(|&span| self.text_of(span))
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        self.spans.iter().map(|&span| self.text_of(span))
    }

    fn text_of(&self, (start, end): (u32, u32)) -> Option<&str> {
        self.text.get(start as usize..end as usize)
    }
}

/// Column-major cells. Every column has `rows` cells.
#[derive(Debug, Default)]
pub(super) struct Table {
    pub(super) names: Vec<String>,
    pub(super) columns: Vec<Cells>,
    pub(super) rows: usize,
}

pub(super) fn read_csv(content: &str, cancel: &Cancel) -> Result<Table, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true) // field counts are checked below, with a clearer error
        // Not `Trim::All`, which rebuilds every record: names and cells are trimmed as stored.
        .from_reader(content.as_bytes());
    let names = csv_column_names(reader.headers().map_err(csv_error)?)?;
    let mut table = Table {
        columns: names.iter().map(|_| Cells::default()).collect(),
        names,
        rows: 0,
    };
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        if record.len() != table.names.len() {
            return Err(DataError::RaggedRow {
                line: record_line(content, record.position()),
                expected: table.names.len(),
                found: record.len(),
            });
        }
        for (column, field) in table.columns.iter_mut().zip(record.iter()) {
            column.push_raw(field);
        }
        table.rows += 1;
        if table.rows.is_multiple_of(CHECK_EVERY) {
            cancel.checkpoint(CHECK_EVERY as u64)?;
        }
    }
    Ok(table)
}

/// Validates the header: at most [`MAX_COLUMNS`] names, non-empty, unique.
fn csv_column_names(header: &csv::StringRecord) -> Result<Vec<String>, DataError> {
    if header.is_empty() {
        return Err(DataError::Empty);
    }
    if let Some(extra) = header.get(MAX_COLUMNS) {
        return Err(DataError::TooManyColumns {
            limit: MAX_COLUMNS,
            name: extra.trim().to_owned(),
        });
    }
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for (index, name) in header.iter().enumerate() {
        let (name, column) = (name.trim(), index + 1);
        if name.is_empty() {
            return Err(DataError::EmptyColumnName { column });
        }
        if names.iter().any(|seen| seen == name) {
            let name = name.to_owned();
            return Err(DataError::DuplicateColumn { name, column });
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// The 1-based line on which a record starts.
///
/// `csv::Position::line` undercounts after blank lines and with CRLF line
/// endings, so count the line terminators before the record instead.
fn record_line(content: &str, position: Option<&csv::Position>) -> u64 {
    let Some(position) = position else {
        return 0; // records from a reader always have a position
    };
    let bytes = content.as_bytes();
    let mut start = usize::try_from(position.byte()).map_or(bytes.len(), |at| at.min(bytes.len()));
    // The offset points before any blank lines the reader skipped.
    while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    let before = bytes.get(..start).unwrap_or_default();
    // "\n", "\r\n" and a lone "\r" each end one line.
    let line_feeds = before.iter().filter(|&&byte| byte == b'\n').count();
    let lone_returns = before
        .iter()
        .enumerate()
        .filter(|&(at, &byte)| byte == b'\r' && bytes.get(at + 1) != Some(&b'\n'))
        .count();
    (1 + line_feeds + lone_returns) as u64
}

fn csv_error(error: csv::Error) -> DataError {
    DataError::Csv {
        line: error.position().map(csv::Position::line),
        message: error.to_string(),
    }
}

/// Reads a JSON array of objects; columns are the union of keys in first-seen order.
pub(super) fn read_json(
    content: &str,
    limits: &DataLimits,
    cancel: &Cancel,
) -> Result<Table, DataError> {
    let mut reader = JsonTable {
        table: Table::default(),
        positions: HashMap::new(),
        max_cells: limits.max_cells,
        bytes: content.len(),
        cancel,
        failure: None,
    };
    let mut deserializer = serde_json::Deserializer::from_str(content);
    let parsed = TopLevel(&mut reader)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match (parsed, reader.failure) {
        // Our own verdict stopped the parser: it is the reason.
        (_, Some(failure)) => Err(failure),
        (Err(error), None) => Err(DataError::NotJson {
            message: error.to_string(),
        }),
        (Ok(()), None) => Ok(reader.table),
    }
}

/// The table being read, and the first reason to stop reading it.
struct JsonTable<'a> {
    table: Table,
    positions: HashMap<String, usize>,
    max_cells: usize,
    bytes: usize,
    cancel: &'a Cancel,
    failure: Option<DataError>,
}

impl JsonTable<'_> {
    /// Records why reading stops, and stops the parser.
    fn fail<E: de::Error>(&mut self, failure: DataError) -> E {
        let message = failure.to_string();
        self.failure = Some(failure);
        E::custom(message)
    }

    /// The position of column `name`, created (null for earlier rows) if new.
    fn column(&mut self, name: &str) -> Result<usize, DataError> {
        if let Some(&position) = self.positions.get(name) {
            return Ok(position);
        }
        let position = self.table.names.len();
        if position == MAX_COLUMNS {
            return Err(DataError::TooManyColumns {
                limit: MAX_COLUMNS,
                name: name.to_owned(),
            });
        }
        // Checked before the column's nulls are allocated.
        self.within_cells(self.table.rows + 1, position + 1)?;
        self.positions.insert(name.to_owned(), position);
        self.table.names.push(name.to_owned());
        self.table.columns.push(Cells::nulls(self.table.rows));
        Ok(position)
    }

    /// Whether a table of `rows` × `columns` stays within the cell limits. The table only grows
    /// as it is read, so crossing a limit part-way means the whole table would.
    fn within_cells(&self, rows: usize, columns: usize) -> Result<(), DataError> {
        let cells = rows.saturating_mul(columns);
        if cells > self.max_cells {
            return Err(DataError::TooManyCells {
                limit: self.max_cells,
                rows,
                columns,
            });
        }
        if cells > self.bytes {
            return Err(DataError::TooSparse {
                rows,
                columns,
                bytes: self.bytes,
            });
        }
        Ok(())
    }

    /// Ends the object just read: the keys it lacks are null.
    fn end_row(&mut self) -> Result<(), DataError> {
        let rows = self.table.rows + 1;
        self.within_cells(rows, self.table.names.len())?;
        for cells in &mut self.table.columns {
            cells.fill_nulls(rows);
        }
        self.table.rows = rows;
        if rows.is_multiple_of(CHECK_EVERY) {
            self.cancel.checkpoint(CHECK_EVERY as u64)?;
        }
        Ok(())
    }
}

/// The top-level value: it must be an array.
struct TopLevel<'t, 'a>(&'t mut JsonTable<'a>);

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl TopLevel<'_, '_> {
    fn not_an_array<E: de::Error>(self, found: &'static str) -> Result<(), E> {
        Err(self.0.fail(DataError::NotArrayOfObjects { found }))
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut rows: A) -> Result<(), A::Error> {
        let table = self.0;
        let mut index = 0;
        while rows
            .next_element_seed(Row {
                table: &mut *table,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_an_array("an object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_array("null")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_array("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_array("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_array("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_array("a number")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_array("a string")
    }
}

/// One element of the top-level array: it must be an object.
struct Row<'t, 'a> {
    table: &'t mut JsonTable<'a>,
    index: usize,
}

impl Row<'_, '_> {
    fn not_an_object<E: de::Error>(self, found: &'static str) -> Result<(), E> {
        let index = self.index;
        Err(self.table.fail(DataError::RowNotObject { index, found }))
    }
}

impl<'de> DeserializeSeed<'de> for Row<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// An object key, borrowed from the input unless it has escapes.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de> Visitor<'de> for Row<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<(), A::Error> {
        let (table, index) = (self.table, self.index);
        let row = table.table.rows;
        while let Some(Key(key)) = fields.next_key::<Key<'de>>()? {
            let name = key.trim();
            if name.is_empty() {
                return Err(table.fail(DataError::EmptyKey { index }));
            }
            let position = match table.column(name) {
                Ok(position) => position,
                Err(failure) => return Err(table.fail(failure)),
            };
            let cells = &mut table.table.columns[position];
            // Before this object every column holds `row` cells, so a longer
            // column means the key was already seen in this object.
            if cells.len() > row {
                let name = name.to_owned();
                return Err(table.fail(DataError::DuplicateKey { index, name }));
            }
            fields.next_value_seed(Cell(cells))?;
        }
        table.end_row().map_err(|failure| table.fail(failure))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        self.not_an_object("an array")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_object("null")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_object("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_object("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_object("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_object("a number")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_object("a string")
    }
}

/// One value of an object, appended to its column: strings as they are, everything else
/// (numbers, booleans, nested values) as its JSON text.
struct Cell<'c>(&'c mut Cells);

impl<'de> DeserializeSeed<'de> for Cell<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Cell<'_> {
    fn json_text(self, value: impl fmt::Display) {
        self.0.push_written(|buffer| {
            let _ = write!(buffer, "{value}");
        });
    }
}

impl<'de> Visitor<'de> for Cell<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push_null();
        Ok(())
    }

    fn visit_bool<E>(self, value: bool) -> Result<(), E> {
        self.json_text(value);
        Ok(())
    }

    fn visit_i64<E>(self, value: i64) -> Result<(), E> {
        self.json_text(value);
        Ok(())
    }

    fn visit_u64<E>(self, value: u64) -> Result<(), E> {
        self.json_text(value);
        Ok(())
    }

    fn visit_f64<E>(self, value: f64) -> Result<(), E> {
        // Written as serde_json writes it (`150.0`, not `150`).
        match serde_json::Number::from_f64(value) {
            Some(number) => self.json_text(number),
            None => self.0.push_null(),
        }
        Ok(())
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        self.0.push_raw(text);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<(), A::Error> {
        let value: Value = serde::Deserialize::deserialize(SeqAccessDeserializer::new(items))?;
        self.json_text(value);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, fields: A) -> Result<(), A::Error> {
        let value: Value = serde::Deserialize::deserialize(MapAccessDeserializer::new(fields))?;
        self.json_text(value);
        Ok(())
    }
}
