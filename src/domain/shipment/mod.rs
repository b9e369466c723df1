//! The shipment state machine (DOMAIN.md §4): every state, every event, which actor may cause
//! it, which deadlines it starts and meets, and which notifications it causes. Handlers never
//! decide transitions; they ask [`transition`].

use crate::domain::deadline::DeadlineKind;
use crate::domain::identifiers::{Iin, Waybill};
use crate::domain::notification::NotificationKind;
use crate::domain::role::Role;
use DeadlineKind as D;
use DeliveryMethod::{Con, Postamat};
use ShipmentState as S;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentState {
    /// Executed by the registry office, waiting for the State courier (п.6, 8).
    ReadyAtRegistryOffice,
    /// Registered by the accumulation sector (п.7, 12).
    AtAccumulationSector,
    /// Packed and labelled with its waybill (п.13, 15, 16).
    Packed,
    /// Handed to the State courier with a sealed registry (п.17).
    HandedToCourier,
    /// Accepted at the Kaspi point (п.18).
    AcceptedAtKaspiPoint,
    /// With the Kaspi courier (п.19).
    OutForDelivery,
    /// In the postamat cell (п.19, 21, 28).
    PlacedInCell,
    /// Collected by the citizen (п.29).
    Collected,
    /// Not collected in time (п.30).
    StorageExpired,
    /// With the Kaspi courier on the way back to the point: taken out of its cell before its
    /// storage ended (п.29), or re-routed to the ЦОН while out for delivery (issue 23).
    ReturningToKaspiPoint,
    /// Back at the Kaspi point (п.31).
    ReturnedToKaspiPoint,
    /// On a return pickup registry (п.32, 33).
    InReturnRegistry,
    /// At the issuance sector of the State Corporation (п.14, 34, 35).
    AtIssuanceSector,
    /// Issued at the ЦОН.
    IssuedAtCon,
    /// Handed over after 1 month of storage (п.35).
    TransferredAfterStorage,
    /// Lost (п.22–24).
    Lost,
    /// Cancelled by the registry office after a loss (п.24).
    Cancelled,
}

names!(ShipmentState {
    ReadyAtRegistryOffice => "ready_at_registry_office",
    AtAccumulationSector => "at_accumulation_sector",
    Packed => "packed",
    HandedToCourier => "handed_to_courier",
    AcceptedAtKaspiPoint => "accepted_at_kaspi_point",
    OutForDelivery => "out_for_delivery",
    PlacedInCell => "placed_in_cell",
    Collected => "collected",
    StorageExpired => "storage_expired",
    ReturningToKaspiPoint => "returning_to_kaspi_point",
    ReturnedToKaspiPoint => "returned_to_kaspi_point",
    InReturnRegistry => "in_return_registry",
    AtIssuanceSector => "at_issuance_sector",
    IssuedAtCon => "issued_at_con",
    TransferredAfterStorage => "transferred_after_storage",
    Lost => "lost",
    Cancelled => "cancelled",
});

impl ShipmentState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ShipmentState::Collected
                | ShipmentState::IssuedAtCon
                | ShipmentState::TransferredAfterStorage
                | ShipmentState::Cancelled
        )
    }
}

/// A side of the pilot: who holds a document, and who answers for a deadline it missed
/// (DOMAIN.md §5; п.22–23, 36).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    StateCorporation,
    Kaspi,
    RegistryOffice,
}

names!(Side {
    StateCorporation => "state_corporation",
    Kaspi => "kaspi",
    RegistryOffice => "registry_office",
});

impl ShipmentState {
    /// Who physically holds a document in this state; `None` once it has left the pilot (with
    /// the citizen or the recipient of a transfer, lost or cancelled). A document executed by
    /// the registry office is there until the State courier collects it (п.6); one on a sealed
    /// return pickup registry is at the Kaspi point until the State courier collects it
    /// (п.32–33).
    pub fn holder(self) -> Option<Side> {
        match self {
            S::ReadyAtRegistryOffice => Some(Side::RegistryOffice),
            S::AtAccumulationSector | S::Packed | S::HandedToCourier | S::AtIssuanceSector => {
                Some(Side::StateCorporation)
            }
            S::AcceptedAtKaspiPoint
            | S::OutForDelivery
            | S::PlacedInCell
            | S::StorageExpired
            | S::ReturningToKaspiPoint
            | S::ReturnedToKaspiPoint
            | S::InReturnRegistry => Some(Side::Kaspi),
            S::Collected | S::IssuedAtCon | S::TransferredAfterStorage | S::Lost | S::Cancelled => {
                None
            }
        }
    }
}

/// Who answers for a deadline of `kind` that passed unmet while the document was in
/// `state_at_due` (issue 22 item 9; п.36 disputes need exactly this): the side that held the
/// document at the due instant — a `kaspi_arrival` (п.10) missed while the envelope is still at
/// the ЦОН is the ЦОН's. Where the document waits for the State courier at another side's
/// premises, the next step is the courier's errand and the State Corporation answers: an
/// executed document at the registry office (п.6: "курьер Госкорпорации забирает готовые
/// результаты") and one on a sealed return pickup registry at the Kaspi point (п.33). An
/// uncollected cell (п.21, 29) is the citizen's choice, and the month at the issuance sector
/// (п.35) runs its course: nobody's.
pub fn answerable(kind: DeadlineKind, state_at_due: ShipmentState) -> Option<Side> {
    match kind {
        DeadlineKind::Storage
        | DeadlineKind::IssuanceStorage
        | DeadlineKind::ForceMajeureNotice => None,
        DeadlineKind::Handoff
        | DeadlineKind::KaspiArrival
        | DeadlineKind::PointWait
        | DeadlineKind::Return
        | DeadlineKind::ReturnPickup
        | DeadlineKind::Transfer
        | DeadlineKind::Duplicate => match state_at_due {
            S::ReadyAtRegistryOffice | S::InReturnRegistry => Some(Side::StateCorporation),
            other => other.holder(),
        },
    }
}

/// How the citizen chose to receive the certificate (п.3–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMethod {
    /// A Kaspi postamat.
    Postamat,
    /// A ЦОН (State Corporation service centre).
    Con,
}

names!(DeliveryMethod {
    Postamat => "postamat",
    Con => "con",
});

/// What happens to a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentEvent {
    /// Kaspi created the delivery order (п.8–10).
    KaspiOrderCreated,
    /// The accumulation sector registered the document (п.7).
    Intake,
    /// A ЦОН-route document goes to the issuance sector (п.14).
    RouteToIssuance,
    /// The envelope was labelled with its waybill (п.15–16).
    Label,
    /// The State courier took the sealed registry's envelopes (п.17).
    HandOverToCourier,
    /// The State courier brought back an envelope the Kaspi point did not accept (п.18), or
    /// could not deliver: back to the accumulation sector, for a new registry.
    BroughtBack,
    /// The Kaspi point accepted the envelope (п.18).
    AcceptedAtKaspiPoint,
    /// The Kaspi courier set off (п.19).
    OutForDelivery,
    /// Placed in the postamat cell (п.19, 21).
    PlacedInCell,
    /// The citizen collected it (п.29).
    Collected,
    /// Three calendar days passed without collection (п.29–30), noticed by the sweeper.
    StorageExpired,
    /// Kaspi removed the uncollected document from the cell (п.30).
    RemovedFromCell,
    /// Kaspi took the document out of its cell before its storage ended (п.29): flagged, and
    /// Kaspi's courier is to place it again or bring it back to the point (issue 23).
    RemovedEarly,
    /// Back at the Kaspi point (п.31).
    ReturnedToKaspiPoint,
    /// Put on a return pickup registry (п.32).
    AddedToReturnRegistry,
    /// The State courier brought it back to the State Corporation (п.33).
    ReturnPickedUp,
    /// Issued at the ЦОН.
    Issued,
    /// Handed over after 1 month of storage (п.35).
    TransferredAfterStorage,
    /// Reported delayed, with a new expected date (п.27): not a state.
    Delayed,
    /// The citizen's postamat changed before placement (another in the same city, п.4): the
    /// citizen's choice, or the chosen one out of service. Not a state.
    PostamatChanged,
    /// The citizen asked for the ЦОН instead of the postamat before placement (п.3, 14): the
    /// document goes to the issuance sector, through the return path when Kaspi holds it.
    ReroutedToCon,
    /// Lost, with a loss act (п.22–23).
    Lost,
    /// The registry office cancelled the application after the loss (п.24).
    Cancelled,
}

names!(ShipmentEvent {
    KaspiOrderCreated => "kaspi_order_created",
    Intake => "intake",
    RouteToIssuance => "route_to_issuance",
    Label => "label",
    HandOverToCourier => "hand_over_to_courier",
    BroughtBack => "brought_back",
    AcceptedAtKaspiPoint => "accepted_at_kaspi_point",
    OutForDelivery => "out_for_delivery",
    PlacedInCell => "placed_in_cell",
    Collected => "collected",
    StorageExpired => "storage_expired",
    RemovedFromCell => "removed_from_cell",
    RemovedEarly => "removed_early",
    ReturnedToKaspiPoint => "returned_to_kaspi_point",
    AddedToReturnRegistry => "added_to_return_registry",
    ReturnPickedUp => "return_picked_up",
    Issued => "issued",
    TransferredAfterStorage => "transferred_after_storage",
    Delayed => "delayed",
    PostamatChanged => "postamat_changed",
    ReroutedToCon => "rerouted_to_con",
    Lost => "lost",
    Cancelled => "cancelled",
});

impl ShipmentEvent {
    /// Who may cause it. `None` in the list stands for the sweeper (no API role).
    pub fn actors(self) -> &'static [Actor] {
        use Actor::{Role as R, Sweeper};
        match self {
            ShipmentEvent::KaspiOrderCreated
            | ShipmentEvent::AcceptedAtKaspiPoint
            | ShipmentEvent::OutForDelivery
            | ShipmentEvent::PlacedInCell
            | ShipmentEvent::Collected
            | ShipmentEvent::RemovedFromCell
            | ShipmentEvent::RemovedEarly
            | ShipmentEvent::ReturnedToKaspiPoint
            | ShipmentEvent::Delayed
            | ShipmentEvent::PostamatChanged => &[R(Role::Kaspi)],
            // The citizen asks in the Kaspi app (Kaspi reports it) or at the ЦОН (the
            // accumulation sector records it); at the pilot's end, the sweeper (issue 25).
            ShipmentEvent::ReroutedToCon => &[R(Role::Kaspi), R(Role::AccumulationClerk), Sweeper],
            ShipmentEvent::Intake
            | ShipmentEvent::RouteToIssuance
            | ShipmentEvent::Label
            | ShipmentEvent::AddedToReturnRegistry => &[R(Role::AccumulationClerk)],
            // п.17, 33: the courier signs for the envelopes; the clerk may record it for them.
            ShipmentEvent::HandOverToCourier
            | ShipmentEvent::ReturnPickedUp
            | ShipmentEvent::BroughtBack => &[R(Role::StateCourier), R(Role::AccumulationClerk)],
            ShipmentEvent::Issued | ShipmentEvent::TransferredAfterStorage => {
                &[R(Role::IssuanceClerk)]
            }
            ShipmentEvent::StorageExpired => &[Sweeper],
            // п.22: Kaspi's side; п.23: the State Corporation's side.
            ShipmentEvent::Lost => &[
                R(Role::Kaspi),
                R(Role::AccumulationClerk),
                R(Role::IssuanceClerk),
                R(Role::StateCourier),
            ],
            ShipmentEvent::Cancelled => &[R(Role::RegistryOffice)],
        }
    }
}

/// Who causes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Role(Role),
    /// The scheduled sweeper enforcing deadlines.
    Sweeper,
}

/// Whether a shipment carries the original certificate or a free duplicate (п.26).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentKind {
    Original,
    Duplicate,
}

names!(ShipmentKind {
    Original => "original",
    Duplicate => "duplicate",
});

/// Who received a document at the ЦОН.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssuedTo {
    Applicant,
    /// With a power of attorney.
    Representative,
}

names!(IssuedTo {
    Applicant => "applicant",
    Representative => "representative",
});

/// The person a document is issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The applicant, identified by the IIN of the application.
    Applicant { iin: Iin, name: String },
    /// A representative with a power of attorney.
    Representative {
        iin: Iin,
        name: String,
        power_of_attorney: String,
    },
}

impl Recipient {
    pub fn issued_to(&self) -> IssuedTo {
        match self {
            Recipient::Applicant { .. } => IssuedTo::Applicant,
            Recipient::Representative { .. } => IssuedTo::Representative,
        }
    }
}

/// An event with what it brings to the shipment's record. The one writer of a shipment's state
/// stores the data with the new state; [`ShipmentEvent`] is its kind, which the table judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// п.8–10: Kaspi's order, with the waybill the envelope will carry.
    KaspiOrderCreated {
        order_id: String,
        waybill: Waybill,
    },
    Intake,
    /// п.14: with the registry office's registry the document came with.
    RouteToIssuance {
        registry_office_registry: String,
    },
    Label,
    HandOverToCourier,
    BroughtBack,
    AcceptedAtKaspiPoint,
    OutForDelivery,
    /// The cell, when Kaspi reported it (a placement implied by a collection has none).
    PlacedInCell {
        cell: Option<String>,
    },
    Collected,
    StorageExpired,
    RemovedFromCell,
    RemovedEarly,
    ReturnedToKaspiPoint,
    AddedToReturnRegistry,
    ReturnPickedUp,
    Issued {
        recipient: Recipient,
    },
    TransferredAfterStorage,
    Delayed,
    /// The postamat is the application's; the event brings nothing to the shipment's row.
    PostamatChanged,
    ReroutedToCon,
    Lost,
    Cancelled,
}

impl Event {
    pub fn kind(&self) -> ShipmentEvent {
        match self {
            Event::KaspiOrderCreated { .. } => ShipmentEvent::KaspiOrderCreated,
            Event::Intake => ShipmentEvent::Intake,
            Event::RouteToIssuance { .. } => ShipmentEvent::RouteToIssuance,
            Event::Label => ShipmentEvent::Label,
            Event::HandOverToCourier => ShipmentEvent::HandOverToCourier,
            Event::BroughtBack => ShipmentEvent::BroughtBack,
            Event::AcceptedAtKaspiPoint => ShipmentEvent::AcceptedAtKaspiPoint,
            Event::OutForDelivery => ShipmentEvent::OutForDelivery,
            Event::PlacedInCell { .. } => ShipmentEvent::PlacedInCell,
            Event::Collected => ShipmentEvent::Collected,
            Event::StorageExpired => ShipmentEvent::StorageExpired,
            Event::RemovedFromCell => ShipmentEvent::RemovedFromCell,
            Event::RemovedEarly => ShipmentEvent::RemovedEarly,
            Event::ReturnedToKaspiPoint => ShipmentEvent::ReturnedToKaspiPoint,
            Event::AddedToReturnRegistry => ShipmentEvent::AddedToReturnRegistry,
            Event::ReturnPickedUp => ShipmentEvent::ReturnPickedUp,
            Event::Issued { .. } => ShipmentEvent::Issued,
            Event::TransferredAfterStorage => ShipmentEvent::TransferredAfterStorage,
            Event::Delayed => ShipmentEvent::Delayed,
            Event::PostamatChanged => ShipmentEvent::PostamatChanged,
            Event::ReroutedToCon => ShipmentEvent::ReroutedToCon,
            Event::Lost => ShipmentEvent::Lost,
            Event::Cancelled => ShipmentEvent::Cancelled,
        }
    }

    /// The event of a kind that brings nothing of its own (the steps a Kaspi event implies,
    /// the registry's effects on its envelopes). `None` for kinds that need their data.
    pub fn bare(kind: ShipmentEvent) -> Option<Event> {
        Some(match kind {
            ShipmentEvent::Intake => Event::Intake,
            ShipmentEvent::Label => Event::Label,
            ShipmentEvent::HandOverToCourier => Event::HandOverToCourier,
            ShipmentEvent::BroughtBack => Event::BroughtBack,
            ShipmentEvent::AcceptedAtKaspiPoint => Event::AcceptedAtKaspiPoint,
            ShipmentEvent::OutForDelivery => Event::OutForDelivery,
            ShipmentEvent::PlacedInCell => Event::PlacedInCell { cell: None },
            ShipmentEvent::Collected => Event::Collected,
            ShipmentEvent::StorageExpired => Event::StorageExpired,
            ShipmentEvent::RemovedFromCell => Event::RemovedFromCell,
            ShipmentEvent::RemovedEarly => Event::RemovedEarly,
            ShipmentEvent::ReturnedToKaspiPoint => Event::ReturnedToKaspiPoint,
            ShipmentEvent::AddedToReturnRegistry => Event::AddedToReturnRegistry,
            ShipmentEvent::ReturnPickedUp => Event::ReturnPickedUp,
            ShipmentEvent::TransferredAfterStorage => Event::TransferredAfterStorage,
            ShipmentEvent::Delayed => Event::Delayed,
            ShipmentEvent::PostamatChanged => Event::PostamatChanged,
            ShipmentEvent::ReroutedToCon => Event::ReroutedToCon,
            ShipmentEvent::Lost => Event::Lost,
            ShipmentEvent::Cancelled => Event::Cancelled,
            ShipmentEvent::KaspiOrderCreated
            | ShipmentEvent::RouteToIssuance
            | ShipmentEvent::Issued => return None,
        })
    }
}

/// What an allowed event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub event: ShipmentEvent,
    pub from: ShipmentState,
    /// Equal to `from` for events that are recorded without moving the shipment.
    pub to: ShipmentState,
    pub starts: &'static [DeadlineKind],
    pub meets: &'static [DeadlineKind],
    /// Every pending deadline is cancelled (the shipment left the normal path).
    pub cancels_pending: bool,
    /// Pending deadlines of these kinds are cancelled: what the state being left had started.
    pub cancels: &'static [DeadlineKind],
    /// Pending deadlines of these kinds not yet due at the event are withdrawn (cancelled): the
    /// event made them moot. One already due stands, met by nothing, for the sweeper to judge.
    pub withdraws: &'static [DeadlineKind],
    /// The event is a fact from before the state it leaves, which the sweeper decided without
    /// knowing it (a collection reported after the expiry of storage): it supersedes that state.
    pub supersedes: bool,
    pub notifies: &'static [NotificationKind],
}

/// Why an event is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("cannot apply '{event}' to a shipment in state '{state}'")]
    NotInState {
        event: ShipmentEvent,
        state: ShipmentState,
    },
    #[error("'{event}' does not apply to {method} shipments (the shipment is in state '{state}')", method = .method.as_str())]
    WrongRoute {
        event: ShipmentEvent,
        method: DeliveryMethod,
        state: ShipmentState,
    },
    #[error("{actor:?} may not cause '{event}' (the shipment is in state '{state}')")]
    NotAllowedActor {
        event: ShipmentEvent,
        actor: Actor,
        state: ShipmentState,
    },
}

mod kaspi;
mod table;

pub use kaspi::*;
pub use table::transition;

/// Order п.6, issue 25: at the pilot's end a postamat document the State Corporation still
/// holds before its courier signed for it — at the registry office, taken in, or packed — has
/// no way to Kaspi any more and is issued at the ЦОН. One the State courier has taken, or that
/// Kaspi holds, completes its way with every deadline as usual.
pub fn goes_to_the_con_at_pilot_end(state: ShipmentState) -> bool {
    matches!(
        state,
        ShipmentState::ReadyAtRegistryOffice
            | ShipmentState::AtAccumulationSector
            | ShipmentState::Packed
    )
}

/// What the pilot's end does to a document on its way, were it still where it is then (issue
/// 25, the supervisors' outlook; order п.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AtPilotEnd {
    /// A postamat document the State Corporation holds before its courier signed for it: it is
    /// re-routed to the ЦОН ([`goes_to_the_con_at_pilot_end`]).
    ToTheCon,
    /// A postamat document the State courier has taken or Kaspi holds: it completes its way
    /// after the end as in the pilot.
    CompletesWithKaspi,
    /// On the ЦОН's side (the ЦОН route, the issuance sector, a loss): the end changes nothing.
    Unaffected,
}

/// [`AtPilotEnd`] for a document in `state` on route `method`.
pub fn at_pilot_end(state: ShipmentState, method: DeliveryMethod) -> AtPilotEnd {
    if method == DeliveryMethod::Con {
        return AtPilotEnd::Unaffected;
    }
    if goes_to_the_con_at_pilot_end(state) {
        return AtPilotEnd::ToTheCon;
    }
    match state.holder() {
        Some(Side::Kaspi) => AtPilotEnd::CompletesWithKaspi,
        _ if state == S::HandedToCourier => AtPilotEnd::CompletesWithKaspi,
        _ => AtPilotEnd::Unaffected,
    }
}

/// п.35: the issuance sector keeps a document one month before handing it on. Until the
/// storage deadline's due instant (`storage_ends`) a transfer is refused with that instant.
pub fn transfer_allowed(
    storage_ends: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), chrono::DateTime<chrono::Utc>> {
    match storage_ends {
        Some(ends) if ends > now => Err(ends),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
