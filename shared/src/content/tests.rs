use proptest::prelude::*;

use super::*;

const SMALL: DataLimits = DataLimits {
    max_rows: 3,
    max_columns: 2,
    max_cell_chars: 5,
    max_json_depth: 3,
    max_cells: 100,
    max_text_chars: 40,
};

fn error(format: DataFormat, content: &str) -> ContentError {
    check(format, content, &SMALL).expect_err("should be rejected")
}

fn at(err: &ContentError) -> (u64, u64) {
    (err.line, err.column)
}

#[test]
fn valid_data_in_each_format() {
    let limits = DataLimits::DEFAULT;
    assert_eq!(
        check(DataFormat::Csv, "a,b\n1,2\n\n3,\"x,y\"\n", &limits),
        Ok(())
    );
    assert_eq!(
        check(
            DataFormat::Json,
            r#"[{"a": 1, "b": [true, null]}]"#,
            &limits
        ),
        Ok(())
    );
    assert_eq!(
        check(DataFormat::Text, "tabs\tand\r\nlines", &limits),
        Ok(())
    );
}

#[test]
fn csv_cells_are_rows_times_columns() {
    let limits = DataLimits {
        max_cells: 5,
        ..SMALL
    };
    // Two rows of two columns are four cells; a third row makes six, over five.
    assert_eq!(check(DataFormat::Csv, "a,b\n1,2\n3,4\n", &limits), Ok(()));
    let err = check(DataFormat::Csv, "a,b\n1,2\n3,4\n5,6\n", &limits).unwrap_err();
    assert_eq!(at(&err), (4, 1));
    assert_eq!(err.problem, Problem::TooManyCells { limit: 5 });
}

#[test]
fn text_length_points_at_the_first_character_over() {
    let at_limit = "é".repeat(40);
    assert_eq!(check(DataFormat::Text, &at_limit, &SMALL), Ok(()));
    let err = error(DataFormat::Text, &format!("ab\n{}", "é".repeat(40)));
    assert_eq!(at(&err), (2, 38));
    assert_eq!(err.problem, Problem::TooLong { limit: 40 });
}

#[test]
fn binary_content_is_rejected_where_it_is() {
    let err = error(DataFormat::Text, "ok\nab\u{0}c");
    assert_eq!(at(&err), (2, 3));
    assert_eq!(err.problem, Problem::Binary(0));
    let err = error(DataFormat::Csv, "a,b\n1,\u{7f}");
    assert_eq!(at(&err), (2, 3));
}

#[test]
fn csv_limits_name_the_line_and_field() {
    let err = error(DataFormat::Csv, "a,b,c\n1,2,3\n");
    assert_eq!(at(&err), (1, 3));
    assert_eq!(err.problem, Problem::TooManyColumns { limit: 2 });

    let err = error(DataFormat::Csv, "a,b\n1,2\n\n3,123456\n");
    assert_eq!(at(&err), (4, 2));
    assert_eq!(err.problem, Problem::CellTooLong { limit: 5 });

    let err = error(DataFormat::Csv, "a,b\n1,2\n1,2\n1,2\n1,2\n");
    assert_eq!(at(&err), (5, 1));
    assert_eq!(err.problem, Problem::TooManyRows { limit: 3 });
}

#[test]
fn ragged_csv_is_a_parse_error() {
    let err = error(DataFormat::Csv, "a,b\n\"x\ny\",2\n1\n");
    assert_eq!(at(&err), (4, 2));
    assert_eq!(
        err.problem,
        Problem::RaggedRecord {
            expected: 2,
            found: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "line 4, column 2: CSV record has 1 fields, but the header has 2"
    );
}

#[test]
fn json_syntax_errors_have_positions() {
    let err = error(DataFormat::Json, "[1,\n  2,,]");
    assert_eq!(at(&err), (2, 5));
    assert!(matches!(err.problem, Problem::Json(_)), "{err}");
    let err = error(DataFormat::Json, "[1] [2]");
    assert!(matches!(err.problem, Problem::Json(_)), "{err}");
}

#[test]
fn json_limits_have_positions() {
    let err = error(DataFormat::Json, "[[[[1]]]]");
    assert_eq!(err.problem, Problem::TooDeep { limit: 3 });
    assert_eq!(err.line, 1);

    let err = error(DataFormat::Json, "[1,2,3,\n4]");
    assert_eq!(err.problem, Problem::TooManyRows { limit: 3 });
    assert_eq!(err.line, 2);

    let err = error(DataFormat::Json, r#"{"a":1,"b":2,"c":3}"#);
    assert_eq!(err.problem, Problem::TooManyColumns { limit: 2 });

    let err = error(DataFormat::Json, r#"{"abcdef":1}"#);
    assert_eq!(err.problem, Problem::CellTooLong { limit: 5 });
    let err = error(DataFormat::Json, r#"["abcdef"]"#);
    assert_eq!(err.problem, Problem::CellTooLong { limit: 5 });
}

#[test]
fn deep_json_does_not_overflow_the_stack() {
    let deep = "[".repeat(100_000);
    let err = check(DataFormat::Json, &deep, &DataLimits::DEFAULT).unwrap_err();
    assert_eq!(err.problem, Problem::TooDeep { limit: 32 });
}

#[test]
fn empty_csv_has_no_header() {
    assert_eq!(error(DataFormat::Csv, "\n\n").problem, Problem::NoHeader);
}

proptest! {
    #[test]
    fn never_panics(content in any::<String>(), format in prop_oneof![
        Just(DataFormat::Csv), Just(DataFormat::Json), Just(DataFormat::Text)
    ]) {
        let _ = check(format, &content, &SMALL);
    }

    #[test]
    fn accepted_csv_is_within_the_limits(content in "[a-c,\"\n]{0,60}") {
        if check(DataFormat::Csv, &content, &SMALL).is_ok() {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(content.as_bytes());
            let records: Vec<_> = reader.records().collect::<Result<_, _>>().unwrap();
            prop_assert!(records.len() <= SMALL.max_rows + 1);
            for record in &records {
                prop_assert!(record.len() <= SMALL.max_columns);
                prop_assert!(record.iter().all(|field| field.chars().count() <= SMALL.max_cell_chars));
            }
        }
    }

    /// The check reads CSV as the `csv` crate does (blank lines, quotes, CR, CRLF, long
    /// fields that outgrow the reader's buffers): accepted exactly when that crate reads a
    /// header and records of its length, and a ragged record is found on the same one.
    #[test]
    fn csv_is_read_as_the_csv_crate_reads_it(
        content in "([a-c,\"\r\n]|x{0,1500}|é){0,40}",
    ) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(content.as_bytes());
        let lengths: Vec<usize> = reader.records().map(|record| record.unwrap().len()).collect();
        let ragged = lengths.iter().position(|&len| len != lengths[0]);
        let unlimited = DataLimits { max_cell_chars: usize::MAX, ..DataLimits::DEFAULT };
        let checked = check(DataFormat::Csv, &content, &unlimited);
        match (lengths.first(), ragged) {
            (None, _) => prop_assert_eq!(checked.unwrap_err().problem, Problem::NoHeader),
            (Some(_), None) => prop_assert_eq!(checked, Ok(())),
            (Some(&expected), Some(record)) => prop_assert_eq!(
                checked.unwrap_err().problem,
                Problem::RaggedRecord { expected: expected as u64, found: lengths[record] as u64 }
            ),
        }
    }

    #[test]
    fn error_positions_are_inside_the_content(content in "[\\[\\]{}:,\"a1 \n]{0,40}") {
        if let Err(err) = check(DataFormat::Json, &content, &SMALL) {
            prop_assert!(err.line >= 1 && err.line as usize <= content.lines().count().max(1) + 1);
            prop_assert!(err.column >= 1);
        }
    }
}
