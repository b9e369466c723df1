//! Disputes (п.36): what was disputed between whom, and how the commission (its protocol) or
//! a court settled it.

use super::{from_db_time, to_db_time};
use crate::db::models::branch::BranchScope;
use crate::db::schema::disputes;
use crate::db::{DbConnection, Id};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disputes)]
struct DisputeRow {
    id: Id,
    shipment_id: Id,
    loss_act_id: Option<Id>,
    branch_id: Id,
    parties: String,
    subject: String,
    opened_on: NaiveDate,
    commission_protocol: Option<String>,
    outcome: Option<String>,
    settled_on: Option<NaiveDate>,
    recorded_by: Id,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dispute {
    pub id: Id,
    pub shipment_id: Id,
    pub loss_act_id: Option<Id>,
    pub parties: String,
    pub subject: String,
    pub opened_on: NaiveDate,
    /// The commission's protocol (п.36), once signed.
    pub commission_protocol: Option<String>,
    pub outcome: Option<String>,
    /// `null` while open.
    pub settled_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<DisputeRow> for Dispute {
    fn from(r: DisputeRow) -> Self {
        Dispute {
            id: r.id,
            shipment_id: r.shipment_id,
            loss_act_id: r.loss_act_id,
            parties: r.parties,
            subject: r.subject,
            opened_on: r.opened_on,
            commission_protocol: r.commission_protocol,
            outcome: r.outcome,
            settled_on: r.settled_on,
            created_at: from_db_time(r.created_at),
            updated_at: from_db_time(r.updated_at),
        }
    }
}

pub struct NewDispute<'a> {
    pub shipment_id: Id,
    pub branch_id: Id,
    pub loss_act_id: Option<Id>,
    pub parties: &'a str,
    pub subject: &'a str,
    pub opened_on: NaiveDate,
    pub recorded_by: Id,
}

pub fn open(
    conn: &mut DbConnection,
    new: NewDispute<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Dispute> {
    let row = DisputeRow {
        id: Id::new(),
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
        created_at: to_db_time(now),
        updated_at: to_db_time(now),
    };
    diesel::insert_into(disputes::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.into())
}

pub fn find_scoped(
    conn: &mut DbConnection,
    id: Id,
    scope: &BranchScope,
) -> QueryResult<Option<Dispute>> {
    let row: Option<DisputeRow> = disputes::table
        .find(id)
        .select(DisputeRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.filter(|r| scope.allows(r.branch_id)).map(Dispute::from))
}

pub fn list(conn: &mut DbConnection, scope: &BranchScope) -> QueryResult<Vec<Dispute>> {
    let mut query = disputes::table
        .select(DisputeRow::as_select())
        .order(disputes::created_at.desc())
        .into_boxed();
    if let BranchScope::Only { id, .. } = scope {
        query = query.filter(disputes::branch_id.eq(*id));
    }
    Ok(query.load(conn)?.into_iter().map(Dispute::from).collect())
}

/// Records the settlement; false if it was already settled.
pub fn settle(
    conn: &mut DbConnection,
    id: Id,
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
        disputes::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
