//! Applications (п.3–5): what the citizen asked for, registered by Kaspi, finalised or refused
//! by the registry office.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::schema::applications;
use crate::db::time::At;
use crate::domain::application::ApplicationStatus;
use crate::domain::identifiers::{ApplicationNumber, Iin, Phone};
use crate::domain::ids::{ApplicationId, BranchId, PostamatId};
use crate::domain::notification::Language;
use crate::domain::shipment::DeliveryMethod;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = applications)]
#[diesel(treat_none_as_default_value = false)]
pub struct ApplicationRow {
    pub id: ApplicationId,
    pub number: ApplicationNumber,
    pub registry_office_code: String,
    pub applicant_iin: Iin,
    pub applicant_name: String,
    pub phone: Phone,
    pub language: Language,
    pub delivery_method: DeliveryMethod,
    pub postamat_id: Option<PostamatId>,
    pub branch_id: BranchId,
    pub status: ApplicationStatus,
    #[diesel(serialize_as = At)]
    pub submitted_at: DateTime<Utc>,
    pub payload_hash: String,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

pub fn insert(conn: &mut DbConnection, row: &ApplicationRow) -> QueryResult<()> {
    diesel::insert_into(applications::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_number(
    conn: &mut DbConnection,
    number: &str,
) -> QueryResult<Option<ApplicationRow>> {
    applications::table
        .filter(applications::number.eq(number))
        .select(ApplicationRow::as_select())
        .first(conn)
        .optional()
}

/// The application if the scope may see it: another branch's is "not found".
pub fn find_scoped(
    conn: &mut DbConnection,
    number: &str,
    scope: &BranchScope,
) -> QueryResult<Option<ApplicationRow>> {
    let mut query = applications::table
        .filter(applications::number.eq(number))
        .select(ApplicationRow::as_select())
        .into_boxed();
    if let Some(id) = scope.branch() {
        query = query.filter(applications::branch_id.eq(id));
    }
    query.first(conn).optional()
}

/// The application our own rows refer to.
pub fn get(conn: &mut DbConnection, id: ApplicationId) -> QueryResult<ApplicationRow> {
    applications::table
        .find(id)
        .select(ApplicationRow::as_select())
        .first(conn)
}

/// Sets the way of delivery (issue 23: another postamat, or the ЦОН instead) if the application
/// is still at its version; false if someone else changed it.
pub fn set_delivery(
    conn: &mut DbConnection,
    row: &ApplicationRow,
    method: DeliveryMethod,
    postamat: Option<PostamatId>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        applications::table
            .find(row.id)
            .filter(applications::version.eq(row.version)),
    )
    .set((
        applications::delivery_method.eq(method),
        applications::postamat_id.eq(postamat),
        applications::version.eq(row.version + 1),
        applications::updated_at.eq(At(now)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Moves the application to `to` if it is still at its version; false if someone else moved it.
pub fn set_status(
    conn: &mut DbConnection,
    row: &ApplicationRow,
    to: ApplicationStatus,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        applications::table
            .find(row.id)
            .filter(applications::version.eq(row.version)),
    )
    .set((
        applications::status.eq(to),
        applications::version.eq(row.version + 1),
        applications::updated_at.eq(At(now)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
