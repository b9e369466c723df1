//! Disputes (п.36): what was disputed between whom, and how the commission (its protocol) or
//! a court settled it.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::schema::disputes;
use crate::db::time::At;
use crate::domain::ids::{BranchId, DisputeId, KeyId, LossActId, ShipmentId};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disputes)]
#[diesel(treat_none_as_default_value = false)]
pub struct DisputeRow {
    pub id: DisputeId,
    pub shipment_id: ShipmentId,
    pub loss_act_id: Option<LossActId>,
    pub branch_id: BranchId,
    pub parties: String,
    pub subject: String,
    pub opened_on: NaiveDate,
    /// The commission's protocol (п.36), once signed.
    pub commission_protocol: Option<String>,
    pub outcome: Option<String>,
    /// `None` while open.
    pub settled_on: Option<NaiveDate>,
    pub recorded_by: KeyId,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    pub updated_at: DateTime<Utc>,
}

pub struct NewDispute<'a> {
    pub shipment_id: ShipmentId,
    pub branch_id: BranchId,
    pub loss_act_id: Option<LossActId>,
    pub parties: &'a str,
    pub subject: &'a str,
    pub opened_on: NaiveDate,
    pub recorded_by: KeyId,
}

pub fn open(
    conn: &mut DbConnection,
    new: NewDispute<'_>,
    now: DateTime<Utc>,
) -> QueryResult<DisputeRow> {
    let row = DisputeRow {
        id: DisputeId::new(),
        shipment_id: new.shipment_id,
        loss_act_id: new.loss_act_id,
        branch_id: new.branch_id,
        parties: new.parties.to_owned(),
        subject: new.subject.to_owned(),
        opened_on: new.opened_on,
        commission_protocol: None,
        outcome: None,
        settled_on: None,
        recorded_by: new.recorded_by,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(disputes::table)
        .values(row.clone())
        .execute(conn)?;
    Ok(row)
}

pub fn find_scoped(
    conn: &mut DbConnection,
    id: DisputeId,
    scope: &BranchScope,
) -> QueryResult<Option<DisputeRow>> {
    let row: Option<DisputeRow> = disputes::table
        .find(id)
        .select(DisputeRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.filter(|r| scope.allows(r.branch_id)))
}

pub fn list(conn: &mut DbConnection, scope: &BranchScope) -> QueryResult<Vec<DisputeRow>> {
    let mut query = disputes::table
        .select(DisputeRow::as_select())
        .order(disputes::created_at.desc())
        .into_boxed();
    if let Some(id) = scope.branch() {
        query = query.filter(disputes::branch_id.eq(id));
    }
    query.load(conn)
}

/// Records the settlement; false if it was already settled.
pub fn settle(
    conn: &mut DbConnection,
    id: DisputeId,
    protocol: &str,
    outcome: &str,
    settled_on: NaiveDate,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        disputes::table
            .find(id)
            .filter(disputes::settled_on.is_null()),
    )
    .set((
        disputes::commission_protocol.eq(Some(protocol)),
        disputes::outcome.eq(Some(outcome)),
        disputes::settled_on.eq(Some(settled_on)),
        disputes::updated_at.eq(At(now)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
