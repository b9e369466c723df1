//! The pilot's figures for a period (issue 25), read back from what the service stored: the
//! history of every document, its deadlines, the loss acts, disputes and both outboxes. Each
//! query counts in SQL what one period of one branch (or all) needs; nothing is kept on the
//! side. The statements are portable SQL, numbered `$n` (SQLite reads them as `?n`). The two
//! reads with a row per document or message ([`for_each_journey`], [`for_each_sms_written`])
//! hand their rows over one at a time, so a national year is read in bounded memory.

use super::portable_query as query;
use crate::db::DbConnection;
use crate::db::id::Uuid;
use crate::db::time::UtcTime;
use crate::domain::identifiers::ApplicationNumber;
use crate::domain::ids::BranchId;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text};

/// What one read takes in: `[from, to)` and, if given, one branch.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub branch: Option<BranchId>,
}

/// The rows of `sql`, its parameters numbered for the backend, with `[from, to)` and the
/// branch bound as `$1`–`$3` (`$3` NULL for every branch).
fn spanned<T>(conn: &mut DbConnection, sql: &str, span: Span) -> QueryResult<Vec<T>>
where
    T: diesel::deserialize::QueryableByName<<DbConnection as diesel::Connection>::Backend>
        + 'static,
{
    query(conn, sql)
        .bind::<UtcTime, _>(span.from)
        .bind::<UtcTime, _>(span.to)
        .bind::<Nullable<Uuid>, _>(span.branch)
        .load(conn)
}

/// Each row of `sql`, bound as [`spanned`] binds it, handed to `each` as it arrives: row by row
/// from libpq on PostgreSQL, the statement stepped on SQLite. Not a cursor: PostgreSQL never
/// plans a cursor's query for parallel workers, and the journeys' read relies on them (issue
/// 25's answer within 2 s). Nor `DefaultLoadingMode` on PostgreSQL: libpq would hold the whole
/// result before the first row (a national year's journeys: ~400,000 rows).
fn spanned_each<T>(
    conn: &mut DbConnection,
    sql: &str,
    span: Span,
    mut each: impl FnMut(T),
) -> QueryResult<()>
where
    T: diesel::deserialize::QueryableByName<diesel::pg::Pg>
        + diesel::deserialize::QueryableByName<diesel::sqlite::Sqlite>
        + 'static,
{
    let bound = query(conn, sql)
        .bind::<UtcTime, _>(span.from)
        .bind::<UtcTime, _>(span.to)
        .bind::<Nullable<Uuid>, _>(span.branch);
    match conn {
        DbConnection::Postgres(pg) => {
            for row in bound.load_iter::<T, diesel::pg::PgRowByRowLoadingMode>(pg)? {
                each(row?);
            }
        }
        DbConnection::Sqlite(lite) => {
            for row in bound.load_iter::<T, diesel::connection::DefaultLoadingMode>(lite)? {
                each(row?);
            }
        }
    }
    Ok(())
}

/// A count by branch and one or more names.
#[derive(Debug, Clone, QueryableByName)]
pub struct Count {
    #[diesel(sql_type = Text)]
    pub branch: String,
    #[diesel(sql_type = Text)]
    pub a: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub b: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub c: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// How many history lines of each event happened in the span, by branch, event (`a`), the state
/// left (`b`) and the state entered (`c`).
pub fn events(conn: &mut DbConnection, span: Span) -> QueryResult<Vec<Count>> {
    spanned(
        conn,
        "SELECT b.code AS branch, e.event AS a, e.from_status AS b, e.to_status AS c, \
           COUNT(*) AS n \
         FROM status_events e \
         JOIN applications p ON p.id = e.application_id \
         JOIN branches b ON b.id = p.branch_id \
         WHERE e.occurred_at >= $1 AND e.occurred_at < $2 \
           AND ($3 IS NULL OR p.branch_id = $3) \
         GROUP BY b.code, e.event, e.from_status, e.to_status",
        span,
    )
}

/// Applications submitted in the span, by branch and the way of delivery (`a`) they have now.
pub fn applications(conn: &mut DbConnection, span: Span) -> QueryResult<Vec<Count>> {
    spanned(
        conn,
        "SELECT b.code AS branch, p.delivery_method AS a, NULL AS b, NULL AS c, COUNT(*) AS n \
         FROM applications p JOIN branches b ON b.id = p.branch_id \
         WHERE p.submitted_at >= $1 AND p.submitted_at < $2 \
           AND ($3 IS NULL OR p.branch_id = $3) \
         GROUP BY b.code, p.delivery_method",
        span,
    )
}

/// One original document that reached the citizen in the span (collected from a postamat, or
/// issued at the ЦОН), with the time of each step of its way and what went wrong on it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Journey {
    #[diesel(sql_type = Text)]
    pub branch: String,
    #[diesel(sql_type = Text)]
    pub delivery_method: String,
    #[diesel(sql_type = Nullable<UtcTime>)]
    pub executed: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<UtcTime>)]
    pub taken_in: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<UtcTime>)]
    pub handed_over: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<UtcTime>)]
    pub accepted: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<UtcTime>)]
    pub placed: Option<DateTime<Utc>>,
    /// The collection or the issue.
    #[diesel(sql_type = Nullable<UtcTime>)]
    pub reached: Option<DateTime<Utc>>,
    /// Its deadlines met late or breached.
    #[diesel(sql_type = BigInt)]
    pub missed: i64,
    /// Discrepancies recorded for it.
    #[diesel(sql_type = BigInt)]
    pub discrepancies: i64,
    /// History lines off the usual path: re-routed, postamat changed, brought back, taken out
    /// early, delayed.
    #[diesel(sql_type = BigInt)]
    pub detours: i64,
}

/// Each original document collected or issued in the span, with its steps, handed to `each`. The first time of
/// each step (a step implied by a later report shares that report's time). The history of
/// the steps is read once and grouped by document alone — which PostgreSQL does in parallel,
/// each worker on its share — keeping the documents that reached the citizen in the span
/// (the same pass tells), then what went wrong on them is counted in two grouped reads.
pub fn for_each_journey(
    conn: &mut DbConnection,
    span: Span,
    each: impl FnMut(Journey),
) -> QueryResult<()> {
    spanned_each(
        conn,
        "WITH steps AS ( \
           SELECT e.shipment_id AS id, \
             MIN(CASE WHEN e.event = 'executed' THEN e.occurred_at END) AS executed, \
             MIN(CASE WHEN e.event = 'intake' THEN e.occurred_at END) AS taken_in, \
             MIN(CASE WHEN e.event = 'hand_over_to_courier' THEN e.occurred_at END) AS handed_over, \
             MIN(CASE WHEN e.event = 'accepted_at_kaspi_point' AND e.from_status <> e.to_status \
                      THEN e.occurred_at END) AS accepted, \
             MIN(CASE WHEN e.event = 'placed_in_cell' AND e.from_status <> e.to_status \
                      THEN e.occurred_at END) AS placed, \
             MAX(CASE WHEN e.event IN ('collected', 'issued') AND e.from_status <> e.to_status \
                      THEN e.occurred_at END) AS reached, \
             SUM(CASE WHEN e.event IN ('rerouted_to_con', 'postamat_changed', 'brought_back', \
                   'removed_early', 'delayed') THEN 1 ELSE 0 END) AS detours \
           FROM status_events e \
           WHERE e.event IN ('executed', 'intake', 'hand_over_to_courier', \
             'accepted_at_kaspi_point', 'placed_in_cell', 'collected', 'issued', \
             'rerouted_to_con', 'postamat_changed', 'brought_back', 'removed_early', 'delayed') \
           GROUP BY e.shipment_id \
           HAVING MAX(CASE WHEN e.event IN ('collected', 'issued') \
                   AND e.from_status <> e.to_status \
                   AND e.occurred_at >= $1 AND e.occurred_at < $2 THEN 1 ELSE 0 END) = 1) \
         SELECT b.code AS branch, s.delivery_method AS delivery_method, st.executed, \
           st.taken_in, st.handed_over, st.accepted, st.placed, st.reached, \
           COALESCE(m.n, 0) AS missed, COALESCE(x.n, 0) AS discrepancies, st.detours \
         FROM steps st \
         JOIN shipments s ON s.id = st.id JOIN branches b ON b.id = s.branch_id \
         LEFT JOIN (SELECT d.shipment_id, COUNT(*) AS n FROM deadlines d \
           WHERE d.state IN ('met_late', 'breached') GROUP BY d.shipment_id) m \
           ON m.shipment_id = s.id \
         LEFT JOIN (SELECT x.shipment_id, COUNT(*) AS n FROM discrepancies x \
           GROUP BY x.shipment_id) x ON x.shipment_id = s.id \
         WHERE s.kind = 'original' AND s.status IN ('collected', 'issued_at_con') \
           AND ($3 IS NULL OR s.branch_id = $3)",
        span,
        each,
    )
}

/// Documents whose storage in a cell ran out in the span (п.29–30), by branch and the state
/// (`a`) they are in now.
pub fn expired_now(conn: &mut DbConnection, span: Span) -> QueryResult<Vec<Count>> {
    spanned(
        conn,
        "SELECT b.code AS branch, s.status AS a, NULL AS b, NULL AS c, COUNT(*) AS n \
         FROM shipments s JOIN branches b ON b.id = s.branch_id \
         WHERE ($3 IS NULL OR s.branch_id = $3) AND s.id IN ( \
           SELECT e.shipment_id FROM status_events e \
           WHERE e.to_status = 'storage_expired' AND e.from_status <> 'storage_expired' \
             AND e.occurred_at >= $1 AND e.occurred_at < $2) \
         GROUP BY b.code, s.status",
        span,
    )
}

/// Loss acts recorded in the span (п.22–24), by branch, side (`a`) and state (`b`).
pub fn losses(conn: &mut DbConnection, span: Span) -> QueryResult<Vec<Count>> {
    spanned(
        conn,
        "SELECT b.code AS branch, l.side AS a, l.state AS b, NULL AS c, COUNT(*) AS n \
         FROM loss_acts l JOIN branches b ON b.id = l.branch_id \
         WHERE l.created_at >= $1 AND l.created_at < $2 AND ($3 IS NULL OR l.branch_id = $3) \
         GROUP BY b.code, l.side, l.state",
        span,
    )
}

/// Free duplicates requested in the span (п.26), by branch and the state (`a`) of their
/// 3-working-day deadline.
pub fn duplicates(conn: &mut DbConnection, span: Span) -> QueryResult<Vec<Count>> {
    spanned(
        conn,
        "SELECT b.code AS branch, d.state AS a, NULL AS b, NULL AS c, COUNT(*) AS n \
         FROM deadlines d JOIN shipments s ON s.id = d.shipment_id \
         JOIN branches b ON b.id = s.branch_id \
         WHERE d.kind = 'duplicate' AND d.started_at >= $1 AND d.started_at < $2 \
           AND ($3 IS NULL OR s.branch_id = $3) \
         GROUP BY b.code, d.state",
        span,
    )
}

/// Disputes opened on the days `first` to `last` (п.36), by branch and whether settled (`a`:
/// `settled` or `open`).
pub fn disputes(
    conn: &mut DbConnection,
    first: NaiveDate,
    last: NaiveDate,
    branch: Option<BranchId>,
) -> QueryResult<Vec<Count>> {
    query(
        conn,
        "SELECT b.code AS branch, \
           CASE WHEN d.settled_on IS NULL THEN 'open' ELSE 'settled' END AS a, \
           NULL AS b, NULL AS c, COUNT(*) AS n \
         FROM disputes d JOIN branches b ON b.id = d.branch_id \
         WHERE d.opened_on >= $1 AND d.opened_on <= $2 AND ($3 IS NULL OR d.branch_id = $3) \
         GROUP BY b.code, CASE WHEN d.settled_on IS NULL THEN 'open' ELSE 'settled' END",
    )
    .bind::<Date, _>(first)
    .bind::<Date, _>(last)
    .bind::<Nullable<Uuid>, _>(branch)
    .load(conn)
}

/// Messages to citizens written in the span, by branch, kind (`a`), channel (`b`) and state
/// with `+retried` when tried more than once (`c`).
pub fn notifications(conn: &mut DbConnection, span: Span) -> QueryResult<Vec<Count>> {
    spanned(
        conn,
        "SELECT b.code AS branch, m.kind AS a, m.channel AS b, \
           CASE WHEN m.attempts > 1 THEN m.state || '+retried' ELSE m.state END AS c, \
           COUNT(*) AS n \
         FROM notifications m JOIN applications p ON p.id = m.application_id \
         JOIN branches b ON b.id = p.branch_id \
         WHERE m.created_at >= $1 AND m.created_at < $2 AND ($3 IS NULL OR p.branch_id = $3) \
         GROUP BY b.code, m.kind, m.channel, \
           CASE WHEN m.attempts > 1 THEN m.state || '+retried' ELSE m.state END",
        span,
    )
}

/// An SMS written in the span: its branch, when, and the branch's zone (to tell those the quiet
/// hours held back).
#[derive(Debug, Clone, QueryableByName)]
pub struct SmsWritten {
    #[diesel(sql_type = Text)]
    pub branch: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = UtcTime)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub time_zone: String,
}

pub fn for_each_sms_written(
    conn: &mut DbConnection,
    span: Span,
    each: impl FnMut(SmsWritten),
) -> QueryResult<()> {
    spanned_each(
        conn,
        "SELECT b.code AS branch, m.kind AS kind, m.created_at AS created_at, \
           b.time_zone AS time_zone \
         FROM notifications m JOIN applications p ON p.id = m.application_id \
         JOIN branches b ON b.id = p.branch_id \
         WHERE m.channel = 'sms_1414' AND m.created_at >= $1 AND m.created_at < $2 \
           AND ($3 IS NULL OR p.branch_id = $3)",
        span,
        each,
    )
}

/// Messages to other systems written in the span (they have no branch: `branch` is the
/// destination), by kind (`a`) and state with `+retried` (`c`).
pub fn outbound(conn: &mut DbConnection, span: Span) -> QueryResult<Vec<Count>> {
    spanned(
        conn,
        "SELECT o.destination AS branch, o.kind AS a, NULL AS b, \
           CASE WHEN o.attempts > 1 THEN o.state || '+retried' ELSE o.state END AS c, \
           COUNT(*) AS n \
         FROM outbound_messages o \
         WHERE o.created_at >= $1 AND o.created_at < $2 AND $3 IS NULL \
         GROUP BY o.destination, o.kind, \
           CASE WHEN o.attempts > 1 THEN o.state || '+retried' ELSE o.state END",
        span,
    )
}

/// A document on its way now (not in a final state): its application, branch, state, route and
/// the due instant of its latest pending deadline.
#[derive(Debug, Clone, QueryableByName)]
pub struct OnItsWay {
    #[diesel(sql_type = Text)]
    pub application_number: ApplicationNumber,
    #[diesel(sql_type = Text)]
    pub branch: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Text)]
    pub delivery_method: String,
    #[diesel(sql_type = Nullable<UtcTime>)]
    pub last_due: Option<DateTime<Utc>>,
}

/// Every document on its way now in `branch` (or every branch), oldest application first.
pub fn on_its_way(conn: &mut DbConnection, branch: Option<BranchId>) -> QueryResult<Vec<OnItsWay>> {
    query(
        conn,
        "SELECT p.number AS application_number, b.code AS branch, s.status AS state, \
           s.delivery_method AS delivery_method, \
           (SELECT MAX(d.due_at) FROM deadlines d WHERE d.shipment_id = s.id \
              AND d.state = 'pending') AS last_due \
         FROM shipments s JOIN applications p ON p.id = s.application_id \
         JOIN branches b ON b.id = s.branch_id \
         WHERE s.status NOT IN ('collected', 'issued_at_con', 'transferred_after_storage', \
                                'cancelled', 'lost') \
           AND ($1 IS NULL OR s.branch_id = $1) \
         ORDER BY p.submitted_at, p.number",
    )
    .bind::<Nullable<Uuid>, _>(branch)
    .load(conn)
}

/// Applications the registry office has not executed yet, by branch and way of delivery (`a`).
pub fn awaiting_execution(
    conn: &mut DbConnection,
    branch: Option<BranchId>,
) -> QueryResult<Vec<Count>> {
    query(
        conn,
        "SELECT b.code AS branch, p.delivery_method AS a, NULL AS b, NULL AS c, COUNT(*) AS n \
         FROM applications p JOIN branches b ON b.id = p.branch_id \
         WHERE p.status = 'awaiting_execution' AND ($1 IS NULL OR p.branch_id = $1) \
         GROUP BY b.code, p.delivery_method",
    )
    .bind::<Nullable<Uuid>, _>(branch)
    .load(conn)
}
