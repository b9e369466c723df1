//! What needs a supervisor's eye from the Kaspi exchange: events kept unmatched or rejected,
//! and discrepancies between our registries and Kaspi's reports.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::db::models::kaspi_event::{self, DiscrepancyRow, KaspiEventRow};
use crate::db::models::{outbox, report};
use crate::domain::ids::{DiscrepancyId, MessageId, RegistryId, ShipmentId};
use crate::domain::kaspi::{DiscrepancyKind, Outcome};
use crate::domain::notification::Outbox;
use crate::observability::redact::mask_urls;
use crate::reports::exceptions::{self, Exception, ExceptionFilter};
use crate::reports::sla::{ReportFormat, SlaLine, sla_csv};
use crate::workflows::Reason;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(kaspi_events)
        .service(discrepancies)
        .service(dead_letters)
        .service(requeue)
        .service(exception_queue)
        .service(sla_report);
}

/// A kept event, for supervisors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredEvent {
    pub event_id: String,
    #[schema(example = "placed_in_cell")]
    pub event_type: String,
    pub waybill: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl From<KaspiEventRow> for StoredEvent {
    fn from(row: KaspiEventRow) -> Self {
        StoredEvent {
            event_id: row.event_id,
            event_type: row.event_type,
            waybill: row.waybill,
            occurred_at: row.occurred_at,
            outcome: row.outcome,
            reason: row.reason_code,
            detail: row.detail,
            received_at: row.received_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// `unmatched` (the inbox of events waiting for their waybill) or `rejected`.
    #[param(inline)]
    pub outcome: Outcome,
}

/// Kaspi events by outcome: the unmatched inbox (applied automatically once the waybill is
/// known) and the rejected ones. A branch supervisor sees their branch's shipments' events; an
/// event whose waybill matches no shipment only national supervisors see.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(EventFilter),
    responses((status = 200, body = Vec<StoredEvent>)),
    // kaspi_event::by_outcome
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/integrations/kaspi/events")]
async fn kaspi_events(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    filter: ApiQuery<EventFilter>,
) -> ApiResult<web::Json<Vec<StoredEvent>>> {
    let outcome = filter.into_inner()?.into_inner().outcome;
    let scope = auth.scope().clone();
    let rows = state
        .db(move |conn| Ok(kaspi_event::by_outcome(conn, outcome, &scope, 500)?))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(row, _)| StoredEvent::from(row))
            .collect(),
    ))
}

/// A difference between what we handed over and what Kaspi reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Discrepancy {
    pub id: DiscrepancyId,
    pub kind: DiscrepancyKind,
    pub registry_id: Option<RegistryId>,
    pub shipment_id: Option<ShipmentId>,
    pub waybill: Option<String>,
    pub detail: String,
    pub kaspi_event_id: Option<String>,
    pub detected_at: DateTime<Utc>,
}

impl From<DiscrepancyRow> for Discrepancy {
    fn from(row: DiscrepancyRow) -> Self {
        Discrepancy {
            id: row.id,
            kind: row.kind,
            registry_id: row.registry_id,
            shipment_id: row.shipment_id,
            waybill: row.waybill,
            detail: row.detail,
            kaspi_event_id: row.kaspi_event_id,
            detected_at: row.detected_at,
        }
    }
}

/// Discrepancies (envelopes not accepted, unexpected envelopes, wrong postamat), newest first;
/// a branch supervisor sees their branch's.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Discrepancy>)),
    // kaspi_event::discrepancies
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/discrepancies")]
async fn discrepancies(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<Discrepancy>>> {
    let scope = auth.scope().clone();
    let rows = state
        .db(move |conn| Ok(kaspi_event::discrepancies(conn, &scope, 500)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(Discrepancy::from).collect()))
}

/// A dead-lettered message, for supervisors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadLetter {
    pub outbox: Outbox,
    pub id: MessageId,
    /// The channel, or the system it was for.
    pub channel: String,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<outbox::DeadLetter> for DeadLetter {
    fn from(d: outbox::DeadLetter) -> Self {
        DeadLetter {
            outbox: d.outbox,
            id: d.id,
            channel: d.route.to_owned(),
            kind: d.kind.to_owned(),
            attempts: d.attempts,
            // Errors kept before URLs were masked where they are written may still quote one.
            last_error: d.last_error.map(|e| mask_urls(&e).into_owned()),
            created_at: d.created_at,
        }
    }
}

/// The most dead letters listed at once, oldest first (as many of each outbox).
const DEAD_LETTERS_LISTED: i64 = 500;

/// Messages the dispatcher gave up on (a 4xx, or too many failed attempts), oldest first, up to
/// 500 of each outbox.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<DeadLetter>)),
    // outbox::dead_letters
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/outbox/dead")]
async fn dead_letters(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<DeadLetter>>> {
    let scope = auth.scope().clone();
    let dead = state
        .db(move |conn| {
            let window = report::Window {
                branch: scope.branch(),
                began_by: None,
                limit: DEAD_LETTERS_LISTED,
            };
            Ok(outbox::dead_letters(conn, &window)?)
        })
        .await?;
    Ok(web::Json(dead.into_iter().map(DeadLetter::from).collect()))
}

/// Put a dead-lettered message back in the queue, to be tried again at once.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(
        ("outbox" = Outbox, Path, description = "`notifications` or `outbound`"),
        ("id" = MessageId, Path, description = "Message id"),
    ),
    responses(
        (status = 204, description = "Queued again"),
        (status = 404, description = "No such dead-lettered message (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // not visible in outbox::dead_letters or outbox::requeue false -> ApiError::not_found
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[post("/api/v1/outbox/{outbox}/{id}/requeue")]
async fn requeue(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    path: ApiPath<(Outbox, MessageId)>,
) -> ApiResult<HttpResponse> {
    let (which, id) = path.into_inner()?.into_inner();
    let now = state.clock.now();
    let scope = auth.scope().clone();
    let requeued = state
        .write(move |conn| {
            // Only what the supervisor may see can be queued again.
            Ok(outbox::requeue(conn, which, id, &scope, now)?)
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

/// The exception queue: breached deadlines of documents still on their way, discrepancies,
/// Kaspi events waiting, dead-lettered messages — with branch, reason and age, oldest first.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(ExceptionFilter),
    responses((status = 200, body = Vec<Exception>)),
    // ValidationFailed ExceptionFilter::check (limit); exceptions() (notice_due errors are ignored)
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed]))),
)]
#[get("/api/v1/exceptions")]
async fn exception_queue(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    filter: ApiQuery<ExceptionFilter>,
) -> ApiResult<web::Json<Vec<Exception>>> {
    let filter = filter.into_inner()?.into_inner();
    filter.check().map_err(ApiError::validation)?;
    let scope = auth.scope().clone();
    let now = state.clock.now();
    let term = state.execution_term;
    let calendar = state.calendar.current();
    let found = state
        .db(move |conn| {
            Ok(exceptions::exceptions(
                conn,
                &scope,
                &filter,
                now,
                &calendar.calendar,
                term,
            )?)
        })
        .await?;
    Ok(web::Json(found))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
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
        (status = 200, description = "JSON by default; CSV (header line first) with format=csv", content(
            (Vec<SlaLine> = "application/json"),
            (String = "text/csv"),
        )),
    ),
    // report::sla (a bad period is InvalidQuery)
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/reports/sla")]
async fn sla_report(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    query: ApiQuery<SlaQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner()?.into_inner();
    let lines = state
        .sla_lines(auth.scope().clone(), query.from, query.to)
        .await?;
    Ok(match query.format.unwrap_or(ReportFormat::Json) {
        ReportFormat::Json => HttpResponse::Ok().json(lines),
        ReportFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"sla.csv\""))
            .body(sla_csv(&lines)),
    })
}
