//! Losses (п.22–26): Kaspi-side and State-side, the loss act in two copies, cancellation by
//! the registry office with the п.25 messages, and the free duplicate.

use crate::common::{Pilot, accepted_event};
use serde_json::{Value, json};

/// п.26: the free duplicate, one open at a time, on the ЦОН route, requested on Monday 23 Nov
/// and issued within its 3 working days.
async fn duplicate_issued_within_three_working_days(p: &Pilot, number: &str) {
    let url = format!("/api/v1/applications/{number}/duplicates");
    p.app
        .post(&url, Some(&p.clerk), &json!({}))
        .await
        .assert_problem(403, "role_forbidden");
    let with_duplicate = p
        .app
        .post(&url, Some(&p.issuance), &json!({}))
        .await
        .assert_status(201);
    let duplicate = with_duplicate["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "duplicate")
        .unwrap()
        .clone();
    let due = duplicate["deadlines"][0].clone();
    assert_eq!(due["kind"], "duplicate");
    // Requested Monday 23 Nov: 24, 25, 26 Nov → 24:00 of Thursday 26 Nov.
    assert_eq!(due["due_at"], "2026-11-26T19:00:00Z");
    p.app
        .post(&url, Some(&p.issuance), &json!({}))
        .await
        .assert_problem(409, "already_exists");
    let taken = p.intake(&[number], Some("РАГС-дубликаты 3/2026")).await;
    assert_eq!(taken["items"][0]["state"], "at_issuance_sector");
    let dup_id = taken["items"][0]["shipment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(dup_id, duplicate["id"].as_str().unwrap());
    let issued = p
        .app
        .post(
            &format!("/api/v1/shipments/{dup_id}/issue"),
            Some(&p.issuance),
            &json!({"recipient": {"type": "applicant", "iin": crate::common::iin(12)}}),
        )
        .await
        .assert_status(200);
    assert_eq!(issued["state"], "issued_at_con");
    let met = issued["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "duplicate")
        .unwrap()
        .clone();
    assert_eq!(met["state"], "met");
}

#[actix_web::test]
async fn a_kaspi_side_loss_ends_in_a_free_duplicate_issued_within_three_working_days() {
    let p = Pilot::new().await;
    let (id, registry) = p.handed_over("L-1").await;
    p.kaspi_event(accepted_event("l1-a", &registry, &["WB-L-1"]))
        .await;
    p.kaspi_event(json!({"event_id": "l1-lost", "type": "lost", "waybill": "WB-L-1", "occurred_at": "2026-11-23T08:00:00+05:00",
        "loss_act": {"number": "KSP-LA-9", "cause": "Кража из курьерской машины", "circumstances": "Заявление в полицию № 77", "responsible_employee": "Курьер Kaspi А. Омаров"}}))
        .await;
    assert_eq!(p.shipment(&id).await["state"], "lost");

    // The registry office cancels only after the act (nothing to cancel for a live document).
    let act = p.act_of("L-1").await;
    assert_eq!(
        (
            act["side"].as_str(),
            act["kaspi_act_number"].as_str(),
            act["state"].as_str()
        ),
        (Some("kaspi"), Some("KSP-LA-9"), Some("recorded"))
    );
    let act_id = act["id"].as_str().unwrap();
    p.app
        .get(&format!("/api/v1/loss-acts/{act_id}/print"), Some(&p.clerk))
        .await
        .assert_problem(409, "invalid_transition");
    let drawn = p
        .app
        .post(
            &format!("/api/v1/loss-acts/{act_id}/draw"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    assert_eq!(
        drawn["number"], "ALM01-2026-000001",
        "the loss-act series is separate from registries"
    );
    p.app
        .post(
            &format!("/api/v1/loss-acts/{act_id}/draw"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_problem(409, "already_exists");
    let print = p
        .app
        .get(&format!("/api/v1/loss-acts/{act_id}/print"), Some(&p.clerk))
        .await;
    for text in [
        "Экземпляр 1",
        "Экземпляр 2",
        "ALM01-2026-000001",
        "KSP-LA-9",
        "Жасалған күні / Дата составления: 23.11.2026 10:00",
        "Мемлекеттік корпорация қызметкері / Работник Госкорпорации: ____________________",
        "Жауапты қызметкер / Ответственный работник: ____________________ / Курьер Kaspi А. Омаров /",
        "Құжаттың жоғалуы туралы акт Акт об утере документа № ALM01-2026-000001",
        "1-дана — Мемлекеттік корпорацияда қалады / Экземпляр 1",
        "Тарап / Сторона «Kaspi Bank» АҚ (22-т.) / АО «Kaspi Bank» (п.22)",
    ] {
        let shown = crate::printed::visible_text(&print.text);
        assert!(shown.contains(text), "{text} missing from the act: {shown}");
    }
    crate::printed::render("loss-act", &print.text, &[]);
    assert!(
        p.outbound_kinds().await.contains(&"loss_act".to_owned()),
        "the second copy goes to the registry office"
    );

    let cancelled = p.cancel("L-1").await.assert_status(200);
    assert_eq!(
        (
            cancelled["application_status"].as_str(),
            cancelled["shipment_state"].as_str()
        ),
        (Some("cancelled"), Some("cancelled"))
    );
    let notes = p.notifications(&id).await;
    let mut channels: Vec<&str> = notes
        .iter()
        .filter(|n| n.kind == "cancelled_after_loss")
        .map(|n| n.channel.as_str())
        .collect();
    channels.sort();
    assert_eq!(channels, ["kaspi_app", "sms_1414"]);
    assert!(
        notes
            .iter()
            .filter(|n| n.kind == "cancelled_after_loss")
            .all(|n| n.body.contains("ХҚКО")
                && n.body.contains("Абай даңғ., 10")
                // Issue 22 item 8 (п.25–26): free, within 3 working days, what to bring, and
                // lost on its way (Kaspi had it).
                && n.body.contains("тегін")
                && n.body.contains("3 жұмыс күнінде")
                && n.body.contains("Жеке куәлігіңізді")
                && n.body.contains("жеткізу кезінде"))
    );

    duplicate_issued_within_three_working_days(&p, "L-1").await;
}

#[actix_web::test]
async fn a_state_side_loss_is_recorded_by_whoever_holds_the_document() {
    let p = Pilot::new().await;
    let id = p.packed("L-2").await;
    p.cancel("L-2")
        .await
        .assert_problem(409, "invalid_transition");
    let loss = json!({"cause": "Утерян при сортировке", "circumstances": "Не найден при сверке реестра", "responsible_employee": "Айгерим Н."});
    p.app
        .post(
            &format!("/api/v1/shipments/{id}/loss"),
            Some(&p.kaspi),
            &loss,
        )
        .await
        .assert_problem(403, "role_forbidden");
    let act = p
        .app
        .post(
            &format!("/api/v1/shipments/{id}/loss"),
            Some(&p.clerk),
            &loss,
        )
        .await
        .assert_status(201);
    assert_eq!(
        (act["side"].as_str(), act["state"].as_str()),
        (Some("state_corporation"), Some("recorded"))
    );
    assert_eq!(p.shipment(&id).await["state"], "lost");
    p.app
        .post(
            &format!("/api/v1/shipments/{id}/loss"),
            Some(&p.clerk),
            &loss,
        )
        .await
        .assert_problem(409, "invalid_transition");

    // Once Kaspi holds a document, its loss is Kaspi's to report (п.22).
    let (kaspi_held, registry) = p.handed_over("L-3").await;
    p.kaspi_event(accepted_event("l3-a", &registry, &["WB-L-3"]))
        .await;
    p.app
        .post(
            &format!("/api/v1/shipments/{kaspi_held}/loss"),
            Some(&p.clerk),
            &loss,
        )
        .await
        .assert_problem(403, "role_forbidden");

    // Issue 22 item 7 (п.24): the registry office cancels according to the act, so not before
    // the accumulation sector has drawn it and sent its copy; the same event is accepted once
    // it has, and no message went to the citizen meanwhile.
    let early = p
        .cancel("L-2")
        .await
        .assert_problem(409, "invalid_transition");
    assert!(
        early["detail"].as_str().unwrap().contains("loss act"),
        "{early}"
    );
    assert_eq!(p.shipment(&id).await["state"], "lost");
    assert!(p.notifications(&id).await.is_empty());

    let act_id = act["id"].as_str().unwrap();
    let drawn = p
        .app
        .post(
            &format!("/api/v1/loss-acts/{act_id}/draw"),
            Some(&p.clerk),
            &json!({}),
        )
        .await
        .assert_status(200);
    let print = p
        .app
        .get(&format!("/api/v1/loss-acts/{act_id}/print"), Some(&p.clerk))
        .await;
    assert!(
        print.text.contains("Экземпляр 1")
            && print.text.contains("Экземпляр 2")
            && print.text.contains(drawn["number"].as_str().unwrap())
            && print.text.contains("Утерян при сортировке"),
        "{}",
        print.text
    );
    p.cancel("L-2").await.assert_status(200);
    let notes = p.notifications(&id).await;
    let mut channels: Vec<(&str, &str)> = notes
        .iter()
        .map(|n| (n.kind.as_str(), n.channel.as_str()))
        .collect();
    channels.sort();
    assert_eq!(
        channels,
        [
            ("cancelled_after_loss", "kaspi_app"),
            ("cancelled_after_loss", "sms_1414")
        ]
    );
    // Issue 22 item 8 (п.25): lost at the accumulation sector, before any delivery, and the
    // message says so.
    for n in &notes {
        assert!(
            n.body.contains("Мемлекеттік корпорацияда жоғалды")
                && !n.body.contains("жеткізу кезінде"),
            "{}",
            n.body
        );
    }
    duplicate_issued_within_three_working_days(&p, "L-2").await;
}

#[actix_web::test]
async fn a_dispute_over_a_loss_is_recorded_with_how_it_was_settled() {
    let p = Pilot::new().await;
    let id = p.packed("D-1").await;
    let loss =
        json!({"cause": "Утерян", "circumstances": "—", "responsible_employee": "Курьер Е."});
    let act = p
        .app
        .post(
            &format!("/api/v1/shipments/{id}/loss"),
            Some(&p.courier),
            &loss,
        )
        .await
        .assert_status(201);
    let supervisor = p
        .app
        .token(postamat::domain::role::Role::Supervisor, Some("ALM01"))
        .await;
    let opened = p
        .app
        .post(
            "/api/v1/disputes",
            Some(&supervisor),
            &json!({"shipment_id": id, "loss_act_id": act["id"], "parties": "Госкорпорация и курьерская служба",
                    "subject": "Ответственность за утерю", "opened_on": "2026-11-23"}),
        )
        .await
        .assert_status(201);
    // The act must be one the supervisor sees, and about this shipment.
    let dispute = |loss_act_id: Value, shipment_id: &str| {
        json!({"shipment_id": shipment_id, "loss_act_id": loss_act_id, "parties": "—",
               "subject": "—", "opened_on": "2026-11-23"})
    };
    p.app
        .post(
            "/api/v1/disputes",
            Some(&supervisor),
            &dispute(json!(uuid::Uuid::now_v7()), &id),
        )
        .await
        .assert_problem(404, "not_found");
    let other_shipment = p.packed("D-2").await;
    p.app
        .post(
            "/api/v1/disputes",
            Some(&supervisor),
            &dispute(act["id"].clone(), &other_shipment),
        )
        .await
        .assert_problem(422, "validation_failed");
    let url = format!("/api/v1/disputes/{}/settle", opened["id"].as_str().unwrap());
    let settle = json!({"commission_protocol": "Протокол комиссии № 4", "outcome": "Ответственность курьера", "settled_on": "2026-12-01"});
    let settled = p
        .app
        .post(&url, Some(&supervisor), &settle)
        .await
        .assert_status(200);
    assert_eq!(settled["commission_protocol"], "Протокол комиссии № 4");
    p.app
        .post(&url, Some(&supervisor), &settle)
        .await
        .assert_problem(409, "already_ended");
    let events: Vec<String> = p.shipment(&id).await["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        events.ends_with(&["dispute_opened".to_owned(), "dispute_settled".to_owned()]),
        "{events:?}"
    );
    let other = p
        .app
        .token(postamat::domain::role::Role::Supervisor, Some("AST01"))
        .await;
    assert_eq!(
        p.app
            .get("/api/v1/disputes", Some(&other))
            .await
            .assert_status(200),
        json!([])
    );
}

#[actix_web::test]
async fn a_force_majeure_period_without_timely_notice_is_flagged() {
    let p = Pilot::new().await;
    let national = p
        .app
        .token(postamat::domain::role::Role::Supervisor, None)
        .await;
    // Started Monday 16 Nov: notice was due by 24:00 of Thursday 19 Nov (п.38).
    let period = p
        .app
        .post("/api/v1/force-majeure", Some(&national), &json!({"branch": "ALM01", "starts_at": "2026-11-16T08:00:00+05:00", "reason": "Буран"}))
        .await
        .assert_status(201);
    let flagged = p
        .app
        .get(
            "/api/v1/exceptions?kind=unnotified_force_majeure",
            Some(&national),
        )
        .await
        .assert_status(200);
    assert_eq!(flagged.as_array().unwrap().len(), 1);
    let url = format!(
        "/api/v1/force-majeure/{}/notice",
        period["id"].as_str().unwrap()
    );
    let noticed = p
        .app
        .post(
            &url,
            Some(&national),
            &json!({"reference": "Письмо № 12-3/456"}),
        )
        .await
        .assert_status(200);
    assert_eq!(noticed["notice_reference"], "Письмо № 12-3/456");
    p.app
        .post(&url, Some(&national), &json!({"reference": "again"}))
        .await
        .assert_problem(409, "already_exists");
    // Issue 22 item 5 (п.39): noticed on Monday 23 Nov, 2 working days late (Friday 20, Monday
    // 23): the period cannot be invoked, and it stays flagged.
    assert_eq!(
        noticed["notice"],
        json!({"state": "late", "due_by": "2026-11-19", "late_by_working_days": 2, "invocable": false,
               "standing": "not invocable, notice late by 2 working days (п.39)"})
    );
    let flagged = p
        .app
        .get(
            "/api/v1/exceptions?kind=unnotified_force_majeure",
            Some(&national),
        )
        .await
        .assert_status(200);
    assert_eq!(flagged.as_array().unwrap().len(), 1, "{flagged}");
    assert_eq!(
        flagged[0]["reason"],
        "not invocable, notice late by 2 working days (п.39): Буран"
    );
}

/// Security review, issue 28 finding 2: a branch supervisor recorded the п.38 notice of a
/// national period, which hid the national supervisors' exception and named no one. One scope
/// rule now covers every action on a period, and the notice names its key.
#[actix_web::test]
async fn only_a_national_key_records_a_national_notice_and_every_notice_names_its_key() {
    use postamat::domain::role::Role;
    let p = Pilot::new().await;
    let national = p.app.token(Role::Supervisor, None).await;
    let almaty = p.app.token(Role::Supervisor, Some("ALM01")).await;
    let astana = p.app.token(Role::Supervisor, Some("AST01")).await;
    let nationwide = p
        .app
        .post(
            "/api/v1/force-majeure",
            Some(&national),
            &json!({"starts_at": "2026-11-16T08:00:00+05:00", "reason": "Карантин"}),
        )
        .await
        .assert_status(201);
    let notice = |period: &serde_json::Value| {
        format!(
            "/api/v1/force-majeure/{}/notice",
            period["id"].as_str().unwrap()
        )
    };
    let letter = json!({"reference": "Письмо № 1"});
    p.app
        .post(&notice(&nationwide), Some(&almaty), &letter)
        .await
        .assert_problem(403, "branch_forbidden");
    let unnotified = "/api/v1/exceptions?kind=unnotified_force_majeure";
    let flagged = p
        .app
        .get(unnotified, Some(&national))
        .await
        .assert_status(200);
    assert_eq!(flagged.as_array().unwrap().len(), 1, "{flagged}");
    let noticed = p
        .app
        .post(&notice(&nationwide), Some(&national), &letter)
        .await
        .assert_status(200);
    let me = p
        .app
        .get("/api/v1/me", Some(&national))
        .await
        .assert_status(200);
    assert_eq!(noticed["notice_recorded_by"], me["key_id"]);

    // A branch's period: its own branch records the notice, another branch may not.
    let local = p
        .app
        .post("/api/v1/force-majeure", Some(&national), &json!({"branch": "ALM01", "starts_at": "2026-11-16T08:00:00+05:00", "reason": "Буран"}))
        .await
        .assert_status(201);
    p.app
        .post(&notice(&local), Some(&astana), &letter)
        .await
        .assert_problem(403, "branch_forbidden");
    let noticed = p
        .app
        .post(&notice(&local), Some(&almaty), &letter)
        .await
        .assert_status(200);
    let me = p
        .app
        .get("/api/v1/me", Some(&almaty))
        .await
        .assert_status(200);
    assert_eq!(noticed["notice_recorded_by"], me["key_id"]);
    // Both notices came a week after the start: each period stays flagged as not invocable
    // (п.39), whoever recorded its notice.
    let flagged = p
        .app
        .get(unnotified, Some(&national))
        .await
        .assert_status(200);
    let reasons: Vec<&str> = flagged
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "not invocable, notice late by 2 working days (п.39): Карантин",
            "not invocable, notice late by 2 working days (п.39): Буран"
        ]
    );
}

#[actix_web::test]
async fn registries_and_loss_acts_are_listed_a_page_at_a_time() {
    let p = Pilot::new().await;
    let loss = json!({"cause": "Утерян при сортировке", "circumstances": "Не найден при сверке", "responsible_employee": "Айгерим Н."});
    let mut registries = Vec::new();
    let mut acts = Vec::new();
    for number in ["PG-1", "PG-2", "PG-3"] {
        let id = p.packed(number).await;
        let draft = p
            .app
            .post(
                "/api/v1/registries",
                Some(&p.clerk),
                &json!({"application_numbers": [number]}),
            )
            .await
            .assert_status(201);
        registries.push(draft["id"].as_str().unwrap().to_owned());
        p.app
            .delete(
                &format!(
                    "/api/v1/registries/{}/items/{id}",
                    registries.last().unwrap()
                ),
                Some(&p.clerk),
            )
            .await
            .assert_status(200);
        let act = p
            .app
            .post(
                &format!("/api/v1/shipments/{id}/loss"),
                Some(&p.clerk),
                &loss,
            )
            .await
            .assert_status(201);
        acts.push(act["id"].as_str().unwrap().to_owned());
    }
    registries.reverse();
    acts.reverse();
    for (path, expected) in [
        ("/api/v1/registries", &registries),
        ("/api/v1/loss-acts", &acts),
    ] {
        let first = p
            .app
            .get(&format!("{path}?limit=2"), Some(&p.clerk))
            .await
            .assert_status(200);
        let ids = |page: &Value| -> Vec<String> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids(&first), expected[..2], "{path}: newest first");
        let cursor = first["next_cursor"]
            .as_str()
            .expect("a next page")
            .to_owned();
        let second = p
            .app
            .get(&format!("{path}?limit=2&cursor={cursor}"), Some(&p.clerk))
            .await
            .assert_status(200);
        assert_eq!(ids(&second), expected[2..], "{path}");
        assert_eq!(second["next_cursor"], Value::Null, "{path}: the last page");
        let all = p.app.get(path, Some(&p.clerk)).await.assert_status(200);
        assert_eq!(&ids(&all), expected, "{path}: 50 by default");
        for bad in ["limit=0", "limit=201", "cursor=not-a-cursor"] {
            let refused = p
                .app
                .get(&format!("{path}?{bad}"), Some(&p.clerk))
                .await
                .assert_problem(400, "invalid_query");
            let name = bad.split('=').next().unwrap();
            assert!(
                refused["detail"].as_str().unwrap().starts_with(name),
                "{refused}"
            );
        }
    }
}

/// The exception queue applies scope, branch and limit in its queries (issue 28 finding 6):
/// a page of the oldest, nothing of another branch, a clear refusal of a limit out of bounds.
#[actix_web::test]
async fn the_exception_queue_returns_the_oldest_items_of_the_callers_reach() {
    use postamat::domain::role::Role;
    let p = Pilot::new().await;
    let national = p.app.token(Role::Supervisor, None).await;
    let almaty = p.app.token(Role::Supervisor, Some("ALM01")).await;
    for (branch, starts_at) in [
        (Some("ALM01"), "2026-11-10T08:00:00+05:00"),
        (None, "2026-11-11T08:00:00+05:00"),
        (Some("ALM01"), "2026-11-12T08:00:00+05:00"),
    ] {
        let mut body = json!({"starts_at": starts_at, "reason": "Буран"});
        if let Some(b) = branch {
            body["branch"] = json!(b);
        }
        p.app
            .post("/api/v1/force-majeure", Some(&national), &body)
            .await
            .assert_status(201);
    }
    let since = |items: &serde_json::Value| -> Vec<String> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["since"].as_str().unwrap()[..10].to_owned())
            .collect()
    };
    let page = p
        .app
        .get("/api/v1/exceptions?limit=2", Some(&national))
        .await
        .assert_status(200);
    assert_eq!(since(&page), ["2026-11-10", "2026-11-11"]);
    let own = p
        .app
        .get("/api/v1/exceptions", Some(&almaty))
        .await
        .assert_status(200);
    assert_eq!(
        since(&own),
        ["2026-11-10", "2026-11-12"],
        "no national item"
    );
    let other = p
        .app
        .get("/api/v1/exceptions?branch=AST01", Some(&almaty))
        .await
        .assert_status(200);
    assert_eq!(other, json!([]));
    for bad in [
        "limit=0",
        "limit=1001",
        "min_age_hours=-1",
        "min_age_hours=99999999",
    ] {
        p.app
            .get(&format!("/api/v1/exceptions?{bad}"), Some(&national))
            .await
            .assert_problem(422, "validation_failed");
    }

    // A Kaspi event whose waybill matches nothing waits; after an hour (issue 23) it is in the
    // queue, for national staff only, aged from that hour; its age is filtered in its query.
    let waiting = p
        .kaspi_event(crate::common::event(
            "ev-nowhere",
            "out_for_delivery",
            "WB-NOWHERE",
            "2026-03-20T10:00:00+05:00",
        ))
        .await;
    assert_eq!(waiting["outcome"], "unmatched", "{waiting}");
    let kinds = |items: &serde_json::Value| -> Vec<String> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let url = "/api/v1/exceptions?kind=unmatched_event";
    let fresh = p.app.get(url, Some(&national)).await.assert_status(200);
    assert_eq!(fresh, json!([]), "an event may wait an hour");
    p.app
        .clock
        .set(p.app.clock.now() + chrono::Duration::minutes(61));
    let all = p.app.get(url, Some(&national)).await.assert_status(200);
    assert_eq!(kinds(&all), ["unmatched_event"]);
    let own = p.app.get(url, Some(&almaty)).await.assert_status(200);
    assert_eq!(own, json!([]), "not a branch's");
    let old = format!("{url}&min_age_hours=1");
    let aged = p.app.get(&old, Some(&national)).await.assert_status(200);
    assert_eq!(aged, json!([]), "waiting an hour only a minute ago");
}
