//! Force-majeure periods (п.37–38): while one lasts, the deadlines it covers are extended.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::extract::{ApiJson, ApiPath};
use crate::db::models::force_majeure;
use crate::domain::ids::PeriodId;
use crate::domain::reference::{BranchCode, Text};
use crate::reports::views::ForceMajeurePeriod;
use crate::workflows::Reason;
use crate::workflows::force_majeure::{self as periods, NewPeriod};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(record_notice)
        .service(create_period)
        .service(end_period)
        .service(list_periods);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePeriod {
    /// The branch it covers; omit for the whole country (national supervisors only).
    pub branch: Option<BranchCode>,
    #[schema(value_type = String, example = "2026-11-24T08:00:00+05:00")]
    pub starts_at: DateTime<FixedOffset>,
    /// Omit while the circumstances last.
    #[schema(value_type = Option<String>)]
    pub ends_at: Option<DateTime<FixedOffset>>,
    /// What happened (natural disaster, state of emergency, restrictive measures, …; п.37).
    #[schema(example = "Паводок: ЦОН закрыт по решению акимата")]
    pub reason: Text,
    /// The document that confirms it (п.38).
    pub document_ref: Option<Text>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndPeriod {
    #[schema(value_type = String, example = "2026-11-25T18:00:00+05:00")]
    pub ends_at: DateTime<FixedOffset>,
}

/// Record a force-majeure period. Branch supervisors record them for their own branch.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    request_body = CreatePeriod,
    responses(
        (status = 201, body = ForceMajeurePeriod),
        (status = 422, description = "The end is not after the start, or the branch does not exist (`validation_failed`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed plausible / force_majeure::record (ends<=starts, unknown branch, recorded too late); BranchForbidden record (national by branch key, other branch); CalendarUnavailable notice_due / extend_deadlines -> decide
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::BranchForbidden, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/force-majeure")]
async fn create_period(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    body: ApiJson<CreatePeriod>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    let starts_at = plausible(body.starts_at, "starts_at")?;
    let ends_at = body.ends_at.map(|t| plausible(t, "ends_at")).transpose()?;
    let new = NewPeriod {
        branch: body.branch,
        starts_at,
        ends_at,
        reason: body.reason,
        document_ref: body.document_ref,
    };
    let period = state
        .act(&auth.principal, move |conn, ctx| {
            let period = periods::record(conn, &new, ctx)?;
            let calendar = &ctx.calendar.calendar;
            Ok(ForceMajeurePeriod::new(period, calendar, ctx.recorded_at))
        })
        .await?;
    state.reload_calendar().await;
    tracing::info!(id = %period.id, branch = ?period.branch, "force-majeure period recorded");
    Ok(HttpResponse::Created().json(period))
}

/// An instant within the years the service can reason about (a typo like year 9999 would
/// otherwise sort wrongly as text on SQLite).
fn plausible(t: DateTime<FixedOffset>, field: &str) -> ApiResult<DateTime<Utc>> {
    let t = t.with_timezone(&Utc);
    if (2020..=2100).contains(&t.year()) {
        Ok(t)
    } else {
        Err(ApiError::validation(format!(
            "{field} must be between the years 2020 and 2100"
        )))
    }
}

/// Record the end of a period; the deadlines it covered keep their extension.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(("id" = PeriodId, Path, description = "Period id")),
    request_body = EndPeriod,
    responses(
        (status = 200, body = ForceMajeurePeriod),
        (status = 404, description = "No such period (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already ended (`already_ended`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The end is not after the start (`validation_failed`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed plausible / end <= start; force_majeure::end: NotFound find; BranchForbidden not allowed; AlreadyEnded; CalendarUnavailable extend_deadlines -> decide
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::NotFound, Reason::BranchForbidden, Reason::AlreadyEnded, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/force-majeure/{id}/end")]
async fn end_period(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    id: ApiPath<PeriodId>,
    body: ApiJson<EndPeriod>,
) -> ApiResult<web::Json<ForceMajeurePeriod>> {
    let ends_at = plausible(body.into_inner()?.ends_at, "ends_at")?;
    let id = id.into_inner()?.into_inner();
    let period = state
        .act(&auth.principal, move |conn, ctx| {
            let period = periods::end(conn, id, ends_at, ctx)?;
            let calendar = &ctx.calendar.calendar;
            Ok(ForceMajeurePeriod::new(period, calendar, ctx.recorded_at))
        })
        .await?;
    state.reload_calendar().await;
    Ok(web::Json(period))
}

/// Periods a supervisor may see: national ones and, for a branch supervisor, their branch's.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ForceMajeurePeriod>)),
    // force_majeure::list
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/force-majeure")]
async fn list_periods(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<ForceMajeurePeriod>>> {
    let scope = auth.scope().clone();
    let rows = state
        .db(move |conn| Ok(force_majeure::list(conn, &scope)?))
        .await?;
    let (snapshot, now) = (state.calendar.current(), state.clock.now());
    Ok(web::Json(
        rows.into_iter()
            .map(|period| ForceMajeurePeriod::new(period, &snapshot.calendar, now))
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeRequest {
    /// The letter or message that notified the responsible bodies (п.38).
    pub reference: Text,
}

/// Record the notice of a force-majeure period (п.38); one not recorded within 3 working days
/// of its start shows in the exception queue (п.39).
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(("id" = PeriodId, Path, description = "Period id")),
    request_body = NoticeRequest,
    responses(
        (status = 200, body = ForceMajeurePeriod),
        (status = 404, description = "No such period (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Notice already recorded (`already_exists`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // force_majeure::record_notice: NotFound find; BranchForbidden may_act_on; AlreadyExists periods::record_notice false
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::BranchForbidden, Reason::AlreadyExists]))),
)]
#[post("/api/v1/force-majeure/{id}/notice")]
async fn record_notice(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    id: ApiPath<PeriodId>,
    body: ApiJson<NoticeRequest>,
) -> ApiResult<web::Json<ForceMajeurePeriod>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let period = state
        .act(&auth.principal, move |conn, ctx| {
            let period = periods::record_notice(conn, id, &body.reference, ctx)?;
            let calendar = &ctx.calendar.calendar;
            Ok(ForceMajeurePeriod::new(period, calendar, ctx.recorded_at))
        })
        .await?;
    state.reload_calendar().await;
    Ok(web::Json(period))
}
