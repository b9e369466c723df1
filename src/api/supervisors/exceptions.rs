//! What needs a supervisor's eye from the Kaspi exchange: events kept unmatched or rejected,
//! and discrepancies between our registries and Kaspi's reports.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::extract::ApiQuery;
use crate::db::models::kaspi_event::{self, Discrepancy, Outcome, StoredEvent};
use crate::error::ApiResult;
use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(kaspi_events).service(discrepancies);
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
