//! Events are facts with their own time: a delay tells the citizen one date (п.27), a
//! collection reported after the sweeper expired the storage is still a collection (п.29), and
//! a collection reported before its placement sends no message after the fact.

use crate::common::{Pilot, accepted_event, deadline_state, event, placed_event};
use crate::kaspi_events::assert_in_time_order;
use serde_json::{Value, json};

fn delayed(id: &str, waybill: &str, at: &str, date: &str) -> Value {
    json!({"event_id": id, "type": "delayed", "waybill": waybill, "occurred_at": at, "new_expected_date": date})
}

fn kinds(notes: &[crate::common::Note]) -> Vec<&str> {
    notes.iter().map(|n| n.kind.as_str()).collect()
}

#[actix_web::test]
async fn a_delay_kaspi_dated_is_the_only_date_the_citizen_gets() {
    let p = Pilot::new().await;
    // Accepted at the point on Thursday 26 Mar: the point wait ends at 24:00 of 31 Mar (п.11).
    let (id, registry) = p.handed_over("LD-1").await;
    p.kaspi_event(accepted_event("ld-a", &registry, &["WB-LD-1"]))
        .await;
    p.set_clock("2026-03-30T08:00:00Z");
    let told = p
        .kaspi_event(delayed(
            "ld-d2",
            "WB-LD-1",
            "2026-03-30T12:00:00+05:00",
            "2026-04-06",
        ))
        .await;
    assert_eq!(told["outcome"], "applied");

    // The point wait runs out: Kaspi's date is still ahead, so the sweeper says nothing.
    let swept = p.sweep("2026-04-01T00:00:00Z").await;
    assert_eq!((swept.due, swept.delay_notified), (1, 0), "{swept:?}");
    let shipment = p.shipment(&id).await;
    assert_eq!(deadline_state(&shipment, "point_wait"), "breached");

    // An older report arriving late, and a new one whose date is already past: recorded, silent.
    p.set_clock("2026-04-01T03:00:00Z");
    for late in [
        delayed(
            "ld-d1",
            "WB-LD-1",
            "2026-03-29T12:00:00+05:00",
            "2026-04-02",
        ),
        delayed(
            "ld-d3",
            "WB-LD-1",
            "2026-04-01T07:00:00+05:00",
            "2026-03-31",
        ),
    ] {
        assert_eq!(p.kaspi_event(late).await["outcome"], "applied");
    }
    let notes = p.notifications(&id).await;
    assert_eq!(kinds(&notes), ["delivery_late"], "{notes:?}");
    assert!(notes[0].body.contains("06.04.2026"), "{}", notes[0].body);
    let timeline = p.shipment(&id).await["timeline"].clone();
    let delays = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "delayed")
        .count();
    assert_eq!(delays, 3, "every report is in the history");
}

#[actix_web::test]
async fn without_a_date_from_kaspi_the_sweeper_announces_the_next_working_day() {
    let p = Pilot::new().await;
    let (id, registry) = p.handed_over("LD-2").await;
    p.kaspi_event(accepted_event("ld2-a", &registry, &["WB-LD-2"]))
        .await;
    // Kaspi's own date has passed by the time the point wait runs out.
    p.set_clock("2026-03-27T08:00:00Z");
    p.kaspi_event(delayed(
        "ld2-d",
        "WB-LD-2",
        "2026-03-27T12:00:00+05:00",
        "2026-03-30",
    ))
    .await;
    let swept = p.sweep("2026-04-01T00:00:00Z").await;
    assert_eq!(swept.delay_notified, 1, "{swept:?}");
    let notes = p.notifications(&id).await;
    assert_eq!(kinds(&notes), ["delivery_late", "delivery_late"]);
    // 1 Apr local is a Wednesday: the next working day is Thursday 2 Apr, not a past date.
    assert!(
        notes.iter().any(|n| n.body.contains("02.04.2026")),
        "{notes:?}"
    );
}

#[actix_web::test]
async fn a_collection_reported_after_the_expiry_supersedes_it() {
    let p = Pilot::new().await;
    // In a cell since Friday 27 Mar 15:00: storage ends at 24:00 of Monday 30 Mar (п.21, 29).
    let mut ids = Vec::new();
    for number in ["LT-1", "LT-2"] {
        let (id, registry) = p.handed_over(number).await;
        let waybill = format!("WB-{number}");
        p.kaspi_event(accepted_event(
            &format!("{number}-a"),
            &registry,
            &[&waybill],
        ))
        .await;
        p.kaspi_event(placed_event(&format!("{number}-p"), &waybill, "PST-ALA-1"))
            .await;
        ids.push(id);
    }
    let swept = p.sweep("2026-04-01T00:00:00Z").await;
    assert_eq!(swept.storage_expired, 2, "{swept:?}");
    // The return Kaspi owes (1 working day, п.30) runs out too before anyone hears more.
    let overdue = p.sweep("2026-04-06T00:00:00Z").await;
    assert_eq!(overdue.escalated, 2, "{overdue:?}");
    assert_eq!(
        deadline_state(&p.shipment(&ids[0]).await, "return"),
        "breached"
    );
    let before = p.notifications(&ids[0]).await.len();

    // LT-1 was collected on the last day of storage, LT-2 the morning after; Kaspi tells us late.
    p.set_clock("2026-04-06T03:00:00Z");
    for (number, at, storage) in [
        ("LT-1", "2026-03-30T18:00:00+05:00", "met"),
        ("LT-2", "2026-03-31T09:00:00+05:00", "met_late"),
    ] {
        let id = &ids[if number == "LT-1" { 0 } else { 1 }];
        let answer = p
            .kaspi_event(event(
                &format!("{number}-c"),
                "collected",
                &format!("WB-{number}"),
                at,
            ))
            .await;
        assert_eq!(answer["outcome"], "applied", "{answer}");
        assert_eq!(answer["state"], "collected");
        let shipment = p.shipment(id).await;
        assert_eq!(shipment["state"], "collected");
        assert_eq!(deadline_state(&shipment, "storage"), storage);
        let due = shipment["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "storage")
            .unwrap()
            .clone();
        // 24:00 of Monday 30 Mar in Almaty.
        assert_eq!(due["due_at"], "2026-03-30T19:00:00Z");
        assert_eq!(due["due_local"], "2026-03-31T00:00:00+05:00");
        assert_eq!(
            deadline_state(&shipment, "return"),
            "cancelled",
            "no return is awaited"
        );
        let collected = shipment["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"] == "collected")
            .unwrap()
            .clone();
        assert_eq!(collected["from"], "storage_expired", "{collected}");
        assert_eq!(collected["details"]["supersedes"], "storage_expired");
        assert_eq!(collected["details"]["reported"]["type"], "collected");
    }
    assert_eq!(p.notifications(&ids[0]).await.len(), before);

    // A sweep later has nothing left to do for them.
    let later = p.sweep("2026-04-20T00:00:00Z").await;
    assert_eq!(later.escalated, 0, "{later:?}");
}

#[actix_web::test]
async fn a_collection_before_its_placement_sends_no_message_after_the_fact() {
    let p = Pilot::new().await;
    let (id, registry) = p.handed_over("LC-1").await;
    p.kaspi_event(accepted_event("lc-a", &registry, &["WB-LC-1"]))
        .await;
    let collected = p
        .kaspi_event(event(
            "lc-c",
            "collected",
            "WB-LC-1",
            "2026-03-28T12:00:00+05:00",
        ))
        .await;
    assert_eq!(collected["state"], "collected");
    let placed = p
        .kaspi_event(placed_event("lc-p", "WB-LC-1", "PST-ALA-1"))
        .await;
    assert_eq!(placed["outcome"], "out_of_order_recorded");
    assert!(
        p.notifications(&id).await.is_empty(),
        "the citizen already holds it: no 'collect it' message"
    );
    assert_in_time_order(&p.shipment(&id).await);
}

#[actix_web::test]
async fn a_collection_after_kaspis_own_removal_is_history_only() {
    let p = Pilot::new().await;
    let (id, registry) = p.handed_over("LR-1").await;
    p.kaspi_event(accepted_event("lr-a", &registry, &["WB-LR-1"]))
        .await;
    p.kaspi_event(placed_event("lr-p", "WB-LR-1", "PST-ALA-1"))
        .await;
    assert_eq!(p.sweep("2026-04-01T00:00:00Z").await.storage_expired, 1);
    p.set_clock("2026-04-01T06:00:00Z");
    p.kaspi_event(event(
        "lr-r",
        "removed_from_cell",
        "WB-LR-1",
        "2026-03-31T10:00:00+05:00",
    ))
    .await;
    // Kaspi says it took the document out at 10:00, then that the citizen took it at 12:00.
    let contradicting = p
        .kaspi_event(event(
            "lr-c",
            "collected",
            "WB-LR-1",
            "2026-03-31T12:00:00+05:00",
        ))
        .await;
    assert_eq!(contradicting["outcome"], "out_of_order_recorded");
    let shipment = p.shipment(&id).await;
    assert_eq!(shipment["state"], "storage_expired");
    assert_eq!(
        deadline_state(&shipment, "return"),
        "pending",
        "the return is still owed"
    );
}
