//! Registries (п.13, 16, 17, 32, 33): drafted and sealed by the accumulation sector, printed,
//! and signed for by the State courier.

use crate::api::AppState;
use crate::api::auth::{AccumulationClerks, Authorized, BranchStaff, Couriers};
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, Bounds};
use crate::api::printed;
use crate::db::models::registry;
use crate::domain::identifiers::ApplicationNumber;
use crate::domain::ids::{RegistryId, ShipmentId};
use crate::domain::reference::Text;
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::reports::views::{self, PageQuery, Registry, RegistryPage, ShipmentDetail};
use crate::workflows::Reason;
use crate::workflows::registries;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(create_registry)
        .service(list_registries)
        .service(get_registry)
        .service(print_registry)
        .service(add_item)
        .service(remove_item)
        .service(seal_registry)
        .service(hand_over)
        .service(bring_back);
}

fn found<T>(row: Option<T>, id: RegistryId) -> ApiResult<T> {
    crate::api::found(row, || format!("registry {id}"))
}

/// Envelopes put on a registry by the request that drafts it (more are added one by one).
const DRAFT_NUMBERS: Bounds = Bounds {
    field: "application_numbers",
    min: 0,
    max: 500,
};

fn draft_numbers_schema() -> utoipa::openapi::Array {
    DRAFT_NUMBERS.array_of::<ApplicationNumber>()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRegistry {
    /// `kaspi_handoff` (the default: packed envelopes for the Kaspi point, п.13) or
    /// `return_pickup` (documents returned to the Kaspi point, to be taken back, п.32).
    pub kind: Option<RegistryKind>,
    /// Envelopes to put on it straight away (of your branch, in the state the kind needs).
    #[serde(default)]
    #[schema(schema_with = draft_numbers_schema)]
    pub application_numbers: Vec<ApplicationNumber>,
}

/// Draft a registry for the caller's branch: a handoff to Kaspi or a return pickup.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    request_body = CreateRegistry,
    responses(
        (status = 201, body = Registry),
        (status = 409, description = "An envelope is not packed (`invalid_transition`) or already on a registry (`already_in_registry`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // registries::draft -> add: NotFound document_of (no application / no document); InvalidTransition envelope not in item_state; AlreadyInRegistry insert_item UniqueViolation (own_branch cannot fail for AccumulationClerks)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition, Reason::AlreadyInRegistry]))),
)]
#[post("/api/v1/registries")]
async fn create_registry(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    body: ApiJson<CreateRegistry>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    DRAFT_NUMBERS.check(body.application_numbers.len())?;
    let branch_id = auth.own_branch()?;
    let view = state
        .act(&auth.principal, move |conn, ctx| {
            let kind = body.kind.unwrap_or(RegistryKind::KaspiHandoff);
            let numbers = &body.application_numbers;
            let row = registries::draft(conn, kind, branch_id, numbers, ctx)?;
            Ok(views::registry(conn, row)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegistryFilter {
    /// Only registries in this state.
    #[param(inline)]
    pub state: Option<RegistryState>,
    /// How many (1 to 200; 50 when omitted).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The branch's registries, newest first, a page at a time.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(RegistryFilter),
    responses(
        (status = 200, body = RegistryPage),
        (status = 400, description = "A limit out of range or a cursor this list did not give out (`invalid_query`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // registry::list (limit/cursor errors are InvalidQuery)
    extensions(("x-problem-codes" = json!([]))),
)]
#[get("/api/v1/registries")]
async fn list_registries(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    filter: ApiQuery<RegistryFilter>,
) -> ApiResult<web::Json<RegistryPage>> {
    let filter = filter.into_inner()?.into_inner();
    let page = PageQuery {
        limit: filter.limit,
        cursor: filter.cursor,
    };
    let limit = page.limit().map_err(ApiError::invalid_query)?;
    let before: Option<RegistryId> = page.cursor().map_err(ApiError::invalid_query)?;
    let scope = auth.scope().clone();
    let page = state
        .db(move |conn| {
            let mut rows = registry::list(conn, &scope, filter.state, before, limit + 1)?;
            let next_cursor = views::next_page(&mut rows, limit, |r| r.id.to_string());
            let items = rows
                .into_iter()
                .map(|row| views::registry(conn, row))
                .collect::<diesel::QueryResult<_>>()?;
            Ok(RegistryPage { items, next_cursor })
        })
        .await?;
    Ok(web::Json(page))
}

/// One registry with its envelopes.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = RegistryId, Path, description = "Registry id")),
    responses(
        (status = 200, body = Registry),
        (status = 404, description = "No such registry in your branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // found(registry::find_scoped)
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/registries/{id}")]
async fn get_registry(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    id: ApiPath<RegistryId>,
) -> ApiResult<web::Json<Registry>> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    Ok(web::Json(
        state
            .db(move |conn| {
                let row = found(registry::find_scoped(conn, id, &scope)?, id)?;
                Ok(views::registry(conn, row)?)
            })
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    pub application_number: ApplicationNumber,
}

/// Put a packed envelope on a draft registry. Two clerks adding the same envelope to two
/// drafts: one wins, the other gets 409 `already_in_registry`.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = RegistryId, Path, description = "Registry id")),
    request_body = AddItem,
    responses(
        (status = 200, body = Registry),
        (status = 409, description = "Sealed (`registry_sealed`), already on a registry (`already_in_registry`) or not packed (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // registries::add_item: NotFound find / document_of / other branch; RegistrySealed claim_draft; InvalidTransition not in item_state; AlreadyInRegistry insert_item UniqueViolation
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::RegistrySealed, Reason::InvalidTransition, Reason::AlreadyInRegistry]))),
)]
#[post("/api/v1/registries/{id}/items")]
async fn add_item(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    id: ApiPath<RegistryId>,
    body: ApiJson<AddItem>,
) -> ApiResult<web::Json<Registry>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    Ok(web::Json(
        state
            .act(&auth.principal, move |conn, ctx| {
                let number = &body.application_number;
                let row = registries::add_item(conn, id, number, ctx)?;
                Ok(views::registry(conn, row)?)
            })
            .await?,
    ))
}

/// Take an envelope off a draft registry.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(
        ("id" = RegistryId, Path, description = "Registry id"),
        ("shipment_id" = ShipmentId, Path, description = "Shipment id"),
    ),
    responses(
        (status = 200, body = Registry),
        (status = 409, description = "Sealed (`registry_sealed`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // registries::remove_item: NotFound find / delete_item false; RegistrySealed claim_draft
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::RegistrySealed]))),
)]
#[delete("/api/v1/registries/{id}/items/{shipment_id}")]
async fn remove_item(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    path: ApiPath<(RegistryId, ShipmentId)>,
) -> ApiResult<web::Json<Registry>> {
    let (id, shipment_id) = path.into_inner()?.into_inner();
    Ok(web::Json(
        state
            .act(&auth.principal, move |conn, ctx| {
                let row = registries::remove_item(conn, id, shipment_id, ctx)?;
                Ok(views::registry(conn, row)?)
            })
            .await?,
    ))
}

/// Seal a draft: it gets the next number of its branch and year and never changes again.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = RegistryId, Path, description = "Registry id")),
    responses(
        (status = 200, body = Registry),
        (status = 409, description = "Already sealed (`registry_sealed`) or an envelope no longer packed (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty (`validation_failed`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // registries::seal: NotFound find; RegistrySealed sealed(); ValidationFailed empty; InvalidTransition item state / apply Refusal; CalendarUnavailable apply(AddedToReturnRegistry) -> start_deadlines(ReturnPickup)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::RegistrySealed, Reason::ValidationFailed, Reason::InvalidTransition, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/registries/{id}/seal")]
async fn seal_registry(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    id: ApiPath<RegistryId>,
) -> ApiResult<web::Json<Registry>> {
    let id = id.into_inner()?.into_inner();
    let view = state
        .act(&auth.principal, move |conn, ctx| {
            let row = registries::seal(conn, id, ctx)?;
            Ok(views::registry(conn, row)?)
        })
        .await?;
    tracing::info!(registry = ?view.number, items = view.items.len(), "registry sealed");
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOver {
    /// The State courier who signs for the envelopes.
    pub courier_name: Text,
}

/// The State courier signs for a sealed registry (п.17): every envelope on it is handed to
/// the courier and its handoff deadline met (or met late).
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = RegistryId, Path, description = "Registry id")),
    request_body = HandOver,
    responses(
        (status = 200, body = Registry),
        (status = 409, description = "Not sealed, or already handed over (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // registries::hand_over: NotFound find; InvalidTransition not sealed / apply Refusal; CalendarUnavailable replay_waiting -> kaspi_events::process -> apply(AcceptedAtKaspiPoint) -> start_deadlines(PointWait) (own_branch cannot fail for Couriers)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/registries/{id}/handover")]
async fn hand_over(
    auth: Authorized<Couriers>,
    state: web::Data<AppState>,
    id: ApiPath<RegistryId>,
    body: ApiJson<HandOver>,
) -> ApiResult<web::Json<Registry>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    auth.own_branch()?;
    let view = state
        .act(&auth.principal, move |conn, ctx| {
            let courier = body.courier_name.as_str();
            let row = registries::hand_over(conn, id, courier, ctx)?;
            Ok(views::registry(conn, row)?)
        })
        .await?;
    tracing::info!(registry = ?view.number, items = view.items.len(), "registry handed over");
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BringBack {
    /// Why it came back, e.g. "not accepted at the Kaspi point: the seal was broken".
    pub reason: Text,
}

/// The State courier brings back an envelope the Kaspi point did not accept (п.18) or that
/// could not be delivered: it is `packed` again, for a new registry. The registry it was on
/// stays as signed, its line marked withdrawn; a "not accepted" discrepancy of the envelope is
/// settled by this and stays on record. Its deadlines run on until a point accepts it.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = ShipmentId, Path, description = "Shipment id")),
    request_body = BringBack,
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 404, description = "No such shipment in your branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not with the State courier (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // registries::bring_back: NotFound find_scoped; InvalidTransition apply(BroughtBack) Refusal (own_branch cannot fail for Couriers)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition]))),
)]
#[post("/api/v1/shipments/{id}/bring-back")]
async fn bring_back(
    auth: Authorized<Couriers>,
    state: web::Data<AppState>,
    id: ApiPath<ShipmentId>,
    body: ApiJson<BringBack>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    auth.own_branch()?;
    let disclosure = auth.disclosure();
    let view = state
        .act(&auth.principal, move |conn, ctx| {
            let row = registries::bring_back(conn, id, body.reason.as_str(), ctx)?;
            views::shipment(conn, row.id, &ctx.scope, disclosure)?
                .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))
        })
        .await?;
    Ok(web::Json(view))
}

/// The registry as a printable page in Kazakh and Russian, with a barcode per waybill and both
/// signature lines.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = RegistryId, Path, description = "Registry id")),
    responses(
        (status = 200, description = "Printable page", body = String, content_type = "text/html"),
        (status = 404, description = "No such registry in your branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // found(registry::find_scoped)
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/registries/{id}/print")]
async fn print_registry(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    id: ApiPath<RegistryId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let page = state
        .db(move |conn| found(printed::registry_page(conn, id, &scope)?, id))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_SECURITY_POLICY,
            printed::content_security_policy(),
        ))
        .body(page))
}
