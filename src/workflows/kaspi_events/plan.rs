//! What an event will do to its shipment, decided from what was read before anything is
//! written: apply (with the steps it implies), keep as stale, wait for its waybill or registry,
//! or refuse.

use super::Processed;
use super::consequences::history_details;
use crate::db::models::shipment::{self as shipments, Loaded, ShipmentRow};
use crate::db::{DbConnection, lock_key};
use crate::domain::kaspi::{KaspiEventBody, Outcome};
use crate::domain::shipment::{Event, KaspiPlan, Transition, kaspi_plan};
use crate::workflows::shipment::note;
use crate::workflows::{EventContext, Reason, WorkflowError, WorkflowResult};

/// How an event fits a shipment, decided from what was read.
pub(super) enum Plan {
    Apply(Vec<Transition>),
    /// Older than the shipment's position.
    Stale,
    /// Kaspi is ahead of our records: wait for the State courier's handover.
    Wait,
    Refused(WorkflowError),
}

pub(super) fn plan(shipment: &ShipmentRow, body: &KaspiEventBody) -> Plan {
    match kaspi_plan(
        shipment.status,
        body.shipment_event(),
        shipment.delivery_method,
    ) {
        KaspiPlan::Apply(steps) => Plan::Apply(steps),
        KaspiPlan::Stale => Plan::Stale,
        KaspiPlan::Wait => Plan::Wait,
        KaspiPlan::Refused(refusal) => Plan::Refused(WorkflowError::rejected(
            Reason::InvalidTransition,
            refusal.to_string(),
        )),
    }
}

pub(super) enum Planned {
    Go(Box<Loaded>, Plan),
    Unknown,
}

/// Loads the shipment of `waybill` and plans the event. Before an event is kept to wait — its
/// waybill unknown, or its shipment not yet with Kaspi in our records — the waybill's lock is
/// taken and the shipment read again: an order or a handover that would make it applicable
/// takes the same lock before it replays the waiting events, so neither misses the other.
pub(super) fn plan_for_waybill(
    conn: &mut DbConnection,
    waybill: &str,
    body: &KaspiEventBody,
) -> WorkflowResult<Planned> {
    let mut locked = false;
    loop {
        let decided = match shipments::find_by_waybill(conn, waybill)? {
            None => Planned::Unknown,
            Some(loaded) => {
                let plan = plan(&loaded.shipment, body);
                Planned::Go(Box::new(loaded), plan)
            }
        };
        let would_wait = matches!(decided, Planned::Unknown | Planned::Go(_, Plan::Wait));
        if !would_wait || locked {
            return Ok(decided);
        }
        lock_key(conn, waybill)?;
        locked = true;
    }
}

pub(super) fn waiting(shipment: &ShipmentRow) -> Processed {
    Processed::on(
        Outcome::Unmatched,
        Some(shipment),
        Some(format!(
            "waiting: the shipment is still '{}' in our records",
            shipment.status
        )),
    )
}

/// Keeps an event older than the shipment's position in its history, with its true time.
pub(super) fn record_stale(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Processed> {
    let details = serde_json::json!({ "out_of_order": true, "reported": history_details(body) });
    note(conn, shipment, body.shipment_event().as_str(), details, ctx)?;
    Ok(Processed::on(
        Outcome::OutOfOrderRecorded,
        Some(shipment),
        Some(format!("the shipment is already '{}'", shipment.status)),
    ))
}

/// The event as a shipment event with its data.
pub(super) fn reported_event(body: &KaspiEventBody) -> Event {
    match body {
        KaspiEventBody::AcceptedAtPoint { .. } => Event::AcceptedAtKaspiPoint,
        KaspiEventBody::OutForDelivery { .. } => Event::OutForDelivery,
        KaspiEventBody::PlacedInCell { cell, .. } => Event::PlacedInCell {
            cell: Some(cell.to_string()),
        },
        KaspiEventBody::Collected { .. } => Event::Collected,
        KaspiEventBody::RemovedFromCell { .. } => Event::RemovedFromCell,
        KaspiEventBody::ReturnedToPoint { .. } => Event::ReturnedToKaspiPoint,
        KaspiEventBody::Lost { .. } => Event::Lost,
        KaspiEventBody::Delayed { .. } => Event::Delayed,
    }
}
