//! Branches: admins create and change them; every role reads them, branch staff only their own.

use super::put_status;
use crate::api::AppState;
use crate::api::auth::{Admins, AnyRole, Authorized};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath};
use crate::api::found;
use crate::db::models::branch::{self, BranchFields, BranchRow};
use crate::domain::ids::BranchId;
use crate::domain::reference::{BranchCode, BranchTimeZone, CityCode, Text};
use crate::workflows::Reason;
use actix_web::{HttpResponse, delete, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_branches)
        .service(get_branch)
        .service(put_branch)
        .service(delete_branch);
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
    /// The city's name as printed; cities are compared by `city_code`, never by it.
    #[schema(example = "Алматы")]
    pub city: Text,
    /// The city's КАТО code: a postamat chosen by an applicant of this branch must have the
    /// same (п.4).
    pub city_code: CityCode,
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

impl From<BranchDetails> for BranchFields {
    fn from(d: BranchDetails) -> Self {
        BranchFields {
            name_kk: d.name_kk.into(),
            name_ru: d.name_ru.into(),
            city: d.city.into(),
            city_code: d.city_code,
            address_kk: d.address_kk.into(),
            address_ru: d.address_ru.into(),
            time_zone: d.time_zone,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Branch {
    pub id: BranchId,
    pub code: String,
    pub name_kk: String,
    pub name_ru: String,
    pub city: String,
    /// The city's КАТО code; empty for a branch entered before codes were kept: set it, or no
    /// applicant of the branch can choose a postamat.
    #[schema(example = "750000000")]
    pub city_code: String,
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
            city_code: row.city_code,
            address_kk: row.address_kk,
            address_ru: row.address_ru,
            time_zone: row.time_zone.as_str().to_owned(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Branches the caller may see: all of them, or for branch staff their own.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Branch>)),
    // branch::list filters by scope; no own error
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/branches")]
async fn list_branches(
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<Branch>>> {
    let scope = auth.scope().clone();
    let rows = state
        .db(move |conn| Ok(branch::list(conn, &scope)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(Branch::from).collect()))
}

/// One branch. Branch staff asking for another branch get 403 `branch_forbidden`.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    params(("code" = BranchCode, Path, description = "Branch code, e.g. ALM01")),
    responses(
        (status = 200, body = Branch),
        (status = 404, description = "No such branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // NotFound: found(branch::find_by_code); BranchForbidden: auth.require_branch
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::BranchForbidden]))),
)]
#[get("/api/v1/branches/{code}")]
async fn get_branch(
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    code: ApiPath<BranchCode>,
) -> ApiResult<web::Json<Branch>> {
    let code = code.into_inner()?.into_inner();
    let lookup = code.clone();
    let found_branch = state
        .db(move |conn| Ok(branch::find_by_code(conn, lookup.as_str())?))
        .await?;
    let found_branch = found(found_branch, || format!("branch {code}"))?;
    auth.require_branch(found_branch.id, found_branch.code.as_str())?;
    Ok(web::Json(found_branch.into()))
}

/// Create a branch, or replace its details (its code never changes).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("code" = BranchCode, Path, description = "Branch code, e.g. ALM01")),
    request_body = BranchDetails,
    responses(
        (status = 201, description = "Created", body = Branch),
        (status = 200, description = "Replaced", body = Branch),
    ),
    // AlreadyExists: branch::upsert insert UniqueViolation(branches_code_key), only when two first PUTs of one code race (PostgreSQL)
    extensions(("x-problem-codes" = json!([Reason::AlreadyExists]))),
)]
#[put("/api/v1/branches/{code}")]
async fn put_branch(
    _auth: Authorized<Admins>,
    state: web::Data<AppState>,
    code: ApiPath<BranchCode>,
    body: ApiJson<BranchDetails>,
) -> ApiResult<HttpResponse> {
    let code = code.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let now = state.clock.now();
    let fields = BranchFields::from(body);
    let (saved, created) = state
        .write(move |conn| Ok(branch::upsert(conn, code.as_str(), &fields, now)?))
        .await?;
    Ok(HttpResponse::build(put_status(created)).json(Branch::from(saved)))
}

/// Delete a branch that nothing refers to.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("code" = BranchCode, Path, description = "Branch code, e.g. ALM01")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Keys or records still refer to it (`in_use`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // NotFound: found(branch::delete == false); InUse: branch::delete ForeignKeyViolation (keys, applications, shipments, ...)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InUse]))),
)]
#[delete("/api/v1/branches/{code}")]
async fn delete_branch(
    _auth: Authorized<Admins>,
    state: web::Data<AppState>,
    code: ApiPath<BranchCode>,
) -> ApiResult<HttpResponse> {
    let code = code.into_inner()?.into_inner();
    let target = code.clone();
    let deleted = state
        .write(move |conn| Ok(branch::delete(conn, target.as_str())?))
        .await?;
    found(deleted.then_some(()), || format!("branch {code}"))?;
    Ok(HttpResponse::NoContent().finish())
}
