use super::{from_db_time, to_db_time};
use crate::db::schema::postamats;
use crate::db::{DbConnection, Id};
use crate::domain::reference::{KaspiPostamatId, Text};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
pub struct PostamatRow {
    pub id: Id,
    pub kaspi_id: String,
    pub city: String,
    pub city_key: String,
    pub address_kk: String,
    pub address_ru: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What an admin sets on a postamat (its Kaspi id is its identity).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostamatDetails {
    /// The city the postamat stands in; a chosen postamat must be in the applicant's city (п.4).
    #[schema(example = "Алматы")]
    pub city: Text,
    /// Address in Kazakh, used in the п.28 message.
    #[schema(example = "Алматы қ., Төле би к-сі, 55, Magnum")]
    pub address_kk: Text,
    /// Address in Russian, used in the п.28 message.
    #[schema(example = "г. Алматы, ул. Толе би, 55, Magnum")]
    pub address_ru: Text,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Postamat {
    pub id: Id,
    pub kaspi_id: String,
    pub city: String,
    pub address_kk: String,
    pub address_ru: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PostamatRow> for Postamat {
    fn from(row: PostamatRow) -> Self {
        Postamat {
            id: row.id,
            kaspi_id: row.kaspi_id,
            city: row.city,
            address_kk: row.address_kk,
            address_ru: row.address_ru,
            created_at: from_db_time(row.created_at),
            updated_at: from_db_time(row.updated_at),
        }
    }
}

fn create(
    conn: &mut DbConnection,
    kaspi_id: &KaspiPostamatId,
    details: PostamatDetails,
    now: DateTime<Utc>,
) -> QueryResult<Postamat> {
    let row = PostamatRow {
        id: Id::new(),
        kaspi_id: kaspi_id.to_string(),
        city_key: city_key(details.city.as_str()),
        city: details.city.into(),
        address_kk: details.address_kk.into(),
        address_ru: details.address_ru.into(),
        created_at: to_db_time(now),
        updated_at: to_db_time(now),
    };
    diesel::insert_into(postamats::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.into())
}

/// All postamats, or those of one city (compared case-insensitively).
pub fn list(conn: &mut DbConnection, city: Option<&Text>) -> QueryResult<Vec<Postamat>> {
    let mut query = postamats::table
        .select(PostamatRow::as_select())
        .order(postamats::kaspi_id)
        .into_boxed();
    if let Some(city) = city {
        query = query.filter(postamats::city_key.eq(city_key(city.as_str())));
    }
    Ok(query.load(conn)?.into_iter().map(Postamat::from).collect())
}

pub fn find(conn: &mut DbConnection, kaspi_id: &KaspiPostamatId) -> QueryResult<Option<Postamat>> {
    postamats::table
        .filter(postamats::kaspi_id.eq(kaspi_id.as_str()))
        .select(PostamatRow::as_select())
        .first(conn)
        .optional()
        .map(|row| row.map(Postamat::from))
}

fn update(
    conn: &mut DbConnection,
    kaspi_id: &KaspiPostamatId,
    details: PostamatDetails,
    now: DateTime<Utc>,
) -> QueryResult<Option<Postamat>> {
    let changed =
        diesel::update(postamats::table.filter(postamats::kaspi_id.eq(kaspi_id.as_str())))
            .set((
                postamats::city.eq(details.city.as_str()),
                postamats::city_key.eq(city_key(details.city.as_str())),
                postamats::address_kk.eq(details.address_kk.as_str()),
                postamats::address_ru.eq(details.address_ru.as_str()),
                postamats::updated_at.eq(to_db_time(now)),
            ))
            .execute(conn)?;
    if changed == 0 {
        return Ok(None);
    }
    find(conn, kaspi_id)
}

pub fn delete(conn: &mut DbConnection, kaspi_id: &KaspiPostamatId) -> QueryResult<bool> {
    diesel::delete(postamats::table.filter(postamats::kaspi_id.eq(kaspi_id.as_str())))
        .execute(conn)
        .map(|n| n > 0)
}

/// Creates the postamat or replaces its details; says which it did.
pub fn upsert(
    conn: &mut DbConnection,
    kaspi_id: &KaspiPostamatId,
    details: PostamatDetails,
    now: DateTime<Utc>,
) -> QueryResult<(Postamat, bool)> {
    conn.transaction(|conn| match update(conn, kaspi_id, details.clone(), now)? {
        Some(existing) => Ok((existing, false)),
        None => create(conn, kaspi_id, details, now).map(|created| (created, true)),
    })
}
