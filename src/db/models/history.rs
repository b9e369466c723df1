//! The append-only history of applications and shipments (`status_events`): what happened,
//! who caused it, when it happened and when we recorded it.

use crate::db::DbConnection;
use crate::db::schema::status_events;
use crate::db::time::At;
use crate::domain::ids::{ApplicationId, HistoryId, KeyId, ShipmentId};
use crate::domain::role::Role;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = status_events)]
#[diesel(treat_none_as_default_value = false)]
pub struct HistoryRow {
    pub id: HistoryId,
    pub application_id: ApplicationId,
    /// `None` for events of an application without a document (registered, refused).
    pub shipment_id: Option<ShipmentId>,
    pub event: String,
    pub from_status: Option<String>,
    pub to_status: String,
    /// `None` for the sweeper.
    pub actor_role: Option<Role>,
    pub actor_key_id: Option<KeyId>,
    pub actor_name: String,
    /// `api`, `kaspi`, `registry_office` or `sweeper`.
    pub source: String,
    pub external_event_id: Option<String>,
    /// JSON.
    pub details: Option<String>,
    #[diesel(serialize_as = At)]
    pub occurred_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    pub recorded_at: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConnection, row: &HistoryRow) -> QueryResult<()> {
    diesel::insert_into(status_events::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// A shipment's history in the order things happened.
pub fn of_shipment(conn: &mut DbConnection, id: ShipmentId) -> QueryResult<Vec<HistoryRow>> {
    status_events::table
        .filter(status_events::shipment_id.eq(id))
        .order((
            status_events::occurred_at,
            status_events::recorded_at,
            status_events::id,
        ))
        .select(HistoryRow::as_select())
        .load(conn)
}

/// The details of the latest line of `event` on the application itself (before it had a
/// document), if any.
pub fn application_line(
    conn: &mut DbConnection,
    id: ApplicationId,
    event: &str,
) -> QueryResult<Option<String>> {
    Ok(status_events::table
        .filter(status_events::application_id.eq(id))
        .filter(status_events::shipment_id.is_null())
        .filter(status_events::event.eq(event))
        .order((status_events::occurred_at.desc(), status_events::id.desc()))
        .select(status_events::details)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// When the shipment last entered `state` (the time of the latest line that moved it there).
pub fn entered_at(
    conn: &mut DbConnection,
    id: ShipmentId,
    state: &str,
) -> QueryResult<Option<DateTime<Utc>>> {
    status_events::table
        .filter(status_events::shipment_id.eq(id))
        .filter(status_events::to_status.eq(state))
        .filter(status_events::from_status.ne(state))
        .select(diesel::dsl::max(status_events::occurred_at))
        .first(conn)
}

/// The events of one kind Kaspi reported for a shipment (`delayed`, `removed_from_cell`, …),
/// applied or recorded late: when each happened, with its details.
pub fn kaspi_reports(
    conn: &mut DbConnection,
    id: ShipmentId,
    event: &str,
) -> QueryResult<Vec<(DateTime<Utc>, Option<String>)>> {
    status_events::table
        .filter(status_events::shipment_id.eq(id))
        .filter(status_events::event.eq(event))
        .filter(status_events::source.eq("kaspi"))
        .select((status_events::occurred_at, status_events::details))
        .load(conn)
}
