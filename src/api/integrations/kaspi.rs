//! Kaspi: applications chosen for delivery (п.3–4) and delivery orders (п.8–10).

use super::once;
use crate::api::AppState;
use crate::api::auth::{Authorized, KaspiIntegration};
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::extract::ApiJson;
use crate::api::extract::ApiPath;
use crate::db::DbConnection;
use crate::db::models::application::ApplicationRow;
use crate::db::models::integration_event::fingerprint;
use crate::db::models::{application, branch, shipment};
use crate::domain::application::DeliveryChangeReason;
use crate::domain::calendar::supported_instant;
use crate::domain::identifiers::{ApplicationNumber, ExternalId, Iin, Phone, Waybill};
use crate::domain::ids::ShipmentId;
use crate::domain::notification::Language;
use crate::domain::reference::{BranchCode, KaspiPostamatId, Text};
use crate::domain::shipment::DeliveryMethod;
use crate::reports::views::{self, ApplicationView, DeadlineView, KaspiTrack};
use crate::workflows::Reason;
use crate::workflows::WorkflowResult;
use crate::workflows::delivery;
use crate::workflows::inbox::Inbound;
use crate::workflows::kaspi_order::{self, KaspiOrder};
use crate::workflows::register::{self, NewApplication};
use crate::workflows::{Actor, EventContext, Source};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(register_application)
        .service(change_postamat)
        .service(reroute_to_con_by_kaspi)
        .service(order_created)
        .service(track_application)
        .service(track_waybill);
}

/// Where the documents of an application stand (issue 23): state, the deadlines that concern
/// the citizen, and the timeline without staff names or IINs. Kaspi registers every
/// application of the pilot, so any application number is Kaspi's own; branch-blind.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    params(("number" = ApplicationNumber, Path, description = "Application number")),
    responses(
        (status = 200, body = KaspiTrack),
        (status = 404, description = "No such application (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // found application::find_by_number
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/integrations/kaspi/applications/{number}")]
async fn track_application(
    _auth: Authorized<KaspiIntegration>,
    state: web::Data<AppState>,
    number: ApiPath<ApplicationNumber>,
) -> ApiResult<web::Json<KaspiTrack>> {
    let number = number.into_inner()?.into_inner();
    let track = state
        .db(move |conn| {
            let row = application::find_by_number(conn, number.as_str())?
                .ok_or_else(|| ApiError::not_found(format!("application {number} not found")))?;
            Ok(views::kaspi_track(conn, row)?)
        })
        .await?;
    Ok(web::Json(track))
}

/// [`track_application`] by the waybill of one of its documents.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    params(("waybill" = Waybill, Path, description = "Kaspi waybill of a document")),
    responses(
        (status = 200, body = KaspiTrack),
        (status = 404, description = "No document with this waybill (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // found shipment::find_by_waybill
    extensions(("x-problem-codes" = json!([Reason::NotFound]))),
)]
#[get("/api/v1/integrations/kaspi/waybills/{waybill}")]
async fn track_waybill(
    _auth: Authorized<KaspiIntegration>,
    state: web::Data<AppState>,
    waybill: ApiPath<Waybill>,
) -> ApiResult<web::Json<KaspiTrack>> {
    let waybill = waybill.into_inner()?.into_inner();
    let track = state
        .db(move |conn| {
            let loaded = shipment::find_by_waybill(conn, waybill.as_str())?
                .ok_or_else(|| ApiError::not_found(format!("waybill {waybill} not found")))?;
            Ok(views::kaspi_track(conn, loaded.application)?)
        })
        .await?;
    Ok(web::Json(track))
}

/// A citizen's application as submitted in the Kaspi app (п.3–4).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterApplication {
    /// The State Corporation application number ("ID ЦОН").
    pub application_number: ApplicationNumber,
    /// The applicant's IIN; its check digit is verified.
    pub applicant_iin: Iin,
    #[schema(example = "Айгерім Сериkқызы Нұрланова")]
    pub applicant_name: Text,
    /// A Kazakhstan mobile number in any usual form; stored as +77XXXXXXXXX.
    pub phone: Phone,
    /// The language of the citizen's messages.
    pub language: Language,
    pub delivery_method: DeliveryMethod,
    /// Kaspi's id of the chosen postamat; required for postamat delivery, absent otherwise.
    pub postamat_id: Option<KaspiPostamatId>,
    /// The registry office (РАГС) executing the application.
    pub registry_office_code: ExternalId,
    /// The responsible State Corporation branch.
    pub branch: BranchCode,
    /// When the citizen submitted it.
    pub submitted_at: DateTime<Utc>,
}

/// Register an application chosen for postamat or ЦОН delivery. The same payload again returns
/// the stored application (200); different data under the same number is refused (409).
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = RegisterApplication,
    responses(
        (status = 201, description = "Registered", body = ApplicationView),
        (status = 200, description = "Already registered with the same data", body = ApplicationView),
        (status = 409, description = "Registered before with other data (`application_conflict`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_postamat`, `postamat_not_in_city`, `outside_pilot_window`, or a rule (`validation_failed`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // register::register/insert: ValidationFailed (submitted_at in future, unknown branch, postamat_id vs method); UnknownPostamat; PostamatNotInCity; OutsidePilotWindow; ApplicationConflict (payload_hash differs)
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::UnknownPostamat, Reason::PostamatNotInCity, Reason::OutsidePilotWindow, Reason::ApplicationConflict]))),
)]
#[post("/api/v1/integrations/kaspi/applications")]
async fn register_application(
    auth: Authorized<KaspiIntegration>,
    state: web::Data<AppState>,
    body: ApiJson<RegisterApplication>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    supported_instant(body.submitted_at, "submitted_at")?;
    let new = NewApplication {
        payload_hash: fingerprint(&body),
        number: body.application_number,
        applicant_iin: body.applicant_iin,
        applicant_name: body.applicant_name,
        phone: body.phone,
        language: body.language,
        delivery_method: body.delivery_method,
        postamat: body.postamat_id,
        registry_office_code: body.registry_office_code,
        branch: body.branch,
        submitted_at: body.submitted_at,
    };
    let pilot = state.pilot;
    let disclosure = auth.disclosure();
    let (created, view) = state
        .act(&auth.principal, move |conn, ctx| {
            let ctx = EventContext {
                source: Source::Kaspi,
                ..ctx.clone()
            };
            let registered = register::register(conn, &new, pilot, &ctx)?;
            let view = views::application(conn, registered.application, disclosure)?;
            Ok((registered.created, view))
        })
        .await?;
    if created {
        tracing::info!(application_id = %view.id, method = view.delivery_method.as_str(), "application registered");
        Ok(HttpResponse::Created().json(view))
    } else {
        Ok(HttpResponse::Ok().json(view))
    }
}

/// Kaspi's delivery order for an executed application (п.8–9).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderCreated {
    /// Kaspi's id of this event: a repeat changes nothing.
    pub event_id: ExternalId,
    pub application_number: ApplicationNumber,
    pub kaspi_order_id: ExternalId,
    /// The waybill the envelope will be labelled with (п.16).
    pub waybill: Waybill,
    /// When the order was created: the 13:00-next-working-day arrival deadline counts from it
    /// (п.10).
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderRecorded {
    pub application_number: String,
    pub shipment_id: ShipmentId,
    pub kaspi_order_id: String,
    pub waybill: String,
    pub deadlines: Vec<DeadlineView>,
}

/// Record Kaspi's delivery order: stores the order id and waybill and starts the
/// `kaspi_arrival` deadline (13:00 next working day, п.10).
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = OrderCreated,
    responses(
        (status = 200, body = OrderRecorded),
        (status = 404, description = "Unknown application (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not executed yet or not a postamat delivery (`invalid_transition`), another order already (`order_conflict`), or the event id reused (`event_id_reused`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed supported_instant(occurred_at); kaspi_order::record_order: NotFound application; InvalidTransition no original / apply Refusal (state, ЦОН route); OrderConflict; OrderConflict also order_held_by_another (waybill/order id of another shipment); AlreadyExists shipment::save_change UniqueViolation only when two such orders race; CalendarUnavailable start_deadlines(KaspiArrival) or replay_waiting; EventIdReused inbox::once
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::NotFound, Reason::InvalidTransition, Reason::OrderConflict, Reason::AlreadyExists, ErrorCode::CalendarUnavailable, Reason::EventIdReused]))),
)]
#[post("/api/v1/integrations/kaspi/orders")]
async fn order_created(
    auth: Authorized<KaspiIntegration>,
    state: web::Data<AppState>,
    body: ApiJson<OrderCreated>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    supported_instant(body.occurred_at, "occurred_at")?;
    let key = Inbound {
        source: Source::Kaspi,
        event_id: body.event_id.to_string(),
        kind: "order_created",
        application_number: body.application_number.to_string(),
        payload_hash: fingerprint(&body),
    };
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = Actor::from(&auth.principal);
    once(&state, key, move |conn| {
        let ctx = EventContext::reported(
            actor.clone(),
            Source::Kaspi,
            body.event_id.as_str(),
            body.occurred_at,
            now,
            &snapshot,
        );
        let order = KaspiOrder {
            application_number: body.application_number.to_string(),
            order_id: body.kaspi_order_id.clone(),
            waybill: body.waybill.clone(),
        };
        let shipment = kaspi_order::record_order(conn, &order, &ctx)?;
        let zone = branch::time_zone(conn, shipment.branch_id)?;
        let recorded = OrderRecorded {
            application_number: body.application_number.to_string(),
            shipment_id: shipment.id,
            kaspi_order_id: body.kaspi_order_id.to_string(),
            waybill: body.waybill.to_string(),
            deadlines: views::deadlines(conn, shipment.id, zone)?,
        };
        Ok(recorded)
    })
    .await
}

/// Kaspi reports that a citizen's document goes to another postamat (issue 23).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostamatChange {
    /// Kaspi's id of this event: a repeat changes nothing.
    pub event_id: ExternalId,
    /// When the citizen chose it, or Kaspi took the old postamat out of service.
    pub occurred_at: DateTime<Utc>,
    /// The new postamat: in the city of the application's branch (п.4).
    pub postamat_id: KaspiPostamatId,
    pub reason: DeliveryChangeReason,
}

/// A new postamat for an application's document, any time before it is placed (issue 23): the
/// citizen chose another in the app, or the chosen one is out of service. It must be in the
/// city of the application's branch (п.4). Deadlines run on (none depends on the postamat); the
/// placement message (п.28) names the new postamat, and a citizen whose document exists is told
/// of the change in the app.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    params(("number" = ApplicationNumber, Path, description = "Application number")),
    request_body = PostamatChange,
    responses(
        (status = 200, body = ApplicationView),
        (status = 404, description = "Unknown application (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already placed, delivered at the ЦОН, refused or cancelled (`invalid_transition`), or the event id reused (`event_id_reused`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_postamat`, `postamat_not_in_city`, or a date out of range (`validation_failed`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed supported_instant(occurred_at); delivery::change_postamat: NotFound application; InvalidTransition status/method/apply Refusal (placed); UnknownPostamat; PostamatNotInCity; EventIdReused inbox::once
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::NotFound, Reason::InvalidTransition, Reason::UnknownPostamat, Reason::PostamatNotInCity, Reason::EventIdReused]))),
)]
#[post("/api/v1/integrations/kaspi/applications/{number}/postamat")]
async fn change_postamat(
    auth: Authorized<KaspiIntegration>,
    state: web::Data<AppState>,
    number: ApiPath<ApplicationNumber>,
    body: ApiJson<PostamatChange>,
) -> ApiResult<HttpResponse> {
    let number = number.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let event = (body.event_id.clone(), body.occurred_at);
    let hash = fingerprint(&(number.as_str(), &body));
    delivery_change(
        auth,
        &state,
        number,
        event,
        "postamat_changed",
        hash,
        move |conn, number, ctx| {
            delivery::change_postamat(conn, number, &body.postamat_id, body.reason, ctx)
        },
    )
    .await
}

/// Kaspi reports that a citizen asked in the app for the ЦОН instead of the postamat (issue 23).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConInstead {
    /// Kaspi's id of this event: a repeat changes nothing.
    pub event_id: ExternalId,
    /// When the citizen asked.
    pub occurred_at: DateTime<Utc>,
    pub reason: DeliveryChangeReason,
}

/// The ЦОН instead of the postamat, any time before placement (issue 23, п.3, 14): a document
/// still with the State Corporation goes the ЦОН route; one at Kaspi's point waits there for the
/// return pickup registry (п.32–33); one with Kaspi's courier is to be brought back to the point
/// within 1 working day, as a return (п.30). The citizen is told where to collect it. One with
/// the State courier is refused until it is brought back or accepted at the point.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    params(("number" = ApplicationNumber, Path, description = "Application number")),
    request_body = ConInstead,
    responses(
        (status = 200, body = ApplicationView),
        (status = 404, description = "Unknown application (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already placed, delivered at the ЦОН, with the State courier, refused or cancelled (`invalid_transition`), or the event id reused (`event_id_reused`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed supported_instant(occurred_at); delivery::reroute_to_con: NotFound; InvalidTransition status/method/with the State courier/apply Refusal; CalendarUnavailable start_deadlines(Return); EventIdReused inbox::once
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::NotFound, Reason::InvalidTransition, ErrorCode::CalendarUnavailable, Reason::EventIdReused]))),
)]
#[post("/api/v1/integrations/kaspi/applications/{number}/reroute-to-con")]
async fn reroute_to_con_by_kaspi(
    auth: Authorized<KaspiIntegration>,
    state: web::Data<AppState>,
    number: ApiPath<ApplicationNumber>,
    body: ApiJson<ConInstead>,
) -> ApiResult<HttpResponse> {
    let number = number.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let event = (body.event_id.clone(), body.occurred_at);
    let hash = fingerprint(&(number.as_str(), &body));
    delivery_change(
        auth,
        &state,
        number,
        event,
        "rerouted_to_con",
        hash,
        move |conn, number, ctx| delivery::reroute_to_con(conn, number, body.reason, ctx),
    )
    .await
}

/// A change of a citizen's way of delivery Kaspi reports (issue 23), once per event id: `change`
/// runs the workflow on the application; the answer is the application as it is now.
async fn delivery_change<F>(
    auth: Authorized<KaspiIntegration>,
    state: &AppState,
    number: ApplicationNumber,
    (event_id, occurred_at): (ExternalId, DateTime<Utc>),
    kind: &'static str,
    payload_hash: String,
    mut change: F,
) -> ApiResult<HttpResponse>
where
    F: FnMut(&mut DbConnection, &str, &EventContext<'_>) -> WorkflowResult<ApplicationRow>
        + Send
        + 'static,
{
    supported_instant(occurred_at, "occurred_at")?;
    let key = Inbound {
        source: Source::Kaspi,
        event_id: event_id.to_string(),
        kind,
        application_number: number.to_string(),
        payload_hash,
    };
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = Actor::from(&auth.principal);
    let disclosure = auth.disclosure();
    once(state, key, move |conn| {
        let ctx = EventContext::reported(
            actor.clone(),
            Source::Kaspi,
            event_id.as_str(),
            occurred_at,
            now,
            &snapshot,
        );
        let app = change(conn, number.as_str(), &ctx)?;
        let view = views::application(conn, app, disclosure)?;
        Ok(view)
    })
    .await
}
