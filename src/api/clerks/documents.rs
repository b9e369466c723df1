//! The accumulation and issuance sectors' work on documents: lookup (п.12), intake (п.7, 14),
//! envelope labelling (п.15–16), issue at the ЦОН, transfer after storage (п.35), duplicates
//! (п.26), and reading shipments with their history.

use crate::api::AppState;
use crate::api::auth::{AccumulationClerks, Authorized, BranchStaff, IssuanceClerks};
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, Bounds};
use crate::db::models::application;
use crate::db::models::shipment::{self as shipments, ShipmentQuery};
use crate::domain::application::DeliveryChangeReason;
use crate::domain::calendar::supported_instant;
use crate::domain::deadline::DeadlineKind;
use crate::domain::identifiers::{ApplicationNumber, Iin, Waybill};
use crate::domain::ids::ShipmentId;
use crate::domain::reference::Text;
use crate::domain::shipment::{DeliveryMethod, ShipmentKind, ShipmentState};
use crate::reports::views::{self, ApplicationView, ShipmentDetail};
use crate::workflows::Reason;
use crate::workflows::intake::take_in_all;
use crate::workflows::issuance::{self, Receiver, Transfer};
use crate::workflows::{delivery, duplicate, label};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(lookup_application)
        .service(intake)
        .service(list_shipments)
        .service(get_shipment)
        .service(label_envelope)
        .service(issue_document)
        .service(transfer_after_storage)
        .service(request_duplicate)
        .service(reroute_to_con);
}

/// Look up an application by its number (п.12): delivery method, chosen postamat, where the
/// document is and what is due. Another branch's application is not found.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("number" = ApplicationNumber, Path, description = "Application number")),
    responses(
        (status = 200, body = ApplicationView),
        (status = 404, description = "No such application in your branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // application::find_scoped None
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/applications/{number}")]
async fn lookup_application(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    number: ApiPath<ApplicationNumber>,
) -> ApiResult<web::Json<ApplicationView>> {
    let number = number.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let disclosure = auth.disclosure();
    let view = state
        .db(move |conn| {
            let row = application::find_scoped(conn, number.as_str(), &scope)?
                .ok_or_else(|| ApiError::not_found(format!("application {number} not found")))?;
            Ok(views::application(conn, row, disclosure)?)
        })
        .await?;
    Ok(web::Json(view))
}

/// Documents taken in by one request.
const INTAKE_NUMBERS: Bounds = Bounds {
    field: "application_numbers",
    min: 1,
    max: 500,
};

fn intake_numbers_schema() -> utoipa::openapi::Array {
    INTAKE_NUMBERS.array_of::<ApplicationNumber>()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeRequest {
    /// The application numbers scanned from the documents received (one or many).
    #[schema(schema_with = intake_numbers_schema)]
    pub application_numbers: Vec<ApplicationNumber>,
    /// The registry office's registry the documents came with; required for ЦОН-route
    /// documents, which go straight on to the issuance sector with it (п.14).
    pub registry_office_registry: Option<Text>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntakeOutcome {
    TakenIn,
    Refused,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeItem {
    pub application_number: String,
    pub outcome: IntakeOutcome,
    pub shipment_id: Option<ShipmentId>,
    /// Where the document is now.
    pub state: Option<ShipmentState>,
    /// Why it was refused: a problem code.
    pub code: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeResult {
    pub taken_in: usize,
    pub refused: usize,
    pub items: Vec<IntakeItem>,
}

/// Take in executed documents received from the registry office (п.7). Each is reported on
/// its own: the ones that cannot be taken in do not stop the rest.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    request_body = IntakeRequest,
    responses((status = 200, body = IntakeResult)),
    // ValidationFailed: ApiError::validation (1..500 numbers); CalendarUnavailable: take_in_all -> take_in -> shipment::apply -> start_deadlines(Handoff) is_ours, fails the whole call (per-item NotFound/InvalidTransition/ValidationFailed are in the 200 body; own_branch cannot fail for AccumulationClerks)
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/intake")]
async fn intake(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    body: ApiJson<IntakeRequest>,
) -> ApiResult<web::Json<IntakeResult>> {
    let body = body.into_inner()?;
    INTAKE_NUMBERS.check(body.application_numbers.len())?;
    // Intake is done by a branch's own staff; the scope then holds exactly that branch.
    auth.own_branch()?;
    let _scope = auth.scope().clone();
    let numbers = body.application_numbers.clone();
    let outcomes = state
        .act(&auth.principal, move |conn, ctx| {
            let registry = body.registry_office_registry.as_ref();
            Ok(take_in_all(conn, &body.application_numbers, registry, ctx)?)
        })
        .await?;
    let items: Vec<IntakeItem> = numbers
        .iter()
        .zip(outcomes)
        .map(|(number, outcome)| match outcome {
            Ok(row) => IntakeItem {
                application_number: number.to_string(),
                outcome: IntakeOutcome::TakenIn,
                shipment_id: Some(row.id),
                state: Some(row.status),
                code: None,
                detail: None,
            },
            Err(refusal) => {
                let refusal = ApiError::from(refusal);
                IntakeItem {
                    application_number: number.to_string(),
                    outcome: IntakeOutcome::Refused,
                    shipment_id: None,
                    state: None,
                    code: Some(refusal.code().as_str().to_owned()),
                    detail: Some(refusal.detail().to_owned()),
                }
            }
        })
        .collect();
    let taken_in = items
        .iter()
        .filter(|i| matches!(i.outcome, IntakeOutcome::TakenIn))
        .count();
    tracing::info!(taken_in, refused = items.len() - taken_in, "intake");
    Ok(web::Json(IntakeResult {
        taken_in,
        refused: items.len() - taken_in,
        items,
    }))
}

/// One shipment with its deadlines and timeline.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = ShipmentId, Path, description = "Shipment id")),
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 404, description = "No such shipment in your branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // views::shipment None
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/shipments/{id}")]
async fn get_shipment(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    id: ApiPath<ShipmentId>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let disclosure = auth.disclosure();
    Ok(web::Json(
        state
            .db(move |conn| {
                views::shipment(conn, id, &scope, disclosure)?
                    .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))
            })
            .await?,
    ))
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShipmentFilter {
    /// Only shipments in this state.
    #[param(inline)]
    pub state: Option<ShipmentState>,
    /// Only shipments with a pending or breached deadline of this kind…
    #[param(inline)]
    pub deadline_kind: Option<DeadlineKind>,
    /// …due before this instant…
    #[param(value_type = Option<String>)]
    pub due_before: Option<DateTime<Utc>>,
    /// …and after this one.
    #[param(value_type = Option<String>)]
    pub due_after: Option<DateTime<Utc>>,
    pub application_number: Option<String>,
    /// How many (1 to 200; 50 when omitted).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// How many to skip (0 when omitted).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A shipment in a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentSummary {
    pub id: ShipmentId,
    pub application_number: String,
    pub kind: ShipmentKind,
    pub delivery_method: DeliveryMethod,
    pub state: ShipmentState,
    pub waybill: Option<String>,
    pub kaspi_order_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentPage {
    pub items: Vec<ShipmentSummary>,
    /// How many match, over all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Shipments of the caller's branch (all branches for national supervisors), filtered and
/// paginated.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(ShipmentFilter),
    responses(
        (status = 200, body = ShipmentPage),
        (status = 400, description = "A limit or offset out of range, or an unknown filter (`invalid_query`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed supported_instant(due_before/due_after); limit/offset out of range are InvalidQuery (PageQuery::limit)
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed]))),
)]
#[get("/api/v1/shipments")]
async fn list_shipments(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    filter: ApiQuery<ShipmentFilter>,
) -> ApiResult<web::Json<ShipmentPage>> {
    let filter = filter.into_inner()?.into_inner();
    let bounded =
        |t: Option<DateTime<Utc>>, what| t.map(|t| supported_instant(t, what)).transpose();
    // Out of range is refused, not silently changed: a client paging with a size it did not
    // get would skip or repeat shipments.
    let limit = crate::reports::views::PageQuery {
        limit: filter.limit,
        cursor: None,
    }
    .limit()
    .map_err(ApiError::invalid_query)?;
    let offset = match filter.offset.unwrap_or(0) {
        n if n >= 0 => n,
        n => {
            return Err(ApiError::invalid_query(format!(
                "offset: 0 or more, got {n}"
            )));
        }
    };
    let query = ShipmentQuery {
        state: filter.state,
        deadline_kind: filter.deadline_kind,
        due_before: bounded(filter.due_before, "due_before")?,
        due_after: bounded(filter.due_after, "due_after")?,
        application_number: filter.application_number,
        limit,
        offset,
    };
    let scope = auth.scope().clone();
    let (limit, offset) = (query.limit, query.offset);
    let (rows, total) = state
        .db(move |conn| Ok(shipments::list(conn, &query, &scope)?))
        .await?;
    let items = rows
        .into_iter()
        .map(|(row, number)| ShipmentSummary {
            id: row.id,
            application_number: number,
            kind: row.kind,
            delivery_method: row.delivery_method,
            state: row.status,
            waybill: row.waybill.map(String::from),
            kaspi_order_id: row.kaspi_order_id,
            updated_at: row.updated_at,
        })
        .collect();
    Ok(web::Json(ShipmentPage {
        items,
        total,
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelRequest {
    /// The waybill scanned from the label stuck on the envelope.
    pub waybill: Waybill,
}

/// Label the envelope (п.15–16): the scanned waybill must be the one of the shipment's Kaspi
/// order. The shipment is then packed.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = ShipmentId, Path, description = "Shipment id")),
    request_body = LabelRequest,
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 409, description = "No Kaspi order yet (`no_kaspi_order`) or not at the accumulation sector (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Another waybill (`waybill_mismatch`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // label::label: NotFound shipment::find_scoped; InvalidTransition domain transition Refusal (state/route); NoKaspiOrder / WaybillMismatch Reason::*
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition, Reason::NoKaspiOrder, Reason::WaybillMismatch]))),
)]
#[post("/api/v1/shipments/{id}/label")]
async fn label_envelope(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    id: ApiPath<ShipmentId>,
    body: ApiJson<LabelRequest>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let disclosure = auth.disclosure();
    let detail = state
        .act(&auth.principal, move |conn, ctx| {
            let row = label::label(conn, id, &body.waybill, ctx)?;
            views::shipment(conn, row.id, &ctx.scope, disclosure)?
                .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))
        })
        .await?;
    Ok(web::Json(detail))
}

/// Who received the document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipient {
    /// The applicant, identified by IIN.
    Applicant { iin: Iin },
    /// A representative with a power of attorney.
    Representative {
        iin: Iin,
        name: Text,
        power_of_attorney: Text,
    },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    pub recipient: Recipient,
}

/// Issue the document at the ЦОН, recording who received it.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = ShipmentId, Path, description = "Shipment id")),
    request_body = IssueRequest,
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 409, description = "Not at the issuance sector (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The IIN is not the applicant's (`recipient_mismatch`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // issuance::issue: NotFound find_scoped; RecipientMismatch Reason::RecipientMismatch; InvalidTransition shipment::apply(Issued) Refusal
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition, Reason::RecipientMismatch]))),
)]
#[post("/api/v1/shipments/{id}/issue")]
async fn issue_document(
    auth: Authorized<IssuanceClerks>,
    state: web::Data<AppState>,
    id: ApiPath<ShipmentId>,
    body: ApiJson<IssueRequest>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let receiver = match body.into_inner()?.recipient {
        Recipient::Applicant { iin } => Receiver::Applicant { iin },
        Recipient::Representative {
            iin,
            name,
            power_of_attorney,
        } => Receiver::Representative {
            iin,
            name,
            power_of_attorney,
        },
    };
    let disclosure = auth.disclosure();
    let detail = state
        .act(&auth.principal, move |conn, ctx| {
            let row = issuance::issue(conn, id, receiver, ctx)?;
            views::shipment(conn, row.id, &ctx.scope, disclosure)?
                .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))
        })
        .await?;
    Ok(web::Json(detail))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// To whom the document was handed for further storage (п.35).
    pub to_whom: Text,
    /// The act or letter recording it.
    pub reference: Text,
}

/// Record the transfer of a document kept a month at the issuance sector (п.35).
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = ShipmentId, Path, description = "Shipment id")),
    request_body = TransferRequest,
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 409, description = "Not at the issuance sector, or its month of storage is not over (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // issuance::transfer: NotFound find_scoped; InvalidTransition transfer_allowed (storage not over) / shipment::apply Refusal
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition]))),
)]
#[post("/api/v1/shipments/{id}/transfer")]
async fn transfer_after_storage(
    auth: Authorized<IssuanceClerks>,
    state: web::Data<AppState>,
    id: ApiPath<ShipmentId>,
    body: ApiJson<TransferRequest>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let transfer = Transfer {
        to_whom: body.to_whom,
        reference: body.reference,
    };
    let disclosure = auth.disclosure();
    let detail = state
        .act(&auth.principal, move |conn, ctx| {
            let row = issuance::transfer(conn, id, &transfer, ctx)?;
            views::shipment(conn, row.id, &ctx.scope, disclosure)?
                .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))
        })
        .await?;
    Ok(web::Json(detail))
}

/// Register a free duplicate of a cancelled application's lost certificate (п.26): a new
/// document on the ЦОН route, due within 3 working days. One open duplicate per application.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("number" = ApplicationNumber, Path, description = "Application number")),
    responses(
        (status = 201, body = ApplicationView),
        (status = 409, description = "Not cancelled (`invalid_transition`) or a duplicate already open (`already_exists`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // duplicate::request_duplicate: NotFound application::find_scoped; InvalidTransition not cancelled; AlreadyExists open duplicate; CalendarUnavailable shipment::create -> start_deadlines(Duplicate, 3 working days)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition, Reason::AlreadyExists, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/applications/{number}/duplicates")]
async fn request_duplicate(
    auth: Authorized<IssuanceClerks>,
    state: web::Data<AppState>,
    number: ApiPath<ApplicationNumber>,
) -> ApiResult<HttpResponse> {
    let number = number.into_inner()?.into_inner();
    let disclosure = auth.disclosure();
    let view = state
        .act(&auth.principal, move |conn, ctx| {
            let app = duplicate::request_duplicate(conn, number.as_str(), ctx)?;
            Ok(views::application(conn, app, disclosure)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerouteToCon {
    /// Why: the citizen asked at the ЦОН, or the chosen postamat is out of service.
    pub reason: DeliveryChangeReason,
}

/// The citizen asked the ЦОН for the certificate there instead of the postamat (issue 23, п.3,
/// 14), any time before it is placed. A document still at the registry office goes the ЦОН
/// route from its intake; one at the accumulation sector goes to the issuance sector at once (a
/// packed envelope is unpacked and leaves a registry not yet signed for); one at the Kaspi point waits there for a return pickup registry (п.32);
/// one with Kaspi's courier is brought back to the point first. Kaspi is asked to stop
/// delivering it, and the citizen is told where to collect it. One with the State courier is
/// brought back first (`POST /shipments/{id}/bring-back`).
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("number" = ApplicationNumber, Path, description = "Application number")),
    request_body = RerouteToCon,
    responses(
        (status = 200, body = ApplicationView),
        (status = 404, description = "No such application in your branch (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already for the ЦОН, placed, with the State courier, or refused or cancelled (`invalid_transition`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // delivery::reroute_to_con: NotFound find_scoped; InvalidTransition status/method/with the State courier/apply Refusal; CalendarUnavailable start_deadlines(Return)
    extensions(("x-problem-codes" = json!([Reason::NotFound, Reason::InvalidTransition, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/applications/{number}/reroute-to-con")]
async fn reroute_to_con(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    number: ApiPath<ApplicationNumber>,
    body: ApiJson<RerouteToCon>,
) -> ApiResult<web::Json<ApplicationView>> {
    let number = number.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let disclosure = auth.disclosure();
    let view = state
        .act(&auth.principal, move |conn, ctx| {
            let app = delivery::reroute_to_con(conn, number.as_str(), body.reason, ctx)?;
            Ok(views::application(conn, app, disclosure)?)
        })
        .await?;
    Ok(web::Json(view))
}
