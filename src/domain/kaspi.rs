//! Kaspi's delivery-status events (п.9, 18–20, 27–31) as Kaspi reports them, and what becomes of
//! each. Kept as reported: an event that cannot apply yet is stored and applied later in this
//! same form.

use crate::domain::identifiers::{ExternalId, Waybill};
use crate::domain::reference::{KaspiPostamatId, Text};
use crate::domain::shipment::ShipmentEvent;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Kaspi's loss act (п.22).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KaspiLossAct {
    pub number: ExternalId,
    pub cause: Text,
    pub circumstances: Text,
    /// The employee bearing material responsibility.
    pub responsible_employee: Text,
}

/// What happened, by event type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KaspiEventBody {
    /// The point accepted envelopes against our handoff registry and made its own (п.18).
    AcceptedAtPoint {
        /// Our handoff registry number, e.g. `ALM01-2026-000001`.
        handoff_registry: ExternalId,
        /// Kaspi's registry of accepted documents.
        kaspi_registry_number: ExternalId,
        accepted_waybills: Vec<Waybill>,
    },
    /// A Kaspi courier took it to the postamat (п.19).
    OutForDelivery { waybill: Waybill },
    /// Placed in a cell (п.19, 21).
    PlacedInCell {
        waybill: Waybill,
        postamat_id: KaspiPostamatId,
        cell: ExternalId,
    },
    /// The citizen collected it (п.29).
    Collected { waybill: Waybill },
    /// Removed from the cell after storage expired (п.30).
    RemovedFromCell { waybill: Waybill },
    /// Back at the Kaspi point (п.31).
    ReturnedToPoint { waybill: Waybill },
    /// Lost on Kaspi's side, with its loss act (п.22).
    Lost {
        waybill: Waybill,
        loss_act: KaspiLossAct,
    },
    /// Late, with a new expected delivery date (п.27).
    Delayed {
        waybill: Waybill,
        new_expected_date: NaiveDate,
    },
}

/// One event from Kaspi. Its OpenAPI schema is written in `api::integrations::kaspi_schema`,
/// from `KaspiEventBody`'s: one object per event type, chosen by `type`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KaspiEvent {
    /// Kaspi's id of the event: unique; a repeat changes nothing.
    pub event_id: ExternalId,
    /// When it happened (not when it was sent).
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: KaspiEventBody,
}

impl KaspiEventBody {
    pub fn type_name(&self) -> &'static str {
        match self {
            KaspiEventBody::AcceptedAtPoint { .. } => "accepted_at_point",
            KaspiEventBody::OutForDelivery { .. } => "out_for_delivery",
            KaspiEventBody::PlacedInCell { .. } => "placed_in_cell",
            KaspiEventBody::Collected { .. } => "collected",
            KaspiEventBody::RemovedFromCell { .. } => "removed_from_cell",
            KaspiEventBody::ReturnedToPoint { .. } => "returned_to_point",
            KaspiEventBody::Lost { .. } => "lost",
            KaspiEventBody::Delayed { .. } => "delayed",
        }
    }

    /// The envelope it is about; an acceptance is about a whole registry.
    pub fn waybill(&self) -> Option<&Waybill> {
        match self {
            KaspiEventBody::AcceptedAtPoint { .. } => None,
            KaspiEventBody::OutForDelivery { waybill }
            | KaspiEventBody::PlacedInCell { waybill, .. }
            | KaspiEventBody::Collected { waybill }
            | KaspiEventBody::RemovedFromCell { waybill }
            | KaspiEventBody::ReturnedToPoint { waybill }
            | KaspiEventBody::Lost { waybill, .. }
            | KaspiEventBody::Delayed { waybill, .. } => Some(waybill),
        }
    }

    /// What the event waits on while it cannot apply: its waybill, or for an acceptance the
    /// handoff registry it names.
    pub fn wait_key(&self) -> String {
        match self {
            KaspiEventBody::AcceptedAtPoint {
                handoff_registry, ..
            } => registry_wait_key(handoff_registry.as_str()),
            other => other.waybill().map(Waybill::to_string).unwrap_or_default(),
        }
    }

    pub fn shipment_event(&self) -> ShipmentEvent {
        match self {
            KaspiEventBody::AcceptedAtPoint { .. } => ShipmentEvent::AcceptedAtKaspiPoint,
            KaspiEventBody::OutForDelivery { .. } => ShipmentEvent::OutForDelivery,
            KaspiEventBody::PlacedInCell { .. } => ShipmentEvent::PlacedInCell,
            KaspiEventBody::Collected { .. } => ShipmentEvent::Collected,
            KaspiEventBody::RemovedFromCell { .. } => ShipmentEvent::RemovedFromCell,
            KaspiEventBody::ReturnedToPoint { .. } => ShipmentEvent::ReturnedToKaspiPoint,
            KaspiEventBody::Lost { .. } => ShipmentEvent::Lost,
            KaspiEventBody::Delayed { .. } => ShipmentEvent::Delayed,
        }
    }
}

/// The wait key of an acceptance event naming a handoff registry.
pub fn registry_wait_key(number: &str) -> String {
    format!("registry:{number}")
}

/// What became of a Kaspi event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The shipment moved (or the event was recorded where it applies).
    Applied,
    /// Seen before: the first outcome is in `first_outcome`; nothing changed.
    Duplicate,
    /// Older than the shipment's position: recorded in its history with its true time.
    OutOfOrderRecorded,
    /// It does not fit; `reason` says why. Kept, and a repeat gets the same answer.
    Rejected,
    /// Its waybill is not known yet: kept and applied when it becomes known.
    Unmatched,
}

names!(Outcome {
    Applied => "applied",
    Duplicate => "duplicate",
    OutOfOrderRecorded => "out_of_order_recorded",
    Rejected => "rejected",
    Unmatched => "unmatched",
});

/// A difference between what we handed over and what Kaspi reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// On our registry, not on Kaspi's (п.18).
    NotAccepted,
    /// On Kaspi's registry, not on ours.
    UnexpectedEnvelope,
    /// Accepted by Kaspi, but it cannot be in our records (lost meanwhile, say).
    EnvelopeRefused,
    /// Placed in another postamat than the citizen chose (п.4, 19).
    WrongPostamat,
    /// Taken out of its cell before the storage the citizen was told of ended (п.29).
    RemovedEarly,
}

names!(DiscrepancyKind {
    NotAccepted => "not_accepted",
    UnexpectedEnvelope => "unexpected_envelope",
    EnvelopeRefused => "envelope_refused",
    WrongPostamat => "wrong_postamat",
    RemovedEarly => "removed_early",
});
