//! п.18: Kaspi's registry of accepted envelopes reconciled with our handoff registry; each
//! difference is a discrepancy, and the envelopes on both are accepted.

use super::Processed;
use super::consequences::{Found, apply_steps, discrepancy};
use super::plan::{Plan, plan, record_stale};
use crate::db::models::registry::{self, ItemWithShipment, RegistryRow};
use crate::db::{DbConnection, lock_key};
use crate::domain::identifiers::{ExternalId, Waybill};
use crate::domain::kaspi::{DiscrepancyKind, KaspiEventBody, Outcome, registry_wait_key};
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::workflows::{EventContext, WorkflowError, WorkflowResult};

/// Kaspi's registry of accepted envelopes (п.18).
pub(super) struct Acceptance<'a> {
    pub(super) handoff_registry: &'a ExternalId,
    pub(super) kaspi_registry_number: &'a ExternalId,
    pub(super) accepted: &'a [Waybill],
    pub(super) body: &'a KaspiEventBody,
}

/// A handed-over registry with its envelopes, loaded for Kaspi's acceptance.
type ToAccept = (RegistryRow, Vec<ItemWithShipment>);

/// The handoff registry an acceptance names with its envelopes, if it is handed over: `Err`
/// with the outcome otherwise. Before an acceptance is kept to wait, the registry's lock is
/// taken and it is read again (the handover takes the same lock before it replays the waiting
/// events).
fn registry_to_accept(
    conn: &mut DbConnection,
    number: &str,
) -> WorkflowResult<Result<ToAccept, Processed>> {
    let mut locked = false;
    loop {
        let found = registry::find_with_shipments(conn, number)?
            .filter(|(r, _)| r.kind == RegistryKind::KaspiHandoff);
        let waiting = match found {
            None => format!("no handoff registry {number} yet"),
            Some((registry, items)) => match registry.state {
                RegistryState::HandedOver => return Ok(Ok((registry, items))),
                RegistryState::Accepted | RegistryState::AcceptedWithDiscrepancies => {
                    let detail = format!("registry {number} was already accepted");
                    return Ok(Err(Processed::on(
                        Outcome::OutOfOrderRecorded,
                        None,
                        Some(detail),
                    )));
                }
                // Kaspi can be ahead of our records: the acceptance waits for the handover.
                other => format!(
                    "registry {number} is '{other}' in our records: waiting for the State courier's handover"
                ),
            },
        };
        if locked {
            return Ok(Err(Processed::on(Outcome::Unmatched, None, Some(waiting))));
        }
        lock_key(conn, &registry_wait_key(number))?;
        locked = true;
    }
}

/// п.18: reconciles Kaspi's registry of accepted envelopes with our handoff registry.
pub(super) fn accept_registry(
    conn: &mut DbConnection,
    acceptance: &Acceptance<'_>,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Processed> {
    let number = acceptance.handoff_registry.as_str();
    let (registry, items) = match registry_to_accept(conn, number)? {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let kaspi_number = acceptance.kaspi_registry_number;
    let accepted: Vec<&str> = acceptance.accepted.iter().map(Waybill::as_str).collect();
    let mut mismatches = 0;
    // An envelope withdrawn from the registry before the courier signed for it (re-routed to
    // the ЦОН, issue 23) never went to the point; one brought back after it (п.18) did.
    let went = |item: &registry::ItemRow| {
        item.withdrawn_at
            .is_none_or(|at| registry.handed_over_at.is_some_and(|handed| handed <= at))
    };
    for (item, shipment, time_zone) in items.iter().filter(|(i, _, _)| went(i)) {
        let waybill = item.waybill.as_str();
        let found = |kind, detail| Found {
            registry: Some(&registry),
            shipment: Some(shipment),
            kind,
            waybill: Some(waybill),
            detail,
        };
        if !accepted.contains(&waybill) {
            mismatches += 1;
            let detail = format!(
                "envelope {waybill} is on registry {number} but not on Kaspi's registry {kaspi_number}"
            );
            discrepancy(conn, found(DiscrepancyKind::NotAccepted, detail), ctx)?;
            continue;
        }
        match plan(shipment, acceptance.body) {
            // The acceptance has no effects beyond the state.
            Plan::Apply(steps) => {
                apply_steps(conn, shipment, *time_zone, &steps, acceptance.body, ctx)?;
            }
            Plan::Stale => {
                record_stale(conn, shipment, acceptance.body, ctx)?;
            }
            Plan::Wait => {}
            // One envelope that cannot be accepted (lost meanwhile, say) is a discrepancy of
            // its own; the rest of the registry is accepted.
            Plan::Refused(refusal) => {
                mismatches += 1;
                let detail =
                    format!("envelope {waybill} was accepted by Kaspi but cannot be: {refusal}");
                discrepancy(conn, found(DiscrepancyKind::EnvelopeRefused, detail), ctx)?;
            }
        }
    }
    for waybill in accepted.iter().filter(|w| {
        !items
            .iter()
            .any(|(item, _, _)| item.waybill.as_str() == **w && went(item))
    }) {
        mismatches += 1;
        let detail = format!(
            "envelope {waybill} is on Kaspi's registry {kaspi_number} but not on registry {number}"
        );
        let found = Found {
            registry: Some(&registry),
            shipment: None,
            kind: DiscrepancyKind::UnexpectedEnvelope,
            waybill: Some(waybill),
            detail,
        };
        discrepancy(conn, found, ctx)?;
    }
    let state = if mismatches == 0 {
        RegistryState::Accepted
    } else {
        RegistryState::AcceptedWithDiscrepancies
    };
    // Another acceptance of the same registry committed first: this transaction's work is
    // undone and it is received again, finding the registry accepted.
    if !registry::accept(
        conn,
        registry.id,
        state,
        kaspi_number.as_str(),
        ctx.occurred_at,
    )? {
        return Err(WorkflowError::Conflict(format!(
            "registry {number} was accepted by another event meanwhile"
        )));
    }
    Ok(Processed::on(
        Outcome::Applied,
        None,
        (mismatches > 0).then(|| format!("{mismatches} discrepancies recorded")),
    ))
}
