//! The pilot's results and the outlook ahead of its end, for supervisors (issue 25; order п.5–6).

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::extract::ApiQuery;
use crate::domain::reference::BranchCode;
use crate::reports::pilot::{self, PilotReport};
use crate::reports::pilot_end::{self, PilotEndOutlook};
use crate::reports::sla::ReportFormat;
use crate::workflows::Reason;
use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(pilot_report).service(pilot_end_outlook);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PilotQuery {
    /// First day (Almaty), inclusive.
    #[param(value_type = String, example = "2026-03-01")]
    pub from: NaiveDate,
    /// Last day (Almaty), inclusive; at most a year after `from`.
    #[param(value_type = String, example = "2026-03-31")]
    pub to: NaiveDate,
    /// One branch (national supervisors; a branch supervisor sees their own).
    #[param(value_type = Option<String>)]
    pub branch: Option<BranchCode>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
    /// With `format=csv`: which table (`headline`, `volumes`, `time_to_citizen`, `deadlines`,
    /// `returns`, `losses`, `duplicates`, `disputes`, `force_majeure`, `messages`,
    /// `requests`).
    pub table: Option<String>,
}

/// The pilot's results for a period, per branch and in total (issue 25): volumes; time from the
/// registry office's execution to the citizen, and each leg (p50, p90, max hours); deadlines by
/// clause, met on time, late and breached with the side that missed them; returns and what
/// became of them; losses by side with their acts; free duplicates and whether within 3 working
/// days; disputes; force majeure and whether noticed in time; messages and requests by kind and
/// channel; and the headline — the share of postamat deliveries that reached the citizen
/// without any exception. All read back from stored history, deadlines and outboxes. CSV is one
/// table at a time (`table=`), the same figures as the JSON.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(PilotQuery),
    responses(
        (status = 200, description = "JSON by default; one table as CSV (header line first) with format=csv&table=…", content(
            (PilotReport = "application/json"),
            (String = "text/csv"),
        )),
        (status = 404, description = "No such branch, or not yours (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // asked_branch: another's or unknown branch; InvalidQuery (period, table) from the query's shape
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/reports/pilot")]
async fn pilot_report(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    query: ApiQuery<PilotQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner()?.into_inner();
    let format = query.format.unwrap_or(ReportFormat::Json);
    let table = match (format, query.table.as_deref()) {
        (ReportFormat::Csv, Some(t)) if pilot::TABLES.contains(&t) => Some(t.to_owned()),
        (ReportFormat::Csv, _) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "format=csv needs table, one of {}",
                    pilot::TABLES.join(", ")
                ),
            ));
        }
        (ReportFormat::Json, None) => None,
        (ReportFormat::Json, Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "table is for format=csv; the JSON holds every table",
            ));
        }
    };
    let report = state
        .pilot_report(
            auth.scope().clone(),
            query.from,
            query.to,
            query.branch.clone(),
        )
        .await?;
    Ok(match table {
        None => HttpResponse::Ok().json(report),
        Some(table) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"pilot-{table}.csv\""),
            ))
            .body(report.table(&table).unwrap_or_default()),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutlookQuery {
    /// One branch (national supervisors; a branch supervisor sees their own).
    #[param(value_type = Option<String>)]
    pub branch: Option<BranchCode>,
}

/// Ahead of the pilot's end (order п.6): the documents at each step now, and those that would
/// still be on their way at the end if nothing changed — postamat documents the State
/// Corporation still holds before its courier signed for them, which the end re-routes to the
/// ЦОН, and those whose deadlines run past the end, which complete as in the pilot.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(OutlookQuery),
    responses(
        (status = 200, body = PilotEndOutlook),
        (status = 404, description = "No such branch, or not yours (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // asked_branch
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/reports/pilot-end")]
async fn pilot_end_outlook(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    query: ApiQuery<OutlookQuery>,
) -> ApiResult<web::Json<PilotEndOutlook>> {
    let query = query.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let (pilot, now) = (state.pilot, state.clock.now());
    let outlook = state
        .db(move |conn| {
            let branch = AppState::asked_branch(conn, &scope, query.branch.as_ref())?;
            Ok(pilot_end::outlook(conn, pilot, branch, now)?)
        })
        .await?;
    Ok(web::Json(outlook))
}
