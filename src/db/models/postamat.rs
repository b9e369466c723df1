//! Kaspi's postamats in our reference data (п.4, 19, 28).

use crate::db::DbConnection;
use crate::db::schema::postamats;
use crate::db::time::At;
use crate::domain::ids::PostamatId;
use crate::domain::notification::Bilingual;
use crate::domain::reference::CityCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// The form of a city name used to compare cities: lower case, single spaces. Computed here
/// rather than with SQL `lower()`, which on SQLite folds only ASCII and so not "Алматы".
pub fn city_key(city: &str) -> String {
    city.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = postamats)]
#[diesel(treat_none_as_default_value = false)]
pub struct PostamatRow {
    pub id: PostamatId,
    pub kaspi_id: String,
    pub city: String,
    pub city_key: String,
    pub address_kk: String,
    pub address_ru: String,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    pub updated_at: DateTime<Utc>,
    /// The city's КАТО code (п.4); '' for a postamat entered before codes were kept and not
    /// given one since.
    pub city_code: String,
}

impl PostamatRow {
    pub fn address(&self) -> Bilingual {
        Bilingual {
            kk: self.address_kk.clone(),
            ru: self.address_ru.clone(),
        }
    }
}

/// What an admin sets on a postamat (its Kaspi id is its identity).
#[derive(Debug, Clone)]
pub struct PostamatFields {
    pub city: String,
    pub city_code: CityCode,
    pub address_kk: String,
    pub address_ru: String,
}

/// All postamats, or those of one city: by its name (compared case-insensitively) or by its
/// КАТО code.
pub fn list(
    conn: &mut DbConnection,
    city: Option<&str>,
    city_code: Option<&CityCode>,
) -> QueryResult<Vec<PostamatRow>> {
    let mut query = postamats::table
        .select(PostamatRow::as_select())
        .order(postamats::kaspi_id)
        .into_boxed();
    if let Some(city) = city {
        query = query.filter(postamats::city_key.eq(city_key(city)));
    }
    if let Some(code) = city_code {
        query = query.filter(postamats::city_code.eq(code.as_str()));
    }
    query.load(conn)
}

pub fn find(conn: &mut DbConnection, kaspi_id: &str) -> QueryResult<Option<PostamatRow>> {
    postamats::table
        .filter(postamats::kaspi_id.eq(kaspi_id))
        .select(PostamatRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_id(conn: &mut DbConnection, id: PostamatId) -> QueryResult<Option<PostamatRow>> {
    postamats::table
        .find(id)
        .select(PostamatRow::as_select())
        .first(conn)
        .optional()
}

/// Creates the postamat or replaces its details; says whether it created it.
pub fn upsert(
    conn: &mut DbConnection,
    kaspi_id: &str,
    fields: &PostamatFields,
    now: DateTime<Utc>,
) -> QueryResult<(PostamatRow, bool)> {
    conn.transaction(|conn| {
        let changed = diesel::update(postamats::table.filter(postamats::kaspi_id.eq(kaspi_id)))
            .set((
                postamats::city.eq(&fields.city),
                postamats::city_key.eq(city_key(&fields.city)),
                postamats::city_code.eq(fields.city_code.as_str()),
                postamats::address_kk.eq(&fields.address_kk),
                postamats::address_ru.eq(&fields.address_ru),
                postamats::updated_at.eq(At(now)),
            ))
            .execute(conn)?;
        if changed > 0 {
            let row = find(conn, kaspi_id)?.ok_or(diesel::result::Error::NotFound)?;
            return Ok((row, false));
        }
        let row = PostamatRow {
            id: PostamatId::new(),
            kaspi_id: kaspi_id.to_owned(),
            city_key: city_key(&fields.city),
            city: fields.city.clone(),
            address_kk: fields.address_kk.clone(),
            address_ru: fields.address_ru.clone(),
            created_at: now,
            updated_at: now,
            city_code: fields.city_code.to_string(),
        };
        diesel::insert_into(postamats::table)
            .values(row.clone())
            .execute(conn)?;
        Ok((row, true))
    })
}

pub fn delete(conn: &mut DbConnection, kaspi_id: &str) -> QueryResult<bool> {
    diesel::delete(postamats::table.filter(postamats::kaspi_id.eq(kaspi_id)))
        .execute(conn)
        .map(|n| n > 0)
}
