//! The registry office (РАГС, ИС ЗАГС): an application's final status (п.5, 8), or its
//! cancellation after a loss (п.24).

use super::once;
use crate::api::AppState;
use crate::api::auth::{Authorized, RegistryOffice};
use crate::api::error::ApiResult;
use crate::api::extract::ApiJson;
use crate::db::models::integration_event::fingerprint;
use crate::domain::application::{ApplicationStatus, FinalStatus};
use crate::domain::calendar::supported_instant;
use crate::domain::identifiers::{ApplicationNumber, ExternalId};
use crate::domain::ids::ShipmentId;
use crate::domain::shipment::ShipmentState;
use crate::workflows::Reason;
use crate::workflows::inbox::Inbound;
use crate::workflows::registry_office::apply_status;
use crate::workflows::{Actor, EventContext, Source};
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(registry_office_event);
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
    /// The document created by `executed` (or cancelled by `cancelled`).
    pub shipment_id: Option<ShipmentId>,
    pub shipment_state: Option<ShipmentState>,
}

/// Report an application executed (its document is ready at the registry office), refused, or
/// cancelled after its document was lost.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = RegistryOfficeEvent,
    responses(
        (status = 200, body = EventApplied),
        (status = 404, description = "Unknown application (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application already has a final status, or a cancellation comes before the loss act is drawn (п.24) (`invalid_transition`), or the event id was reused (`event_id_reused`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed supported_instant(occurred_at); registry_office::apply_status: NotFound application; InvalidTransition status.after None / no lost document (cancel); AlreadyExists shipment::create UniqueViolation(shipments_one_original_idx), only when two `executed` with different event ids race; EventIdReused inbox::once
    extensions(("x-problem-codes" = json!([Reason::ValidationFailed, Reason::NotFound, Reason::InvalidTransition, Reason::AlreadyExists, Reason::EventIdReused]))),
)]
#[post("/api/v1/integrations/registry-office/events")]
async fn registry_office_event(
    auth: Authorized<RegistryOffice>,
    state: web::Data<AppState>,
    body: ApiJson<RegistryOfficeEvent>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner()?;
    supported_instant(body.occurred_at, "occurred_at")?;
    let key = Inbound {
        source: Source::RegistryOffice,
        event_id: body.event_id.to_string(),
        kind: body.status.as_str(),
        application_number: body.application_number.to_string(),
        payload_hash: fingerprint(&body),
    };
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = Actor::from(&auth.principal);
    let pilot = state.pilot;
    once(&state, key, move |conn| {
        let ctx = EventContext::reported(
            actor.clone(),
            Source::RegistryOffice,
            body.event_id.as_str(),
            body.occurred_at,
            now,
            &snapshot,
        );
        let applied = apply_status(
            conn,
            body.application_number.as_str(),
            body.status,
            pilot,
            &ctx,
        )?;
        let answer = EventApplied {
            application_number: applied.application.number.into(),
            application_status: applied.application.status,
            shipment_id: applied.shipment.as_ref().map(|s| s.id),
            shipment_state: applied.shipment.map(|s| s.status),
        };
        Ok(answer)
    })
    .await
}
