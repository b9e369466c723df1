//! Kaspi's signed delivery-status events: the path to collection, return, loss and delay,
//! duplicates, reverse order, signatures, the unmatched inbox, batches and registry
//! reconciliation.

use crate::common::{
    EVENTS, KASPI_NEXT_SECRET, KASPI_SECRET, Pilot, accepted_event, deadline_state, event,
    placed_event,
};
use actix_web::web;
use postamat::domain::role::Role;
use serde_json::{Value, json};

const BATCH: &str = "/api/v1/integrations/kaspi/events/batch";

#[actix_web::test]
async fn a_document_goes_from_the_courier_to_the_citizen_and_every_repeat_is_a_duplicate() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let (id, registry) = p.handed_over("K-1").await;
    p.set_clock("2026-03-26T06:00:00Z");
    let steps = [
        accepted_event("e1", &registry, &["WB-K-1"]),
        event(
            "e2",
            "out_for_delivery",
            "WB-K-1",
            "2026-03-27T09:00:00+05:00",
        ),
        placed_event("e3", "WB-K-1", "PST-ALA-1"),
        event("e4", "collected", "WB-K-1", "2026-03-28T18:00:00+05:00"),
    ];
    let expected = [
        "accepted_at_kaspi_point",
        "out_for_delivery",
        "placed_in_cell",
        "collected",
    ];
    for (step, state) in steps.iter().zip(expected) {
        let first = p.kaspi_event(step.clone()).await;
        assert_eq!(first["outcome"], "applied", "{first}");
        assert_eq!(p.shipment(&id).await["state"], state);
        let again = p.kaspi_event(step.clone()).await;
        assert_eq!(again["outcome"], "duplicate", "{again}");
        assert_eq!(again["first_outcome"], "applied");
    }
    let shipment = p.shipment(&id).await;
    // The acceptance's history line names the registries and how many envelopes Kaspi took,
    // not every waybill on the registry (which the kept event holds, once).
    let accepted = shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["event"] == "accepted_at_kaspi_point")
        .unwrap();
    assert_eq!(accepted["details"]["handoff_registry"], registry.as_str());
    assert_eq!(accepted["details"]["accepted_envelopes"], 1);
    assert!(
        accepted["details"].get("accepted_waybills").is_none(),
        "{accepted}"
    );
    assert_eq!(deadline_state(&shipment, "kaspi_arrival"), "met_late");
    assert_eq!(deadline_state(&shipment, "point_wait"), "met");
    assert_eq!(deadline_state(&shipment, "storage"), "met");
    let notes = p.notifications(&id).await;
    assert_eq!(
        notes.len(),
        1,
        "one placed-in-cell message, even though the event came twice"
    );
    assert_eq!(notes[0].kind, "placed_in_cell");
    assert_eq!(notes[0].channel, "kaspi_app");
    assert_eq!(notes[0].language, "kk");
    // Placed 27 Mar 15:00: 3 calendar days → collect by 30 Mar (п.21, 28).
    assert!(
        notes[0].body.contains("30.03.2026") && notes[0].body.contains("Абай даңғ., 1"),
        "{}",
        notes[0].body
    );
    let registry_view = p
        .app
        .get("/api/v1/registries?state=accepted", Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(
        registry_view["items"][0]["kaspi_registry_number"],
        "KSP-R-1"
    );
}

#[actix_web::test]
async fn an_uncollected_document_returns_to_the_point_and_a_lost_one_gets_its_act() {
    let p = Pilot::new().await;
    let (id, registry) = p.handed_over("R-1").await;
    p.twice(accepted_event("r1", &registry, &["WB-R-1"])).await;
    p.twice(placed_event("r2", "WB-R-1", "PST-ALA-1")).await;
    let removed = p
        .kaspi_event(event(
            "r3",
            "removed_from_cell",
            "WB-R-1",
            "2026-03-31T09:00:00+05:00",
        ))
        .await;
    assert_eq!(removed["state"], "storage_expired");
    let back = p
        .kaspi_event(event(
            "r4",
            "returned_to_point",
            "WB-R-1",
            "2026-03-31T16:00:00+05:00",
        ))
        .await;
    assert_eq!(back["state"], "returned_to_kaspi_point");
    let shipment = p.shipment(&id).await;
    assert_eq!(deadline_state(&shipment, "return"), "met");

    let (lost_id, lost_registry) = p.handed_over("R-2").await;
    p.twice(accepted_event("l1", &lost_registry, &["WB-R-2"]))
        .await;
    let lost = p
        .kaspi_event(json!({"event_id": "l2", "type": "lost", "waybill": "WB-R-2", "occurred_at": "2026-03-27T12:00:00+05:00",
            "loss_act": {"number": "KSP-LA-7", "cause": "Повреждение постамата", "circumstances": "Пожар в ТЦ", "responsible_employee": "Курьер Kaspi Б. Ахметов"}}))
        .await;
    assert_eq!(lost["state"], "lost");
    let shipment = p.shipment(&lost_id).await;
    assert_eq!(deadline_state(&shipment, "point_wait"), "cancelled");
    let lost = shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "lost")
        .unwrap()
        .clone();
    assert_eq!(lost["details"]["loss_act"]["number"], "KSP-LA-7");
    assert_eq!(lost["source"], "kaspi");
}

#[actix_web::test]
async fn a_delay_tells_the_citizen_the_new_date_once() {
    let p = Pilot::new().await;
    let (id, _) = p.handed_over("D-1").await;
    // Told on the day Kaspi reports it (a date already past would announce nothing).
    p.set_clock("2026-03-20T08:00:00Z");
    let delay = json!({"event_id": "d1", "type": "delayed", "waybill": "WB-D-1", "occurred_at": "2026-03-20T12:00:00+05:00", "new_expected_date": "2026-03-30"});
    assert_eq!(p.twice(delay.clone()).await["state"], "handed_to_courier");
    let mut same_date = delay.clone();
    same_date["event_id"] = json!("d2");
    p.twice(same_date).await;
    let notes = p.notifications(&id).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, "delivery_late");
    assert!(notes[0].body.contains("30.03.2026"));
}

#[actix_web::test]
async fn events_in_reverse_order_end_in_the_right_state_with_the_whole_history() {
    let p = Pilot::new().await;
    let (id, registry) = p.handed_over("V-1").await;
    let outcomes = [
        p.twice(event(
            "v4",
            "collected",
            "WB-V-1",
            "2026-03-28T18:00:00+05:00",
        ))
        .await,
        p.twice(placed_event("v3", "WB-V-1", "PST-ALA-1")).await,
        p.twice(event(
            "v2",
            "out_for_delivery",
            "WB-V-1",
            "2026-03-27T09:00:00+05:00",
        ))
        .await,
        p.twice(accepted_event("v1", &registry, &["WB-V-1"])).await,
    ];
    let names: Vec<&str> = outcomes
        .iter()
        .map(|o| o["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "applied",
            "out_of_order_recorded",
            "out_of_order_recorded",
            "applied"
        ]
    );
    let shipment = p.shipment(&id).await;
    assert_eq!(shipment["state"], "collected");
    let events: Vec<&str> = shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for kaspi in [
        "accepted_at_kaspi_point",
        "out_for_delivery",
        "placed_in_cell",
        "collected",
    ] {
        assert!(events.contains(&kaspi), "{kaspi} missing from {events:?}");
    }
    // History is ordered by when things happened, not by when Kaspi told us.
    assert_in_time_order(&shipment);
}

/// The shipment's timeline reads in the order things happened.
pub fn assert_in_time_order(shipment: &Value) {
    let times: Vec<&str> = shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["occurred_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(
        times, sorted,
        "the timeline reads in the order things happened"
    );
}

#[actix_web::test]
async fn unsigned_badly_signed_or_old_calls_are_refused_and_store_nothing() {
    let p = Pilot::new().await;
    let (id, _) = p.handed_over("S-1").await;
    let body = event(
        "s1",
        "out_for_delivery",
        "WB-S-1",
        "2026-03-27T09:00:00+05:00",
    );
    p.app
        .post(EVENTS, None, &body)
        .await
        .assert_problem(401, "invalid_signature");
    p.signed(
        EVENTS,
        &body,
        "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=",
        0,
    )
    .await
    .assert_problem(401, "invalid_signature");
    p.signed(EVENTS, &body, KASPI_SECRET, -301)
        .await
        .assert_problem(401, "signature_expired");
    assert_eq!(p.shipment(&id).await["state"], "handed_to_courier");
    // The rotated-in secret works, and the event was never stored before.
    let applied = p
        .signed(EVENTS, &body, KASPI_NEXT_SECRET, 0)
        .await
        .assert_status(200);
    assert_eq!(applied["outcome"], "applied");
}

#[actix_web::test]
async fn an_event_for_an_unknown_waybill_is_kept_and_applied_when_the_waybill_is_known() {
    let p = Pilot::new().await;
    let early = p
        .kaspi_event(event(
            "u1",
            "out_for_delivery",
            "WB-U-1",
            "2026-03-27T09:00:00+05:00",
        ))
        .await;
    assert_eq!(early["outcome"], "unmatched");
    let supervisor = p.app.token(Role::Supervisor, None).await;
    let inbox = p
        .app
        .get(&format!("{EVENTS}?outcome=unmatched"), Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(inbox[0]["event_id"], "u1");

    // The order makes the waybill known, but the document is still ours: the event waits.
    let (id, _) = p.handed_over("U-1").await;
    assert_eq!(
        p.shipment(&id).await["state"],
        "out_for_delivery",
        "applied at the handover, with the point's acceptance implied"
    );
    let inbox = p
        .app
        .get(&format!("{EVENTS}?outcome=unmatched"), Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(inbox, json!([]));
    assert_eq!(
        p.kaspi_event(event(
            "u1",
            "out_for_delivery",
            "WB-U-1",
            "2026-03-27T09:00:00+05:00"
        ))
        .await["outcome"],
        "duplicate"
    );
}

#[actix_web::test]
async fn a_batch_is_answered_event_by_event() {
    let p = Pilot::new().await;
    let (_, registry) = p.handed_over("B-1").await;
    let batch = json!({"events": [
        accepted_event("b1", &registry, &["WB-B-1"]),
        accepted_event("b1", &registry, &["WB-B-1"]),
        {"event_id": "b2", "type": "out_for_delivery", "occurred_at": "2026-03-27T09:00:00+05:00"},
        {"event_id": "b3", "type": "teleported", "waybill": "WB-B-1", "occurred_at": "2026-03-27T09:00:00+05:00"},
        accepted_event("b4", "ALM01-2026-999999", &["WB-B-1"]),
        event("b5", "out_for_delivery", "WB-NOBODY", "2026-03-27T09:00:00+05:00"),
        event("b6", "out_for_delivery", "WB-B-1", "2026-03-27T09:00:00+05:00"),
        accepted_event("b1", &registry, &["WB-SOMETHING-ELSE"]),
    ]});
    let answer = p
        .signed(BATCH, &batch, KASPI_SECRET, 0)
        .await
        .assert_status(200);
    let outcomes: Vec<(&str, &str)> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap(),
                r["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("applied", ""),
            ("duplicate", ""),
            ("rejected", "invalid_body"),
            ("rejected", "invalid_body"),
            ("unmatched", ""),
            ("unmatched", ""),
            ("applied", ""),
            ("rejected", "event_id_reused"),
        ]
    );
}

#[actix_web::test]
async fn a_registry_accepted_with_a_missing_and_an_unexpected_envelope_shows_both() {
    let p = Pilot::new().await;
    p.packed("M-1").await;
    p.packed("M-2").await;
    let (registry, number) = p.hand_over(&["M-1", "M-2"]).await;
    p.kaspi_event(accepted_event("m1", &number, &["WB-M-1", "WB-STRANGER"]))
        .await;
    let view = p
        .app
        .get(&format!("/api/v1/registries/{registry}"), Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(view["state"], "accepted_with_discrepancies");
    let states: Vec<&str> = view["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["accepted_at_kaspi_point", "handed_to_courier"]);

    let supervisor = p.app.token(Role::Supervisor, Some("ALM01")).await;
    let found = p
        .app
        .get("/api/v1/discrepancies", Some(&supervisor))
        .await
        .assert_status(200);
    let mut kinds: Vec<(&str, &str)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["waybill"].as_str().unwrap()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("not_accepted", "WB-M-2"),
            ("unexpected_envelope", "WB-STRANGER")
        ]
    );

    // A postamat other than the citizen's is a discrepancy too.
    p.kaspi_event(placed_event("m2", "WB-M-1", "PST-AST-1"))
        .await;
    let found = p
        .app
        .get("/api/v1/discrepancies", Some(&supervisor))
        .await
        .assert_status(200);
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "wrong_postamat")
    );
}

#[actix_web::test]
async fn an_event_whose_transaction_fails_leaves_nothing_and_can_be_sent_again() {
    let p = Pilot::new().await;
    let (id, registry) = p.handed_over("F-1").await;
    p.kaspi_event(accepted_event("f1", &registry, &["WB-F-1"]))
        .await;
    // The notification outbox is gone: the transaction fails after the state change.
    p.app
        .rename_table("notifications", "notifications_away")
        .await;
    let failed = p
        .signed(
            EVENTS,
            &placed_event("f2", "WB-F-1", "PST-ALA-1"),
            KASPI_SECRET,
            0,
        )
        .await;
    assert_eq!(failed.status.as_u16(), 500, "{}", failed.text);
    assert_eq!(
        p.shipment(&id).await["state"],
        "accepted_at_kaspi_point",
        "nothing half-applied"
    );
    p.app
        .rename_table("notifications_away", "notifications")
        .await;
    let resent = p
        .kaspi_event(placed_event("f2", "WB-F-1", "PST-ALA-1"))
        .await;
    assert_eq!(
        resent["outcome"], "applied",
        "not a duplicate: the failed attempt stored nothing"
    );
    assert_eq!(p.shipment(&id).await["state"], "placed_in_cell");
}

#[actix_web::test]
async fn an_executed_postamat_application_asks_kaspi_for_an_order_once() {
    let p = Pilot::new().await;
    p.register("O-1", "postamat").await;
    p.register("O-2", "con").await;
    p.execute("O-1").await;
    p.execute("O-1").await;
    p.execute("O-2").await;
    let pool = p.app.pool.clone();
    let rows: Vec<(String, String)> = web::block(move || {
        use diesel::prelude::*;
        use postamat::db::schema::outbound_messages::dsl::*;
        outbound_messages
            .select((kind, payload))
            .load::<(String, String)>(&mut pool.get().unwrap())
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "create_order");
    let message: Value = serde_json::from_str(&rows[0].1).unwrap();
    assert_eq!(message["application_number"], "O-1");
    assert_eq!(message["postamat_id"], "PST-ALA-1");
}

#[actix_web::test]
async fn an_acceptance_before_our_handover_waits_for_it() {
    let p = Pilot::new().await;
    p.packed("W-1").await;
    let draft = p
        .app
        .post(
            "/api/v1/registries",
            Some(&p.clerk),
            &json!({"application_numbers": ["W-1"]}),
        )
        .await
        .assert_status(201);
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
    let number = sealed["number"].as_str().unwrap();
    // Kaspi's point accepted the bag before the courier's handover reached our records.
    let early = p.twice(accepted_event("w1", number, &["WB-W-1"])).await;
    assert_eq!(early["outcome"], "unmatched");
    let handed = p
        .app
        .post(
            &format!("/api/v1/registries/{registry}/handover"),
            Some(&p.courier),
            &json!({"courier_name": "Ерлан"}),
        )
        .await
        .assert_status(200);
    assert_eq!(handed["items"][0]["state"], "accepted_at_kaspi_point");
    let view = p
        .app
        .get(&format!("/api/v1/registries/{registry}"), Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(view["state"], "accepted");
}

#[actix_web::test]
async fn a_branch_supervisor_sees_only_their_branchs_kaspi_events() {
    let p = Pilot::new().await;
    // Unknown waybill: nobody's branch yet. Packed ALM01 document: waits for our handover.
    p.kaspi_event(event(
        "sc-unknown",
        "out_for_delivery",
        "WB-NOBODY",
        "2026-03-27T09:00:00+05:00",
    ))
    .await;
    p.packed("SC-1").await;
    let waiting = p
        .kaspi_event(placed_event("sc-alm", "WB-SC-1", "PST-ALA-1"))
        .await;
    assert_eq!(waiting["outcome"], "unmatched");
    let listed = |token: String| {
        let app = &p.app;
        async move {
            let inbox = app
                .get(&format!("{EVENTS}?outcome=unmatched"), Some(&token))
                .await
                .assert_status(200);
            let mut ids: Vec<String> = inbox
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let national = p.app.token(Role::Supervisor, None).await;
    let almaty = p.app.token(Role::Supervisor, Some("ALM01")).await;
    let astana = p.app.token(Role::Supervisor, Some("AST01")).await;
    assert_eq!(listed(national).await, ["sc-alm", "sc-unknown"]);
    assert_eq!(listed(almaty).await, ["sc-alm"]);
    assert_eq!(listed(astana).await, Vec::<String>::new());
}

/// Issue 22 item 3 (п.11): "время ожидания заказа в пункте приема" ends when the document
/// leaves the point. Accepted Thursday 26 March 2026, the wait runs 3 working days to 24:00 of
/// Tuesday 31 March; out for delivery at 18:00 that Tuesday and placed on Wednesday 1 April,
/// the wait was met — the old rule, met at placement, said met late. Deadlines stored by the
/// old rule are re-read by migration 000010, which this test runs again on such a deadline.
#[actix_web::test]
async fn the_point_wait_ends_when_the_document_leaves_the_point_not_at_the_cell() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let (id, registry) = p.handed_over("PW-1").await;
    p.set_clock("2026-03-26T06:00:00Z");
    p.kaspi_event(accepted_event("pw-a", &registry, &["WB-PW-1"]))
        .await;
    let wait = |shipment: &Value| {
        shipment["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "point_wait")
            .unwrap()
            .clone()
    };
    assert_eq!(
        wait(&p.shipment(&id).await)["due_local"],
        "2026-04-01T00:00:00+05:00"
    );
    p.set_clock("2026-03-31T13:00:00Z");
    p.kaspi_event(event(
        "pw-o",
        "out_for_delivery",
        "WB-PW-1",
        "2026-03-31T18:00:00+05:00",
    ))
    .await;
    assert_eq!(deadline_state(&p.shipment(&id).await, "point_wait"), "met");
    p.set_clock("2026-04-01T05:00:00Z");
    let mut placed = placed_event("pw-p", "WB-PW-1", "PST-ALA-1");
    placed["occurred_at"] = json!("2026-04-01T10:00:00+05:00");
    p.kaspi_event(placed).await;
    let shipment = p.shipment(&id).await;
    assert_eq!(
        deadline_state(&shipment, "point_wait"),
        "met",
        "not met again"
    );

    // As the old rule stored it: met late, at the placement. The migration re-reads it.
    p.as_the_old_rule_stored(
        &id,
        "point_wait",
        "state = 'met_late', resolved_at = '2026-04-01 05:00:00'",
        [
            include_str!(
                "../../migrations/postgres/2026-12-04-000010_point_wait_ends_on_leaving/up.sql"
            ),
            include_str!(
                "../../migrations/sqlite/2026-12-04-000010_point_wait_ends_on_leaving/up.sql"
            ),
        ],
    )
    .await;
    let shipment = p.shipment(&id).await;
    assert_eq!(deadline_state(&shipment, "point_wait"), "met");
    assert_eq!(wait(&shipment)["resolved_at"], "2026-03-31T13:00:00Z");
}
