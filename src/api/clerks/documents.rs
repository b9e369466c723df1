//! The accumulation and issuance sectors' work on documents: lookup (п.12), intake (п.7, 14),
//! envelope labelling (п.15–16), issue at the ЦОН, and reading shipments with their history.

use crate::api::AppState;
use crate::api::auth::{AccumulationClerks, Authorized, BranchStaff, IssuanceClerks};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::db::models::application::{self, ApplicationView, ChosenPostamat};
use crate::db::models::branch::BranchScope;
use crate::db::models::shipment::{
    self, ActorRef, CommandError, DeadlineView, EventContext, ShipmentFilter, ShipmentPage,
    StatusEvent,
};
use crate::db::schema::shipments;
use crate::db::{DbConnection, Id, write_transaction};
use crate::domain::identifiers::{ApplicationNumber, Iin, Waybill};
use crate::domain::reference::Text;
use crate::domain::shipment::{DeliveryMethod, ShipmentEvent, ShipmentState, transition};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::jobs::calendar_refresh::CalendarSnapshot;
use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(lookup_application)
        .service(intake)
        .service(list_shipments)
        .service(get_shipment)
        .service(label_envelope)
        .service(issue_document)
        .service(transfer_after_storage)
        .service(request_duplicate);
}

/// Look up an application by its number (п.12): delivery method, chosen postamat, where the
/// document is and what is due. Another branch's application is not found.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Application number")),
    responses(
        (status = 200, body = ApplicationView),
        (status = 404, description = "No such application in your branch (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/applications/{number}")]
async fn lookup_application(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    number: ApiPath<ApplicationNumber>,
) -> ApiResult<web::Json<ApplicationView>> {
    let number = number.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let view = state
        .db(move |conn| {
            let row = application::find_scoped(conn, number.as_str(), &scope)?
                .ok_or_else(|| ApiError::not_found(format!("application {number} not found")))?;
            Ok(application::view(conn, row)?)
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeRequest {
    /// The application numbers scanned from the documents received (one or many).
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
    pub shipment_id: Option<Id>,
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

/// Takes one document in, inside its own savepoint so that a refusal leaves the others be.
fn take_in(
    conn: &mut DbConnection,
    number: &ApplicationNumber,
    scope: &BranchScope,
    registry_ref: Option<&Text>,
    ctx: &EventContext<'_>,
) -> Result<(Id, ShipmentState), ApiError> {
    // Another branch's application is "not found", as everywhere else.
    let app = application::find_scoped(conn, number.as_str(), scope)?
        .ok_or_else(|| ApiError::not_found(format!("application {number} not found")))?;
    // The latest document of the application: the original, or a duplicate after a loss.
    let original = shipment::of_application(conn, app.id)?
        .pop()
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidTransition,
                format!(
                    "application {number} is '{}': the registry office has not executed it",
                    app.status
                ),
            )
        })?;
    let method = original.method()?;
    if method == DeliveryMethod::Con && registry_ref.is_none() {
        return Err(ApiError::validation(format!(
            "application {number} is for the ЦОН route: give registry_office_registry (п.14)"
        )));
    }
    let (taken, _) = shipment::apply_event(conn, &original, ShipmentEvent::Intake, ctx, None)?;
    if method == DeliveryMethod::Postamat {
        return Ok((taken.id, taken.state()?));
    }
    // п.14: the ЦОН route goes on to the issuance sector with the registry office's registry.
    let details = serde_json::json!({ "registry_office_registry": registry_ref.map(Text::as_str) });
    let (routed, _) = shipment::apply_event(
        conn,
        &taken,
        ShipmentEvent::RouteToIssuance,
        ctx,
        Some(details),
    )?;
    diesel::update(shipments::table.find(routed.id))
        .set(shipments::registry_office_registry.eq(registry_ref.map(Text::as_str)))
        .execute(conn)?;
    Ok((routed.id, routed.state()?))
}

/// Take in executed documents received from the registry office (п.7). Each is reported on
/// its own: the ones that cannot be taken in do not stop the rest.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    request_body = IntakeRequest,
    responses((status = 200, body = IntakeResult))
)]
#[post("/api/v1/intake")]
async fn intake(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    body: ApiJson<IntakeRequest>,
) -> ApiResult<web::Json<IntakeResult>> {
    let body = body.into_inner()?;
    if body.application_numbers.is_empty() || body.application_numbers.len() > 500 {
        return Err(ApiError::validation("give 1 to 500 application numbers"));
    }
    // Intake is done by a branch's own staff; the scope then holds exactly that branch.
    auth.own_branch()?;
    let scope = auth.scope().clone();
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    let items = state
        .db(move |conn| {
            let ctx = clerk_context(actor, now, &snapshot);
            let mut items = Vec::with_capacity(body.application_numbers.len());
            write_transaction(conn, |conn| {
                for number in &body.application_numbers {
                    let outcome = conn.transaction(|conn| {
                        take_in(
                            conn,
                            number,
                            &scope,
                            body.registry_office_registry.as_ref(),
                            &ctx,
                        )
                    });
                    items.push(match outcome {
                        Ok((id, state)) => IntakeItem {
                            application_number: number.to_string(),
                            outcome: IntakeOutcome::TakenIn,
                            shipment_id: Some(id),
                            state: Some(state),
                            code: None,
                            detail: None,
                        },
                        Err(e)
                            if e.code() == ErrorCode::Internal
                                || e.code() == ErrorCode::DatabaseUnavailable =>
                        {
                            return Err(e);
                        }
                        Err(e) => IntakeItem {
                            application_number: number.to_string(),
                            outcome: IntakeOutcome::Refused,
                            shipment_id: None,
                            state: None,
                            code: Some(e.code().as_str().to_owned()),
                            detail: Some(e.detail().to_owned()),
                        },
                    });
                }
                Ok::<_, ApiError>(())
            })?;
            Ok(items)
        })
        .await?;
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

/// The context of an action a person does now through the API.
pub fn clerk_context(
    actor: ActorRef,
    now: DateTime<Utc>,
    calendar: &CalendarSnapshot,
) -> EventContext<'_> {
    EventContext {
        actor,
        source: "api",
        external_event_id: None,
        occurred_at: now,
        recorded_at: now,
        calendar,
    }
}

/// A shipment with its application, deadlines and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentDetail {
    pub id: Id,
    pub application_number: String,
    pub kind: String,
    pub delivery_method: DeliveryMethod,
    pub state: ShipmentState,
    pub version: i32,
    pub kaspi_order_id: Option<String>,
    pub waybill: Option<String>,
    pub postamat: Option<ChosenPostamat>,
    pub registry_office_registry: Option<String>,
    /// `applicant` or `representative`, once issued.
    pub issued_to: Option<String>,
    pub recipient_name: Option<String>,
    pub power_of_attorney: Option<String>,
    pub deadlines: Vec<DeadlineView>,
    pub timeline: Vec<StatusEvent>,
}

fn detail(conn: &mut DbConnection, id: Id) -> ApiResult<ShipmentDetail> {
    let row = shipment::find(conn, id)?
        .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))?;
    let app = application::find(conn, row.application_id)?;
    Ok(ShipmentDetail {
        id: row.id,
        application_number: app.number,
        kind: row.kind.clone(),
        delivery_method: row.method()?,
        state: row.state()?,
        version: row.version,
        kaspi_order_id: row.kaspi_order_id.clone(),
        waybill: row.waybill.clone(),
        postamat: application::chosen_postamat(conn, app.postamat_id)?,
        registry_office_registry: row.registry_office_registry.clone(),
        issued_to: row.issued_to.clone(),
        recipient_name: row.recipient_name.clone(),
        power_of_attorney: row.power_of_attorney.clone(),
        deadlines: shipment::deadlines_of(conn, row.id)?,
        timeline: shipment::timeline(conn, row.id)?,
    })
}

/// One shipment with its deadlines and timeline.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = Id, Path, description = "Shipment id")),
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 404, description = "No such shipment in your branch (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/shipments/{id}")]
async fn get_shipment(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    Ok(web::Json(
        state
            .db(move |conn| {
                shipment::find_scoped(conn, id, &scope)?
                    .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))?;
                detail(conn, id)
            })
            .await?,
    ))
}

/// Shipments of the caller's branch (all branches for national supervisors), filtered and
/// paginated.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(ShipmentFilter),
    responses((status = 200, body = ShipmentPage))
)]
#[get("/api/v1/shipments")]
async fn list_shipments(
    auth: Authorized<BranchStaff>,
    state: web::Data<AppState>,
    filter: ApiQuery<ShipmentFilter>,
) -> ApiResult<web::Json<ShipmentPage>> {
    let filter = filter.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    Ok(web::Json(
        state
            .db(move |conn| Ok(shipment::list(conn, &filter, &scope)?))
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelRequest {
    /// The waybill scanned from the label stuck on the envelope.
    pub waybill: Waybill,
}

/// Runs one clerk action on one shipment of the caller's branch in a transaction and returns
/// the shipment as it is afterwards.
async fn on_shipment<F>(
    state: &AppState,
    auth_scope: BranchScope,
    id: Id,
    action: F,
) -> ApiResult<ShipmentDetail>
where
    F: FnOnce(&mut DbConnection, shipment::ShipmentRow) -> Result<(), ApiError> + Send + 'static,
{
    state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let row = shipment::find_scoped(conn, id, &auth_scope)?
                    .ok_or_else(|| ApiError::not_found(format!("shipment {id} not found")))?;
                action(conn, row)
            })?;
            detail(conn, id)
        })
        .await
}

/// Label the envelope (п.15–16): the scanned waybill must be the one of the shipment's Kaspi
/// order. The shipment is then packed.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("id" = Id, Path, description = "Shipment id")),
    request_body = LabelRequest,
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 409, description = "No Kaspi order yet (`no_kaspi_order`) or not at the accumulation sector (`invalid_transition`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Another waybill (`waybill_mismatch`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/shipments/{id}/label")]
async fn label_envelope(
    auth: Authorized<AccumulationClerks>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
    body: ApiJson<LabelRequest>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    let detail = on_shipment(&state, auth.scope().clone(), id, move |conn, row| {
        // The state machine first: a ЦОН document or one in the wrong state is refused as such.
        transition(row.state()?, ShipmentEvent::Label, row.method()?, actor.actor)
            .map_err(CommandError::from)?;
        let Some(expected) = row.waybill.clone() else {
            return Err(ApiError::new(
                ErrorCode::NoKaspiOrder,
                "Kaspi has not reported the delivery order yet, so there is no waybill to label with",
            ));
        };
        if expected != body.waybill.as_str() {
            return Err(ApiError::new(
                ErrorCode::WaybillMismatch,
                format!("the scanned waybill {} is not this shipment's waybill", body.waybill),
            ));
        }
        let ctx = clerk_context(actor, now, &snapshot);
        let details = serde_json::json!({ "waybill": expected });
        shipment::apply_event(conn, &row, ShipmentEvent::Label, &ctx, Some(details))?;
        Ok(())
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
    params(("id" = Id, Path, description = "Shipment id")),
    request_body = IssueRequest,
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 409, description = "Not at the issuance sector (`invalid_transition`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The IIN is not the applicant's (`recipient_mismatch`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/shipments/{id}/issue")]
async fn issue_document(
    auth: Authorized<IssuanceClerks>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
    body: ApiJson<IssueRequest>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    let detail = on_shipment(&state, auth.scope().clone(), id, move |conn, row| {
        let app = application::find(conn, row.application_id)?;
        let (issued_to, iin, name, poa) = match &body.recipient {
            Recipient::Applicant { iin } => {
                if iin.as_str() != app.applicant_iin {
                    return Err(ApiError::new(
                        ErrorCode::RecipientMismatch,
                        "the IIN is not the applicant's; a representative needs a power of attorney",
                    ));
                }
                ("applicant", iin.as_str(), app.applicant_name.clone(), None)
            }
            Recipient::Representative { iin, name, power_of_attorney } => {
                ("representative", iin.as_str(), name.to_string(), Some(power_of_attorney.as_str()))
            }
        };
        let ctx = clerk_context(actor, now, &snapshot);
        let details = serde_json::json!({ "issued_to": issued_to, "power_of_attorney": poa });
        let (issued, _) = shipment::apply_event(conn, &row, ShipmentEvent::Issued, &ctx, Some(details))
            .map_err(ApiError::from)?;
        diesel::update(shipments::table.find(issued.id))
            .set((
                shipments::issued_to.eq(Some(issued_to)),
                shipments::recipient_iin.eq(Some(iin)),
                shipments::recipient_name.eq(Some(name)),
                shipments::power_of_attorney.eq(poa),
            ))
            .execute(conn)?;
        Ok(())
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
    params(("id" = Id, Path, description = "Shipment id")),
    request_body = TransferRequest,
    responses(
        (status = 200, body = ShipmentDetail),
        (status = 409, description = "Not at the issuance sector, or its month of storage is not over (`invalid_transition`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/shipments/{id}/transfer")]
async fn transfer_after_storage(
    auth: Authorized<IssuanceClerks>,
    state: web::Data<AppState>,
    id: ApiPath<Id>,
    body: ApiJson<TransferRequest>,
) -> ApiResult<web::Json<ShipmentDetail>> {
    let id = id.into_inner()?.into_inner();
    let body = body.into_inner()?;
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    let detail = on_shipment(&state, auth.scope().clone(), id, move |conn, row| {
        let storage_ends = shipment::deadlines_of(conn, row.id)?
            .into_iter()
            .find(|d| d.kind == crate::domain::deadline::DeadlineKind::IssuanceStorage)
            .map(|d| d.due_at);
        crate::domain::shipment::transfer_allowed(storage_ends, now).map_err(|ends| {
            ApiError::new(
                ErrorCode::InvalidTransition,
                format!("the issuance sector keeps the document until {ends} (п.35)"),
            )
        })?;
        let ctx = clerk_context(actor, now, &snapshot);
        let details = serde_json::json!({ "to_whom": body.to_whom, "reference": body.reference });
        shipment::apply_event(
            conn,
            &row,
            ShipmentEvent::TransferredAfterStorage,
            &ctx,
            Some(details),
        )?;
        Ok(())
    })
    .await?;
    Ok(web::Json(detail))
}

/// Register a free duplicate of a cancelled application's lost certificate (п.26): a new
/// document on the ЦОН route, due within 3 working days. One open duplicate per application.
#[utoipa::path(
    tag = "clerks",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Application number")),
    responses(
        (status = 201, body = ApplicationView),
        (status = 409, description = "Not cancelled (`invalid_transition`) or a duplicate already open (`already_exists`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/applications/{number}/duplicates")]
async fn request_duplicate(
    auth: Authorized<IssuanceClerks>,
    state: web::Data<AppState>,
    number: ApiPath<ApplicationNumber>,
) -> ApiResult<actix_web::HttpResponse> {
    let number = number.into_inner()?.into_inner();
    let scope = auth.scope().clone();
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    let view = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let app =
                    application::find_scoped(conn, number.as_str(), &scope)?.ok_or_else(|| {
                        ApiError::not_found(format!("application {number} not found"))
                    })?;
                // Two clerks asking at once: one duplicate.
                crate::db::lock_key(conn, &format!("duplicate:{number}"))?;
                if app.status()? != application::ApplicationStatus::Cancelled {
                    return Err(ApiError::new(
                        ErrorCode::InvalidTransition,
                        format!(
                            "a duplicate is issued for a cancelled application; {number} is '{}'",
                            app.status
                        ),
                    ));
                }
                let open = shipment::of_application(conn, app.id)?
                    .into_iter()
                    .any(|s| s.kind == "duplicate" && s.state().is_ok_and(|st| !st.is_terminal()));
                if open {
                    return Err(ApiError::new(
                        ErrorCode::AlreadyExists,
                        format!("application {number} already has a duplicate on its way"),
                    ));
                }
                let ctx = clerk_context(actor, now, &snapshot);
                shipment::create_duplicate(conn, app.id, app.branch_id, &ctx)?;
                Ok(application::view(conn, app)?)
            })
        })
        .await?;
    Ok(actix_web::HttpResponse::Created().json(view))
}
