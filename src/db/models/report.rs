//! What supervisors read across the service: overdue deadlines for the exception queue, and the
//! SLA counts per branch and deadline kind.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::force_majeure;
use crate::db::schema::{
    applications, branches, deadlines, registries, registry_items, shipments, status_events,
};
use crate::db::time::At;
use crate::db::time::UtcTime;
use crate::domain::calendar::Calendar;
use crate::domain::deadline::{DeadlineKind, DeadlineState, judged_against};
use crate::domain::force_majeure::{Extended, ForceMajeure, extended_due, notice_standing};
use crate::domain::identifiers::ApplicationNumber;
use crate::domain::ids::{ApplicationId, BranchId, DeadlineId, HistoryId, RegistryId, ShipmentId};
use crate::domain::reference::BranchTimeZone;
use crate::domain::registry::RegistryKind;
use crate::domain::shipment::{DeliveryMethod, ShipmentKind, ShipmentState, Side, answerable};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use std::collections::BTreeMap;

/// The sweeper's note on a deadline a force-majeure period holds back: a wait, not a failure.
pub const SUSPENDED_NOTE: &str = "suspended by force majeure";

/// A deadline that passed unmet, or that the sweeper keeps failing to apply.
#[derive(Debug, Clone, Queryable)]
pub struct Overdue {
    pub kind: DeadlineKind,
    pub due_at: DateTime<Utc>,
    pub shipment_id: ShipmentId,
    pub branch_id: BranchId,
    pub state: ShipmentState,
    pub application_number: ApplicationNumber,
    pub sweep_error: Option<String>,
    /// Where the document was at the due instant (the state its history had reached by then).
    pub state_at_due: Option<ShipmentState>,
}

/// The state a deadline's document had reached at the deadline's due instant, from its history:
/// a correlated subquery over the outer `deadlines` row (indexed by shipment and time). Only the
/// late and breached need it, so the SLA asks it of them alone.
/// Only lines that moved the document count: a fact recorded late as a note keeps its own
/// (earlier) time but the state it found, which is not where the document was then.
const STATE_AT_DUE: &str = "(SELECT e.to_status FROM status_events e \
     WHERE e.shipment_id = deadlines.shipment_id AND e.occurred_at <= deadlines.due_at \
     AND (e.from_status IS NULL OR e.from_status <> e.to_status) \
     ORDER BY e.occurred_at DESC, e.recorded_at DESC, e.id DESC LIMIT 1)";

fn state_at_due() -> diesel::expression::SqlLiteral<Nullable<Text>> {
    diesel::dsl::sql::<Nullable<Text>>(STATE_AT_DUE)
}

/// Which items of the exception queue one read returns (security review, issue 28 finding 6:
/// every call read the whole national backlog before filtering). Each source of the queue
/// applies it in SQL: its branch, its age, its order (oldest first) and its `LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `Some`: that branch's items only. `None`: every branch's, and the items that have no
    /// branch (an event not matched to anything, a message to another system).
    pub branch: Option<BranchId>,
    /// Only items that began at or before this instant (the queue's `min_age_hours`).
    pub began_by: Option<DateTime<Utc>>,
    /// At most this many items from each source.
    pub limit: i64,
}

impl Window {
    /// The latest beginning an item may have (later than any when the age is not asked).
    pub fn began_by(&self) -> DateTime<Utc> {
        self.began_by.unwrap_or_else(crate::db::time::latest)
    }

    /// Whether items without a branch are in it.
    pub fn unbranched(&self) -> bool {
        self.branch.is_none()
    }
}

/// Breached deadlines of documents still on their way, and due ones the sweeper cannot apply,
/// oldest first, within `window`.
pub fn overdue(conn: &mut DbConnection, window: &Window) -> QueryResult<Vec<Overdue>> {
    let columns = (
        deadlines::kind,
        deadlines::due_at,
        shipments::id,
        shipments::branch_id,
        shipments::status,
        applications::number,
        deadlines::sweep_error,
        state_at_due(),
    );
    let active: Vec<ShipmentState> = ShipmentState::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .collect();
    let mut breached = deadlines::table
        .inner_join(shipments::table.inner_join(applications::table))
        .filter(deadlines::state.eq(DeadlineState::Breached))
        // An expired storage period is not anyone's fault to chase (the return deadline is),
        // unless the sweeper could not apply its consequence.
        .filter(
            deadlines::kind
                .ne(DeadlineKind::Storage)
                .or(deadlines::sweep_error.is_not_null()),
        )
        .filter(shipments::status.eq_any(active))
        .filter(deadlines::due_at.le(At(window.began_by())))
        .select(columns.clone())
        .order(deadlines::due_at)
        .limit(window.limit)
        .into_boxed();
    // Due deadlines the sweeper keeps failing to apply (force-majeure waits are not failures).
    let mut failing = deadlines::table
        .inner_join(shipments::table.inner_join(applications::table))
        .filter(deadlines::state.eq(DeadlineState::Pending))
        .filter(deadlines::sweep_error.is_not_null())
        .filter(deadlines::sweep_error.ne(SUSPENDED_NOTE))
        .filter(deadlines::due_at.le(At(window.began_by())))
        .select(columns)
        .order(deadlines::due_at)
        .limit(window.limit)
        .into_boxed();
    if let Some(branch) = window.branch {
        breached = breached.filter(shipments::branch_id.eq(branch));
        failing = failing.filter(shipments::branch_id.eq(branch));
    }
    let mut found: Vec<Overdue> = breached.load(conn)?;
    found.extend(failing.load::<Overdue>(conn)?);
    Ok(found)
}

/// A step nobody has taken yet (issue 23): what waits, where, and since when it has waited.
#[derive(Debug, Clone, Queryable)]
pub struct Waiting {
    /// The shipment, or the registry for a registry's step.
    pub reference: uuid::Uuid,
    pub branch_id: BranchId,
    pub zone: BranchTimeZone,
    /// The application's number, or the registry's once it has one.
    pub label: Option<String>,
    /// When the step became the next one.
    pub since: DateTime<Utc>,
}

/// The rows of a waiting step's query: (id, branch, zone, label, since).
type WaitingRow<Id> = (Id, BranchId, BranchTimeZone, Option<String>, DateTime<Utc>);

fn waiting<Id>(rows: Vec<WaitingRow<Id>>, reference: impl Fn(Id) -> uuid::Uuid) -> Vec<Waiting> {
    rows.into_iter()
        .map(|(id, branch_id, zone, label, since)| Waiting {
            reference: reference(id),
            branch_id,
            zone,
            label,
            since,
        })
        .collect()
}

/// Applications awaiting the registry office's execution, oldest first, since they were
/// submitted, within `window`.
pub fn awaiting_execution(conn: &mut DbConnection, window: &Window) -> QueryResult<Vec<Waiting>> {
    use crate::domain::application::ApplicationStatus;
    let mut query = applications::table
        .inner_join(branches::table)
        .filter(applications::status.eq(ApplicationStatus::AwaitingExecution))
        .filter(applications::submitted_at.le(At(window.began_by())))
        .order(applications::submitted_at)
        .limit(window.limit)
        .select((
            applications::id,
            applications::branch_id,
            branches::time_zone,
            applications::number.nullable(),
            applications::submitted_at,
        ))
        .into_boxed();
    if let Some(branch) = window.branch {
        query = query.filter(applications::branch_id.eq(branch));
    }
    Ok(waiting(query.load(conn)?, |id: ApplicationId| id.0))
}

/// Documents in `state`, oldest first, since the state was entered, within `window` (the
/// window's age is the caller's to apply: it counts from when the step fell due).
pub fn waiting_in_state(
    conn: &mut DbConnection,
    window: &Window,
    state: ShipmentState,
) -> QueryResult<Vec<Waiting>> {
    shipments_waiting(conn, window, state, false)
}

/// Originals cancelled after their loss whose application has no duplicate yet, oldest first,
/// since the cancellation, within `window`.
pub fn cancelled_without_duplicate(
    conn: &mut DbConnection,
    window: &Window,
) -> QueryResult<Vec<Waiting>> {
    shipments_waiting(conn, window, ShipmentState::Cancelled, true)
}

/// Documents in `state` since they entered it; `without_duplicate`: only originals whose
/// application has no duplicate.
fn shipments_waiting(
    conn: &mut DbConnection,
    window: &Window,
    state: ShipmentState,
    without_duplicate: bool,
) -> QueryResult<Vec<Waiting>> {
    let mut query = shipments::table
        .inner_join(applications::table)
        .inner_join(branches::table)
        .filter(shipments::status.eq(state))
        .filter(shipments::updated_at.le(At(window.began_by())))
        .order(shipments::updated_at)
        .limit(window.limit)
        .select((
            shipments::id,
            shipments::branch_id,
            branches::time_zone,
            applications::number.nullable(),
            shipments::updated_at,
        ))
        .into_boxed();
    if without_duplicate {
        let no_duplicate = diesel::dsl::sql::<diesel::sql_types::Bool>(
            "NOT EXISTS (SELECT 1 FROM shipments d \
             WHERE d.application_id = shipments.application_id AND d.kind = 'duplicate')",
        );
        query = query
            .filter(shipments::kind.eq(ShipmentKind::Original))
            .filter(no_duplicate);
    }
    if let Some(branch) = window.branch {
        query = query.filter(shipments::branch_id.eq(branch));
    }
    Ok(waiting(query.load(conn)?, |id: ShipmentId| id.0))
}

/// Loss acts still `recorded` (not drawn, п.24) since the loss, or `drawn` while their
/// document is still `lost` (the registry office has not cancelled) since the drawing, oldest
/// first, within `window`.
pub fn loss_acts_waiting(
    conn: &mut DbConnection,
    window: &Window,
    drawn: bool,
) -> QueryResult<Vec<Waiting>> {
    use crate::db::schema::loss_acts;
    use crate::domain::loss::LossActState;
    let since = if drawn {
        diesel::dsl::sql::<UtcTime>("COALESCE(loss_acts.drawn_at, loss_acts.created_at)")
    } else {
        diesel::dsl::sql::<UtcTime>("loss_acts.created_at")
    };
    let state = if drawn {
        LossActState::Drawn
    } else {
        LossActState::Recorded
    };
    let mut query = loss_acts::table
        .inner_join(shipments::table.inner_join(applications::table))
        .inner_join(branches::table.on(branches::id.eq(loss_acts::branch_id)))
        .filter(loss_acts::state.eq(state))
        .filter(shipments::status.eq(ShipmentState::Lost))
        .filter(loss_acts::created_at.le(At(window.began_by())))
        .order(loss_acts::created_at)
        .limit(window.limit)
        .select((
            shipments::id,
            loss_acts::branch_id,
            branches::time_zone,
            applications::number.nullable(),
            since,
        ))
        .into_boxed();
    if let Some(branch) = window.branch {
        query = query.filter(loss_acts::branch_id.eq(branch));
    }
    Ok(waiting(query.load(conn)?, |id: ShipmentId| id.0))
}

/// Kaspi handoff registries in `state` (a draft since it was drawn, a sealed one since its
/// sealing), oldest first, within `window`.
pub fn registries_waiting(
    conn: &mut DbConnection,
    window: &Window,
    state: crate::domain::registry::RegistryState,
) -> QueryResult<Vec<Waiting>> {
    use crate::domain::registry::RegistryState;
    let since = if state == RegistryState::Sealed {
        diesel::dsl::sql::<UtcTime>("COALESCE(registries.sealed_at, registries.created_at)")
    } else {
        diesel::dsl::sql::<UtcTime>("registries.created_at")
    };
    // A sealed registry whose every document was lost or withdrawn (re-routed to the ЦОН)
    // after sealing has nothing to hand over.
    let live = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "EXISTS (SELECT 1 FROM registry_items i JOIN shipments s ON s.id = i.shipment_id \
         WHERE i.registry_id = registries.id AND i.withdrawn_at IS NULL \
         AND s.status NOT IN ('lost', 'cancelled'))",
    );
    let mut query = registries::table
        .inner_join(branches::table.on(branches::id.eq(registries::branch_id)))
        .filter(registries::state.eq(state))
        .filter(live)
        .filter(registries::kind.eq(RegistryKind::KaspiHandoff))
        .filter(registries::created_at.le(At(window.began_by())))
        .order(registries::created_at)
        .limit(window.limit)
        .select((
            registries::id,
            registries::branch_id,
            branches::time_zone,
            registries::number,
            since,
        ))
        .into_boxed();
    if let Some(branch) = window.branch {
        query = query.filter(registries::branch_id.eq(branch));
    }
    Ok(waiting(query.load(conn)?, |id: RegistryId| id.0))
}

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
    let groups: Vec<SlaGroup> = super::portable_query(
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

/// What is waiting, for an operator's first look (`postamat doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub pending_deadlines: i64,
    /// Pending and already due: the sweeper's backlog.
    pub due_deadlines: i64,
    pub oldest_due: Option<DateTime<Utc>>,
    pub notifications_pending: i64,
    pub notifications_dead: i64,
    pub outbound_pending: i64,
    pub outbound_dead: i64,
    pub active_keys: i64,
    pub active_admin_keys: i64,
}

pub fn backlog(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Backlog> {
    use crate::db::schema::{api_keys, notifications, outbound_messages};
    use crate::domain::notification::DeliveryState;
    use crate::domain::role::Role;
    let pending = deadlines::table.filter(deadlines::state.eq(DeadlineState::Pending));
    let due = pending.filter(deadlines::due_at.le(At(now)));
    let notifications_in = |conn: &mut DbConnection, state: DeliveryState| {
        notifications::table
            .filter(notifications::state.eq(state))
            .count()
            .get_result::<i64>(conn)
    };
    let outbound_in = |conn: &mut DbConnection, state: DeliveryState| {
        outbound_messages::table
            .filter(outbound_messages::state.eq(state))
            .count()
            .get_result::<i64>(conn)
    };
    let active_keys = api_keys::table.filter(api_keys::revoked_at.is_null());
    Ok(Backlog {
        pending_deadlines: pending.count().get_result(conn)?,
        due_deadlines: due.count().get_result(conn)?,
        oldest_due: due
            .select(diesel::dsl::min(deadlines::due_at))
            .get_result(conn)?,
        notifications_pending: notifications_in(conn, DeliveryState::Pending)?,
        notifications_dead: notifications_in(conn, DeliveryState::Dead)?,
        outbound_pending: outbound_in(conn, DeliveryState::Pending)?,
        outbound_dead: outbound_in(conn, DeliveryState::Dead)?,
        active_keys: active_keys.count().get_result(conn)?,
        active_admin_keys: active_keys
            .filter(api_keys::role.eq(Role::Admin))
            .count()
            .get_result(conn)?,
    })
}

/// One outbox's waiting or dead messages on one channel (or destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxLine {
    /// `citizens` (SMS and Kaspi-app messages) or `systems` (requests to Kaspi and the registry
    /// office).
    pub outbox: &'static str,
    pub channel: String,
    /// `pending` or `dead`.
    pub state: String,
    pub n: i64,
}

/// What an on-call alerts on (`/metrics`): the outboxes' depth and how long ago the oldest
/// pending deadline fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    pub outboxes: Vec<OutboxLine>,
    /// Zero when nothing is due. A deadline force majeure holds back is waiting, not late for
    /// the sweeper, and is left out.
    pub oldest_due_age: std::time::Duration,
}

pub fn depth(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Depth> {
    use crate::db::schema::{notifications, outbound_messages};
    use crate::domain::notification::DeliveryState;
    let states = [DeliveryState::Pending, DeliveryState::Dead];
    let citizens: Vec<(String, String, i64)> = notifications::table
        .filter(notifications::state.eq_any(states))
        .group_by((notifications::channel, notifications::state))
        .select((
            notifications::channel,
            notifications::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let systems: Vec<(String, String, i64)> = outbound_messages::table
        .filter(outbound_messages::state.eq_any(states))
        .group_by((outbound_messages::destination, outbound_messages::state))
        .select((
            outbound_messages::destination,
            outbound_messages::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let line = |outbox| {
        move |(channel, state, n)| OutboxLine {
            outbox,
            channel,
            state,
            n,
        }
    };
    let oldest: Option<DateTime<Utc>> = deadlines::table
        .filter(deadlines::state.eq(DeadlineState::Pending))
        .filter(deadlines::due_at.le(At(now)))
        .filter(
            deadlines::sweep_error
                .is_null()
                .or(deadlines::sweep_error.ne(SUSPENDED_NOTE)),
        )
        .select(diesel::dsl::min(deadlines::due_at))
        .get_result(conn)?;
    Ok(Depth {
        outboxes: citizens
            .into_iter()
            .map(line("citizens"))
            .chain(systems.into_iter().map(line("systems")))
            .collect(),
        oldest_due_age: oldest
            .and_then(|due| (now - due).to_std().ok())
            .unwrap_or_default(),
    })
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

/// One line of a shipment's history that changed (or set) its state.
#[derive(Debug, Clone, Queryable)]
pub struct Move {
    pub id: HistoryId,
    pub shipment_id: Option<ShipmentId>,
    pub branch: String,
    pub delivery_method: DeliveryMethod,
    pub event: String,
    pub from: Option<String>,
    pub to: String,
    pub actor_role: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// The history lines of shipments with their branch and route, as [`Move`]s.
macro_rules! moves {
    () => {
        status_events::table
            .inner_join(
                shipments::table.on(status_events::shipment_id.eq(shipments::id.nullable())),
            )
            .inner_join(branches::table.on(branches::id.eq(shipments::branch_id)))
            .select((
                status_events::id,
                status_events::shipment_id,
                branches::code,
                shipments::delivery_method,
                status_events::event,
                status_events::from_status,
                status_events::to_status,
                status_events::actor_role,
                status_events::occurred_at,
            ))
    };
}

/// Rows a paged pass reads at a time.
const PAGE: i64 = 20_000;

/// Each history line of a shipment that happened in `[from, to)` and changed a state, read a
/// page at a time in the order of its id: a national year of the pilot writes millions, and a
/// query per day would read them all again every day (nothing indexes a line's time). Each
/// page is a range of the primary key, so the pass reads the history once and holds one page.
pub fn for_each_move_between(
    conn: &mut DbConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut each: impl FnMut(Move),
) -> QueryResult<()> {
    by_pages(
        conn,
        PAGE,
        |conn, after: Option<HistoryId>| {
            let mut query = moves!()
                .filter(status_events::occurred_at.ge(At(from)))
                .filter(status_events::occurred_at.lt(At(to)))
                .order(status_events::id)
                .limit(PAGE)
                .into_boxed();
            if let Some(last) = after {
                query = query.filter(status_events::id.gt(last));
            }
            query.load(conn)
        },
        |m: &Move| m.id,
        |_, page| {
            for m in page {
                if m.from.as_deref() != Some(m.to.as_str()) {
                    each(m);
                }
            }
            Ok(())
        },
    )
}

/// A paged pass in the order of a key: `load` reads the page of `size` rows after the key it is
/// given (none: the first page), `each` takes each page in turn; it ends at a page not full.
fn by_pages<K, R>(
    conn: &mut DbConnection,
    size: i64,
    mut load: impl FnMut(&mut DbConnection, Option<K>) -> QueryResult<Vec<R>>,
    key: impl Fn(&R) -> K,
    mut each: impl FnMut(&mut DbConnection, Vec<R>) -> QueryResult<()>,
) -> QueryResult<()> {
    let mut after = None;
    loop {
        let page = load(conn, after)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(key(last));
        let full = page.len() as i64 == size;
        each(conn, page)?;
        if !full {
            return Ok(());
        }
    }
}

/// The state-changing history of these shipments, each in the order it happened.
pub fn moves_of(conn: &mut DbConnection, ids: &[ShipmentId]) -> QueryResult<Vec<Move>> {
    let ids: Vec<Option<ShipmentId>> = ids.iter().copied().map(Some).collect();
    let rows: Vec<Move> = moves!()
        .filter(status_events::shipment_id.eq_any(ids))
        // The id (time-ordered) settles lines of one instant — a step and those it implied, or
        // an intake and the label that followed in the same second — in the order written.
        .order((
            status_events::shipment_id,
            status_events::occurred_at,
            status_events::recorded_at,
            status_events::id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|m| m.from.as_deref() != Some(m.to.as_str()))
        .collect())
}

/// A history event counted by branch: (branch code, event, the state it left).
pub type BranchEvent = (String, String, Option<String>);

/// How many history lines of each of `events` there are, by branch and the state they left:
/// the paths off the usual one (a postamat changed, a document re-routed or brought back).
pub fn events_by_branch(
    conn: &mut DbConnection,
    events: &[&str],
) -> QueryResult<BTreeMap<BranchEvent, u64>> {
    let rows: Vec<BranchEvent> = status_events::table
        .inner_join(applications::table.on(applications::id.eq(status_events::application_id)))
        .inner_join(branches::table.on(branches::id.eq(applications::branch_id)))
        .filter(status_events::event.eq_any(events))
        .select((
            branches::code,
            status_events::event,
            status_events::from_status,
        ))
        .load(conn)?;
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row).or_default() += 1;
    }
    Ok(counts)
}

/// A shipment as it is now, with its branch.
#[derive(Debug, Clone, Queryable)]
pub struct ShipmentNow {
    pub id: ShipmentId,
    pub branch: String,
    pub kind: ShipmentKind,
    pub delivery_method: DeliveryMethod,
    pub state: ShipmentState,
}

/// Every shipment: its id, branch, kind, route and state now.
pub fn shipments_now(conn: &mut DbConnection) -> QueryResult<Vec<ShipmentNow>> {
    let mut all = Vec::new();
    for_each_shipments_page(conn, PAGE, |_, page| {
        all.extend(page);
        Ok(())
    })?;
    Ok(all)
}

/// Every shipment as [`shipments_now`] reads it, handed to `each` a page of `size` at a time in
/// the order of their ids, so a national year's ~400,000 are never held at once.
pub fn for_each_shipments_page(
    conn: &mut DbConnection,
    size: i64,
    each: impl FnMut(&mut DbConnection, Vec<ShipmentNow>) -> QueryResult<()>,
) -> QueryResult<()> {
    by_pages(
        conn,
        size,
        |conn, after: Option<ShipmentId>| {
            let mut query = shipments::table
                .inner_join(branches::table)
                .select((
                    shipments::id,
                    branches::code,
                    shipments::kind,
                    shipments::delivery_method,
                    shipments::status,
                ))
                .order(shipments::id)
                .limit(size)
                .into_boxed();
            if let Some(last) = after {
                query = query.filter(shipments::id.gt(last));
            }
            query.load(conn)
        },
        |s: &ShipmentNow| s.id,
        each,
    )
}

/// A registry handed to a State courier.
#[derive(Debug, Clone)]
pub struct Handover {
    pub branch: String,
    pub kind: RegistryKind,
    pub number: String,
    pub at: DateTime<Utc>,
    pub envelopes: i64,
}

/// A registry as [`handovers`] reads it.
type RegistryLine = (
    RegistryId,
    String,
    RegistryKind,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// Registries handed to a State courier: branch, kind, number, when, and how many envelopes.
pub fn handovers(conn: &mut DbConnection) -> QueryResult<Vec<Handover>> {
    let rows: Vec<RegistryLine> = registries::table
        .inner_join(branches::table.on(branches::id.eq(registries::branch_id)))
        .filter(registries::handed_over_at.is_not_null())
        .select((
            registries::id,
            branches::code,
            registries::kind,
            registries::number,
            registries::handed_over_at,
        ))
        .load(conn)?;
    let mut counts: BTreeMap<RegistryId, i64> = BTreeMap::new();
    for id in registry_items::table
        .select(registry_items::registry_id)
        .load::<RegistryId>(conn)?
    {
        *counts.entry(id).or_default() += 1;
    }
    let mut out: Vec<Handover> = rows
        .into_iter()
        .filter_map(|(id, branch, kind, number, at)| {
            Some(Handover {
                branch,
                kind,
                number: number?,
                at: at?,
                envelopes: counts.get(&id).copied().unwrap_or(0),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.at, &a.branch, &a.number).cmp(&(b.at, &b.branch, &b.number)));
    Ok(out)
}

/// The branch and the time of each application submitted in `[from, to)`, read a page at a time
/// in the order of its id (as [`for_each_move_between`]).
pub fn for_each_submission_between(
    conn: &mut DbConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut each: impl FnMut(String, DateTime<Utc>),
) -> QueryResult<()> {
    let mut after: Option<ApplicationId> = None;
    loop {
        let mut query = applications::table
            .inner_join(branches::table)
            .filter(applications::submitted_at.ge(At(from)))
            .filter(applications::submitted_at.lt(At(to)))
            .select((applications::id, branches::code, applications::submitted_at))
            .order(applications::id)
            .limit(PAGE)
            .into_boxed();
        if let Some(last) = after {
            query = query.filter(applications::id.gt(last));
        }
        let page: Vec<(ApplicationId, String, DateTime<Utc>)> = query.load(conn)?;
        let Some((last, _, _)) = page.last() else {
            return Ok(());
        };
        after = Some(*last);
        let full = page.len() as i64 == PAGE;
        for (_, branch, at) in page {
            each(branch, at);
        }
        if !full {
            return Ok(());
        }
    }
}
