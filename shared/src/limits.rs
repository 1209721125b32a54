//! The limits on a task's inline data. Brown rejects data over them at the door and Bayko's data
//! tools hold to them too: one set of numbers, so the two agents cannot disagree on what is
//! valid. They are part of the contract, not configuration, for the same reason.

/// How large task data may be, counted as the shared parser ([`crate::content`]) counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLimits {
    /// CSV records after the header; elements of any JSON array.
    pub max_rows: usize,
    /// CSV header fields; keys of any JSON object.
    pub max_columns: usize,
    /// Characters in one CSV field or one JSON string (key or value).
    pub max_cell_chars: usize,
    /// Nesting of JSON arrays and objects; the top-level value is depth 1.
    pub max_json_depth: usize,
    /// Cells of a table: rows × columns, where a JSON table's columns are the union of its
    /// objects' keys. Memory for a table grows with its cells, not with its bytes: without this
    /// a sparse JSON array (one object of 256 keys, then `{}` after `{}`) makes millions of
    /// cells from a few hundred kilobytes.
    pub max_cells: usize,
    /// Characters of a table's content (CSV or JSON text): enough for `max_rows` rows of a few
    /// dozen characters.
    pub max_text_chars: usize,
}

impl DataLimits {
    pub const DEFAULT: Self = Self {
        max_rows: 100_000,
        max_columns: 256,
        max_cell_chars: 10_000,
        max_json_depth: 32,
        max_cells: 1_000_000,
        max_text_chars: 8_000_000,
    };
}

/// The largest upload (`POST /v1/uploads`) Brown may sign for and Bayko will read: uploads skip
/// Brown's body limit, so this bounds what one task can make a worker hold before the parser's
/// limits (rows, columns, cells, depth) are checked on it.
pub const MAX_UPLOAD_BYTES: u64 = 16 * 1024 * 1024;

/// The largest task document Bayko will read from `inbox/`, checked against the event's size
/// before the read: Brown's body limit (1 MiB by default) keeps real tasks far below it, and a
/// larger object (written around Brown) fails with a reason instead of filling memory.
pub const MAX_TASK_DOCUMENT_BYTES: u64 = MAX_UPLOAD_BYTES;

impl Default for DataLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
