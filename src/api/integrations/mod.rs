//! Machine-to-machine API: Kaspi (п.3–4, 8–9) and the registry office (п.5, 8).

pub mod kaspi;
pub mod kaspi_events;
mod kaspi_schema;
pub mod registry_office;
pub mod webhook;

use crate::api::AppState;
use crate::api::error::ApiResult;
use crate::db::DbConnection;
use crate::workflows::WorkflowResult;
use crate::workflows::inbox::{self, Inbound};
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    kaspi_events::routes(cfg);
    kaspi::routes(cfg);
    registry_office::routes(cfg);
}

/// Runs `work` once per event id through the workflows' inbox ([`inbox::once`], which states
/// what is kept) and answers 200 with what it gave, or with what was kept for a repeat.
pub async fn once<T, F>(state: &AppState, event: Inbound, work: F) -> ApiResult<HttpResponse>
where
    T: Serialize,
    F: FnMut(&mut DbConnection) -> WorkflowResult<T> + Send + 'static,
{
    let now = state.clock.now();
    let answer = state
        .write(move |conn| Ok(inbox::once(conn, &event, now, work)?))
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
