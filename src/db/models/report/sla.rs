//! The SLA counts per branch and deadline kind over a period, and the state a document was in
//! when a deadline fell due.

use super::queue::{STATE_AT_DUE, state_at_due};
use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::force_majeure;
use crate::db::schema::{branches, deadlines, shipments, status_events};
use crate::db::time::At;
use crate::db::time::UtcTime;
use crate::domain::calendar::Calendar;
use crate::domain::deadline::{DeadlineKind, DeadlineState, judged_against};
use crate::domain::force_majeure::{Extended, ForceMajeure, extended_due, notice_standing};
use crate::domain::ids::{BranchId, DeadlineId, ShipmentId};
use crate::domain::reference::BranchTimeZone;
use crate::domain::shipment::{ShipmentState, Side, answerable};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use std::collections::BTreeMap;

/// How one branch did on one kind of deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaCounts {
    pub branch: String,
    pub deadline: DeadlineKind,
    pub met_on_time: i64,
    pub met_late: i64,
    /// Passed unmet and not met since.
    pub breached_open: i64,
    /// Not yet due (or due but not swept yet).
    pub pending: i64,
    /// Ended by a loss or cancellation.
    pub cancelled: i64,
    /// Of the met late and breached, how many each side answers for, by where the document
    /// was at the due instant ([`answerable`]); the rest (an uncollected cell) are nobody's.
    pub missed_by: BTreeMap<Side, i64>,
}

impl SlaCounts {
    /// A missed deadline (met late or breached) the side answers for.
    fn missed(
        &mut self,
        kind: DeadlineKind,
        state: DeadlineState,
        at_due: Option<ShipmentState>,
        by: i64,
    ) {
        let missed = matches!(state, DeadlineState::MetLate | DeadlineState::Breached);
        if let Some(side) = at_due
            .and_then(|at_due| answerable(kind, at_due))
            .filter(|_| missed)
        {
            *self.missed_by.entry(side).or_insert(0) += by;
        }
    }

    fn count(&mut self, state: DeadlineState) -> &mut i64 {
        match state {
            DeadlineState::Met => &mut self.met_on_time,
            DeadlineState::MetLate => &mut self.met_late,
            DeadlineState::Breached => &mut self.breached_open,
            DeadlineState::Cancelled => &mut self.cancelled,
            DeadlineState::Pending => &mut self.pending,
        }
    }
}

/// Deadlines falling due in `[from, to)`, counted by branch and kind, as they stand at `now`.
///
/// п.39: a force-majeure period whose notice was late or is missing cannot be invoked. The
/// deadlines it moved keep their extended instant in operation (the branch was closed), but
/// here each is judged against the due instant it would have had without such periods.
pub fn sla(
    conn: &mut DbConnection,
    scope: &BranchScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> QueryResult<Vec<SlaCounts>> {
    let mut lines = sla_as_stored(conn, scope, from, to)?;
    let (mut kept, mut not_invocable) = (Vec::new(), Vec::new());
    for (row, _) in force_majeure::list(conn, &BranchScope::All)? {
        let recorded = row.notice_recorded_at;
        match notice_standing(row.starts_at, recorded, now, calendar) {
            Ok(standing) if !standing.invocable() => not_invocable.push(row.force_majeure()),
            // One whose year is not in the calendar is taken at its word.
            _ => kept.push(row.force_majeure()),
        }
    }
    if not_invocable.is_empty() {
        return Ok(lines.into_values().collect());
    }
    for d in moved_by(conn, scope, from, to, &not_invocable)? {
        // A period whose end is its outcome (п.35) is not judged against a due instant.
        if d.kind.runs_into().is_some() {
            continue;
        }
        let suspensions: Vec<_> = kept
            .iter()
            .filter(|p| p.covers(Some(d.branch_id)))
            .map(|p| p.suspension)
            .collect();
        let rule = d.kind.rule();
        let started = d.started_at;
        let original = match extended_due(rule, started, d.zone.tz(), calendar, &suspensions) {
            Ok(Extended::Due(original)) => original.at,
            // Held by a period that may be invoked, or outside the calendar: as stored.
            Ok(Extended::Suspended { .. }) | Err(_) => continue,
        };
        let stored_due = d.due_at;
        if original == stored_due {
            continue;
        }
        let resolved = d.resolved_at;
        let judged = judged_against(d.state, resolved, original, now);
        if judged == d.state {
            continue;
        }
        let at_original_due = state_at(conn, d.shipment_id, original)?;
        if let Some(line) = lines.get_mut(&(d.branch.clone(), d.kind.as_str())) {
            *line.count(d.state) -= 1;
            line.missed(d.kind, d.state, d.state_at_due, -1);
            *line.count(judged) += 1;
            line.missed(d.kind, judged, at_original_due, 1);
        }
    }
    Ok(lines.into_values().collect())
}

/// A deadline of the SLA window that a period may have moved, with what judging it needs.
#[derive(Debug, Clone, Queryable)]
struct MaybeMoved {
    id: DeadlineId,
    shipment_id: ShipmentId,
    branch: String,
    branch_id: BranchId,
    zone: BranchTimeZone,
    kind: DeadlineKind,
    state: DeadlineState,
    started_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    state_at_due: Option<ShipmentState>,
}

/// The state a shipment's history had reached at `at`.
fn state_at(
    conn: &mut DbConnection,
    id: ShipmentId,
    at: DateTime<Utc>,
) -> QueryResult<Option<ShipmentState>> {
    status_events::table
        .filter(status_events::shipment_id.eq(id))
        .filter(status_events::occurred_at.le(At(at)))
        .filter(
            status_events::from_status
                .is_null()
                .or(status_events::from_status.ne(status_events::to_status.nullable())),
        )
        .order((
            status_events::occurred_at.desc(),
            status_events::recorded_at.desc(),
            status_events::id.desc(),
        ))
        .select(status_events::to_status)
        .first::<String>(conn)
        .optional()
        .map(|state| state.as_deref().and_then(ShipmentState::parse))
}

/// The deadlines falling due in `[from, to)` of the branches `periods` cover whose course
/// overlaps one of them (started before it ended, due after it began).
fn moved_by(
    conn: &mut DbConnection,
    scope: &BranchScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    periods: &[ForceMajeure],
) -> QueryResult<Vec<MaybeMoved>> {
    let mut found = Vec::new();
    for period in periods {
        let mut query = deadlines::table
            .inner_join(shipments::table.inner_join(branches::table))
            .filter(deadlines::due_at.ge(At(from)))
            .filter(deadlines::due_at.lt(At(to)))
            .filter(deadlines::due_at.gt(At(period.suspension.start)))
            .select((
                deadlines::id,
                deadlines::shipment_id,
                branches::code,
                branches::id,
                branches::time_zone,
                deadlines::kind,
                deadlines::state,
                deadlines::started_at,
                deadlines::due_at,
                deadlines::resolved_at,
                state_at_due(),
            ))
            .into_boxed();
        if let Some(end) = period.suspension.end {
            query = query.filter(deadlines::started_at.lt(At(end)));
        }
        if let Some(branch) = period.branch {
            query = query.filter(shipments::branch_id.eq(branch));
        }
        if let Some(id) = scope.branch() {
            query = query.filter(shipments::branch_id.eq(id));
        }
        found.extend(query.load::<MaybeMoved>(conn)?);
    }
    // A deadline two such periods overlap is judged once.
    found.sort_by_key(|d| d.id);
    found.dedup_by_key(|d| d.id);
    Ok(found)
}

/// One group of the SLA window's deadlines: branch, kind, state and, for the missed, where the
/// document was at the due instant.
#[derive(Debug, QueryableByName)]
struct SlaGroup {
    #[diesel(sql_type = Text)]
    branch: String,
    #[diesel(sql_type = Text)]
    kind: DeadlineKind,
    #[diesel(sql_type = Text)]
    state: DeadlineState,
    #[diesel(sql_type = Nullable<Text>)]
    at_due: Option<ShipmentState>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The counts as the deadlines are stored, counted in the database (a month of the pilot has
/// hundreds of thousands of deadlines and a few dozen groups; issue 25's report reads them).
fn sla_as_stored(
    conn: &mut DbConnection,
    scope: &BranchScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<BTreeMap<(String, &'static str), SlaCounts>> {
    // The missed are counted apart: only they need where the document was at the due instant,
    // and the rest then group by plain columns, which PostgreSQL hashes instead of sorting
    // (it cannot estimate the groups of an expression over a subquery).
    let window = "deadlines.due_at >= $1 AND deadlines.due_at < $2 \
                  AND ($3 IS NULL OR s.branch_id = $3)";
    let groups: Vec<SlaGroup> = crate::db::models::portable_query(
        conn,
        &format!(
            "SELECT b.code AS branch, t.kind, t.state, t.at_due, t.n FROM ( \
               SELECT s.branch_id, deadlines.kind AS kind, deadlines.state AS state, \
                 CAST(NULL AS TEXT) AS at_due, COUNT(*) AS n \
               FROM deadlines JOIN shipments s ON s.id = deadlines.shipment_id \
               WHERE {window} AND deadlines.state NOT IN ('met_late', 'breached') \
               GROUP BY s.branch_id, deadlines.kind, deadlines.state \
             UNION ALL \
               SELECT m.branch_id, m.kind, m.state, m.at_due, COUNT(*) AS n FROM ( \
                 SELECT s.branch_id, deadlines.kind AS kind, deadlines.state AS state, \
                   {STATE_AT_DUE} AS at_due \
                 FROM deadlines JOIN shipments s ON s.id = deadlines.shipment_id \
                 WHERE {window} AND deadlines.state IN ('met_late', 'breached')) m \
               GROUP BY m.branch_id, m.kind, m.state, m.at_due) t \
             JOIN branches b ON b.id = t.branch_id"
        ),
    )
    .bind::<UtcTime, _>(from)
    .bind::<UtcTime, _>(to)
    .bind::<Nullable<crate::db::id::Uuid>, _>(scope.branch())
    .load(conn)?;
    let mut lines: BTreeMap<(String, &'static str), SlaCounts> = BTreeMap::new();
    for SlaGroup {
        branch,
        kind,
        state,
        at_due,
        n,
    } in groups
    {
        let line = lines
            .entry((branch.clone(), kind.as_str()))
            .or_insert_with(|| SlaCounts {
                branch,
                deadline: kind,
                met_on_time: 0,
                met_late: 0,
                breached_open: 0,
                pending: 0,
                cancelled: 0,
                missed_by: BTreeMap::new(),
            });
        *line.count(state) += n;
        line.missed(kind, state, at_due, n);
    }
    Ok(lines)
}

/// The SLA report's period: from the first day's midnight to the midnight after the last day,
/// Almaty time (the endpoint's `from`/`to`, and the simulation's report).
pub fn sla_period(first: NaiveDate, last: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let tz = crate::domain::reference::BranchTimeZone::default().tz();
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    Some((start(first)?, start(last.succ_opt()?)?))
}
