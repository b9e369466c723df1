//! Branches of the State Corporation, and which of them a caller may see.

use crate::db::DbConnection;
use crate::db::schema::branches;
use crate::db::time::At;
use crate::domain::ids::BranchId;
use crate::domain::notification::Bilingual;
use crate::domain::reference::{BranchCode, BranchTimeZone, CityCode};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = branches)]
#[diesel(treat_none_as_default_value = false)]
pub struct BranchRow {
    pub id: BranchId,
    pub code: String,
    pub name_kk: String,
    pub name_ru: String,
    pub city: String,
    pub address_kk: String,
    pub address_ru: String,
    pub time_zone: BranchTimeZone,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    pub updated_at: DateTime<Utc>,
    /// The city's КАТО code (п.4); '' for a branch entered before codes were kept and not
    /// given one since.
    pub city_code: String,
}

impl BranchRow {
    /// The address citizens are sent to (п.25, 34), in both languages.
    pub fn address(&self) -> Bilingual {
        Bilingual {
            kk: self.address_kk.clone(),
            ru: self.address_ru.clone(),
        }
    }
}

/// The fields of a branch an admin sets (everything but its code, which is its identity).
#[derive(Debug, Clone)]
pub struct BranchFields {
    pub name_kk: String,
    pub name_ru: String,
    pub city: String,
    pub city_code: CityCode,
    pub address_kk: String,
    pub address_ru: String,
    pub time_zone: BranchTimeZone,
}

/// Which branches a caller may see: branch staff their own, everyone else all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchScope {
    All,
    Only { id: BranchId, code: BranchCode },
}

impl BranchScope {
    pub fn allows(&self, branch: BranchId) -> bool {
        match self {
            BranchScope::All => true,
            BranchScope::Only { id, .. } => *id == branch,
        }
    }

    /// The one branch of a scope bound to one.
    pub fn branch(&self) -> Option<BranchId> {
        match self {
            BranchScope::All => None,
            BranchScope::Only { id, .. } => Some(*id),
        }
    }
}

pub fn list(conn: &mut DbConnection, scope: &BranchScope) -> QueryResult<Vec<BranchRow>> {
    let mut query = branches::table
        .select(BranchRow::as_select())
        .order(branches::code)
        .into_boxed();
    if let Some(id) = scope.branch() {
        query = query.filter(branches::id.eq(id));
    }
    query.load(conn)
}

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<BranchRow>> {
    branches::table
        .filter(branches::code.eq(code))
        .select(BranchRow::as_select())
        .first(conn)
        .optional()
}

/// A branch our own rows refer to (a missing one is a broken reference, not "not found").
pub fn get(conn: &mut DbConnection, id: BranchId) -> QueryResult<BranchRow> {
    branches::table
        .find(id)
        .select(BranchRow::as_select())
        .first(conn)
}

/// The zone a branch keeps its deadlines in.
pub fn time_zone(conn: &mut DbConnection, id: BranchId) -> QueryResult<BranchTimeZone> {
    branches::table
        .find(id)
        .select(branches::time_zone)
        .first(conn)
}

/// Every branch's code, to name them in supervisors' lists.
pub fn codes(conn: &mut DbConnection) -> QueryResult<Vec<(BranchId, String)>> {
    branches::table
        .select((branches::id, branches::code))
        .load(conn)
}

/// Creates the branch or replaces its details; says whether it created it.
pub fn upsert(
    conn: &mut DbConnection,
    code: &str,
    fields: &BranchFields,
    now: DateTime<Utc>,
) -> QueryResult<(BranchRow, bool)> {
    conn.transaction(|conn| {
        let changed = diesel::update(branches::table.filter(branches::code.eq(code)))
            .set((
                branches::name_kk.eq(&fields.name_kk),
                branches::name_ru.eq(&fields.name_ru),
                branches::city.eq(&fields.city),
                branches::city_code.eq(fields.city_code.as_str()),
                branches::address_kk.eq(&fields.address_kk),
                branches::address_ru.eq(&fields.address_ru),
                branches::time_zone.eq(fields.time_zone),
                branches::updated_at.eq(At(now)),
            ))
            .execute(conn)?;
        if changed > 0 {
            let row = find_by_code(conn, code)?.ok_or(diesel::result::Error::NotFound)?;
            return Ok((row, false));
        }
        let row = BranchRow {
            id: BranchId::new(),
            code: code.to_owned(),
            name_kk: fields.name_kk.clone(),
            name_ru: fields.name_ru.clone(),
            city: fields.city.clone(),
            address_kk: fields.address_kk.clone(),
            address_ru: fields.address_ru.clone(),
            time_zone: fields.time_zone,
            created_at: now,
            updated_at: now,
            city_code: fields.city_code.to_string(),
        };
        diesel::insert_into(branches::table)
            .values(row.clone())
            .execute(conn)?;
        Ok((row, true))
    })
}

/// Deletes a branch; one still referenced (keys, shipments) is refused by its foreign keys.
pub fn delete(conn: &mut DbConnection, code: &str) -> QueryResult<bool> {
    diesel::delete(branches::table.filter(branches::code.eq(code)))
        .execute(conn)
        .map(|n| n > 0)
}
