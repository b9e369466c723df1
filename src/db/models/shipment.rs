//! Shipments — one physical document on its way — with their append-only history and their
//! deadlines. [`apply_event`] is the one place a shipment changes state: it asks the state
//! machine, updates the row under its optimistic lock, writes the history and starts, meets or
//! cancels deadlines, all inside the caller's transaction.

use super::{from_db_time, to_db_time};
use crate::db::models::api_key::Principal;
use crate::db::models::branch::BranchScope;
use crate::db::schema::{applications, branches, deadlines, shipments, status_events};
use crate::db::{DbConnection, Id};
use crate::domain::calendar::YearMissing;
use crate::domain::deadline::{self, DeadlineKind};
use crate::domain::force_majeure::{Extended, extended_due};
use crate::domain::reference::BranchTimeZone;
use crate::domain::role::Role;
use crate::domain::shipment::{
    Actor, DeliveryMethod, Refusal, ShipmentEvent, ShipmentState, Transition, transition,
};
use crate::jobs::calendar_refresh::CalendarSnapshot;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipments)]
pub struct ShipmentRow {
    pub id: Id,
    pub application_id: Id,
    pub kind: String,
    pub branch_id: Id,
    pub delivery_method: String,
    pub status: String,
    pub kaspi_order_id: Option<String>,
    pub waybill: Option<String>,
    pub registry_office_registry: Option<String>,
    pub issued_to: Option<String>,
    pub recipient_iin: Option<String>,
    pub recipient_name: Option<String>,
    pub power_of_attorney: Option<String>,
    pub postamat_cell: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

fn corrupt(what: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(what.into())
}

impl ShipmentRow {
    pub fn state(&self) -> QueryResult<ShipmentState> {
        ShipmentState::parse(&self.status)
            .ok_or_else(|| corrupt(format!("unknown shipment state {}", self.status)))
    }

    pub fn method(&self) -> QueryResult<DeliveryMethod> {
        DeliveryMethod::parse(&self.delivery_method)
            .ok_or_else(|| corrupt(format!("unknown delivery method {}", self.delivery_method)))
    }
}

/// Why a command on shipments failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Refused(Refusal),
    #[error("the shipment was changed by another request at the same time; reload and retry")]
    Stale,
    #[error(transparent)]
    Calendar(#[from] YearMissing),
    #[error("{0}")]
    NotFound(String),
    /// A rule of the command itself, with its own problem code.
    #[error("{1}")]
    Rule(crate::error::ErrorCode, String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl From<Refusal> for CommandError {
    fn from(refusal: Refusal) -> Self {
        CommandError::Refused(refusal)
    }
}

/// Who caused an event, as history records it.
#[derive(Debug, Clone)]
pub struct ActorRef {
    pub actor: Actor,
    pub key_id: Option<Id>,
    pub name: String,
}

impl From<&Principal> for ActorRef {
    fn from(p: &Principal) -> Self {
        ActorRef {
            actor: Actor::Role(p.role),
            key_id: Some(p.key_id),
            name: p.name.clone(),
        }
    }
}

impl ActorRef {
    fn role(&self) -> Option<Role> {
        match self.actor {
            Actor::Role(role) => Some(role),
            Actor::Sweeper => None,
        }
    }
}

/// Where and when an event happened, and what it is checked against.
pub struct EventContext<'a> {
    pub actor: ActorRef,
    /// `api`, `kaspi`, `registry_office` or `sweeper`.
    pub source: &'static str,
    pub external_event_id: Option<String>,
    /// When it happened (integrations say; for clerks it is now).
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The calendar and force-majeure periods deadlines are computed with.
    pub calendar: &'a CalendarSnapshot,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = status_events)]
struct StatusEventRow {
    id: Id,
    application_id: Id,
    shipment_id: Option<Id>,
    event: String,
    from_status: Option<String>,
    to_status: String,
    actor_role: Option<String>,
    actor_key_id: Option<Id>,
    actor_name: String,
    source: String,
    external_event_id: Option<String>,
    details: Option<String>,
    occurred_at: NaiveDateTime,
    recorded_at: NaiveDateTime,
}

/// One line of history: what changed.
pub struct Change<'a> {
    pub application_id: Id,
    /// `None` for events of an application without a document (registered, refused).
    pub shipment_id: Option<Id>,
    pub event: &'a str,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub details: Option<serde_json::Value>,
}

/// Appends one line of history.
pub fn record_history(
    conn: &mut DbConnection,
    change: Change<'_>,
    ctx: &EventContext<'_>,
) -> QueryResult<()> {
    diesel::insert_into(status_events::table)
        .values(&StatusEventRow {
            id: Id::new(),
            application_id: change.application_id,
            shipment_id: change.shipment_id,
            event: change.event.to_owned(),
            from_status: change.from.map(str::to_owned),
            to_status: change.to.to_owned(),
            actor_role: ctx.actor.role().map(|r| r.as_str().to_owned()),
            actor_key_id: ctx.actor.key_id,
            actor_name: ctx.actor.name.clone(),
            source: ctx.source.to_owned(),
            external_event_id: ctx.external_event_id.clone(),
            details: change.details.map(|d| d.to_string()),
            occurred_at: to_db_time(ctx.occurred_at),
            recorded_at: to_db_time(ctx.recorded_at),
        })
        .execute(conn)
        .map(|_| ())
}

/// Creates the original shipment of an executed application (п.8), ready at the registry
/// office.
pub fn create_original(
    conn: &mut DbConnection,
    application_id: Id,
    branch_id: Id,
    method: DeliveryMethod,
    ctx: &EventContext<'_>,
) -> QueryResult<ShipmentRow> {
    create(
        conn,
        application_id,
        branch_id,
        method,
        "original",
        "executed",
        ctx,
    )
}

/// п.26: a free duplicate of a cancelled application's lost certificate, on the ЦОН route,
/// with its 3-working-day deadline.
pub fn create_duplicate(
    conn: &mut DbConnection,
    application_id: Id,
    branch_id: Id,
    ctx: &EventContext<'_>,
) -> Result<ShipmentRow, CommandError> {
    let row = create(
        conn,
        application_id,
        branch_id,
        DeliveryMethod::Con,
        "duplicate",
        "duplicate_requested",
        ctx,
    )?;
    start_deadlines(conn, &row, &[DeadlineKind::Duplicate], ctx)?;
    Ok(row)
}

fn create(
    conn: &mut DbConnection,
    application_id: Id,
    branch_id: Id,
    method: DeliveryMethod,
    kind: &str,
    event: &str,
    ctx: &EventContext<'_>,
) -> QueryResult<ShipmentRow> {
    let now = to_db_time(ctx.recorded_at);
    let row = ShipmentRow {
        id: Id::new(),
        application_id,
        kind: kind.to_owned(),
        branch_id,
        delivery_method: method.as_str().to_owned(),
        status: ShipmentState::ReadyAtRegistryOffice.as_str().to_owned(),
        kaspi_order_id: None,
        waybill: None,
        registry_office_registry: None,
        issued_to: None,
        recipient_iin: None,
        recipient_name: None,
        power_of_attorney: None,
        postamat_cell: None,
        version: 0,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(shipments::table)
        .values(&row)
        .execute(conn)?;
    let change = Change {
        application_id,
        shipment_id: Some(row.id),
        event,
        from: None,
        to: ShipmentState::ReadyAtRegistryOffice.as_str(),
        details: None,
    };
    record_history(conn, change, ctx)?;
    Ok(row)
}

/// Starts deadlines of a shipment at the event's time, in its branch's zone, extended by any
/// force-majeure period covering the branch (п.37).
fn start_deadlines(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    kinds: &[DeadlineKind],
    ctx: &EventContext<'_>,
) -> Result<(), CommandError> {
    if kinds.is_empty() {
        return Ok(());
    }
    let tz = branch_zone(conn, shipment.branch_id)?;
    let suspensions = ctx.calendar.suspensions_for(Some(shipment.branch_id));
    for kind in kinds {
        let plain = deadline::due(kind.rule(), ctx.occurred_at, tz, &ctx.calendar.calendar)?;
        // Counting that would start inside a force-majeure period starts after it. While a
        // period is open-ended the plain due instant stands; the sweeper holds it back.
        let due = match extended_due(
            kind.rule(),
            ctx.occurred_at,
            tz,
            &ctx.calendar.calendar,
            &suspensions,
        )? {
            Extended::Due(extended) => extended,
            Extended::Suspended { .. } => plain,
        };
        diesel::insert_into(deadlines::table)
            .values((
                deadlines::id.eq(Id::new()),
                deadlines::shipment_id.eq(shipment.id),
                deadlines::kind.eq(kind.as_str()),
                deadlines::started_at.eq(to_db_time(ctx.occurred_at)),
                deadlines::due_at.eq(to_db_time(due.at)),
                deadlines::calendar_version.eq(due.calendar_version),
                deadlines::state.eq(DeadlineState::Pending.as_str()),
                deadlines::created_at.eq(to_db_time(ctx.recorded_at)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn branch_zone(conn: &mut DbConnection, branch_id: Id) -> QueryResult<chrono_tz::Tz> {
    let name: String = branches::table
        .find(branch_id)
        .select(branches::time_zone)
        .first(conn)?;
    BranchTimeZone::try_from(name)
        .map(BranchTimeZone::tz)
        .map_err(|e| corrupt(e.to_string()))
}

/// Applies `event` to `shipment`: the state machine decides, this writes. Returns the updated
/// row and the transition applied.
pub fn apply_event(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    event: ShipmentEvent,
    ctx: &EventContext<'_>,
    details: Option<serde_json::Value>,
) -> Result<(ShipmentRow, Transition), CommandError> {
    let from = shipment.state()?;
    let t = transition(from, event, shipment.method()?, ctx.actor.actor)?;
    let changed = diesel::update(
        shipments::table
            .find(shipment.id)
            .filter(shipments::version.eq(shipment.version)),
    )
    .set((
        shipments::status.eq(t.to.as_str()),
        shipments::version.eq(shipment.version + 1),
        shipments::updated_at.eq(to_db_time(ctx.recorded_at)),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Err(CommandError::Stale);
    }
    let change = Change {
        application_id: shipment.application_id,
        shipment_id: Some(shipment.id),
        event: event.as_str(),
        from: Some(from.as_str()),
        to: t.to.as_str(),
        details,
    };
    record_history(conn, change, ctx)?;

    let open = [DeadlineState::Pending, DeadlineState::Breached].map(DeadlineState::as_str);
    if t.cancels_pending {
        diesel::update(
            deadlines::table
                .filter(deadlines::shipment_id.eq(shipment.id))
                .filter(deadlines::state.eq(DeadlineState::Pending.as_str())),
        )
        .set((
            deadlines::state.eq(DeadlineState::Cancelled.as_str()),
            deadlines::resolved_at.eq(Some(to_db_time(ctx.occurred_at))),
        ))
        .execute(conn)?;
    }
    for kind in t.meets {
        let due: Vec<(Id, NaiveDateTime)> = deadlines::table
            .filter(deadlines::shipment_id.eq(shipment.id))
            .filter(deadlines::kind.eq(kind.as_str()))
            .filter(deadlines::state.eq_any(open))
            .select((deadlines::id, deadlines::due_at))
            .load(conn)?;
        for (id, due_at) in due {
            let state = if ctx.occurred_at <= from_db_time(due_at) {
                DeadlineState::Met
            } else {
                DeadlineState::MetLate
            };
            diesel::update(deadlines::table.find(id))
                .set((
                    deadlines::state.eq(state.as_str()),
                    deadlines::resolved_at.eq(Some(to_db_time(ctx.occurred_at))),
                ))
                .execute(conn)?;
        }
    }
    start_deadlines(conn, shipment, t.starts, ctx)?;
    let updated = shipments::table
        .find(shipment.id)
        .select(ShipmentRow::as_select())
        .first(conn)?;
    Ok((updated, t))
}

pub fn find(conn: &mut DbConnection, id: Id) -> QueryResult<Option<ShipmentRow>> {
    shipments::table
        .find(id)
        .select(ShipmentRow::as_select())
        .first(conn)
        .optional()
}

/// The shipment if the scope may see it: another branch's is "not found".
pub fn find_scoped(
    conn: &mut DbConnection,
    id: Id,
    scope: &BranchScope,
) -> QueryResult<Option<ShipmentRow>> {
    Ok(find(conn, id)?.filter(|s| scope.allows(s.branch_id)))
}

pub fn find_original(
    conn: &mut DbConnection,
    application_id: Id,
) -> QueryResult<Option<ShipmentRow>> {
    shipments::table
        .filter(shipments::application_id.eq(application_id))
        .filter(shipments::kind.eq("original"))
        .select(ShipmentRow::as_select())
        .first(conn)
        .optional()
}

pub fn of_application(
    conn: &mut DbConnection,
    application_id: Id,
) -> QueryResult<Vec<ShipmentRow>> {
    shipments::table
        .filter(shipments::application_id.eq(application_id))
        .select(ShipmentRow::as_select())
        .order(shipments::created_at)
        .load(conn)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    Pending,
    Met,
    MetLate,
    Breached,
    Cancelled,
}

impl DeadlineState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineState::Pending => "pending",
            DeadlineState::Met => "met",
            DeadlineState::MetLate => "met_late",
            DeadlineState::Breached => "breached",
            DeadlineState::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> QueryResult<Self> {
        [
            DeadlineState::Pending,
            DeadlineState::Met,
            DeadlineState::MetLate,
            DeadlineState::Breached,
            DeadlineState::Cancelled,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| corrupt(format!("unknown deadline state {s}")))
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadlineView {
    pub kind: DeadlineKind,
    /// The clause of the order it comes from.
    #[schema(example = "п.17")]
    pub clause: &'static str,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub calendar_version: i64,
    pub state: DeadlineState,
    pub resolved_at: Option<DateTime<Utc>>,
}

pub fn deadlines_of(conn: &mut DbConnection, shipment_id: Id) -> QueryResult<Vec<DeadlineView>> {
    deadlines::table
        .filter(deadlines::shipment_id.eq(shipment_id))
        .order(deadlines::started_at)
        .select((
            deadlines::kind,
            deadlines::started_at,
            deadlines::due_at,
            deadlines::calendar_version,
            deadlines::state,
            deadlines::resolved_at,
        ))
        .load::<(
            String,
            NaiveDateTime,
            NaiveDateTime,
            i64,
            String,
            Option<NaiveDateTime>,
        )>(conn)?
        .into_iter()
        .map(|(kind, started, due, version, state, resolved)| {
            let kind = DeadlineKind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| corrupt(format!("unknown deadline kind {kind}")))?;
            Ok(DeadlineView {
                kind,
                clause: kind.clause(),
                started_at: from_db_time(started),
                due_at: from_db_time(due),
                calendar_version: version,
                state: DeadlineState::parse(&state)?,
                resolved_at: resolved.map(from_db_time),
            })
        })
        .collect()
}

/// One line of a shipment's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusEvent {
    pub event: String,
    pub from: Option<String>,
    pub to: String,
    /// The actor's role; `null` for the sweeper.
    pub actor_role: Option<String>,
    pub actor_key_id: Option<Id>,
    pub actor_name: String,
    /// `api`, `kaspi`, `registry_office` or `sweeper`.
    pub source: String,
    pub external_event_id: Option<String>,
    pub details: Option<serde_json::Value>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// When we recorded it.
    pub recorded_at: DateTime<Utc>,
}

pub fn timeline(conn: &mut DbConnection, shipment_id: Id) -> QueryResult<Vec<StatusEvent>> {
    Ok(status_events::table
        .filter(status_events::shipment_id.eq(shipment_id))
        .order((
            status_events::occurred_at,
            status_events::recorded_at,
            status_events::id,
        ))
        .select(StatusEventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| StatusEvent {
            event: row.event,
            from: row.from_status,
            to: row.to_status,
            actor_role: row.actor_role,
            actor_key_id: row.actor_key_id,
            actor_name: row.actor_name,
            source: row.source,
            external_event_id: row.external_event_id,
            details: row.details.and_then(|d| serde_json::from_str(&d).ok()),
            occurred_at: from_db_time(row.occurred_at),
            recorded_at: from_db_time(row.recorded_at),
        })
        .collect())
}

/// A shipment in a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentSummary {
    pub id: Id,
    pub application_number: String,
    pub kind: String,
    pub delivery_method: DeliveryMethod,
    pub state: ShipmentState,
    pub waybill: Option<String>,
    pub kaspi_order_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ShipmentFilter {
    /// Only shipments in this state.
    #[param(inline)]
    pub state: Option<ShipmentState>,
    /// Only shipments with a pending or breached deadline of this kind…
    #[param(inline)]
    pub deadline_kind: Option<DeadlineKind>,
    /// …due before this instant…
    #[param(value_type = Option<String>)]
    pub due_before: Option<DateTime<Utc>>,
    /// …and after this one.
    #[param(value_type = Option<String>)]
    pub due_after: Option<DateTime<Utc>>,
    pub application_number: Option<String>,
    /// At most 200; 50 when omitted.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentPage {
    pub items: Vec<ShipmentSummary>,
    /// How many match, over all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Shipments the scope may see, filtered, newest change first.
pub fn list(
    conn: &mut DbConnection,
    filter: &ShipmentFilter,
    scope: &BranchScope,
) -> QueryResult<ShipmentPage> {
    let limit = filter.limit.unwrap_or(50).clamp(1, 200);
    let offset = filter.offset.unwrap_or(0).max(0);
    // Shipments with a matching open deadline, found first: a boxed subquery cannot be
    // expressed for both backends at once.
    let with_deadline: Option<Vec<Id>> = if filter.deadline_kind.is_some()
        || filter.due_before.is_some()
        || filter.due_after.is_some()
    {
        let mut due = deadlines::table
            .filter(deadlines::state.eq_any(["pending", "breached"]))
            .select(deadlines::shipment_id)
            .into_boxed();
        if let Some(kind) = filter.deadline_kind {
            due = due.filter(deadlines::kind.eq(kind.as_str()));
        }
        if let Some(before) = filter.due_before {
            due = due.filter(deadlines::due_at.lt(to_db_time(before)));
        }
        if let Some(after) = filter.due_after {
            due = due.filter(deadlines::due_at.gt(to_db_time(after)));
        }
        if let BranchScope::Only { id, .. } = scope {
            due = due.filter(
                deadlines::shipment_id.eq_any(
                    shipments::table
                        .filter(shipments::branch_id.eq(*id))
                        .select(shipments::id),
                ),
            );
        }
        Some(due.load(conn)?)
    } else {
        None
    };
    let build = || {
        let mut query = shipments::table
            .inner_join(applications::table)
            .into_boxed();
        if let BranchScope::Only { id, .. } = scope {
            query = query.filter(shipments::branch_id.eq(*id));
        }
        if let Some(state) = filter.state {
            query = query.filter(shipments::status.eq(state.as_str()));
        }
        if let Some(number) = &filter.application_number {
            query = query.filter(applications::number.eq(number.clone()));
        }
        if let Some(ids) = &with_deadline {
            query = query.filter(shipments::id.eq_any(ids.clone()));
        }
        query
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<(ShipmentRow, String)> = build()
        .select((ShipmentRow::as_select(), applications::number))
        .order((shipments::updated_at.desc(), shipments::id))
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(row, number)| {
            Ok(ShipmentSummary {
                id: row.id,
                application_number: number,
                kind: row.kind.clone(),
                delivery_method: row.method()?,
                state: row.state()?,
                waybill: row.waybill,
                kaspi_order_id: row.kaspi_order_id,
                updated_at: from_db_time(row.updated_at),
            })
        })
        .collect::<QueryResult<_>>()?;
    Ok(ShipmentPage {
        items,
        total,
        limit,
        offset,
    })
}

/// A pending deadline whose due instant has passed, claimed by one sweeper.
#[derive(Debug, Clone)]
pub struct DueDeadline {
    pub id: Id,
    pub shipment_id: Id,
    pub kind: DeadlineKind,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// Earlier sweeps that could not apply it.
    pub sweep_attempts: i32,
}

/// Claims up to `limit` pending deadlines due at or before `as_of`, oldest first, through the
/// `(state, due_at)` index. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`, so
/// sweepers on several instances each take different ones; on SQLite the caller's IMMEDIATE
/// transaction already runs one writer at a time. Must be called inside a transaction.
pub fn claim_due_deadlines(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<DueDeadline>> {
    let query = deadlines::table
        .filter(deadlines::state.eq(DeadlineState::Pending.as_str()))
        .filter(deadlines::due_at.le(to_db_time(as_of)))
        .filter(
            deadlines::sweep_after
                .is_null()
                .or(deadlines::sweep_after.le(to_db_time(as_of))),
        )
        .order((deadlines::due_at, deadlines::id))
        .limit(limit)
        .select((
            deadlines::id,
            deadlines::shipment_id,
            deadlines::kind,
            deadlines::started_at,
            deadlines::due_at,
            deadlines::sweep_attempts,
        ));
    type Row = (Id, Id, String, NaiveDateTime, NaiveDateTime, i32);
    let rows: Vec<Row> = match conn {
        DbConnection::Postgres(pg) => query.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(_) => query.load(conn)?,
    };
    rows.into_iter()
        .map(
            |(id, shipment_id, kind, started_at, due_at, sweep_attempts)| {
                Ok(DueDeadline {
                    id,
                    shipment_id,
                    kind: DeadlineKind::parse(&kind)
                        .ok_or_else(|| corrupt(format!("unknown deadline kind {kind}")))?,
                    started_at: from_db_time(started_at),
                    due_at: from_db_time(due_at),
                    sweep_attempts,
                })
            },
        )
        .collect()
}

/// Leaves a due deadline pending for a later sweep (after `until`), noting why.
pub fn postpone_deadline(
    conn: &mut DbConnection,
    id: Id,
    until: DateTime<Utc>,
    attempts: i32,
    error: Option<&str>,
) -> QueryResult<()> {
    diesel::update(deadlines::table.find(id))
        .set((
            deadlines::sweep_after.eq(Some(to_db_time(until))),
            deadlines::sweep_attempts.eq(attempts),
            deadlines::sweep_error.eq(error),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Moves a pending deadline's due instant (force majeure, п.37).
pub fn move_due(conn: &mut DbConnection, id: Id, due_at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(deadlines::table.find(id))
        .set(deadlines::due_at.eq(to_db_time(due_at)))
        .execute(conn)
        .map(|_| ())
}

/// The shipment, locked for this transaction; `None` if another transaction holds it
/// (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite's IMMEDIATE transaction already excludes others).
pub fn lock_shipment(conn: &mut DbConnection, id: Id) -> QueryResult<Option<ShipmentRow>> {
    match conn {
        DbConnection::Postgres(pg) => shipments::table
            .find(id)
            .select(ShipmentRow::as_select())
            .for_update()
            .skip_locked()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(_) => find(conn, id),
    }
}

/// Marks a pending deadline; false if it was no longer pending.
pub fn resolve_deadline(
    conn: &mut DbConnection,
    id: Id,
    state: DeadlineState,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        deadlines::table
            .find(id)
            .filter(deadlines::state.eq(DeadlineState::Pending.as_str())),
    )
    .set((
        deadlines::state.eq(state.as_str()),
        deadlines::resolved_at.eq(Some(to_db_time(at))),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Pending storage deadlines ending within `window` of `as_of` of documents still in their cell
/// and not yet reminded (for the reminder a day before).
pub fn storage_ending(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    window: chrono::Duration,
) -> QueryResult<Vec<(Id, DateTime<Utc>)>> {
    use crate::db::schema::notifications;
    let due: Vec<(Id, NaiveDateTime)> = deadlines::table
        .inner_join(shipments::table)
        .filter(deadlines::state.eq(DeadlineState::Pending.as_str()))
        .filter(deadlines::kind.eq(DeadlineKind::Storage.as_str()))
        .filter(deadlines::due_at.gt(to_db_time(as_of)))
        .filter(deadlines::due_at.le(to_db_time(as_of + window)))
        .filter(shipments::status.eq(ShipmentState::PlacedInCell.as_str()))
        .select((deadlines::shipment_id, deadlines::due_at))
        .load(conn)?;
    // Those already reminded are left out here, in one query per chunk, rather than each
    // being re-checked in its own transaction on every sweep of the day before.
    let mut reminded = std::collections::HashSet::new();
    for chunk in due.chunks(500) {
        let keys: Vec<String> = chunk
            .iter()
            .map(|(id, _)| storage_reminder_key(*id))
            .collect();
        reminded.extend(
            notifications::table
                .filter(notifications::dedup_key.eq_any(&keys))
                .select(notifications::dedup_key)
                .load::<String>(conn)?,
        );
    }
    Ok(due
        .into_iter()
        .filter(|(id, _)| !reminded.contains(&storage_reminder_key(*id)))
        .map(|(id, due)| (id, from_db_time(due)))
        .collect())
}

/// The dedup key of the one storage reminder a shipment gets.
pub fn storage_reminder_key(shipment_id: Id) -> String {
    format!("{shipment_id}:storage_reminder")
}
