//! The two CPU-bound built-in tools: the data-processor on a 10,000-row CSV and the compliance
//! scanner on a 64 KiB document with a finding every few lines.

use std::{fmt::Write, hint::black_box};

use bayko::analysers::{TabularFormat, analyse, compliance};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn quarterly_csv(rows: usize) -> String {
    let regions = ["north", "south", "east", "west"];
    let mut csv = String::from("quarter,region,units,revenue,cost\n");
    for row in 0..rows {
        let _ = writeln!(
            csv,
            "{}-Q{},{},{},{:.2},{}",
            2020 + row % 6,
            1 + row % 4,
            regions[row % regions.len()],
            row % 500,
            (row % 977) as f64 * 3.25,
            if row % 50 == 0 {
                "NA".to_owned()
            } else {
                format!("{:.2}", (row % 613) as f64 * 1.5)
            }
        );
    }
    csv
}

fn document(bytes: usize) -> String {
    let lines = [
        "The quarterly review covers revenue, costs and the outlook for next year.",
        "Contact jane.doe@example.com or call +44 20 7946 0958 for the raw figures.",
        "Payments went to GB82 WEST 1234 5698 7654 32 and card 4111 1111 1111 1111.",
        "Nothing sensitive on this line, only words about growth and margins.",
        "A leaked key AKIAIOSFODNN7EXAMPLE was rotated after the incident.",
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

fn data_processor(c: &mut Criterion) {
    let rows = 10_000;
    let csv = quarterly_csv(rows);
    let mut group = c.benchmark_group("data-processor");
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("csv/10k-rows", |b| {
        b.iter(|| analyse(TabularFormat::Csv, black_box(&csv), &[]).expect("valid CSV"))
    });
    group.finish();
}

fn compliance_scanner(c: &mut Criterion) {
    let text = document(64 * 1024);
    let mut group = c.benchmark_group("compliance-scanner");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("scan/64KiB", |b| {
        b.iter(|| compliance::scan(black_box(&text)))
    });
    group.bench_function("redact/64KiB", |b| {
        b.iter(|| compliance::redact(black_box(&text)))
    });
    group.finish();
}

criterion_group!(benches, data_processor, compliance_scanner);
criterion_main!(benches);
