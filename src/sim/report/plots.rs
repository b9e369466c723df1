//! The run's own charts (documents per day by state, the State courier's load), drawn by
//! plotters as SVG.

use super::{Report, zone};
use crate::domain::registry::RegistryKind;
use crate::domain::shipment::ShipmentState;
use crate::reports::charts::{finish, plot_error, swatch};
use crate::sim::Settings;
use chrono::Days;
use plotters::prelude::*;

const SERIES: [(ShipmentState, RGBColor); 6] = [
    (ShipmentState::AtAccumulationSector, RGBColor(31, 119, 180)),
    (ShipmentState::HandedToCourier, RGBColor(255, 127, 14)),
    (ShipmentState::PlacedInCell, RGBColor(44, 160, 44)),
    (ShipmentState::Collected, RGBColor(23, 190, 207)),
    (ShipmentState::ReturnedToKaspiPoint, RGBColor(214, 39, 40)),
    (ShipmentState::IssuedAtCon, RGBColor(148, 103, 189)),
];

/// A chart line: its name, colour and points.
type Series<'a> = (&'a str, RGBColor, Vec<(i32, u64)>);

/// Documents entering the main states each day, all branches together.
pub(super) fn daily_chart(report: &Report, settings: &Settings) -> anyhow::Result<String> {
    let days = settings.days as i32;
    let per_day = |state: ShipmentState| -> Vec<(i32, u64)> {
        (0..days)
            .map(|i| {
                let day = settings.from + Days::new(i as u64);
                let n = report
                    .daily
                    .range((day, String::new())..)
                    .take_while(|((d, _), _)| *d == day)
                    .filter_map(|(_, m)| m.get(&state))
                    .sum();
                (i, n)
            })
            .collect()
    };
    let mut series: Vec<Series> = vec![(
        "submitted",
        RGBColor(127, 127, 127),
        (0..days)
            .map(|i| {
                let day = settings.from + Days::new(i as u64);
                let n = report
                    .submitted
                    .range((day, String::new())..)
                    .take_while(|((d, _), _)| *d == day)
                    .map(|(_, n)| n)
                    .sum();
                (i, n)
            })
            .collect(),
    )];
    series.extend(SERIES.iter().map(|(s, c)| (s.as_str(), *c, per_day(*s))));
    let top = series
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|p| p.1))
        .max()
        .unwrap_or(1)
        .max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Applications submitted and documents entering each state, per day (all branches)",
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0..(days - 1).max(1), 0..(top + top / 10 + 1))
            .map_err(plot_error)?;
        let from = settings.from;
        chart
            .configure_mesh()
            .x_labels(10)
            .x_label_formatter(&|i| (from + Days::new(*i as u64)).format("%d.%m").to_string())
            .y_desc("documents")
            .draw()
            .map_err(plot_error)?;
        for (name, color, points) in series {
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        finish(chart, &root, SeriesLabelPosition::UpperRight)?;
    }
    Ok(svg)
}

const BRANCH_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Envelopes per handover to the State courier, per day and branch (handoff registries).
pub(super) fn courier_chart(report: &Report, settings: &Settings) -> anyhow::Result<String> {
    let days = settings.days as i32;
    let top = report
        .handovers
        .iter()
        .map(|h| h.4)
        .max()
        .unwrap_or(1)
        .max(1);
    let branches: Vec<String> = settings.branches.iter().map(|b| b.to_string()).collect();
    let width = 1.0 / (branches.len() as f64 + 1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Envelopes per handover to the State courier (Kaspi handoff registries)",
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..(days as f64 + 1.0), 0i64..(top + top / 10 + 1))
            .map_err(plot_error)?;
        let from = settings.from;
        chart
            .configure_mesh()
            .x_labels(10)
            .x_label_formatter(&|x| {
                (from + Days::new(x.max(0.0) as u64))
                    .format("%d.%m")
                    .to_string()
            })
            .y_desc("envelopes")
            .draw()
            .map_err(plot_error)?;
        for (i, branch) in branches.iter().enumerate() {
            let color = BRANCH_COLORS[i % BRANCH_COLORS.len()];
            let bars = report
                .handovers
                .iter()
                .filter(|h| &h.1 == branch && h.2 == RegistryKind::KaspiHandoff)
                .map(|h| {
                    let day = (h.0.with_timezone(&zone()).date_naive() - from).num_days() as f64;
                    let x = day + width * i as f64 + width / 2.0;
                    Rectangle::new([(x, 0), (x + width, h.4)], color.filled())
                });
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(branch.as_str())
                .legend(swatch(color));
        }
        finish(chart, &root, SeriesLabelPosition::UpperRight)?;
    }
    Ok(svg)
}
