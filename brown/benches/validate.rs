//! The validator on a typical request and on one with every field wrong (all problems are
//! collected, so the invalid one is the worst case).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn validator(c: &mut Criterion) {
    let valid = json!({
        "input": "Process quarterly data analysis request",
        "data": {"format": "csv", "content": "quarter,region,revenue\n2025-Q1,north,100\n2025-Q2,north,120\n"},
        "tools": ["data-processor", "compliance-scanner"],
        "metadata": {"team": "finance", "source": "bench"},
    });
    let invalid = json!({
        "input": " ",
        "data": {"format": "xlsx", "content": ""},
        "tools": ["Not A Tool!"],
        "metadata": {"": "empty key"},
        "unexpected": true,
    });
    c.bench_function("validate/valid", |b| {
        b.iter(|| brown::validate::task_request(black_box(&valid)))
    });
    c.bench_function("validate/invalid", |b| {
        b.iter(|| brown::validate::task_request(black_box(&invalid)))
    });
}

criterion_group!(benches, validator);
criterion_main!(benches);
