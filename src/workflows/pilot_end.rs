//! The pilot's end (order п.6: "действует до 31 декабря 2026 года"; issue 25). From 00:00 of the
//! day after the last day of the pilot window, in each branch's zone:
//!
//! - a postamat is no longer chosen (registration refuses it, `register`);
//! - no new delivery starts through Kaspi: an application executed after the end is made for
//!   the ЦОН (`registry_office::execute`), and a document the State Corporation still holds
//!   before its courier signed for it — at the registry office, taken in, or packed — is
//!   re-routed to the ЦОН by the sweeper ([`reroute_after_end`]); the citizen is told why and
//!   where, and Kaspi is asked to cancel an order it made;
//! - everything the State courier has taken or Kaspi holds completes its way as in the pilot,
//!   with every deadline, event and message: stopping a delivery already under way would
//!   leave the citizen's document between the two sides.
//!
//! Our reading of п.6: the order is the only basis for handing documents to Kaspi, so none is
//! handed over after it; what was handed over while it was in force is finished under it.

use super::{EventContext, WorkflowError, WorkflowResult, delivery};
use crate::db::DbConnection;
use crate::db::models::shipment as shipments;
use crate::domain::application::{DeliveryChangeReason, PilotWindow};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::shipment::{ShipmentState, goes_to_the_con_at_pilot_end};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What [`reroute_after_end`] did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PilotEndReport {
    /// Documents re-routed to the ЦОН in this round.
    pub rerouted_to_con: usize,
    /// Re-routes that failed this time (logged; the next round tries again).
    pub failed: usize,
}

/// After the pilot's end at `as_of`: every postamat document still with the State Corporation
/// before its courier signed for it is re-routed to the ЦОН, each in its own transaction, dated
/// at the end. A document another instance re-routed meanwhile is skipped. Before the end (in
/// every zone the documents are in) it reads nothing but the candidates.
pub fn reroute_after_end(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    pilot: PilotWindow,
    calendar: &CalendarSnapshot,
) -> WorkflowResult<PilotEndReport> {
    let mut report = PilotEndReport::default();
    // Kazakhstan's zones are less than a day ahead of UTC: before 00:00 UTC of the last day the
    // pilot runs in every branch, and there is nothing to read.
    if as_of.date_naive() < pilot.ends_on {
        return Ok(report);
    }
    let states: Vec<ShipmentState> = ShipmentState::ALL
        .into_iter()
        .filter(|s| goes_to_the_con_at_pilot_end(*s))
        .collect();
    for (number, zone) in shipments::on_postamat_route_in(conn, &states)? {
        let tz = zone.tz();
        if !pilot.is_over(as_of, tz) {
            continue;
        }
        let ctx = EventContext::sweeper(pilot.ends_at(tz), as_of, calendar);
        match delivery::reroute_to_con(conn, &number, DeliveryChangeReason::PilotEnded, &ctx) {
            Ok(_) => report.rerouted_to_con += 1,
            Err(e) if e.is_ours() || matches!(e, WorkflowError::Conflict(_)) => {
                tracing::error!(application = %number, error = %e.chain(), "re-route at the pilot's end failed; the next sweep retries");
                report.failed += 1;
            }
            // Another instance re-routed it, or a clerk moved it on, meanwhile.
            Err(e) => {
                tracing::debug!(application = %number, reason = %e, "not re-routed at the pilot's end")
            }
        }
    }
    Ok(report)
}
