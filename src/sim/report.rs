//! A simulation's report, read back from the database the run wrote: CSV files, SVG charts
//! drawn by the binary (plotters, no JavaScript, nothing fetched) and an `index.html` that
//! shows them. It names no database id and no wall-clock time, so the same seed gives the same
//! bytes. `sla.csv` is what `GET /api/v1/reports/sla?format=csv` answers for the period.

use super::Settings;
use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::report;
use crate::domain::reference::BranchTimeZone;
use crate::domain::registry::RegistryKind;
use crate::domain::shipment::{ShipmentKind, ShipmentState};
use crate::reports::charts::{self, finish, plot_error, swatch};
use crate::reports::sla::{SlaLine, sla_csv};
use anyhow::{Context, anyhow};
use chrono::{DateTime, Days, NaiveDate, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The numbers of a run, as written.
pub struct Report {
    pub sla: Vec<SlaLine>,
    /// (day, branch) → how many shipments entered each state that day.
    pub daily: BTreeMap<(NaiveDate, String), BTreeMap<ShipmentState, u64>>,
    /// (day, branch) → applications submitted that day.
    pub submitted: BTreeMap<(NaiveDate, String), u64>,
    /// state → the seconds spent in it, sorted (4 bytes each: a national year has ~2 million).
    pub time_in_state: BTreeMap<ShipmentState, Vec<u32>>,
    /// Handovers to the State courier: local time, branch, kind, registry, envelopes.
    pub handovers: Vec<(DateTime<Utc>, String, RegistryKind, String, i64)>,
    /// (branch, kind, state) → shipments in that state at the end.
    pub outcomes: BTreeMap<(String, ShipmentKind, ShipmentState), u64>,
    /// (branch, path) → documents that left the usual path that way (issue 23).
    pub paths: BTreeMap<(String, &'static str), u64>,
    /// The pilot report over the period (issue 25): the same code path as
    /// `GET /api/v1/reports/pilot` over this database.
    pub pilot: crate::reports::pilot::PilotReport,
}

/// The paths off the usual one the report counts: a history event (and the state it left,
/// where that tells the path) with its label.
const PATHS: [(&str, Option<&str>, &str); 5] = [
    (
        "postamat_changed",
        None,
        "another postamat before placement (п.4)",
    ),
    (
        "rerouted_to_con",
        None,
        "the ЦОН instead of the postamat (п.3, 14)",
    ),
    (
        "brought_back",
        None,
        "not accepted at the point, brought back by the State courier (п.18)",
    ),
    (
        "lost",
        Some("packed"),
        "lost packed, its registry handed over without it (п.23)",
    ),
    (
        "removed_early",
        None,
        "taken out of its cell before storage ended (п.29)",
    ),
];

fn zone() -> chrono_tz::Tz {
    crate::domain::reference::BranchTimeZone::default().tz()
}

/// Reads the run's numbers from the database.
pub fn gather(conn: &mut DbConnection, settings: &Settings) -> anyhow::Result<Report> {
    let (from, to) = report::sla_period(settings.from, settings.last_day())
        .ok_or_else(|| anyhow!("the period has no local midnight"))?;
    let calendar = crate::jobs::calendar_refresh::CalendarCache::load(conn)?.current();
    let sla = report::sla(
        conn,
        &BranchScope::All,
        from,
        to,
        settings.end(),
        &calendar.calendar,
    )?
    .into_iter()
    .map(SlaLine::from)
    .collect();

    let mut daily = BTreeMap::new();
    let mut submitted = BTreeMap::new();
    for offset in 0..settings.days {
        let day = settings.from + Days::new(u64::from(offset));
        for code in &settings.branches {
            daily.insert((day, code.to_string()), BTreeMap::new());
            submitted.insert((day, code.to_string()), 0);
        }
    }
    // Each line counted on the local day it happened, in one pass over the period (the days
    // are those `sla_period` bounds: Almaty's midnights).
    let local_day = |at: DateTime<Utc>| {
        at.with_timezone(&BranchTimeZone::default().tz())
            .date_naive()
    };
    report::for_each_submission_between(conn, from, to, |branch, at| {
        *submitted.entry((local_day(at), branch)).or_insert(0) += 1;
    })?;
    report::for_each_move_between(conn, from, to, |m| {
        if let Some(state) = ShipmentState::parse(&m.to) {
            *daily
                .entry((local_day(m.occurred_at), m.branch))
                .or_insert_with(BTreeMap::new)
                .entry(state)
                .or_insert(0) += 1;
        }
    })?;

    let mut outcomes = BTreeMap::new();
    let mut time_in_state: BTreeMap<ShipmentState, Vec<u32>> = BTreeMap::new();
    report::for_each_shipments_page(conn, 500, |conn, page| {
        for s in &page {
            *outcomes
                .entry((s.branch.clone(), s.kind, s.state))
                .or_insert(0) += 1;
        }
        let ids: Vec<_> = page.iter().map(|s| s.id).collect();
        let moves = report::moves_of(conn, &ids)?;
        for shipment in moves.chunk_by(|a, b| a.shipment_id == b.shipment_id) {
            for pair in shipment.windows(2) {
                let Some(state) = ShipmentState::parse(&pair[0].to) else {
                    continue;
                };
                let seconds = (pair[1].occurred_at - pair[0].occurred_at).num_seconds();
                let seconds = u32::try_from(seconds.max(0)).unwrap_or(u32::MAX);
                time_in_state.entry(state).or_default().push(seconds);
            }
        }
        Ok(())
    })?;
    for seconds in time_in_state.values_mut() {
        seconds.sort_unstable();
    }
    let mut paths = BTreeMap::new();
    for code in &settings.branches {
        for (_, _, label) in PATHS {
            paths.insert((code.to_string(), label), 0);
        }
    }
    let events: Vec<&str> = PATHS.iter().map(|(event, _, _)| *event).collect();
    for ((branch, event, from), n) in report::events_by_branch(conn, &events)? {
        let path = PATHS
            .iter()
            .find(|(e, left, _)| *e == event && left.is_none_or(|l| from.as_deref() == Some(l)));
        if let Some((_, _, label)) = path {
            *paths.entry((branch, *label)).or_insert(0) += n;
        }
    }
    let pilot = crate::reports::pilot::gather(
        conn,
        &BranchScope::All,
        crate::reports::pilot::Request {
            first: settings.from,
            last: settings.last_day(),
            branch: None,
            now: settings.end(),
            quiet_hours: settings.dispatch.quiet_hours,
        },
        &calendar.calendar,
    )?;
    let handovers = report::handovers(conn)?
        .into_iter()
        .map(|h| (h.at, h.branch, h.kind, h.number, h.envelopes))
        .collect();
    Ok(Report {
        sla,
        daily,
        submitted,
        time_in_state,
        handovers,
        outcomes,
        paths,
        pilot,
    })
}

/// The `q` quantile (nearest rank) of sorted seconds, in hours; 0 of none.
pub fn hours(sorted: &[u32], q: f64) -> f64 {
    f64::from(crate::reports::pilot::quantile_of(sorted, q).unwrap_or(0)) / 3600.0
}

impl Report {
    pub fn entered(&self, state: ShipmentState) -> u64 {
        self.daily.values().filter_map(|m| m.get(&state)).sum()
    }

    pub fn sla_csv(&self) -> String {
        sla_csv(&self.sla)
    }

    pub fn daily_csv(&self) -> String {
        let mut out = String::from("date,branch,submitted");
        for s in ShipmentState::ALL {
            write!(out, ",{}", s.as_str()).unwrap();
        }
        out.push('\n');
        for ((day, branch), counts) in &self.daily {
            let submitted = self
                .submitted
                .get(&(*day, branch.clone()))
                .copied()
                .unwrap_or(0);
            write!(out, "{day},{branch},{submitted}").unwrap();
            for s in ShipmentState::ALL {
                write!(out, ",{}", counts.get(&s).copied().unwrap_or(0)).unwrap();
            }
            out.push('\n');
        }
        out
    }

    pub fn time_in_state_csv(&self) -> String {
        let mut out = String::from("state,samples,p50_hours,p95_hours,max_hours\n");
        for (state, seconds) in &self.time_in_state {
            writeln!(
                out,
                "{},{},{:.1},{:.1},{:.1}",
                state.as_str(),
                seconds.len(),
                hours(seconds, 0.5),
                hours(seconds, 0.95),
                hours(seconds, 1.0)
            )
            .unwrap();
        }
        out
    }

    pub fn courier_csv(&self) -> String {
        let mut out = String::from("handed_over_at,branch,kind,registry,envelopes\n");
        for (at, branch, kind, number, envelopes) in &self.handovers {
            writeln!(
                out,
                "{},{branch},{},{number},{envelopes}",
                at.with_timezone(&zone()).format("%Y-%m-%d %H:%M"),
                kind.as_str()
            )
            .unwrap();
        }
        out
    }

    pub fn paths_csv(&self) -> String {
        let mut out = String::from("branch,path,documents\n");
        for ((branch, path), n) in &self.paths {
            writeln!(out, "{branch},\"{path}\",{n}").unwrap();
        }
        out
    }

    /// Documents that left the usual path this way, all branches together.
    pub fn path_total(&self, event: &str) -> u64 {
        let Some((_, _, label)) = PATHS.iter().find(|(e, _, _)| *e == event) else {
            return 0;
        };
        self.paths
            .iter()
            .filter(|((_, path), _)| path == label)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn outcomes_csv(&self) -> String {
        let mut out = String::from("branch,kind,state,shipments\n");
        for ((branch, kind, state), n) in &self.outcomes {
            writeln!(out, "{branch},{},{},{n}", kind.as_str(), state.as_str()).unwrap();
        }
        out
    }
}

/// Writes the CSV files, the charts and `index.html` into `dir`.
pub fn write(report: &Report, settings: &Settings, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let files = [
        ("sla.csv", report.sla_csv()),
        ("daily.csv", report.daily_csv()),
        ("time_in_state.csv", report.time_in_state_csv()),
        ("courier_load.csv", report.courier_csv()),
        ("outcomes.csv", report.outcomes_csv()),
        ("paths.csv", report.paths_csv()),
        ("daily.svg", daily_chart(report, settings)?),
        ("courier_load.svg", courier_chart(report, settings)?),
        (
            "sla.svg",
            charts::sla_chart(&report.sla, &charts::SlaChartText::ENGLISH)?,
        ),
        ("index.html", html(report, settings)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    crate::reports::pilot::write_files(&report.pilot, &dir.join("pilot"))?;
    Ok(())
}

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
fn daily_chart(report: &Report, settings: &Settings) -> anyhow::Result<String> {
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
fn courier_chart(report: &Report, settings: &Settings) -> anyhow::Result<String> {
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

fn table(head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Markup {
    html! {
        table {
            @if !head.is_empty() {
                thead { tr { @for h in head { th { (h) } } } }
            }
            tbody {
                @for row in rows {
                    tr { @for cell in row { td { (cell) } } }
                }
            }
        }
    }
}

/// The report's one stylesheet.
const STYLE: &str = "
body { font-family: sans-serif; margin: 2em; color: #111; max-width: 1000px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #999; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child, td:nth-child(2) { text-align: left; }
img { max-width: 100%; border: 1px solid #ccc; }
@media print { body { margin: 0; } h2 { break-before: page; } img { break-inside: avoid; } }
";

fn html(report: &Report, settings: &Settings) -> String {
    let fm = if settings.force_majeure.is_empty() {
        "none".to_owned()
    } else {
        settings
            .force_majeure
            .iter()
            .map(|f| format!("{} {}..{}", f.branch, f.first, f.last))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let r = &settings.rates;
    let originals: u64 = report
        .outcomes
        .iter()
        .filter(|((_, kind, _), _)| *kind == ShipmentKind::Original)
        .map(|(_, n)| n)
        .sum();
    let duplicates: u64 = report
        .outcomes
        .iter()
        .filter(|((_, kind, _), _)| *kind == ShipmentKind::Duplicate)
        .map(|(_, n)| n)
        .sum();
    let summary = table(
        &[],
        [
            vec![
                "Period".into(),
                format!(
                    "{} – {} ({} days)",
                    settings.from,
                    settings.last_day(),
                    settings.days
                ),
            ],
            vec![
                "Branches".into(),
                settings
                    .branches
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ],
            vec![
                "Applications a day, per branch".into(),
                settings.per_day.to_string(),
            ],
            vec!["Seed".into(), settings.seed.to_string()],
            vec!["Force majeure".into(), fm],
            vec![
                "Rates".into(),
                format!(
                    "ЦОН {:.2}, registry delay {:.2}, courier late {:.2}, placement late {:.2} (delay reported {:.2}), no-show {:.2}, late collection {:.2}, loss {:.3}, dispute {:.2}, ЦОН no-show {:.2}, lost after sealing {:.3}, not accepted {:.3}, postamat change {:.3}, ЦОН instead {:.3}, removed early {:.3}",
                    r.con_share,
                    r.registry_delay,
                    r.courier_late,
                    r.placement_late,
                    r.delay_reported,
                    r.no_show,
                    r.late_collection,
                    r.loss,
                    r.dispute,
                    r.con_no_show,
                    r.lost_after_sealing,
                    r.not_accepted,
                    r.postamat_change,
                    r.con_instead,
                    r.removed_early
                ),
            ],
            vec![
                "Applications".into(),
                report.submitted.values().sum::<u64>().to_string(),
            ],
            vec!["Documents (originals)".into(), originals.to_string()],
            vec![
                "Collected from a postamat".into(),
                report.entered(ShipmentState::Collected).to_string(),
            ],
            vec![
                "Issued at the ЦОН".into(),
                report.entered(ShipmentState::IssuedAtCon).to_string(),
            ],
            vec![
                "Returned to Kaspi's point (п.30–31)".into(),
                report
                    .entered(ShipmentState::ReturnedToKaspiPoint)
                    .to_string(),
            ],
            vec![
                "Lost (п.22–23)".into(),
                report.entered(ShipmentState::Lost).to_string(),
            ],
            vec!["Free duplicates (п.26)".into(), duplicates.to_string()],
            vec![
                "Handovers to the State courier".into(),
                report.handovers.len().to_string(),
            ],
        ],
    );
    let sla = table(
        &[
            "branch",
            "deadline",
            "met on time",
            "met late",
            "breached",
            "pending",
            "cancelled",
        ],
        report.sla.iter().map(|l| {
            vec![
                l.branch.clone(),
                format!("{} ({})", l.deadline.as_str(), l.deadline.clause()),
                l.met_on_time.to_string(),
                l.met_late.to_string(),
                l.breached_open.to_string(),
                l.pending.to_string(),
                l.cancelled.to_string(),
            ]
        }),
    );
    let times = table(
        &[
            "state",
            "documents",
            "p50 (hours)",
            "p95 (hours)",
            "max (hours)",
        ],
        report.time_in_state.iter().map(|(state, seconds)| {
            vec![
                state.as_str().to_owned(),
                seconds.len().to_string(),
                format!("{:.1}", hours(seconds, 0.5)),
                format!("{:.1}", hours(seconds, 0.95)),
                format!("{:.1}", hours(seconds, 1.0)),
            ]
        }),
    );
    let mut load: BTreeMap<String, (usize, i64, i64)> = BTreeMap::new();
    for h in report
        .handovers
        .iter()
        .filter(|h| h.2 == RegistryKind::KaspiHandoff)
    {
        let e = load.entry(h.1.clone()).or_default();
        e.0 += 1;
        e.1 += h.4;
        e.2 = e.2.max(h.4);
    }
    let courier = table(
        &[
            "branch",
            "handovers",
            "envelopes",
            "mean per handover",
            "largest",
        ],
        load.iter().map(|(b, (n, total, max))| {
            vec![
                b.clone(),
                n.to_string(),
                total.to_string(),
                format!("{:.1}", *total as f64 / (*n).max(1) as f64),
                max.to_string(),
            ]
        }),
    );
    let paths = table(
        &["branch", "path", "documents"],
        report
            .paths
            .iter()
            .map(|((b, path), n)| vec![b.clone(), (*path).to_owned(), n.to_string()]),
    );
    let outcomes = table(
        &["branch", "kind", "state", "shipments"],
        report.outcomes.iter().map(|((b, k, s), n)| {
            vec![
                b.clone(),
                k.as_str().to_owned(),
                s.as_str().to_owned(),
                n.to_string(),
            ]
        }),
    );
    let (from, to) = (settings.from, settings.last_day());
    let csv = |name: &str| html! { a href=(name) { (name) } };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "postamat simulation " (from) " – " (to) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "A simulated pilot period, " (from) " – " (to) }
                p {
                    "Every application below went through the service's own workflows with a \
                     simulated clock; the sweeper and the dispatcher ran every simulated hour. \
                     Deadlines follow the order's clauses and Kazakhstan's working-day calendar. \
                     Files: "
                    (csv("sla.csv")) ", " (csv("daily.csv")) ", " (csv("time_in_state.csv")) ", "
                    (csv("courier_load.csv")) ", " (csv("outcomes.csv")) ", " (csv("paths.csv")) "."
                }
                (summary)
                h2 { "Deadlines (SLA)" }
                p {
                    "Deadlines falling due from " (from) " to " (to) "; the same numbers as "
                    code { "GET /api/v1/reports/sla?from=" (from) "&to=" (to) }
                    " on this database."
                }
                img src="sla.svg" alt="Deadlines due in the period by kind: met on time, met late, breached, pending, cancelled";
                (sla)
                h2 { "Daily volumes" }
                p {
                    "Documents entering each state per day (per branch in " (csv("daily.csv"))
                    "): working days, weekends and holidays show in the intake and courier lines."
                }
                img src="daily.svg" alt="Documents entering each state per day";
                h2 { "The State courier's load" }
                img src="courier_load.svg" alt="Envelopes per handover to the State courier";
                (courier)
                h2 { "Time in each state" }
                (times)
                h2 { "Off the usual path" }
                p {
                    "Documents that took a way the order does not spell out, each through its \
                     workflow (" code { "docs/exceptions.md" } ")."
                }
                (paths)
                h2 { "Where the documents are at the end" }
                (outcomes)
            }
        }
    }
    .into_string()
}
