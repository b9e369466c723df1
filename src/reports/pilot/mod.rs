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

mod figures;
mod tables;

pub use figures::quantile_of;
pub use tables::{
    Deadlines, Disputes, Duplicates, ForceMajeureDays, Headline, Losses, Messages, Requests,
    Returns, TABLES, Table, TimeToCitizen, Volumes, csv, write_files,
};

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::pilot::{self as stored, Count, Span};
use crate::domain::calendar::Calendar;
use crate::domain::ids::BranchId;
use crate::reports::sla::{self, PeriodRefused};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use figures::{
    deadlines, disputes, duplicates, force_majeure_days, headline, held_by_quiet_hours, losses,
    messages, requests, returns, seconds, time_to_citizen, volumes,
};
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
