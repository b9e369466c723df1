//! Charts drawn by the binary as SVG (plotters' SVG backend, its own text layout: no fonts,
//! no script, no network): the console's SLA page and `postamat simulate`'s report share them.

use crate::domain::deadline::DeadlineKind;
use crate::reports::sla::SlaLine;
use anyhow::anyhow;
use plotters::prelude::*;

/// A chart's words, in the reader's language.
pub struct SlaChartText<'a> {
    pub caption: &'a str,
    pub y_desc: &'a str,
    /// Met on time, met late, breached, pending, cancelled.
    pub parts: [&'a str; 5],
    pub kind_name: &'a dyn Fn(DeadlineKind) -> &'a str,
}

impl SlaChartText<'static> {
    /// The simulation report's.
    pub const ENGLISH: SlaChartText<'static> = SlaChartText {
        caption: "Deadlines due in the period, by kind",
        y_desc: "deadlines",
        parts: [
            "met on time",
            "met late",
            "breached",
            "pending",
            "cancelled",
        ],
        kind_name: &|k| k.as_str(),
    };
}

pub fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// A legend's colour swatch.
pub fn swatch(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
}

/// Draws the legend in a framed box and finishes the drawing.
pub fn finish<'a, 'b: 'a, CT>(
    mut chart: ChartContext<'a, SVGBackend<'b>, CT>,
    root: &DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)
}

/// Deadlines falling due in the period, by kind: met on time, met late, breached, pending,
/// cancelled (all branches).
pub fn sla_chart(lines: &[SlaLine], text: &SlaChartText<'_>) -> anyhow::Result<String> {
    let kinds: Vec<DeadlineKind> = DeadlineKind::ALL
        .iter()
        .copied()
        .filter(|k| lines.iter().any(|l| l.deadline == *k))
        .collect();
    let totals: Vec<[i64; 5]> = kinds
        .iter()
        .map(|k| {
            lines
                .iter()
                .filter(|l| l.deadline == *k)
                .fold([0; 5], |mut t, l| {
                    for (i, n) in [
                        l.met_on_time,
                        l.met_late,
                        l.breached_open,
                        l.pending,
                        l.cancelled,
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        t[i] += n;
                    }
                    t
                })
        })
        .collect();
    let top = totals
        .iter()
        .map(|t| t.iter().sum::<i64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let colors = [
        RGBColor(44, 160, 44),
        RGBColor(255, 187, 120),
        RGBColor(214, 39, 40),
        RGBColor(174, 199, 232),
        RGBColor(127, 127, 127),
    ];
    let parts: Vec<(&str, RGBColor)> = text.parts.iter().copied().zip(colors).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let n = kinds.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(text.caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..n, 0i64..(top + top / 10 + 1))
            .map_err(plot_error)?;
        let names: Vec<&str> = kinds.iter().map(|k| (text.kind_name)(*k)).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(kinds.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.26 {
                    names.get(i).copied().unwrap_or("").to_owned()
                } else {
                    String::new()
                }
            })
            .y_desc(text.y_desc)
            .draw()
            .map_err(plot_error)?;
        for (p, (name, color)) in parts.iter().enumerate() {
            let bars = totals.iter().enumerate().map(move |(i, t)| {
                let below: i64 = t[..p].iter().sum();
                let x = i as f64;
                Rectangle::new(
                    [(x + 0.15, below), (x + 0.85, below + t[p])],
                    color.filled(),
                )
            });
            let color = *color;
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(*name)
                .legend(swatch(color));
        }
        finish(chart, &root, SeriesLabelPosition::UpperRight)?;
    }
    Ok(svg)
}

/// A bar per named value, each labelled with its value (the pilot report's volumes and times).
pub fn bars(caption: &str, y_desc: &str, values: &[(&str, f64)]) -> anyhow::Result<String> {
    let top = values
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0f64, f64::max)
        .max(1.0);
    let color = RGBColor(31, 119, 180);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let n = values.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..n, 0f64..(top * 1.15))
            .map_err(plot_error)?;
        let names: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(values.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.26 {
                    names.get(i).copied().unwrap_or("").to_owned()
                } else {
                    String::new()
                }
            })
            .y_desc(y_desc)
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, (_, v))| {
                let x = i as f64;
                Rectangle::new([(x + 0.2, 0.0), (x + 0.8, *v)], color.filled())
            }))
            .map_err(plot_error)?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, (_, v))| {
                let label = if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                };
                Text::new(
                    label,
                    (i as f64 + 0.35, *v + top * 0.03),
                    ("sans-serif", 14),
                )
            }))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
