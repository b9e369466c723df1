//! A simulation's report, read back from the database the run wrote: CSV files, SVG charts
//! drawn by the binary (plotters, no JavaScript, nothing fetched) and an `index.html` that
//! shows them. It names no database id and no wall-clock time, so the same seed gives the same
//! bytes. `sla.csv` is what `GET /api/v1/reports/sla?format=csv` answers for the period.

mod page;
mod plots;

use super::Settings;
use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::report;
use crate::domain::reference::BranchTimeZone;
use crate::domain::registry::RegistryKind;
use crate::domain::shipment::{ShipmentKind, ShipmentState};
use crate::reports::charts::{self};
use crate::reports::sla::{SlaLine, sla_csv};
use anyhow::{Context, anyhow};
use chrono::{DateTime, Days, NaiveDate, Utc};
use page::html;
use plots::{courier_chart, daily_chart};
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
