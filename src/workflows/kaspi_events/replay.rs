//! Events kept waiting (their waybill unknown, their shipment not yet with Kaspi, their registry
//! not yet handed over) are applied once what they waited for is written.

use super::process;
use crate::db::DbConnection;
use crate::db::models::kaspi_event::{self as stored};
use crate::domain::kaspi::{KaspiEvent, Outcome};
use crate::workflows::{Actor, EventContext, Source, WorkflowError, WorkflowResult};

/// Applies the events that waited on `wait_key` (a waybill unknown until now, a shipment not yet
/// with Kaspi, a registry not yet handed over), oldest first, each with its own id and time as
/// if it had just arrived. Those that still cannot apply keep waiting. Runs inside the caller's
/// transaction, which must hold the key's lock.
pub fn replay_waiting(
    conn: &mut DbConnection,
    wait_key: &str,
    base: &EventContext<'_>,
) -> WorkflowResult<usize> {
    let mut resolved = 0;
    for mut kept in stored::waiting(conn, wait_key)? {
        let event: KaspiEvent = serde_json::from_str(&kept.payload).map_err(|e| {
            WorkflowError::internal(format!("reading kept Kaspi event {}", kept.event_id), e)
        })?;
        let ctx = EventContext::reported(
            Actor::kaspi("Kaspi (event applied when it could be)"),
            Source::Kaspi,
            kept.event_id.clone(),
            event.occurred_at,
            base.recorded_at,
            base.calendar,
        );
        let done = process(conn, &event, &ctx)?;
        if done.outcome != Outcome::Unmatched {
            resolved += 1;
            kept.resolved_at = Some(ctx.recorded_at);
        }
        kept.outcome = done.outcome;
        kept.reason_code = done.reason;
        kept.detail = done.detail;
        kept.shipment_id = done.shipment_id;
        stored::set_outcome(conn, &kept)?;
    }
    Ok(resolved)
}
