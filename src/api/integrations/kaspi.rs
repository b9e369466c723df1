//! Kaspi: applications chosen for delivery (п.3–4) and delivery orders (п.8–10).

use super::{EventKey, once};
use crate::api::AppState;
use crate::api::auth::{Authorized, KaspiIntegration};
use crate::api::extract::ApiJson;
use crate::db::models::application::{self, ApplicationRow, ApplicationStatus, ApplicationView};
use crate::db::models::integration_event::fingerprint;
use crate::db::models::kaspi_event;
use crate::db::models::postamat::{self, city_key};
use crate::db::models::shipment::{self, ActorRef, EventContext};
use crate::db::models::{branch, to_db_time};
use crate::db::schema::shipments;
use crate::db::{DbConnection, Id, write_transaction};
use crate::domain::identifiers::{ApplicationNumber, ExternalId, Iin, Phone, Waybill};
use crate::domain::reference::{BranchCode, BranchTimeZone, KaspiPostamatId, Text};
use crate::domain::shipment::{DeliveryMethod, ShipmentEvent};
use crate::error::{ApiError, ApiResult, ErrorCode};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(register_application).service(order_created);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Kk,
    Ru,
}

impl Language {
    fn as_str(self) -> &'static str {
        match self {
            Language::Kk => "kk",
            Language::Ru => "ru",
        }
    }
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
    #[schema(value_type = Option<String>, example = "PST-ALA-0042")]
    pub postamat_id: Option<KaspiPostamatId>,
    /// The registry office (РАГС) executing the application.
    pub registry_office_code: ExternalId,
    /// The responsible State Corporation branch.
    #[schema(value_type = String, example = "ALM01")]
    pub branch: BranchCode,
    /// When the citizen submitted it.
    pub submitted_at: DateTime<Utc>,
}

/// Validates and stores a new application; the number is known not to exist yet.
fn register(
    conn: &mut DbConnection,
    body: &RegisterApplication,
    payload_hash: String,
    pilot_ends_on: chrono::NaiveDate,
    actor: &crate::db::models::api_key::Principal,
    calendar: &crate::jobs::calendar_refresh::CalendarSnapshot,
    now: DateTime<Utc>,
) -> ApiResult<ApplicationRow> {
    // A submission time in the future would open the pilot window to anyone who sets it.
    if body.submitted_at > now + chrono::Duration::minutes(5) {
        return Err(ApiError::validation("submitted_at is in the future"));
    }
    let branch = branch::find_by_code(conn, &body.branch)?
        .ok_or_else(|| ApiError::validation(format!("branch {} does not exist", body.branch)))?;
    let postamat_id = match (body.delivery_method, &body.postamat_id) {
        (DeliveryMethod::Con, None) => None,
        (DeliveryMethod::Con, Some(_)) => {
            return Err(ApiError::validation(
                "postamat_id is only for postamat delivery",
            ));
        }
        (DeliveryMethod::Postamat, None) => {
            return Err(ApiError::validation("postamat delivery needs postamat_id"));
        }
        (DeliveryMethod::Postamat, Some(kaspi_id)) => {
            let chosen = postamat::find(conn, kaspi_id)?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownPostamat,
                    format!("postamat {kaspi_id} is not in the postamat list"),
                )
            })?;
            // п.4: the postamat must be in the applicant's city.
            if city_key(&chosen.city) != city_key(&branch.city) {
                return Err(ApiError::new(
                    ErrorCode::PostamatNotInCity,
                    format!(
                        "postamat {kaspi_id} is in {}, not in {} of branch {}",
                        chosen.city, branch.city, branch.code
                    ),
                ));
            }
            // Order п.6: postamat delivery only while the pilot runs.
            let tz =
                BranchTimeZone::try_from(branch.time_zone.clone()).map_err(ApiError::internal)?;
            let submitted_on = body.submitted_at.with_timezone(&tz.tz()).date_naive();
            if submitted_on > pilot_ends_on {
                return Err(ApiError::new(
                    ErrorCode::OutsidePilotWindow,
                    format!(
                        "postamat delivery is offered until {pilot_ends_on}; the application was submitted on {submitted_on}"
                    ),
                ));
            }
            Some(chosen.id)
        }
    };
    let row = ApplicationRow {
        id: Id::new(),
        number: body.application_number.to_string(),
        registry_office_code: body.registry_office_code.to_string(),
        applicant_iin: body.applicant_iin.to_string(),
        applicant_name: body.applicant_name.to_string(),
        phone: body.phone.to_string(),
        language: body.language.as_str().to_owned(),
        delivery_method: body.delivery_method.as_str().to_owned(),
        postamat_id,
        branch_id: branch.id,
        status: ApplicationStatus::AwaitingExecution.as_str().to_owned(),
        submitted_at: to_db_time(body.submitted_at),
        payload_hash,
        created_at: to_db_time(now),
        updated_at: to_db_time(now),
        version: 0,
    };
    application::insert(conn, &row)?;
    let ctx = EventContext {
        actor: ActorRef::from(actor),
        source: "kaspi",
        external_event_id: None,
        occurred_at: body.submitted_at,
        recorded_at: now,
        calendar,
    };
    let change = shipment::Change {
        application_id: row.id,
        shipment_id: None,
        event: "registered",
        from: None,
        to: ApplicationStatus::AwaitingExecution.as_str(),
        details: None,
    };
    shipment::record_history(conn, change, &ctx)?;
    Ok(row)
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
        (status = 409, description = "Registered before with other data (`application_conflict`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_postamat`, `postamat_not_in_city`, `outside_pilot_window`, or a rule (`validation_failed`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/integrations/kaspi/applications")]
async fn register_application(
    auth: Authorized<KaspiIntegration>,
    state: web::Data<AppState>,
    body: ApiJson<RegisterApplication>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    let hash = fingerprint(&body);
    let now = state.clock.now();
    let pilot_ends_on = state.pilot_ends_on;
    let snapshot = state.calendar.current();
    let actor = auth.principal;
    let (created, view) = state
        .db(move |conn| {
            let attempt = write_transaction(conn, |conn| {
                if let Some(existing) =
                    application::find_by_number(conn, body.application_number.as_str())?
                {
                    return Ok((false, existing));
                }
                let row = register(
                    conn,
                    &body,
                    hash.clone(),
                    pilot_ends_on,
                    &actor,
                    &snapshot,
                    now,
                )?;
                Ok::<_, ApiError>((true, row))
            });
            let (created, row) = match attempt {
                // The same number raced in on another connection: compare with what won.
                Err(e) if e.code() == ErrorCode::AlreadyExists => {
                    let winner =
                        application::find_by_number(conn, body.application_number.as_str())?
                            .ok_or(e)?;
                    (false, winner)
                }
                other => other?,
            };
            if !created && row.payload_hash != hash {
                return Err(ApiError::new(
                    ErrorCode::ApplicationConflict,
                    format!(
                        "application {} is already registered with different data",
                        row.number
                    ),
                ));
            }
            Ok((created, application::view(conn, row)?))
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
    pub shipment_id: Id,
    pub kaspi_order_id: String,
    pub waybill: String,
    pub deadlines: Vec<shipment::DeadlineView>,
}

/// Record Kaspi's delivery order: stores the order id and waybill and starts the
/// `kaspi_arrival` deadline (13:00 next working day, п.10).
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = OrderCreated,
    responses(
        (status = 200, body = OrderRecorded),
        (status = 404, description = "Unknown application (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not executed yet or not a postamat delivery (`invalid_transition`), another order already (`order_conflict`), or the event id reused (`event_id_reused`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/integrations/kaspi/orders")]
async fn order_created(
    auth: Authorized<KaspiIntegration>,
    state: web::Data<AppState>,
    body: ApiJson<OrderCreated>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    let key = EventKey {
        source: "kaspi",
        event_id: body.event_id.to_string(),
        kind: "order_created",
        application_number: body.application_number.to_string(),
        payload_hash: fingerprint(&body),
    };
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    once(&state, key, move |conn| {
        let app = application::find_by_number(conn, body.application_number.as_str())?
            .ok_or_else(|| ApiError::not_found(format!("application {} not found", body.application_number)))?;
        let original = shipment::find_original(conn, app.id)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidTransition,
                format!("application {} is '{}': there is no document to deliver yet", app.number, app.status),
            )
        })?;
        match (&original.kaspi_order_id, &original.waybill) {
            (Some(order), Some(waybill)) if order == body.kaspi_order_id.as_str() && waybill == body.waybill.as_str() => {}
            (Some(order), _) => {
                return Err(ApiError::new(
                    ErrorCode::OrderConflict,
                    format!("application {} already has Kaspi order {order}", app.number),
                ));
            }
            (None, _) => {
                // Serialised with Kaspi events waiting on this waybill (see kaspi_event::receive).
                crate::db::lock_key(conn, body.waybill.as_str())?;
                let ctx = EventContext {
                    actor,
                    source: "kaspi",
                    external_event_id: Some(body.event_id.to_string()),
                    occurred_at: body.occurred_at,
                    recorded_at: now,
                    calendar: &snapshot,
                };
                let details = serde_json::json!({"kaspi_order_id": body.kaspi_order_id, "waybill": body.waybill});
                shipment::apply_event(conn, &original, ShipmentEvent::KaspiOrderCreated, &ctx, Some(details))?;
                diesel::update(shipments::table.find(original.id))
                    .set((
                        shipments::kaspi_order_id.eq(Some(body.kaspi_order_id.as_str())),
                        shipments::waybill.eq(Some(body.waybill.as_str())),
                    ))
                    .execute(conn)?;
                // Kaspi's status events that came before the order now find their shipment.
                let applied = kaspi_event::apply_unmatched(conn, body.waybill.as_str(), &ctx)?;
                if applied > 0 {
                    tracing::info!(applied, "waiting Kaspi events applied");
                }
            }
        }
        let recorded = OrderRecorded {
            application_number: app.number,
            shipment_id: original.id,
            kaspi_order_id: body.kaspi_order_id.to_string(),
            waybill: body.waybill.to_string(),
            deadlines: shipment::deadlines_of(conn, original.id)?,
        };
        Ok((StatusCode::OK, serde_json::to_value(recorded).map_err(ApiError::internal)?))
    })
    .await
}
