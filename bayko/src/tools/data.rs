//! The "data-processor" tool: profiles tabular data (CSV or JSON) submitted
//! with a task such as a quarterly data analysis.
//!
//! [`analyse`] infers a type for every column, computes descriptive
//! statistics for the numeric ones, totals them per group (of the columns the
//! task names, else of the first text column that is not a period) and, when a
//! period column (quarters, months, dates, years) is found, reports
//! period-over-period changes. Pure logic: no I/O, no async.

mod table;

use std::{borrow::Cow, collections::BTreeMap};

use serde::Serialize;
use serde::de::{Deserialize, Deserializer};
use serde_json::Value;
use shared::{
    content::{self, ContentError, Problem},
    limits::DataLimits,
    task::DataFormat,
};

use super::cancel::{Cancel, Cancelled};
use table::{Cells, Table};

/// Most columns a table may have; wider input is rejected rather than
/// producing an unreadable report. The shared limit, so Brown has rejected
/// such a table already.
pub const MAX_COLUMNS: usize = DataLimits::DEFAULT.max_columns;

/// Cell texts (after trimming) that mean "no value".
const NULL_TOKENS: [&str; 6] = ["", "NA", "N/A", "null", "NULL", "-"];

/// Group key used for rows whose group cell is null.
const MISSING_GROUP: &str = "(missing)";

/// Column names (compared case-insensitively) that announce a period column.
const PERIOD_NAMES: [&str; 6] = [
    "quarter",
    "period",
    "month",
    "date",
    "year",
    "fiscal_quarter",
];

/// The encoding of the submitted table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabularFormat {
    /// Comma-separated values; the first record is the header.
    Csv,
    /// A JSON array of objects; each object is one row.
    Json,
}

/// Why the content could not be analysed. Every message says what is wrong
/// and where (line, row index or column), so it can be shown to the
/// submitter as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The content is empty or only whitespace.
    #[error("the content is empty (nothing but whitespace)")]
    Empty,
    /// A CSV header field is empty; `column` counts from 1.
    #[error("CSV header column {column} has an empty name")]
    EmptyColumnName { column: usize },
    /// A CSV header name is repeated; `column` (from 1) is the repetition.
    #[error("CSV header column {column} repeats the column name {name:?}")]
    DuplicateColumn { name: String, column: usize },
    /// A CSV record does not have as many fields as the header.
    #[error("CSV line {line} has {found} fields, but the header has {expected}")]
    RaggedRow {
        line: u64,
        expected: usize,
        found: usize,
    },
    /// The CSV reader itself failed.
    #[error("the CSV could not be parsed{}: {message}", near_line(.line))]
    Csv { line: Option<u64>, message: String },
    /// The content is not syntactically valid JSON.
    #[error("the content is not valid JSON: {message}")]
    NotJson { message: String },
    /// Valid JSON whose top level is not an array.
    #[error("the JSON must be an array of objects, but it is {found}")]
    NotArrayOfObjects { found: &'static str },
    /// An array element is not an object; `index` counts from 0.
    #[error("JSON array element {index} (counting from 0) is {found}, not an object")]
    RowNotObject { index: usize, found: &'static str },
    /// An object has a key that is empty after trimming.
    #[error("JSON object at index {index} (counting from 0) has an empty key")]
    EmptyKey { index: usize },
    /// An object has the same key (after trimming) twice.
    #[error(
        "JSON object at index {index} (counting from 0) has the key {name:?} more than once \
         (keys are compared after trimming)"
    )]
    DuplicateKey { index: usize, name: String },
    /// There is a header (or an empty JSON array) but no data rows.
    #[error("there are no data rows to analyse (only a CSV header, or an empty JSON array)")]
    NoRows,
    /// The JSON objects have no keys at all.
    #[error("the JSON objects have no keys, so there are no columns to analyse")]
    NoColumns,
    /// The task asked to group by a column the data does not have.
    #[error("cannot group by {name:?}: the data has no such column (its columns: {columns})")]
    UnknownGroupColumn { name: String, columns: String },
    /// Over the shared limits on task data (rows, cell length, nesting), or
    /// not text: the shared parser's verdict, the same as Brown's.
    #[error("{0}")]
    Content(#[from] ContentError),
    /// More than [`MAX_COLUMNS`] columns; `name` is the first one too many.
    #[error("there are more than {limit} columns; column {name:?} is the first over the limit")]
    TooManyColumns { limit: usize, name: String },
    /// A JSON table over the shared cell limit, its columns counted as the union of its
    /// objects' keys; `rows` × `columns` is where reading stopped.
    #[error(
        "the JSON objects make a table of more than {limit} cells: {rows} objects with \
         {columns} distinct keys between them, and a key one object lacks is still a cell"
    )]
    TooManyCells {
        limit: usize,
        rows: usize,
        columns: usize,
    },
    /// A JSON table with more cells than bytes: objects that lack most of the keys the others
    /// have. Its memory would grow with its cells, not with its size.
    #[error(
        "the JSON objects are too sparse: {rows} objects with {columns} distinct keys between \
         them make {} cells, more than one per byte of the content ({bytes} bytes); give the \
         objects the same keys (null where there is no value) or split the table",
        rows * columns
    )]
    TooSparse {
        rows: usize,
        columns: usize,
        bytes: usize,
    },
    /// The caller stopped waiting (a timeout, or the task stopped), so the analysis stopped.
    #[error("{0}")]
    Cancelled(#[from] Cancelled),
}

/// Formats the optional line of a CSV reader error for its message.
fn near_line(line: &Option<u64>) -> String {
    line.map(|line| format!(" near line {line}"))
        .unwrap_or_default()
}

/// The result of analysing one table.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Analysis {
    /// Number of data rows (the CSV header is not counted).
    pub rows: usize,
    /// Every column, in input order.
    pub columns: Vec<Column>,
    /// Statistics of the numeric columns, keyed by column name.
    pub numeric: BTreeMap<String, NumericStats>,
    /// Totals per group; `None` when no column was named and no text column
    /// other than a period exists.
    pub group_by: Option<GroupTotals>,
    /// Totals and changes per period; `None` without a period column.
    pub periods: Option<PeriodChanges>,
}

/// Name, inferred type and null count of one column.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    /// Cells that are missing or hold a null token (`""`, `NA`, `-`, ...).
    pub nulls: usize,
}

/// Inferred column type: numeric when every non-null cell is a finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Number,
    Text,
}

/// Descriptive statistics over the non-null values of a numeric column.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct NumericStats {
    pub count: usize,
    pub nulls: usize,
    #[serde(deserialize_with = "float_or_nan")]
    pub sum: f64,
    #[serde(deserialize_with = "float_or_nan")]
    pub mean: f64,
    #[serde(deserialize_with = "float_or_nan")]
    pub min: f64,
    #[serde(deserialize_with = "float_or_nan")]
    pub max: f64,
    /// Sample standard deviation (n − 1); `None` for fewer than two values.
    pub stddev: Option<f64>,
    /// 50th percentile, linear interpolation between closest ranks.
    #[serde(deserialize_with = "float_or_nan")]
    pub median: f64,
    /// 90th percentile, linear interpolation between closest ranks.
    #[serde(deserialize_with = "float_or_nan")]
    pub p90: f64,
}

/// Numeric totals per distinct value of the grouping columns.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct GroupTotals {
    /// The grouping columns' names, joined by `", "` (one name unless the task
    /// named several).
    pub column: String,
    pub columns: Vec<String>,
    /// Keyed by cell value (the values joined by `" / "` for several columns);
    /// null cells count as `"(missing)"`. At most [`MAX_GROUPS`] values, in the order
    /// first seen, have a group of their own; the rows of any further values are
    /// totalled under `"(other values)"`.
    pub groups: BTreeMap<String, Group>,
}

/// One group of rows sharing a value of the grouping column.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Group {
    pub rows: usize,
    /// Sum of each numeric column's non-null values in the group.
    #[serde(deserialize_with = "floats_or_nan")]
    pub totals: BTreeMap<String, f64>,
}

/// Totals per period, in chronological order, with the change from the
/// previous period.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct PeriodChanges {
    /// The period column.
    pub column: String,
    /// `month`, `quarter` or `year` when the column had more than [`MAX_PERIODS`] distinct
    /// periods and they were rolled up to that length (labelled `2024-01`, `2024-Q1`, `2024`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_up_to: Option<String>,
    /// Chronological; rows whose period cell is null are left out.
    pub periods: Vec<PeriodRow>,
}

/// Totals of one period and their change from the previous period.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct PeriodRow {
    /// The period as first written in the input (e.g. `2024-Q1`).
    pub period: String,
    /// Sum of each numeric column (except the period column itself).
    #[serde(deserialize_with = "floats_or_nan")]
    pub totals: BTreeMap<String, f64>,
    /// Change per numeric column; empty for the first period.
    pub change: BTreeMap<String, Change>,
}

/// Change of a total from the previous period.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Change {
    /// Current total minus previous total.
    #[serde(deserialize_with = "float_or_nan")]
    pub absolute: f64,
    /// `100 * absolute / previous`; `None` when the previous total is 0.
    pub percent: Option<f64>,
}

impl Analysis {
    /// Reads the analysis back from the tool's JSON output, as the steps after it take it.
    pub fn from_output(output: &Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(output)
    }
}

/// JSON has no infinity: serde_json writes a sum that overflowed as `null`. Reading it back as
/// NaN keeps the analysis readable and leaves the verdict to the quality gates.
fn float_or_nan<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// [`float_or_nan`] for every value of a map.
fn floats_or_nan<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, f64>, D::Error> {
    let floats = BTreeMap::<String, Option<f64>>::deserialize(deserializer)?;
    Ok(floats
        .into_iter()
        .map(|(name, value)| (name, value.unwrap_or(f64::NAN)))
        .collect())
}

impl Change {
    fn between(previous: f64, current: f64) -> Self {
        let absolute = current - previous;
        let percent = (previous != 0.0).then(|| 100.0 * absolute / previous);
        Self { absolute, percent }
    }
}

/// Parses `content` as `format` and analyses the resulting table, grouping
/// totals by the `group_by` columns (by the first text column that is not a
/// period when it is empty).
///
/// A leading byte-order mark is ignored. Errors describe malformed input
/// (see [`DataError`]); the function never panics.
pub fn analyse(
    format: TabularFormat,
    content: &str,
    group_by: &[String],
) -> Result<Analysis, DataError> {
    analyse_cancellable(format, content, group_by, &Cancel::default())
}

/// [`analyse`], stopping with [`DataError::Cancelled`] at the next checkpoint (every thousand
/// rows or so, and between the stages) once `cancel` is set.
pub fn analyse_cancellable(
    format: TabularFormat,
    content: &str,
    group_by: &[String],
    cancel: &Cancel,
) -> Result<Analysis, DataError> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    if content.trim().is_empty() {
        return Err(DataError::Empty);
    }
    within_shared_limits(format, content)?;
    let table = match format {
        TabularFormat::Csv => table::read_csv(content, cancel)?,
        TabularFormat::Json => table::read_json(content, &DataLimits::DEFAULT, cancel)?,
    };
    if table.rows == 0 {
        return Err(DataError::NoRows);
    }
    if table.names.is_empty() {
        return Err(DataError::NoColumns);
    }
    let rows = table.rows;
    let columns = typed_columns(table, cancel)?;
    let numeric = numeric_stats(&columns);
    cancel.checkpoint(0)?;
    let group_by = group_totals(&columns, group_by, cancel)?;
    let periods = period_changes(&columns, cancel)?;
    Ok(Analysis {
        rows,
        columns: columns.iter().map(TypedColumn::summary).collect(),
        numeric,
        group_by,
        periods,
    })
}

/// Infers each column's type, checking for cancellation between columns.
fn typed_columns(table: Table, cancel: &Cancel) -> Result<Vec<TypedColumn>, Cancelled> {
    table
        .names
        .into_iter()
        .zip(table.columns)
        .map(|(name, cells)| {
            cancel.checkpoint(0)?;
            Ok(TypedColumn::infer(name, cells))
        })
        .collect()
}

/// Applies the shared parser's limits. Syntax errors are left to the readers
/// below, whose messages say more about tables (empty names, repeated keys,
/// the first column over the limit).
fn within_shared_limits(format: TabularFormat, content: &str) -> Result<(), DataError> {
    let format = match format {
        TabularFormat::Csv => DataFormat::Csv,
        TabularFormat::Json => DataFormat::Json,
    };
    match content::check(format, content, &DataLimits::DEFAULT) {
        Err(err)
            if !matches!(
                err.problem,
                Problem::Json(_)
                    | Problem::NoHeader
                    | Problem::RaggedRecord { .. }
                    | Problem::TooManyColumns { .. }
            ) =>
        {
            Err(err.into())
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Type inference and statistics
// ---------------------------------------------------------------------------

/// A column with its cell texts and, when numeric, the parsed values.
struct TypedColumn {
    name: String,
    cells: Cells,
    /// One value per cell, NaN for a null cell: a number cell is always finite, so NaN is free
    /// to mark the nulls and a value takes 8 bytes, not 16.
    numbers: Option<Vec<f64>>,
}

impl TypedColumn {
    fn infer(name: String, cells: Cells) -> Self {
        let numbers = parse_numbers(&cells);
        Self {
            name,
            cells,
            numbers,
        }
    }

    fn kind(&self) -> ColumnKind {
        match self.numbers {
            Some(_) => ColumnKind::Number,
            None => ColumnKind::Text,
        }
    }

    fn summary(&self) -> Column {
        Column {
            name: self.name.clone(),
            kind: self.kind(),
            nulls: self.cells.iter().filter(Option::is_none).count(),
        }
    }

    /// Name and values when the column is numeric.
    fn numeric(&self) -> Option<NumericColumn<'_>> {
        let values = self.numbers.as_deref()?;
        Some(NumericColumn {
            name: &self.name,
            values,
        })
    }
}

/// A borrowed view of a numeric column; NaN marks a null cell.
#[derive(Clone, Copy)]
struct NumericColumn<'a> {
    name: &'a str,
    values: &'a [f64],
}

/// The values of a column when it has at least one non-null cell and every
/// non-null cell is a finite number; NaN for the null cells.
fn parse_numbers(cells: &Cells) -> Option<Vec<f64>> {
    if cells.iter().all(|cell| cell.is_none()) {
        return None;
    }
    cells
        .iter()
        .map(|cell| match cell {
            None => Some(f64::NAN),
            Some(text) => parse_number(text),
        })
        .collect()
}

/// A finite number in Rust float syntax; "1,000", "NaN" and "inf" are text.
fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

fn numeric_stats(columns: &[TypedColumn]) -> BTreeMap<String, NumericStats> {
    columns
        .iter()
        .filter_map(TypedColumn::numeric)
        .filter_map(|column| {
            let stats = NumericStats::of(column.values)?;
            Some((column.name.to_owned(), stats))
        })
        .collect()
}

impl NumericStats {
    /// Statistics of the non-null (non-NaN) values; `None` when there are none.
    fn of(values: &[f64]) -> Option<Self> {
        let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let moments = Welford::over(&present);
        let min = present.iter().copied().min_by(f64::total_cmp)?;
        let max = present.iter().copied().max_by(f64::total_cmp)?;
        Some(Self {
            count: present.len(),
            nulls: values.len() - present.len(),
            sum: present.iter().sum(),
            mean: moments.mean,
            min,
            max,
            stddev: moments.sample_stddev(),
            median: percentile(&mut present, 0.5)?,
            p90: percentile(&mut present, 0.9)?,
        })
    }
}

/// Running mean and sum of squared deviations (Welford's algorithm), which
/// stays accurate where the naive sum-of-squares formula cancels.
#[derive(Default)]
struct Welford {
    count: usize,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn over(values: &[f64]) -> Self {
        let mut moments = Self::default();
        for &value in values {
            moments.count += 1;
            let delta = value - moments.mean;
            moments.mean += delta / moments.count as f64;
            moments.m2 += delta * (value - moments.mean);
        }
        moments
    }

    fn sample_stddev(&self) -> Option<f64> {
        (self.count >= 2).then(|| (self.m2 / (self.count - 1) as f64).sqrt())
    }
}

/// The `q`-quantile of `values`, interpolating linearly between closest ranks
/// at position `q * (n - 1)` (numpy's default). Reorders `values`: selecting
/// the two ranks is linear where sorting is not.
fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    let last = values.len().checked_sub(1)?;
    let position = q * last as f64;
    let below = position.floor();
    let (_, &mut lower, above) = values.select_nth_unstable_by(below as usize, f64::total_cmp);
    let upper = if position > below {
        above.iter().copied().min_by(f64::total_cmp)?
    } else {
        lower
    };
    Some(lower + (upper - lower) * (position - below))
}

// ---------------------------------------------------------------------------
// Totals per group and per period
// ---------------------------------------------------------------------------

/// Most groups reported; the rows of further values are totalled together under
/// [`OTHER_GROUPS`], so a column of unique values (ids, e-mails) cannot make the report as large
/// as the table.
pub const MAX_GROUPS: usize = 1_000;

/// The group of the rows whose value came after the first [`MAX_GROUPS`].
pub const OTHER_GROUPS: &str = "(other values)";

/// Rows between two checks for cancellation while totalling.
const CHECK_EVERY: usize = 1024;

/// Row counts and totals per key, one total per numeric column by position: a name lookup
/// per cell was most of the totalling's cost.
struct Sums<K> {
    positions: std::collections::HashMap<K, usize>,
    rows: Vec<usize>,
    totals: Vec<Vec<f64>>,
    columns: usize,
}

impl<K: std::hash::Hash + Eq> Sums<K> {
    fn new(columns: usize) -> Self {
        Self {
            positions: std::collections::HashMap::new(),
            rows: Vec::new(),
            totals: Vec::new(),
            columns,
        }
    }

    fn position<Q>(&self, key: &Q) -> Option<usize>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.positions.get(key).copied()
    }

    fn insert(&mut self, key: K) -> usize {
        let position = self.rows.len();
        self.positions.insert(key, position);
        self.rows.push(0);
        self.totals.push(vec![0.0; self.columns]);
        position
    }

    /// Adds the non-null values of `row` to the sums at `position`.
    fn add(&mut self, position: usize, numeric: &[NumericColumn<'_>], row: usize) {
        self.rows[position] += 1;
        for (total, column) in self.totals[position].iter_mut().zip(numeric) {
            match column.values.get(row) {
                Some(value) if !value.is_nan() => *total += value,
                _ => {}
            }
        }
    }
}

/// The totals by column name.
fn named_totals(numeric: &[NumericColumn<'_>], totals: Vec<f64>) -> BTreeMap<String, f64> {
    numeric
        .iter()
        .map(|column| column.name.to_owned())
        .zip(totals)
        .collect()
}

/// The columns to group by: those named (each must exist), else the first
/// text column that is not a period — grouping `quarter,region,revenue` by
/// quarter would only repeat the per-period totals.
fn grouping_columns<'a>(
    columns: &'a [TypedColumn],
    named: &[String],
) -> Result<Vec<&'a TypedColumn>, DataError> {
    if named.is_empty() {
        let first_text = columns
            .iter()
            .find(|column| column.kind() == ColumnKind::Text && period_keys(column).is_none());
        return Ok(first_text.into_iter().collect());
    }
    named
        .iter()
        .map(|name| {
            columns
                .iter()
                .find(|column| column.name == *name)
                .ok_or_else(|| DataError::UnknownGroupColumn {
                    name: name.clone(),
                    columns: columns
                        .iter()
                        .map(|column| column.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

fn group_totals(
    columns: &[TypedColumn],
    named: &[String],
    cancel: &Cancel,
) -> Result<Option<GroupTotals>, DataError> {
    let keys = grouping_columns(columns, named)?;
    if keys.is_empty() {
        return Ok(None);
    }
    // A grouping column is a label, not a quantity: it is not totalled.
    let numeric: Vec<NumericColumn<'_>> = columns
        .iter()
        .filter(|column| !keys.iter().any(|key| key.name == column.name))
        .filter_map(TypedColumn::numeric)
        .collect();
    let mut sums = Sums::<String>::new(numeric.len());
    let mut key = String::new();
    let rows = keys.first().map_or(0, |key| key.cells.len());
    for row in 0..rows {
        if row % CHECK_EVERY == CHECK_EVERY - 1 {
            cancel.checkpoint(0)?;
        }
        key.clear();
        for (at, column) in keys.iter().enumerate() {
            if at > 0 {
                key.push_str(" / ");
            }
            key.push_str(column.cells.get(row).unwrap_or(MISSING_GROUP));
        }
        let position = match sums.position(key.as_str()) {
            Some(position) => position,
            None if sums.rows.len() < MAX_GROUPS => sums.insert(key.clone()),
            None => match sums.position(OTHER_GROUPS) {
                Some(position) => position,
                None => sums.insert(OTHER_GROUPS.to_owned()),
            },
        };
        sums.add(position, &numeric, row);
    }
    let mut groups = BTreeMap::new();
    for (name, position) in sums.positions {
        let totals = std::mem::take(&mut sums.totals[position]);
        let group = Group {
            rows: sums.rows[position],
            totals: named_totals(&numeric, totals),
        };
        groups.insert(name, group);
    }
    let names: Vec<String> = keys.iter().map(|column| column.name.clone()).collect();
    Ok(Some(GroupTotals {
        column: names.join(", "),
        columns: names,
        groups,
    }))
}

fn period_changes(
    columns: &[TypedColumn],
    cancel: &Cancel,
) -> Result<Option<PeriodChanges>, Cancelled> {
    let Some((period_column, mut keys)) = columns
        .iter()
        .find_map(|column| Some((column, period_keys(column)?)))
    else {
        return Ok(None);
    };
    let rolled_up_to = roll_up(&mut keys);
    // Summing the period column itself (e.g. a numeric `year`) is meaningless;
    // column names are unique.
    let numeric: Vec<NumericColumn<'_>> = columns
        .iter()
        .filter(|column| column.name != period_column.name)
        .filter_map(TypedColumn::numeric)
        .collect();

    // The label of a period is the period as first written.
    let mut sums = Sums::<PeriodKey>::new(numeric.len());
    let mut labels: Vec<Cow<'_, str>> = Vec::new();
    for (row, (key, label)) in keys.iter().zip(period_column.cells.iter()).enumerate() {
        if row % CHECK_EVERY == CHECK_EVERY - 1 {
            cancel.checkpoint(0)?;
        }
        let (Some(key), Some(label)) = (key, label) else {
            continue; // rows without a period cannot be placed in time
        };
        let position = match sums.position(key) {
            Some(position) => position,
            None => {
                labels.push(match rolled_up_to {
                    Some(_) => Cow::Owned(key.label()),
                    None => Cow::Borrowed(label),
                });
                sums.insert(*key)
            }
        };
        sums.add(position, &numeric, row);
    }

    let mut chronological: Vec<(PeriodKey, usize)> = sums.positions.into_iter().collect();
    chronological.sort_unstable();
    let mut periods: Vec<PeriodRow> = Vec::with_capacity(chronological.len());
    for (_, position) in chronological {
        let totals = named_totals(&numeric, std::mem::take(&mut sums.totals[position]));
        let change = periods
            .last()
            .map(|previous| changes(&previous.totals, &totals))
            .unwrap_or_default();
        periods.push(PeriodRow {
            period: labels[position].to_string(),
            totals,
            change,
        });
    }
    Ok(Some(PeriodChanges {
        column: period_column.name.clone(),
        rolled_up_to: rolled_up_to.map(|span| span.name().to_owned()),
        periods,
    }))
}

fn changes(
    previous: &BTreeMap<String, f64>,
    current: &BTreeMap<String, f64>,
) -> BTreeMap<String, Change> {
    current
        .iter()
        .map(|(name, &now)| {
            let before = previous.get(name).copied().unwrap_or(0.0);
            (name.clone(), Change::between(before, now))
        })
        .collect()
}

/// The period key of every cell when `column` is a period column: it has a
/// non-null cell, every non-null cell parses as a period, and it is either
/// named like one or is a text column. (A purely numeric column must be
/// named like a period: otherwise any column of four-digit numbers, such as
/// units, would pass for years.)
fn period_keys(column: &TypedColumn) -> Option<Vec<Option<PeriodKey>>> {
    let named = PERIOD_NAMES
        .iter()
        .any(|name| column.name.eq_ignore_ascii_case(name));
    if !named && column.kind() == ColumnKind::Number {
        return None;
    }
    if column.cells.iter().all(|cell| cell.is_none()) {
        return None;
    }
    column
        .cells
        .iter()
        .map(|cell| match cell {
            None => Some(None),
            Some(text) => parse_period(text).map(Some),
        })
        .collect()
}

/// A chronologically sortable period: its first day, then its length, so
/// that e.g. `2024`, `2024-Q1` and `2024-01` stay distinct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PeriodKey {
    year: u16,
    month: u8,
    day: u8,
    span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Span {
    Year,
    Quarter,
    Month,
    Day,
}

/// Most periods reported: a longer series is rolled up to months, quarters
/// or years, the first of these that gives no more periods. (A period costs
/// a few hundred bytes of report: days over decades would make the report
/// larger than the table.)
pub const MAX_PERIODS: usize = 1_000;

/// Rolls `keys` up to the shortest span that leaves at most [`MAX_PERIODS`]
/// distinct periods, if they have more; returns the span rolled up to.
fn roll_up(keys: &mut [Option<PeriodKey>]) -> Option<Span> {
    let distinct = |keys: &[Option<PeriodKey>]| {
        keys.iter()
            .flatten()
            .collect::<std::collections::HashSet<_>>()
            .len()
    };
    if distinct(keys) <= MAX_PERIODS {
        return None;
    }
    let mut span = Span::Month;
    loop {
        for key in keys.iter_mut().flatten() {
            *key = key.rolled_up(span);
        }
        if span == Span::Year || distinct(keys) <= MAX_PERIODS {
            return Some(span);
        }
        span = match span {
            Span::Day | Span::Month => Span::Quarter,
            Span::Quarter | Span::Year => Span::Year,
        };
    }
}

impl PeriodKey {
    /// The period of `span` that holds this one (itself if it is as long or longer).
    fn rolled_up(self, span: Span) -> Self {
        if self.span <= span {
            return self;
        }
        let month = match span {
            Span::Year => 1,
            Span::Quarter => (self.month - 1) / 3 * 3 + 1,
            Span::Month | Span::Day => self.month,
        };
        Self {
            year: self.year,
            month,
            day: 1,
            span,
        }
    }

    /// The period written in one form per span: `2024`, `2024-Q1`, `2024-01`, `2024-01-31`.
    fn label(self) -> String {
        match self.span {
            Span::Year => format!("{:04}", self.year),
            Span::Quarter => format!("{:04}-Q{}", self.year, (self.month - 1) / 3 + 1),
            Span::Month => format!("{:04}-{:02}", self.year, self.month),
            Span::Day => format!("{:04}-{:02}-{:02}", self.year, self.month, self.day),
        }
    }
}

impl Span {
    fn name(self) -> &'static str {
        match self {
            Span::Year => "year",
            Span::Quarter => "quarter",
            Span::Month => "month",
            Span::Day => "day",
        }
    }
}

/// Parses `2024`, `2024-Q1`, `2024Q1`, `Q1 2024`, `Q1-2024`, `2024-01` or
/// `2024-01-31`.
fn parse_period(text: &str) -> Option<PeriodKey> {
    let year_only = |year| PeriodKey {
        year,
        month: 1,
        day: 1,
        span: Span::Year,
    };
    parse_year(text)
        .map(year_only)
        .or_else(|| parse_quarter(text))
        .or_else(|| parse_month_or_day(text))
}

fn parse_quarter(text: &str) -> Option<PeriodKey> {
    let year_first = || {
        let (year, rest) = text.split_at_checked(4)?;
        let quarter = rest.strip_prefix('-').unwrap_or(rest);
        Some((parse_year(year)?, parse_quarter_number(quarter)?))
    };
    let quarter_first = || {
        let (quarter, rest) = text.split_at_checked(2)?;
        let year = rest.strip_prefix([' ', '-'])?;
        Some((parse_year(year)?, parse_quarter_number(quarter)?))
    };
    let (year, quarter) = year_first().or_else(quarter_first)?;
    Some(PeriodKey {
        year,
        month: quarter * 3 - 2,
        day: 1,
        span: Span::Quarter,
    })
}

fn parse_month_or_day(text: &str) -> Option<PeriodKey> {
    let mut parts = text.split('-');
    let year = parse_year(parts.next()?)?;
    let month = parse_two_digits(parts.next()?).filter(|month| (1..=12).contains(month))?;
    let (day, span) = match (parts.next(), parts.next()) {
        (None, _) => (1, Span::Month),
        (Some(day), None) => {
            let day = parse_two_digits(day)
                .filter(|day| (1..=days_in_month(year, month)).contains(day))?;
            (day, Span::Day)
        }
        _ => return None,
    };
    Some(PeriodKey {
        year,
        month,
        day,
        span,
    })
}

/// Exactly four ASCII digits.
fn parse_year(text: &str) -> Option<u16> {
    if text.len() == 4 && text.bytes().all(|byte| byte.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// `Q1` to `Q4` (either case).
fn parse_quarter_number(text: &str) -> Option<u8> {
    match text.strip_prefix(['Q', 'q'])? {
        "1" => Some(1),
        "2" => Some(2),
        "3" => Some(3),
        "4" => Some(4),
        _ => None,
    }
}

/// Exactly two ASCII digits.
fn parse_two_digits(text: &str) -> Option<u8> {
    if text.len() == 2 && text.bytes().all(|byte| byte.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPSILON: f64 = 1e-9;

    fn assert_close(actual: f64, expected: f64) {
        let tolerance = EPSILON * expected.abs().max(1.0);
        assert!(
            (actual - expected).abs() <= tolerance,
            "expected {expected}, got {actual}"
        );
    }

    fn assert_some_close(actual: Option<f64>, expected: f64) {
        match actual {
            Some(actual) => assert_close(actual, expected),
            None => panic!("expected Some({expected}), got None"),
        }
    }

    fn csv(content: &str) -> Analysis {
        match analyse(TabularFormat::Csv, content, &[]) {
            Ok(analysis) => analysis,
            Err(error) => panic!("CSV should be accepted: {error}"),
        }
    }

    fn json(content: &str) -> Analysis {
        match analyse(TabularFormat::Json, content, &[]) {
            Ok(analysis) => analysis,
            Err(error) => panic!("JSON should be accepted: {error}"),
        }
    }

    fn csv_error(content: &str) -> DataError {
        match analyse(TabularFormat::Csv, content, &[]) {
            Ok(analysis) => panic!("CSV should be rejected, got {analysis:?}"),
            Err(error) => error,
        }
    }

    fn json_error(content: &str) -> DataError {
        match analyse(TabularFormat::Json, content, &[]) {
            Ok(analysis) => panic!("JSON should be rejected, got {analysis:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn the_analysis_reads_back_from_its_json_output() {
        let analysis = csv("region,quarter,revenue\nnorth,2024-Q1,10\nsouth,2024-Q2,12.5\n");
        let output = serde_json::to_value(&analysis).unwrap();
        assert_eq!(Analysis::from_output(&output).unwrap(), analysis);
    }

    #[test]
    fn an_overflowing_sum_reads_back_as_nan_not_as_an_error() {
        let analysis = csv("x\n1e308\n1e308\n");
        assert!(stats(&analysis, "x").sum.is_infinite());
        // JSON has no infinity: the sum is written as null.
        let output = serde_json::to_value(&analysis).unwrap();
        assert!(output["numeric"]["x"]["sum"].is_null());
        let read = Analysis::from_output(&output).unwrap();
        assert!(stats(&read, "x").sum.is_nan());
    }

    fn stats<'a>(analysis: &'a Analysis, column: &str) -> &'a NumericStats {
        match analysis.numeric.get(column) {
            Some(stats) => stats,
            None => panic!("no stats for {column}"),
        }
    }

    fn column(name: &str, kind: ColumnKind, nulls: usize) -> Column {
        Column {
            name: name.to_owned(),
            kind,
            nulls,
        }
    }

    fn group<'a>(analysis: &'a Analysis, key: &str) -> &'a Group {
        let groups = analysis.group_by.as_ref().map(|group_by| &group_by.groups);
        match groups.and_then(|groups| groups.get(key)) {
            Some(group) => group,
            None => panic!("no group {key:?}"),
        }
    }

    fn periods(analysis: &Analysis) -> &PeriodChanges {
        match &analysis.periods {
            Some(periods) => periods,
            None => panic!("no period column detected"),
        }
    }

    fn total(totals: &BTreeMap<String, f64>, column: &str) -> f64 {
        match totals.get(column) {
            Some(&total) => total,
            None => panic!("no total for {column}"),
        }
    }

    fn change<'a>(row: &'a PeriodRow, column: &str) -> &'a Change {
        match row.change.get(column) {
            Some(change) => change,
            None => panic!("no change for {column} in {}", row.period),
        }
    }

    // Q4 rows come before Q3 to check chronological sorting.
    const QUARTERLY_CSV: &str = "quarter,region,revenue,units\n\
        2024-Q1,North,120,10\n\
        2024-Q1,South,80,6\n\
        2024-Q2,North,150,12\n\
        2024-Q2,South,90,8\n\
        2024-Q4,North,200,15\n\
        2024-Q4,South,130,9\n\
        2024-Q3,North,160,11\n\
        2024-Q3,South,110,8\n";

    const QUARTERLY_JSON: &str = r#"[
        {"quarter": "2024-Q1", "region": "North", "revenue": 120, "units": 10},
        {"quarter": "2024-Q1", "region": "South", "revenue": "80", "units": 6},
        {"quarter": "2024-Q2", "region": "North", "revenue": 150.0, "units": "12"},
        {"quarter": "2024-Q2", "region": "South", "revenue": 90, "units": 8},
        {"quarter": "2024-Q4", "region": "North", "revenue": 200, "units": 15},
        {"quarter": "2024-Q4", "region": "South", "revenue": 130, "units": 9},
        {"quarter": "2024-Q3", "region": "North", "revenue": 160, "units": 11},
        {"quarter": "2024-Q3", "region": "South", "revenue": 110, "units": 8}
    ]"#;

    #[test]
    fn quarterly_csv_columns_and_row_count() {
        let analysis = csv(QUARTERLY_CSV);
        assert_eq!(analysis.rows, 8);
        assert_eq!(
            analysis.columns,
            vec![
                column("quarter", ColumnKind::Text, 0),
                column("region", ColumnKind::Text, 0),
                column("revenue", ColumnKind::Number, 0),
                column("units", ColumnKind::Number, 0),
            ]
        );
        let numeric: Vec<&str> = analysis.numeric.keys().map(String::as_str).collect();
        assert_eq!(numeric, ["revenue", "units"]);
    }

    #[test]
    fn quarterly_csv_revenue_stats() {
        let analysis = csv(QUARTERLY_CSV);
        let revenue = stats(&analysis, "revenue");
        // Values 120 80 150 90 200 130 160 110; sorted 80 90 110 120 130 150 160 200.
        assert_eq!((revenue.count, revenue.nulls), (8, 0));
        assert_close(revenue.sum, 1040.0);
        assert_close(revenue.mean, 130.0); // 1040 / 8
        assert_close(revenue.min, 80.0);
        assert_close(revenue.max, 200.0);
        // Deviations -10 -50 20 -40 70 0 30 -20, squares sum to 10800; / (8 - 1).
        assert_some_close(revenue.stddev, (10800.0_f64 / 7.0).sqrt()); // ≈ 39.2792
        // Median at position 3.5: (120 + 130) / 2.
        assert_close(revenue.median, 125.0);
        // p90 at position 0.9 * 7 = 6.3: 160 + 0.3 * (200 - 160).
        assert_close(revenue.p90, 172.0);
    }

    #[test]
    fn quarterly_csv_units_stats() {
        let analysis = csv(QUARTERLY_CSV);
        let units = stats(&analysis, "units");
        // Values 10 6 12 8 15 9 11 8; sorted 6 8 8 9 10 11 12 15.
        assert_eq!((units.count, units.nulls), (8, 0));
        assert_close(units.sum, 79.0);
        assert_close(units.mean, 9.875); // 79 / 8
        assert_close(units.min, 6.0);
        assert_close(units.max, 15.0);
        // Sum of squares 835 - 79² / 8 = 54.875; / 7.
        assert_some_close(units.stddev, (54.875_f64 / 7.0).sqrt()); // ≈ 2.7999
        assert_close(units.median, 9.5); // (9 + 10) / 2
        assert_close(units.p90, 12.9); // 12 + 0.3 * (15 - 12)
    }

    #[test]
    fn quarterly_csv_groups_by_the_first_text_column_that_is_not_a_period() {
        let analysis = csv(QUARTERLY_CSV);
        let group_by = analysis.group_by.as_ref();
        assert_eq!(group_by.map(|g| g.column.as_str()), Some("region"));
        assert_eq!(group_by.map(|g| g.groups.len()), Some(2));
        // (region, revenue, units) summed by hand from the table.
        for (key, revenue, units) in [("North", 630.0, 48.0), ("South", 410.0, 31.0)] {
            let group = group(&analysis, key);
            assert_eq!(group.rows, 4, "{key}");
            assert_close(total(&group.totals, "revenue"), revenue);
            assert_close(total(&group.totals, "units"), units);
        }
    }

    #[test]
    fn a_task_names_its_grouping_columns() {
        let by = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            analyse(TabularFormat::Csv, QUARTERLY_CSV, &names)
        };
        // By quarter, when asked: (quarter, revenue, units) summed by hand.
        let analysis = by(&["quarter"]).unwrap();
        assert_eq!(analysis.group_by.as_ref().unwrap().columns, ["quarter"]);
        for (key, revenue, units) in [
            ("2024-Q1", 200.0, 16.0),
            ("2024-Q2", 240.0, 20.0),
            ("2024-Q3", 270.0, 19.0),
            ("2024-Q4", 330.0, 24.0),
        ] {
            let group = group(&analysis, key);
            assert_eq!(group.rows, 2, "{key}");
            assert_close(total(&group.totals, "revenue"), revenue);
            assert_close(total(&group.totals, "units"), units);
        }
        // By two columns: one group per pair, and a numeric key column is not totalled.
        let analysis = by(&["region", "quarter"]).unwrap();
        let group_by = analysis.group_by.as_ref().unwrap();
        assert_eq!(group_by.column, "region, quarter");
        assert_eq!(group_by.groups.len(), 8);
        assert_close(
            total(&group(&analysis, "South / 2024-Q4").totals, "revenue"),
            130.0,
        );
        let analysis = by(&["units"]).unwrap();
        assert!(!group(&analysis, "10").totals.contains_key("units"));
        // A column the data does not have fails with the columns it does have.
        let err = by(&["country"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot group by \"country\": the data has no such column \
             (its columns: quarter, region, revenue, units)"
        );
    }

    #[test]
    fn periods_alone_give_no_groups() {
        let analysis = csv("quarter,revenue\n2024-Q1,1\n2024-Q2,2\n");
        assert!(analysis.group_by.is_none());
        assert_eq!(analysis.periods.as_ref().map(|p| p.periods.len()), Some(2));
    }

    #[test]
    fn groups_by_region_when_it_is_the_first_text_column() {
        let analysis = csv("region,quarter,revenue,units\n\
            North,2024-Q1,120,10\n\
            South,2024-Q1,80,6\n\
            North,2024-Q2,150,12\n\
            South,2024-Q2,90,8\n\
            North,2024-Q4,200,15\n\
            South,2024-Q4,130,9\n\
            North,2024-Q3,160,11\n\
            South,2024-Q3,110,8\n");
        let group_by = analysis.group_by.as_ref();
        assert_eq!(group_by.map(|g| g.column.as_str()), Some("region"));
        // North: 120+150+200+160 = 630, 10+12+15+11 = 48.
        let north = group(&analysis, "North");
        assert_eq!(north.rows, 4);
        assert_close(total(&north.totals, "revenue"), 630.0);
        assert_close(total(&north.totals, "units"), 48.0);
        // South: 80+90+130+110 = 410, 6+8+9+8 = 31.
        let south = group(&analysis, "South");
        assert_eq!(south.rows, 4);
        assert_close(total(&south.totals, "revenue"), 410.0);
        assert_close(total(&south.totals, "units"), 31.0);
        // The period column is found even though it is not the first column.
        assert_eq!(periods(&analysis).column, "quarter");
    }

    #[test]
    fn quarterly_csv_period_changes() {
        let analysis = csv(QUARTERLY_CSV);
        let periods = periods(&analysis);
        assert_eq!(periods.column, "quarter");
        let labels: Vec<&str> = periods.periods.iter().map(|p| p.period.as_str()).collect();
        assert_eq!(labels, ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]);

        let [q1, q2, q3, q4] = &periods.periods[..] else {
            panic!("expected four periods");
        };
        assert!(q1.change.is_empty());
        // Totals: revenue 200 240 270 330, units 16 20 19 24.
        for (row, revenue, units) in [
            (q1, 200.0, 16.0),
            (q2, 240.0, 20.0),
            (q3, 270.0, 19.0),
            (q4, 330.0, 24.0),
        ] {
            assert_close(total(&row.totals, "revenue"), revenue);
            assert_close(total(&row.totals, "units"), units);
        }
        // Q2: +40 = 20% of 200; +4 = 25% of 16.
        assert_close(change(q2, "revenue").absolute, 40.0);
        assert_some_close(change(q2, "revenue").percent, 20.0);
        assert_close(change(q2, "units").absolute, 4.0);
        assert_some_close(change(q2, "units").percent, 25.0);
        // Q3: +30 = 12.5% of 240; -1 = -5% of 20.
        assert_close(change(q3, "revenue").absolute, 30.0);
        assert_some_close(change(q3, "revenue").percent, 12.5);
        assert_close(change(q3, "units").absolute, -1.0);
        assert_some_close(change(q3, "units").percent, -5.0);
        // Q4: +60 = 200/9 % of 270; +5 = 500/19 % of 19.
        assert_close(change(q4, "revenue").absolute, 60.0);
        assert_some_close(change(q4, "revenue").percent, 200.0 / 9.0); // ≈ 22.22
        assert_close(change(q4, "units").absolute, 5.0);
        assert_some_close(change(q4, "units").percent, 500.0 / 19.0); // ≈ 26.32
    }

    #[test]
    fn json_records_give_the_same_analysis_as_csv() {
        let from_json = json(QUARTERLY_JSON);
        assert_eq!(from_json, csv(QUARTERLY_CSV));
        assert_close(stats(&from_json, "revenue").sum, 1040.0);
        assert_close(stats(&from_json, "units").p90, 12.9);
    }

    #[test]
    fn quoted_fields_with_commas_quotes_and_newlines() {
        let analysis = csv("customer,amount\n\
            \"Smith, \"\"JJ\"\"\nJohn\",10.5\n\
            \"  Doe, Jane  \",4.5\n\
            \"Smith, \"\"JJ\"\"\nJohn\",\"1.5\"\n");
        assert_eq!(analysis.rows, 3);
        let smith = group(&analysis, "Smith, \"JJ\"\nJohn");
        assert_eq!(smith.rows, 2);
        assert_close(total(&smith.totals, "amount"), 12.0); // 10.5 + 1.5
        // Quoted fields are trimmed too.
        let doe = group(&analysis, "Doe, Jane");
        assert_close(total(&doe.totals, "amount"), 4.5);
    }

    #[test]
    fn ragged_row_line_counts_newlines_inside_quotes() {
        // The quoted field spans lines 2 and 3, so the bad record is on line 4.
        let error = csv_error("name,notes\na,\"line one\nline two\"\nb,c,d\n");
        assert_eq!(
            error,
            DataError::RaggedRow {
                line: 4,
                expected: 2,
                found: 3
            }
        );
    }

    #[test]
    fn null_tokens_and_missing_groups() {
        let analysis = csv("region,revenue,units,notes\n\
            North,100,NA,\n\
            ,N/A,5,null\n\
            NULL,50,-,NA\n\
            South,null,7,-\n\
            -,  ,,N/A\n");
        assert_eq!(analysis.rows, 5);
        assert_eq!(
            analysis.columns,
            vec![
                column("region", ColumnKind::Text, 3),
                column("revenue", ColumnKind::Number, 3),
                column("units", ColumnKind::Number, 3),
                // Only nulls: text, and no statistics.
                column("notes", ColumnKind::Text, 5),
            ]
        );
        assert_eq!(analysis.numeric.len(), 2);

        // revenue: 100 and 50.
        let revenue = stats(&analysis, "revenue");
        assert_eq!((revenue.count, revenue.nulls), (2, 3));
        assert_close(revenue.sum, 150.0);
        assert_close(revenue.mean, 75.0);
        assert_close(revenue.min, 50.0);
        assert_close(revenue.max, 100.0);
        assert_some_close(revenue.stddev, 1250.0_f64.sqrt()); // (25² + 25²) / 1
        assert_close(revenue.median, 75.0);
        assert_close(revenue.p90, 95.0); // 50 + 0.9 * 50

        // units: 5 and 7.
        let units = stats(&analysis, "units");
        assert_eq!((units.count, units.nulls), (2, 3));
        assert_close(units.mean, 6.0);
        assert_some_close(units.stddev, 2.0_f64.sqrt()); // (1² + 1²) / 1
        assert_close(units.p90, 6.8); // 5 + 0.9 * 2

        // Rows 2, 3 and 5 have no region.
        let missing = group(&analysis, "(missing)");
        assert_eq!(missing.rows, 3);
        assert_close(total(&missing.totals, "revenue"), 50.0);
        assert_close(total(&missing.totals, "units"), 5.0);
        // A group with only null values totals 0.
        let south = group(&analysis, "South");
        assert_close(total(&south.totals, "revenue"), 0.0);
        assert_close(total(&south.totals, "units"), 7.0);
    }

    #[test]
    fn one_non_numeric_value_makes_a_column_text() {
        let analysis = csv("code,ratio,amount\n\
            1,0.5,10\n\
            2,NaN,20\n\
            \"1,000\",inf,30\n");
        assert_eq!(
            analysis.columns,
            vec![
                column("code", ColumnKind::Text, 0),
                column("ratio", ColumnKind::Text, 0),
                column("amount", ColumnKind::Number, 0),
            ]
        );
        let numeric: Vec<&str> = analysis.numeric.keys().map(String::as_str).collect();
        assert_eq!(numeric, ["amount"]);
        assert_close(total(&group(&analysis, "1,000").totals, "amount"), 30.0);
    }

    #[test]
    fn number_syntax_accepted_by_rust_parse() {
        let analysis = csv("x\n1e3\n+5\n.5\n-2.5\n");
        let x = stats(&analysis, "x");
        assert_close(x.sum, 1003.0); // 1000 + 5 + 0.5 - 2.5
    }

    #[test]
    fn json_keys_nulls_and_non_string_values() {
        let analysis = json(
            r#"[
                {"id": 1, "name": "a", "flag": true},
                {"name": null, "id": "2", "extra": {"k": [1, 2]}},
                {"id": 3.5, "flag": false, "name": "NA"}
            ]"#,
        );
        assert_eq!(analysis.rows, 3);
        // Union of keys in first-seen order; missing keys and nulls are nulls.
        assert_eq!(
            analysis.columns,
            vec![
                column("id", ColumnKind::Number, 0),
                column("name", ColumnKind::Text, 2),
                column("flag", ColumnKind::Text, 1),
                column("extra", ColumnKind::Text, 2),
            ]
        );
        assert_close(stats(&analysis, "id").sum, 6.5); // 1 + 2 + 3.5
        let missing = group(&analysis, "(missing)");
        assert_eq!(missing.rows, 2);
        assert_close(total(&missing.totals, "id"), 5.5); // 2 + 3.5
    }

    #[test]
    fn json_booleans_and_nested_values_are_their_json_text() {
        let analysis = json(r#"[{"v": {"k": [1, 2]}, "n": 1}, {"v": true, "n": 2}]"#);
        let keys: Vec<&str> = analysis
            .group_by
            .iter()
            .flat_map(|group_by| group_by.groups.keys())
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["true", r#"{"k":[1,2]}"#]);
    }

    #[test]
    fn single_value_has_no_stddev() {
        let analysis = csv("amount\n42\n");
        let amount = stats(&analysis, "amount");
        assert_eq!(amount.count, 1);
        assert_eq!(amount.stddev, None);
        assert_close(amount.mean, 42.0);
        assert_close(amount.median, 42.0);
        assert_close(amount.p90, 42.0);
        // No text column, no period column.
        assert_eq!(analysis.group_by, None);
        assert_eq!(analysis.periods, None);
    }

    #[test]
    fn percent_is_none_when_previous_total_is_zero() {
        let analysis = csv("period,amount\n2024-01,0\n2024-02,50\n2024-03,25\n");
        let rows = &periods(&analysis).periods;
        assert_eq!(rows.len(), 3);
        // 0 -> 50: +50, no percentage.
        assert_close(change(&rows[1], "amount").absolute, 50.0);
        assert_eq!(change(&rows[1], "amount").percent, None);
        // 50 -> 25: -25 = -50%.
        assert_close(change(&rows[2], "amount").absolute, -25.0);
        assert_some_close(change(&rows[2], "amount").percent, -50.0);
    }

    #[test]
    fn period_forms_are_sorted_chronologically() {
        let analysis = csv("when,amount\n\
            2025-01-31,7\n\
            Q3-2024,4\n\
            2023,1\n\
            2024Q4,5\n\
            Q2 2024,3\n\
            2025-01,6\n\
            2024-Q1,2\n");
        let periods = periods(&analysis);
        // Detected from its values although the name is not a period name.
        assert_eq!(periods.column, "when");
        let labels: Vec<&str> = periods.periods.iter().map(|p| p.period.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2023",
                "2024-Q1",
                "Q2 2024",
                "Q3-2024",
                "2024Q4",
                "2025-01",
                "2025-01-31"
            ]
        );
        let totals: Vec<f64> = periods
            .periods
            .iter()
            .map(|p| total(&p.totals, "amount"))
            .collect();
        assert_eq!(totals, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn different_spellings_of_one_period_are_merged() {
        let analysis = csv("quarter,amount\nQ1 2024,1\n2024-Q1,2\n2024q2,4\n");
        let rows = &periods(&analysis).periods;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].period, "Q1 2024"); // first spelling seen
        assert_close(total(&rows[0].totals, "amount"), 3.0);
        assert_close(total(&rows[1].totals, "amount"), 4.0);
    }

    #[test]
    fn named_column_with_unparseable_values_is_skipped() {
        let analysis = csv("month,period,amount\nJan,2024-01,1\nFeb,2024-02,2\n");
        assert_eq!(periods(&analysis).column, "period");
        // The first text column still groups, whatever its content.
        assert_eq!(
            analysis.group_by.map(|g| g.column),
            Some("month".to_owned())
        );
    }

    #[test]
    fn numeric_year_column_is_a_period_only_when_named() {
        let analysis = csv("Year,amount\n2024,10\n2023,4\n2024,5\n");
        let periods = periods(&analysis);
        assert_eq!(periods.column, "Year");
        let [first, second] = &periods.periods[..] else {
            panic!("expected two periods");
        };
        assert_eq!(
            (first.period.as_str(), second.period.as_str()),
            ("2023", "2024")
        );
        // The year column itself is not totalled per period.
        assert_eq!(second.totals.keys().collect::<Vec<_>>(), ["amount"]);
        assert_close(total(&second.totals, "amount"), 15.0);
        assert_some_close(change(second, "amount").percent, 275.0); // +11 on 4

        // Four-digit numbers in a column not named like a period are just numbers.
        assert_eq!(csv("units,amount\n2024,10\n2023,4\n").periods, None);
    }

    #[test]
    fn rows_without_a_period_are_left_out_of_periods() {
        let analysis = csv("date,amount\n2024-01-31,1\nNA,10\n2024-02-29,2\n");
        let rows = &periods(&analysis).periods;
        let labels: Vec<&str> = rows.iter().map(|p| p.period.as_str()).collect();
        assert_eq!(labels, ["2024-01-31", "2024-02-29"]);
        assert_close(stats(&analysis, "amount").sum, 13.0);
    }

    #[test]
    fn parse_period_accepts_listed_forms_only() {
        let key = |year, month, day, span| {
            Some(PeriodKey {
                year,
                month,
                day,
                span,
            })
        };
        assert_eq!(parse_period("2024"), key(2024, 1, 1, Span::Year));
        assert_eq!(parse_period("2024-Q1"), key(2024, 1, 1, Span::Quarter));
        assert_eq!(parse_period("2024Q2"), key(2024, 4, 1, Span::Quarter));
        assert_eq!(parse_period("Q3 2024"), key(2024, 7, 1, Span::Quarter));
        assert_eq!(parse_period("q4-2024"), key(2024, 10, 1, Span::Quarter));
        assert_eq!(parse_period("2024-12"), key(2024, 12, 1, Span::Month));
        assert_eq!(parse_period("2024-02-29"), key(2024, 2, 29, Span::Day));
        for invalid in [
            "",
            "24",
            "20245",
            "2024-",
            "2024-Q5",
            "Q0 2024",
            "Q1  2024",
            "Q12024",
            "2024-13",
            "2024-1",
            "2024-00",
            "2023-02-29",
            "2024-04-31",
            "2024-01-01-01",
            "+2024",
            "2024-+1",
            "Jan 2024",
            "２０２４",
            "é024-Q1",
            "Qé 2024",
        ] {
            assert_eq!(parse_period(invalid), None, "{invalid:?}");
        }
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [0, 25, 50, 90, 100]) = 1, 1.75, 2.5, 3.7, 4.
        // In any order: the ranks are selected, not read from sorted input.
        let mut values = [3.0, 1.0, 4.0, 2.0];
        assert_some_close(percentile(&mut values, 0.0), 1.0);
        assert_some_close(percentile(&mut values, 0.25), 1.75);
        assert_some_close(percentile(&mut values, 0.5), 2.5);
        assert_some_close(percentile(&mut values, 0.9), 3.7);
        assert_some_close(percentile(&mut values, 1.0), 4.0);
        assert_eq!(percentile(&mut [], 0.5), None);
    }

    #[test]
    fn welford_is_stable_for_large_offsets() {
        // 1e9 + {4, 7, 13, 16}: mean offset 10, squared deviations 36+9+9+36 = 90.
        let analysis = csv("x\n1000000004\n1000000007\n1000000013\n1000000016\n");
        assert_some_close(stats(&analysis, "x").stddev, (90.0_f64 / 3.0).sqrt());
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let analysis = csv("\u{feff}amount\n1\n");
        assert_eq!(
            analysis.columns,
            vec![column("amount", ColumnKind::Number, 0)]
        );
        assert_eq!(json("\u{feff}[{\"a\": 1}]").rows, 1);
    }

    #[test]
    fn header_names_and_cells_are_trimmed() {
        let analysis = csv("  name , amount \n  x  ,  3  \n");
        assert_eq!(
            analysis.columns,
            vec![
                column("name", ColumnKind::Text, 0),
                column("amount", ColumnKind::Number, 0),
            ]
        );
        assert_close(total(&group(&analysis, "x").totals, "amount"), 3.0);
    }

    #[test]
    fn analysis_serializes_with_lowercase_kinds_and_null_stddev() {
        let analysis = csv("name,amount\nx,1\n");
        let value = match serde_json::to_value(&analysis) {
            Ok(value) => value,
            Err(error) => panic!("serialization failed: {error}"),
        };
        assert_eq!(value["columns"][0]["kind"], "text");
        assert_eq!(value["columns"][1]["kind"], "number");
        assert_eq!(value["numeric"]["amount"]["stddev"], Value::Null);
        assert_eq!(value["group_by"]["groups"]["x"]["rows"], 1);
        assert_eq!(value["periods"], Value::Null);
    }

    #[test]
    fn max_columns_is_accepted() {
        let header: Vec<String> = (1..=MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        let row = vec!["1"; MAX_COLUMNS].join(",");
        let analysis = csv(&format!("{}\n{row}\n", header.join(",")));
        assert_eq!(analysis.columns.len(), MAX_COLUMNS);
    }

    // ---- errors ----

    #[test]
    fn error_empty() {
        for content in ["", "  \n\t ", "\u{feff}"] {
            assert_eq!(csv_error(content), DataError::Empty);
            assert_eq!(json_error(content), DataError::Empty);
        }
        assert_eq!(
            DataError::Empty.to_string(),
            "the content is empty (nothing but whitespace)"
        );
    }

    #[test]
    fn error_empty_column_name() {
        let error = csv_error("a,,c\n1,2,3\n");
        assert_eq!(error, DataError::EmptyColumnName { column: 2 });
        assert_eq!(error.to_string(), "CSV header column 2 has an empty name");
    }

    #[test]
    fn error_duplicate_column() {
        let error = csv_error("a,b, a \n1,2,3\n");
        assert_eq!(
            error,
            DataError::DuplicateColumn {
                name: "a".to_owned(),
                column: 3
            }
        );
        assert_eq!(
            error.to_string(),
            "CSV header column 3 repeats the column name \"a\""
        );
    }

    #[test]
    fn error_ragged_row() {
        let error = csv_error("a,b\n1,2\n3\n");
        assert_eq!(
            error,
            DataError::RaggedRow {
                line: 3,
                expected: 2,
                found: 1
            }
        );
        assert_eq!(
            error.to_string(),
            "CSV line 3 has 1 fields, but the header has 2"
        );
        // Blank lines are skipped but still counted, whatever the line endings.
        for (content, line) in [
            ("a,b\n\n1,2,3\n", 3),
            ("a,b\n1,2\n\n\n3\n", 5),
            ("a,b\r\n\r\n1,2,3\r\n", 3),
            ("a,b\r\n1,2\r\n3\r\n", 3),
            ("a,b\r1,2\r\r3", 4),
            ("a,b\r\n\"x\r\ny\",2\r\n3\r\n", 4),
        ] {
            assert!(
                matches!(csv_error(content), DataError::RaggedRow { line: l, .. } if l == line),
                "{content:?}: {:?}",
                csv_error(content)
            );
        }
    }

    #[test]
    fn error_csv_reader_message() {
        let error = DataError::Csv {
            line: Some(7),
            message: "boom".to_owned(),
        };
        assert_eq!(
            error.to_string(),
            "the CSV could not be parsed near line 7: boom"
        );
        let error = DataError::Csv {
            line: None,
            message: "boom".to_owned(),
        };
        assert_eq!(error.to_string(), "the CSV could not be parsed: boom");
    }

    #[test]
    fn error_not_json() {
        let error = json_error("[{\"a\": 1}");
        let DataError::NotJson { message } = &error else {
            panic!("expected NotJson, got {error:?}");
        };
        assert!(message.contains("line 1 column"), "{message}");
        assert!(
            error
                .to_string()
                .starts_with("the content is not valid JSON: "),
            "{error}"
        );
        assert!(matches!(json_error("a,b\n1,2"), DataError::NotJson { .. }));
    }

    #[test]
    fn error_not_array_of_objects() {
        let error = json_error(r#"{"a": 1}"#);
        assert_eq!(error, DataError::NotArrayOfObjects { found: "an object" });
        assert_eq!(
            error.to_string(),
            "the JSON must be an array of objects, but it is an object"
        );
        assert_eq!(
            json_error("42"),
            DataError::NotArrayOfObjects { found: "a number" }
        );
        assert_eq!(
            json_error("null"),
            DataError::NotArrayOfObjects { found: "null" }
        );
    }

    #[test]
    fn error_row_not_object() {
        let error = json_error(r#"[{"a": 1}, 2]"#);
        assert_eq!(
            error,
            DataError::RowNotObject {
                index: 1,
                found: "a number"
            }
        );
        assert_eq!(
            error.to_string(),
            "JSON array element 1 (counting from 0) is a number, not an object"
        );
        for (content, found) in [
            (r#"[[1, {"a": 2}]]"#, "an array"),
            ("[null]", "null"),
            ("[true]", "a boolean"),
            (r#"["x"]"#, "a string"),
            ("[-1.5]", "a number"),
        ] {
            assert_eq!(
                json_error(content),
                DataError::RowNotObject { index: 0, found },
                "{content}"
            );
        }
    }

    #[test]
    fn error_empty_key() {
        let error = json_error(r#"[{"a": 1}, {" ": 2}]"#);
        assert_eq!(error, DataError::EmptyKey { index: 1 });
        assert_eq!(
            error.to_string(),
            "JSON object at index 1 (counting from 0) has an empty key"
        );
    }

    #[test]
    fn error_duplicate_key() {
        let error = json_error(r#"[{"a": 1}, {"a": 1, " a": 2}]"#);
        assert_eq!(
            error,
            DataError::DuplicateKey {
                index: 1,
                name: "a".to_owned()
            }
        );
        assert_eq!(
            error.to_string(),
            "JSON object at index 1 (counting from 0) has the key \"a\" more than once \
             (keys are compared after trimming)"
        );
        assert!(matches!(
            json_error(r#"[{"a": 1, "a": 2}]"#),
            DataError::DuplicateKey { index: 0, .. }
        ));
    }

    #[test]
    fn error_no_rows() {
        assert_eq!(csv_error("a,b\n"), DataError::NoRows);
        assert_eq!(json_error("[]"), DataError::NoRows);
        assert_eq!(
            DataError::NoRows.to_string(),
            "there are no data rows to analyse (only a CSV header, or an empty JSON array)"
        );
    }

    #[test]
    fn error_no_columns() {
        let error = json_error("[{}, {}]");
        assert_eq!(error, DataError::NoColumns);
        assert_eq!(
            error.to_string(),
            "the JSON objects have no keys, so there are no columns to analyse"
        );
    }

    #[test]
    fn error_too_many_columns() {
        let names: Vec<String> = (1..=MAX_COLUMNS + 1).map(|i| format!("c{i}")).collect();
        let row = vec!["1"; MAX_COLUMNS + 1].join(",");
        let expected = DataError::TooManyColumns {
            limit: MAX_COLUMNS,
            name: "c257".to_owned(),
        };

        let error = csv_error(&format!("{}\n{row}\n", names.join(",")));
        assert_eq!(error, expected);
        assert_eq!(
            error.to_string(),
            "there are more than 256 columns; column \"c257\" is the first over the limit"
        );

        // In JSON the extra column may first appear in a later object.
        let first: Vec<String> = names[..MAX_COLUMNS]
            .iter()
            .map(|n| format!("\"{n}\": 1"))
            .collect();
        let content = format!("[{{{}}}, {{\"c257\": 1}}]", first.join(", "));
        assert_eq!(json_error(&content), expected);
    }

    /// One object with every key, then empty objects: the issue's "sparse JSON".
    fn sparse_json(objects: usize) -> String {
        let keys: Vec<String> = (0..MAX_COLUMNS).map(|i| format!("\"k{i}\": {i}")).collect();
        let mut content = format!("[{{{}}}", keys.join(","));
        for _ in 1..objects {
            content.push_str(",{}");
        }
        content.push(']');
        content
    }

    #[test]
    fn sparse_json_fails_with_a_reason_instead_of_a_dense_table() {
        // About 1 MB, as reported: more objects than the row limit.
        let error = json_error(&sparse_json(330_000));
        assert!(
            matches!(&error, DataError::Content(err) if err.problem == Problem::TooManyRows { limit: 100_000 }),
            "{error}"
        );
        // Within the row limit: 25.6 million cells from 300 kB, refused as soon as the table
        // holds more cells than the content has bytes.
        let content = sparse_json(100_000);
        let error = json_error(&content);
        let DataError::TooSparse {
            rows,
            columns,
            bytes,
        } = error
        else {
            panic!("expected TooSparse, got {error:?}");
        };
        assert_eq!((columns, bytes), (MAX_COLUMNS, content.len()));
        assert!(rows * columns > bytes && (rows - 1) * columns <= bytes);
        assert!(error.to_string().contains("too sparse"), "{error}");
    }

    #[test]
    fn the_same_keys_with_nulls_are_dense_enough() {
        let names: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let full: Vec<String> = names.iter().map(|n| format!("\"{n}\": 1")).collect();
        let nulls: Vec<String> = names.iter().map(|n| format!("\"{n}\": null")).collect();
        let content = format!("[{{{}}},{{{}}}]", full.join(","), nulls.join(","));
        let analysis = json(&content);
        assert_eq!((analysis.rows, analysis.columns.len()), (2, 40));
    }

    #[test]
    fn json_cells_are_counted_on_the_union_of_keys() {
        let limits = DataLimits {
            max_cells: 5,
            ..DataLimits::DEFAULT
        };
        let read = |content: &str| table::read_json(content, &limits, &Cancel::default());
        // Two rows of two keys (one each) are four cells.
        assert!(read(r#"[{"a": 1}, {"b": 2}]"#).is_ok());
        // A third key in the third row makes nine.
        let error = read(r#"[{"a": 1}, {"b": 2}, {"c": 3}]"#).unwrap_err();
        assert_eq!(
            error,
            DataError::TooManyCells {
                limit: 5,
                rows: 3,
                columns: 3
            }
        );
    }

    #[test]
    fn csv_over_the_cell_limit_is_refused_by_the_shared_check() {
        let header: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
        let row = vec!["1"; 200].join(",");
        let mut content = header.join(",");
        for _ in 0..5_001 {
            content.push('\n');
            content.push_str(&row);
        }
        let error = csv_error(&content);
        assert!(
            matches!(&error, DataError::Content(err) if err.problem == Problem::TooManyCells { limit: 1_000_000 }),
            "{error}"
        );
    }

    #[test]
    fn groups_beyond_the_limit_are_totalled_together() {
        let mut content = String::from("id,amount\n");
        for i in 0..MAX_GROUPS + 10 {
            content.push_str(&format!("user{i},1\n"));
        }
        let analysis = csv(&content);
        let groups = &analysis.group_by.as_ref().unwrap().groups;
        assert_eq!(groups.len(), MAX_GROUPS + 1);
        assert_eq!(group(&analysis, OTHER_GROUPS).rows, 10);
        assert_close(
            total(&group(&analysis, OTHER_GROUPS).totals, "amount"),
            10.0,
        );
        assert_eq!(group(&analysis, "user0").rows, 1);
    }

    #[test]
    fn a_cancelled_analysis_stops_with_a_reason() {
        let mut content = String::from("region,amount\n");
        for i in 0..5_000 {
            content.push_str(&format!("r{},{i}\n", i % 7));
        }
        let cancel = Cancel::default();
        cancel.cancel();
        let error = analyse_cancellable(TabularFormat::Csv, &content, &[], &cancel).unwrap_err();
        assert_eq!(error, DataError::Cancelled(Cancelled));
        let rows: Vec<String> = (0..5_000).map(|i| format!("{{\"n\": {i}}}")).collect();
        let json = format!("[{}]", rows.join(","));
        let error = analyse_cancellable(TabularFormat::Json, &json, &[], &cancel).unwrap_err();
        assert_eq!(error, DataError::Cancelled(Cancelled));
    }

    #[test]
    fn a_long_series_of_days_is_rolled_up_to_months() {
        let mut content = String::from("day,amount\n");
        // 2000 days from 2020-01-01: 66 months.
        for day in 0..2_000 {
            let (year, rest) = (2020 + day / 336, day % 336);
            let (month, day) = (1 + rest / 28, 1 + rest % 28);
            content.push_str(&format!("{year}-{month:02}-{day:02},1\n"));
        }
        let analysis = csv(&content);
        let periods = periods(&analysis);
        assert_eq!(periods.rolled_up_to.as_deref(), Some("month"));
        assert!(periods.periods.len() <= MAX_PERIODS);
        assert_eq!(periods.periods[0].period, "2020-01");
        assert_close(total(&periods.periods[0].totals, "amount"), 28.0);
        // Short series keep their own spelling and are not rolled up.
        assert_eq!(
            csv("day,amount\n2024-01-31,1\n")
                .periods
                .unwrap()
                .rolled_up_to,
            None
        );
    }
}
