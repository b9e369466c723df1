//! Kaspi's signed delivery-status webhook (п.9, 18–20, 27–31): single events and batches.

use super::webhook;
use crate::api::AppState;
use crate::api::extract::parse_json;
use crate::db::models::kaspi_event::{self, EventResult, KaspiEvent, Outcome};
use crate::db::models::shipment::{ActorRef, EventContext};
use crate::db::write_transaction;
use crate::domain::role::Role;
use crate::domain::shipment::Actor;
use crate::error::{ApiError, ApiResult, ErrorCode};
use actix_web::{HttpRequest, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(receive_event).service(receive_batch);
}

/// Most events in one batch.
pub const MAX_BATCH: usize = 500;

fn actor(webhook_id: &str) -> ActorRef {
    ActorRef {
        actor: Actor::Role(Role::Kaspi),
        key_id: None,
        name: format!("Kaspi webhook {webhook_id}"),
    }
}

/// Checks the signature before anything is read from the body (401 and nothing stored).
fn verified(req: &HttpRequest, state: &AppState, body: &[u8]) -> ApiResult<String> {
    webhook::verify(req.headers(), body, &state.kaspi_secrets, state.clock.now())
}

/// Receives events one transaction each; the first failure of ours stops and fails the call,
/// so Kaspi sends again and what was already stored answers `duplicate`.
async fn receive_all(
    state: &AppState,
    webhook_id: String,
    events: Vec<Result<KaspiEvent, ApiError>>,
) -> ApiResult<Vec<EventResult>> {
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    state
        .db(move |conn| {
            // Applied in the order things happened (a batch may list them otherwise), answered
            // in the order they were sent.
            let mut order: Vec<usize> = (0..events.len()).collect();
            order.sort_by_key(|&i| events[i].as_ref().ok().map(|e| e.occurred_at));
            let mut results: Vec<Option<EventResult>> = vec![None; events.len()];
            for i in order {
                let event = match &events[i] {
                    Ok(event) => event,
                    Err(invalid) => {
                        results[i] = Some(EventResult {
                            event_id: None,
                            outcome: Outcome::Rejected,
                            first_outcome: None,
                            reason: Some(invalid.code().as_str().to_owned()),
                            detail: Some(invalid.detail().to_owned()),
                            shipment_id: None,
                            state: None,
                        });
                        continue;
                    }
                };
                let ctx = EventContext {
                    actor: actor(&webhook_id),
                    source: "kaspi",
                    external_event_id: Some(event.event_id.to_string()),
                    occurred_at: event.occurred_at,
                    recorded_at: now,
                    calendar: &snapshot,
                };
                let receive = |conn: &mut crate::db::DbConnection| {
                    write_transaction(conn, |conn| kaspi_event::receive(conn, event, &ctx))
                };
                // The same event (or another for the same shipment) committed first on another
                // connection: once more, it is then a duplicate or applies on the new state.
                let result = match receive(conn) {
                    Err(e)
                        if matches!(
                            e.code(),
                            ErrorCode::ConcurrentUpdate | ErrorCode::AlreadyExists
                        ) =>
                    {
                        receive(conn)?
                    }
                    other => other?,
                };
                results[i] = Some(result);
            }
            let results: Vec<EventResult> = results.into_iter().flatten().collect();
            Ok(results)
        })
        .await
}

/// One delivery-status event. Answers 200 with the event's outcome (`applied`, `duplicate`,
/// `out_of_order_recorded`, `rejected` with a reason, or `unmatched` when the waybill is not
/// known yet — kept and applied later). A 2xx means the event is stored.
#[utoipa::path(
    tag = "integrations",
    params(
        ("webhook-id" = String, Header, description = "Standard Webhooks message id"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds; at most 5 minutes off"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`; several may be listed"),
    ),
    request_body = KaspiEvent,
    responses(
        (status = 200, body = EventResult),
        (status = 401, description = "Missing or bad signature (`invalid_signature`) or an old timestamp (`signature_expired`); nothing stored", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/integrations/kaspi/events")]
async fn receive_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<web::Json<EventResult>> {
    let webhook_id = verified(&req, &state, &body)?;
    let event: KaspiEvent = parse_json(&body)?;
    let mut results = receive_all(&state, webhook_id, vec![Ok(event)]).await?;
    Ok(web::Json(results.remove(0)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EventBatch {
    /// Up to 500 events, answered one by one in the same order.
    #[schema(value_type = Vec<KaspiEvent>)]
    pub events: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub results: Vec<EventResult>,
}

/// A batch of delivery-status events, each answered on its own; an event that cannot be read
/// is `rejected` (`invalid_body`) without stopping the rest.
#[utoipa::path(
    tag = "integrations",
    params(
        ("webhook-id" = String, Header, description = "Standard Webhooks message id"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds; at most 5 minutes off"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`"),
    ),
    request_body = EventBatch,
    responses(
        (status = 200, body = BatchResult),
        (status = 401, description = "Missing or bad signature (`invalid_signature`) or an old timestamp (`signature_expired`); nothing stored", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/integrations/kaspi/events/batch")]
async fn receive_batch(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<web::Json<BatchResult>> {
    let webhook_id = verified(&req, &state, &body)?;
    let batch: EventBatch = parse_json(&body)?;
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            format!("a batch holds 1 to {MAX_BATCH} events"),
        ));
    }
    let events = batch
        .events
        .into_iter()
        .map(|value| {
            serde_path_to_error::deserialize::<_, KaspiEvent>(value)
                .map_err(|e| ApiError::invalid_body(format!("{}: {}", e.path(), e.inner())))
        })
        .collect();
    let results = receive_all(&state, webhook_id, events).await?;
    Ok(web::Json(BatchResult { results }))
}
