//! п.29–30: Kaspi's removal of a document from its cell, and the reports that race it: whether
//! a collection after the expiry contradicts Kaspi's own removal, whether a report is news, and
//! a removal before the storage the citizen was told of ended (issue 23).

use super::consequences::{Found, discrepancy};
use crate::db::DbConnection;
use crate::db::models::shipment::{Loaded, ShipmentRow};
use crate::db::models::{deadline, history};
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::identifiers::Waybill;
use crate::domain::kaspi::{DiscrepancyKind, KaspiEvent, KaspiEventBody};
use crate::domain::shipment::{
    Reported, ShipmentEvent, ShipmentState, Transition, collection_supersedes_expiry,
    judge_removal, kaspi_report_is_new, kaspi_report_may_be_old,
};
use crate::workflows::{EventContext, WorkflowResult};

/// Whether a collection reported after the expiry contradicts Kaspi's own removal report
/// ([`collection_supersedes_expiry`]); reads the history only in that case.
pub(super) fn contradicts_removal(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    event: &KaspiEvent,
) -> WorkflowResult<bool> {
    if shipment.status != ShipmentState::StorageExpired
        || !matches!(event.body, KaspiEventBody::Collected { .. })
    {
        return Ok(false);
    }
    let removed: Vec<_> =
        history::kaspi_reports(conn, shipment.id, ShipmentEvent::RemovedFromCell.as_str())?
            .into_iter()
            .map(|(at, _)| at)
            .collect();
    Ok(!collection_supersedes_expiry(&removed, event.occurred_at))
}

/// Issue 23: in a cell, or on its way back after an early removal, a Kaspi report is of a new
/// step only if it is later than where the document is now ([`kaspi_report_is_new`]); reads
/// the history only in those states.
pub(super) fn report_is_new(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    event: &KaspiEvent,
) -> WorkflowResult<bool> {
    if !kaspi_report_may_be_old(shipment.status, event.body.shipment_event()) {
        return Ok(true);
    }
    let reported = Reported {
        event: event.body.shipment_event(),
        at: event.occurred_at,
        cell: match &event.body {
            KaspiEventBody::PlacedInCell { cell, .. } => Some(cell.as_str()),
            _ => None,
        },
    };
    let since = history::entered_at(conn, shipment.id, shipment.status.as_str())?;
    Ok(kaspi_report_is_new(
        shipment.status,
        since,
        shipment.postamat_cell.as_deref(),
        reported,
    ))
}

/// Issue 23, п.29: a removal from the cell before the storage the citizen was told of ended is
/// an early removal ([`judge_removal`]), and flagged; so is one reported only after the sweeper
/// expired the storage. Reads the storage's due instant only for a removal from a cell we have
/// the document in, or after its expiry. Returns the steps and whether to flag the removal.
pub(super) fn judge_early_removal(
    conn: &mut DbConnection,
    loaded: &Loaded,
    steps: Vec<Transition>,
    event: &KaspiEvent,
) -> WorkflowResult<(Vec<Transition>, bool)> {
    let removal = steps
        .iter()
        .any(|t| t.event == ShipmentEvent::RemovedFromCell);
    let storage = match loaded.shipment.status {
        ShipmentState::PlacedInCell if removal => Some(DeadlineState::Pending),
        ShipmentState::StorageExpired if removal => Some(DeadlineState::Breached),
        _ => None,
    };
    let Some(storage) = storage else {
        return Ok((steps, false));
    };
    let storage_ends = deadline::of_shipment(conn, loaded.shipment.id)?
        .into_iter()
        .filter(|d| d.kind == DeadlineKind::Storage && d.state == storage)
        .map(|d| d.due_at)
        .max();
    if loaded.shipment.status == ShipmentState::StorageExpired {
        // Recorded where it is; the flag says the cell did not keep the citizen's days.
        let early = storage_ends.is_some_and(|ends| event.occurred_at < ends);
        return Ok((steps, early));
    }
    let judged = judge_removal(
        steps,
        loaded.shipment.delivery_method,
        event.occurred_at,
        storage_ends,
    );
    let early = judged
        .iter()
        .any(|t| t.event == ShipmentEvent::RemovedEarly);
    Ok((judged, early))
}

/// An early removal is flagged for the supervisors as a discrepancy (Kaspi's side): the citizen
/// was told a day to collect by that the cell did not keep.
pub(super) fn flag_early_removal(
    conn: &mut DbConnection,
    loaded: &Loaded,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    let row = &loaded.shipment;
    let local = ctx
        .occurred_at
        .with_timezone(&loaded.time_zone.tz())
        .format("%d.%m.%Y %H:%M");
    let detail = format!(
        "taken out of cell {} of its postamat at {local}, before the storage the citizen was told of ended (п.29)",
        row.postamat_cell.as_deref().unwrap_or("-")
    );
    discrepancy(
        conn,
        Found {
            registry: None,
            shipment: Some(row),
            kind: DiscrepancyKind::RemovedEarly,
            waybill: row.waybill.as_ref().map(Waybill::as_str),
            detail,
        },
        ctx,
    )
}
