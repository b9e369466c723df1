//! Loss acts (п.22–24): a State-side loss recorded by staff, the act drawn in two copies by
//! the accumulation sector (the second sent to the registry office), and its printable page.

use crate::api::AppState;
use crate::api::auth::{AccumulationClerks, Authorized, BranchStaff, Policy};
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::printed;
use crate::db::models::{branch, loss_act};
use crate::domain::ids::{LossActId, ShipmentId};
use crate::domain::reference::Text;
use crate::domain::role::Role;
use crate::reports::views::{self, LossAct, LossActPage, PageQuery};
use crate::workflows::Reason;
use crate::workflows::loss::{self, StateLoss};
use actix_web::{HttpResponse, get, post, web};
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
    params(("id" = ShipmentId, Path, description = "Shipment id")),
    request_body = RecordLoss,
    responses(
        (status = 201, body = LossAct),
        (status = 403, description = "Kaspi holds the document: its loss is Kaspi's to report (`role_forbidden`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not in a state a document can be lost in (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // loss::record_state_loss: NotFound find_scoped; InvalidTransition shipment::apply(Lost) Refusal::NotInState (RoleForbidden for Kaspi-held states excluded)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition]))),
)]
#[post("/api/v1/shipments/{id}/loss")]
async fn record_loss(
    auth: Authorized<StateStaff>,
    state: web::Data<AppState>,
    id: ApiPath<ShipmentId>,
    body: ApiJson<RecordLoss>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let report = StateLoss {
        cause: body.cause,
        circumstances: body.circumstances,
        responsible_employee: body.responsible_employee,
    };
    let act = state
        .act(&auth.principal, move |conn, ctx| {
            let act = loss::record_state_loss(conn, id, report, ctx)?;
            found(loss_act::find_scoped(conn, act, &ctx.scope)?, act)
        })
        .await?;
    Ok(HttpResponse::Created().json(LossAct::from(act)))
}

/// The branch's loss acts, newest first, a page at a time.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = LossActPage),
        (status = 400, description = "A limit out of range or a cursor this list did not give out (`invalid_query`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // loss_act::list (limit/cursor errors are InvalidQuery)
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/loss-acts")]
async fn list_acts(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    page: ApiQuery<PageQuery>,
) -> ApiResult<web::Json<LossActPage>> {
    let page = page.into_inner()?.into_inner();
    let limit = page.limit().map_err(ApiError::invalid_query)?;
    let before: Option<LossActId> = page.cursor().map_err(ApiError::invalid_query)?;
    let scope = auth.scope().clone();
    let mut acts = state
        .db(move |conn| Ok(loss_act::list(conn, &scope, before, limit + 1)?))
        .await?;
    let next_cursor = views::next_page(&mut acts, limit, |(row, _, _)| row.id.to_string());
    Ok(web::Json(LossActPage {
        items: acts.into_iter().map(LossAct::from).collect(),
        next_cursor,
    }))
}

fn found<T>(act: Option<T>, id: LossActId) -> ApiResult<T> {
    crate::api::found(act, || format!("loss act {id}"))
}

/// One loss act.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = LossActId, Path, description = "Loss act id")),
    responses(
        (status = 200, body = LossAct),
        (status = 404, description = "No such act in your branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // found(loss_act::find_scoped)
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/loss-acts/{id}")]
async fn get_act(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    id: ApiPath<LossActId>,
) -> ApiResult<web::Json<LossAct>> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let act = state
        .db(move |conn| Ok(loss_act::find_scoped(conn, id, &scope)?))
        .await?;
    Ok(web::Json(found(act, id)?.into()))
}

/// Draw the act in two copies (п.24): it gets the branch's next loss-act number and its
/// second copy is sent to the registry office.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = LossActId, Path, description = "Loss act id")),
    responses(
        (status = 200, body = LossAct),
        (status = 409, description = "Already drawn (`already_exists`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // loss::draw_act: NotFound loss_act::find_scoped None; AlreadyExists Reason::AlreadyExists (already drawn)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::AlreadyExists]))),
)]
#[post("/api/v1/loss-acts/{id}/draw")]
async fn draw_act(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    id: ApiPath<LossActId>,
) -> ApiResult<web::Json<LossAct>> {
    let id = id.into_inner()?.into_inner();
    let act = state
        .act(&auth.principal, move |conn, ctx| {
            Ok(loss::draw_act(conn, id, ctx)?)
        })
        .await?;
    let act = LossAct::from(act);
    tracing::info!(act = ?act.number, "loss act drawn");
    Ok(web::Json(act))
}

/// The act as a printable page holding both copies (п.24), in Kazakh and Russian.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = LossActId, Path, description = "Loss act id")),
    responses(
        (status = 200, description = "Printable page with both copies", body = String, content_type = "text/html"),
        (status = 409, description = "Not drawn yet (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // NotFound found(loss_act::find_scoped); InvalidTransition ApiError::new (not drawn yet)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition]))),
)]
#[get("/api/v1/loss-acts/{id}/print")]
async fn print_act(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    id: ApiPath<LossActId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let act_and_branch = state
        .db(move |conn| {
            let Some(act) = loss_act::find_scoped(conn, id, &scope)? else {
                return Ok(None);
            };
            let branch = branch::get(conn, act.0.branch_id)?;
            Ok(Some((LossAct::from(act), branch)))
        })
        .await?;
    let (act, branch) = found(act_and_branch, id)?;
    let (Some(number), Some(drawn_at)) = (act.number.clone(), act.drawn_at) else {
        return Err(ApiError::new(
            crate::api::error::ErrorCode::Refused(Reason::InvalidTransition),
            "draw the act before printing it",
        ));
    };
    let page = printed::loss_act(&act, &number, drawn_at, &branch);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_SECURITY_POLICY,
            printed::content_security_policy(),
        ))
        .body(page))
}
