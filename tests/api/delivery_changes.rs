//! Issue 23, traps 3 and 4: a citizen's way of delivery changing before placement (another
//! postamat in the city, п.4; the ЦОН instead, п.3, 14), and a document Kaspi took out of its
//! cell early or placed again (п.28–30). Each walks into the situation and out again through
//! the API.

use crate::common::{Pilot, accepted_event, deadline_state, event, placed_event};
use postamat::domain::role::Role;
use serde_json::{Value, json};

fn timeline_events(shipment: &Value) -> Vec<String> {
    shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Trap 3, п.4: the chosen postamat went out of service while the document waited at Kaspi's
/// point; Kaspi reports another one in the same city. The deadlines run on, the citizen is told,
/// and the placement there is no discrepancy and names the new address. After placement the
/// postamat no longer changes.
#[actix_web::test]
async fn kaspi_moves_a_document_to_another_postamat_in_the_city_before_placement() {
    let p = Pilot::new().await;
    p.second_postamat().await;

    // Before execution: the application alone changes; no document to tell of yet.
    p.register("PC-0", "postamat").await;
    let moved = p
        .change_postamat("PC-0", "pc0-1", "PST-ALA-2", "citizen_request")
        .await
        .assert_status(200);
    assert_eq!(moved["postamat"]["kaspi_id"], "PST-ALA-2");
    assert_eq!(moved["delivery_method"], "postamat");

    let (id, registry) = p.handed_over("PC-1").await;
    p.kaspi_event(accepted_event("pc1-a", &registry, &["WB-PC-1"]))
        .await;
    let before = p.shipment(&id).await;
    let body = |postamat: &str| (postamat.to_owned(), "postamat_out_of_service");
    let (to, reason) = body("PST-ALA-2");
    let moved = p
        .change_postamat("PC-1", "pc1-1", &to, reason)
        .await
        .assert_status(200);
    assert_eq!(moved["postamat"]["kaspi_id"], "PST-ALA-2");
    // A repeat is the same answer; the same id with another postamat is refused.
    let again = p
        .change_postamat("PC-1", "pc1-1", &to, reason)
        .await
        .assert_status(200);
    assert_eq!(again, moved);
    p.change_postamat("PC-1", "pc1-1", "PST-ALA-1", reason)
        .await
        .assert_problem(409, "event_id_reused");
    p.change_postamat("PC-1", "pc1-2", "PST-AST-1", reason)
        .await
        .assert_problem(422, "postamat_not_in_city");
    p.change_postamat("PC-1", "pc1-3", "PST-NOWHERE", reason)
        .await
        .assert_problem(422, "unknown_postamat");

    let after = p.shipment(&id).await;
    assert_eq!(after["state"], "accepted_at_kaspi_point");
    assert_eq!(after["postamat"]["kaspi_id"], "PST-ALA-2");
    assert_eq!(
        after["deadlines"], before["deadlines"],
        "no deadline depends on the postamat"
    );
    let line = after["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "postamat_changed")
        .expect("the change is in the history");
    assert_eq!(line["details"]["from"], "PST-ALA-1");
    assert_eq!(line["details"]["to"], "PST-ALA-2");
    assert_eq!(line["details"]["reason"], "postamat_out_of_service");
    let told: Vec<_> = p
        .notifications(&id)
        .await
        .into_iter()
        .filter(|n| n.kind == "postamat_changed")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].channel, "kaspi_app");
    assert!(told[0].body.contains("Достық даңғ., 5"), "{}", told[0].body);

    // Placed in the new postamat: no discrepancy, and п.28 names where it is.
    p.kaspi_event(placed_event("pc1-p", "WB-PC-1", "PST-ALA-2"))
        .await;
    assert!(
        !p.discrepancy_kinds()
            .await
            .contains(&"wrong_postamat".into())
    );
    let placed: Vec<_> = p
        .notifications(&id)
        .await
        .into_iter()
        .filter(|n| n.kind == "placed_in_cell")
        .collect();
    assert!(placed[0].body.contains("Достық даңғ., 5"), "{placed:?}");
    p.change_postamat("PC-1", "pc1-4", "PST-ALA-1", "citizen_request")
        .await
        .assert_problem(409, "invalid_transition");
}

/// Trap 3, п.3, 14: the citizen asks at the ЦОН counter for the certificate there. A packed
/// envelope on a sealed registry not yet signed for leaves it (the line marked withdrawn, the
/// registry as signed), goes to the issuance sector, and the courier's signature takes the
/// others. Kaspi, which had the order, is asked to stop; the citizen is told where to come.
#[actix_web::test]
async fn the_citizen_asks_the_con_for_a_packed_document_and_it_goes_to_the_issuance_sector() {
    let p = Pilot::new().await;
    // Taken in on Thursday 19 March, before the order's 13:00 of Friday (п.10) and the
    // courier's 12:00 of Friday (п.17) are due.
    p.set_clock("2026-03-19T06:00:00Z");
    p.packed("RC-1").await;
    let other = p.packed("RC-2").await;
    let (registry, _) = p.seal(&["RC-1", "RC-2"]).await;
    let rerouted = p.con_instead_at_the_con("RC-1").await.assert_status(200);
    assert_eq!(rerouted["delivery_method"], "con");
    assert!(rerouted["postamat"].is_null());
    let document = &rerouted["shipments"][0];
    assert_eq!(document["state"], "at_issuance_sector");
    let id = document["id"].as_str().unwrap().to_owned();
    let shipment = p.shipment(&id).await;
    assert_eq!(shipment["delivery_method"], "con");
    for (kind, state) in [
        ("kaspi_arrival", "cancelled"),
        ("handoff", "cancelled"),
        ("issuance_storage", "pending"),
    ] {
        assert_eq!(deadline_state(&shipment, kind), state, "{kind}");
    }
    let requests = p.outbound().await;
    let cancel: Vec<_> = requests
        .iter()
        .filter(|(k, _)| k == "cancel_delivery")
        .collect();
    assert_eq!(cancel.len(), 1, "{requests:?}");
    assert_eq!(cancel[0].1["waybill"], "WB-RC-1");
    assert_eq!(cancel[0].1["return_to_point"], false);
    let mut told: Vec<_> = p
        .notifications(&id)
        .await
        .into_iter()
        .filter(|n| n.kind == "rerouted_to_con")
        .map(|n| n.channel)
        .collect();
    told.sort();
    assert_eq!(told, ["kaspi_app", "sms_1414"]);

    // The courier signs for the rest; the signed registry still lists both, one withdrawn.
    let handed = p.sign_for(&registry).await.assert_status(200);
    assert_eq!(handed["state"], "handed_over");
    assert_eq!(p.shipment(&other).await["state"], "handed_to_courier");
    assert_eq!(p.shipment(&id).await["state"], "at_issuance_sector");
    let signed_line = p.shipment(&other).await["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "hand_over_to_courier")
        .unwrap()["details"]
        .clone();
    assert_eq!(signed_line["withdrawn_after_sealing"], json!(["WB-RC-1"]));
    // The printed registry keeps both lines as signed and notes the one withdrawn below them.
    let print = p
        .app
        .get(
            &format!("/api/v1/registries/{registry}/print"),
            Some(&p.courier),
        )
        .await;
    let shown = crate::printed::visible_text(&print.text);
    assert!(shown.contains("Всего конвертов: 2"), "{shown}");
    assert!(
        shown.contains("WB-RC-1 — тізілімнен алынды / изъят из реестра: 19.03.2026"),
        "{shown}"
    );

    // Issued at the ЦОН like any other.
    p.app
        .post(
            &format!("/api/v1/shipments/{id}/issue"),
            Some(&p.issuance),
            &json!({"recipient": {"type": "applicant", "iin": crate::common::iin(12)}}),
        )
        .await
        .assert_status(200);
    assert_eq!(p.shipment(&id).await["state"], "issued_at_con");
    // Nothing to re-route any more.
    p.con_instead_at_the_con("RC-1")
        .await
        .assert_problem(409, "invalid_transition");
}

/// Trap 3: the ЦОН asked for before the registry office executed the application: the
/// document is made for the ЦОН route, and Kaspi is never asked for an order.
#[actix_web::test]
async fn an_application_rerouted_before_execution_is_executed_for_the_con() {
    let p = Pilot::new().await;
    p.register("RE-1", "postamat").await;
    let view = p.con_instead_by_kaspi("RE-1").await;
    assert_eq!(view["delivery_method"], "con");
    p.execute("RE-1").await;
    assert!(
        p.outbound().await.iter().all(|(k, _)| k != "create_order"),
        "no Kaspi order for a ЦОН delivery"
    );
    let taken = p.intake(&["RE-1"], Some("РАГС-реестр 7")).await;
    assert_eq!(taken["items"][0]["state"], "at_issuance_sector");
    // Told once there is a document, on both channels, that the ЦОН will issue it.
    let id = taken["items"][0]["shipment_id"].as_str().unwrap();
    let told: Vec<_> = p
        .notifications(id)
        .await
        .into_iter()
        .filter(|n| n.kind == "rerouted_to_con")
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[0].body.contains("ХҚКО-да береді"), "{told:?}");
}

/// Trap 3: what Kaspi holds comes back by the return path (п.30–34) on the ЦОН route: from the
/// point straight onto a return pickup registry; from Kaspi's courier back to the point within
/// 1 working day first. With the State courier it is brought back first.
#[actix_web::test]
async fn a_document_kaspi_holds_comes_back_to_the_con_by_the_return_path() {
    let p = Pilot::new().await;
    // With the State courier: refused until brought back or accepted.
    let (_, with_courier) = p.handed_over("RK-0").await;
    let refused = p
        .con_instead_at_the_con("RK-0")
        .await
        .assert_problem(409, "invalid_transition");
    assert!(
        refused["detail"].as_str().unwrap().contains("bring-back"),
        "{refused}"
    );

    // At the point: it waits there for the return pickup registry.
    let (at_point, registry) = p.handed_over("RK-1").await;
    p.kaspi_event(accepted_event("rk1-a", &registry, &["WB-RK-1"]))
        .await;
    let view = p.con_instead_by_kaspi("RK-1").await;
    assert_eq!(view["shipments"][0]["state"], "returned_to_kaspi_point");
    let shipment = p.shipment(&at_point).await;
    assert_eq!(deadline_state(&shipment, "point_wait"), "cancelled");
    // Asked in the app: Kaspi knows; nothing is sent to it.
    assert!(
        p.outbound()
            .await
            .iter()
            .all(|(k, _)| k != "cancel_delivery")
    );
    // Kaspi's placement of it now is refused: it goes to the ЦОН.
    let placed = p
        .kaspi_event(placed_event("rk1-p", "WB-RK-1", "PST-ALA-1"))
        .await;
    assert_eq!(placed["outcome"], "rejected", "{placed}");

    // With Kaspi's courier: back at the point within 1 working day (п.30), then the same way.
    let (out, registry) = p.handed_over("RK-2").await;
    p.kaspi_event(accepted_event("rk2-a", &registry, &["WB-RK-2"]))
        .await;
    p.kaspi_event(event(
        "rk2-o",
        "out_for_delivery",
        "WB-RK-2",
        "2026-03-26T10:30:00+05:00",
    ))
    .await;
    let view = p.con_instead_by_kaspi("RK-2").await;
    assert_eq!(view["shipments"][0]["state"], "returning_to_kaspi_point");
    assert_eq!(
        crate::common::deadline(&p.shipment(&out).await, "return")["due_local"],
        "2026-03-28T00:00:00+05:00"
    );
    p.kaspi_event(event(
        "rk2-b",
        "returned_to_point",
        "WB-RK-2",
        "2026-03-26T17:00:00+05:00",
    ))
    .await;
    let shipment = p.shipment(&out).await;
    assert_eq!(shipment["state"], "returned_to_kaspi_point");
    assert_eq!(deadline_state(&shipment, "return"), "met");

    // Both go on one return pickup registry; the courier brings them to the issuance sector,
    // and the citizen is told it is there as asked (п.34).
    let draft = p
        .app
        .post(
            "/api/v1/registries",
            Some(&p.clerk),
            &json!({"kind": "return_pickup", "application_numbers": ["RK-1", "RK-2"]}),
        )
        .await
        .assert_status(201);
    let registry = draft["id"].as_str().unwrap();
    p.app
        .post(
            &format!("/api/v1/registries/{registry}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    p.sign_for(registry).await.assert_status(200);
    for id in [&at_point, &out] {
        let shipment = p.shipment(id).await;
        assert_eq!(shipment["state"], "at_issuance_sector");
        let events = timeline_events(&shipment);
        assert!(events.contains(&"rerouted_to_con".to_owned()), "{events:?}");
        let returned: Vec<_> = p
            .notifications(id)
            .await
            .into_iter()
            .filter(|n| n.kind == "returned_to_state_corporation")
            .collect();
        assert_eq!(returned.len(), 2, "{returned:?}");
        assert!(
            returned
                .iter()
                .all(|n| n.body.contains("өтінішіңіз бойынша")),
            "{returned:?}"
        );
    }
    drop(with_courier);
}

/// Trap 4, п.28–30: Kaspi takes a document out of its cell the day after placing it, before
/// the storage the citizen was told of ends. The removal is flagged, the storage is cut short
/// and the п.30 return starts. Placed again, the citizen is told again, and the 3 calendar
/// days count from that placement (our reading of п.29: from the placement the citizen was
/// told of).
#[actix_web::test]
async fn a_document_taken_out_of_its_cell_early_is_flagged_and_placed_again_or_returned() {
    let p = Pilot::new().await;
    // Placed Friday 27 Mar 15:00: storage to 24:00 of Monday 30 Mar.
    let id = p.placed_shipment("EA-1").await;
    p.kaspi_event(event(
        "ea1-r",
        "removed_from_cell",
        "WB-EA-1",
        "2026-03-28T10:00:00+05:00",
    ))
    .await;
    let shipment = p.shipment(&id).await;
    assert_eq!(shipment["state"], "returning_to_kaspi_point");
    assert_eq!(deadline_state(&shipment, "storage"), "cancelled");
    assert_eq!(deadline_state(&shipment, "return"), "pending");
    assert!(
        p.discrepancy_kinds()
            .await
            .contains(&"removed_early".into())
    );
    let supervisor = p.app.token(Role::Supervisor, None).await;
    let queue = p
        .app
        .get("/api/v1/exceptions?kind=discrepancy", Some(&supervisor))
        .await
        .assert_status(200);
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"].as_str().unwrap().starts_with("removed_early: ")),
        "{queue}"
    );
    // The first placement reported again, late: history only.
    let stale = p
        .kaspi_event(json!({"event_id": "ea1-p-late", "type": "placed_in_cell", "waybill": "WB-EA-1",
                            "occurred_at": "2026-03-27T15:00:00+05:00", "postamat_id": "PST-ALA-1", "cell": "B-17"}))
        .await;
    assert_eq!(stale["outcome"], "out_of_order_recorded", "{stale}");

    // Placed again Sunday 29 Mar 12:00 in another cell: collect by Wednesday 1 April.
    p.kaspi_event(json!({"event_id": "ea1-p2", "type": "placed_in_cell", "waybill": "WB-EA-1",
                         "occurred_at": "2026-03-29T12:00:00+05:00", "postamat_id": "PST-ALA-1", "cell": "C-03"}))
        .await;
    let shipment = p.shipment(&id).await;
    assert_eq!(shipment["state"], "placed_in_cell");
    assert_eq!(deadline_state(&shipment, "return"), "cancelled");
    let storages: Vec<_> = shipment["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "storage")
        .map(|d| (d["state"].clone(), d["due_local"].clone()))
        .collect();
    assert_eq!(
        storages,
        [
            (json!("cancelled"), json!("2026-03-31T00:00:00+05:00")),
            (json!("pending"), json!("2026-04-02T00:00:00+05:00")),
        ]
    );
    let placed: Vec<_> = p
        .notifications(&id)
        .await
        .into_iter()
        .filter(|n| n.kind == "placed_in_cell")
        .collect();
    assert_eq!(placed.len(), 2, "told again: {placed:?}");
    assert!(placed[1].body.contains("01.04.2026"), "{}", placed[1].body);

    // Moved to another cell of the same postamat: the cell changes, the storage stands, and
    // the citizen is not told again.
    p.kaspi_event(json!({"event_id": "ea1-p3", "type": "placed_in_cell", "waybill": "WB-EA-1",
                         "occurred_at": "2026-03-29T12:30:00+05:00", "postamat_id": "PST-ALA-1", "cell": "C-04"}))
        .await;
    let moved = p.shipment(&id).await;
    assert_eq!(moved["deadlines"], shipment["deadlines"]);
    assert_eq!(
        p.notifications(&id)
            .await
            .iter()
            .filter(|n| n.kind == "placed_in_cell")
            .count(),
        2
    );
    p.kaspi_event(event(
        "ea1-c",
        "collected",
        "WB-EA-1",
        "2026-03-30T18:00:00+05:00",
    ))
    .await;
    let collected = p.shipment(&id).await;
    assert_eq!(collected["state"], "collected");
    assert_eq!(
        collected["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "storage" && d["state"] == "met")
            .count(),
        1
    );

    // Another document taken out early and brought to the point: the return path, with the
    // sweeper expiring nothing.
    let other = p.placed_shipment("EA-2").await;
    p.kaspi_event(event(
        "ea2-b",
        "returned_to_point",
        "WB-EA-2",
        "2026-03-28T16:00:00+05:00",
    ))
    .await;
    let shipment = p.shipment(&other).await;
    assert_eq!(shipment["state"], "returned_to_kaspi_point");
    assert_eq!(deadline_state(&shipment, "return"), "met");
    let events = timeline_events(&shipment);
    assert!(events.contains(&"removed_early".to_owned()), "{events:?}");
    assert_eq!(p.sweep("2026-03-31T01:00:00Z").await.storage_expired, 0);
}

/// Trap 4 with Kaspi's reports out of order (п.19, 29): the collection after a placement again
/// arrives before that placement's report; it implies it, and the late report is history only.
/// A removal before the storage ended that arrives only after the sweeper expired it is still
/// flagged.
#[actix_web::test]
async fn kaspis_late_reports_around_an_early_removal_neither_lose_nor_repeat_a_step() {
    let p = Pilot::new().await;
    let id = p.placed_shipment("EO-1").await;
    p.kaspi_event(event(
        "eo1-r",
        "removed_from_cell",
        "WB-EO-1",
        "2026-03-28T10:00:00+05:00",
    ))
    .await;
    let collected = p
        .kaspi_event(event(
            "eo1-c",
            "collected",
            "WB-EO-1",
            "2026-03-29T18:00:00+05:00",
        ))
        .await;
    assert_eq!(collected["outcome"], "applied", "{collected}");
    assert_eq!(p.shipment(&id).await["state"], "collected");
    let late = p
        .kaspi_event(json!({"event_id": "eo1-p2", "type": "placed_in_cell", "waybill": "WB-EO-1",
                            "occurred_at": "2026-03-29T12:00:00+05:00", "postamat_id": "PST-ALA-1", "cell": "C-03"}))
        .await;
    assert_eq!(late["outcome"], "out_of_order_recorded", "{late}");
    assert_eq!(
        p.notifications(&id)
            .await
            .iter()
            .filter(|n| n.kind == "placed_in_cell")
            .count(),
        1,
        "the citizen who has the certificate is not told of a placement"
    );

    // Expired by the sweeper at 24:00 of Monday 30 March; Kaspi's report of a removal on the
    // Monday morning comes after.
    let other = p.placed_shipment("EO-2").await;
    assert_eq!(p.sweep("2026-03-31T01:00:00Z").await.storage_expired, 1);
    p.kaspi_event(event(
        "eo2-r",
        "removed_from_cell",
        "WB-EO-2",
        "2026-03-30T09:00:00+05:00",
    ))
    .await;
    assert_eq!(p.shipment(&other).await["state"], "storage_expired");
    let supervisor = p.app.token(Role::Supervisor, None).await;
    let flagged = p
        .app
        .get("/api/v1/discrepancies", Some(&supervisor))
        .await
        .assert_status(200);
    assert!(
        flagged
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "removed_early" && d["waybill"] == "WB-EO-2"),
        "{flagged}"
    );
}
