//! Issue 23, "nothing stuck out of sight": each step nobody has taken appears in the exception
//! queue once its term has passed, with the side that must take it, and leaves it once taken.

use crate::common::Pilot;
use serde_json::json;

fn ours(reference: &str) -> Vec<(String, String)> {
    vec![(reference.to_owned(), "state_corporation".to_owned())]
}

/// Executed and recorded on Monday 23 Nov 2026 at 10:00: the State courier has until 24:00 of
/// Tuesday 24 Nov to bring it to the accumulation sector (п.6–7).
#[actix_web::test]
async fn an_executed_document_not_taken_in_by_the_next_working_day_is_in_the_queue() {
    let p = Pilot::new().await;
    p.register("NT-1", "postamat").await;
    p.execute("NT-1").await;
    p.set_clock("2026-11-24T18:59:00Z");
    assert!(p.queue_of("not_taken_in").await.is_empty());
    p.set_clock("2026-11-24T19:00:00Z");
    let queued = p.queue_of("not_taken_in").await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].1, "state_corporation");
    p.intake(&["NT-1"], None).await;
    assert!(p.queue_of("not_taken_in").await.is_empty());
}

/// A handoff registry drafted on Monday 23 Nov is to be sealed that day; sealed at 00:05 on
/// Tuesday, it is to be signed for by 12:00 of Wednesday 25 Nov (the next working day).
#[actix_web::test]
async fn a_registry_not_sealed_that_day_or_not_signed_for_by_noon_is_in_the_queue() {
    let p = Pilot::new().await;
    p.packed("RS-1").await;
    let registry = p.draft(&["RS-1"]).await;
    p.set_clock("2026-11-23T18:59:00Z");
    assert!(p.queue_of("registry_not_sealed").await.is_empty());
    p.set_clock("2026-11-23T19:00:00Z");
    assert_eq!(p.queue_of("registry_not_sealed").await, ours(&registry));

    p.set_clock("2026-11-23T19:05:00Z");
    p.app
        .post(
            &format!("/api/v1/registries/{registry}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    assert!(p.queue_of("registry_not_sealed").await.is_empty());
    p.set_clock("2026-11-25T06:59:00Z");
    assert!(p.queue_of("registry_not_handed_over").await.is_empty());
    p.set_clock("2026-11-25T07:00:00Z");
    assert_eq!(
        p.queue_of("registry_not_handed_over").await,
        ours(&registry)
    );
    p.sign_for(&registry).await.assert_status(200);
    assert!(p.queue_of("registry_not_handed_over").await.is_empty());
}

/// п.24: lost on Monday 23 Nov, the act is to be drawn by 24:00 of Tuesday 24 Nov (ours); drawn
/// at 00:00 of Wednesday (the end of Tuesday), the registry office is to cancel within 3 working
/// days, by 24:00 of Friday 27 Nov (theirs); then the duplicate is to be asked for (п.25–26).
#[actix_web::test]
async fn a_loss_without_its_act_or_its_cancellation_is_in_the_queue() {
    let p = Pilot::new().await;
    let id = p.packed("LS-1").await;
    let act = p
        .app
        .post(
            &format!("/api/v1/shipments/{id}/loss"),
            Some(&p.clerk),
            &json!({"cause": "Утерян при сортировке", "circumstances": "Не найден при сверке",
                    "responsible_employee": "Айгерим Н."}),
        )
        .await
        .assert_status(201);
    p.set_clock("2026-11-24T18:59:00Z");
    assert!(p.queue_of("loss_act_not_drawn").await.is_empty());
    p.set_clock("2026-11-24T19:00:00Z");
    assert_eq!(p.queue_of("loss_act_not_drawn").await, ours(&id));
    p.app
        .post(
            &format!("/api/v1/loss-acts/{}/draw", act["id"].as_str().unwrap()),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    assert!(p.queue_of("loss_act_not_drawn").await.is_empty());
    p.set_clock("2026-11-27T18:59:00Z");
    assert!(p.queue_of("cancellation_awaited").await.is_empty());
    p.set_clock("2026-11-27T19:00:00Z");
    assert_eq!(
        p.queue_of("cancellation_awaited").await,
        vec![(id.clone(), "registry_office".to_owned())]
    );
    p.app
        .post(
            "/api/v1/integrations/registry-office/events",
            Some(&p.registry_office),
            &json!({"event_id": "cancel-LS-1", "application_number": "LS-1", "status": "cancelled",
                    "occurred_at": "2026-11-27T09:00:00+05:00"}),
        )
        .await
        .assert_status(200);
    assert!(p.queue_of("cancellation_awaited").await.is_empty());

    // п.25–26: cancelled at 00:00 of Saturday 28 Nov (the end of Friday), the citizen is told to
    // come for the free duplicate; 3 working days on (Mon 30 Nov, Tue 1 and Wed 2 Dec) the
    // issuance sector follows up.
    p.set_clock("2026-12-02T18:59:00Z");
    assert!(p.queue_of("duplicate_not_requested").await.is_empty());
    p.set_clock("2026-12-02T19:00:00Z");
    assert_eq!(p.queue_of("duplicate_not_requested").await, ours(&id));
    p.app
        .post(
            "/api/v1/applications/LS-1/duplicates",
            Some(&p.issuance),
            &json!({}),
        )
        .await
        .assert_status(201);
    assert!(p.queue_of("duplicate_not_requested").await.is_empty());
}

/// Issue 23 trap 2 (п.18): an envelope the Kaspi point did not accept stayed with the courier
/// for ever. The courier brings it back: it is packed again and goes onto a new registry, the
/// signed registry keeps its line, and the discrepancy is settled but stays on record.
#[actix_web::test]
async fn an_envelope_the_point_did_not_accept_is_brought_back_and_sent_again() {
    use crate::common::accepted_event;
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let refused = p.packed("BB-1").await;
    p.packed("BB-2").await;
    let (first, number) = p.hand_over(&["BB-1", "BB-2"]).await;
    p.set_clock("2026-03-26T06:00:00Z");
    p.kaspi_event(accepted_event("bb-a1", &number, &["WB-BB-2"]))
        .await;
    assert_eq!(p.shipment(&refused).await["state"], "handed_to_courier");
    assert_eq!(p.queue_of("discrepancy").await.len(), 1);

    let url = format!("/api/v1/shipments/{refused}/bring-back");
    let body = json!({"reason": "не принят пунктом приема Kaspi: повреждена пломба"});
    p.app
        .post(&url, Some(&p.kaspi), &body)
        .await
        .assert_problem(403, "role_forbidden");
    let back = p
        .app
        .post(&url, Some(&p.courier), &body)
        .await
        .assert_status(200);
    assert_eq!(back["state"], "packed");
    let line = back["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            line["event"].as_str(),
            line["from"].as_str(),
            line["details"]["registry"].as_str()
        ),
        (
            Some("brought_back"),
            Some("handed_to_courier"),
            Some(number.as_str())
        )
    );
    assert_eq!(line["details"]["discrepancies_settled"], 1);
    assert!(p.queue_of("discrepancy").await.is_empty());
    p.app
        .post(&url, Some(&p.courier), &body)
        .await
        .assert_problem(409, "invalid_transition");

    // Onto a new registry, accepted this time: the courier's deadline (п.17) is met then, late.
    let (_, again) = p.hand_over(&["BB-1"]).await;
    assert_ne!(again, number);
    let mut accepted = accepted_event("bb-a2", &again, &["WB-BB-1"]);
    accepted["kaspi_registry_number"] = json!("KSP-R-2");
    accepted["occurred_at"] = json!("2026-03-27T10:00:00+05:00");
    p.kaspi_event(accepted).await;
    let shipment = p.shipment(&refused).await;
    assert_eq!(shipment["state"], "accepted_at_kaspi_point");
    let handoff = shipment["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "handoff")
        .unwrap()
        .clone();
    assert_eq!(handoff["state"], "met_late");
    // The first registry is a signed document: it still lists both envelopes.
    let signed = p
        .app
        .get(&format!("/api/v1/registries/{first}"), Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(signed["items"].as_array().unwrap().len(), 2);
}

/// Issue 23: Kaspi reads where the documents of its applications stand — by application
/// number or by waybill, whatever the branch — with the deadlines that concern the citizen and
/// the timeline, but no staff name, IIN or line details.
#[actix_web::test]
async fn kaspi_reads_where_a_document_is_without_staff_names_or_iins() {
    let p = Pilot::new().await;
    p.placed_shipment("TK-1").await;
    let by_number = p
        .app
        .get(
            "/api/v1/integrations/kaspi/applications/TK-1",
            Some(&p.kaspi),
        )
        .await
        .assert_status(200);
    let by_waybill = p
        .app
        .get(
            "/api/v1/integrations/kaspi/waybills/WB-TK-1",
            Some(&p.kaspi),
        )
        .await
        .assert_status(200);
    assert_eq!(by_number, by_waybill);
    let document = &by_number["documents"][0];
    assert_eq!(document["state"], "placed_in_cell");
    let kinds: Vec<&str> = document["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["kaspi_arrival", "point_wait", "storage"]);
    let events: Vec<&str> = document["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for step in [
        "executed",
        "intake",
        "label",
        "hand_over_to_courier",
        "accepted_at_kaspi_point",
        "placed_in_cell",
    ] {
        assert!(events.contains(&step), "{step} not in {events:?}");
    }
    let text = by_number.to_string();
    for secret in [
        crate::common::iin(12).as_str(),
        "Нұрланова",
        "Ерлан",
        "actor_name",
        "details",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    p.app
        .get(
            "/api/v1/integrations/kaspi/applications/TK-1",
            Some(&p.clerk),
        )
        .await
        .assert_problem(403, "role_forbidden");
    p.app
        .get(
            "/api/v1/integrations/kaspi/waybills/WB-NONE",
            Some(&p.kaspi),
        )
        .await
        .assert_problem(404, "not_found");
}

/// Issue 23: an application submitted on Monday 16 Mar 2026 and not executed by the registry
/// office within its term (3 working days here, a setting: Rules no. 112) is theirs to act on
/// from 24:00 of Thursday 19 Mar, until it is executed.
#[actix_web::test]
async fn an_application_not_executed_within_the_term_is_in_the_queue() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-16T06:00:00Z");
    let registered = p.register("EX-1", "postamat").await;
    let id = registered["id"].as_str().unwrap().to_owned();
    p.set_clock("2026-03-19T18:59:00Z");
    assert!(p.queue_of("execution_overdue").await.is_empty());
    p.set_clock("2026-03-19T19:00:00Z");
    assert_eq!(
        p.queue_of("execution_overdue").await,
        vec![(id, "registry_office".to_owned())]
    );
    p.execute("EX-1").await;
    assert!(p.queue_of("execution_overdue").await.is_empty());
}
