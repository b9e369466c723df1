//! Branches: admins create and change them; every role reads them, branch staff only their own.

use super::put_status;
use crate::api::AppState;
use crate::api::auth::{Admins, AnyRole, Authorized};
use crate::api::extract::{ApiJson, ApiPath};
use crate::api::found;
use crate::db::models::branch::{self, Branch, BranchDetails};
use crate::domain::reference::BranchCode;
use crate::error::ApiResult;
use actix_web::{HttpResponse, delete, get, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_branches)
        .service(get_branch)
        .service(put_branch)
        .service(delete_branch);
}

/// Branches the caller may see: all of them, or for branch staff their own.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Branch>))
)]
#[get("/api/v1/branches")]
async fn list_branches(
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<Branch>>> {
    let scope = auth.scope().clone();
    Ok(web::Json(
        state
            .db(move |conn| Ok(branch::list(conn, &scope)?))
            .await?,
    ))
}

/// One branch. Branch staff asking for another branch get 403 `branch_forbidden`.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Branch code, e.g. ALM01")),
    responses(
        (status = 200, body = Branch),
        (status = 404, description = "No such branch (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
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
        .db(move |conn| Ok(branch::find_by_code(conn, &lookup)?))
        .await?;
    let found_branch = found(found_branch, || format!("branch {code}"))?;
    auth.require_branch(found_branch.id, found_branch.code.as_str())?;
    Ok(web::Json(found_branch))
}

/// Create a branch, or replace its details (its code never changes).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Branch code, e.g. ALM01")),
    request_body = BranchDetails,
    responses(
        (status = 201, description = "Created", body = Branch),
        (status = 200, description = "Replaced", body = Branch),
    )
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
    let (saved, created) = state
        .db(move |conn| Ok(branch::upsert(conn, &code, body, now)?))
        .await?;
    Ok(HttpResponse::build(put_status(created)).json(saved))
}

/// Delete a branch that nothing refers to.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Branch code, e.g. ALM01")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such branch (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Keys or records still refer to it (`in_use`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
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
        .db(move |conn| Ok(branch::delete(conn, &target)?))
        .await?;
    found(deleted.then_some(()), || format!("branch {code}"))?;
    Ok(HttpResponse::NoContent().finish())
}
