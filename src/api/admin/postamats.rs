//! Kaspi postamats: admins keep the list; every role reads it.

use super::put_status;
use crate::api::AppState;
use crate::api::auth::{Admins, AnyRole, Authorized};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::found;
use crate::db::models::postamat::{self, Postamat, PostamatDetails};
use crate::domain::reference::{KaspiPostamatId, Text};
use crate::error::ApiResult;
use actix_web::{HttpResponse, delete, get, put, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_postamats)
        .service(get_postamat)
        .service(put_postamat)
        .service(delete_postamat);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PostamatFilter {
    /// Only postamats in this city (case-insensitive).
    #[param(value_type = Option<String>)]
    pub city: Option<Text>,
}

/// Postamats, optionally of one city.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    params(PostamatFilter),
    responses((status = 200, body = Vec<Postamat>))
)]
#[get("/api/v1/postamats")]
async fn list_postamats(
    _auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    filter: ApiQuery<PostamatFilter>,
) -> ApiResult<web::Json<Vec<Postamat>>> {
    let city = filter.into_inner()?.into_inner().city;
    Ok(web::Json(
        state
            .db(move |conn| Ok(postamat::list(conn, city.as_ref())?))
            .await?,
    ))
}

/// One postamat by its Kaspi id.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    params(("kaspi_id" = String, Path, description = "Kaspi's postamat id")),
    responses(
        (status = 200, body = Postamat),
        (status = 404, description = "No such postamat (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
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
        .db(move |conn| Ok(postamat::find(conn, &lookup)?))
        .await?;
    Ok(web::Json(found(found_postamat, || {
        format!("postamat {kaspi_id}")
    })?))
}

/// Register a postamat, or replace its details.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("kaspi_id" = String, Path, description = "Kaspi's postamat id")),
    request_body = PostamatDetails,
    responses(
        (status = 201, description = "Created", body = Postamat),
        (status = 200, description = "Replaced", body = Postamat),
    )
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
    let (saved, created) = state
        .db(move |conn| Ok(postamat::upsert(conn, &kaspi_id, body, now)?))
        .await?;
    Ok(HttpResponse::build(put_status(created)).json(saved))
}

/// Remove a postamat that nothing refers to.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("kaspi_id" = String, Path, description = "Kaspi's postamat id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such postamat (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Records still refer to it (`in_use`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
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
        .db(move |conn| Ok(postamat::delete(conn, &target)?))
        .await?;
    found(deleted.then_some(()), || format!("postamat {kaspi_id}"))?;
    Ok(HttpResponse::NoContent().finish())
}
