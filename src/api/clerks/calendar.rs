//! Reading the working-day calendar and previewing deadlines. Both are computed from the
//! calendar in memory.

use crate::api::AppState;
use crate::api::auth::{AnyRole, Authorized};
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::db::models::branch;
use crate::domain::calendar::supported_instant;
use crate::domain::deadline::{self, DeadlineKind, Rule};
use crate::domain::force_majeure::{Decision, decide};
use crate::domain::reference::{BranchCode, BranchTimeZone};
use crate::reports::calendar::{CalendarYear, year_view};
use crate::workflows::Reason;
use actix_web::{get, web};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    // The literal route before the one with a parameter.
    cfg.service(preview_deadline).service(get_year);
}

/// The non-working weekdays and working weekend days of a year.
#[utoipa::path(
    tag = "calendar",
    security(("bearer" = [])),
    params(("year" = i32, Path, description = "Year, e.g. 2026")),
    responses(
        (status = 200, body = CalendarYear),
        (status = 404, description = "No calendar data for the year (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // snapshot.calendar.year(year) None -> ApiError::not_found
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/calendar/{year}")]
async fn get_year(
    _auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    year: ApiPath<i32>,
) -> ApiResult<web::Json<CalendarYear>> {
    let year = year.into_inner()?.into_inner();
    let snapshot = state.calendar.current();
    let data = snapshot
        .calendar
        .year(year)
        .ok_or_else(|| ApiError::not_found(format!("the calendar has no data for {year}")))?;
    Ok(web::Json(year_view(data, snapshot.calendar.version())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadlineQuery {
    /// A pilot deadline (`handoff`, `kaspi_arrival`, `point_wait`, `storage`, `return`,
    /// `return_pickup`, `issuance_storage`, `transfer`, `duplicate`, `force_majeure_notice`) or a rule:
    /// `next_working_day_at:HH:MM`, `working_days:N`, `calendar_days:N`, `months:N`.
    #[param(example = "handoff")]
    pub rule: String,
    /// The starting event, RFC 3339 with an offset (`+` encoded as `%2B`); now if omitted.
    #[param(value_type = Option<String>, example = "2026-03-20T17:00:00+05:00")]
    pub from: Option<DateTime<FixedOffset>>,
    /// The branch whose time zone and force-majeure periods apply; `Asia/Almaty` and national
    /// periods only if omitted.
    #[param(value_type = Option<String>, example = "ALM01")]
    pub branch: Option<BranchCode>,
}

/// How force majeure changes a deadline (п.37).
#[derive(Debug, Serialize, ToSchema)]
pub struct ForceMajeureEffect {
    /// `extended`, or `suspended` while an open-ended period covers it.
    #[schema(example = "extended")]
    pub status: &'static str,
    pub due_utc: Option<DateTime<Utc>>,
    pub due_local: Option<String>,
    pub suspended_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlinePreview {
    /// The rule applied, e.g. `next_working_day_at:12:00`.
    #[schema(example = "next_working_day_at:12:00")]
    pub rule: String,
    /// The pilot deadline asked for, if one was named.
    pub deadline: Option<DeadlineKind>,
    /// Its clause of the order.
    #[schema(example = "п.17")]
    pub clause: Option<&'static str>,
    pub branch: Option<String>,
    #[schema(example = "Asia/Almaty")]
    pub time_zone: String,
    pub from_utc: DateTime<Utc>,
    #[schema(example = "2026-03-20T17:00:00+05:00")]
    pub from_local: String,
    pub due_utc: DateTime<Utc>,
    #[schema(example = "2026-03-26T12:00:00+05:00")]
    pub due_local: String,
    /// The last day of the period: for day-counted rules the deadline is 24:00 of this day.
    pub last_day: NaiveDate,
    pub calendar_version: i64,
    /// Present when a force-majeure period changes the deadline.
    pub force_majeure: Option<ForceMajeureEffect>,
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).to_rfc3339()
}

/// When a deadline started at `from` falls due, in the branch's local time and UTC.
#[utoipa::path(
    tag = "calendar",
    security(("bearer" = [])),
    params(DeadlineQuery),
    responses(
        (status = 200, body = DeadlinePreview),
        (status = 404, description = "No such branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The start is outside the years 2000–2100 (`validation_failed`), or the deadline falls in a year without calendar data (`calendar_year_missing`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed: supported_instant(from); NotFound: branch::find_by_code None; BranchForbidden: auth.require_branch; CalendarYearMissing: deadline::due / force_majeure::decide YearMissing (the caller's date)
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::NotFound, Reason::BranchForbidden, Reason::CalendarYearMissing]))),
)]
#[get("/api/v1/calendar/deadline")]
async fn preview_deadline(
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    query: ApiQuery<DeadlineQuery>,
) -> ApiResult<web::Json<DeadlinePreview>> {
    let query = query.into_inner()?.into_inner();
    let rule: Rule = query.rule.parse().map_err(|e: deadline::UnknownRule| {
        ApiError::new(ErrorCode::InvalidQuery, e.to_string())
    })?;
    let named = DeadlineKind::ALL
        .into_iter()
        .find(|k| k.as_str() == query.rule);
    let from = query
        .from
        .map_or_else(|| state.clock.now(), |t| t.with_timezone(&Utc));
    let from = supported_instant(from, "from")?;
    let (branch_id, tz) = match query.branch.clone() {
        Some(code) => {
            let lookup = code.clone();
            let found = state
                .db(move |conn| Ok(branch::find_by_code(conn, lookup.as_str())?))
                .await?
                .ok_or_else(|| ApiError::not_found(format!("branch {code} not found")))?;
            auth.require_branch(found.id, &found.code)?;
            (Some(found.id), found.time_zone.tz())
        }
        None => (None, BranchTimeZone::default().tz()),
    };

    let snapshot = state.calendar.current();
    let due = deadline::due(rule, from, tz, &snapshot.calendar)?;
    let decision = decide(
        rule,
        from,
        due.at,
        tz,
        &snapshot.calendar,
        &snapshot.suspensions_for(branch_id),
    )?;
    let force_majeure = match decision {
        Decision::Keep => None,
        Decision::MoveTo(e) => Some(ForceMajeureEffect {
            status: "extended",
            due_utc: Some(e.at),
            due_local: Some(local(e.at, tz)),
            suspended_since: None,
        }),
        Decision::Hold { since } => Some(ForceMajeureEffect {
            status: "suspended",
            due_utc: None,
            due_local: None,
            suspended_since: Some(since),
        }),
    };
    Ok(web::Json(DeadlinePreview {
        rule: rule.to_string(),
        deadline: named,
        clause: named.map(DeadlineKind::clause),
        branch: query.branch.map(|b| b.to_string()),
        time_zone: tz.name().to_owned(),
        from_utc: from,
        from_local: local(from, tz),
        due_utc: due.at,
        due_local: local(due.at, tz),
        last_day: due.last_day,
        calendar_version: due.calendar_version,
        force_majeure,
    }))
}
