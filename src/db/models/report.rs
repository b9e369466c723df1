//! What supervisors read across the service: overdue deadlines for the exception queue, and the
//! SLA counts per branch and deadline kind.

use super::to_db_time;
use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::schema::{applications, branches, deadlines, shipments};
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::ids::{BranchId, ShipmentId};
use crate::domain::shipment::ShipmentState;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::BTreeMap;

/// The sweeper's note on a deadline a force-majeure period holds back: a wait, not a failure.
pub const SUSPENDED_NOTE: &str = "suspended by force majeure";

/// A deadline that passed unmet, or that the sweeper keeps failing to apply.
#[derive(Debug, Clone, Queryable)]
pub struct Overdue {
    pub kind: DeadlineKind,
    pub due_at: NaiveDateTime,
    pub shipment_id: ShipmentId,
    pub branch_id: BranchId,
    pub state: ShipmentState,
    pub application_number: String,
    pub sweep_error: Option<String>,
}

/// Breached deadlines of documents still on their way, and due ones the sweeper cannot apply.
pub fn overdue(conn: &mut DbConnection) -> QueryResult<Vec<Overdue>> {
    let columns = (
        deadlines::kind,
        deadlines::due_at,
        shipments::id,
        shipments::branch_id,
        shipments::status,
        applications::number,
        deadlines::sweep_error,
    );
    let active: Vec<ShipmentState> = ShipmentState::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .collect();
    let mut found: Vec<Overdue> = deadlines::table
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
        .select(columns)
        .load(conn)?;
    // Due deadlines the sweeper keeps failing to apply (force-majeure waits are not failures).
    found.extend(
        deadlines::table
            .inner_join(shipments::table.inner_join(applications::table))
            .filter(deadlines::state.eq(DeadlineState::Pending))
            .filter(deadlines::sweep_error.is_not_null())
            .filter(deadlines::sweep_error.ne(SUSPENDED_NOTE))
            .select(columns)
            .load::<Overdue>(conn)?,
    );
    Ok(found)
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
}

/// Deadlines falling due in `[from, to)`, counted by branch and kind.
pub fn sla(
    conn: &mut DbConnection,
    scope: &BranchScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<SlaCounts>> {
    let mut query = deadlines::table
        .inner_join(shipments::table.inner_join(branches::table))
        .filter(deadlines::due_at.ge(to_db_time(from)))
        .filter(deadlines::due_at.lt(to_db_time(to)))
        .select((branches::code, deadlines::kind, deadlines::state))
        .into_boxed();
    if let Some(id) = scope.branch() {
        query = query.filter(shipments::branch_id.eq(id));
    }
    let mut lines: BTreeMap<(String, &'static str), SlaCounts> = BTreeMap::new();
    for (branch, kind, state) in query.load::<(String, DeadlineKind, DeadlineState)>(conn)? {
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
            });
        match state {
            DeadlineState::Met => line.met_on_time += 1,
            DeadlineState::MetLate => line.met_late += 1,
            DeadlineState::Breached => line.breached_open += 1,
            DeadlineState::Cancelled => line.cancelled += 1,
            DeadlineState::Pending => line.pending += 1,
        }
    }
    Ok(lines.into_values().collect())
}

/// What is waiting, for an operator's first look (`postamat doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub pending_deadlines: i64,
    /// Pending and already due: the sweeper's backlog.
    pub due_deadlines: i64,
    pub oldest_due: Option<NaiveDateTime>,
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
    let due = pending.filter(deadlines::due_at.le(to_db_time(now)));
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
