//! What needs a supervisor's eye from the Kaspi exchange: events kept unmatched or rejected,
//! and discrepancies between our registries and Kaspi's reports.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::db::Id;
use crate::db::models::kaspi_event::{self, Discrepancy, Outcome, StoredEvent};
use crate::db::models::outbox::{self, DeadLetter, Outbox};
use crate::error::{ApiError, ApiResult};
use actix_web::{HttpResponse, post};
use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(kaspi_events)
        .service(discrepancies)
        .service(dead_letters)
        .service(requeue);
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
    _auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<DeadLetter>>> {
    Ok(web::Json(
        state.db(|conn| Ok(outbox::dead_letters(conn)?)).await?,
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
    _auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    path: ApiPath<(Outbox, Id)>,
) -> ApiResult<HttpResponse> {
    let (which, id) = path.into_inner()?.into_inner();
    let now = state.clock.now();
    let requeued = state
        .db(move |conn| Ok(outbox::requeue(conn, which, id, now)?))
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
