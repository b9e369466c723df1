//! The envelope is labelled with its Kaspi waybill (п.15–16): the scanned waybill must be the
//! one of the shipment's Kaspi order.

use super::shipment::{apply, find_scoped};
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::shipment::ShipmentRow;
use crate::db::{DbConnection, write_transaction};
use crate::domain::identifiers::Waybill;
use crate::domain::ids::ShipmentId;
use crate::domain::shipment::{Event, ShipmentEvent, transition};

pub fn label(
    conn: &mut DbConnection,
    id: ShipmentId,
    scanned: &Waybill,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ShipmentRow> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let row = find_scoped(conn, id, scope)?;
        // The state machine first: a ЦОН document or one in the wrong state is refused as such.
        transition(
            row.status,
            ShipmentEvent::Label,
            row.delivery_method,
            ctx.actor.kind,
        )?;
        let Some(expected) = row.waybill.clone() else {
            return Err(WorkflowError::rejected(
                Reason::NoKaspiOrder,
                "Kaspi has not reported the delivery order yet, so there is no waybill to label with",
            ));
        };
        if expected != *scanned {
            return Err(WorkflowError::rejected(
                Reason::WaybillMismatch,
                format!("the scanned waybill {scanned} is not this shipment's waybill"),
            ));
        }
        let details = serde_json::json!({ "waybill": expected });
        Ok(apply(conn, &row, None, Event::Label, ctx, Some(details))?.shipment)
    })
}
