//! The exception queue's sources: deadlines overdue, and documents, acts and registries
//! waiting longer than they should, each read within a [`Window`](super::Window).

use super::{SUSPENDED_NOTE, Window};
use crate::db::DbConnection;
use crate::db::schema::{applications, branches, deadlines, registries, shipments};
use crate::db::time::At;
use crate::db::time::UtcTime;
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::identifiers::ApplicationNumber;
use crate::domain::ids::{ApplicationId, BranchId, RegistryId, ShipmentId};
use crate::domain::reference::BranchTimeZone;
use crate::domain::registry::RegistryKind;
use crate::domain::shipment::{ShipmentKind, ShipmentState};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

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
pub(super) const STATE_AT_DUE: &str = "(SELECT e.to_status FROM status_events e \
     WHERE e.shipment_id = deadlines.shipment_id AND e.occurred_at <= deadlines.due_at \
     AND (e.from_status IS NULL OR e.from_status <> e.to_status) \
     ORDER BY e.occurred_at DESC, e.recorded_at DESC, e.id DESC LIMIT 1)";

pub(super) fn state_at_due() -> diesel::expression::SqlLiteral<Nullable<Text>> {
    diesel::dsl::sql::<Nullable<Text>>(STATE_AT_DUE)
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
