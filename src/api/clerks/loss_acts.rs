//! Loss acts (п.22–24): a State-side loss recorded by staff, the act drawn in two copies by
//! the accumulation sector (the second sent to the registry office), and its printable page.

use super::documents::clerk_context;
use super::registries::escape;
use crate::api::AppState;
use crate::api::auth::{AccumulationClerks, Authorized, BranchStaff, Policy};
use crate::api::extract::{ApiJson, ApiPath};
use crate::db::models::loss_act::{self, LossAct, NewLoss};
use crate::db::models::shipment::{self, ActorRef};
use crate::db::schema::branches;
use crate::db::{Id, write_transaction};
use crate::domain::reference::{BranchTimeZone, Text};
use crate::domain::role::Role;
use crate::domain::shipment::ShipmentEvent;
use crate::error::{ApiError, ApiResult};
use actix_web::{HttpResponse, get, post, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(record_loss)
        .service(list_acts)
        .service(get_act)
        .service(draw_act)
        .service(print_act);
}

/// State Corporation staff who can lose a document in their hands (п.23).
pub struct StateStaff;
impl Policy for StateStaff {
    const ROLES: &'static [Role] = &[
        Role::AccumulationClerk,
        Role::IssuanceClerk,
        Role::StateCourier,
    ];
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordLoss {
    pub cause: Text,
    pub circumstances: Text,
    /// The employee responsible for receiving and delivering the document (п.23).
    pub responsible_employee: Text,
}

/// Record a loss on the State Corporation's side (п.23): the shipment is lost and a loss act
/// is opened, to be drawn by the accumulation sector.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = Id, Path, description = "Shipment id")),
    request_body = RecordLoss,
    responses(
        (status = 201, body = LossAct),
        (status = 403, description = "Kaspi holds the document: its loss is Kaspi's to report (`role_forbidden`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not in a state a document can be lost in (`invalid_transition`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/shipments/{id}/loss")]
async fn record_loss(
    auth: Authorized<StateStaff>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
    body: ApiJson<RecordLoss>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let scope = auth.scope().clone();
    let key = auth.principal.key_id;
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    let act = state
        .db(move |conn| {
            let act_id = write_transaction(conn, |conn| {
                let row = shipment::find_scoped(conn, id, &scope)?
                    .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))?;
                let ctx = clerk_context(actor, now, &snapshot);
                let details =
                    serde_json::json!({ "cause": body.cause, "side": "state_corporation" });
                let (row, _) =
                    shipment::apply_event(conn, &row, ShipmentEvent::Lost, &ctx, Some(details))?;
                let loss = NewLoss {
                    side: "state_corporation",
                    kaspi_act_number: None,
                    cause: body.cause.as_str(),
                    circumstances: body.circumstances.as_str(),
                    responsible_employee: body.responsible_employee.as_str(),
                    kaspi_event_id: None,
                    recorded_by: Some(key),
                };
                Ok::<_, ApiError>(loss_act::record(conn, &row, loss, now)?)
            })?;
            loss_act::find_scoped(conn, act_id, &scope)?
                .ok_or_else(|| ApiError::not_found("loss act"))
        })
        .await?;
    Ok(HttpResponse::Created().json(act))
}

/// The branch's loss acts, newest first.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<LossAct>))
)]
#[get("/api/v1/loss-acts")]
async fn list_acts(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<LossAct>>> {
    let scope = auth.scope().clone();
    Ok(web::Json(
        state
            .db(move |conn| Ok(loss_act::list(conn, &scope)?))
            .await?,
    ))
}

fn found<T>(act: Option<T>, id: Id) -> ApiResult<T> {
    crate::api::found(act, || format!("loss act {id}"))
}

/// One loss act.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = Id, Path, description = "Loss act id")),
    responses(
        (status = 200, body = LossAct),
        (status = 404, description = "No such act in your branch (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/loss-acts/{id}")]
async fn get_act(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
) -> ApiResult<web::Json<LossAct>> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    Ok(web::Json(found(
        state
            .db(move |conn| Ok(loss_act::find_scoped(conn, id, &scope)?))
            .await?,
        id,
    )?))
}

/// Draw the act in two copies (п.24): it gets the branch's next loss-act number and its
/// second copy is sent to the registry office.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = Id, Path, description = "Loss act id")),
    responses(
        (status = 200, body = LossAct),
        (status = 409, description = "Already drawn (`already_exists`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/loss-acts/{id}/draw")]
async fn draw_act(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
) -> ApiResult<web::Json<LossAct>> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let key = auth.principal.key_id;
    let now = state.clock.now();
    let act = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let act = found(loss_act::find_scoped(conn, id, &scope)?, id)?;
                Ok::<_, ApiError>(loss_act::draw(conn, &act, key, now)?)
            })
        })
        .await?;
    tracing::info!(act = ?act.number, "loss act drawn");
    Ok(web::Json(act))
}

/// The act as a printable page holding both copies (п.24).
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = Id, Path, description = "Loss act id")),
    responses(
        (status = 200, description = "Printable page with both copies", body = String, content_type = "text/html"),
        (status = 409, description = "Not drawn yet (`invalid_transition`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/loss-acts/{id}/print")]
async fn print_act(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let act_and_branch = state
        .db(move |conn| {
            let Some(act) = loss_act::find_scoped(conn, id, &scope)? else {
                return Ok(None);
            };
            let branch: (String, String, String) = branches::table
                .filter(branches::code.eq(&act.branch))
                .select((branches::name_ru, branches::address_ru, branches::time_zone))
                .first(conn)?;
            Ok(Some((act, branch)))
        })
        .await?;
    let (act, branch) = found(act_and_branch, id)?;
    let (branch_name, branch_address, zone) = branch;
    let tz = BranchTimeZone::try_from(zone).unwrap_or_default().tz();
    let (Some(number), Some(drawn_at)) = (act.number.clone(), act.drawn_at) else {
        return Err(ApiError::new(
            crate::error::ErrorCode::InvalidTransition,
            "draw the act before printing it",
        ));
    };
    let copy = |which: &str, to: &str| {
        format!(
            "<section class=\"copy\"><h1>Акт об утере документа № {number}</h1><p><b>{which}</b> — {to}</p>\
             <p>Дата составления: {dated}<br>Филиал: {branch} — {branch_name}<br>Адрес: {branch_address}</p>\
             <table><tr><th>Номер заявки</th><td>{app}</td></tr><tr><th>Сторона</th><td>{side}</td></tr>\
             <tr><th>Акт Kaspi</th><td>{kaspi}</td></tr><tr><th>Причина</th><td>{cause}</td></tr>\
             <tr><th>Обстоятельства</th><td>{circ}</td></tr><tr><th>Ответственный работник</th><td>{emp}</td></tr></table>\
             <table class=\"signatures\"><tr><td>Работник Госкорпорации: ____________________</td></tr>\
             <tr><td>Ответственный работник: ____________________ / {emp} /</td></tr></table></section>",
            number = escape(&number),
            dated = drawn_at.with_timezone(&tz).format("%d.%m.%Y %H:%M"),
            branch = escape(&act.branch),
            branch_name = escape(&branch_name),
            branch_address = escape(&branch_address),
            app = escape(&act.application_number),
            side = if act.side == "kaspi" {
                "АО «Kaspi Bank» (п.22)"
            } else {
                "Госкорпорация (п.23)"
            },
            kaspi = escape(act.kaspi_act_number.as_deref().unwrap_or("—")),
            cause = escape(&act.cause),
            circ = escape(&act.circumstances),
            emp = escape(&act.responsible_employee),
        )
    };
    let page = format!(
        "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>Акт об утере № {number}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #000;padding:4px 8px;text-align:left}}\
         .copy{{page-break-after:always;margin-bottom:3em}}.signatures td{{border:none;padding-top:3em}}</style></head><body>{}{}</body></html>",
        copy("Экземпляр 1", "остается в Госкорпорации"),
        copy("Экземпляр 2", "направляется в уполномоченный орган (п.24)"),
        number = escape(&number),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}
