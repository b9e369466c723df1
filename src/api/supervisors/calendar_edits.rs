//! Supervisors' edits of the national calendar, each a new version with an audit record.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, Bounds};
use crate::db::models::calendar::{self, EditRow};
use crate::domain::calendar::{DayKind, EditAction};
use crate::domain::ids::KeyId;
use crate::domain::reference::Text;
use crate::reports::calendar::CalendarYear;
use crate::workflows::Reason;
use crate::workflows::calendar::{self as calendar_edit, CalendarEditRequest, DecreeSwap, name};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(edit_year)
        .service(import_swaps)
        .service(list_edits);
}

/// One edit of the calendar, as kept for audit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarEditRecord {
    /// The calendar version this edit created.
    pub version: i64,
    pub year: i32,
    pub action: EditAction,
    pub date: Option<NaiveDate>,
    pub kind: Option<DayKind>,
    pub name_kk: Option<String>,
    pub name_ru: Option<String>,
    /// Why: the decree or correction it records.
    pub reason: String,
    /// The API key that made it.
    pub key_id: KeyId,
    pub actor_name: String,
    pub created_at: DateTime<Utc>,
}

impl From<EditRow> for CalendarEditRecord {
    fn from(row: EditRow) -> Self {
        CalendarEditRecord {
            version: row.version,
            year: row.year,
            action: row.action,
            date: row.date,
            kind: row.kind,
            name_kk: row.name_kk,
            name_ru: row.name_ru,
            reason: row.reason,
            key_id: row.key_id,
            actor_name: row.actor_name,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarEdited {
    pub edit: CalendarEditRecord,
    /// The year as it is now.
    pub calendar: Option<CalendarYear>,
}

/// Edit a year of the national calendar (national supervisors only). The change applies to
/// deadline previews at once and to other instances within the refresh interval.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(("year" = i32, Path, description = "Year, e.g. 2026")),
    request_body = CalendarEditRequest,
    responses(
        (status = 201, body = CalendarEdited),
        (status = 409, description = "The day is already set (`duplicate_day`), the year exists (`already_exists`), or a concurrent edit took the version (`concurrent_update`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The edit makes no sense: `date_outside_year`, `not_a_weekday`, `not_a_weekend_day`, `no_such_day`, `calendar_year_missing`", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // BranchForbidden auth.require_national; the rest calendar::edit -> Calendar::edited EditError (AlreadyExists = EditError::YearExists, ValidationFailed = EditError::OutOfRange)
    extensions(("x-problem-codes" = json!([Reason::BranchForbidden, Reason::ValidationFailed, Reason::DateOutsideYear, Reason::NotAWeekday, Reason::NotAWeekendDay, Reason::DuplicateDay, Reason::NoSuchDay, Reason::CalendarYearMissing, Reason::AlreadyExists]))),
)]
#[post("/api/v1/calendar/{year}/edits")]
async fn edit_year(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    year: ApiPath<i32>,
    body: ApiJson<CalendarEditRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_national("the working-day calendar")?;
    let (edit, reason) = body.into_inner()?.into_edit();
    let year = year.into_inner()?.into_inner();
    let record = state
        .act(&auth.principal, move |conn, ctx| {
            let record = calendar_edit::edit(conn, year, edit, &reason, ctx)?;
            Ok(CalendarEditRecord::from(record))
        })
        .await?;
    tracing::info!(version = record.version, year, action = ?record.action, "calendar edited");
    Ok(HttpResponse::Created().json(CalendarEdited {
        calendar: state.year_after_edit(year).await,
        edit: record,
    }))
}

/// One decree swap to import.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecreeSwapRequest {
    /// The weekday made a day off.
    pub day_off: NaiveDate,
    /// The Saturday or Sunday worked instead.
    pub working_day: NaiveDate,
    pub name_kk: Option<Text>,
    pub name_ru: Option<Text>,
}

/// A year's Government decree swaps, e.g. the file a supervisor keeps per decree.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecreeSwapImport {
    /// The decree, kept with every edit it makes.
    pub reason: Text,
    /// 1 to 50 swaps.
    #[schema(schema_with = swaps_schema)]
    pub swaps: Vec<DecreeSwapRequest>,
}

/// At most 50 swaps in one import (a decree names a handful).
const SWAPS: Bounds = Bounds {
    field: "swaps",
    min: 1,
    max: 50,
};

fn swaps_schema() -> utoipa::openapi::Array {
    SWAPS.array_of::<DecreeSwapRequest>()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SwapsImported {
    /// Two edits per swap (the day off, then the worked weekend day), in order.
    pub edits: Vec<CalendarEditRecord>,
    /// The year as it is now.
    pub calendar: Option<CalendarYear>,
}

/// Import a year's Government decree swaps (national supervisors only): each swap is recorded
/// as two edits with the same audit trail as single edits, all in one transaction — none are
/// kept when one makes no sense.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(("year" = i32, Path, description = "Year, e.g. 2027")),
    request_body = DecreeSwapImport,
    responses(
        (status = 201, body = SwapsImported),
        (status = 409, description = "A day is already set (`duplicate_day`) or a concurrent edit took the version (`concurrent_update`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A swap makes no sense (`date_outside_year`, `not_a_weekday`, `not_a_weekend_day`, `calendar_year_missing`) or the list is empty or too long (`validation_failed`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // BranchForbidden auth.require_national; ValidationFailed ApiError::validation (1..50 swaps); the rest calendar::import_swaps -> edit -> Calendar::edited (AddDayOff/AddWorkingDay only)
    extensions(("x-problem-codes" = json!([Reason::BranchForbidden, Reason::ValidationFailed, Reason::DateOutsideYear, Reason::NotAWeekday, Reason::NotAWeekendDay, Reason::DuplicateDay, Reason::CalendarYearMissing]))),
)]
#[post("/api/v1/calendar/{year}/decree-swaps")]
async fn import_swaps(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    year: ApiPath<i32>,
    body: ApiJson<DecreeSwapImport>,
) -> ApiResult<HttpResponse> {
    auth.require_national("the working-day calendar")?;
    let body = body.into_inner()?;
    SWAPS.check(body.swaps.len())?;
    let swaps: Vec<DecreeSwap> = body
        .swaps
        .into_iter()
        .map(|s| DecreeSwap {
            day_off: s.day_off,
            working_day: s.working_day,
            name: name(
                s.name_kk,
                s.name_ru,
                "Демалыс күнін ауыстыру (Үкімет қаулысы)",
                "Перенос выходного дня (постановление Правительства)",
            ),
        })
        .collect();
    let year = year.into_inner()?.into_inner();
    let reason = body.reason;
    let edits = state
        .act(&auth.principal, move |conn, ctx| {
            let rows = calendar_edit::import_swaps(conn, year, &swaps, &reason, ctx)?;
            Ok(rows
                .into_iter()
                .map(CalendarEditRecord::from)
                .collect::<Vec<_>>())
        })
        .await?;
    tracing::info!(year, edits = edits.len(), "decree swaps imported");
    let calendar = state.year_after_edit(year).await;
    Ok(HttpResponse::Created().json(SwapsImported { edits, calendar }))
}

/// Every edit of a year, oldest first: who, when, why.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(("year" = i32, Path, description = "Year, e.g. 2026")),
    responses((status = 200, body = Vec<CalendarEditRecord>)),
    // calendar::edits
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/calendar/{year}/edits")]
async fn list_edits(
    _auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    year: ApiPath<i32>,
) -> ApiResult<web::Json<Vec<CalendarEditRecord>>> {
    let year = year.into_inner()?.into_inner();
    let edits = state
        .db(move |conn| Ok(calendar::edits(conn, year)?))
        .await?;
    Ok(web::Json(
        edits.into_iter().map(CalendarEditRecord::from).collect(),
    ))
}
