//! The shipment state machine (DOMAIN.md §4): every state, every event, which actor may cause
//! it, which deadlines it starts and meets, and which notifications it causes. Handlers never
//! decide transitions; they ask [`transition`].

use crate::domain::deadline::DeadlineKind;
use crate::domain::identifiers::{Iin, Waybill};
use crate::domain::notification::NotificationKind;
use crate::domain::role::Role;
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

/// One row of the table: an event from some states to one state on some routes.
struct Row {
    event: ShipmentEvent,
    from: &'static [ShipmentState],
    to: Option<ShipmentState>,
    routes: &'static [DeliveryMethod],
    starts: &'static [DeadlineKind],
    meets: &'static [DeadlineKind],
    cancels_pending: bool,
    cancels: &'static [DeadlineKind],
    withdraws: &'static [DeadlineKind],
    supersedes: bool,
    notifies: &'static [NotificationKind],
    /// Narrower than the event's actors for these states, where the order says who holds the
    /// document (a loss is Kaspi's while Kaspi holds it, п.22, and ours otherwise, п.23).
    actors: Option<&'static [Actor]>,
}

use DeadlineKind as D;
use DeliveryMethod::{Con, Postamat};
use ShipmentState as S;

const POSTAMAT: &[DeliveryMethod] = &[Postamat];
const CON: &[DeliveryMethod] = &[Con];
const BOTH: &[DeliveryMethod] = &[Postamat, Con];

const fn row(
    event: ShipmentEvent,
    from: &'static [ShipmentState],
    to: Option<ShipmentState>,
    routes: &'static [DeliveryMethod],
) -> Row {
    Row {
        event,
        from,
        to,
        routes,
        starts: &[],
        meets: &[],
        cancels_pending: false,
        cancels: &[],
        withdraws: &[],
        supersedes: false,
        notifies: &[],
        actors: None,
    }
}

/// States in which Kaspi holds the document (п.22). A document on a sealed return pickup
/// registry is still at the Kaspi point until the State courier collects it (п.32–33).
const HELD_BY_KASPI: &[ShipmentState] = &[
    S::AcceptedAtKaspiPoint,
    S::OutForDelivery,
    S::PlacedInCell,
    S::StorageExpired,
    S::ReturningToKaspiPoint,
    S::ReturnedToKaspiPoint,
    S::InReturnRegistry,
];

/// States in which the State Corporation holds the document (п.23).
const HELD_BY_STATE: &[ShipmentState] = &[
    S::ReadyAtRegistryOffice,
    S::AtAccumulationSector,
    S::Packed,
    S::HandedToCourier,
    S::AtIssuanceSector,
];

const STATE_STAFF: &[Actor] = &[
    Actor::Role(Role::AccumulationClerk),
    Actor::Role(Role::IssuanceClerk),
    Actor::Role(Role::StateCourier),
];

/// The whole table. `to: None` records the event without moving the shipment.
const TABLE: &[Row] = &[
    // п.8–10: Kaspi's order may come at any point before the envelope leaves.
    Row {
        starts: &[D::KaspiArrival],
        ..row(
            ShipmentEvent::KaspiOrderCreated,
            &[S::ReadyAtRegistryOffice, S::AtAccumulationSector, S::Packed],
            None,
            POSTAMAT,
        )
    },
    // п.7, 17: intake starts the courier's 12:00-next-working-day handoff.
    Row {
        starts: &[D::Handoff],
        ..row(
            ShipmentEvent::Intake,
            &[S::ReadyAtRegistryOffice],
            Some(S::AtAccumulationSector),
            POSTAMAT,
        )
    },
    row(
        ShipmentEvent::Intake,
        &[S::ReadyAtRegistryOffice],
        Some(S::AtAccumulationSector),
        CON,
    ),
    // п.14, 35: the ЦОН route; the issuance sector keeps the document 1 month.
    Row {
        starts: &[D::IssuanceStorage],
        ..row(
            ShipmentEvent::RouteToIssuance,
            &[S::AtAccumulationSector],
            Some(S::AtIssuanceSector),
            CON,
        )
    },
    row(
        ShipmentEvent::Label,
        &[S::AtAccumulationSector],
        Some(S::Packed),
        POSTAMAT,
    ),
    // п.17: the courier's signature at the ЦОН is a step of its own; it meets nothing.
    row(
        ShipmentEvent::HandOverToCourier,
        &[S::Packed],
        Some(S::HandedToCourier),
        POSTAMAT,
    ),
    // п.18: an envelope the point did not accept (or the courier could not deliver) comes back
    // to the accumulation sector and goes onto a new registry; its deadlines run on.
    row(
        ShipmentEvent::BroughtBack,
        &[S::HandedToCourier],
        Some(S::Packed),
        POSTAMAT,
    ),
    // п.10, 11, 18. п.17: "доставку … в пункт приема Каспи не позднее 12-ти часов следующего
    // рабочего дня" — the courier's deadline is met by the arrival at the Kaspi point, which is
    // Kaspi's acceptance of the registry at its own `occurred_at` (issue 22, item 1).
    Row {
        starts: &[D::PointWait],
        meets: &[D::KaspiArrival, D::Handoff],
        ..row(
            ShipmentEvent::AcceptedAtKaspiPoint,
            &[S::HandedToCourier],
            Some(S::AcceptedAtKaspiPoint),
            POSTAMAT,
        )
    },
    // п.11: "время ожидания заказа в пункте приема" ends when the document leaves the point
    // (issue 22, item 3), not when it reaches a cell.
    Row {
        meets: &[D::PointWait],
        ..row(
            ShipmentEvent::OutForDelivery,
            &[S::AcceptedAtKaspiPoint],
            Some(S::OutForDelivery),
            POSTAMAT,
        )
    },
    // п.19, 21, 28. A placement straight from the point (no `out_for_delivery` reported) is
    // when the document left it; after `out_for_delivery` the wait is already met.
    Row {
        starts: &[D::Storage],
        meets: &[D::PointWait],
        notifies: &[NotificationKind::PlacedInCell],
        ..row(
            ShipmentEvent::PlacedInCell,
            &[S::AcceptedAtKaspiPoint, S::OutForDelivery],
            Some(S::PlacedInCell),
            POSTAMAT,
        )
    },
    // Issue 23, п.28–29: placed again after Kaspi took it out of its cell early. The citizen is
    // told of this placement, and the 3 calendar days count from the placement they were told
    // about: this one; the return the removal started is moot.
    Row {
        starts: &[D::Storage],
        withdraws: &[D::Return],
        notifies: &[NotificationKind::PlacedInCell],
        ..row(
            ShipmentEvent::PlacedInCell,
            &[S::ReturningToKaspiPoint],
            Some(S::PlacedInCell),
            POSTAMAT,
        )
    },
    // Moved to another cell (the first would not open) without leaving the postamat: the cell
    // is recorded; the citizen was told of the first placement, and its storage stands (п.29).
    row(
        ShipmentEvent::PlacedInCell,
        &[S::PlacedInCell],
        None,
        POSTAMAT,
    ),
    Row {
        meets: &[D::Storage],
        ..row(
            ShipmentEvent::Collected,
            &[S::PlacedInCell],
            Some(S::Collected),
            POSTAMAT,
        )
    },
    // A collection Kaspi reports after the sweeper expired the storage is still a collection:
    // the citizen holds the certificate and no return will come (п.29). The storage deadline is
    // met (on time when the collection was before its end) and the return it started cancelled.
    Row {
        meets: &[D::Storage],
        cancels: &[D::Return],
        supersedes: true,
        ..row(
            ShipmentEvent::Collected,
            &[S::StorageExpired],
            Some(S::Collected),
            POSTAMAT,
        )
    },
    // п.29–30: expiry (by the sweeper, or Kaspi's removal if it comes first) starts the return.
    Row {
        starts: &[D::Return],
        ..row(
            ShipmentEvent::StorageExpired,
            &[S::PlacedInCell],
            Some(S::StorageExpired),
            POSTAMAT,
        )
    },
    Row {
        starts: &[D::Return],
        ..row(
            ShipmentEvent::RemovedFromCell,
            &[S::PlacedInCell],
            Some(S::StorageExpired),
            POSTAMAT,
        )
    },
    row(
        ShipmentEvent::RemovedFromCell,
        &[S::StorageExpired],
        None,
        POSTAMAT,
    ),
    // Issue 23, п.29–30: taken out of the cell before the storage the citizen was told of
    // ended. The workflow tells it from a removal after the expiry by the storage's due instant
    // ([`judge_removal`]). The storage is cut short (the removal is flagged as a
    // discrepancy); Kaspi's courier places it again, or brings it to the point within 1 working
    // day as after an expiry (п.30).
    Row {
        starts: &[D::Return],
        withdraws: &[D::Storage],
        ..row(
            ShipmentEvent::RemovedEarly,
            &[S::PlacedInCell],
            Some(S::ReturningToKaspiPoint),
            POSTAMAT,
        )
    },
    Row {
        meets: &[D::Return],
        ..row(
            ShipmentEvent::ReturnedToKaspiPoint,
            &[S::StorageExpired],
            Some(S::ReturnedToKaspiPoint),
            POSTAMAT,
        )
    },
    // п.30–31: back at the point after an early removal, or re-routed to the ЦОН while with
    // Kaspi's courier (on the ЦОН route then).
    Row {
        meets: &[D::Return],
        ..row(
            ShipmentEvent::ReturnedToKaspiPoint,
            &[S::ReturningToKaspiPoint],
            Some(S::ReturnedToKaspiPoint),
            BOTH,
        )
    },
    // п.32–34; a document re-routed to the ЦОН while Kaspi held it takes the same way back.
    Row {
        starts: &[D::ReturnPickup],
        ..row(
            ShipmentEvent::AddedToReturnRegistry,
            &[S::ReturnedToKaspiPoint],
            Some(S::InReturnRegistry),
            BOTH,
        )
    },
    Row {
        starts: &[D::IssuanceStorage],
        meets: &[D::ReturnPickup],
        notifies: &[NotificationKind::ReturnedToStateCorporation],
        ..row(
            ShipmentEvent::ReturnPickedUp,
            &[S::InReturnRegistry],
            Some(S::AtIssuanceSector),
            BOTH,
        )
    },
    // п.35: issued after the month but before the hand-on fell due, nothing is left to hand on;
    // a hand-on already overdue stays as late as it was.
    Row {
        meets: &[D::IssuanceStorage, D::Duplicate],
        withdraws: &[D::Transfer],
        ..row(
            ShipmentEvent::Issued,
            &[S::AtIssuanceSector],
            Some(S::IssuedAtCon),
            BOTH,
        )
    },
    // п.35: the month's end met the storage and started the hand-on, which this meets.
    Row {
        meets: &[D::IssuanceStorage, D::Transfer],
        ..row(
            ShipmentEvent::TransferredAfterStorage,
            &[S::AtIssuanceSector],
            Some(S::TransferredAfterStorage),
            BOTH,
        )
    },
    // п.27: a delay changes no state.
    Row {
        notifies: &[NotificationKind::DeliveryLate],
        ..row(
            ShipmentEvent::Delayed,
            &[
                S::HandedToCourier,
                S::AcceptedAtKaspiPoint,
                S::OutForDelivery,
            ],
            None,
            POSTAMAT,
        )
    },
    // Issue 23, п.4: another postamat in the same city, any time before placement (or before
    // placing again after an early removal). The deadlines run on: none depends on the postamat.
    row(
        ShipmentEvent::PostamatChanged,
        &[
            S::ReadyAtRegistryOffice,
            S::AtAccumulationSector,
            S::Packed,
            S::HandedToCourier,
            S::AcceptedAtKaspiPoint,
            S::OutForDelivery,
            S::ReturningToKaspiPoint,
        ],
        None,
        POSTAMAT,
    ),
    // Issue 23, п.3, 14: the ЦОН instead of the postamat, before placement. Afterwards the
    // document is on the ЦОН route. At the registry office it waits for intake (п.14); at the
    // accumulation sector it is unpacked (its envelope off any registry not yet signed for) and
    // handed to the issuance sector, whose month starts (п.35). The postamat route's deadlines
    // not yet due are moot (one already missed stays missed). With the State courier it is
    // brought back first. At the Kaspi point it waits there for a return pickup registry
    // (п.32–33); with Kaspi's courier it is brought back to the point within 1 working day, as
    // a return (п.30).
    Row {
        withdraws: &[D::KaspiArrival],
        ..row(
            ShipmentEvent::ReroutedToCon,
            &[S::ReadyAtRegistryOffice],
            None,
            POSTAMAT,
        )
    },
    Row {
        starts: &[D::IssuanceStorage],
        withdraws: &[D::KaspiArrival, D::Handoff],
        ..row(
            ShipmentEvent::ReroutedToCon,
            &[S::AtAccumulationSector, S::Packed],
            Some(S::AtIssuanceSector),
            POSTAMAT,
        )
    },
    Row {
        withdraws: &[D::PointWait],
        ..row(
            ShipmentEvent::ReroutedToCon,
            &[S::AcceptedAtKaspiPoint],
            Some(S::ReturnedToKaspiPoint),
            POSTAMAT,
        )
    },
    Row {
        starts: &[D::Return],
        ..row(
            ShipmentEvent::ReroutedToCon,
            &[S::OutForDelivery],
            Some(S::ReturningToKaspiPoint),
            POSTAMAT,
        )
    },
    row(
        ShipmentEvent::ReroutedToCon,
        &[S::ReturningToKaspiPoint],
        None,
        POSTAMAT,
    ),
    // п.22–25.
    Row {
        cancels_pending: true,
        actors: Some(&[Actor::Role(Role::Kaspi)]),
        ..row(ShipmentEvent::Lost, HELD_BY_KASPI, Some(S::Lost), BOTH)
    },
    Row {
        cancels_pending: true,
        actors: Some(STATE_STAFF),
        ..row(ShipmentEvent::Lost, HELD_BY_STATE, Some(S::Lost), BOTH)
    },
    Row {
        notifies: &[NotificationKind::CancelledAfterLoss],
        ..row(
            ShipmentEvent::Cancelled,
            &[S::Lost],
            Some(S::Cancelled),
            BOTH,
        )
    },
];

/// What `event`, caused by `actor`, does to a shipment in `state` on route `method`.
pub fn transition(
    state: ShipmentState,
    event: ShipmentEvent,
    method: DeliveryMethod,
    actor: Actor,
) -> Result<Transition, Refusal> {
    if !event.actors().contains(&actor) {
        return Err(Refusal::NotAllowedActor {
            event,
            actor,
            state,
        });
    }
    let rows = || {
        TABLE
            .iter()
            .filter(|r| r.event == event && r.from.contains(&state))
    };
    let Some(row) = rows().find(|r| r.routes.contains(&method)) else {
        return Err(match rows().next() {
            Some(_) => Refusal::WrongRoute {
                event,
                method,
                state,
            },
            None => Refusal::NotInState { event, state },
        });
    };
    if row.actors.is_some_and(|allowed| !allowed.contains(&actor)) {
        return Err(Refusal::NotAllowedActor {
            event,
            actor,
            state,
        });
    }
    Ok(Transition {
        event,
        from: state,
        to: row.to.unwrap_or(state),
        starts: row.starts,
        meets: row.meets,
        cancels_pending: row.cancels_pending,
        cancels: row.cancels,
        withdraws: row.withdraws,
        supersedes: row.supersedes,
        notifies: row.notifies,
    })
}

/// How a Kaspi status event fits the shipment: Kaspi's events can arrive late, twice
/// or out of order, and none of that may move a shipment backwards or lose the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KaspiPlan {
    /// Apply these transitions in order. All but the last are steps Kaspi has not reported yet
    /// but that the event implies (placed in a cell implies accepted at the point).
    Apply(Vec<Transition>),
    /// The shipment is already past where this event would put it: record it in history with
    /// its true time, change nothing.
    Stale,
    /// It does not fit at all.
    Refused(Refusal),
}

/// Kaspi's steps that move a document forward, in the order they happen.
const KASPI_FORWARD: [ShipmentEvent; 5] = [
    ShipmentEvent::AcceptedAtKaspiPoint,
    ShipmentEvent::OutForDelivery,
    ShipmentEvent::PlacedInCell,
    ShipmentEvent::RemovedFromCell,
    ShipmentEvent::ReturnedToKaspiPoint,
];

/// The states reachable from `from` by Kaspi's forward steps, each with the steps taken.
fn kaspi_reachable(
    from: ShipmentState,
    method: DeliveryMethod,
) -> Vec<(ShipmentState, Vec<Transition>)> {
    let kaspi = Actor::Role(Role::Kaspi);
    let mut found: Vec<(ShipmentState, Vec<Transition>)> = vec![(from, Vec::new())];
    let mut i = 0;
    while i < found.len() {
        let (state, path) = found[i].clone();
        for event in KASPI_FORWARD {
            if let Ok(t) = transition(state, event, method, kaspi)
                && t.to != state
                && !found.iter().any(|(s, _)| *s == t.to)
            {
                let mut next = path.clone();
                next.push(t);
                found.push((t.to, next));
            }
        }
        i += 1;
    }
    found
}

/// Plans a Kaspi event for a shipment in `current`.
pub fn kaspi_plan(
    current: ShipmentState,
    event: ShipmentEvent,
    method: DeliveryMethod,
) -> KaspiPlan {
    let kaspi = Actor::Role(Role::Kaspi);
    let refusal = match transition(current, event, method, kaspi) {
        Ok(t) => return KaspiPlan::Apply(vec![t]),
        Err(refusal) => refusal,
    };
    // Stale: the shipment is already past some state where the event applies (further along
    // Kaspi's path, back at the State Corporation, lost or done).
    let applies_in: Vec<ShipmentState> = ShipmentState::ALL
        .into_iter()
        .filter(|s| transition(*s, event, method, kaspi).is_ok())
        .collect();
    let stale = applies_in.iter().any(|s| s.rank() < current.rank());
    if stale {
        return KaspiPlan::Stale;
    }
    // Ahead: Kaspi's earlier steps have not arrived yet; the event implies them.
    let ahead = kaspi_reachable(current, method)
        .into_iter()
        .filter(|(state, _)| applies_in.contains(state))
        .min_by_key(|(_, path)| path.len());
    match ahead {
        Some((state, mut path)) => {
            let last = transition(state, event, method, kaspi).expect("applies in this state");
            path.push(last);
            KaspiPlan::Apply(path)
        }
        None => KaspiPlan::Refused(refusal),
    }
}

/// A collection reported while the document is `storage_expired` supersedes the expiry (п.29)
/// unless Kaspi itself reported removing the document from its cell (п.30) at or before the
/// collection: then the report contradicts Kaspi's own and is history only.
pub fn collection_supersedes_expiry(
    removed_at: &[chrono::DateTime<chrono::Utc>],
    collected_at: chrono::DateTime<chrono::Utc>,
) -> bool {
    !removed_at.iter().any(|removed| *removed <= collected_at)
}

/// Issue 23, п.29: Kaspi's steps with a removal from the cell before the storage the citizen
/// was told of ended (`storage_ends`, its due instant) take the early removal instead, and the
/// steps after it follow from there. Without a known end (a placement only implied by the
/// removal) nothing is judged early. Other plans are returned as they are.
pub fn judge_removal(
    steps: Vec<Transition>,
    method: DeliveryMethod,
    removed_at: chrono::DateTime<chrono::Utc>,
    storage_ends: Option<chrono::DateTime<chrono::Utc>>,
) -> Vec<Transition> {
    let kaspi = Actor::Role(Role::Kaspi);
    let Some(i) = steps
        .iter()
        .position(|t| t.event == ShipmentEvent::RemovedFromCell && t.from == S::PlacedInCell)
    else {
        return steps;
    };
    if storage_ends.is_none_or(|ends| removed_at >= ends) {
        return steps;
    }
    let mut judged = steps[..i].to_vec();
    let mut state = S::PlacedInCell;
    for event in
        std::iter::once(ShipmentEvent::RemovedEarly).chain(steps[i + 1..].iter().map(|t| t.event))
    {
        let t = transition(state, event, method, kaspi)
            .expect("every step after an early removal applies from where it leaves the document");
        state = t.to;
        judged.push(t);
    }
    judged
}

/// What Kaspi reported of a step, for [`kaspi_report_is_new`].
#[derive(Debug, Clone, Copy)]
pub struct Reported<'a> {
    pub event: ShipmentEvent,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The cell, for a placement.
    pub cell: Option<&'a str>,
}

/// Issue 23, п.19, 29: in a cell, or on its way back after an early removal, a Kaspi report is
/// of a new step only if it happened after the document got where it is (`since`): a placement
/// (in a cell still, in another cell — the first would not open), or a collection or removal
/// after a placement again whose report is late. Anything else is an older or repeated report
/// of a step we have: history only.
pub fn kaspi_report_is_new(
    current: ShipmentState,
    since: Option<chrono::DateTime<chrono::Utc>>,
    current_cell: Option<&str>,
    reported: Reported<'_>,
) -> bool {
    let later = since.is_none_or(|since| reported.at > since);
    match (current, reported.event) {
        (S::PlacedInCell, ShipmentEvent::PlacedInCell) => later && current_cell != reported.cell,
        _ if kaspi_report_may_be_old(current, reported.event) => later,
        _ => true,
    }
}

/// Whether [`kaspi_report_is_new`] needs to know when the document got where it is.
pub fn kaspi_report_may_be_old(current: ShipmentState, event: ShipmentEvent) -> bool {
    matches!(
        (current, event),
        (S::PlacedInCell, ShipmentEvent::PlacedInCell)
            | (
                S::ReturningToKaspiPoint,
                ShipmentEvent::PlacedInCell
                    | ShipmentEvent::Collected
                    | ShipmentEvent::RemovedFromCell
            )
    )
}

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

/// Kaspi can be ahead of our records: it reports on an envelope whose handover to the State
/// courier (п.17) is not recorded yet. Such an event waits for the handover rather than being
/// refused.
pub fn kaspi_may_be_ahead(current: ShipmentState) -> bool {
    matches!(
        current,
        ShipmentState::ReadyAtRegistryOffice
            | ShipmentState::AtAccumulationSector
            | ShipmentState::Packed
    )
}

impl ShipmentState {
    /// How far along the document is, for telling an old event from a new one.
    fn rank(self) -> u8 {
        match self {
            ShipmentState::ReadyAtRegistryOffice => 0,
            ShipmentState::AtAccumulationSector => 1,
            ShipmentState::Packed => 2,
            ShipmentState::HandedToCourier => 3,
            ShipmentState::AcceptedAtKaspiPoint => 4,
            ShipmentState::OutForDelivery => 5,
            // Taken out of its cell early, a document may be placed (and collected, or removed)
            // again: Kaspi's reports of those steps are not behind it.
            ShipmentState::PlacedInCell | ShipmentState::ReturningToKaspiPoint => 6,
            ShipmentState::Collected | ShipmentState::StorageExpired => 7,
            ShipmentState::ReturnedToKaspiPoint => 8,
            ShipmentState::InReturnRegistry => 9,
            ShipmentState::AtIssuanceSector => 10,
            ShipmentState::IssuedAtCon | ShipmentState::TransferredAfterStorage => 11,
            ShipmentState::Lost => 12,
            ShipmentState::Cancelled => 13,
        }
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
mod tests {
    #[test]
    fn a_transfer_waits_for_the_end_of_storage() {
        let ends: chrono::DateTime<chrono::Utc> = "2026-12-23T19:00:00Z".parse().unwrap();
        let before = ends - chrono::Duration::seconds(1);
        assert_eq!(transfer_allowed(Some(ends), before), Err(ends));
        assert_eq!(transfer_allowed(Some(ends), ends), Ok(()));
        assert_eq!(transfer_allowed(None, before), Ok(()));
    }

    use super::*;

    /// Issue 22 items 6 and 9: the holder follows the document, and a loss is allowed to the
    /// side that holds it (Kaspi's, п.22; ours, п.23 — the registry office's document is
    /// declared lost by our staff, who collect it, п.6).
    #[test]
    fn every_state_has_the_holder_its_loss_row_says() {
        for state in HELD_BY_KASPI {
            assert_eq!(state.holder(), Some(Side::Kaspi), "{state}");
        }
        for state in HELD_BY_STATE {
            assert!(
                matches!(
                    state.holder(),
                    Some(Side::StateCorporation | Side::RegistryOffice)
                ),
                "{state}"
            );
        }
        assert_eq!(
            answerable(D::KaspiArrival, S::Packed),
            Some(Side::StateCorporation),
            "п.10 missed while the envelope is still at the ЦОН"
        );
        assert_eq!(
            answerable(D::ReturnPickup, S::InReturnRegistry),
            Some(Side::StateCorporation)
        );
        assert_eq!(
            answerable(D::PointWait, S::AcceptedAtKaspiPoint),
            Some(Side::Kaspi)
        );
        assert_eq!(answerable(D::Storage, S::PlacedInCell), None);
    }

    fn at(h: u32) -> chrono::DateTime<chrono::Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 28)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
    }

    fn events_of(steps: &[Transition]) -> Vec<ShipmentEvent> {
        steps.iter().map(|t| t.event).collect()
    }

    /// Issue 23, п.29: a removal before the storage the citizen was told of ended is an early
    /// removal: the storage is withdrawn, the п.30 return starts, and Kaspi places it again or
    /// brings it to the point; a removal at or after the end is the usual expiry.
    #[test]
    fn a_removal_before_the_storage_ended_is_an_early_removal() {
        let removal = |storage_ends| {
            let KaspiPlan::Apply(steps) =
                kaspi_plan(S::PlacedInCell, ShipmentEvent::RemovedFromCell, Postamat)
            else {
                panic!("a removal from a cell applies")
            };
            judge_removal(steps, Postamat, at(10), storage_ends)
        };
        let early = removal(Some(at(11)));
        assert_eq!(events_of(&early), [ShipmentEvent::RemovedEarly]);
        assert_eq!(early[0].to, S::ReturningToKaspiPoint);
        assert_eq!(early[0].withdraws, &[D::Storage]);
        assert_eq!(early[0].starts, &[D::Return]);
        for on_time in [Some(at(10)), Some(at(9)), None] {
            let expiry = removal(on_time);
            assert_eq!(events_of(&expiry), [ShipmentEvent::RemovedFromCell]);
            assert_eq!(expiry[0].to, S::StorageExpired);
        }

        // A return to the point reported straight from the cell implies the removal: early.
        let KaspiPlan::Apply(steps) = kaspi_plan(
            S::PlacedInCell,
            ShipmentEvent::ReturnedToKaspiPoint,
            Postamat,
        ) else {
            panic!("a return implies the removal")
        };
        let judged = judge_removal(steps, Postamat, at(10), Some(at(20)));
        assert_eq!(
            events_of(&judged),
            [
                ShipmentEvent::RemovedEarly,
                ShipmentEvent::ReturnedToKaspiPoint
            ]
        );
        assert_eq!(judged[1].to, S::ReturnedToKaspiPoint);
        assert_eq!(judged[1].meets, &[D::Return]);

        // A removal reported before its placement: no placement time is known, so nothing
        // is judged early (a late placement report must not turn an expiry into a flag).
        let KaspiPlan::Apply(steps) =
            kaspi_plan(S::OutForDelivery, ShipmentEvent::RemovedFromCell, Postamat)
        else {
            panic!("a removal implies the placement")
        };
        let judged = judge_removal(steps, Postamat, at(10), None);
        assert_eq!(
            events_of(&judged),
            [ShipmentEvent::PlacedInCell, ShipmentEvent::RemovedFromCell]
        );

        // On its way back after an early removal, a collection whose placement again was not
        // reported yet implies it (п.29): it is not behind the document.
        let KaspiPlan::Apply(steps) =
            kaspi_plan(S::ReturningToKaspiPoint, ShipmentEvent::Collected, Postamat)
        else {
            panic!("a collection after an early removal implies the placement again")
        };
        assert_eq!(
            events_of(&steps),
            [ShipmentEvent::PlacedInCell, ShipmentEvent::Collected]
        );

        // Placed again: a new storage the citizen is told of, the return withdrawn.
        let again = transition(
            S::ReturningToKaspiPoint,
            ShipmentEvent::PlacedInCell,
            Postamat,
            Actor::Role(Role::Kaspi),
        )
        .unwrap();
        assert_eq!(again.to, S::PlacedInCell);
        assert_eq!(again.starts, &[D::Storage]);
        assert_eq!(again.withdraws, &[D::Return]);
        assert_eq!(again.notifies, &[NotificationKind::PlacedInCell]);
    }

    /// Issue 23: another cell in the same postamat changes the cell and nothing else; an older
    /// or repeated placement report is not a placement again.
    #[test]
    fn a_placement_again_is_new_only_when_later_and_elsewhere() {
        let placed = |at, cell| Reported {
            event: ShipmentEvent::PlacedInCell,
            at,
            cell: Some(cell),
        };
        let in_cell = |since, cell, reported_at, reported| {
            kaspi_report_is_new(S::PlacedInCell, since, cell, placed(reported_at, reported))
        };
        assert!(in_cell(Some(at(10)), Some("B-17"), at(11), "B-18"));
        assert!(!in_cell(Some(at(10)), Some("B-17"), at(11), "B-17"));
        assert!(!in_cell(Some(at(10)), Some("B-17"), at(10), "B-18"));
        assert!(!in_cell(Some(at(10)), Some("B-17"), at(9), "B-18"));
        let removed = |reported: Reported| {
            kaspi_report_is_new(
                S::ReturningToKaspiPoint,
                Some(at(10)),
                Some("B-17"),
                reported,
            )
        };
        assert!(
            removed(placed(at(12), "B-17")),
            "the same cell again, after the removal"
        );
        assert!(
            !removed(placed(at(9), "B-17")),
            "the first placement, reported late"
        );
        let removal = |at| Reported {
            event: ShipmentEvent::RemovedFromCell,
            at,
            cell: None,
        };
        assert!(!removed(removal(at(10))), "the early removal itself again");
        assert!(
            removed(removal(at(11))),
            "removed again after a placement again"
        );
        assert!(kaspi_report_is_new(
            S::OutForDelivery,
            None,
            None,
            placed(at(9), "B-1")
        ));

        let moved = transition(
            S::PlacedInCell,
            ShipmentEvent::PlacedInCell,
            Postamat,
            Actor::Role(Role::Kaspi),
        )
        .unwrap();
        assert_eq!(moved.to, S::PlacedInCell);
        assert!(moved.starts.is_empty() && moved.notifies.is_empty());
    }

    /// Issue 23, п.3–4, 14: the postamat changes, or the ЦОН is chosen instead, only before
    /// placement; with the State courier the document is brought back first; what Kaspi holds
    /// comes back by the return path on the ЦОН route.
    #[test]
    fn the_way_of_delivery_changes_only_before_placement() {
        let kaspi = Actor::Role(Role::Kaspi);
        let clerk = Actor::Role(Role::AccumulationClerk);
        for state in ShipmentState::ALL {
            let before_placement = matches!(
                state,
                S::ReadyAtRegistryOffice
                    | S::AtAccumulationSector
                    | S::Packed
                    | S::HandedToCourier
                    | S::AcceptedAtKaspiPoint
                    | S::OutForDelivery
                    | S::ReturningToKaspiPoint
            );
            let changed = transition(state, ShipmentEvent::PostamatChanged, Postamat, kaspi);
            assert_eq!(changed.is_ok(), before_placement, "{state}");
            if let Ok(t) = changed {
                assert_eq!(t.to, state, "a postamat change moves nothing");
            }
            assert!(transition(state, ShipmentEvent::PostamatChanged, Con, kaspi).is_err());
            let rerouted = transition(state, ShipmentEvent::ReroutedToCon, Postamat, clerk);
            assert_eq!(
                rerouted.is_ok(),
                before_placement && state != S::HandedToCourier,
                "{state}"
            );
        }
        let to = |state| {
            transition(state, ShipmentEvent::ReroutedToCon, Postamat, kaspi)
                .unwrap()
                .to
        };
        assert_eq!(to(S::ReadyAtRegistryOffice), S::ReadyAtRegistryOffice);
        assert_eq!(to(S::Packed), S::AtIssuanceSector);
        assert_eq!(to(S::AcceptedAtKaspiPoint), S::ReturnedToKaspiPoint);
        assert_eq!(to(S::OutForDelivery), S::ReturningToKaspiPoint);
        // On the ЦОН route from here on: the issuance sector, or back through the point.
        for (state, event) in [
            (S::ReadyAtRegistryOffice, ShipmentEvent::Intake),
            (S::AtIssuanceSector, ShipmentEvent::Issued),
            (
                S::ReturningToKaspiPoint,
                ShipmentEvent::ReturnedToKaspiPoint,
            ),
            (
                S::ReturnedToKaspiPoint,
                ShipmentEvent::AddedToReturnRegistry,
            ),
            (S::InReturnRegistry, ShipmentEvent::ReturnPickedUp),
        ] {
            transition(state, event, Con, event.actors()[0])
                .unwrap_or_else(|e| panic!("{event} from {state} on the ЦОН route: {e}"));
        }
        assert!(
            transition(
                S::ReturningToKaspiPoint,
                ShipmentEvent::PlacedInCell,
                Con,
                kaspi
            )
            .is_err(),
            "a re-routed document is not placed"
        );
        assert_eq!(S::ReturningToKaspiPoint.holder(), Some(Side::Kaspi));
    }

    /// Order п.6, issue 25: at the end, what the State Corporation holds before the courier's
    /// signature goes to the ЦОН; what the courier took or Kaspi holds completes with Kaspi.
    #[test]
    fn the_pilots_end_sends_to_the_con_only_what_has_not_left_for_kaspi() {
        for state in ShipmentState::ALL {
            let judged = at_pilot_end(state, Postamat);
            let expected = match state {
                S::ReadyAtRegistryOffice | S::AtAccumulationSector | S::Packed => {
                    AtPilotEnd::ToTheCon
                }
                S::HandedToCourier
                | S::AcceptedAtKaspiPoint
                | S::OutForDelivery
                | S::PlacedInCell
                | S::StorageExpired
                | S::ReturningToKaspiPoint
                | S::ReturnedToKaspiPoint
                | S::InReturnRegistry => AtPilotEnd::CompletesWithKaspi,
                _ => AtPilotEnd::Unaffected,
            };
            assert_eq!(judged, expected, "{state}");
            assert_eq!(at_pilot_end(state, Con), AtPilotEnd::Unaffected, "{state}");
        }
    }

    fn first_actor(event: ShipmentEvent) -> Actor {
        event.actors()[0]
    }

    #[test]
    fn a_collection_after_kaspis_own_removal_does_not_supersede_the_expiry() {
        let t = |h| {
            chrono::NaiveDate::from_ymd_opt(2026, 3, 31)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
                .and_utc()
        };
        assert!(collection_supersedes_expiry(&[], t(12)));
        assert!(collection_supersedes_expiry(&[t(13)], t(12)));
        assert!(!collection_supersedes_expiry(&[t(10)], t(12)));
        assert!(!collection_supersedes_expiry(&[t(12)], t(12)));
    }

    #[test]
    fn a_collection_after_the_expiry_supersedes_it_and_cancels_the_return() {
        use ShipmentEvent as E;
        let plan = kaspi_plan(S::StorageExpired, E::Collected, Postamat);
        let KaspiPlan::Apply(steps) = plan else {
            panic!("{plan:?}")
        };
        let [t] = steps.as_slice() else {
            panic!("{steps:?}")
        };
        assert_eq!(t.to, S::Collected);
        assert!(t.supersedes);
        assert_eq!(t.meets, &[D::Storage]);
        assert_eq!(t.cancels, &[D::Return]);
        // Once the document is back at the point, a collection is history only.
        assert_eq!(
            kaspi_plan(S::ReturnedToKaspiPoint, E::Collected, Postamat),
            KaspiPlan::Stale
        );
    }

    #[test]
    fn every_state_and_event_pair_is_a_listed_transition_or_a_refusal_naming_the_state() {
        let mut allowed = std::collections::BTreeSet::new();
        for state in ShipmentState::ALL {
            for event in ShipmentEvent::ALL {
                for method in [Postamat, Con] {
                    for &actor in event.actors() {
                        match transition(state, event, method, actor) {
                            Ok(t) => {
                                allowed.insert((state, event.as_str(), method.as_str()));
                                let listed = TABLE.iter().any(|r| {
                                    r.event == event
                                        && r.from.contains(&state)
                                        && r.routes.contains(&method)
                                        && r.to.unwrap_or(state) == t.to
                                        && r.actors.is_none_or(|a| a.contains(&actor))
                                });
                                assert!(
                                    listed,
                                    "{event} from {state} ({method:?}) is not in the table"
                                );
                                assert!(
                                    !state.is_terminal(),
                                    "{event} leaves terminal state {state}"
                                );
                            }
                            Err(refusal) => {
                                let message = refusal.to_string();
                                assert!(message.contains(state.as_str()), "{message}");
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(
            allowed.len(),
            // 50, the collection that supersedes an expiry (issue 12), the envelope the State
            // courier brings back (issue 23, п.18), and issue 23's changes of delivery before
            // placement (7 postamat changes, 6 re-routes to the ЦОН, the return path on the ЦОН
            // route: +4), the early removal and what follows it (+7).
            74,
            "the number of allowed (state, event, route) triples changed"
        );
    }

    #[test]
    fn a_loss_is_declared_by_whoever_holds_the_document() {
        let kaspi = Actor::Role(Role::Kaspi);
        let clerk = Actor::Role(Role::AccumulationClerk);
        assert!(transition(S::PlacedInCell, ShipmentEvent::Lost, Postamat, kaspi).is_ok());
        assert!(transition(S::PlacedInCell, ShipmentEvent::Lost, Postamat, clerk).is_err());
        assert!(
            transition(
                S::AtAccumulationSector,
                ShipmentEvent::Lost,
                Postamat,
                clerk
            )
            .is_ok()
        );
        assert!(
            transition(
                S::AtAccumulationSector,
                ShipmentEvent::Lost,
                Postamat,
                kaspi
            )
            .is_err()
        );
    }

    #[test]
    fn no_transition_meets_more_than_two_deadlines() {
        // db::models::deadline::meet binds exactly two kinds.
        assert!(TABLE.iter().all(|row| row.meets.len() <= 2));
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for state in ShipmentState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for event in ShipmentEvent::ALL {
                assert!(transition(state, event, Postamat, first_actor(event)).is_err());
            }
        }
    }

    #[test]
    fn only_the_listed_actors_may_cause_an_event() {
        let t = transition(
            S::Packed,
            ShipmentEvent::HandOverToCourier,
            Postamat,
            Actor::Role(Role::StateCourier),
        );
        assert!(t.is_ok());
        let refused = transition(
            S::Packed,
            ShipmentEvent::HandOverToCourier,
            Postamat,
            Actor::Role(Role::Kaspi),
        );
        assert!(matches!(refused, Err(Refusal::NotAllowedActor { .. })));
        let sweeper = transition(
            S::PlacedInCell,
            ShipmentEvent::StorageExpired,
            Postamat,
            Actor::Sweeper,
        );
        assert_eq!(sweeper.unwrap().starts, &[DeadlineKind::Return]);
        assert!(
            transition(
                S::PlacedInCell,
                ShipmentEvent::StorageExpired,
                Postamat,
                Actor::Role(Role::Supervisor)
            )
            .is_err()
        );
    }

    #[test]
    fn the_postamat_path_starts_and_meets_its_deadlines() {
        let path = [
            (
                S::ReadyAtRegistryOffice,
                ShipmentEvent::KaspiOrderCreated,
                S::ReadyAtRegistryOffice,
            ),
            (
                S::ReadyAtRegistryOffice,
                ShipmentEvent::Intake,
                S::AtAccumulationSector,
            ),
            (S::AtAccumulationSector, ShipmentEvent::Label, S::Packed),
            (
                S::Packed,
                ShipmentEvent::HandOverToCourier,
                S::HandedToCourier,
            ),
            (
                S::HandedToCourier,
                ShipmentEvent::AcceptedAtKaspiPoint,
                S::AcceptedAtKaspiPoint,
            ),
            (
                S::AcceptedAtKaspiPoint,
                ShipmentEvent::OutForDelivery,
                S::OutForDelivery,
            ),
            (
                S::OutForDelivery,
                ShipmentEvent::PlacedInCell,
                S::PlacedInCell,
            ),
            (S::PlacedInCell, ShipmentEvent::Collected, S::Collected),
        ];
        let mut started = Vec::new();
        for (from, event, to) in path {
            let t = transition(from, event, Postamat, first_actor(event)).unwrap();
            assert_eq!(t.to, to);
            started.extend_from_slice(t.starts);
            for met in t.meets {
                assert!(
                    started.contains(met),
                    "{event} meets {met:?} that never started"
                );
            }
        }
        assert_eq!(
            started,
            [D::KaspiArrival, D::Handoff, D::PointWait, D::Storage]
        );
        let placed = transition(
            S::OutForDelivery,
            ShipmentEvent::PlacedInCell,
            Postamat,
            Actor::Role(Role::Kaspi),
        )
        .unwrap();
        assert_eq!(placed.notifies, &[NotificationKind::PlacedInCell]);
    }

    #[test]
    fn the_con_route_skips_the_envelope_and_the_courier() {
        let intake = transition(
            S::ReadyAtRegistryOffice,
            ShipmentEvent::Intake,
            Con,
            Actor::Role(Role::AccumulationClerk),
        )
        .unwrap();
        assert_eq!(
            intake.starts,
            &[] as &[DeadlineKind],
            "no Kaspi handoff on the ЦОН route"
        );
        let routed = transition(
            S::AtAccumulationSector,
            ShipmentEvent::RouteToIssuance,
            Con,
            Actor::Role(Role::AccumulationClerk),
        )
        .unwrap();
        assert_eq!(routed.to, S::AtIssuanceSector);
        let label = transition(
            S::AtAccumulationSector,
            ShipmentEvent::Label,
            Con,
            Actor::Role(Role::AccumulationClerk),
        );
        assert!(matches!(label, Err(Refusal::WrongRoute { .. })));
        assert!(
            label
                .unwrap_err()
                .to_string()
                .contains("at_accumulation_sector")
        );
    }

    #[test]
    fn a_delay_and_a_kaspi_order_are_recorded_without_moving_the_shipment() {
        let delay = transition(
            S::OutForDelivery,
            ShipmentEvent::Delayed,
            Postamat,
            Actor::Role(Role::Kaspi),
        )
        .unwrap();
        assert_eq!(delay.to, S::OutForDelivery);
        let order = transition(
            S::Packed,
            ShipmentEvent::KaspiOrderCreated,
            Postamat,
            Actor::Role(Role::Kaspi),
        )
        .unwrap();
        assert_eq!(
            (order.to, order.starts),
            (S::Packed, &[D::KaspiArrival][..])
        );
    }

    fn plan_events(plan: KaspiPlan) -> Vec<ShipmentEvent> {
        match plan {
            KaspiPlan::Apply(steps) => steps.iter().map(|t| t.event).collect(),
            other => panic!("expected steps, got {other:?}"),
        }
    }

    #[test]
    fn a_kaspi_event_that_arrives_first_implies_the_steps_before_it() {
        use ShipmentEvent as E;
        assert_eq!(
            plan_events(kaspi_plan(S::HandedToCourier, E::PlacedInCell, Postamat)),
            [E::AcceptedAtKaspiPoint, E::PlacedInCell]
        );
        assert_eq!(
            plan_events(kaspi_plan(S::HandedToCourier, E::Collected, Postamat)),
            [E::AcceptedAtKaspiPoint, E::PlacedInCell, E::Collected]
        );
        assert_eq!(
            plan_events(kaspi_plan(
                S::AcceptedAtKaspiPoint,
                E::ReturnedToKaspiPoint,
                Postamat
            )),
            [E::PlacedInCell, E::RemovedFromCell, E::ReturnedToKaspiPoint]
        );
        assert_eq!(
            plan_events(kaspi_plan(S::OutForDelivery, E::PlacedInCell, Postamat)),
            [E::PlacedInCell]
        );
    }

    #[test]
    fn a_kaspi_event_older_than_the_shipment_is_stale_and_never_moves_it_back() {
        use ShipmentEvent as E;
        assert_eq!(
            kaspi_plan(S::Collected, E::AcceptedAtKaspiPoint, Postamat),
            KaspiPlan::Stale
        );
        assert_eq!(
            kaspi_plan(S::Collected, E::PlacedInCell, Postamat),
            KaspiPlan::Stale
        );
        assert_eq!(
            kaspi_plan(S::PlacedInCell, E::OutForDelivery, Postamat),
            KaspiPlan::Stale
        );
        assert_eq!(
            kaspi_plan(S::ReturnedToKaspiPoint, E::RemovedFromCell, Postamat),
            KaspiPlan::Stale
        );
        assert_eq!(
            kaspi_plan(S::PlacedInCell, E::Delayed, Postamat),
            KaspiPlan::Stale
        );
        assert_eq!(
            kaspi_plan(S::Lost, E::OutForDelivery, Postamat),
            KaspiPlan::Stale
        );
    }

    #[test]
    fn a_kaspi_event_that_fits_nowhere_is_refused() {
        use ShipmentEvent as E;
        // Kaspi cannot imply the State courier's handover.
        assert!(matches!(
            kaspi_plan(S::Packed, E::AcceptedAtKaspiPoint, Postamat),
            KaspiPlan::Refused(_)
        ));
        assert!(matches!(
            kaspi_plan(S::AtIssuanceSector, E::PlacedInCell, Con),
            KaspiPlan::Refused(_)
        ));
    }

    #[test]
    fn a_loss_cancels_every_pending_deadline_and_only_the_registry_office_cancels() {
        let lost = transition(
            S::PlacedInCell,
            ShipmentEvent::Lost,
            Postamat,
            Actor::Role(Role::Kaspi),
        )
        .unwrap();
        assert!(lost.cancels_pending);
        assert!(
            transition(
                S::Collected,
                ShipmentEvent::Lost,
                Postamat,
                Actor::Role(Role::Kaspi)
            )
            .is_err()
        );
        let cancelled = transition(
            S::Lost,
            ShipmentEvent::Cancelled,
            Con,
            Actor::Role(Role::RegistryOffice),
        )
        .unwrap();
        assert_eq!(cancelled.notifies, &[NotificationKind::CancelledAfterLoss]);
    }
}
