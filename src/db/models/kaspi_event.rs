//! Kaspi's delivery-status events as kept: every event with its outcome (a repeat gets the first
//! one), the unmatched ones waiting on their waybill or registry, and the discrepancies found
//! between our registries and Kaspi's reports.

use crate::db::models::branch::BranchScope;
use crate::db::models::report::Window;
use crate::db::schema::{discrepancies, kaspi_events, shipments};
use crate::db::time::{At, MaybeAt};
use crate::db::{DbConnection, insert_or_ignore};
use crate::domain::ids::{BranchId, DiscrepancyId, RegistryId, ShipmentId};
use crate::domain::kaspi::{DiscrepancyKind, Outcome};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = kaspi_events)]
#[diesel(treat_none_as_default_value = false)]
pub struct KaspiEventRow {
    pub event_id: String,
    pub event_type: String,
    /// What it waits on while unmatched: its waybill, or `registry:<number>` for an acceptance.
    pub waybill: Option<String>,
    #[diesel(serialize_as = At)]
    pub occurred_at: DateTime<Utc>,
    /// The event as Kaspi sent it (JSON).
    pub payload: String,
    pub payload_hash: String,
    pub outcome: Outcome,
    /// A problem code, for rejected events.
    pub reason_code: Option<String>,
    pub detail: Option<String>,
    pub shipment_id: Option<ShipmentId>,
    #[diesel(serialize_as = At)]
    pub received_at: DateTime<Utc>,
    #[diesel(serialize_as = MaybeAt)]
    pub resolved_at: Option<DateTime<Utc>>,
}

pub fn find(conn: &mut DbConnection, event_id: &str) -> QueryResult<Option<KaspiEventRow>> {
    kaspi_events::table
        .find(event_id)
        .select(KaspiEventRow::as_select())
        .first(conn)
        .optional()
}

/// Keeps an event seen for the first time; false if an event with its id is kept already (a
/// twin committed by another transaction).
pub fn insert_new(conn: &mut DbConnection, row: &KaspiEventRow) -> QueryResult<bool> {
    Ok(insert_or_ignore!(conn, kaspi_events::table, row.clone())? == 1)
}

/// The kept events among `ids`.
pub fn find_many(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<KaspiEventRow>> {
    kaspi_events::table
        .filter(kaspi_events::event_id.eq_any(ids))
        .select(KaspiEventRow::as_select())
        .load(conn)
}

/// The events waiting on `wait_key`, oldest first.
pub fn waiting(conn: &mut DbConnection, wait_key: &str) -> QueryResult<Vec<KaspiEventRow>> {
    kaspi_events::table
        .filter(kaspi_events::waybill.eq(wait_key))
        .filter(kaspi_events::outcome.eq(Outcome::Unmatched))
        .order(kaspi_events::occurred_at)
        .select(KaspiEventRow::as_select())
        .load(conn)
}

/// What became of a kept event when it was tried again.
pub fn set_outcome(conn: &mut DbConnection, row: &KaspiEventRow) -> QueryResult<()> {
    diesel::update(kaspi_events::table.find(&row.event_id))
        .set((
            kaspi_events::outcome.eq(row.outcome),
            kaspi_events::reason_code.eq(&row.reason_code),
            kaspi_events::detail.eq(&row.detail),
            kaspi_events::shipment_id.eq(row.shipment_id),
            kaspi_events::resolved_at.eq(row.resolved_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Events by outcome (the unmatched inbox, the rejected ones), oldest first, each with the
/// branch of its shipment when it has one. A branch scope sees only its shipments' events: an
/// event whose waybill matches no shipment belongs to no branch, and only the national scope
/// sees it.
pub fn by_outcome(
    conn: &mut DbConnection,
    outcome: Outcome,
    scope: &BranchScope,
    limit: i64,
) -> QueryResult<Vec<(KaspiEventRow, Option<BranchId>)>> {
    let mut query = kaspi_events::table
        .left_join(shipments::table.on(kaspi_events::shipment_id.eq(shipments::id.nullable())))
        .filter(kaspi_events::outcome.eq(outcome))
        .order(kaspi_events::received_at)
        .limit(limit)
        .select((KaspiEventRow::as_select(), shipments::branch_id.nullable()))
        .into_boxed();
    if let Some(branch) = scope.branch() {
        query = query.filter(shipments::branch_id.eq(branch));
    }
    query.load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = discrepancies)]
#[diesel(treat_none_as_default_value = false)]
pub struct DiscrepancyRow {
    pub id: DiscrepancyId,
    pub branch_id: Option<BranchId>,
    pub registry_id: Option<RegistryId>,
    pub shipment_id: Option<ShipmentId>,
    pub kind: DiscrepancyKind,
    pub waybill: Option<String>,
    pub detail: String,
    pub kaspi_event_id: Option<String>,
    #[diesel(serialize_as = At)]
    pub detected_at: DateTime<Utc>,
    #[diesel(serialize_as = MaybeAt)]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Settles the open "not accepted" discrepancies of a shipment (the courier brought it back);
/// returns how many.
pub fn settle_not_accepted(
    conn: &mut DbConnection,
    shipment: ShipmentId,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        discrepancies::table
            .filter(discrepancies::shipment_id.eq(shipment))
            .filter(discrepancies::kind.eq(DiscrepancyKind::NotAccepted))
            .filter(discrepancies::resolved_at.is_null()),
    )
    .set(discrepancies::resolved_at.eq(Some(at)))
    .execute(conn)
}

pub fn insert_discrepancy(conn: &mut DbConnection, row: &DiscrepancyRow) -> QueryResult<()> {
    diesel::insert_into(discrepancies::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// The scope's discrepancies, newest first.
pub fn discrepancies(
    conn: &mut DbConnection,
    scope: &BranchScope,
    limit: i64,
) -> QueryResult<Vec<DiscrepancyRow>> {
    let mut query = discrepancies::table
        .select(DiscrepancyRow::as_select())
        .into_boxed();
    if let Some(id) = scope.branch() {
        query = query.filter(discrepancies::branch_id.eq(id));
    }
    query
        .order(discrepancies::detected_at.desc())
        .limit(limit)
        .load(conn)
}

/// Discrepancies nobody has resolved yet (for the exception queue).
/// Discrepancies not resolved yet, oldest first, within `window` (those without a branch only
/// when it takes in the whole country).
pub fn open_discrepancies(
    conn: &mut DbConnection,
    window: &Window,
) -> QueryResult<Vec<DiscrepancyRow>> {
    let mut query = discrepancies::table
        .filter(discrepancies::resolved_at.is_null())
        .filter(discrepancies::detected_at.le(At(window.began_by())))
        .select(DiscrepancyRow::as_select())
        .order(discrepancies::detected_at)
        .limit(window.limit)
        .into_boxed();
    if let Some(branch) = window.branch {
        query = query.filter(discrepancies::branch_id.eq(branch));
    }
    query.load(conn)
}

/// Kaspi events kept unmatched, oldest first, within `window`: an event's branch is its
/// shipment's, so one not matched to anything is national staff's.
pub fn unmatched(
    conn: &mut DbConnection,
    window: &Window,
) -> QueryResult<Vec<(KaspiEventRow, Option<BranchId>)>> {
    let mut query = kaspi_events::table
        .left_join(shipments::table.on(kaspi_events::shipment_id.eq(shipments::id.nullable())))
        .filter(kaspi_events::outcome.eq(Outcome::Unmatched))
        .filter(kaspi_events::received_at.le(At(window.began_by())))
        .order(kaspi_events::received_at)
        .limit(window.limit)
        .select((KaspiEventRow::as_select(), shipments::branch_id.nullable()))
        .into_boxed();
    if let Some(branch) = window.branch {
        query = query.filter(shipments::branch_id.eq(branch));
    }
    query.load(conn)
}
