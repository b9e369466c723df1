//! Disputes (п.36) about a lost or late document, recorded so the shipment's record shows how
//! they were settled.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath};
use crate::db::models::dispute;
use crate::domain::calendar::supported_date;
use crate::domain::ids::{DisputeId, LossActId, ShipmentId};
use crate::domain::reference::Text;
use crate::reports::views::Dispute;
use crate::workflows::Reason;
use crate::workflows::disputes::{self, Settlement};
use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(open_dispute)
        .service(settle_dispute)
        .service(list_disputes);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDispute {
    pub shipment_id: ShipmentId,
    /// The loss act disputed, if any.
    pub loss_act_id: Option<LossActId>,
    /// Who disagrees with whom, e.g. "Госкорпорация и АО «Kaspi Bank»".
    pub parties: Text,
    pub subject: Text,
    #[schema(value_type = String, example = "2026-11-23")]
    pub opened_on: NaiveDate,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleDispute {
    /// The commission's signed protocol (or the court decision) (п.36).
    pub commission_protocol: Text,
    pub outcome: Text,
    #[schema(value_type = String, example = "2026-12-01")]
    pub settled_on: NaiveDate,
}

/// Record a dispute about a shipment (and its loss act).
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    request_body = OpenDispute,
    responses((status = 201, body = Dispute)),
    // supported_date(opened_on); disputes::open: NotFound find_scoped(shipment) / loss_act::find_scoped; ValidationFailed an act of another shipment
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::ValidationFailed]))),
)]
#[post("/api/v1/disputes")]
async fn open_dispute(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    body: ApiJson<OpenDispute>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    let new = disputes::OpenDispute {
        shipment_id: body.shipment_id,
        loss_act_id: body.loss_act_id,
        parties: body.parties,
        subject: body.subject,
        opened_on: supported_date(body.opened_on, "opened_on")?,
    };
    let opened = state
        .act(&auth.principal, move |conn, ctx| {
            Ok(disputes::open(conn, &new, ctx)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(Dispute::from(opened)))
}

/// Record how a dispute was settled.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(("id" = DisputeId, Path, description = "Dispute id")),
    request_body = SettleDispute,
    responses(
        (status = 200, body = Dispute),
        (status = 409, description = "Already settled (`already_ended`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed supported_date(settled_on); disputes::settle: NotFound dispute::find_scoped; AlreadyEnded dispute::settle false
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::NotFound, Reason::AlreadyEnded]))),
)]
#[post("/api/v1/disputes/{id}/settle")]
async fn settle_dispute(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    id: ApiPath<DisputeId>,
    body: ApiJson<SettleDispute>,
) -> ApiResult<web::Json<Dispute>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let settlement = Settlement {
        commission_protocol: body.commission_protocol,
        outcome: body.outcome,
        settled_on: supported_date(body.settled_on, "settled_on")?,
    };
    let settled = state
        .act(&auth.principal, move |conn, ctx| {
            Ok(disputes::settle(conn, id, &settlement, ctx)?)
        })
        .await?;
    Ok(web::Json(settled.into()))
}

/// Disputes, newest first; a branch supervisor sees their branch's.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Dispute>)),
    // dispute::list
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/disputes")]
async fn list_disputes(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<Dispute>>> {
    let scope = auth.scope().clone();
    let rows = state
        .db(move |conn| Ok(dispute::list(conn, &scope)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(Dispute::from).collect()))
}
