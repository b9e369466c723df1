//! The return path (п.30–35): an uncollected document back to the State Corporation on a
//! return pickup registry, the п.34 messages, issue or transfer after a month.

use crate::common::{Pilot, deadline, event};
use serde_json::json;

/// An expired document Kaspi removed from its cell and brought back to its point (п.30–31).
async fn back_at_the_point(p: &Pilot, number: &str) {
    let waybill = format!("WB-{number}");
    p.kaspi_event(event(
        &format!("{number}-r"),
        "removed_from_cell",
        &waybill,
        "2026-03-31T09:00:00+05:00",
    ))
    .await;
    p.kaspi_event(event(
        &format!("{number}-b"),
        "returned_to_point",
        &waybill,
        "2026-03-31T16:00:00+05:00",
    ))
    .await;
}

/// Placed, uncollected, removed, returned to Kaspi's point, taken back on a return pickup
/// registry to the issuance sector; checks each step and the п.34 messages in the applicant's
/// language (`kk` or `ru`). Returns the shipment id.
async fn returned_to_the_con(p: &Pilot, number: &str, language: &str) -> String {
    let waybill = format!("WB-{number}");
    let id = p.placed_shipment_in(number, language).await;
    // Placed 27 Mar 15:00: storage ends 24:00 of 30 Mar; the sweeper expires it (п.29–30).
    assert_eq!(p.sweep("2026-03-31T01:00:00Z").await.storage_expired, 1);
    back_at_the_point(p, number).await;
    assert_eq!(p.shipment(&id).await["state"], "returned_to_kaspi_point");

    // A handoff registry does not take it; a return pickup registry does (п.32).
    p.app
        .post(
            "/api/v1/registries",
            Some(&p.clerk),
            &json!({"application_numbers": [number]}),
        )
        .await
        .assert_problem(409, "invalid_transition");
    let draft = p
        .app
        .post(
            "/api/v1/registries",
            Some(&p.clerk),
            &json!({"kind": "return_pickup", "application_numbers": [number]}),
        )
        .await
        .assert_status(201);
    assert_eq!(draft["kind"], "return_pickup");
    let registry = draft["id"].as_str().unwrap();
    let sealed = p
        .app
        .post(
            &format!("/api/v1/registries/{registry}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    assert_eq!(sealed["items"][0]["state"], "in_return_registry");
    let shipment = p.shipment(&id).await;
    let pickup = shipment["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "return_pickup")
        .unwrap()
        .clone();
    // Sealed Monday 23 Nov 10:00 in Almaty → 12:00 on Tuesday 24 Nov (п.33).
    assert_eq!(pickup["due_at"], "2026-11-24T07:00:00Z");
    let print = p
        .app
        .get(
            &format!("/api/v1/registries/{registry}/print"),
            Some(&p.courier),
        )
        .await;
    let shown = crate::printed::visible_text(&print.text);
    for line in [
        "Kaspi қабылдау пунктінен талап етілмеген құжаттарды алу тізілімі Реестр изъятия невостребованных документов",
        "Kaspi қабылдау пунктінің қызметкері / Работник пункта приема Kaspi",
    ] {
        assert!(shown.contains(line), "{line} missing: {shown}");
    }
    assert!(print.text.contains(&format!("aria-label=\"WB-{number}\"")));
    crate::printed::render(
        &format!("return-pickup-registry-{number}"),
        &print.text,
        &[&waybill],
    );

    let picked = p
        .app
        .post(
            &format!("/api/v1/registries/{registry}/handover"),
            Some(&p.courier),
            &json!({"courier_name": "Ерлан Б."}),
        )
        .await
        .assert_status(200);
    assert_eq!(picked["items"][0]["state"], "at_issuance_sector");
    let shipment = p.shipment(&id).await;
    let states: Vec<(String, String)> = shipment["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&("return_pickup".into(), "met".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("issuance_storage".into(), "pending".into())),
        "{states:?}"
    );

    // п.34: the Kaspi app and SMS 1414, in the applicant's language, with the branch address.
    let notes = p.notifications(&id).await;
    let returned: Vec<_> = notes
        .iter()
        .filter(|n| n.kind == "returned_to_state_corporation")
        .collect();
    let mut channels: Vec<&str> = returned.iter().map(|n| n.channel.as_str()).collect();
    channels.sort();
    assert_eq!(channels, ["kaspi_app", "sms_1414"]);
    let address = match language {
        "ru" => "г. Алматы, пр. Абая, 10",
        _ => "Алматы қ., Абай даңғ., 10",
    };
    assert!(
        returned
            .iter()
            .all(|n| n.language == language && n.body.contains(address)),
        "{returned:?}"
    );
    id
}

#[actix_web::test]
async fn an_uncollected_document_comes_back_to_the_con_and_is_issued() {
    let p = Pilot::new().await;
    let id = returned_to_the_con(&p, "RT-1", "kk").await;
    let issued = p
        .app
        .post(
            &format!("/api/v1/shipments/{id}/issue"),
            Some(&p.issuance),
            &json!({"recipient": {"type": "applicant", "iin": crate::common::iin(12)}}),
        )
        .await
        .assert_status(200);
    assert_eq!(issued["state"], "issued_at_con");
}

#[actix_web::test]
async fn a_returned_document_not_collected_in_a_month_is_transferred() {
    let p = Pilot::new().await;
    let id = returned_to_the_con(&p, "RT-2", "ru").await;
    let url = format!("/api/v1/shipments/{id}/transfer");
    let body = json!({"to_whom": "Архив ЦОН №1", "reference": "Акт передачи № 15"});
    // Back at the issuance sector Monday 23 Nov 10:00: kept until 24:00 of 23 Dec (п.35).
    p.set_clock("2026-12-23T18:59:00Z");
    p.app
        .post(&url, Some(&p.issuance), &body)
        .await
        .assert_problem(409, "invalid_transition");
    p.set_clock("2026-12-23T19:00:00Z");
    let transferred = p
        .app
        .post(&url, Some(&p.issuance), &body)
        .await
        .assert_status(200);
    assert_eq!(transferred["state"], "transferred_after_storage");
    let storage = transferred["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "issuance_storage")
        .unwrap()
        .clone();
    assert_eq!(storage["due_at"], "2026-12-23T19:00:00Z");
}

#[actix_web::test]
async fn a_document_kept_a_month_is_transferred_and_not_before() {
    let p = Pilot::new().await;
    p.register("TR-1", "con").await;
    p.execute("TR-1").await;
    let taken = p.intake(&["TR-1"], Some("РАГС-реестр 9")).await;
    let id = taken["items"][0]["shipment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("/api/v1/shipments/{id}/transfer");
    let body = json!({"to_whom": "Архив ЦОН №1", "reference": "Акт передачи № 14"});
    // Arrived Monday 23 Nov: kept until 24:00 of 23 Dec (п.35).
    let early = p
        .app
        .post(&url, Some(&p.issuance), &body)
        .await
        .assert_problem(409, "invalid_transition");
    assert!(
        early["detail"]
            .as_str()
            .unwrap()
            .contains("2026-12-23 19:00:00 UTC"),
        "{early}"
    );
    p.set_clock("2026-12-23T19:00:00Z");
    let transferred = p
        .app
        .post(&url, Some(&p.issuance), &body)
        .await
        .assert_status(200);
    assert_eq!(transferred["state"], "transferred_after_storage");
    let last = transferred["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["details"]["to_whom"], "Архив ЦОН №1");
    assert_eq!(last["actor_role"], "issuance_clerk");
    p.app
        .post(&url, Some(&p.issuance), &body)
        .await
        .assert_problem(409, "invalid_transition");
}

/// Issue 22 item 6 (п.22, 32–33): a document on a sealed return pickup registry is still at the
/// Kaspi point until the State courier collects it, so Kaspi holds it. Kaspi's loss of it is a
/// loss — its act, the registry office's cancellation and the free duplicate follow — and the
/// courier still collects the rest of the registry.
#[actix_web::test]
async fn a_document_on_a_sealed_return_registry_lost_by_kaspi_is_lost_on_kaspis_side() {
    let p = Pilot::new().await;
    let lost = p.placed_shipment("RL-1").await;
    let kept = p.placed_shipment("RL-2").await;
    assert_eq!(p.sweep("2026-03-31T01:00:00Z").await.storage_expired, 2);
    back_at_the_point(&p, "RL-1").await;
    back_at_the_point(&p, "RL-2").await;
    let registry = return_registry(&p, &["RL-1", "RL-2"]).await;
    assert_eq!(p.shipment(&lost).await["state"], "in_return_registry");

    p.kaspi_event(json!({"event_id": "rl1-lost", "type": "lost", "waybill": "WB-RL-1",
        "occurred_at": "2026-11-23T12:00:00+05:00",
        "loss_act": {"number": "KSP-LA-31", "cause": "Не найден при изъятии", "circumstances": "Служебная проверка",
                     "responsible_employee": "Работник пункта приема Kaspi"}}))
        .await;
    let shipment = p.shipment(&lost).await;
    assert_eq!(shipment["state"], "lost");
    let pickup = shipment["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "return_pickup")
        .unwrap()
        .clone();
    assert_eq!(pickup["state"], "cancelled");
    let act = p.act_of("RL-1").await;
    assert_eq!(
        (act["side"].as_str(), act["kaspi_act_number"].as_str()),
        (Some("kaspi"), Some("KSP-LA-31"))
    );

    // The courier collects what is still there; the lost document stays lost.
    let picked = p
        .app
        .post(
            &format!("/api/v1/registries/{registry}/handover"),
            Some(&p.courier),
            &json!({"courier_name": "Ерлан Б."}),
        )
        .await
        .assert_status(200);
    assert_eq!(picked["state"], "handed_over");
    let collected = p.shipment(&kept).await;
    assert_eq!(collected["state"], "at_issuance_sector");
    let pickup = collected["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "return_picked_up")
        .unwrap()
        .clone();
    assert_eq!(pickup["details"]["lost_after_sealing"], json!(["WB-RL-1"]));
    assert_eq!(p.shipment(&lost).await["state"], "lost");
}

/// A document of the ЦОН route at the issuance sector since Monday 23 Nov 2026.
async fn at_the_issuance_sector(p: &Pilot, number: &str) -> String {
    p.register(number, "con").await;
    p.execute(number).await;
    let taken = p.intake(&[number], Some("РАГС-реестр 9")).await;
    taken["items"][0]["shipment_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sealed return pickup registry of the documents of `numbers`, back at the Kaspi point (п.32);
/// returns its id.
async fn return_registry(p: &Pilot, numbers: &[&str]) -> String {
    let draft = p
        .app
        .post(
            "/api/v1/registries",
            Some(&p.clerk),
            &json!({"kind": "return_pickup", "application_numbers": numbers}),
        )
        .await
        .assert_status(201);
    let registry = draft["id"].as_str().unwrap().to_owned();
    p.app
        .post(
            &format!("/api/v1/registries/{registry}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    registry
}

/// Issue 22 item 4 (п.35): "обеспечивает хранение документов в течение 1 месяца, после чего
/// передает их". Arrived Monday 23 Nov 2026: the month ends at 24:00 of Wednesday 23 Dec. That
/// end is the rule's outcome, not a breach: the storage is met then, and the hand-on — 1 working
/// day, our reading of "после чего" — is due at 24:00 of Thursday 24 Dec, met or breached on
/// its own. A document issued after the month but before it was handed on has nothing left to
/// hand on. The SLA report counts no breach of the storage.
#[actix_web::test]
async fn a_month_at_the_issuance_sector_ending_23_december_is_met_and_the_transfer_is_due_24_december()
 {
    let p = Pilot::new().await;
    let late = at_the_issuance_sector(&p, "TM-1").await;
    let issued = at_the_issuance_sector(&p, "TM-2").await;
    let on_time = at_the_issuance_sector(&p, "TM-3").await;

    // TM-3 is handed on Thursday morning, before the sweeper has looked at it.
    p.set_clock("2026-12-24T05:00:00Z");
    p.app
        .post(
            &format!("/api/v1/shipments/{on_time}/transfer"),
            Some(&p.issuance),
            &json!({"to_whom": "Архив ЦОН №1", "reference": "Акт передачи № 16"}),
        )
        .await
        .assert_status(200);
    let shipment = p.shipment(&on_time).await;
    let storage = deadline(&shipment, "issuance_storage");
    assert_eq!(
        (storage["state"].as_str(), storage["resolved_at"].as_str()),
        (Some("met"), Some("2026-12-23T19:00:00Z"))
    );
    let transfer = deadline(&shipment, "transfer");
    assert_eq!(
        (
            transfer["state"].as_str(),
            transfer["due_at"].as_str(),
            transfer["clause"].as_str()
        ),
        (Some("met"), Some("2026-12-24T19:00:00Z"), Some("п.35"))
    );

    let report = p.sweep("2026-12-24T06:00:00Z").await;
    assert_eq!(report.listed_for_transfer, 2, "{report:?}");
    for id in [&late, &issued] {
        let shipment = p.shipment(id).await;
        assert_eq!(deadline(&shipment, "issuance_storage")["state"], "met");
        let transfer = deadline(&shipment, "transfer");
        assert_eq!(
            (transfer["state"].as_str(), transfer["due_at"].as_str()),
            (Some("pending"), Some("2026-12-24T19:00:00Z"))
        );
    }
    // The citizen comes for TM-2 on Thursday: issued, nothing to hand on.
    p.app
        .post(
            &format!("/api/v1/shipments/{issued}/issue"),
            Some(&p.issuance),
            &json!({"recipient": {"type": "applicant", "iin": crate::common::iin(12)}}),
        )
        .await
        .assert_status(200);
    assert_eq!(
        deadline(&p.shipment(&issued).await, "transfer")["state"],
        "cancelled"
    );
    // TM-1 is still there after 24:00 of Thursday: the hand-on is breached, and it is handed
    // on late on Friday.
    assert_eq!(p.sweep("2026-12-24T19:01:00Z").await.escalated, 1);
    p.set_clock("2026-12-25T05:00:00Z");
    p.app
        .post(
            &format!("/api/v1/shipments/{late}/transfer"),
            Some(&p.issuance),
            &json!({"to_whom": "Архив ЦОН №1", "reference": "Акт передачи № 17"}),
        )
        .await
        .assert_status(200);
    assert_eq!(
        deadline(&p.shipment(&late).await, "transfer")["state"],
        "met_late"
    );

    let supervisor = p
        .app
        .token(postamat::domain::role::Role::Supervisor, None)
        .await;
    let sla = p
        .app
        .get(
            "/api/v1/reports/sla?from=2026-11-01&to=2026-12-31",
            Some(&supervisor),
        )
        .await
        .assert_status(200);
    let line = |kind: &str| {
        let line = sla
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["deadline"] == kind)
            .unwrap_or_else(|| panic!("no {kind} line in {sla}"))
            .clone();
        [
            "met_on_time",
            "met_late",
            "breached_open",
            "pending",
            "cancelled",
        ]
        .map(|k| line[k].as_i64().unwrap())
    };
    assert_eq!(line("issuance_storage"), [3, 0, 0, 0, 0]);
    assert_eq!(line("transfer"), [1, 1, 0, 0, 1]);
}

/// Issue 22 item 4, stored data: months the old rule left breached (still at the sector) or met
/// late (handed on or issued after the month) are re-read once by the revision: met at their
/// end, with the hand-on started there and settled by what the document did since.
#[actix_web::test]
async fn months_at_the_issuance_sector_stored_by_the_old_rule_are_re_read_once() {
    use diesel::connection::SimpleConnection;
    let p = Pilot::new().await;
    let still = at_the_issuance_sector(&p, "TO-1").await;
    let handed = at_the_issuance_sector(&p, "TO-2").await;
    let issued = at_the_issuance_sector(&p, "TO-3").await;
    p.set_clock("2026-12-25T05:00:00Z");
    p.app
        .post(
            &format!("/api/v1/shipments/{handed}/transfer"),
            Some(&p.issuance),
            &json!({"to_whom": "Архив ЦОН №1", "reference": "Акт передачи № 18"}),
        )
        .await
        .assert_status(200);
    p.app
        .post(
            &format!("/api/v1/shipments/{issued}/issue"),
            Some(&p.issuance),
            &json!({"recipient": {"type": "applicant", "iin": crate::common::iin(12)}}),
        )
        .await
        .assert_status(200);

    // As the old rule stored them: no hand-on; the month breached or met late.
    let (pool, cache, now) = (
        p.app.pool.clone(),
        p.app.calendar.clone(),
        p.app.clock.now(),
    );
    let (first, again) = actix_web::web::block(move || {
        let mut conn = pool.get().unwrap();
        conn.batch_execute(
            "DELETE FROM deadlines WHERE kind = 'transfer'; \
             UPDATE deadlines SET state = 'met_late', resolved_at = '2026-12-25 05:00:00' \
               WHERE kind = 'issuance_storage'; \
             DELETE FROM data_revisions WHERE name = 'issuance_month_runs_out'",
        )
        .unwrap();
        let snapshot = cache.current();
        let first =
            postamat::workflows::revisions::apply_pending(&mut conn, &snapshot, now).unwrap();
        let again =
            postamat::workflows::revisions::apply_pending(&mut conn, &snapshot, now).unwrap();
        (first, again)
    })
    .await
    .unwrap();
    assert_eq!((first, again), (3, 0), "once");
    for (id, transfer) in [
        (&still, "pending"),
        (&handed, "met_late"),
        // Issued on Friday 25 Dec, after the hand-on fell due: it stays as late as it was (the
        // sweeper breaches it); one issued before would have nothing left to hand on.
        (&issued, "pending"),
    ] {
        let shipment = p.shipment(id).await;
        let storage = deadline(&shipment, "issuance_storage");
        assert_eq!(
            (storage["state"].as_str(), storage["resolved_at"].as_str()),
            (Some("met"), Some("2026-12-23T19:00:00Z"))
        );
        let hand_on = deadline(&shipment, "transfer");
        assert_eq!(
            (hand_on["state"].as_str(), hand_on["due_at"].as_str()),
            (Some(transfer), Some("2026-12-24T19:00:00Z")),
            "{id}"
        );
        let revised = shipment["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"] == "deadline_revised")
            .unwrap()
            .clone();
        assert_eq!(revised["details"]["revision"], "issuance_month_runs_out");
    }
}

/// Issue 23 (п.32): back at the Kaspi point on Monday 23 Nov (as recorded), the return pickup
/// registry is to be formed by 24:00 of Tuesday 24 Nov; once sealed, the document leaves the
/// queue (the courier's pickup has its own deadline, п.33).
#[actix_web::test]
async fn a_returned_document_without_its_return_registry_is_in_the_queue() {
    let p = Pilot::new().await;
    let id = p.placed_shipment("RR-1").await;
    assert_eq!(p.sweep("2026-03-31T01:00:00Z").await.storage_expired, 1);
    back_at_the_point(&p, "RR-1").await;
    p.set_clock("2026-11-24T18:59:00Z");
    assert!(p.queue_of("return_registry_not_formed").await.is_empty());
    p.set_clock("2026-11-24T19:00:00Z");
    assert_eq!(
        p.queue_of("return_registry_not_formed").await,
        vec![(id.clone(), "state_corporation".to_owned())]
    );
    return_registry(&p, &["RR-1"]).await;
    assert!(p.queue_of("return_registry_not_formed").await.is_empty());
}
