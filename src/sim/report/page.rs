//! `index.html`: the run's settings and figures, with its charts and CSV files linked.

use super::{Report, hours};
use crate::domain::registry::RegistryKind;
use crate::domain::shipment::{ShipmentKind, ShipmentState};
use crate::sim::Settings;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::BTreeMap;

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

pub(super) fn html(report: &Report, settings: &Settings) -> String {
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
