//! Applications (п.3–5): what the citizen asked for, registered by Kaspi, finalised or refused
//! by the registry office.

use super::{from_db_time, to_db_time};
use crate::db::models::branch::BranchScope;
use crate::db::schema::{applications, postamats};
use crate::db::{DbConnection, Id};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    AwaitingExecution,
    Executed,
    Refused,
    Cancelled,
}

impl ApplicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::AwaitingExecution => "awaiting_execution",
            ApplicationStatus::Executed => "executed",
            ApplicationStatus::Refused => "refused",
            ApplicationStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ApplicationStatus::AwaitingExecution,
            ApplicationStatus::Executed,
            ApplicationStatus::Refused,
            ApplicationStatus::Cancelled,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = applications)]
pub struct ApplicationRow {
    pub id: Id,
    pub number: String,
    pub registry_office_code: String,
    pub applicant_iin: String,
    pub applicant_name: String,
    pub phone: String,
    pub language: String,
    pub delivery_method: String,
    pub postamat_id: Option<Id>,
    pub branch_id: Id,
    pub status: String,
    pub submitted_at: NaiveDateTime,
    pub payload_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

impl ApplicationRow {
    pub fn status(&self) -> QueryResult<ApplicationStatus> {
        ApplicationStatus::parse(&self.status).ok_or_else(|| {
            diesel::result::Error::DeserializationError(
                format!("unknown application status {}", self.status).into(),
            )
        })
    }

    pub fn submitted_at(&self) -> DateTime<Utc> {
        from_db_time(self.submitted_at)
    }
}

pub fn insert(conn: &mut DbConnection, row: &ApplicationRow) -> QueryResult<()> {
    diesel::insert_into(applications::table)
        .values(row)
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
    if let BranchScope::Only { id, .. } = scope {
        query = query.filter(applications::branch_id.eq(*id));
    }
    query.first(conn).optional()
}

pub fn find(conn: &mut DbConnection, id: Id) -> QueryResult<ApplicationRow> {
    applications::table
        .find(id)
        .select(ApplicationRow::as_select())
        .first(conn)
}

/// Moves the application to `to` if it is still at `version`; false if someone else moved it.
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
        applications::status.eq(to.as_str()),
        applications::version.eq(row.version + 1),
        applications::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// The chosen postamat's Kaspi id, city and address, for clerks (п.12).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChosenPostamat {
    pub kaspi_id: String,
    pub city: String,
    pub address_kk: String,
    pub address_ru: String,
}

pub fn chosen_postamat(
    conn: &mut DbConnection,
    id: Option<Id>,
) -> QueryResult<Option<ChosenPostamat>> {
    let Some(id) = id else { return Ok(None) };
    postamats::table
        .find(id)
        .select((
            postamats::kaspi_id,
            postamats::city,
            postamats::address_kk,
            postamats::address_ru,
        ))
        .first::<(String, String, String, String)>(conn)
        .optional()
        .map(|found| {
            found.map(|(kaspi_id, city, address_kk, address_ru)| ChosenPostamat {
                kaspi_id,
                city,
                address_kk,
                address_ru,
            })
        })
}

/// A shipment as seen from its application.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentBrief {
    pub id: Id,
    /// `original` or `duplicate`.
    pub kind: String,
    pub state: crate::domain::shipment::ShipmentState,
    pub kaspi_order_id: Option<String>,
    pub waybill: Option<String>,
    pub deadlines: Vec<crate::db::models::shipment::DeadlineView>,
}

/// An application as clerks see it (п.12): how the document is delivered, where it is, and
/// what is due.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: Id,
    pub application_number: String,
    pub status: ApplicationStatus,
    pub delivery_method: crate::domain::shipment::DeliveryMethod,
    /// The chosen postamat, for postamat delivery.
    pub postamat: Option<ChosenPostamat>,
    pub branch: String,
    pub registry_office_code: String,
    pub applicant_name: String,
    pub applicant_iin: String,
    pub phone: String,
    /// `kk` or `ru`: the language of the citizen's messages.
    pub language: String,
    pub submitted_at: DateTime<Utc>,
    pub shipments: Vec<ShipmentBrief>,
}

pub fn view(conn: &mut DbConnection, row: ApplicationRow) -> QueryResult<ApplicationView> {
    use crate::db::models::shipment;
    let branch: String = crate::db::schema::branches::table
        .find(row.branch_id)
        .select(crate::db::schema::branches::code)
        .first(conn)?;
    let postamat = chosen_postamat(conn, row.postamat_id)?;
    let shipments = shipment::of_application(conn, row.id)?
        .into_iter()
        .map(|s| {
            Ok(ShipmentBrief {
                id: s.id,
                kind: s.kind.clone(),
                state: s.state()?,
                kaspi_order_id: s.kaspi_order_id.clone(),
                waybill: s.waybill.clone(),
                deadlines: shipment::deadlines_of(conn, s.id)?,
            })
        })
        .collect::<QueryResult<_>>()?;
    let delivery_method = crate::domain::shipment::DeliveryMethod::parse(&row.delivery_method)
        .ok_or_else(|| {
            diesel::result::Error::DeserializationError(
                format!("unknown delivery method {}", row.delivery_method).into(),
            )
        })?;
    Ok(ApplicationView {
        id: row.id,
        status: row.status()?,
        submitted_at: row.submitted_at(),
        application_number: row.number,
        delivery_method,
        postamat,
        branch,
        registry_office_code: row.registry_office_code,
        applicant_name: row.applicant_name,
        applicant_iin: row.applicant_iin,
        phone: row.phone,
        language: row.language,
        shipments,
    })
}
