//! Registries (п.13, 16–18, 32–33): numbered, printable manifests of envelopes. A draft is
//! edited; sealing gives it the next gapless number of its branch and year and freezes it; the
//! handover to the State courier moves every envelope on it.

use super::{from_db_time, to_db_time};
use crate::db::models::branch::BranchScope;
use crate::db::models::outbox;
use crate::db::models::shipment::{self, CommandError, EventContext, ShipmentRow};
use crate::db::schema::{api_keys, branches, registries, registry_items, shipments};
use crate::db::{DbConnection, Id};
use crate::domain::identifiers::document_number;
use crate::domain::registry::RegistryKind;
use crate::domain::shipment::NotificationKind;
use crate::domain::shipment::ShipmentState;
use crate::error::ErrorCode;
use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const KASPI_HANDOFF: &str = "kaspi_handoff";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistryState {
    Draft,
    Sealed,
    HandedOver,
    /// Kaspi's point accepted every envelope on it (п.18).
    Accepted,
    /// Kaspi's registry differs from ours: see the discrepancies.
    AcceptedWithDiscrepancies,
}

impl RegistryState {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryState::Draft => "draft",
            RegistryState::Sealed => "sealed",
            RegistryState::HandedOver => "handed_over",
            RegistryState::Accepted => "accepted",
            RegistryState::AcceptedWithDiscrepancies => "accepted_with_discrepancies",
        }
    }

    fn parse(s: &str) -> QueryResult<Self> {
        [
            RegistryState::Draft,
            RegistryState::Sealed,
            RegistryState::HandedOver,
            RegistryState::Accepted,
            RegistryState::AcceptedWithDiscrepancies,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| {
            DieselError::DeserializationError(format!("unknown registry state {s}").into())
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = registries)]
pub struct RegistryRow {
    pub id: Id,
    pub branch_id: Id,
    pub kind: String,
    pub state: String,
    pub number: Option<String>,
    pub created_by: Id,
    pub created_at: NaiveDateTime,
    pub sealed_by: Option<Id>,
    pub sealed_at: Option<NaiveDateTime>,
    pub handed_over_by: Option<Id>,
    pub handed_over_at: Option<NaiveDateTime>,
    pub courier_name: Option<String>,
    pub kaspi_registry_number: Option<String>,
    pub accepted_at: Option<NaiveDateTime>,
    pub version: i32,
}

impl RegistryRow {
    pub fn state(&self) -> QueryResult<RegistryState> {
        RegistryState::parse(&self.state)
    }

    pub fn kind(&self) -> QueryResult<RegistryKind> {
        RegistryKind::parse(&self.kind).ok_or_else(|| {
            DieselError::DeserializationError(format!("unknown registry kind {}", self.kind).into())
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistryItem {
    pub shipment_id: Id,
    pub application_number: String,
    pub waybill: String,
    /// The shipment's state now.
    pub state: ShipmentState,
    pub added_at: DateTime<Utc>,
}

/// A registry with its envelopes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Registry {
    pub id: Id,
    pub branch: String,
    #[schema(example = "kaspi_handoff")]
    pub kind: String,
    pub state: RegistryState,
    /// Given when sealed: `BRANCH-YEAR-NNNNNN`, gapless per branch and year.
    #[schema(example = "ALM01-2026-000001")]
    pub number: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub sealed_by: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    pub handed_over_by: Option<String>,
    pub handed_over_at: Option<DateTime<Utc>>,
    /// The State courier who signed for the envelopes.
    pub courier_name: Option<String>,
    /// Kaspi's registry of the envelopes its point accepted (п.18).
    pub kaspi_registry_number: Option<String>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub items: Vec<RegistryItem>,
}

fn key_name(conn: &mut DbConnection, id: Option<Id>) -> QueryResult<Option<String>> {
    let Some(id) = id else { return Ok(None) };
    api_keys::table
        .find(id)
        .select(api_keys::name)
        .first(conn)
        .optional()
}

pub fn view(conn: &mut DbConnection, row: RegistryRow) -> QueryResult<Registry> {
    let branch: String = branches::table
        .find(row.branch_id)
        .select(branches::code)
        .first(conn)?;
    let items = registry_items::table
        .inner_join(shipments::table)
        .filter(registry_items::registry_id.eq(row.id))
        .order((registry_items::added_at, registry_items::application_number))
        .select((
            registry_items::shipment_id,
            registry_items::application_number,
            registry_items::waybill,
            shipments::status,
            registry_items::added_at,
        ))
        .load::<(Id, String, String, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(
            |(shipment_id, application_number, waybill, status, added_at)| {
                Ok(RegistryItem {
                    shipment_id,
                    application_number,
                    waybill,
                    state: ShipmentState::parse(&status).ok_or_else(|| {
                        DieselError::DeserializationError(format!("unknown state {status}").into())
                    })?,
                    added_at: from_db_time(added_at),
                })
            },
        )
        .collect::<QueryResult<_>>()?;
    Ok(Registry {
        id: row.id,
        branch,
        kind: row.kind.clone(),
        state: row.state()?,
        number: row.number.clone(),
        created_by: key_name(conn, Some(row.created_by))?.unwrap_or_default(),
        created_at: from_db_time(row.created_at),
        sealed_by: key_name(conn, row.sealed_by)?,
        sealed_at: row.sealed_at.map(from_db_time),
        handed_over_by: key_name(conn, row.handed_over_by)?,
        handed_over_at: row.handed_over_at.map(from_db_time),
        courier_name: row.courier_name.clone(),
        kaspi_registry_number: row.kaspi_registry_number.clone(),
        accepted_at: row.accepted_at.map(from_db_time),
        items,
    })
}

pub fn find_scoped(
    conn: &mut DbConnection,
    id: Id,
    scope: &BranchScope,
) -> QueryResult<Option<RegistryRow>> {
    Ok(registries::table
        .find(id)
        .select(RegistryRow::as_select())
        .first(conn)
        .optional()?
        .filter(|r| scope.allows(r.branch_id)))
}

pub fn list(
    conn: &mut DbConnection,
    scope: &BranchScope,
    state: Option<RegistryState>,
) -> QueryResult<Vec<Registry>> {
    let mut query = registries::table
        .select(RegistryRow::as_select())
        .into_boxed();
    if let BranchScope::Only { id, .. } = scope {
        query = query.filter(registries::branch_id.eq(*id));
    }
    if let Some(state) = state {
        query = query.filter(registries::state.eq(state.as_str()));
    }
    let rows = query
        .order(registries::created_at.desc())
        .limit(200)
        .load(conn)?;
    rows.into_iter().map(|row| view(conn, row)).collect()
}

pub fn create_draft(
    conn: &mut DbConnection,
    kind: RegistryKind,
    branch_id: Id,
    created_by: Id,
    now: DateTime<Utc>,
) -> QueryResult<RegistryRow> {
    let row = RegistryRow {
        id: Id::new(),
        branch_id,
        kind: kind.as_str().to_owned(),
        state: RegistryState::Draft.as_str().to_owned(),
        number: None,
        created_by,
        created_at: to_db_time(now),
        sealed_by: None,
        sealed_at: None,
        handed_over_by: None,
        handed_over_at: None,
        courier_name: None,
        kaspi_registry_number: None,
        accepted_at: None,
        version: 0,
    };
    diesel::insert_into(registries::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// Claims a draft for one edit: bumping its version takes the row's write lock, so an edit and
/// a seal of the same registry cannot both pass their checks (PostgreSQL, READ COMMITTED).
fn claim_draft(conn: &mut DbConnection, registry: &RegistryRow) -> Result<(), CommandError> {
    require_draft(registry)?;
    let claimed = diesel::update(
        registries::table
            .find(registry.id)
            .filter(registries::state.eq(RegistryState::Draft.as_str())),
    )
    .set(registries::version.eq(registries::version + 1))
    .execute(conn)?;
    if claimed == 1 {
        Ok(())
    } else {
        // Sealed by someone else since we read it.
        Err(CommandError::Rule(
            ErrorCode::RegistrySealed,
            "the registry was sealed meanwhile; a sealed registry never changes".into(),
        ))
    }
}

fn require_draft(registry: &RegistryRow) -> Result<(), CommandError> {
    match registry.state()? {
        RegistryState::Draft => Ok(()),
        state => Err(CommandError::Rule(
            ErrorCode::RegistrySealed,
            format!(
                "registry {} is {}; a sealed registry never changes",
                registry.number.as_deref().unwrap_or("(unnumbered)"),
                state.as_str()
            ),
        )),
    }
}

/// Puts a packed postamat envelope of the registry's branch on a draft.
pub fn add_item(
    conn: &mut DbConnection,
    registry: &RegistryRow,
    shipment: &ShipmentRow,
    application_number: &str,
    added_by: Id,
    now: DateTime<Utc>,
) -> Result<(), CommandError> {
    claim_draft(conn, registry)?;
    if shipment.branch_id != registry.branch_id {
        return Err(CommandError::NotFound(format!(
            "no shipment of application {application_number} in this branch"
        )));
    }
    let state = shipment.state()?;
    let kind = registry.kind()?;
    let Some(waybill) = shipment
        .waybill
        .clone()
        .filter(|_| state == kind.item_state())
    else {
        return Err(CommandError::Rule(
            ErrorCode::InvalidTransition,
            format!(
                "only envelopes in state '{}' go on a {} registry; application {application_number} is in state '{state}'",
                kind.item_state(),
                kind.as_str()
            ),
        ));
    };
    let inserted = diesel::insert_into(registry_items::table)
        .values((
            registry_items::registry_id.eq(registry.id),
            registry_items::shipment_id.eq(shipment.id),
            registry_items::registry_kind.eq(&registry.kind),
            registry_items::application_number.eq(application_number),
            registry_items::waybill.eq(waybill),
            registry_items::added_by.eq(added_by),
            registry_items::added_at.eq(to_db_time(now)),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Err(CommandError::Rule(
                ErrorCode::AlreadyInRegistry,
                format!(
                    "application {application_number} is already on a {} registry",
                    registry.kind
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn remove_item(
    conn: &mut DbConnection,
    registry: &RegistryRow,
    shipment_id: Id,
) -> Result<(), CommandError> {
    claim_draft(conn, registry)?;
    let removed = diesel::delete(
        registry_items::table
            .filter(registry_items::registry_id.eq(registry.id))
            .filter(registry_items::shipment_id.eq(shipment_id)),
    )
    .execute(conn)?;
    if removed == 0 {
        return Err(CommandError::NotFound(format!(
            "shipment {shipment_id} is not on this registry"
        )));
    }
    Ok(())
}

#[derive(QueryableByName)]
struct NextValue {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_value: i64,
}

/// The next number of a branch's series for a year: gapless, because it is taken in the same
/// transaction as the document that uses it, and one statement, so two first documents of a
/// year cannot both insert the counter. (`$n` placeholders work on both backends.)
pub fn next_number(
    conn: &mut DbConnection,
    branch_id: Id,
    year: i32,
    series: &str,
) -> QueryResult<i64> {
    diesel::sql_query(
        "INSERT INTO number_sequences (branch_id, year, series, last_value) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (branch_id, year, series) DO UPDATE SET last_value = number_sequences.last_value + 1 \
         RETURNING last_value",
    )
    .bind::<crate::db::id::Uuid, _>(branch_id)
    .bind::<diesel::sql_types::Integer, _>(year)
    .bind::<diesel::sql_types::Text, _>(series)
    .get_result::<NextValue>(conn)
    .map(|next| next.last_value)
}

/// Seals a draft: it gets its number and never changes again.
pub fn seal(
    conn: &mut DbConnection,
    registry: &RegistryRow,
    ctx: &EventContext<'_>,
) -> Result<RegistryRow, CommandError> {
    require_draft(registry)?;
    let kind = registry.kind()?;
    let sealed_by = ctx
        .actor
        .key_id
        .ok_or_else(|| CommandError::NotFound("the sealing key".into()))?;
    let now = ctx.recorded_at;
    let items: Vec<(Id, String)> = registry_items::table
        .inner_join(shipments::table)
        .filter(registry_items::registry_id.eq(registry.id))
        .select((shipments::id, shipments::status))
        .load(conn)?;
    if items.is_empty() {
        return Err(CommandError::Rule(
            ErrorCode::ValidationFailed,
            "an empty registry cannot be sealed".into(),
        ));
    }
    if items.iter().any(|(_, s)| s != kind.item_state().as_str()) {
        return Err(CommandError::Rule(
            ErrorCode::InvalidTransition,
            format!(
                "every envelope on the registry must still be '{}'; remove the others first",
                kind.item_state()
            ),
        ));
    }
    let (code, zone): (String, String) = branches::table
        .find(registry.branch_id)
        .select((branches::code, branches::time_zone))
        .first(conn)?;
    let year = crate::domain::reference::BranchTimeZone::try_from(zone)
        .map(|tz| now.with_timezone(&tz.tz()).year())
        .unwrap_or_else(|_| now.year());
    let sequence = next_number(conn, registry.branch_id, year, "registry")?;
    let number = document_number(&code, year, sequence);
    let sealed = diesel::update(
        registries::table
            .find(registry.id)
            .filter(registries::state.eq(RegistryState::Draft.as_str())),
    )
    .set((
        registries::state.eq(RegistryState::Sealed.as_str()),
        registries::number.eq(Some(&number)),
        registries::sealed_by.eq(Some(sealed_by)),
        registries::sealed_at.eq(Some(to_db_time(now))),
        registries::version.eq(registries::version + 1),
    ))
    .execute(conn)?;
    if sealed != 1 {
        return Err(CommandError::Stale);
    }
    // п.32: sealing the return registry puts its documents on it (and starts the courier's
    // pickup deadline, п.33).
    if let Some(event) = kind.on_seal() {
        let details = serde_json::json!({ "registry": number });
        for (id, _) in &items {
            let row = shipment::find(conn, *id)?
                .ok_or_else(|| CommandError::NotFound(format!("shipment {id}")))?;
            shipment::apply_event(conn, &row, event, ctx, Some(details.clone()))?;
        }
    }
    Ok(registries::table
        .find(registry.id)
        .select(RegistryRow::as_select())
        .first(conn)?)
}

/// The State courier signs for a sealed registry: every envelope on it is handed over (п.17)
/// and its handoff deadline met, or met late.
pub fn hand_over(
    conn: &mut DbConnection,
    registry: &RegistryRow,
    courier_name: &str,
    ctx: &EventContext<'_>,
) -> Result<RegistryRow, CommandError> {
    if registry.state()? != RegistryState::Sealed {
        return Err(CommandError::Rule(
            ErrorCode::InvalidTransition,
            format!(
                "only a sealed registry is handed over; this one is {}",
                registry.state()?.as_str()
            ),
        ));
    }
    let ids: Vec<Id> = registry_items::table
        .filter(registry_items::registry_id.eq(registry.id))
        .select(registry_items::shipment_id)
        .load(conn)?;
    let kind = registry.kind()?;
    let details = serde_json::json!({ "registry": registry.number, "courier": courier_name });
    let mut handed = Vec::new();
    for id in ids {
        let row = shipment::find(conn, id)?
            .ok_or_else(|| CommandError::NotFound(format!("shipment {id}")))?;
        let (row, transition) =
            shipment::apply_event(conn, &row, kind.on_handover(), ctx, Some(details.clone()))?;
        if transition
            .notifies
            .contains(&NotificationKind::ReturnedToStateCorporation)
        {
            outbox::tell_where_to_collect(
                conn,
                &row,
                outbox::BranchNotice::Returned,
                ctx.recorded_at,
            )?;
        }
        handed.extend(row.waybill);
    }
    let updated = diesel::update(
        registries::table
            .find(registry.id)
            .filter(registries::state.eq(RegistryState::Sealed.as_str())),
    )
    .set((
        registries::state.eq(RegistryState::HandedOver.as_str()),
        registries::handed_over_by.eq(ctx.actor.key_id),
        registries::handed_over_at.eq(Some(to_db_time(ctx.occurred_at))),
        registries::courier_name.eq(Some(courier_name)),
        registries::version.eq(registries::version + 1),
    ))
    .execute(conn)?;
    if updated != 1 {
        return Err(CommandError::Stale);
    }
    // Kaspi's events that came before our handover was recorded can apply now: the point's
    // acceptance of this registry, then each envelope's own events.
    if kind != RegistryKind::KaspiHandoff {
        return Ok(registries::table
            .find(registry.id)
            .select(RegistryRow::as_select())
            .first(conn)?);
    }
    if let Some(number) = &registry.number {
        let key = crate::db::models::kaspi_event::registry_key(number);
        crate::db::lock_key(conn, &key)?;
        crate::db::models::kaspi_event::apply_unmatched(conn, &key, ctx)
            .map_err(|e| CommandError::Rule(e.code(), e.detail().to_owned()))?;
    }
    for waybill in &handed {
        crate::db::lock_key(conn, waybill)?;
        crate::db::models::kaspi_event::apply_unmatched(conn, waybill, ctx)
            .map_err(|e| CommandError::Rule(e.code(), e.detail().to_owned()))?;
    }
    Ok(registries::table
        .find(registry.id)
        .select(RegistryRow::as_select())
        .first(conn)?)
}
