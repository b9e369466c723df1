//! Loss acts (п.22–24): a loss is recorded with its cause, circumstances and responsible
//! employee (Kaspi's own act number kept for a Kaspi-side loss); the accumulation sector then
//! draws the act under the branch's number.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::schema::{applications, branches, loss_acts, shipments};
use crate::db::time::{At, MaybeAt};
use crate::domain::ids::{BranchId, KeyId, LossActId, ShipmentId};
use crate::domain::loss::{LossActState, LossSide};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = loss_acts)]
#[diesel(treat_none_as_default_value = false)]
pub struct LossActRow {
    pub id: LossActId,
    pub shipment_id: ShipmentId,
    pub branch_id: BranchId,
    pub side: LossSide,
    /// Kaspi's own act, for a Kaspi-side loss (п.22).
    pub kaspi_act_number: Option<String>,
    /// Our number once drawn.
    pub number: Option<String>,
    pub state: LossActState,
    pub cause: String,
    pub circumstances: String,
    pub responsible_employee: String,
    pub kaspi_event_id: Option<String>,
    pub recorded_by: Option<KeyId>,
    pub drawn_by: Option<KeyId>,
    #[diesel(serialize_as = MaybeAt)]
    pub drawn_at: Option<DateTime<Utc>>,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
}

/// A loss act with its application number and branch code.
pub type LossAct = (LossActRow, String, String);

pub fn insert(conn: &mut DbConnection, row: &LossActRow) -> QueryResult<()> {
    diesel::insert_into(loss_acts::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

fn load(
    conn: &mut DbConnection,
    id: Option<LossActId>,
    scope: &BranchScope,
    page: Option<(Option<LossActId>, i64)>,
) -> QueryResult<Vec<LossAct>> {
    let mut query = loss_acts::table
        .inner_join(shipments::table.inner_join(applications::table))
        .inner_join(branches::table.on(branches::id.eq(loss_acts::branch_id)))
        .select((
            LossActRow::as_select(),
            applications::number,
            branches::code,
        ))
        .order(loss_acts::id.desc())
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(loss_acts::id.eq(id));
    }
    if let Some(branch) = scope.branch() {
        query = query.filter(loss_acts::branch_id.eq(branch));
    }
    if let Some((before, limit)) = page {
        if let Some(before) = before {
            query = query.filter(loss_acts::id.lt(before));
        }
        query = query.limit(limit);
    }
    query.load(conn)
}

pub fn find_scoped(
    conn: &mut DbConnection,
    id: LossActId,
    scope: &BranchScope,
) -> QueryResult<Option<LossAct>> {
    Ok(load(conn, Some(id), scope, None)?.into_iter().next())
}

/// The scope's loss acts, newest first (ids are time-ordered), older than `before` when given:
/// one page of keyset paging.
pub fn list(
    conn: &mut DbConnection,
    scope: &BranchScope,
    before: Option<LossActId>,
    limit: i64,
) -> QueryResult<Vec<LossAct>> {
    load(conn, None, scope, Some((before, limit)))
}

/// The loss act of a shipment, the latest if there were several.
pub fn of_shipment(
    conn: &mut DbConnection,
    shipment: ShipmentId,
) -> QueryResult<Option<LossActRow>> {
    loss_acts::table
        .filter(loss_acts::shipment_id.eq(shipment))
        .select(LossActRow::as_select())
        .order(loss_acts::id.desc())
        .first(conn)
        .optional()
}

/// Gives a recorded act its number; false if it was drawn meanwhile.
pub fn draw(
    conn: &mut DbConnection,
    id: LossActId,
    number: &str,
    by: KeyId,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        loss_acts::table
            .find(id)
            .filter(loss_acts::state.eq(LossActState::Recorded)),
    )
    .set((
        loss_acts::number.eq(Some(number)),
        loss_acts::state.eq(LossActState::Drawn),
        loss_acts::drawn_by.eq(Some(by)),
        loss_acts::drawn_at.eq(Some(at)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
