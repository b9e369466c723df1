//! Deadlines of shipments (DOMAIN.md §5): started by a transition, met by a later one, breached
//! by the sweeper, moved by force majeure.

use crate::db::DbConnection;
use crate::db::schema::{branches, deadlines, notifications, shipments};
use crate::db::time::{At, MaybeAt};
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::ids::{BranchId, DeadlineId, ShipmentId};
use crate::domain::notification::{Channel, NotificationKind, dedup_key};
use crate::domain::reference::BranchTimeZone;
use crate::domain::shipment::ShipmentState;
use chrono::{DateTime, Utc};
use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::Text;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = deadlines)]
#[diesel(treat_none_as_default_value = false)]
pub struct DeadlineRow {
    pub id: DeadlineId,
    pub shipment_id: ShipmentId,
    pub kind: DeadlineKind,
    #[diesel(serialize_as = At)]
    pub started_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    pub due_at: DateTime<Utc>,
    pub calendar_version: i64,
    pub state: DeadlineState,
    #[diesel(serialize_as = MaybeAt)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Earlier sweeps that could not apply its consequence.
    pub sweep_attempts: i32,
    #[diesel(serialize_as = MaybeAt)]
    pub sweep_after: Option<DateTime<Utc>>,
    pub sweep_error: Option<String>,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConnection, row: &DeadlineRow) -> QueryResult<()> {
    diesel::insert_into(deadlines::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// A shipment's deadlines in the order they started.
pub fn of_shipment(conn: &mut DbConnection, id: ShipmentId) -> QueryResult<Vec<DeadlineRow>> {
    deadlines::table
        .filter(deadlines::shipment_id.eq(id))
        .order((deadlines::started_at, deadlines::id))
        .select(DeadlineRow::as_select())
        .load(conn)
}

/// Every deadline of `kind` in one of `states` (for a re-read a change of rule requires).
pub fn of_kind(
    conn: &mut DbConnection,
    kind: DeadlineKind,
    states: &[DeadlineState],
) -> QueryResult<Vec<DeadlineRow>> {
    deadlines::table
        .filter(deadlines::kind.eq(kind))
        .filter(deadlines::state.eq_any(states))
        .order((deadlines::started_at, deadlines::id))
        .select(DeadlineRow::as_select())
        .load(conn)
}

/// Sets a deadline's state and resolution whatever it was (a re-read under a new rule).
pub fn settle(
    conn: &mut DbConnection,
    id: DeadlineId,
    state: DeadlineState,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(deadlines::table.find(id))
        .set((
            deadlines::state.eq(state),
            deadlines::resolved_at.eq(Some(at)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Which pending deadlines of a shipment to cancel.
#[derive(Debug, Clone, Copy)]
pub enum Cancel<'a> {
    /// Every one (the shipment left the normal path).
    All,
    /// Those of these kinds, pending or already breached (what a superseded state had
    /// started never should have been due).
    Kinds(&'a [DeadlineKind]),
    /// Those of these kinds still pending and not due by this instant (made moot before they
    /// fell due).
    NotDueBy(&'a [DeadlineKind], DateTime<Utc>),
}

/// Cancels a shipment's deadlines, as `which` says, at `at`.
pub fn cancel_pending(
    conn: &mut DbConnection,
    id: ShipmentId,
    which: Cancel<'_>,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    let mut cancelled = diesel::update(deadlines::table)
        .filter(deadlines::shipment_id.eq(id))
        .into_boxed();
    cancelled = match which {
        Cancel::All => cancelled.filter(deadlines::state.eq(DeadlineState::Pending)),
        Cancel::Kinds(kinds) => cancelled
            .filter(deadlines::kind.eq_any(kinds))
            .filter(deadlines::state.eq_any(DeadlineState::OPEN)),
        Cancel::NotDueBy(kinds, by) => cancelled
            .filter(deadlines::kind.eq_any(kinds))
            .filter(deadlines::state.eq(DeadlineState::Pending))
            .filter(deadlines::due_at.gt(At(by))),
    };
    cancelled
        .set((
            deadlines::state.eq(DeadlineState::Cancelled),
            deadlines::resolved_at.eq(Some(at)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Marks a shipment's open deadlines of `kinds` met at `at`: on time up to their due instant,
/// late after it (or after a breach). One statement.
pub fn meet(
    conn: &mut DbConnection,
    id: ShipmentId,
    kinds: &[DeadlineKind],
    at: DateTime<Utc>,
) -> QueryResult<()> {
    if kinds.is_empty() {
        return Ok(());
    }
    let state = case_when::<_, _, Text>(deadlines::due_at.ge(At(at)), DeadlineState::Met)
        .otherwise(DeadlineState::MetLate);
    // A transition meets one or two kinds. The same number of parameters every time keeps the
    // statement prepared (an `IN` list of varying length is prepared anew on SQLite).
    let (first, second) = (kinds[0], kinds.get(1).copied().unwrap_or(kinds[0]));
    debug_assert!(kinds.len() <= 2, "a transition meets at most two kinds");
    let [open, breached] = DeadlineState::OPEN;
    diesel::update(
        deadlines::table
            .filter(deadlines::shipment_id.eq(id))
            .filter(deadlines::kind.eq(first).or(deadlines::kind.eq(second)))
            .filter(deadlines::state.eq(open).or(deadlines::state.eq(breached))),
    )
    .set((
        deadlines::state.eq(state),
        deadlines::resolved_at.eq(Some(at)),
    ))
    .execute(conn)
    .map(|_| ())
}

/// Claims up to `limit` pending deadlines due at or before `as_of`, oldest first, through the
/// `(state, due_at)` index. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`, so
/// sweepers on several instances each take different ones; on SQLite the caller's IMMEDIATE
/// transaction already runs one writer at a time. Must be called inside a transaction.
pub fn claim_due(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<DeadlineRow>> {
    // `'pending'` written out, not bound: PostgreSQL's index holds open deadlines only
    // (migration 16), and a plan kept for any parameter could not use it.
    debug_assert_eq!(DeadlineState::Pending.as_str(), "pending");
    let query = deadlines::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "deadlines.state = 'pending'",
        ))
        .filter(deadlines::due_at.le(At(as_of)))
        .filter(
            deadlines::sweep_after
                .is_null()
                .or(deadlines::sweep_after.le(At(as_of))),
        )
        .order((deadlines::due_at, deadlines::id))
        .limit(limit);
    match conn {
        DbConnection::Postgres(pg) => query
            .select(DeadlineRow::as_select())
            .for_update()
            .skip_locked()
            .load(pg),
        DbConnection::Sqlite(_) => query.select(DeadlineRow::as_select()).load(conn),
    }
}

/// Leaves a due deadline pending for a later sweep (after `until`), noting why.
pub fn postpone(
    conn: &mut DbConnection,
    id: DeadlineId,
    until: DateTime<Utc>,
    attempts: i32,
    error: Option<&str>,
) -> QueryResult<()> {
    diesel::update(deadlines::table.find(id))
        .set((
            deadlines::sweep_after.eq(Some(until)),
            deadlines::sweep_attempts.eq(attempts),
            deadlines::sweep_error.eq(error),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Moves a pending deadline's due instant (force majeure, п.37); false if it is no longer
/// pending (a settled deadline keeps the due instant it was settled against).
pub fn move_due(
    conn: &mut DbConnection,
    id: DeadlineId,
    due_at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        deadlines::table
            .find(id)
            .filter(deadlines::state.eq(DeadlineState::Pending)),
    )
    .set(deadlines::due_at.eq(At(due_at)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Settles a pending deadline; false if it was no longer pending.
pub fn resolve(
    conn: &mut DbConnection,
    id: DeadlineId,
    state: DeadlineState,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        deadlines::table
            .find(id)
            .filter(deadlines::state.eq(DeadlineState::Pending)),
    )
    .set((
        deadlines::state.eq(state),
        deadlines::resolved_at.eq(Some(at)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Pending deadlines of the shipments of one branch (or of every branch), with the branch and
/// its zone, for force majeure (п.37).
pub fn pending_with_zone(
    conn: &mut DbConnection,
    branch: Option<BranchId>,
) -> QueryResult<Vec<(DeadlineRow, BranchId, BranchTimeZone)>> {
    let mut query = deadlines::table
        .inner_join(shipments::table.inner_join(branches::table))
        .filter(deadlines::state.eq(DeadlineState::Pending))
        .select((
            DeadlineRow::as_select(),
            shipments::branch_id,
            branches::time_zone,
        ))
        .into_boxed();
    if let Some(branch) = branch {
        query = query.filter(shipments::branch_id.eq(branch));
    }
    query.load(conn)
}

/// Pending storage deadlines ending within `window` of `as_of` of documents still in their cell
/// and not yet reminded (for the reminder a day before).
pub fn storage_ending(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    window: chrono::Duration,
) -> QueryResult<Vec<(ShipmentId, DateTime<Utc>)>> {
    let due: Vec<(ShipmentId, DateTime<Utc>)> = deadlines::table
        .inner_join(shipments::table)
        .filter(deadlines::state.eq(DeadlineState::Pending))
        .filter(deadlines::kind.eq(DeadlineKind::Storage))
        .filter(deadlines::due_at.gt(At(as_of)))
        .filter(deadlines::due_at.le(At(as_of + window)))
        .filter(shipments::status.eq(ShipmentState::PlacedInCell))
        .select((deadlines::shipment_id, deadlines::due_at))
        .load(conn)?;
    // Those already reminded are left out here, in one query per chunk, rather than each
    // being re-checked in its own transaction on every sweep of the day before.
    let key = |id: ShipmentId| {
        dedup_key(
            id,
            NotificationKind::StorageReminder,
            None,
            Channel::KaspiApp,
        )
    };
    let mut reminded = std::collections::HashSet::new();
    for chunk in due.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(|(id, _)| key(*id)).collect();
        reminded.extend(
            notifications::table
                .filter(notifications::dedup_key.eq_any(&keys))
                .select(notifications::dedup_key)
                .load::<String>(conn)?,
        );
    }
    Ok(due
        .into_iter()
        .filter(|(id, _)| !reminded.contains(&key(*id)))
        .collect())
}
