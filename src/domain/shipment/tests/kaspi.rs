//! Kaspi's status events against the table: implied steps, stale and waiting events, early
//! removals (п.29), repeated placements and collections after an expiry.

use super::*;

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
    assert!(matches!(
        kaspi_plan(S::AtIssuanceSector, E::PlacedInCell, Con),
        KaspiPlan::Refused(_)
    ));
    assert!(matches!(
        kaspi_plan(S::AtIssuanceSector, E::AcceptedAtKaspiPoint, Con),
        KaspiPlan::Refused(_)
    ));
}

/// Kaspi cannot imply the State courier's handover (п.17): before it is recorded, an event
/// that does not fit waits for it, in exactly the states before the handover.
#[test]
fn a_kaspi_event_ahead_of_the_handover_waits_for_it() {
    use ShipmentEvent as E;
    assert_eq!(
        kaspi_plan(S::Packed, E::AcceptedAtKaspiPoint, Postamat),
        KaspiPlan::Wait
    );
    for state in ShipmentState::ALL {
        let waits = ShipmentEvent::ALL
            .into_iter()
            .any(|e| kaspi_plan(state, e, Postamat) == KaspiPlan::Wait);
        let before_handover = matches!(
            state,
            S::ReadyAtRegistryOffice | S::AtAccumulationSector | S::Packed
        );
        assert_eq!(waits, before_handover, "{state}");
    }
}
