//! What needs a supervisor's eye from the Kaspi exchange: events kept unmatched or rejected,
//! and discrepancies between our registries and Kaspi's reports.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::db::Id;
use crate::db::models::kaspi_event::{self, Discrepancy, Outcome, StoredEvent};
use crate::db::models::outbox::{self, DeadLetter, Outbox};
use crate::db::models::report::{self, Exception, ExceptionKind, SlaLine};
use crate::domain::reference::{BranchCode, BranchTimeZone};
use crate::error::{ApiError, ApiResult};
use actix_web::{HttpResponse, post};
use actix_web::{get, web};
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(kaspi_events)
        .service(discrepancies)
        .service(dead_letters)
        .service(requeue)
        .service(exception_queue)
        .service(sla_report);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// `unmatched` (the inbox of events waiting for their waybill) or `rejected`.
    #[param(inline)]
    pub outcome: Outcome,
}

/// Kaspi events by outcome: the unmatched inbox (applied automatically once the waybill is
/// known) and the rejected ones.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(EventFilter),
    responses((status = 200, body = Vec<StoredEvent>))
)]
#[get("/api/v1/integrations/kaspi/events")]
async fn kaspi_events(
    _auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    filter: ApiQuery<EventFilter>,
) -> ApiResult<web::Json<Vec<StoredEvent>>> {
    let outcome = filter.into_inner()?.into_inner().outcome;
    Ok(web::Json(
        state
            .db(move |conn| Ok(kaspi_event::by_outcome(conn, outcome)?))
            .await?,
    ))
}

/// Discrepancies (envelopes not accepted, unexpected envelopes, wrong postamat), newest first;
/// a branch supervisor sees their branch's.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Discrepancy>))
)]
#[get("/api/v1/discrepancies")]
async fn discrepancies(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<Discrepancy>>> {
    let scope = auth.scope().clone();
    Ok(web::Json(
        state
            .db(move |conn| Ok(kaspi_event::discrepancies(conn, &scope)?))
            .await?,
    ))
}

/// Messages the dispatcher gave up on (a 4xx, or too many failed attempts).
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<DeadLetter>))
)]
#[get("/api/v1/outbox/dead")]
async fn dead_letters(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<DeadLetter>>> {
    let scope = auth.scope().clone();
    Ok(web::Json(
        state
            .db(move |conn| Ok(outbox::dead_letters(conn, &scope)?))
            .await?,
    ))
}

/// Put a dead-lettered message back in the queue, to be tried again at once.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(
        ("outbox" = Outbox, Path, description = "`notifications` or `outbound`"),
        ("id" = Id, Path, description = "Message id"),
    ),
    responses(
        (status = 204, description = "Queued again"),
        (status = 404, description = "No such dead-lettered message (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/outbox/{outbox}/{id}/requeue")]
async fn requeue(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    path: ApiPath<(Outbox, Id)>,
) -> ApiResult<HttpResponse> {
    let (which, id) = path.into_inner()?.into_inner();
    let now = state.clock.now();
    let scope = auth.scope().clone();
    let requeued = state
        .db(move |conn| {
            // Only what the supervisor may see can be queued again.
            let visible = outbox::dead_letters(conn, &scope)?
                .iter()
                .any(|d| d.id == id && d.outbox == which);
            Ok(visible && outbox::requeue(conn, which, id, now)?)
        })
        .await?;
    if requeued {
        tracing::info!(message = %id, "dead-lettered message queued again");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(format!(
            "no dead-lettered message {id}"
        )))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExceptionFilter {
    /// Only this kind.
    #[param(inline)]
    pub kind: Option<ExceptionKind>,
    /// Only this branch (national supervisors).
    #[param(value_type = Option<String>)]
    pub branch: Option<BranchCode>,
    /// Only items at least this many hours old.
    pub min_age_hours: Option<i64>,
}

/// The exception queue: breached deadlines of documents still on their way, discrepancies,
/// Kaspi events waiting, dead-lettered messages — with branch, reason and age, oldest first.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(ExceptionFilter),
    responses((status = 200, body = Vec<Exception>))
)]
#[get("/api/v1/exceptions")]
async fn exception_queue(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    filter: ApiQuery<ExceptionFilter>,
) -> ApiResult<web::Json<Vec<Exception>>> {
    let filter = filter.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let now = state.clock.now();
    let calendar = state.calendar.current();
    let all = state
        .db(move |conn| Ok(report::exceptions(conn, &scope, now, &calendar.calendar)?))
        .await?;
    Ok(web::Json(
        all.into_iter()
            .filter(|e| filter.kind.is_none_or(|k| k == e.kind))
            .filter(|e| {
                filter
                    .branch
                    .as_ref()
                    .is_none_or(|b| e.branch.as_deref() == Some(b.as_str()))
            })
            .filter(|e| filter.min_age_hours.is_none_or(|h| e.age_hours >= h))
            .collect(),
    ))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlaQuery {
    /// First day (Almaty), inclusive.
    #[param(value_type = String, example = "2026-03-01")]
    pub from: NaiveDate,
    /// Last day (Almaty), inclusive.
    #[param(value_type = String, example = "2026-03-31")]
    pub to: NaiveDate,
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The SLA report: per branch and deadline kind, deadlines falling due in the period met on
/// time, met late, breached and still open.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(SlaQuery),
    responses(
        (status = 200, body = Vec<SlaLine>),
        (status = 200, description = "With format=csv", body = String, content_type = "text/csv"),
    )
)]
#[get("/api/v1/reports/sla")]
async fn sla_report(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    query: ApiQuery<SlaQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner()?.into_inner();
    if query.to < query.from || (query.to - query.from).num_days() > 366 {
        return Err(ApiError::new(
            crate::error::ErrorCode::InvalidQuery,
            "from must not be after to, and the period at most a year",
        ));
    }
    let tz = BranchTimeZone::default().tz();
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no local midnight on {d}")))
    };
    let (from, to) = (start(query.from)?, start(query.to + chrono::Days::new(1))?);
    let scope = auth.scope().clone();
    let lines = state
        .db(move |conn| Ok(report::sla(conn, &scope, from, to)?))
        .await?;
    Ok(match query.format.unwrap_or(ReportFormat::Json) {
        ReportFormat::Json => HttpResponse::Ok().json(lines),
        ReportFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"sla.csv\""))
            .body(report::sla_csv(&lines)),
    })
}
