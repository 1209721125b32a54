//! The analysers' memory, measured by a counting allocator: on every shape of input, the
//! bytes live at the peak of an analysis stay under [`K`] × the input's size, or the analysis
//! refuses the input with a reason. The input itself is not counted (it is the caller's).
//!
//! K = 24. What the data-processor holds per cell: its text once (at most the cell's own
//! bytes), an 8-byte range, an 8-byte number when the column is numeric and 8 more while a
//! column's statistics are computed, against at least 2 bytes of CSV (`1,`) or 6 of JSON
//! (`"a":1,`) per cell; a JSON table with more cells than bytes is refused as too sparse.
//! Measured on this input set: about 12 for 256 one-digit columns and 14 for the sparse JSON
//! at the moment it is refused (see the printed ratios); the old dense reader took 3.4 GiB
//! for that one.
//!
//! One test, so that nothing else allocates while it measures (the allocator's counters are
//! global to the process).

use std::fmt::Write;

use bayko::analysers::{DocumentOptions, TabularFormat, analyse, compliance, document};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// Most bytes live at once during an analysis, per byte of input.
const K: usize = 24;

/// Bytes allocated and still live at the peak of `work`, above what was live before it.
fn peak_of<T>(work: impl FnOnce() -> T) -> (usize, T) {
    ALLOCATOR.reset_peak_usage();
    let before = ALLOCATOR.current_usage();
    let result = work();
    (ALLOCATOR.peak_usage().saturating_sub(before), result)
}

fn quarterly_csv(rows: usize) -> String {
    let regions = ["north", "south", "east", "west"];
    let mut csv = String::from("quarter,region,units,revenue,cost\n");
    for row in 0..rows {
        let _ = writeln!(
            csv,
            "{}-Q{},{},{},{:.2},{}",
            2019 + row % 7,
            1 + row % 4,
            regions[row % 4],
            row % 500,
            (row % 977) as f64 * 3.25,
            if row % 50 == 0 { "NA" } else { "12.5" }
        );
    }
    csv
}

fn quarterly_json(rows: usize) -> String {
    let objects: Vec<String> = (0..rows)
        .map(|row| {
            format!(
                r#"{{"quarter":"{}-Q{}","region":"r{}","units":{},"revenue":{}.25}}"#,
                2019 + row % 7,
                1 + row % 4,
                row % 4,
                row % 500,
                row % 977
            )
        })
        .collect();
    format!("[{}]", objects.join(","))
}

/// 256 one-character numeric columns: the fewest bytes per cell CSV allows.
fn wide_csv(rows: usize) -> String {
    let header: Vec<String> = (0..256).map(|i| format!("c{i}")).collect();
    let row = vec!["7"; 256].join(",");
    let mut csv = header.join(",");
    for _ in 0..rows {
        csv.push('\n');
        csv.push_str(&row);
    }
    csv
}

/// Unique text in every row: as many groups (up to the cap) as rows.
fn unique_ids_csv(rows: usize) -> String {
    let mut csv = String::from("id,day,amount\n");
    for row in 0..rows {
        let _ = writeln!(
            csv,
            "user{row}@example.com,{}-{:02}-{:02},{row}",
            2000 + row / 336 % 100,
            1 + row / 28 % 12,
            1 + row % 28
        );
    }
    csv
}

/// Objects that each have 8 of 32 keys: sparse, but with more bytes than cells.
fn sparse_json(rows: usize) -> String {
    let mut objects = Vec::with_capacity(rows);
    for row in 0..rows {
        let first = row % 4 * 8;
        let keys: Vec<String> = (first..first + 8)
            .map(|k| format!(r#""k{k}":{row}"#))
            .collect();
        objects.push(format!("{{{}}}", keys.join(",")));
    }
    format!("[{}]", objects.join(","))
}

/// One object with 256 keys, then empty objects: the case that took 3.4 GiB.
fn sparse_json_refused(rows: usize) -> String {
    let keys: Vec<String> = (0..256).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let mut json = format!("[{{{}}}", keys.join(","));
    for _ in 1..rows {
        json.push_str(",{}");
    }
    json.push(']');
    json
}

/// Every row holds a value nested as deep as the shared limit allows (32 with the array and
/// the object around it).
fn deep_json(rows: usize) -> String {
    let nested = format!("{}1{}", "[".repeat(29), "]".repeat(29));
    let objects: Vec<String> = (0..rows)
        .map(|row| format!(r#"{{"n":{row},"deep":{nested}}}"#))
        .collect();
    format!("[{}]", objects.join(","))
}

fn document_text(bytes: usize) -> String {
    let lines = [
        "The quarterly review covers revenue, costs and the outlook for next year.",
        "Contact jane.doe@example.com or call +44 20 7946 0958 for the raw figures.",
        "# Outlook",
        "Payments went to GB82 WEST 1234 5698 7654 32 and card 4111 1111 1111 1111.",
        "",
    ];
    let mut text = String::with_capacity(bytes);
    while text.len() < bytes {
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// Whether the analysis gave a result or which reason it refused with.
enum Verdict {
    Analysed,
    Refused(String),
}

fn data(format: TabularFormat, content: &str) -> (usize, Verdict) {
    let (peak, result) = peak_of(|| analyse(format, content, &[]));
    let verdict = match result {
        Ok(_) => Verdict::Analysed,
        Err(error) => Verdict::Refused(error.to_string()),
    };
    (peak, verdict)
}

#[test]
fn analysers_stay_within_k_times_their_input_or_refuse() {
    let cases: Vec<(&str, TabularFormat, String, bool)> = vec![
        (
            "normal csv",
            TabularFormat::Csv,
            quarterly_csv(50_000),
            true,
        ),
        (
            "normal json",
            TabularFormat::Json,
            quarterly_json(20_000),
            true,
        ),
        ("wide csv", TabularFormat::Csv, wide_csv(3_000), true),
        (
            "unique ids and days",
            TabularFormat::Csv,
            unique_ids_csv(40_000),
            true,
        ),
        (
            "sparse json",
            TabularFormat::Json,
            sparse_json(10_000),
            true,
        ),
        (
            "sparse json, refused",
            TabularFormat::Json,
            sparse_json_refused(100_000),
            false,
        ),
        ("deep json", TabularFormat::Json, deep_json(5_000), true),
    ];
    let mut worst = 0.0_f64;
    for (name, format, content, accepted) in &cases {
        let (peak, verdict) = data(*format, content);
        let ratio = peak as f64 / content.len() as f64;
        worst = worst.max(ratio);
        println!(
            "{name}: {} bytes in, peak {peak} bytes live, {ratio:.2}×",
            content.len()
        );
        match (verdict, accepted) {
            (Verdict::Analysed, true) => {}
            (Verdict::Refused(reason), false) => {
                assert!(reason.contains("too sparse"), "{name}: {reason}");
            }
            (Verdict::Analysed, false) => panic!("{name}: should have been refused"),
            (Verdict::Refused(reason), true) => panic!("{name}: refused: {reason}"),
        }
        assert!(
            peak <= K * content.len(),
            "{name}: {peak} bytes live at the peak, over {K} × {} bytes of input",
            content.len()
        );
    }

    let text = document_text(1_000_000);
    let (peak, findings) = peak_of(|| compliance::scan(&text));
    assert!(!findings.is_empty());
    println!(
        "compliance scan: peak {peak} bytes for {} bytes",
        text.len()
    );
    assert!(peak <= K * text.len(), "compliance scan: {peak} bytes");
    let (peak, analysis) = peak_of(|| document::process(&text, &DocumentOptions::default()));
    assert!(analysis.is_ok());
    println!("document: peak {peak} bytes for {} bytes", text.len());
    assert!(peak <= K * text.len(), "document: {peak} bytes");
    println!("worst data-processor ratio: {worst:.2}×");
    // A reason, not a crash, for what is over the limits.
    let (_, verdict) = data(TabularFormat::Json, &sparse_json_refused(400_000));
    assert!(matches!(verdict, Verdict::Refused(reason) if reason.contains("rows")));
}
