//! The transition table's rules: who holds a document, who may cause what, which deadlines
//! each step starts and meets, and what the terminal states accept.

use super::*;

#[test]
fn a_transfer_waits_for_the_end_of_storage() {
    let ends: chrono::DateTime<chrono::Utc> = "2026-12-23T19:00:00Z".parse().unwrap();
    let before = ends - chrono::Duration::seconds(1);
    assert_eq!(transfer_allowed(Some(ends), before), Err(ends));
    assert_eq!(transfer_allowed(Some(ends), ends), Ok(()));
    assert_eq!(transfer_allowed(None, before), Ok(()));
}

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
