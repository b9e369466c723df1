//! Kaspi postamats: admins keep the list; every role reads it.

use super::put_status;
use crate::api::AppState;
use crate::api::auth::{Admins, AnyRole, Authorized};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::found;
use crate::db::models::postamat::{self, PostamatFields, PostamatRow};
use crate::domain::ids::PostamatId;
use crate::domain::reference::{CityCode, KaspiPostamatId, Text};
use crate::workflows::Reason;
use actix_web::{HttpResponse, delete, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_postamats)
        .service(get_postamat)
        .service(put_postamat)
        .service(delete_postamat);
}

/// What an admin sets on a postamat (its Kaspi id is its identity).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostamatDetails {
    /// The city the postamat stands in, as printed.
    #[schema(example = "Алматы")]
    pub city: Text,
    /// The city's КАТО code: a chosen postamat must have the code of the applicant's branch's
    /// city (п.4).
    pub city_code: CityCode,
    /// Address in Kazakh, used in the п.28 message.
    #[schema(example = "Алматы қ., Төле би к-сі, 55, Magnum")]
    pub address_kk: Text,
    /// Address in Russian, used in the п.28 message.
    #[schema(example = "г. Алматы, ул. Толе би, 55, Magnum")]
    pub address_ru: Text,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Postamat {
    pub id: PostamatId,
    pub kaspi_id: String,
    pub city: String,
    /// The city's КАТО code; empty for a postamat entered before codes were kept.
    #[schema(example = "750000000")]
    pub city_code: String,
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
            city_code: row.city_code,
            address_kk: row.address_kk,
            address_ru: row.address_ru,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostamatFilter {
    /// Only postamats in this city (the name as entered, case-insensitive).
    #[param(value_type = Option<String>)]
    pub city: Option<Text>,
    /// Only postamats of the city with this КАТО code: those an applicant of a branch of that
    /// city may choose (п.4).
    #[param(value_type = Option<String>, example = "750000000")]
    pub city_code: Option<CityCode>,
}

/// Postamats, optionally of one city.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    params(PostamatFilter),
    responses((status = 200, body = Vec<Postamat>)),
    // postamat::list
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/postamats")]
async fn list_postamats(
    _auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    filter: ApiQuery<PostamatFilter>,
) -> ApiResult<web::Json<Vec<Postamat>>> {
    let filter = filter.into_inner()?.into_inner();
    let (city, city_code) = (filter.city, filter.city_code);
    let rows = state
        .db(move |conn| {
            Ok(postamat::list(
                conn,
                city.as_ref().map(Text::as_str),
                city_code.as_ref(),
            )?)
        })
        .await?;
    Ok(web::Json(rows.into_iter().map(Postamat::from).collect()))
}

/// One postamat by its Kaspi id.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    params(("kaspi_id" = KaspiPostamatId, Path, description = "Kaspi's postamat id")),
    responses(
        (status = 200, body = Postamat),
        (status = 404, description = "No such postamat (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // found(postamat::find)
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/postamats/{kaspi_id}")]
async fn get_postamat(
    _auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    kaspi_id: ApiPath<KaspiPostamatId>,
) -> ApiResult<web::Json<Postamat>> {
    let kaspi_id = kaspi_id.into_inner()?.into_inner();
    let lookup = kaspi_id.clone();
    let found_postamat = state
        .db(move |conn| Ok(postamat::find(conn, lookup.as_str())?))
        .await?;
    let row = found(found_postamat, || format!("postamat {kaspi_id}"))?;
    Ok(web::Json(row.into()))
}

/// Register a postamat, or replace its details.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("kaspi_id" = KaspiPostamatId, Path, description = "Kaspi's postamat id")),
    request_body = PostamatDetails,
    responses(
        (status = 201, description = "Created", body = Postamat),
        (status = 200, description = "Replaced", body = Postamat),
    ),
    // AlreadyExists: postamat::upsert insert UniqueViolation(postamats_kaspi_id_key), only when two first PUTs of one id race (PostgreSQL)
    extensions(("x-problem-codes" = json!([Reason::AlreadyExists]))),
)]
#[put("/api/v1/postamats/{kaspi_id}")]
async fn put_postamat(
    _auth: Authorized<Admins>,
    state: web::Data<AppState>,
    kaspi_id: ApiPath<KaspiPostamatId>,
    body: ApiJson<PostamatDetails>,
) -> ApiResult<HttpResponse> {
    let kaspi_id = kaspi_id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let now = state.clock.now();
    let fields = PostamatFields {
        city: body.city.into(),
        city_code: body.city_code,
        address_kk: body.address_kk.into(),
        address_ru: body.address_ru.into(),
    };
    let (saved, created) = state
        .write(move |conn| Ok(postamat::upsert(conn, kaspi_id.as_str(), &fields, now)?))
        .await?;
    Ok(HttpResponse::build(put_status(created)).json(Postamat::from(saved)))
}

/// Remove a postamat that nothing refers to.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("kaspi_id" = KaspiPostamatId, Path, description = "Kaspi's postamat id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such postamat (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Records still refer to it (`in_use`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // NotFound: found(postamat::delete == false); InUse: ForeignKeyViolation (applications.postamat_id)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InUse]))),
)]
#[delete("/api/v1/postamats/{kaspi_id}")]
async fn delete_postamat(
    _auth: Authorized<Admins>,
    state: web::Data<AppState>,
    kaspi_id: ApiPath<KaspiPostamatId>,
) -> ApiResult<HttpResponse> {
    let kaspi_id = kaspi_id.into_inner()?.into_inner();
    let target = kaspi_id.clone();
    let deleted = state
        .write(move |conn| Ok(postamat::delete(conn, target.as_str())?))
        .await?;
    found(deleted.then_some(()), || format!("postamat {kaspi_id}"))?;
    Ok(HttpResponse::NoContent().finish())
}
