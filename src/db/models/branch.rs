use super::{from_db_time, to_db_time};
use crate::db::schema::branches;
use crate::db::{DbConnection, Id};
use crate::domain::reference::{BranchCode, BranchTimeZone, Text};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = branches)]
pub struct BranchRow {
    pub id: Id,
    pub code: String,
    pub name_kk: String,
    pub name_ru: String,
    pub city: String,
    pub address_kk: String,
    pub address_ru: String,
    pub time_zone: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The fields of a branch an admin sets (everything but its code, which is its identity).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchDetails {
    /// Name in Kazakh.
    #[schema(example = "Алматы қаласы бойынша №1 ХҚКО")]
    pub name_kk: Text,
    /// Name in Russian.
    #[schema(example = "ЦОН №1 города Алматы")]
    pub name_ru: Text,
    #[schema(example = "Алматы")]
    pub city: Text,
    /// Address in Kazakh, used in the п.34 message.
    #[schema(example = "Алматы қ., Абай даңғ., 10")]
    pub address_kk: Text,
    /// Address in Russian, used in the п.34 message.
    #[schema(example = "г. Алматы, пр. Абая, 10")]
    pub address_ru: Text,
    /// IANA zone of the branch's deadlines; `Asia/Almaty` when omitted.
    #[serde(default)]
    pub time_zone: BranchTimeZone,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Branch {
    pub id: Id,
    pub code: String,
    pub name_kk: String,
    pub name_ru: String,
    pub city: String,
    pub address_kk: String,
    pub address_ru: String,
    #[schema(example = "Asia/Almaty")]
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<BranchRow> for Branch {
    fn from(row: BranchRow) -> Self {
        Branch {
            id: row.id,
            code: row.code,
            name_kk: row.name_kk,
            name_ru: row.name_ru,
            city: row.city,
            address_kk: row.address_kk,
            address_ru: row.address_ru,
            time_zone: row.time_zone,
            created_at: from_db_time(row.created_at),
            updated_at: from_db_time(row.updated_at),
        }
    }
}

/// Which branches a caller may see: branch staff their own, everyone else all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchScope {
    All,
    Only { id: Id, code: BranchCode },
}

impl BranchScope {
    pub fn allows(&self, branch_id: Id) -> bool {
        match self {
            BranchScope::All => true,
            BranchScope::Only { id, .. } => *id == branch_id,
        }
    }
}

fn create(
    conn: &mut DbConnection,
    code: &BranchCode,
    details: BranchDetails,
    now: DateTime<Utc>,
) -> QueryResult<Branch> {
    let row = BranchRow {
        id: Id::new(),
        code: code.to_string(),
        name_kk: details.name_kk.into(),
        name_ru: details.name_ru.into(),
        city: details.city.into(),
        address_kk: details.address_kk.into(),
        address_ru: details.address_ru.into(),
        time_zone: details.time_zone.into(),
        created_at: to_db_time(now),
        updated_at: to_db_time(now),
    };
    diesel::insert_into(branches::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.into())
}

pub fn list(conn: &mut DbConnection, scope: &BranchScope) -> QueryResult<Vec<Branch>> {
    let mut query = branches::table
        .select(BranchRow::as_select())
        .order(branches::code)
        .into_boxed();
    if let BranchScope::Only { id, .. } = scope {
        query = query.filter(branches::id.eq(*id));
    }
    Ok(query.load(conn)?.into_iter().map(Branch::from).collect())
}

pub fn find_by_code(conn: &mut DbConnection, code: &BranchCode) -> QueryResult<Option<Branch>> {
    branches::table
        .filter(branches::code.eq(code.as_str()))
        .select(BranchRow::as_select())
        .first(conn)
        .optional()
        .map(|row| row.map(Branch::from))
}

fn update(
    conn: &mut DbConnection,
    code: &BranchCode,
    details: BranchDetails,
    now: DateTime<Utc>,
) -> QueryResult<Option<Branch>> {
    let changed = diesel::update(branches::table.filter(branches::code.eq(code.as_str())))
        .set((
            branches::name_kk.eq(details.name_kk.as_str()),
            branches::name_ru.eq(details.name_ru.as_str()),
            branches::city.eq(details.city.as_str()),
            branches::address_kk.eq(details.address_kk.as_str()),
            branches::address_ru.eq(details.address_ru.as_str()),
            branches::time_zone.eq(String::from(details.time_zone)),
            branches::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Ok(None);
    }
    find_by_code(conn, code)
}

/// Deletes a branch; a branch still referenced (keys, later shipments) is refused by its
/// foreign keys.
pub fn delete(conn: &mut DbConnection, code: &BranchCode) -> QueryResult<bool> {
    diesel::delete(branches::table.filter(branches::code.eq(code.as_str())))
        .execute(conn)
        .map(|n| n > 0)
}

/// Creates the branch or replaces its details; says which it did.
pub fn upsert(
    conn: &mut DbConnection,
    code: &BranchCode,
    details: BranchDetails,
    now: DateTime<Utc>,
) -> QueryResult<(Branch, bool)> {
    conn.transaction(|conn| match update(conn, code, details.clone(), now)? {
        Some(existing) => Ok((existing, false)),
        None => create(conn, code, details, now).map(|created| (created, true)),
    })
}
