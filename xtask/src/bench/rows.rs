//! The data-processor on a generated CSV of the most rows a task may have, timed from reading the file to the
//! finished analysis (as pandas is timed).

use std::{fmt::Write, fs, path::Path, time::Instant};

use anyhow::Context;
use bayko::analysers::{TabularFormat, analyse};
use rand::{Rng, SeedableRng, rngs::StdRng};

const REGIONS: [&str; 4] = ["north", "south", "east", "west"];
const PRODUCTS: [&str; 5] = ["widgets", "gadgets", "gizmos", "doohickeys", "sprockets"];

/// Writes a quarterly sales table of `rows` rows (a few nulls in `cost`) to `path`, once.
pub(crate) fn generate(path: &Path, rows: usize) -> anyhow::Result<()> {
    if fs::metadata(path).is_ok_and(|meta| meta.len() > 0) {
        return Ok(());
    }
    let mut rng = StdRng::seed_from_u64(13);
    let mut csv = String::with_capacity(rows * 48);
    csv.push_str("quarter,region,product,units,revenue,cost\n");
    for _ in 0..rows {
        let year = rng.random_range(2019..2026);
        let quarter = rng.random_range(1..=4);
        let units: u32 = rng.random_range(1..500);
        let revenue = f64::from(units) * rng.random_range(5.0..50.0);
        let _ = write!(
            csv,
            "{year}-Q{quarter},{},{},{units},{revenue:.2},",
            REGIONS[rng.random_range(0..REGIONS.len())],
            PRODUCTS[rng.random_range(0..PRODUCTS.len())],
        );
        if rng.random_bool(0.02) {
            csv.push_str("NA\n");
        } else {
            let _ = writeln!(csv, "{:.2}", revenue * rng.random_range(0.3..0.9));
        }
    }
    fs::write(path, csv).with_context(|| format!("writing {}", path.display()))
}

/// (rows, seconds) for Bayko's data-processor over the file.
pub(crate) fn data_processor(path: &Path) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let content =
        fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let analysis = analyse(TabularFormat::Csv, &content, &[]).context("the data-processor")?;
    Ok((analysis.rows, started.elapsed().as_secs_f64()))
}
