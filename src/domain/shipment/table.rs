//! The transition table (п.9–36): each event, from which states, to which, on which routes, with
//! the deadlines it starts, meets, cancels and withdraws, and the notices it sends. Declarative:
//! [`transition`] reads it.

use super::*;

/// One row of the table: an event from some states to one state on some routes.
pub(super) struct Row {
    pub(super) event: ShipmentEvent,
    pub(super) from: &'static [ShipmentState],
    pub(super) to: Option<ShipmentState>,
    pub(super) routes: &'static [DeliveryMethod],
    pub(super) starts: &'static [DeadlineKind],
    pub(super) meets: &'static [DeadlineKind],
    pub(super) cancels_pending: bool,
    pub(super) cancels: &'static [DeadlineKind],
    pub(super) withdraws: &'static [DeadlineKind],
    pub(super) supersedes: bool,
    pub(super) notifies: &'static [NotificationKind],
    /// Narrower than the event's actors for these states, where the order says who holds the
    /// document (a loss is Kaspi's while Kaspi holds it, п.22, and ours otherwise, п.23).
    pub(super) actors: Option<&'static [Actor]>,
}

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
pub(super) const HELD_BY_KASPI: &[ShipmentState] = &[
    S::AcceptedAtKaspiPoint,
    S::OutForDelivery,
    S::PlacedInCell,
    S::StorageExpired,
    S::ReturningToKaspiPoint,
    S::ReturnedToKaspiPoint,
    S::InReturnRegistry,
];

/// States in which the State Corporation holds the document (п.23).
pub(super) const HELD_BY_STATE: &[ShipmentState] = &[
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
pub(super) const TABLE: &[Row] = &[
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
