//! Kaspi's signed delivery-status webhook (п.9, 18–20, 27–31): single events and batches.

use super::webhook;
use crate::api::AppState;
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::extract::{Bounds, parse_json};
use crate::domain::calendar::{supported_date, supported_instant};
use crate::domain::kaspi::{KaspiEvent, KaspiEventBody};
use crate::workflows::Actor;
use crate::workflows::Reason;
use crate::workflows::kaspi_events::{Batch, Delivery, EventResult, Unreadable};
use actix_web::{HttpRequest, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(receive_event).service(receive_batch);
}

/// Most events in one batch.
pub const MAX_BATCH: usize = 500;

/// The events of one batch.
const BATCH: Bounds = Bounds {
    field: "events",
    min: 1,
    max: MAX_BATCH,
};

fn batch_schema() -> utoipa::openapi::Array {
    BATCH.array_of::<KaspiEvent>()
}

/// Checks the signature before anything is read from the body (401 and nothing stored).
fn verified(req: &HttpRequest, state: &AppState, body: &[u8]) -> ApiResult<String> {
    webhook::verify(req.headers(), body, &state.kaspi_secrets, state.clock.now())
}

/// An event whose time lies within the years the service reasons about; another is answered
/// `rejected` (`validation_failed`) in its place (issue 28 finding 4).
fn plausible(event: KaspiEvent) -> Result<KaspiEvent, ApiError> {
    supported_instant(event.occurred_at, "occurred_at")?;
    if let KaspiEventBody::Delayed {
        new_expected_date, ..
    } = &event.body
    {
        supported_date(*new_expected_date, "new_expected_date")?;
    }
    Ok(event)
}

/// Receives the events as one [`Batch`], a chunk per transaction (and per pool connection, so a
/// long batch never keeps one from other requests); an unreadable event is answered `rejected`
/// in its place. The first failure of ours fails the call: Kaspi sends it again, and what was
/// already received answers `duplicate`.
async fn receive(
    state: &AppState,
    webhook_id: String,
    events: Vec<Result<KaspiEvent, ApiError>>,
) -> ApiResult<Vec<EventResult>> {
    let now = state.clock.now();
    let snapshot = state.calendar.current();
    let actor = Actor::kaspi(format!("Kaspi webhook {webhook_id}"));
    let mut batch = Batch::new(
        events
            .into_iter()
            .map(|event| {
                event.map_err(|invalid| Unreadable {
                    code: invalid.code().as_str(),
                    detail: invalid.detail().to_owned(),
                })
            })
            .collect(),
    );
    for chunk in batch.chunks() {
        let (snapshot, actor) = (snapshot.clone(), actor.clone());
        let answered = state
            .write(move |conn| {
                let delivery = Delivery {
                    actor: &actor,
                    now,
                    calendar: &snapshot,
                };
                Ok(chunk.receive(conn, delivery)?)
            })
            .await?;
        batch.answered(answered);
    }
    let results = batch.answers()?;
    for result in &results {
        state.metrics.observe_kaspi_event(result.outcome.as_str());
    }
    Ok(results)
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
        (status = 401, description = "Missing or bad signature (`invalid_signature`) or an old timestamp (`signature_expired`); nothing stored", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // receive_chunk -> process -> apply -> start_deadlines(PointWait/Return) YearMissing is_ours, answered as HTTP (refusals go in the 200 body)
    extensions(("x-problem-codes" = json!([ErrorCode::InvalidSignature, ErrorCode::SignatureExpired, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/integrations/kaspi/events")]
async fn receive_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<web::Json<EventResult>> {
    let webhook_id = verified(&req, &state, &body)?;
    let event: KaspiEvent = parse_json(&body)?;
    let mut results = receive(&state, webhook_id, vec![plausible(event)]).await?;
    Ok(web::Json(results.remove(0)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EventBatch {
    /// Up to 500 events, answered one by one in the same order.
    #[schema(schema_with = batch_schema)]
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
        (status = 401, description = "Missing or bad signature (`invalid_signature`) or an old timestamp (`signature_expired`); nothing stored", body = crate::api::error::Problem, content_type = "application/problem+json"),
    ),
    // ValidationFailed: 1..MAX_BATCH events; CalendarUnavailable: as receive_event
    extensions(("x-problem-codes" = json!([ErrorCode::InvalidSignature, ErrorCode::SignatureExpired, Reason::ValidationFailed, ErrorCode::CalendarUnavailable]))),
)]
#[post("/api/v1/integrations/kaspi/events/batch")]
async fn receive_batch(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<web::Json<BatchResult>> {
    let webhook_id = verified(&req, &state, &body)?;
    let batch: EventBatch = parse_json(&body)?;
    BATCH.check(batch.events.len())?;
    let events = batch
        .events
        .into_iter()
        .map(|value| {
            serde_path_to_error::deserialize::<_, KaspiEvent>(value)
                .map_err(|e| ApiError::invalid_body(format!("{}: {}", e.path(), e.inner())))
                .and_then(plausible)
        })
        .collect();
    let results = receive(&state, webhook_id, events).await?;
    Ok(web::Json(BatchResult { results }))
}
