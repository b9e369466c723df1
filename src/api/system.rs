//! Health, readiness, metrics and "who am I".

use super::AppState;
use super::auth::{AnyRole, Authorized};
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::db;
use crate::domain::role::Role;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(healthz)
        .service(readyz)
        .service(metrics)
        .service(me);
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(
    tag = "system",
    responses((status = 200, body = Health)),
    // a constant answer
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/healthz")]
async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    pub status: &'static str,
    /// `postgres` or `sqlite`.
    pub database: &'static str,
}

/// The database answers and its schema is current.
#[utoipa::path(
    tag = "system",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "Database unreachable or migrations pending (`database_unavailable`), or a write found its storage full in the last 30 s and none has succeeded since (`storage_full`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // only DatabaseUnavailable / Internal (generic)
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> ApiResult<web::Json<Readiness>> {
    let (database, current) = state
        .db(|conn| {
            let backend = match conn {
                db::DbConnection::Postgres(_) => "postgres",
                db::DbConnection::Sqlite(_) => "sqlite",
            };
            let current = db::migrations_current(conn).map_err(|e| {
                match e.downcast::<diesel::result::Error>() {
                    // The database went away under us: 503, like any other read.
                    Ok(database) => ApiError::from(database),
                    Err(other) => ApiError::internal(other),
                }
            })?;
            Ok((backend, current))
        })
        .await?;
    if !current {
        return Err(ApiError::new(
            ErrorCode::DatabaseUnavailable,
            "database migrations are pending; run `postamat migrate`",
        ));
    }
    // Reads still work, but a service that cannot keep what it is sent is not ready for it
    // (issue 27): a write found the storage full lately, and none has succeeded since.
    if let Some(ago) = state.storage.recently_full() {
        return Err(ApiError::new(
            ErrorCode::StorageFull,
            format!(
                "a write found the database's storage full {} s ago; writes are refused until \
                 space is freed",
                ago.as_secs()
            ),
        ));
    }
    Ok(web::Json(Readiness {
        status: "ready",
        database,
    }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(
    tag = "system",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")),
    // metrics.render
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // The backlog is read from the database (at most every few seconds, however often this is
    // called) on a connection the pool has idle: a scrape never waits for one behind real
    // requests. With none idle the last reading stands; a database that cannot answer leaves
    // the HTTP, pool and process figures standing and says so in `postamat_backlog_read_ok`.
    let now = state.clock.now();
    if state.metrics.backlog_due(now) {
        let pool = state.pool.clone();
        let depth = web::block(move || -> Option<anyhow::Result<_>> {
            let mut conn = pool.try_get()?;
            Some(crate::db::models::report::depth(&mut conn, now).map_err(anyhow::Error::from))
        })
        .await;
        match depth {
            Ok(Some(Ok(depth))) => state.metrics.set_backlog(Some(&depth)),
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e, "metrics: the backlog could not be read");
                state.metrics.set_backlog(None);
            }
            Ok(None) => tracing::debug!("metrics: no idle connection; the last backlog stands"),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: the backlog read failed");
                state.metrics.set_backlog(None);
            }
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.pool))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub key_id: crate::domain::ids::KeyId,
    pub name: String,
    pub role: Role,
    /// The caller's branch, if the key is bound to one.
    pub branch: Option<String>,
}

/// The API key the request was made with.
#[utoipa::path(
    tag = "system",
    security(("bearer" = [])),
    responses((status = 200, body = Me)),
    // Authorized<AnyRole> only
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/me")]
async fn me(auth: Authorized<AnyRole>) -> web::Json<Me> {
    let p = auth.principal;
    web::Json(Me {
        key_id: p.key_id,
        name: p.name,
        role: p.role,
        branch: match p.scope {
            crate::db::models::branch::BranchScope::All => None,
            crate::db::models::branch::BranchScope::Only { code, .. } => Some(code.to_string()),
        },
    })
}

/// `GET /`: what this service is and where to look next (not part of the API document).
pub async fn index() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "service": "postamat",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": crate::COMMIT,
        "docs": "/docs/",
        "openapi": "/api-docs/openapi.json",
        "health": "/healthz",
        "ready": "/readyz",
    }))
}

/// `GET /docs`: Swagger UI lives at `/docs/`.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}
