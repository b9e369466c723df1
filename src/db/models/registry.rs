//! Registries (п.13, 16–18, 32–33): numbered, printable manifests of envelopes, and their items.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::shipment::ShipmentRow;
use crate::db::schema::{branches, registries, registry_items, shipments};
use crate::db::time::{At, MaybeAt};
use crate::domain::identifiers::{ApplicationNumber, Waybill};
use crate::domain::ids::{BranchId, KeyId, RegistryId, ShipmentId};
use crate::domain::reference::BranchTimeZone;
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::domain::shipment::ShipmentState;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = registries)]
#[diesel(treat_none_as_default_value = false)]
pub struct RegistryRow {
    pub id: RegistryId,
    pub branch_id: BranchId,
    pub kind: RegistryKind,
    pub state: RegistryState,
    /// Given when sealed.
    pub number: Option<String>,
    pub created_by: KeyId,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
    pub sealed_by: Option<KeyId>,
    #[diesel(serialize_as = MaybeAt)]
    pub sealed_at: Option<DateTime<Utc>>,
    pub handed_over_by: Option<KeyId>,
    #[diesel(serialize_as = MaybeAt)]
    pub handed_over_at: Option<DateTime<Utc>>,
    pub courier_name: Option<String>,
    pub kaspi_registry_number: Option<String>,
    #[diesel(serialize_as = MaybeAt)]
    pub accepted_at: Option<DateTime<Utc>>,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = registry_items)]
#[diesel(treat_none_as_default_value = false)]
pub struct ItemRow {
    pub registry_id: RegistryId,
    pub shipment_id: ShipmentId,
    pub registry_kind: RegistryKind,
    pub application_number: ApplicationNumber,
    pub waybill: Waybill,
    pub added_by: KeyId,
    #[diesel(serialize_as = At)]
    pub added_at: DateTime<Utc>,
    /// The State courier brought the envelope back (п.18 not accepted): the line stays on the
    /// signed registry, and the envelope may go onto a new one.
    #[diesel(serialize_as = MaybeAt)]
    pub withdrawn_at: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut DbConnection, row: &RegistryRow) -> QueryResult<()> {
    diesel::insert_into(registries::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: RegistryId) -> QueryResult<Option<RegistryRow>> {
    registries::table
        .find(id)
        .select(RegistryRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_scoped(
    conn: &mut DbConnection,
    id: RegistryId,
    scope: &BranchScope,
) -> QueryResult<Option<RegistryRow>> {
    Ok(find(conn, id)?.filter(|r| scope.allows(r.branch_id)))
}

pub fn find_by_number(conn: &mut DbConnection, number: &str) -> QueryResult<Option<RegistryRow>> {
    registries::table
        .filter(registries::number.eq(number))
        .select(RegistryRow::as_select())
        .first(conn)
        .optional()
}

/// The scope's registries, newest first.
/// The scope's registries, newest first (ids are time-ordered), older than `before` when
/// given: one page of keyset paging.
pub fn list(
    conn: &mut DbConnection,
    scope: &BranchScope,
    state: Option<RegistryState>,
    before: Option<RegistryId>,
    limit: i64,
) -> QueryResult<Vec<RegistryRow>> {
    let mut query = registries::table
        .select(RegistryRow::as_select())
        .into_boxed();
    if let Some(id) = scope.branch() {
        query = query.filter(registries::branch_id.eq(id));
    }
    if let Some(state) = state {
        query = query.filter(registries::state.eq(state));
    }
    if let Some(before) = before {
        query = query.filter(registries::id.lt(before));
    }
    query.order(registries::id.desc()).limit(limit).load(conn)
}

/// A registry's items with the state their shipments are in now, in the order they were added.
pub fn items(
    conn: &mut DbConnection,
    id: RegistryId,
) -> QueryResult<Vec<(ItemRow, ShipmentState)>> {
    registry_items::table
        .inner_join(shipments::table)
        .filter(registry_items::registry_id.eq(id))
        .order((registry_items::added_at, registry_items::application_number))
        .select((ItemRow::as_select(), shipments::status))
        .load(conn)
}

/// An item with its shipment and the zone of the shipment's branch.
pub type ItemWithShipment = (ItemRow, ShipmentRow, BranchTimeZone);

/// The registry of `number` with its items, their shipments and the branch's zone, for Kaspi's
/// acceptance — in one statement.
pub fn find_with_shipments(
    conn: &mut DbConnection,
    number: &str,
) -> QueryResult<Option<(RegistryRow, Vec<ItemWithShipment>)>> {
    type Item = (Option<ItemRow>, Option<ShipmentRow>, Option<BranchTimeZone>);
    // Flat left joins: a nested join is materialised whole by SQLite before it is joined.
    let rows: Vec<(RegistryRow, Item)> = registries::table
        .left_join(registry_items::table)
        .left_join(shipments::table.on(shipments::id.eq(registry_items::shipment_id)))
        .left_join(branches::table.on(branches::id.eq(shipments::branch_id)))
        .filter(registries::number.eq(number))
        .order((registry_items::added_at, registry_items::application_number))
        .select((
            RegistryRow::as_select(),
            (
                registry_items::all_columns.nullable(),
                shipments::all_columns.nullable(),
                branches::time_zone.nullable(),
            ),
        ))
        .load(conn)?;
    let Some((registry, _)) = rows.first() else {
        return Ok(None);
    };
    let registry = registry.clone();
    let items = rows
        .into_iter()
        .filter_map(|(_, item)| match item {
            (Some(item), Some(shipment), Some(zone)) => Some((item, shipment, zone)),
            _ => None,
        })
        .collect();
    Ok(Some((registry, items)))
}

/// Claims a draft for one edit: bumping its version takes the row's write lock, so an edit and
/// a seal of the same registry cannot both pass their checks (PostgreSQL, READ COMMITTED).
/// False if it is no longer a draft.
pub fn claim_draft(conn: &mut DbConnection, id: RegistryId) -> QueryResult<bool> {
    diesel::update(
        registries::table
            .find(id)
            .filter(registries::state.eq(RegistryState::Draft)),
    )
    .set(registries::version.eq(registries::version + 1))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn insert_item(conn: &mut DbConnection, row: &ItemRow) -> QueryResult<()> {
    diesel::insert_into(registry_items::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// The registry of `kind` the envelope is on now (its line not withdrawn), with its state.
pub fn live_of(
    conn: &mut DbConnection,
    shipment_id: ShipmentId,
    kind: RegistryKind,
) -> QueryResult<Option<(RegistryId, RegistryState)>> {
    registry_items::table
        .inner_join(registries::table)
        .filter(registry_items::shipment_id.eq(shipment_id))
        .filter(registry_items::registry_kind.eq(kind))
        .filter(registry_items::withdrawn_at.is_null())
        .select((registries::id, registries::state))
        .first(conn)
        .optional()
}

/// Marks the envelope's line on its live registry of `kind` withdrawn (the courier brought it
/// back); returns that registry's id and number, if it was on one.
pub fn withdraw_item(
    conn: &mut DbConnection,
    shipment_id: ShipmentId,
    kind: RegistryKind,
    at: DateTime<Utc>,
) -> QueryResult<Option<(RegistryId, Option<String>)>> {
    let live = registry_items::table
        .inner_join(registries::table)
        .filter(registry_items::shipment_id.eq(shipment_id))
        .filter(registry_items::registry_kind.eq(kind))
        .filter(registry_items::withdrawn_at.is_null())
        .select((registries::id, registries::number))
        .first::<(RegistryId, Option<String>)>(conn)
        .optional()?;
    if let Some((id, _)) = &live {
        diesel::update(
            registry_items::table
                .filter(registry_items::registry_id.eq(*id))
                .filter(registry_items::shipment_id.eq(shipment_id)),
        )
        .set(registry_items::withdrawn_at.eq(Some(at)))
        .execute(conn)?;
    }
    Ok(live)
}

/// Takes a shipment off a registry; false if it was not on it.
pub fn delete_item(
    conn: &mut DbConnection,
    id: RegistryId,
    shipment_id: ShipmentId,
) -> QueryResult<bool> {
    diesel::delete(
        registry_items::table
            .filter(registry_items::registry_id.eq(id))
            .filter(registry_items::shipment_id.eq(shipment_id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Seals a draft with its number; false if it was no longer a draft.
pub fn seal(
    conn: &mut DbConnection,
    id: RegistryId,
    number: &str,
    by: KeyId,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        registries::table
            .find(id)
            .filter(registries::state.eq(RegistryState::Draft)),
    )
    .set((
        registries::state.eq(RegistryState::Sealed),
        registries::number.eq(Some(number)),
        registries::sealed_by.eq(Some(by)),
        registries::sealed_at.eq(Some(at)),
        registries::version.eq(registries::version + 1),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records the courier's signature on a sealed registry; false if it was no longer sealed.
pub fn hand_over(
    conn: &mut DbConnection,
    id: RegistryId,
    by: Option<KeyId>,
    courier_name: &str,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        registries::table
            .find(id)
            .filter(registries::state.eq(RegistryState::Sealed)),
    )
    .set((
        registries::state.eq(RegistryState::HandedOver),
        registries::handed_over_by.eq(by),
        registries::handed_over_at.eq(Some(at)),
        registries::courier_name.eq(Some(courier_name)),
        registries::version.eq(registries::version + 1),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records Kaspi's acceptance of a handed-over registry (п.18); false if it was not handed over.
pub fn accept(
    conn: &mut DbConnection,
    id: RegistryId,
    state: RegistryState,
    kaspi_registry_number: &str,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        registries::table
            .find(id)
            .filter(registries::state.eq(RegistryState::HandedOver)),
    )
    .set((
        registries::state.eq(state),
        registries::kaspi_registry_number.eq(Some(kaspi_registry_number)),
        registries::accepted_at.eq(Some(at)),
        registries::version.eq(registries::version + 1),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
