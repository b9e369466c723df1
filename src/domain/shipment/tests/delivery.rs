//! A change of the way of delivery (issue 23) and the pilot's end (п.6, issue 25).

use super::*;

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
            S::ReadyAtRegistryOffice | S::AtAccumulationSector | S::Packed => AtPilotEnd::ToTheCon,
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
