//! The pilot's results for a period (issue 25; order п.5: the supervising vice-ministers will
//! ask for them), per branch and in total: volumes, time to the citizen, deadlines by clause
//! with the side that missed them, returns, losses and duplicates, disputes, force majeure,
//! messages, and the headline — the share of postamat deliveries that reached the citizen
//! without any exception. Every figure is read back from stored history, deadlines, acts and
//! outboxes (`db::models::pilot`), never from counters kept on the side; `GET
//! /api/v1/reports/pilot`, `postamat report pilot`, the console's page and `postamat simulate`
//! read it through [`gather`], so a simulated month and a real one are read the same way.
//!
//! Each table is a list of rows of one type; the CSV of a table is its rows' fields in
//! [`Table::COLUMNS`] order, written from the same values as the JSON.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::force_majeure;
use crate::db::models::pilot::{self as stored, Count, Span};
use crate::domain::calendar::Calendar;
use crate::domain::deadline::DeadlineKind;
use crate::domain::force_majeure::{NoticeStanding, notice_standing};
use crate::domain::ids::BranchId;
use crate::domain::notification::quiet_until;
use crate::domain::reference::BranchTimeZone;
use crate::reports::sla::{self, PeriodRefused};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The name of the row that adds up every branch.
pub const ALL: &str = "all";

/// What a report is asked for.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// One branch, or every branch the scope sees.
    pub branch: Option<BranchId>,
    /// When it is read: what is due by then and still open counts as breached.
    pub now: DateTime<Utc>,
    /// The SMS quiet hours (`POSTAMAT_SMS_QUIET_HOURS`): an SMS written in them was held back.
    pub quiet_hours: (NaiveTime, NaiveTime),
}

/// The pilot's results for the days `from` to `to` (Almaty).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PilotReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The branch asked for; `null` for every branch the caller sees.
    pub branch: Option<String>,
    pub headline: Vec<Headline>,
    pub volumes: Vec<Volumes>,
    pub time_to_citizen: Vec<TimeToCitizen>,
    pub deadlines: Vec<Deadlines>,
    pub returns: Vec<Returns>,
    pub losses: Vec<Losses>,
    pub duplicates: Vec<Duplicates>,
    pub disputes: Vec<Disputes>,
    pub force_majeure: Vec<ForceMajeureDays>,
    pub messages: Vec<Messages>,
    pub requests: Vec<Requests>,
}

/// A table of the report: its rows' fields in the order the CSV writes them.
pub trait Table: Serialize {
    const NAME: &'static str;
    const COLUMNS: &'static [&'static str];
}

macro_rules! table {
    ($ty:ident, $name:literal, [$($col:literal),+ $(,)?]) => {
        impl Table for $ty {
            const NAME: &'static str = $name;
            const COLUMNS: &'static [&'static str] = &[$($col),+];
        }
    };
}

/// The headline: postamat deliveries that reached the citizen in the period, and how many of
/// them without any exception — no deadline missed, no discrepancy, no change of way, no
/// early removal, no delay reported.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Headline {
    pub branch: String,
    pub postamat_deliveries: i64,
    pub without_exception: i64,
    /// `without_exception / postamat_deliveries`, 0 when there were none.
    pub share_without_exception: f64,
}
table!(
    Headline,
    "headline",
    [
        "branch",
        "postamat_deliveries",
        "without_exception",
        "share_without_exception"
    ]
);

/// How many did each step in the period.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Volumes {
    pub branch: String,
    /// Applications submitted, by the way of delivery they have now (п.3).
    pub applications_postamat: i64,
    pub applications_con: i64,
    /// Originals executed by the registry office (п.8).
    pub executed: i64,
    /// Taken in by the accumulation sector (п.7).
    pub taken_in: i64,
    /// Accepted at the Kaspi point (п.18).
    pub handed_to_kaspi: i64,
    /// Placed in a cell (п.19), a placement again after an early removal included.
    pub placed: i64,
    /// Collected by the citizen (п.29).
    pub collected: i64,
    /// Not collected in time: storage ran out (п.30).
    pub returned: i64,
    pub issued_at_con: i64,
    /// Handed on after a month at the issuance sector (п.35).
    pub transferred_after_storage: i64,
    pub lost: i64,
    /// Issue 23: the way of delivery changed before placement.
    pub postamat_changed: i64,
    pub rerouted_to_con: i64,
}
table!(
    Volumes,
    "volumes",
    [
        "branch",
        "applications_postamat",
        "applications_con",
        "executed",
        "taken_in",
        "handed_to_kaspi",
        "placed",
        "collected",
        "returned",
        "issued_at_con",
        "transferred_after_storage",
        "lost",
        "postamat_changed",
        "rerouted_to_con"
    ]
);

/// Hours from one step to another for the documents that reached the citizen in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimeToCitizen {
    pub branch: String,
    /// `execution_to_collection` (postamat) and `execution_to_issue` (ЦОН), and each leg of the
    /// postamat way: `execution_to_intake`, `intake_to_handover`, `handover_to_acceptance`,
    /// `acceptance_to_placement`, `placement_to_collection`.
    pub measure: String,
    pub documents: i64,
    pub p50_hours: f64,
    pub p90_hours: f64,
    pub max_hours: f64,
}
table!(
    TimeToCitizen,
    "time_to_citizen",
    [
        "branch",
        "measure",
        "documents",
        "p50_hours",
        "p90_hours",
        "max_hours"
    ]
);

/// Deadlines falling due in the period by clause (DOMAIN.md §5), and who missed them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deadlines {
    pub branch: String,
    pub deadline: DeadlineKind,
    pub clause: String,
    pub met_on_time: i64,
    pub met_late: i64,
    /// Passed unmet and not met since.
    pub breached: i64,
    pub missed_by_state_corporation: i64,
    pub missed_by_kaspi: i64,
    pub missed_by_registry_office: i64,
}
table!(
    Deadlines,
    "deadlines",
    [
        "branch",
        "deadline",
        "clause",
        "met_on_time",
        "met_late",
        "breached",
        "missed_by_state_corporation",
        "missed_by_kaspi",
        "missed_by_registry_office"
    ]
);

/// Documents not collected in time (п.29–30), as a share of placements, and where they are now.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Returns {
    pub branch: String,
    pub placed: i64,
    pub returned: i64,
    pub share_returned: f64,
    /// Collected after all (the citizen came after the storage ran out).
    pub then_collected: i64,
    pub then_issued_at_con: i64,
    pub then_transferred: i64,
    pub then_lost: i64,
    /// Still on the way back, or waiting at the issuance sector.
    pub still_on_the_way: i64,
}
table!(
    Returns,
    "returns",
    [
        "branch",
        "placed",
        "returned",
        "share_returned",
        "then_collected",
        "then_issued_at_con",
        "then_transferred",
        "then_lost",
        "still_on_the_way"
    ]
);

/// Losses recorded in the period by side (п.22–23), and their acts (п.24).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Losses {
    pub branch: String,
    /// `kaspi` or `state_corporation`.
    pub side: String,
    pub losses: i64,
    pub acts_drawn: i64,
}
table!(Losses, "losses", ["branch", "side", "losses", "acts_drawn"]);

/// Free duplicates requested in the period (п.26) and whether issued within 3 working days.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Duplicates {
    pub branch: String,
    pub requested: i64,
    pub issued_in_time: i64,
    pub issued_late: i64,
    /// Its 3 working days passed and it is not issued.
    pub overdue: i64,
    pub pending: i64,
}
table!(
    Duplicates,
    "duplicates",
    [
        "branch",
        "requested",
        "issued_in_time",
        "issued_late",
        "overdue",
        "pending"
    ]
);

/// Disputes opened in the period (п.36) and whether the commission settled them.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Disputes {
    pub branch: String,
    pub opened: i64,
    pub settled: i64,
    pub open: i64,
}
table!(
    Disputes,
    "disputes",
    ["branch", "opened", "settled", "open"]
);

/// Force-majeure periods overlapping the period (п.37–39): how many, how many of its days
/// they covered, and whether noticed in time.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ForceMajeureDays {
    /// A branch, or `national`.
    pub branch: String,
    pub periods: i64,
    /// Days of the report's period they covered (a day partly covered counts).
    pub days: i64,
    pub noticed_in_time: i64,
    pub noticed_late: i64,
    /// No notice yet: still awaited, or missing.
    pub not_noticed: i64,
}
table!(
    ForceMajeureDays,
    "force_majeure",
    [
        "branch",
        "periods",
        "days",
        "noticed_in_time",
        "noticed_late",
        "not_noticed"
    ]
);

/// Messages to citizens written in the period, by kind and channel (DOMAIN.md §7).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Messages {
    pub branch: String,
    pub kind: String,
    pub channel: String,
    pub written: i64,
    /// Delivered to the gateway.
    pub sent: i64,
    pub pending: i64,
    /// Given up on (dead-lettered).
    pub dead: i64,
    /// Tried more than once.
    pub retried: i64,
    /// SMS written in the quiet hours, held back to the morning.
    pub held_by_quiet_hours: i64,
}
table!(
    Messages,
    "messages",
    [
        "branch",
        "kind",
        "channel",
        "written",
        "sent",
        "pending",
        "dead",
        "retried",
        "held_by_quiet_hours"
    ]
);

/// Requests to Kaspi and the registry office written in the period (national).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Requests {
    pub destination: String,
    pub kind: String,
    pub written: i64,
    pub sent: i64,
    pub pending: i64,
    pub dead: i64,
    pub retried: i64,
}
table!(
    Requests,
    "requests",
    [
        "destination",
        "kind",
        "written",
        "sent",
        "pending",
        "dead",
        "retried"
    ]
);

/// Why a report is refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Period(#[from] PeriodRefused),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// What one report reads, besides the documents' journeys.
struct Rest {
    events: Vec<Count>,
    applications: Vec<Count>,
    sla: Vec<sla::SlaLine>,
    expired: Vec<Count>,
    losses: Vec<Count>,
    duplicates: Vec<Count>,
    disputes: Vec<Count>,
    force_majeure: Vec<ForceMajeureDays>,
    notifications: Vec<Count>,
    /// (branch, kind) → SMS the quiet hours held back.
    held: BTreeMap<(String, String), i64>,
    outbound: Vec<Count>,
}

/// Where a report reads: its instants, branch and scope.
struct Where {
    span: Span,
    scope: BranchScope,
    code: Option<String>,
}

fn locate(
    conn: &mut DbConnection,
    scope: &BranchScope,
    request: &Request,
) -> Result<Where, ReportError> {
    let (from, to) = sla::period(request.first, request.last)?;
    let branch = request.branch.or(scope.branch());
    let code = match branch {
        Some(id) => Some(crate::db::models::branch::get(conn, id)?.code),
        None => None,
    };
    let scope = match (branch, &code) {
        (Some(id), Some(code)) => BranchScope::Only {
            id,
            code: code.parse().map_err(|_| diesel::result::Error::NotFound)?,
        },
        _ => BranchScope::All,
    };
    Ok(Where {
        span: Span { from, to, branch },
        scope,
        code,
    })
}

fn read_rest(
    conn: &mut DbConnection,
    at: &Where,
    request: &Request,
    calendar: &Calendar,
) -> diesel::QueryResult<Rest> {
    let span = at.span;
    Ok(Rest {
        events: stored::events(conn, span)?,
        applications: stored::applications(conn, span)?,
        sla: sla::lines(conn, &at.scope, (span.from, span.to), request.now, calendar)?,
        expired: stored::expired_now(conn, span)?,
        losses: stored::losses(conn, span)?,
        duplicates: stored::duplicates(conn, span)?,
        disputes: stored::disputes(conn, request.first, request.last, span.branch)?,
        force_majeure: force_majeure_days(
            conn,
            &at.scope,
            (span.from, span.to),
            request.now,
            calendar,
        )?,
        notifications: stored::notifications(conn, span)?,
        held: held_by_quiet_hours(conn, span, request.quiet_hours)?,
        outbound: stored::outbound(conn, span)?,
    })
}

/// What the documents' journeys add up to, taken in one journey at a time
/// ([`stored::for_each_journey`]): a national year has ~400,000 of them.
#[derive(Debug, Default)]
struct Journeys {
    /// Branch → its postamat deliveries, and those without an exception.
    headline: BTreeMap<String, Headline>,
    /// (branch, measure) → the seconds each document's leg took. Seconds in 4 bytes, not
    /// hours in 8: the quantiles are the same values, and a year has ~2 million legs.
    legs: BTreeMap<(String, usize), Vec<u32>>,
}

impl Journeys {
    fn read(conn: &mut DbConnection, span: Span) -> diesel::QueryResult<Journeys> {
        let mut journeys = Journeys::default();
        stored::for_each_journey(conn, span, |j| journeys.add(j))?;
        Ok(journeys)
    }

    fn add(&mut self, j: stored::Journey) {
        let postamat = j.delivery_method == "postamat";
        if postamat {
            let row = self.headline.entry(j.branch.clone()).or_default();
            row.postamat_deliveries += 1;
            if j.missed == 0 && j.discrepancies == 0 && j.detours == 0 {
                row.without_exception += 1;
            }
        }
        let legs: [(usize, Option<u32>); 7] = [
            (0, seconds(j.executed, j.reached).filter(|_| postamat)),
            (1, seconds(j.executed, j.reached).filter(|_| !postamat)),
            (2, seconds(j.executed, j.taken_in).filter(|_| postamat)),
            (3, seconds(j.taken_in, j.handed_over).filter(|_| postamat)),
            (4, seconds(j.handed_over, j.accepted).filter(|_| postamat)),
            (5, seconds(j.accepted, j.placed).filter(|_| postamat)),
            (6, seconds(j.placed, j.reached).filter(|_| postamat)),
        ];
        for (measure, value) in legs {
            if let Some(s) = value {
                self.legs
                    .entry((j.branch.clone(), measure))
                    .or_default()
                    .push(s);
            }
        }
    }
}

fn assemble(
    request: &Request,
    code: Option<String>,
    journeys: Journeys,
    rest: Rest,
) -> PilotReport {
    PilotReport {
        from: request.first,
        to: request.last,
        branch: code,
        headline: headline(journeys.headline),
        volumes: volumes(&rest.events, &rest.applications),
        time_to_citizen: time_to_citizen(journeys.legs),
        deadlines: deadlines(rest.sla),
        returns: returns(&rest.events, &rest.expired),
        losses: losses(&rest.losses),
        duplicates: duplicates(&rest.duplicates),
        disputes: disputes(&rest.disputes),
        force_majeure: rest.force_majeure,
        messages: messages(&rest.notifications, &rest.held),
        requests: requests(&rest.outbound),
    }
}

/// The pilot's results for `request`, as `scope` may see them: every figure from one snapshot
/// of the database.
pub fn gather(
    conn: &mut DbConnection,
    scope: &BranchScope,
    request: Request,
    calendar: &Calendar,
) -> Result<PilotReport, ReportError> {
    crate::db::snapshot_read(conn, |conn| {
        let at = locate(conn, scope, &request)?;
        let journeys = Journeys::read(conn, at.span)?;
        let rest = read_rest(conn, &at, &request, calendar)?;
        Ok(assemble(&request, at.code, journeys, rest))
    })
}

/// [`gather`] on two PostgreSQL connections at once, both reading one snapshot: the documents'
/// journeys (the largest read) on `second`, everything else on `first`. The same reads and the
/// same figures (issue 25 asks the API's answer under 2 s). SQLite cannot share a snapshot
/// between connections, nor can a caller's transaction export one: there it is [`gather`] on
/// `first`.
pub fn gather_on_two(
    first: &mut DbConnection,
    second: &mut DbConnection,
    scope: &BranchScope,
    request: Request,
    calendar: &Calendar,
) -> Result<PilotReport, ReportError> {
    // A snapshot cannot be exported from within a caller's transaction (a savepoint there).
    if !matches!(second, DbConnection::Postgres(_)) || crate::db::in_transaction(first) {
        return gather(first, scope, request, calendar);
    }
    crate::db::snapshot_read(first, |first| {
        let at = locate(first, scope, &request)?;
        let span = at.span;
        let snapshot = crate::db::export_snapshot(first)?;
        let (journeys, rest) = std::thread::scope(|threads| {
            let journeys = threads.spawn(move || {
                crate::db::snapshot_read_from(second, snapshot.as_ref(), |second| {
                    Journeys::read(second, span)
                })
            });
            let rest = read_rest(first, &at, &request, calendar);
            (journeys.join(), rest)
        });
        let journeys = journeys.map_err(|_| {
            diesel::result::Error::QueryBuilderError("the journeys' read panicked".into())
        })??;
        Ok(assemble(&request, at.code, journeys, rest?))
    })
}

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

fn headline(rows: BTreeMap<String, Headline>) -> Vec<Headline> {
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

fn volumes(events: &[Count], applications: &[Count]) -> Vec<Volumes> {
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
fn seconds(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<u32> {
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

fn time_to_citizen(legs: BTreeMap<(String, usize), Vec<u32>>) -> Vec<TimeToCitizen> {
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

fn deadlines(lines: Vec<sla::SlaLine>) -> Vec<Deadlines> {
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

fn returns(events: &[Count], expired_now: &[Count]) -> Vec<Returns> {
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

fn losses(acts: &[Count]) -> Vec<Losses> {
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

fn duplicates(deadlines: &[Count]) -> Vec<Duplicates> {
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

fn disputes(counts: &[Count]) -> Vec<Disputes> {
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

fn force_majeure_days(
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
        let recorded = period.notice_recorded_at;
        match notice_standing(starts, recorded, now, calendar) {
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
fn held_by_quiet_hours(
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

fn messages(counts: &[Count], held: &BTreeMap<(String, String), i64>) -> Vec<Messages> {
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

fn requests(counts: &[Count]) -> Vec<Requests> {
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

/// A table as CSV: the header, then each row's fields in [`Table::COLUMNS`] order, each written
/// from the row's JSON value (so the CSV and the JSON hold the same figures).
pub fn csv<R: Table>(rows: &[R]) -> String {
    let mut out = R::COLUMNS.join(",");
    out.push('\n');
    for row in rows {
        let value = serde_json::to_value(row).unwrap_or_default();
        let cells: Vec<String> = R::COLUMNS
            .iter()
            .map(|column| match &value[*column] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) if s.contains([',', '"', '\n']) => {
                    format!("\"{}\"", s.replace('"', "\"\""))
                }
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

impl PilotReport {
    /// Every table as (name, CSV).
    pub fn tables(&self) -> Vec<(&'static str, String)> {
        vec![
            (Headline::NAME, csv(&self.headline)),
            (Volumes::NAME, csv(&self.volumes)),
            (TimeToCitizen::NAME, csv(&self.time_to_citizen)),
            (Deadlines::NAME, csv(&self.deadlines)),
            (Returns::NAME, csv(&self.returns)),
            (Losses::NAME, csv(&self.losses)),
            (Duplicates::NAME, csv(&self.duplicates)),
            (Disputes::NAME, csv(&self.disputes)),
            (ForceMajeureDays::NAME, csv(&self.force_majeure)),
            (Messages::NAME, csv(&self.messages)),
            (Requests::NAME, csv(&self.requests)),
        ]
    }

    /// One table as CSV, by its name.
    pub fn table(&self, name: &str) -> Option<String> {
        self.tables()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, csv)| csv)
    }
}

/// Writes the report to `dir`: `pilot.json` and one `<table>.csv` per table (`postamat report
/// pilot`, and `postamat simulate`'s report).
pub fn write_files(report: &PilotReport, dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("pilot.json"), json + "\n")?;
    for (name, csv) in report.tables() {
        std::fs::write(dir.join(format!("{name}.csv")), csv)?;
    }
    Ok(())
}

/// The names of the tables, for the API's `table` parameter.
pub const TABLES: [&str; 11] = [
    Headline::NAME,
    Volumes::NAME,
    TimeToCitizen::NAME,
    Deadlines::NAME,
    Returns::NAME,
    Losses::NAME,
    Duplicates::NAME,
    Disputes::NAME,
    ForceMajeureDays::NAME,
    Messages::NAME,
    Requests::NAME,
];
