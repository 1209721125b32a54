//! One run drawn over time (SVG): backlog, tasks, latency.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use super::model::Sample;

struct Line<'a> {
    label: &'a str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

pub(crate) fn draw(path: &Path, title: &str, series: &[Sample]) -> anyhow::Result<()> {
    let hours = |sample: &Sample| sample.at / 3600.0;
    let line = |label, color, value: &dyn Fn(&Sample) -> f64| Line {
        label,
        color,
        points: series
            .iter()
            .map(|sample| (hours(sample), value(sample)))
            .collect(),
    };
    let panels = [
        (
            "messages",
            vec![
                line("waiting (visible)", BLUE, &|s| s.backlog as f64),
                line("in flight", CYAN, &|s| f64::from(s.in_flight)),
            ],
        ),
        (
            "Bayko tasks",
            vec![
                line("receiving", GREEN, &|s| f64::from(s.running)),
                line("desired", RED, &|s| f64::from(s.desired)),
            ],
        ),
        (
            "latency (s)",
            vec![line("slowest finished in the period", MAGENTA, &|s| {
                s.worst_latency.unwrap_or(0.0)
            })],
        ),
    ];
    let end = series.last().map_or(1.0, hours);

    let root = SVGBackend::new(path, (1000, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    for (area, (unit, lines)) in root.split_evenly((panels.len(), 1)).iter().zip(&panels) {
        let top = lines
            .iter()
            .flat_map(|line| line.points.iter().map(|&(_, y)| y))
            .fold(1.0, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..end, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("hours")
            .y_desc(*unit)
            .draw()?;
        for line in lines {
            let color = line.color;
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), color))?
                .label(line.label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
