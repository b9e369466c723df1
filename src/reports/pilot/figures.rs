//! Each table's figures from the counts read back (per branch, then the `all` row that adds
//! them up).

use super::ALL;
use super::tables::{
    Deadlines, Disputes, Duplicates, ForceMajeureDays, Headline, Losses, Messages, Requests,
    Returns, TimeToCitizen, Volumes,
};
use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::force_majeure;
use crate::db::models::pilot::{self as stored, Count, Span};
use crate::domain::calendar::Calendar;
use crate::domain::force_majeure::{NoticeStanding, notice_standing};
use crate::domain::notification::quiet_until;
use crate::domain::reference::BranchTimeZone;
use crate::reports::sla::{self};
use chrono::{DateTime, NaiveTime, Utc};
use std::collections::BTreeMap;

/// Adds the named counts of a branch's row `r` to the total `t`.
macro_rules! add {
    ($t:expr, $r:expr; $($field:ident),+) => {{
        $($t.$field += $r.$field;)+
    }};
}

/// Rows by branch, with the row that adds them up last.
fn by_branch<R: Default + Clone>(
    rows: BTreeMap<String, R>,
    name: impl Fn(&mut R, String),
    add: impl Fn(&mut R, &R),
) -> Vec<R> {
    let mut total = R::default();
    name(&mut total, ALL.to_owned());
    let mut out = Vec::with_capacity(rows.len() + 1);
    for (branch, mut row) in rows {
        add(&mut total, &row);
        name(&mut row, branch);
        out.push(row);
    }
    out.push(total);
    out
}

fn share(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}

pub(super) fn headline(rows: BTreeMap<String, Headline>) -> Vec<Headline> {
    let mut out = by_branch(
        rows,
        |r, b| r.branch = b,
        |t, r| add!(t, r; postamat_deliveries, without_exception),
    );
    for row in &mut out {
        row.share_without_exception = share(row.without_exception, row.postamat_deliveries);
    }
    out
}

fn moved(c: &Count) -> bool {
    c.b.as_deref() != c.c.as_deref()
}

pub(super) fn volumes(events: &[Count], applications: &[Count]) -> Vec<Volumes> {
    let mut rows: BTreeMap<String, Volumes> = BTreeMap::new();
    for a in applications {
        let row = rows.entry(a.branch.clone()).or_default();
        match a.a.as_str() {
            "postamat" => row.applications_postamat += a.n,
            _ => row.applications_con += a.n,
        }
    }
    for e in events {
        let row = rows.entry(e.branch.clone()).or_default();
        let to = e.c.as_deref();
        let field = match (e.a.as_str(), moved(e)) {
            ("executed", _) => &mut row.executed,
            ("intake", _) => &mut row.taken_in,
            ("accepted_at_kaspi_point", true) => &mut row.handed_to_kaspi,
            ("placed_in_cell", true) => &mut row.placed,
            ("collected", true) => &mut row.collected,
            ("issued", _) => &mut row.issued_at_con,
            ("transferred_after_storage", _) => &mut row.transferred_after_storage,
            ("postamat_changed", _) => &mut row.postamat_changed,
            ("rerouted_to_con", _) => &mut row.rerouted_to_con,
            (_, true) if to == Some("storage_expired") => &mut row.returned,
            (_, true) if to == Some("lost") => &mut row.lost,
            _ => continue,
        };
        *field += e.n;
    }
    by_branch(
        rows,
        |r, b| r.branch = b,
        |t, r| add!(t, r; applications_postamat, applications_con, executed, taken_in, handed_to_kaspi, placed, collected, returned, issued_at_con, transferred_after_storage, lost, postamat_changed, rerouted_to_con),
    )
}

/// The measures of [`TimeToCitizen`], in the order they are shown.
const MEASURES: [&str; 7] = [
    "execution_to_collection",
    "execution_to_issue",
    "execution_to_intake",
    "intake_to_handover",
    "handover_to_acceptance",
    "acceptance_to_placement",
    "placement_to_collection",
];

/// The whole seconds from `from` to `to` (none before `from`; a leg of over 136 years would
/// read as 136).
pub(super) fn seconds(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<u32> {
    let (from, to) = (from?, to?);
    Some(u32::try_from((to - from).num_seconds().max(0)).unwrap_or(u32::MAX))
}

/// The `q` quantile of sorted values (nearest rank); none of none.
pub fn quantile_of<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()).checked_sub(1)?).copied()
}

fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(super) fn time_to_citizen(legs: BTreeMap<(String, usize), Vec<u32>>) -> Vec<TimeToCitizen> {
    let row = |branch: String, measure: usize, seconds: &mut Vec<u32>| {
        seconds.sort_unstable();
        let hours = |q: f64| {
            let s = quantile_of(seconds, q).unwrap_or(0);
            tenth(f64::from(s) / 3600.0)
        };
        TimeToCitizen {
            branch,
            measure: MEASURES[measure].to_owned(),
            documents: seconds.len() as i64,
            p50_hours: hours(0.5),
            p90_hours: hours(0.9),
            max_hours: hours(1.0),
        }
    };
    // Every branch's legs of a measure, for its total, gathered before its branches' go.
    let mut all: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for ((_, measure), seconds) in &legs {
        all.entry(*measure).or_default().extend_from_slice(seconds);
    }
    let mut rows: Vec<TimeToCitizen> = Vec::with_capacity(legs.len() + all.len());
    for ((branch, measure), mut seconds) in legs {
        rows.push(row(branch, measure, &mut seconds));
    }
    for (measure, mut seconds) in all {
        rows.push(row(ALL.to_owned(), measure, &mut seconds));
    }
    // Branches first, the total last; measures in their order.
    let order = |r: &TimeToCitizen| {
        (
            r.branch == ALL,
            r.branch.clone(),
            MEASURES.iter().position(|m| *m == r.measure),
        )
    };
    rows.sort_by_key(order);
    rows
}

pub(super) fn deadlines(lines: Vec<sla::SlaLine>) -> Vec<Deadlines> {
    let row = |branch: String, l: &sla::SlaLine| Deadlines {
        branch,
        deadline: l.deadline,
        clause: l.deadline.clause().to_owned(),
        met_on_time: l.met_on_time,
        met_late: l.met_late,
        breached: l.breached_open,
        missed_by_state_corporation: l.missed_by_state_corporation,
        missed_by_kaspi: l.missed_by_kaspi,
        missed_by_registry_office: l.missed_by_registry_office,
    };
    let mut out: Vec<Deadlines> = lines.iter().map(|l| row(l.branch.clone(), l)).collect();
    out.sort_by(|a, b| (&a.branch, a.deadline.as_str()).cmp(&(&b.branch, b.deadline.as_str())));
    let mut totals: BTreeMap<&'static str, Deadlines> = BTreeMap::new();
    for l in &lines {
        let t = totals
            .entry(l.deadline.as_str())
            .or_insert_with(|| Deadlines {
                met_on_time: 0,
                met_late: 0,
                breached: 0,
                missed_by_state_corporation: 0,
                missed_by_kaspi: 0,
                missed_by_registry_office: 0,
                ..row(ALL.to_owned(), l)
            });
        t.met_on_time += l.met_on_time;
        t.met_late += l.met_late;
        t.breached += l.breached_open;
        t.missed_by_state_corporation += l.missed_by_state_corporation;
        t.missed_by_kaspi += l.missed_by_kaspi;
        t.missed_by_registry_office += l.missed_by_registry_office;
    }
    out.extend(totals.into_values());
    out
}

pub(super) fn returns(events: &[Count], expired_now: &[Count]) -> Vec<Returns> {
    let mut rows: BTreeMap<String, Returns> = BTreeMap::new();
    for e in events.iter().filter(|e| moved(e)) {
        let row = rows.entry(e.branch.clone()).or_default();
        match (e.a.as_str(), e.c.as_deref()) {
            ("placed_in_cell", _) => row.placed += e.n,
            (_, Some("storage_expired")) => row.returned += e.n,
            _ => {}
        }
    }
    for s in expired_now {
        let row = rows.entry(s.branch.clone()).or_default();
        match s.a.as_str() {
            "collected" => row.then_collected += s.n,
            "issued_at_con" => row.then_issued_at_con += s.n,
            "transferred_after_storage" => row.then_transferred += s.n,
            "lost" | "cancelled" => row.then_lost += s.n,
            _ => row.still_on_the_way += s.n,
        }
    }
    let mut out = by_branch(
        rows,
        |r, b| r.branch = b,
        |t, r| add!(t, r; placed, returned, then_collected, then_issued_at_con, then_transferred, then_lost, still_on_the_way),
    );
    for row in &mut out {
        row.share_returned = share(row.returned, row.placed);
    }
    out
}

pub(super) fn losses(acts: &[Count]) -> Vec<Losses> {
    let mut rows: BTreeMap<(bool, String, String), Losses> = BTreeMap::new();
    for a in acts {
        for branch in [a.branch.clone(), ALL.to_owned()] {
            let row = rows
                .entry((branch == ALL, branch.clone(), a.a.clone()))
                .or_insert_with(|| Losses {
                    branch,
                    side: a.a.clone(),
                    ..Losses::default()
                });
            row.losses += a.n;
            if a.b.as_deref() == Some("drawn") {
                row.acts_drawn += a.n;
            }
        }
    }
    rows.into_values().collect()
}

pub(super) fn duplicates(deadlines: &[Count]) -> Vec<Duplicates> {
    let mut rows: BTreeMap<String, Duplicates> = BTreeMap::new();
    for d in deadlines {
        let row = rows.entry(d.branch.clone()).or_default();
        row.requested += d.n;
        match d.a.as_str() {
            "met" => row.issued_in_time += d.n,
            "met_late" => row.issued_late += d.n,
            "breached" => row.overdue += d.n,
            "pending" => row.pending += d.n,
            _ => {}
        }
    }
    by_branch(
        rows,
        |r, b| r.branch = b,
        |t, r| add!(t, r; requested, issued_in_time, issued_late, overdue, pending),
    )
}

pub(super) fn disputes(counts: &[Count]) -> Vec<Disputes> {
    let mut rows: BTreeMap<String, Disputes> = BTreeMap::new();
    for c in counts {
        let row = rows.entry(c.branch.clone()).or_default();
        row.opened += c.n;
        match c.a.as_str() {
            "settled" => row.settled += c.n,
            _ => row.open += c.n,
        }
    }
    by_branch(
        rows,
        |r, b| r.branch = b,
        |t, r| add!(t, r; opened, settled, open),
    )
}

pub(super) fn force_majeure_days(
    conn: &mut DbConnection,
    scope: &BranchScope,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> diesel::QueryResult<Vec<ForceMajeureDays>> {
    let zone = BranchTimeZone::default().tz();
    let mut rows: BTreeMap<String, ForceMajeureDays> = BTreeMap::new();
    for (period, code) in force_majeure::list(conn, scope)? {
        let starts = period.starts_at;
        let ends = period.ends_at.unwrap_or(now.max(starts));
        if ends <= from || starts >= to {
            continue;
        }
        let (a, b) = (starts.max(from), ends.min(to));
        let first = a.with_timezone(&zone).date_naive();
        let last = (b - chrono::Duration::seconds(1))
            .with_timezone(&zone)
            .date_naive();
        let row = rows
            .entry(code.unwrap_or_else(|| "national".to_owned()))
            .or_default();
        row.periods += 1;
        row.days += (last - first).num_days() + 1;
        match notice_standing(starts, period.notice_recorded_at, now, calendar) {
            Ok(NoticeStanding::InTime { .. }) => row.noticed_in_time += 1,
            Ok(NoticeStanding::Late { .. }) => row.noticed_late += 1,
            Ok(NoticeStanding::Awaited { .. } | NoticeStanding::Missing { .. }) | Err(_) => {
                row.not_noticed += 1
            }
        }
    }
    Ok(by_branch(
        rows,
        |r, b| r.branch = b,
        |t, r| add!(t, r; periods, days, noticed_in_time, noticed_late, not_noticed),
    ))
}

/// SMS written in the quiet hours of their branch's zone (held back to the morning), by
/// (branch, kind), read one SMS at a time.
pub(super) fn held_by_quiet_hours(
    conn: &mut DbConnection,
    span: Span,
    (quiet_start, quiet_end): (NaiveTime, NaiveTime),
) -> diesel::QueryResult<BTreeMap<(String, String), i64>> {
    let mut held = BTreeMap::new();
    stored::for_each_sms_written(conn, span, |s| {
        let tz: chrono_tz::Tz = s.time_zone.parse().unwrap_or(chrono_tz::Asia::Almaty);
        let local = s.created_at.with_timezone(&tz).naive_local();
        if quiet_until(local, quiet_start, quiet_end).is_some() {
            *held.entry((s.branch, s.kind)).or_insert(0) += 1;
        }
    })?;
    Ok(held)
}

pub(super) fn messages(counts: &[Count], held: &BTreeMap<(String, String), i64>) -> Vec<Messages> {
    let mut rows: BTreeMap<(bool, String, String, String), Messages> = BTreeMap::new();
    for c in counts {
        let channel = c.b.clone().unwrap_or_default();
        for branch in [c.branch.as_str(), ALL] {
            let key = (
                branch == ALL,
                branch.to_owned(),
                c.a.clone(),
                channel.clone(),
            );
            let entry = rows.entry(key).or_insert_with(|| Messages {
                branch: branch.to_owned(),
                kind: c.a.clone(),
                channel: channel.clone(),
                ..Messages::default()
            });
            let (sent, pending, dead, retried) = tally(c.c.as_deref(), c.n);
            entry.written += c.n;
            entry.sent += sent;
            entry.pending += pending;
            entry.dead += dead;
            entry.retried += retried;
        }
    }
    for ((branch, kind), n) in held {
        for b in [branch.as_str(), ALL] {
            if let Some(entry) =
                rows.get_mut(&(b == ALL, b.to_owned(), kind.clone(), "sms_1414".into()))
            {
                entry.held_by_quiet_hours += n;
            }
        }
    }
    rows.into_values().collect()
}

/// A count of messages in a state (`sent`, `pending` or `dead`, with `+retried` when tried
/// more than once) as (sent, pending, dead, retried).
fn tally(state: Option<&str>, n: i64) -> (i64, i64, i64, i64) {
    let state = state.unwrap_or("");
    let (state, retried) = match state.strip_suffix("+retried") {
        Some(state) => (state, n),
        None => (state, 0),
    };
    match state {
        "sent" => (n, 0, 0, retried),
        "dead" => (0, 0, n, retried),
        _ => (0, n, 0, retried),
    }
}

pub(super) fn requests(counts: &[Count]) -> Vec<Requests> {
    let mut rows: BTreeMap<(String, String), Requests> = BTreeMap::new();
    for c in counts {
        let entry = rows
            .entry((c.branch.clone(), c.a.clone()))
            .or_insert_with(|| Requests {
                destination: c.branch.clone(),
                kind: c.a.clone(),
                ..Requests::default()
            });
        let (sent, pending, dead, retried) = tally(c.c.as_deref(), c.n);
        entry.written += c.n;
        entry.sent += sent;
        entry.pending += pending;
        entry.dead += dead;
        entry.retried += retried;
    }
    rows.into_values().collect()
}
