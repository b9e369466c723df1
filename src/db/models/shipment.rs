//! Shipments: one physical document on its way. Rows and queries only; the one place that
//! changes a shipment's state is `workflows::shipment::apply`, which writes through
//! [`save_change`].

use crate::db::DbConnection;
use crate::db::models::application::ApplicationRow;
use crate::db::models::branch::BranchScope;
use crate::db::models::deadline::{self, DeadlineRow};
use crate::db::models::history::{self, HistoryRow};
use crate::db::models::postamat::PostamatRow;
use crate::db::schema::{applications, branches, deadlines, postamats, shipments};
use crate::db::time::At;
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::identifiers::{ApplicationNumber, Iin, Waybill};
use crate::domain::ids::{ApplicationId, BranchId, ShipmentId};
use crate::domain::reference::BranchTimeZone;
use crate::domain::shipment::{DeliveryMethod, IssuedTo, ShipmentKind, ShipmentState};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipments)]
#[diesel(treat_none_as_default_value = false)]
pub struct ShipmentRow {
    pub id: ShipmentId,
    pub application_id: ApplicationId,
    pub kind: ShipmentKind,
    pub branch_id: BranchId,
    pub delivery_method: DeliveryMethod,
    pub status: ShipmentState,
    pub kaspi_order_id: Option<String>,
    pub waybill: Option<Waybill>,
    pub registry_office_registry: Option<String>,
    pub issued_to: Option<IssuedTo>,
    pub recipient_iin: Option<Iin>,
    pub recipient_name: Option<String>,
    pub power_of_attorney: Option<String>,
    pub postamat_cell: Option<String>,
    pub version: i32,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    pub updated_at: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConnection, row: &ShipmentRow) -> QueryResult<()> {
    diesel::insert_into(shipments::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// Writes a changed shipment if it is still at `row.version - 1` (optimistic lock); false if
/// another transaction changed it first. Every changeable column is written, so the statement
/// is the same whatever changed.
pub fn save_change(conn: &mut DbConnection, row: &ShipmentRow) -> QueryResult<bool> {
    diesel::update(
        shipments::table
            .find(row.id)
            .filter(shipments::version.eq(row.version - 1)),
    )
    .set((
        shipments::status.eq(row.status),
        shipments::delivery_method.eq(row.delivery_method),
        shipments::kaspi_order_id.eq(&row.kaspi_order_id),
        shipments::waybill.eq(&row.waybill),
        shipments::registry_office_registry.eq(&row.registry_office_registry),
        shipments::issued_to.eq(row.issued_to),
        shipments::recipient_iin.eq(&row.recipient_iin),
        shipments::recipient_name.eq(&row.recipient_name),
        shipments::power_of_attorney.eq(&row.power_of_attorney),
        shipments::postamat_cell.eq(&row.postamat_cell),
        shipments::version.eq(row.version),
        shipments::updated_at.eq(At(row.updated_at)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// The deadlines a change meets ([`crate::db::models::deadline::meet`]).
#[derive(Debug, Clone, Copy)]
pub struct Meeting<'a> {
    pub kinds: &'a [DeadlineKind],
    pub at: DateTime<Utc>,
}

/// [`save_change`], the change's history line, the deadlines it meets and the one it starts,
/// together: false (and nothing written) if another transaction changed the shipment first.
/// On PostgreSQL this is one statement (issue 26: each statement costs the database more than
/// most of its work); on SQLite, where a statement costs no round trip, one for each part.
pub fn save_transition(
    conn: &mut DbConnection,
    row: &ShipmentRow,
    line: &HistoryRow,
    meeting: Option<Meeting<'_>>,
    start: Option<&DeadlineRow>,
) -> QueryResult<bool> {
    let meeting = meeting.filter(|m| !m.kinds.is_empty());
    match conn {
        DbConnection::Postgres(pg) => transition_in_one(pg, row, line, meeting, start),
        DbConnection::Sqlite(_) => {
            if !save_change(conn, row)? {
                return Ok(false);
            }
            history::insert(conn, line)?;
            if let Some(m) = meeting {
                deadline::meet(conn, row.id, m.kinds, m.at)?;
            }
            if let Some(start) = start {
                deadline::insert(conn, start)?;
            }
            Ok(true)
        }
    }
}

/// The statement of [`save_transition`] on PostgreSQL.
fn transition_in_one(
    pg: &mut diesel::PgConnection,
    row: &ShipmentRow,
    line: &HistoryRow,
    meeting: Option<Meeting<'_>>,
    start: Option<&DeadlineRow>,
) -> QueryResult<bool> {
    let saved: i64 = TransitionInOne {
        row,
        from_version: row.version - 1,
        line,
        meeting,
        start,
    }
    .get_result(pg)?;
    Ok(saved == 1)
}

/// A data-modifying `WITH`: the shipment's update returns its id, and each other part writes
/// only for what it returned, so nothing is written if the shipment is not at its version.
/// Every part reads the deadlines as they were when the statement began, before it waited for
/// the shipment's row, if it had to: a deadline another transaction inserted meanwhile without
/// changing the shipment's version would not be met here. The one writer that does that, the
/// sweeper running a storage out (п.35), starts a kind met only together with a storage, and
/// such a change takes the step-by-step path (`workflows::shipment::apply`).
/// Built by hand because diesel has no `WITH`, and not with `sql_query`, which is prepared anew
/// each time: this one is cached by its text, one of four.
struct TransitionInOne<'a> {
    row: &'a ShipmentRow,
    /// The version the change was made from.
    from_version: i32,
    line: &'a HistoryRow,
    meeting: Option<Meeting<'a>>,
    start: Option<&'a DeadlineRow>,
}

impl diesel::query_builder::QueryId for TransitionInOne<'_> {
    type QueryId = ();
    // Cached by its text, not by its type: the text depends on the parts present.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for TransitionInOne<'_> {
    type SqlType = diesel::sql_types::BigInt;
}

impl RunQueryDsl<diesel::PgConnection> for TransitionInOne<'_> {}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for TransitionInOne<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use crate::db::id::Uuid;
        use crate::db::time::UtcTime;
        use diesel::sql_types::{BigInt, Integer, Nullable, Text};
        let (row, line) = (self.row, self.line);
        out.push_sql("WITH saved AS (UPDATE shipments SET status = ");
        out.push_bind_param::<Text, _>(&row.status)?;
        out.push_sql(", delivery_method = ");
        out.push_bind_param::<Text, _>(&row.delivery_method)?;
        out.push_sql(", kaspi_order_id = ");
        out.push_bind_param::<Nullable<Text>, _>(&row.kaspi_order_id)?;
        out.push_sql(", waybill = ");
        out.push_bind_param::<Nullable<Text>, _>(&row.waybill)?;
        out.push_sql(", registry_office_registry = ");
        out.push_bind_param::<Nullable<Text>, _>(&row.registry_office_registry)?;
        out.push_sql(", issued_to = ");
        out.push_bind_param::<Nullable<Text>, _>(&row.issued_to)?;
        out.push_sql(", recipient_iin = ");
        out.push_bind_param::<Nullable<Text>, _>(&row.recipient_iin)?;
        out.push_sql(", recipient_name = ");
        out.push_bind_param::<Nullable<Text>, _>(&row.recipient_name)?;
        out.push_sql(", power_of_attorney = ");
        out.push_bind_param::<Nullable<Text>, _>(&row.power_of_attorney)?;
        out.push_sql(", postamat_cell = ");
        out.push_bind_param::<Nullable<Text>, _>(&row.postamat_cell)?;
        out.push_sql(", version = ");
        out.push_bind_param::<Integer, _>(&row.version)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<UtcTime, _>(&row.updated_at)?;
        // As `save_change`: only at the version the change was made from.
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Uuid, _>(&row.id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<Integer, _>(&self.from_version)?;
        out.push_sql(
            " RETURNING id), line AS (INSERT INTO status_events (id, application_id, \
             shipment_id, event, from_status, to_status, actor_role, actor_key_id, actor_name, \
             source, external_event_id, details, occurred_at, recorded_at) SELECT ",
        );
        out.push_bind_param::<Uuid, _>(&line.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Uuid, _>(&line.application_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Uuid>, _>(&line.shipment_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&line.event)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&line.from_status)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&line.to_status)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&line.actor_role)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Uuid>, _>(&line.actor_key_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&line.actor_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&line.source)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&line.external_event_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&line.details)?;
        out.push_sql(", ");
        out.push_bind_param::<UtcTime, _>(&line.occurred_at)?;
        out.push_sql(", ");
        out.push_bind_param::<UtcTime, _>(&line.recorded_at)?;
        out.push_sql(" FROM saved)");
        if let Some(meeting) = &self.meeting {
            // As `deadline::meet`: met on time up to the due instant, late after it; one or two
            // kinds, always two parameters.
            debug_assert!(
                (1..=2).contains(&meeting.kinds.len()),
                "a transition meets one or two kinds"
            );
            let first = &meeting.kinds[0];
            let second = meeting.kinds.get(1).unwrap_or(first);
            let [open, breached] = &DeadlineState::OPEN;
            out.push_sql(", met AS (UPDATE deadlines SET state = CASE WHEN due_at >= ");
            out.push_bind_param::<UtcTime, _>(&meeting.at)?;
            out.push_sql(" THEN ");
            out.push_bind_param::<Text, _>(&DeadlineState::Met)?;
            out.push_sql(" ELSE ");
            out.push_bind_param::<Text, _>(&DeadlineState::MetLate)?;
            out.push_sql(" END, resolved_at = ");
            out.push_bind_param::<UtcTime, _>(&meeting.at)?;
            out.push_sql(" WHERE shipment_id = (SELECT id FROM saved) AND (kind = ");
            out.push_bind_param::<Text, _>(first)?;
            out.push_sql(" OR kind = ");
            out.push_bind_param::<Text, _>(second)?;
            out.push_sql(") AND (state = ");
            out.push_bind_param::<Text, _>(open)?;
            out.push_sql(" OR state = ");
            out.push_bind_param::<Text, _>(breached)?;
            out.push_sql("))");
        }
        if let Some(d) = self.start {
            out.push_sql(
                ", started AS (INSERT INTO deadlines (id, shipment_id, kind, started_at, due_at, \
                 calendar_version, state, resolved_at, sweep_attempts, sweep_after, \
                 sweep_error, created_at) SELECT ",
            );
            out.push_bind_param::<Uuid, _>(&d.id)?;
            out.push_sql(", ");
            out.push_bind_param::<Uuid, _>(&d.shipment_id)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(&d.kind)?;
            out.push_sql(", ");
            out.push_bind_param::<UtcTime, _>(&d.started_at)?;
            out.push_sql(", ");
            out.push_bind_param::<UtcTime, _>(&d.due_at)?;
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(&d.calendar_version)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(&d.state)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<UtcTime>, _>(&d.resolved_at)?;
            out.push_sql(", ");
            out.push_bind_param::<Integer, _>(&d.sweep_attempts)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<UtcTime>, _>(&d.sweep_after)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(&d.sweep_error)?;
            out.push_sql(", ");
            out.push_bind_param::<UtcTime, _>(&d.created_at)?;
            out.push_sql(" FROM saved)");
        }
        out.push_sql(" SELECT count(*) FROM saved");
        Ok(())
    }
}

pub fn find(conn: &mut DbConnection, id: ShipmentId) -> QueryResult<Option<ShipmentRow>> {
    shipments::table
        .find(id)
        .select(ShipmentRow::as_select())
        .first(conn)
        .optional()
}

/// The shipment if the scope may see it: another branch's is "not found".
pub fn find_scoped(
    conn: &mut DbConnection,
    id: ShipmentId,
    scope: &BranchScope,
) -> QueryResult<Option<ShipmentRow>> {
    Ok(find(conn, id)?.filter(|s| scope.allows(s.branch_id)))
}

/// A shipment with what a Kaspi event about it needs: its application (the citizen's contact
/// and chosen postamat), its branch's zone — read in one statement.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub shipment: ShipmentRow,
    pub application: ApplicationRow,
    pub time_zone: BranchTimeZone,
    pub chosen_postamat: Option<PostamatRow>,
}

type LoadedColumns = (
    ShipmentRow,
    ApplicationRow,
    BranchTimeZone,
    Option<PostamatRow>,
);

impl From<LoadedColumns> for Loaded {
    fn from((shipment, application, time_zone, chosen_postamat): LoadedColumns) -> Self {
        Loaded {
            shipment,
            application,
            time_zone,
            chosen_postamat,
        }
    }
}

/// Shipments with their application, branch time zone and chosen postamat: one statement.
macro_rules! loaded {
    ($filter:expr) => {
        shipments::table
            .inner_join(applications::table.left_join(postamats::table))
            .inner_join(branches::table)
            .filter($filter)
            .select((
                ShipmentRow::as_select(),
                ApplicationRow::as_select(),
                branches::time_zone,
                postamats::all_columns.nullable(),
            ))
    };
}

/// A shipment of the scope, loaded for its page.
pub fn find_with_application(
    conn: &mut DbConnection,
    id: ShipmentId,
    scope: &BranchScope,
) -> QueryResult<Option<Loaded>> {
    let found = loaded!(shipments::id.eq(id))
        .first::<LoadedColumns>(conn)
        .optional()?;
    Ok(found
        .map(Loaded::from)
        .filter(|l| scope.allows(l.shipment.branch_id)))
}

/// The shipment carrying `waybill`, loaded for a Kaspi event.
pub fn find_by_waybill(conn: &mut DbConnection, waybill: &str) -> QueryResult<Option<Loaded>> {
    let found = loaded!(shipments::waybill.eq(waybill))
        .first::<LoadedColumns>(conn)
        .optional()?;
    Ok(found.map(Loaded::from))
}

/// The application number of another shipment than `id` that already carries Kaspi order
/// `order_id` or waybill `waybill` (both are unique: a document has its own order and label).
pub fn order_held_by_another(
    conn: &mut DbConnection,
    id: ShipmentId,
    order_id: &str,
    waybill: &str,
) -> QueryResult<Option<String>> {
    shipments::table
        .inner_join(applications::table.on(applications::id.eq(shipments::application_id)))
        .filter(shipments::id.ne(id))
        .filter(
            shipments::kaspi_order_id
                .eq(order_id)
                .or(shipments::waybill.eq(waybill)),
        )
        .select(applications::number)
        .first(conn)
        .optional()
}

/// The application numbers and branch zones of the documents on the postamat route in one of
/// `states`, oldest application first.
pub fn on_postamat_route_in(
    conn: &mut DbConnection,
    states: &[ShipmentState],
) -> QueryResult<Vec<(String, BranchTimeZone)>> {
    shipments::table
        .inner_join(applications::table.on(applications::id.eq(shipments::application_id)))
        .inner_join(branches::table.on(branches::id.eq(shipments::branch_id)))
        .filter(shipments::delivery_method.eq(DeliveryMethod::Postamat))
        .filter(shipments::status.eq_any(states))
        .order((applications::submitted_at, applications::number))
        .select((applications::number, branches::time_zone))
        .load(conn)
}

/// An application's shipments, oldest first (the original, then any duplicates).
pub fn of_application(
    conn: &mut DbConnection,
    application_id: ApplicationId,
) -> QueryResult<Vec<ShipmentRow>> {
    shipments::table
        .filter(shipments::application_id.eq(application_id))
        .select(ShipmentRow::as_select())
        // Ids are time-ordered: they break a tie of equal times (a clock that did not move
        // between the original and its duplicate) in creation order, whatever index is read.
        .order((shipments::created_at, shipments::id))
        .load(conn)
}

pub fn find_original(
    conn: &mut DbConnection,
    application_id: ApplicationId,
) -> QueryResult<Option<ShipmentRow>> {
    shipments::table
        .filter(shipments::application_id.eq(application_id))
        .filter(shipments::kind.eq(ShipmentKind::Original))
        .select(ShipmentRow::as_select())
        .first(conn)
        .optional()
}

/// The shipment, locked for this transaction; `None` if another transaction holds it
/// (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite's IMMEDIATE transaction already excludes others).
pub fn lock(conn: &mut DbConnection, id: ShipmentId) -> QueryResult<Option<ShipmentRow>> {
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

/// What a shipment listing is filtered by.
#[derive(Debug, Clone, Default)]
pub struct ShipmentQuery {
    pub state: Option<ShipmentState>,
    /// Only shipments with an open deadline of this kind…
    pub deadline_kind: Option<DeadlineKind>,
    /// …due before this instant…
    pub due_before: Option<DateTime<Utc>>,
    /// …and after this one.
    pub due_after: Option<DateTime<Utc>>,
    pub application_number: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Shipments the scope may see, newest change first, with their application numbers and the
/// number that match over all pages.
pub fn list(
    conn: &mut DbConnection,
    filter: &ShipmentQuery,
    scope: &BranchScope,
) -> QueryResult<(Vec<(ShipmentRow, String)>, i64)> {
    // Shipments with a matching open deadline: one correlated `EXISTS` over the deadlines'
    // index, so the database applies scope, filters and `LIMIT` together (issue 28 finding 6:
    // the ids were loaded first and bound as one `IN (…)` list, the whole country's for a
    // national key). Absent filters take values that match every deadline, which keeps the
    // subquery one type for both backends (a boxed subquery cannot be).
    let by_deadline =
        filter.deadline_kind.is_some() || filter.due_before.is_some() || filter.due_after.is_some();
    let kinds: Vec<DeadlineKind> = match filter.deadline_kind {
        Some(kind) => vec![kind],
        None => DeadlineKind::ALL.to_vec(),
    };
    let before = filter.due_before.unwrap_or_else(crate::db::time::latest);
    let after = filter.due_after.unwrap_or_else(crate::db::time::earliest);
    let build = || {
        let mut query = shipments::table
            .inner_join(applications::table)
            .into_boxed();
        if let Some(id) = scope.branch() {
            query = query.filter(shipments::branch_id.eq(id));
        }
        if let Some(state) = filter.state {
            query = query.filter(shipments::status.eq(state));
        }
        if let Some(number) = &filter.application_number {
            query = query.filter(applications::number.eq(number.clone()));
        }
        if by_deadline {
            query = query.filter(diesel::dsl::exists(
                deadlines::table
                    .filter(deadlines::shipment_id.eq(shipments::id))
                    .filter(deadlines::state.eq_any(DeadlineState::OPEN))
                    .filter(deadlines::kind.eq_any(kinds.clone()))
                    .filter(deadlines::due_at.lt(At(before)))
                    .filter(deadlines::due_at.gt(At(after))),
            ));
        }
        query
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows = build()
        .select((ShipmentRow::as_select(), applications::number))
        .order((shipments::updated_at.desc(), shipments::id))
        .limit(filter.limit)
        .offset(filter.offset)
        .load(conn)?;
    Ok((rows, total))
}

/// What a console search looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    ApplicationNumber(String),
    Waybill(String),
    /// The applicant's IIN.
    Iin(String),
}

/// A shipment found by a search, with its application's number and applicant's IIN.
#[derive(Debug, Clone)]
pub struct Found {
    pub shipment: ShipmentRow,
    pub application_number: ApplicationNumber,
    pub applicant_iin: Iin,
}

/// Shipments of the scope matching `term` (at most `limit`), newest first. Each term has its
/// own index (the application number's and the waybill's unique keys, `applications_iin_idx`).
pub fn search(
    conn: &mut DbConnection,
    term: &SearchTerm,
    scope: &BranchScope,
    limit: i64,
) -> QueryResult<Vec<Found>> {
    let mut query = shipments::table
        .inner_join(applications::table)
        .into_boxed();
    query = match term {
        SearchTerm::ApplicationNumber(n) => query.filter(applications::number.eq(n.clone())),
        SearchTerm::Waybill(w) => query.filter(shipments::waybill.eq(w.clone())),
        SearchTerm::Iin(i) => query.filter(applications::applicant_iin.eq(i.clone())),
    };
    if let Some(id) = scope.branch() {
        query = query.filter(shipments::branch_id.eq(id));
    }
    Ok(query
        .select((
            ShipmentRow::as_select(),
            applications::number,
            applications::applicant_iin,
        ))
        .order((shipments::created_at.desc(), shipments::id.desc()))
        .limit(limit)
        .load::<(ShipmentRow, ApplicationNumber, Iin)>(conn)?
        .into_iter()
        .map(|(shipment, application_number, applicant_iin)| Found {
            shipment,
            application_number,
            applicant_iin,
        })
        .collect())
}
