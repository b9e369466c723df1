//! Disputes (п.36) about a lost or late document, recorded so the shipment's record shows how
//! they were settled.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::extract::{ApiJson, ApiPath};
use crate::db::models::dispute::{self, Dispute, NewDispute};
use crate::db::models::shipment::{self, ActorRef, Change, EventContext};
use crate::db::{Id, write_transaction};
use crate::domain::reference::Text;
use crate::error::{ApiError, ApiResult, ErrorCode};
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
    pub shipment_id: Id,
    /// The loss act disputed, if any.
    pub loss_act_id: Option<Id>,
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

/// A history line on the disputed shipment.
fn note(
    conn: &mut crate::db::DbConnection,
    shipment_id: Id,
    event: &str,
    details: serde_json::Value,
    ctx: &EventContext<'_>,
) -> ApiResult<()> {
    let row = shipment::find(conn, shipment_id)?.ok_or_else(|| ApiError::not_found("shipment"))?;
    let change = Change {
        application_id: row.application_id,
        shipment_id: Some(row.id),
        event,
        from: Some(&row.status),
        to: &row.status,
        details: Some(details),
    };
    Ok(shipment::record_history(conn, change, ctx)?)
}

/// Record a dispute about a shipment (and its loss act).
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    request_body = OpenDispute,
    responses((status = 201, body = Dispute))
)]
#[post("/api/v1/disputes")]
async fn open_dispute(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    body: ApiJson<OpenDispute>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    let scope = auth.scope().clone();
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = auth.principal;
    let opened = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let row = shipment::find_scoped(conn, body.shipment_id, &scope)?
                    .ok_or_else(|| ApiError::not_found(format!("shipment {} not found", body.shipment_id)))?;
                let new = NewDispute {
                    shipment_id: row.id,
                    branch_id: row.branch_id,
                    loss_act_id: body.loss_act_id,
                    parties: body.parties.as_str(),
                    subject: body.subject.as_str(),
                    opened_on: body.opened_on,
                    recorded_by: actor.key_id,
                };
                let opened = dispute::open(conn, new, now)?;
                let ctx = crate::api::clerks::documents::clerk_context(ActorRef::from(&actor), now, &snapshot);
                let details = serde_json::json!({ "dispute": opened.id, "parties": opened.parties, "subject": opened.subject });
                note(conn, row.id, "dispute_opened", details, &ctx)?;
                Ok::<_, ApiError>(opened)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(opened))
}

/// Record how a dispute was settled.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(("id" = Id, Path, description = "Dispute id")),
    request_body = SettleDispute,
    responses(
        (status = 200, body = Dispute),
        (status = 409, description = "Already settled (`already_ended`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/disputes/{id}/settle")]
async fn settle_dispute(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
    body: ApiJson<SettleDispute>,
) -> ApiResult<web::Json<Dispute>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let scope = auth.scope().clone();
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    let settled = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let found = dispute::find_scoped(conn, id, &scope)?.ok_or_else(|| ApiError::not_found(format!("dispute {id} not found")))?;
                if !dispute::settle(conn, id, body.commission_protocol.as_str(), body.outcome.as_str(), body.settled_on, now)? {
                    return Err(ApiError::new(ErrorCode::AlreadyEnded, "the dispute is already settled"));
                }
                let ctx = crate::api::clerks::documents::clerk_context(actor, now, &snapshot);
                let details = serde_json::json!({
                    "dispute": id, "commission_protocol": body.commission_protocol, "outcome": body.outcome, "settled_on": body.settled_on,
                });
                note(conn, found.shipment_id, "dispute_settled", details, &ctx)?;
                dispute::find_scoped(conn, id, &scope)?.ok_or_else(|| ApiError::not_found("dispute"))
            })
        })
        .await?;
    Ok(web::Json(settled))
}

/// Disputes, newest first; a branch supervisor sees their branch's.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Dispute>))
)]
#[get("/api/v1/disputes")]
async fn list_disputes(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<Dispute>>> {
    let scope = auth.scope().clone();
    Ok(web::Json(
        state
            .db(move |conn| Ok(dispute::list(conn, &scope)?))
            .await?,
    ))
}
