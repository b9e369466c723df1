//! The shipment lifecycle over HTTP: registration, finalisation, intake, labelling, registries,
//! handover, the ЦОН route and issue.

use crate::common::{Pilot, deadline, iin};
use postamat::domain::role::Role;
use serde_json::{Value, json};

#[actix_web::test]
async fn a_postamat_document_goes_from_registration_to_the_state_courier() {
    let p = Pilot::new().await;
    let registered = p.register("APP-1", "postamat").await;
    assert_eq!(registered["status"], "awaiting_execution");
    assert_eq!(registered["phone"], "+77011234567");
    assert_eq!(registered["postamat"]["kaspi_id"], "PST-ALA-1");

    let executed = p.execute("APP-1").await;
    assert_eq!(executed["shipment_state"], "ready_at_registry_office");

    // Ordered on Thursday 19 Mar: Kaspi's arrival deadline is 13:00 on Friday 20 Mar (п.10).
    let ordered = p.order("APP-1", "2026-03-19T10:00:00+05:00").await;
    assert_eq!(
        deadline(&ordered, "kaspi_arrival")["due_at"],
        "2026-03-20T08:00:00Z"
    );

    // Taken in on Friday 20 Mar at 17:00: 21–22 weekend, 23–25 off → Thursday 26 Mar 12:00 (п.17).
    p.set_clock("2026-03-20T12:00:00Z");
    let taken = p.intake(&["APP-1"], None).await;
    assert_eq!(taken["taken_in"], 1);
    assert_eq!(taken["items"][0]["state"], "at_accumulation_sector");
    let id = taken["items"][0]["shipment_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let lookup = p
        .app
        .get("/api/v1/applications/APP-1", Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(lookup["delivery_method"], "postamat");
    let handoff = deadline(&lookup["shipments"][0], "handoff");
    assert_eq!(handoff["due_at"], "2026-03-26T07:00:00Z");
    assert_eq!(
        handoff["due_local"], "2026-03-26T12:00:00+05:00",
        "Almaty's time"
    );
    assert_eq!(handoff["state"], "pending");
    assert_eq!(handoff["clause"], "п.17");

    let labelled = p
        .app
        .post(
            &format!("/api/v1/shipments/{id}/label"),
            Some(&p.clerk),
            &json!({"waybill": "WB-APP-1"}),
        )
        .await
        .assert_status(200);
    assert_eq!(labelled["state"], "packed");

    let draft = p
        .app
        .post(
            "/api/v1/registries",
            Some(&p.clerk),
            &json!({"application_numbers": ["APP-1"]}),
        )
        .await
        .assert_status(201);
    assert_eq!(draft["state"], "draft");
    let registry = draft["id"].as_str().unwrap().to_owned();
    let sealed = p
        .app
        .post(
            &format!("/api/v1/registries/{registry}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    assert_eq!(sealed["number"], "ALM01-2026-000001");

    let print = p
        .app
        .get(
            &format!("/api/v1/registries/{registry}/print"),
            Some(&p.courier),
        )
        .await;
    assert_eq!(print.status.as_u16(), 200);
    assert!(print.content_type().starts_with("text/html"));
    let csp = print.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(
        print.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(print.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(
        print.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    let text = crate::printed::visible_text(&print.text);
    for line in [
        "Kaspi қабылдау пунктіне құжаттарды беру тізілімі Реестр передачи документов в пункт приема Kaspi",
        "№ ALM01-2026-000001",
        "APP-1",
        "WB-APP-1",
        "Күні / Дата: 20.03.2026 17:00",
        "Филиал / Филиал: ALM01 — Алматы қаласы бойынша №1 ХҚКО / ЦОН №1 города Алматы",
        "Мекенжайы / Адрес: Алматы қ., Абай даңғ., 10 / г. Алматы, пр. Абая, 10",
        "Жинақтау секторының қызметкері / Работник накопительного сектора: ____________________",
        "Мемлекеттік корпорация курьері / Курьер Госкорпорации: ____________________",
        "Барлық конверттер / Всего конвертов: 1",
    ] {
        assert!(
            text.contains(line),
            "{line} missing from the printed registry: {text}"
        );
    }
    // The waybill as a scannable Code 128 barcode, and nothing the page fetches or runs.
    assert!(print.text.contains("<svg") && print.text.contains("aria-label=\"WB-APP-1\""));
    for fetch in ["<script", "src=", "href=", "url("] {
        assert!(
            !print.text.contains(fetch),
            "the page fetches or runs: {fetch}"
        );
    }
    crate::printed::render("handoff-registry", &print.text, &["WB-APP-1"]);

    p.set_clock("2026-03-26T05:30:00Z");
    let handed = p
        .app
        .post(
            &format!("/api/v1/registries/{registry}/handover"),
            Some(&p.courier),
            &json!({"courier_name": "Ерлан Б."}),
        )
        .await
        .assert_status(200);
    assert_eq!(handed["state"], "handed_over");
    assert_eq!(handed["items"][0]["state"], "handed_to_courier");

    let shipment = p
        .app
        .get(&format!("/api/v1/shipments/{id}"), Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(shipment["state"], "handed_to_courier");
    // п.17: the courier's signature at the ЦОН does not deliver the bag to the Kaspi point.
    assert_eq!(deadline(&shipment, "handoff")["state"], "pending");
    assert_eq!(deadline(&shipment, "kaspi_arrival")["state"], "pending");
    let events: Vec<&str> = shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "executed",
            "kaspi_order_created",
            "intake",
            "label",
            "hand_over_to_courier"
        ]
    );
    let handover = shipment["timeline"].as_array().unwrap().last().unwrap();
    assert_eq!(handover["actor_role"], "state_courier");
    assert_eq!(handover["from"], "packed");
    assert_eq!(handover["details"]["registry"], "ALM01-2026-000001");
}

/// Issue 22 item 1 (п.17): "доставку … в пункт приема Каспи не позднее 12-ти часов следующего
/// рабочего дня". Taken in Friday 20 Mar 2026 (21–25 Mar off), due Thursday 26 Mar 12:00 in
/// Almaty: a bag signed for at 11:50 and accepted by the Kaspi point at 13:30 is met late, at
/// Kaspi's own time of acceptance; the signature is a step of its own.
#[actix_web::test]
async fn a_bag_signed_for_before_noon_but_accepted_at_the_point_after_noon_meets_the_handoff_late()
{
    let handoff = handoff_after(
        "APP-2",
        "2026-03-26T11:50:00+05:00",
        "2026-03-26T13:30:00+05:00",
    )
    .await;
    assert_eq!(handoff["state"], "met_late");
    assert_eq!(handoff["resolved_at"], "2026-03-26T08:30:00Z");
}

/// Issue 22 item 1 (п.17): a bag signed for in the morning and accepted at the Kaspi point at
/// 11:59 of the due day meets the deadline on time.
#[actix_web::test]
async fn a_bag_accepted_at_the_point_by_noon_of_the_next_working_day_meets_the_handoff() {
    let handoff = handoff_after(
        "APP-3",
        "2026-03-26T09:00:00+05:00",
        "2026-03-26T11:59:00+05:00",
    )
    .await;
    assert_eq!(handoff["state"], "met");
    assert_eq!(handoff["resolved_at"], "2026-03-26T06:59:00Z");
}

/// A document taken in Friday 20 Mar 2026 at 17:00, signed for at `signed` and accepted at the
/// Kaspi point at `accepted` (both local); returns its handoff deadline.
async fn handoff_after(number: &str, signed: &str, accepted: &str) -> Value {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let id = p.packed(number).await;
    let (registry, registry_number) = p.seal(&[number]).await;
    let signed: chrono::DateTime<chrono::FixedOffset> = signed.parse().unwrap();
    p.set_clock(&signed.to_utc().to_rfc3339());
    p.sign_for(&registry).await.assert_status(200);
    let shipment = p.shipment(&id).await;
    assert_eq!(deadline(&shipment, "handoff")["state"], "pending");
    // As the old rule stored it (met at the signature): migration 000012 opens it again.
    let old_rule = format!(
        "state = 'met', resolved_at = '{}'",
        signed.to_utc().format("%Y-%m-%d %H:%M:%S")
    );
    p.as_the_old_rule_stored(&id, "handoff", &old_rule, HANDOFF_MET_AT_THE_POINT)
        .await;
    let shipment = p.shipment(&id).await;
    assert_eq!(deadline(&shipment, "handoff")["state"], "pending");
    assert_eq!(deadline(&shipment, "handoff")["resolved_at"], Value::Null);
    let mut event = crate::common::accepted_event(
        &format!("{number}-a"),
        &registry_number,
        &[&format!("WB-{number}")],
    );
    event["occurred_at"] = json!(accepted);
    p.kaspi_event(event).await;
    let shipment = p.shipment(&id).await;
    assert_eq!(shipment["state"], "accepted_at_kaspi_point");
    let handoff = deadline(&shipment, "handoff").clone();
    // And once accepted, the migration reads it from the acceptance as the new rule does.
    p.as_the_old_rule_stored(&id, "handoff", &old_rule, HANDOFF_MET_AT_THE_POINT)
        .await;
    assert_eq!(deadline(&p.shipment(&id).await, "handoff"), &handoff);
    handoff
}

const HANDOFF_MET_AT_THE_POINT: [&str; 2] = [
    include_str!("../../migrations/postgres/2026-12-05-000012_handoff_met_at_the_point/up.sql"),
    include_str!("../../migrations/sqlite/2026-12-05-000012_handoff_met_at_the_point/up.sql"),
];

#[actix_web::test]
async fn a_con_document_goes_to_the_issuance_sector_and_is_issued() {
    let p = Pilot::new().await;
    p.register("CON-1", "con").await;
    p.execute("CON-1").await;
    // Without the registry office's registry the ЦОН route cannot be taken in (п.14).
    let refused = p.intake(&["CON-1"], None).await;
    assert_eq!(refused["items"][0]["outcome"], "refused");
    assert_eq!(refused["items"][0]["code"], "validation_failed");

    let taken = p.intake(&["CON-1"], Some("РАГС-реестр 17/2026")).await;
    assert_eq!(taken["items"][0]["state"], "at_issuance_sector");
    let id = taken["items"][0]["shipment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shipment = p
        .app
        .get(&format!("/api/v1/shipments/{id}"), Some(&p.issuance))
        .await
        .assert_status(200);
    assert_eq!(shipment["registry_office_registry"], "РАГС-реестр 17/2026");
    assert_eq!(deadline(&shipment, "issuance_storage")["state"], "pending");

    let url = format!("/api/v1/shipments/{id}/issue");
    p.app
        .post(
            &url,
            Some(&p.issuance),
            &json!({"recipient": {"type": "applicant", "iin": iin(40)}}),
        )
        .await
        .assert_problem(422, "recipient_mismatch");
    let issued = p
        .app
        .post(
            &url,
            Some(&p.issuance),
            &json!({"recipient": {"type": "applicant", "iin": iin(12)}}),
        )
        .await
        .assert_status(200);
    assert_eq!(issued["state"], "issued_at_con");
    assert_eq!(issued["issued_to"], "applicant");
    assert_eq!(deadline(&issued, "issuance_storage")["state"], "met");
    let again = p
        .app
        .post(&url, Some(&p.issuance), &json!({"recipient": {"type": "representative", "iin": iin(40), "name": "Нұрлан", "power_of_attorney": "Доверенность №5"}}))
        .await
        .assert_problem(409, "invalid_transition");
    assert!(
        again["detail"].as_str().unwrap().contains("issued_at_con"),
        "{again}"
    );
    // The envelope route does not apply to a ЦОН document.
    p.app
        .post(
            &format!("/api/v1/shipments/{id}/label"),
            Some(&p.clerk),
            &json!({"waybill": "WB-1"}),
        )
        .await
        .assert_problem(409, "invalid_transition");
}

#[actix_web::test]
async fn repeated_registrations_and_events_change_nothing() {
    let p = Pilot::new().await;
    p.register("APP-3", "postamat").await;
    let again = p
        .app
        .post(
            "/api/v1/integrations/kaspi/applications",
            Some(&p.kaspi),
            &Pilot::application("APP-3", "postamat"),
        )
        .await
        .assert_status(200);
    assert_eq!(again["application_number"], "APP-3");
    let mut changed = Pilot::application("APP-3", "postamat");
    changed["phone"] = json!("+7 777 000 00 00");
    p.app
        .post(
            "/api/v1/integrations/kaspi/applications",
            Some(&p.kaspi),
            &changed,
        )
        .await
        .assert_problem(409, "application_conflict");

    let first = p.execute("APP-3").await;
    let repeat = p.execute("APP-3").await;
    assert_eq!(
        first, repeat,
        "a repeated event id returns the original result"
    );
    let reused = json!({"event_id": "ro-APP-3", "application_number": "APP-3", "status": "refused", "occurred_at": "2026-03-18T15:00:00+05:00"});
    p.app
        .post(
            "/api/v1/integrations/registry-office/events",
            Some(&p.registry_office),
            &reused,
        )
        .await
        .assert_problem(409, "event_id_reused");
    let second = json!({"event_id": "ro-APP-3-b", "application_number": "APP-3", "status": "refused", "occurred_at": "2026-03-18T16:00:00+05:00"});
    let refused = p
        .app
        .post(
            "/api/v1/integrations/registry-office/events",
            Some(&p.registry_office),
            &second,
        )
        .await
        .assert_problem(409, "invalid_transition");
    assert!(refused["detail"].as_str().unwrap().contains("executed"));

    let ordered = p.order("APP-3", "2026-03-19T10:00:00+05:00").await;
    assert_eq!(ordered, p.order("APP-3", "2026-03-19T10:00:00+05:00").await);
    let other = json!({"event_id": "ord-other", "application_number": "APP-3", "kaspi_order_id": "K-OTHER", "waybill": "WB-OTHER", "occurred_at": "2026-03-19T11:00:00+05:00"});
    p.app
        .post("/api/v1/integrations/kaspi/orders", Some(&p.kaspi), &other)
        .await
        .assert_problem(409, "order_conflict");

    let lookup = p
        .app
        .get("/api/v1/applications/APP-3", Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(lookup["shipments"].as_array().unwrap().len(), 1);
    assert_eq!(
        lookup["shipments"][0]["deadlines"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Issue 24, item 1: the inbox answers a twin from what was kept. The same registry office
/// event and the same Kaspi order, each sent twice at once (on PostgreSQL the two race on two
/// connections), are applied once and both senders get the same answer.
#[actix_web::test]
async fn the_same_event_sent_twice_at_once_is_applied_once_and_answered_alike() {
    let p = Pilot::new().await;
    p.register("APP-T", "postamat").await;
    let executed = json!({"event_id": "ro-APP-T", "application_number": "APP-T", "status": "executed", "occurred_at": "2026-03-18T15:00:00+05:00"});
    let url = "/api/v1/integrations/registry-office/events";
    let (a, b) = futures_util::future::join(
        p.app.post(url, Some(&p.registry_office), &executed),
        p.app.post(url, Some(&p.registry_office), &executed),
    )
    .await;
    let (a, b) = (a.assert_status(200), b.assert_status(200));
    assert_eq!(a, b);
    let order = json!({"event_id": "ord-APP-T", "application_number": "APP-T", "kaspi_order_id": "K-APP-T", "waybill": "WB-APP-T", "occurred_at": "2026-03-19T10:00:00+05:00"});
    let url = "/api/v1/integrations/kaspi/orders";
    let (a, b) = futures_util::future::join(
        p.app.post(url, Some(&p.kaspi), &order),
        p.app.post(url, Some(&p.kaspi), &order),
    )
    .await;
    let (a, b) = (a.assert_status(200), b.assert_status(200));
    assert_eq!(a, b);
    let lookup = p
        .app
        .get("/api/v1/applications/APP-T", Some(&p.clerk))
        .await
        .assert_status(200);
    let shipments = lookup["shipments"].as_array().unwrap();
    assert_eq!(shipments.len(), 1, "{lookup}");
    assert_eq!(shipments[0]["deadlines"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn an_order_or_waybill_of_another_application_is_an_order_conflict() {
    let p = Pilot::new().await;
    for number in ["APP-A", "APP-B"] {
        p.register(number, "postamat").await;
        p.execute(number).await;
    }
    p.order("APP-A", "2026-03-19T10:00:00+05:00").await;
    for (event_id, order_id, waybill) in [
        ("ord-b-1", "K-APP-B", "WB-APP-A"),
        ("ord-b-2", "K-APP-A", "WB-APP-B"),
    ] {
        let body = json!({"event_id": event_id, "application_number": "APP-B", "kaspi_order_id": order_id, "waybill": waybill, "occurred_at": "2026-03-19T11:00:00+05:00"});
        let refused = p
            .app
            .post("/api/v1/integrations/kaspi/orders", Some(&p.kaspi), &body)
            .await
            .assert_problem(409, "order_conflict");
        assert!(
            refused["detail"].as_str().unwrap().contains("APP-A"),
            "{refused}"
        );
    }
    let b = p
        .app
        .get("/api/v1/applications/APP-B", Some(&p.clerk))
        .await
        .assert_status(200);
    assert!(b["shipments"][0]["waybill"].is_null(), "{b}");
    // Its own order still goes through.
    p.order("APP-B", "2026-03-19T12:00:00+05:00").await;
    let b = p
        .app
        .get("/api/v1/applications/APP-B", Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(b["shipments"][0]["waybill"], "WB-APP-B", "{b}");
}

#[actix_web::test]
async fn refusals_name_the_current_state_and_change_nothing() {
    let p = Pilot::new().await;
    p.register("APP-4", "postamat").await;
    let refused = p.intake(&["APP-4", "NOPE-1"], None).await;
    assert_eq!(refused["refused"], 2);
    assert_eq!(refused["items"][0]["code"], "invalid_transition");
    assert_eq!(refused["items"][1]["code"], "not_found");

    p.execute("APP-4").await;
    let lookup = p
        .app
        .get("/api/v1/applications/APP-4", Some(&p.clerk))
        .await
        .assert_status(200);
    let id = lookup["shipments"][0]["id"].as_str().unwrap().to_owned();
    let label = format!("/api/v1/shipments/{id}/label");
    let early = p
        .app
        .post(&label, Some(&p.clerk), &json!({"waybill": "WB-APP-4"}))
        .await
        .assert_problem(409, "invalid_transition");
    assert!(
        early["detail"]
            .as_str()
            .unwrap()
            .contains("ready_at_registry_office"),
        "{early}"
    );
    p.intake(&["APP-4"], None).await;
    p.app
        .post(&label, Some(&p.clerk), &json!({"waybill": "WB-APP-4"}))
        .await
        .assert_problem(409, "no_kaspi_order");
    p.order("APP-4", "2026-03-19T10:00:00+05:00").await;
    p.app
        .post(&label, Some(&p.clerk), &json!({"waybill": "WB-WRONG"}))
        .await
        .assert_problem(422, "waybill_mismatch");
    let twice = p.intake(&["APP-4"], None).await;
    assert!(
        twice["items"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("at_accumulation_sector")
    );
    let shipment = p
        .app
        .get(&format!("/api/v1/shipments/{id}"), Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(shipment["state"], "at_accumulation_sector");
    assert_eq!(shipment["timeline"].as_array().unwrap().len(), 3);
    // Roles: Kaspi cannot take documents in; a courier cannot label.
    p.app
        .post(
            "/api/v1/intake",
            Some(&p.kaspi),
            &json!({"application_numbers": ["APP-4"]}),
        )
        .await
        .assert_problem(403, "role_forbidden");
    p.app
        .post(&label, Some(&p.courier), &json!({"waybill": "WB-APP-4"}))
        .await
        .assert_problem(403, "role_forbidden");
}

#[actix_web::test]
async fn another_branchs_clerk_can_neither_see_nor_move_the_document() {
    let p = Pilot::new().await;
    p.register("APP-5", "postamat").await;
    p.execute("APP-5").await;
    p.app
        .get("/api/v1/applications/APP-5", Some(&p.other_clerk))
        .await
        .assert_problem(404, "not_found");
    let refused = p
        .app
        .post(
            "/api/v1/intake",
            Some(&p.other_clerk),
            &json!({"application_numbers": ["APP-5"]}),
        )
        .await
        .assert_status(200);
    assert_eq!(refused["items"][0]["code"], "not_found");
    let lookup = p
        .app
        .get("/api/v1/applications/APP-5", Some(&p.clerk))
        .await
        .assert_status(200);
    let id = lookup["shipments"][0]["id"].as_str().unwrap();
    p.app
        .get(&format!("/api/v1/shipments/{id}"), Some(&p.other_clerk))
        .await
        .assert_problem(404, "not_found");
    let listed = p
        .app
        .get("/api/v1/shipments", Some(&p.other_clerk))
        .await
        .assert_status(200);
    assert_eq!(listed["total"], 0);
}

#[actix_web::test]
async fn a_sealed_registry_never_changes_and_an_envelope_is_on_one_registry() {
    let p = Pilot::new().await;
    let a = p.packed("APP-6").await;
    p.packed("APP-7").await;
    let first = p
        .app
        .post("/api/v1/registries", Some(&p.clerk), &json!({}))
        .await
        .assert_status(201);
    let second = p
        .app
        .post("/api/v1/registries", Some(&p.clerk), &json!({}))
        .await
        .assert_status(201);
    let (first, second) = (
        first["id"].as_str().unwrap().to_owned(),
        second["id"].as_str().unwrap().to_owned(),
    );

    // Two clerks race to add the same envelope to two drafts: one wins.
    let add = json!({"application_number": "APP-6"});
    let url_a = format!("/api/v1/registries/{first}/items");
    let url_b = format!("/api/v1/registries/{second}/items");
    let (ra, rb) = futures_util::future::join(
        p.app.post(&url_a, Some(&p.clerk), &add),
        p.app.post(&url_b, Some(&p.clerk), &add),
    )
    .await;
    let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let loser = if ra.status.as_u16() == 409 { ra } else { rb };
    loser.assert_problem(409, "already_in_registry");

    let winner = if statuses[0] == 200
        && p.app
            .get(&format!("/api/v1/registries/{first}"), Some(&p.clerk))
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .len()
            == 1
    {
        first.clone()
    } else {
        second.clone()
    };
    p.app
        .post(
            &format!("/api/v1/registries/{winner}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    p.app
        .post(
            &format!("/api/v1/registries/{winner}/items"),
            Some(&p.clerk),
            &json!({"application_number": "APP-7"}),
        )
        .await
        .assert_problem(409, "registry_sealed");
    p.app
        .delete(
            &format!("/api/v1/registries/{winner}/items/{a}"),
            Some(&p.clerk),
        )
        .await
        .assert_problem(409, "registry_sealed");
    p.app
        .post(
            &format!("/api/v1/registries/{winner}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_problem(409, "registry_sealed");
    let view = p
        .app
        .get(&format!("/api/v1/registries/{winner}"), Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(view["items"].as_array().unwrap().len(), 1);

    // The other draft: empty cannot be sealed; a handover needs a sealed registry.
    let other = if winner == first { second } else { first };
    p.app
        .post(
            &format!("/api/v1/registries/{other}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_problem(422, "validation_failed");
    p.app
        .post(
            &format!("/api/v1/registries/{other}/handover"),
            Some(&p.courier),
            &json!({"courier_name": "Ерлан"}),
        )
        .await
        .assert_problem(409, "invalid_transition");
    p.app
        .post(
            &format!("/api/v1/registries/{other}/items"),
            Some(&p.clerk),
            &json!({"application_number": "APP-7"}),
        )
        .await
        .assert_status(200);
    let sealed = p
        .app
        .post(
            &format!("/api/v1/registries/{other}/seal"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    assert_eq!(
        sealed["number"], "ALM01-2026-000002",
        "numbers are gapless per branch and year"
    );
}

#[actix_web::test]
async fn bad_applications_are_refused_and_nothing_is_stored() {
    let p = Pilot::new().await;
    let url = "/api/v1/integrations/kaspi/applications";
    let cases = [
        ("applicant_iin", json!("870412300120"), 400, "invalid_body"),
        ("phone", json!("+7 727 250 00 00"), 400, "invalid_body"),
        ("postamat_id", json!("PST-NOWHERE"), 422, "unknown_postamat"),
        (
            "postamat_id",
            json!("PST-AST-1"),
            422,
            "postamat_not_in_city",
        ),
        ("branch", json!("KRG01"), 422, "validation_failed"),
        ("language", json!("en"), 400, "invalid_body"),
        (
            "submitted_at",
            json!("2026-11-24T10:00:00+05:00"),
            422,
            "validation_failed",
        ),
    ];
    for (field, value, status, code) in cases {
        let mut body = Pilot::application("BAD-1", "postamat");
        body[field] = value;
        let problem = p
            .app
            .post(url, Some(&p.kaspi), &body)
            .await
            .assert_problem(status, code);
        if status == 400 {
            assert!(
                problem["detail"].as_str().unwrap().starts_with(field),
                "{problem}"
            );
        }
    }
    let mut con = Pilot::application("BAD-1", "con");
    con["postamat_id"] = json!("PST-ALA-1");
    p.app
        .post(url, Some(&p.kaspi), &con)
        .await
        .assert_problem(422, "validation_failed");
    // Issue 22 item 10 (order п.6): before the window opened (13 Feb 2026 in these tests),
    // postamat delivery is refused too.
    let mut early = Pilot::application("BAD-1", "postamat");
    early["submitted_at"] = json!("2026-02-12T23:59:00+05:00");
    let problem = p
        .app
        .post(url, Some(&p.kaspi), &early)
        .await
        .assert_problem(422, "outside_pilot_window");
    assert_eq!(
        problem["detail"],
        "postamat delivery is offered from 2026-02-13; the application was submitted on 2026-02-12"
    );
    // After the pilot, postamat delivery is refused; the ЦОН route is not limited to it.
    p.set_clock("2027-01-05T06:00:00Z");
    let mut late = Pilot::application("BAD-1", "postamat");
    late["submitted_at"] = json!("2027-01-05T10:00:00+05:00");
    p.app
        .post(url, Some(&p.kaspi), &late)
        .await
        .assert_problem(422, "outside_pilot_window");
    let mut late_con = Pilot::application("CON-LATE", "con");
    late_con["submitted_at"] = json!("2027-01-05T10:00:00+05:00");
    p.app
        .post(url, Some(&p.kaspi), &late_con)
        .await
        .assert_status(201);

    p.app
        .get("/api/v1/applications/BAD-1", Some(&p.clerk))
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn shipments_are_listed_by_state_and_deadline_with_pages() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    for n in 1..=3 {
        p.packed(&format!("LIST-{n}")).await;
    }
    p.register("LIST-4", "postamat").await;
    p.execute("LIST-4").await;
    let packed = p
        .app
        .get("/api/v1/shipments?state=packed&limit=2", Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(packed["total"], 3);
    assert_eq!(packed["items"].as_array().unwrap().len(), 2);
    let rest = p
        .app
        .get(
            "/api/v1/shipments?state=packed&limit=2&offset=2",
            Some(&p.clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    // A page size or offset out of range is refused, not changed behind the client's back.
    for query in ["limit=0", "limit=201", "limit=-1", "offset=-1"] {
        let refused = p
            .app
            .get(&format!("/api/v1/shipments?{query}"), Some(&p.clerk))
            .await
            .assert_problem(400, "invalid_query");
        let field = query.split('=').next().unwrap();
        assert!(
            refused["detail"].as_str().unwrap().contains(field),
            "{query}: {refused}"
        );
    }
    let most = p
        .app
        .get("/api/v1/shipments?limit=200&offset=0", Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(most["limit"], 200);
    let due = p
        .app
        .get(
            "/api/v1/shipments?deadline_kind=handoff&due_before=2026-03-27T00:00:00Z",
            Some(&p.clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(due["total"], 3);
    let none = p
        .app
        .get(
            "/api/v1/shipments?deadline_kind=handoff&due_before=2026-03-26T00:00:00Z",
            Some(&p.clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(none["total"], 0);
    let one = p
        .app
        .get(
            "/api/v1/shipments?application_number=LIST-4",
            Some(&p.clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(one["items"][0]["state"], "ready_at_registry_office");
    p.app
        .get("/api/v1/shipments?state=flying", Some(&p.clerk))
        .await
        .assert_problem(400, "invalid_query");
    let national = p.app.token(Role::Supervisor, None).await;
    let all = p
        .app
        .get("/api/v1/shipments", Some(&national))
        .await
        .assert_status(200);
    assert_eq!(all["total"], 4);
}

#[actix_web::test]
async fn two_changes_of_one_shipment_from_the_same_version_cannot_both_win() {
    use postamat::db::models::{api_key, shipment};
    use postamat::domain::shipment::Event;
    use postamat::workflows::{self, Actor, EventContext};
    let p = Pilot::new().await;
    p.register("LOCK-1", "postamat").await;
    p.execute("LOCK-1").await;
    p.order("LOCK-1", "2026-03-19T10:00:00+05:00").await;
    let lookup = p
        .app
        .get("/api/v1/applications/LOCK-1", Some(&p.clerk))
        .await
        .assert_status(200);
    let id: postamat::domain::ids::ShipmentId = lookup["shipments"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (pool, clock, cache, token) = (
        p.app.pool.clone(),
        p.app.clock.clone(),
        p.app.calendar.clone(),
        p.clerk.clone(),
    );
    let outcome = actix_web::web::block(move || {
        let mut conn = pool.get().unwrap();
        let clerk = api_key::authenticate(&mut conn, &token).unwrap().unwrap();
        let stale = shipment::find(&mut conn, id).unwrap().unwrap();
        let snapshot = cache.current();
        let ctx = EventContext::now(Actor::from(&clerk), clock.now(), &snapshot);
        workflows::shipment::apply(&mut conn, &stale, None, Event::Intake, &ctx, None).unwrap();
        // A second request that read the shipment before the first one wrote it.
        workflows::shipment::apply(&mut conn, &stale, None, Event::Intake, &ctx, None)
            .err()
            .map(|e| e.to_string())
    })
    .await
    .unwrap();
    assert!(outcome.unwrap().contains("changed by another request"));
    let shipment = p
        .app
        .get(&format!("/api/v1/shipments/{id}"), Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(shipment["version"], 2);
    assert_eq!(
        shipment["timeline"].as_array().unwrap().len(),
        3,
        "the losing change wrote no history"
    );
}
