//! API keys over HTTP (the same operations as `postamat keys …`).

use crate::api::AppState;
use crate::api::auth::{Admins, Authorized};
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{ApiJson, ApiPath};
use crate::db::models::api_key::{self, CreateKeyError, NewKey};
use crate::domain::ids::KeyId;
use crate::domain::reference::{BranchCode, Text};
use crate::domain::role::Role;
use crate::workflows::Reason;
use crate::workflows::keys::{self, LastAdmin};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(create_key)
        .service(list_keys)
        .service(revoke_key);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Who or what uses the key, e.g. "Kaspi production" or "Айгерим, ЦОН №1".
    #[schema(example = "Kaspi production")]
    pub name: Text,
    pub role: Role,
    /// Required for branch staff (clerks, couriers); optional for supervisors; not allowed
    /// otherwise.
    pub branch: Option<BranchCode>,
}

/// A key as listed to operators: never its token.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: KeyId,
    pub name: String,
    pub role: Role,
    /// Branch code for branch staff and branch supervisors.
    pub branch: Option<String>,
    /// The first characters of the token, to recognise it.
    #[schema(example = "pst_Xk3f9Q")]
    pub token_prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_key::ApiKey> for ApiKey {
    fn from(key: api_key::ApiKey) -> Self {
        ApiKey {
            id: key.id,
            name: key.name,
            role: key.role,
            branch: key.branch,
            token_prefix: key.token_prefix,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: ApiKey,
    /// The bearer token. Shown this once and never again: only its hash is stored.
    #[schema(example = "pst_Xk3f9Q…")]
    pub token: String,
}

impl From<CreateKeyError> for ApiError {
    fn from(err: CreateKeyError) -> Self {
        match err {
            CreateKeyError::RoleBranch(e) => ApiError::validation(e.to_string()),
            CreateKeyError::UnknownBranch(code) => {
                ApiError::validation(format!("branch {code} does not exist"))
            }
            CreateKeyError::Database(e) => e.into(),
        }
    }
}

/// Create an API key; its token is in the response and nowhere else.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    request_body = CreateKey,
    responses(
        (status = 201, body = CreatedKey),
        (status = 422, description = "Role and branch do not fit, or the branch does not exist (`validation_failed`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // api_key::create -> CreateKeyError::RoleBranch (Role::check_branch) / UnknownBranch
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed]))),
)]
#[post("/api/v1/admin/keys")]
async fn create_key(
    _auth: Authorized<Admins>,
    state: web::Data<AppState>,
    body: ApiJson<CreateKey>,
) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let body = body.into_inner()?;
    let (key, token) = state
        .write(move |conn| {
            let new = NewKey {
                name: &body.name,
                role: body.role,
                branch: body.branch.as_ref(),
            };
            Ok(api_key::create(conn, new, now)?)
        })
        .await?;
    tracing::info!(key_id = %key.id, role = key.role.as_str(), "API key created");
    Ok(HttpResponse::Created().json(CreatedKey {
        key: key.into(),
        token,
    }))
}

/// Every API key, revoked ones included.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKey>)),
    // api_key::list
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/admin/keys")]
async fn list_keys(
    _auth: Authorized<Admins>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<ApiKey>>> {
    let keys = state.db(|conn| Ok(api_key::list(conn)?)).await?;
    Ok(web::Json(keys.into_iter().map(ApiKey::from).collect()))
}

/// Revoke a key: it stops working with the next request. The last active admin key is not
/// revoked over HTTP.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = KeyId, Path, description = "Key id")),
    responses(
        (status = 200, body = ApiKey),
        (status = 404, description = "No such key (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last active admin key (`last_admin_key`): create another admin key first", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // keys::revoke: NotFound api_key::find None; LastAdminKey Reason::LastAdminKey (active_admins <= 1)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::LastAdminKey]))),
)]
#[post("/api/v1/admin/keys/{id}/revoke")]
async fn revoke_key(
    _auth: Authorized<Admins>,
    state: web::Data<AppState>,
    id: ApiPath<KeyId>,
) -> ApiResult<web::Json<ApiKey>> {
    let id = id.into_inner()?.into_inner();
    let now = state.clock.now();
    let key = state
        .write_key(id, move |conn| {
            Ok(keys::revoke(conn, id, LastAdmin::Refuse, now)?)
        })
        .await?;
    tracing::info!(key_id = %key.id, "API key revoked");
    Ok(web::Json(key.into()))
}
