//! The registry office (РАГС, ИС ЗАГС): an application's final status (п.5, 8).

use super::{EventKey, once};
use crate::api::AppState;
use crate::api::auth::{Authorized, RegistryOffice};
use crate::api::extract::ApiJson;
use crate::db::Id;
use crate::db::models::application::{self, ApplicationStatus};
use crate::db::models::integration_event::fingerprint;
use crate::db::models::outbox;
use crate::db::models::shipment::{self, ActorRef, EventContext};
use crate::domain::identifiers::{ApplicationNumber, ExternalId};
use crate::domain::shipment::{DeliveryMethod, ShipmentState};
use crate::error::{ApiError, ApiResult, ErrorCode};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(registry_office_event);
}

/// The final status the registry office gives an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinalStatus {
    /// Executed: the certificate exists and waits for the State courier (п.6, 8).
    Executed,
    /// Refused: no document will be delivered.
    Refused,
    /// Cancelled after the document was lost and its loss act received (п.24): the citizen is
    /// told how to get a free duplicate (п.25).
    Cancelled,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryOfficeEvent {
    /// The registry office's id of this event: a repeat changes nothing.
    pub event_id: ExternalId,
    pub application_number: ApplicationNumber,
    pub status: FinalStatus,
    /// When the status was given.
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventApplied {
    pub application_number: String,
    pub application_status: ApplicationStatus,
    /// The document created by `executed`.
    pub shipment_id: Option<Id>,
    pub shipment_state: Option<ShipmentState>,
}

/// Report an application executed (its document is ready at the registry office) or refused.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = RegistryOfficeEvent,
    responses(
        (status = 200, body = EventApplied),
        (status = 404, description = "Unknown application (`not_found`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application already has a final status (`invalid_transition`), or the event id was reused (`event_id_reused`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/integrations/registry-office/events")]
async fn registry_office_event(
    auth: Authorized<RegistryOffice>,
    state: web::Data<AppState>,
    body: ApiJson<RegistryOfficeEvent>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    let key = EventKey {
        source: "registry_office",
        event_id: body.event_id.to_string(),
        kind: match body.status {
            FinalStatus::Executed => "executed",
            FinalStatus::Refused => "refused",
            FinalStatus::Cancelled => "cancelled",
        },
        application_number: body.application_number.to_string(),
        payload_hash: fingerprint(&body),
    };
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = ActorRef::from(&auth.principal);
    once(&state, key, move |conn| {
        let app = application::find_by_number(conn, body.application_number.as_str())?.ok_or_else(
            || ApiError::not_found(format!("application {} not found", body.application_number)),
        )?;
        let current = app.status()?;
        if body.status == FinalStatus::Cancelled {
            return cancel(conn, &app, &body, actor, now, &snapshot).map(|applied| {
                (
                    StatusCode::OK,
                    serde_json::to_value(applied).unwrap_or_default(),
                )
            });
        }
        if current != ApplicationStatus::AwaitingExecution {
            return Err(ApiError::new(
                ErrorCode::InvalidTransition,
                format!(
                    "application {} is already '{}'",
                    app.number,
                    current.as_str()
                ),
            ));
        }
        let to = match body.status {
            FinalStatus::Executed => ApplicationStatus::Executed,
            FinalStatus::Refused | FinalStatus::Cancelled => ApplicationStatus::Refused,
        };
        if !application::set_status(conn, &app, to, now)? {
            return Err(ApiError::new(
                ErrorCode::ConcurrentUpdate,
                "the application changed meanwhile; retry",
            ));
        }
        let ctx = EventContext {
            actor,
            source: "registry_office",
            external_event_id: Some(body.event_id.to_string()),
            occurred_at: body.occurred_at,
            recorded_at: now,
            calendar: &snapshot,
        };
        let created = match to {
            ApplicationStatus::Executed => {
                let method = DeliveryMethod::parse(&app.delivery_method).ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!(
                        "stored delivery method {}",
                        app.delivery_method
                    ))
                })?;
                let created = shipment::create_original(conn, app.id, app.branch_id, method, &ctx)?;
                // п.8: Kaspi creates the delivery order once the final status is known; the
                // request is written with the change and delivered by the dispatcher.
                if method == DeliveryMethod::Postamat {
                    let postamat = application::chosen_postamat(conn, app.postamat_id)?;
                    let payload = serde_json::json!({
                        "application_number": app.number,
                        "postamat_id": postamat.map(|p| p.kaspi_id),
                        "executed_at": body.occurred_at,
                    });
                    let dedup = format!("create_order:{}", app.number);
                    outbox::send_later(conn, "kaspi", "create_order", &payload, &dedup, now)?;
                }
                Some(created)
            }
            _ => {
                let change = shipment::Change {
                    application_id: app.id,
                    shipment_id: None,
                    event: "refused",
                    from: Some(current.as_str()),
                    to: to.as_str(),
                    details: None,
                };
                shipment::record_history(conn, change, &ctx)?;
                None
            }
        };
        let applied = EventApplied {
            application_number: app.number,
            application_status: to,
            shipment_id: created.as_ref().map(|s| s.id),
            shipment_state: created
                .as_ref()
                .map(|_| ShipmentState::ReadyAtRegistryOffice),
        };
        Ok((
            StatusCode::OK,
            serde_json::to_value(applied).map_err(ApiError::internal)?,
        ))
    })
    .await
}

/// п.24–25: the registry office cancels an application whose document was lost: the shipment
/// and the application are cancelled and the citizen is told where to get a free duplicate.
fn cancel(
    conn: &mut crate::db::DbConnection,
    app: &application::ApplicationRow,
    body: &RegistryOfficeEvent,
    actor: ActorRef,
    now: chrono::DateTime<Utc>,
    snapshot: &crate::jobs::calendar_refresh::CalendarSnapshot,
) -> Result<EventApplied, ApiError> {
    let lost = shipment::of_application(conn, app.id)?
        .into_iter()
        .rev()
        .find(|s| s.state().is_ok_and(|state| state == ShipmentState::Lost))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidTransition,
                format!(
                    "application {} has no lost document to cancel it for (it is '{}')",
                    app.number, app.status
                ),
            )
        })?;
    let ctx = EventContext {
        actor,
        source: "registry_office",
        external_event_id: Some(body.event_id.to_string()),
        occurred_at: body.occurred_at,
        recorded_at: now,
        calendar: snapshot,
    };
    let (cancelled, transition) = shipment::apply_event(
        conn,
        &lost,
        crate::domain::shipment::ShipmentEvent::Cancelled,
        &ctx,
        None,
    )?;
    if !application::set_status(conn, app, ApplicationStatus::Cancelled, now)? {
        return Err(ApiError::new(
            ErrorCode::ConcurrentUpdate,
            "the application changed meanwhile; retry",
        ));
    }
    if transition
        .notifies
        .contains(&crate::domain::shipment::NotificationKind::CancelledAfterLoss)
    {
        outbox::tell_where_to_collect(conn, &cancelled, outbox::BranchNotice::Cancelled, now)?;
    }
    Ok(EventApplied {
        application_number: app.number.clone(),
        application_status: ApplicationStatus::Cancelled,
        shipment_id: Some(cancelled.id),
        shipment_state: Some(ShipmentState::Cancelled),
    })
}
