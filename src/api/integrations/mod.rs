//! Machine-to-machine API: Kaspi (п.3–4, 8–9) and the registry office (п.5, 8).

pub mod kaspi;
pub mod kaspi_events;
mod kaspi_schema;
pub mod registry_office;
pub mod webhook;

use crate::api::AppState;
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::db::models::integration_event::{self, NewEvent};
use crate::db::{DbConnection, write_transaction};
use crate::workflows::Reason;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    kaspi_events::routes(cfg);
    kaspi::routes(cfg);
    registry_office::routes(cfg);
}

/// Identifies one integration event for idempotency.
pub struct EventKey {
    pub source: &'static str,
    pub event_id: String,
    pub kind: &'static str,
    pub application_number: String,
    pub payload_hash: String,
}

/// Runs `work` once per event id. A repeat with the same payload gets the first answer and
/// changes nothing; the same id with another payload is refused. Only successful outcomes are
/// kept, so an event refused for the shipment's state can be sent again once it fits.
pub async fn once<F>(state: &AppState, key: EventKey, work: F) -> ApiResult<HttpResponse>
where
    F: FnOnce(&mut DbConnection) -> Result<(StatusCode, serde_json::Value), ApiError>
        + Send
        + 'static,
{
    let now = state.clock.now();
    let replay = |stored: integration_event::StoredResponse, key: &EventKey| {
        if stored.payload_hash == key.payload_hash {
            Ok((stored.status, stored.body))
        } else {
            Err(ApiError::new(
                ErrorCode::Refused(Reason::EventIdReused),
                format!(
                    "event {} was already received with a different payload",
                    key.event_id
                ),
            ))
        }
    };
    let (status, body) = state
        .write(move |conn| {
            let result = write_transaction(conn, |conn| {
                if let Some(stored) = integration_event::find(conn, key.source, &key.event_id)? {
                    return replay(stored, &key).map(Err);
                }
                let (status, body) = work(conn)?;
                integration_event::store(
                    conn,
                    NewEvent {
                        source: key.source,
                        event_id: &key.event_id,
                        kind: key.kind,
                        application_number: &key.application_number,
                        payload_hash: &key.payload_hash,
                        status: status.as_u16(),
                        body: &body,
                        received_at: now,
                    },
                )?;
                Ok(Ok((status.as_u16(), body)))
            });
            match result {
                Ok(Ok(fresh)) | Ok(Err(fresh)) => Ok(fresh),
                // The same event may have raced in on another connection and won (we then
                // failed on its lock or its key): answer as it did.
                Err(e) if e.code() != ErrorCode::Refused(Reason::EventIdReused) => {
                    match integration_event::find(conn, key.source, &key.event_id)? {
                        Some(stored) => replay(stored, &key),
                        None => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK)).json(body))
}
