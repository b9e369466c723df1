//! Kaspi's delivery order for an executed application (п.8–10): its waybill goes on the
//! shipment and the 13:00-next-working-day arrival deadline starts. Kaspi's status events that
//! came before the order now find their shipment.

use super::kaspi_events::replay_waiting;
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::application;
use crate::db::models::shipment::{self as shipments, ShipmentRow};
use crate::db::{DbConnection, lock_key, write_transaction};
use crate::domain::identifiers::{ExternalId, Waybill};
use crate::domain::shipment::Event;

/// The order Kaspi reported.
#[derive(Debug, Clone)]
pub struct KaspiOrder {
    pub application_number: String,
    pub order_id: ExternalId,
    pub waybill: Waybill,
}

/// Records `order` on the application's original document (a repeat of the same order changes
/// nothing); returns the document.
pub fn record_order(
    conn: &mut DbConnection,
    order: &KaspiOrder,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ShipmentRow> {
    write_transaction(conn, |conn| {
        let number = &order.application_number;
        let app = application::find_by_number(conn, number)?
            .ok_or_else(|| WorkflowError::not_found(format!("application {number} not found")))?;
        let original = shipments::find_original(conn, app.id)?.ok_or_else(|| {
            WorkflowError::rejected(
                Reason::InvalidTransition,
                format!(
                    "application {} is '{}': there is no document to deliver yet",
                    app.number, app.status
                ),
            )
        })?;
        match (&original.kaspi_order_id, &original.waybill) {
            (Some(id), Some(waybill))
                if id == order.order_id.as_str() && *waybill == order.waybill =>
            {
                return Ok(original);
            }
            (Some(id), _) => {
                return Err(WorkflowError::rejected(
                    Reason::OrderConflict,
                    format!("application {} already has Kaspi order {id}", app.number),
                ));
            }
            (None, _) => {}
        }
        // Another document's order or waybill: Kaspi's mistake to correct, named as such
        // (not the storage's "already exists").
        if let Some(other) = shipments::order_held_by_another(
            conn,
            original.id,
            order.order_id.as_str(),
            order.waybill.as_str(),
        )? {
            return Err(WorkflowError::rejected(
                Reason::OrderConflict,
                format!(
                    "Kaspi order {} or waybill {} is already application {other}'s",
                    order.order_id, order.waybill
                ),
            ));
        }
        // Serialised with Kaspi events waiting on this waybill (see `kaspi_events::receive`).
        lock_key(conn, order.waybill.as_str())?;
        let details = serde_json::json!({
            "kaspi_order_id": order.order_id,
            "waybill": order.waybill,
        });
        let event = Event::KaspiOrderCreated {
            order_id: order.order_id.to_string(),
            waybill: order.waybill.clone(),
        };
        let applied = super::shipment::apply(conn, &original, None, event, ctx, Some(details))?;
        let replayed = replay_waiting(conn, order.waybill.as_str(), ctx)?;
        if replayed > 0 {
            tracing::info!(replayed, "waiting Kaspi events applied");
        }
        Ok(applied.shipment)
    })
}
