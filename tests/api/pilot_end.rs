//! Issue 25, order п.6: the pilot is in force until 31 December 2026. With the clock before, on
//! and after its end: what has not gone to Kaspi goes to the ЦОН (the citizen told why), what
//! Kaspi holds or the State courier has taken completes as in the pilot, and no postamat is
//! chosen any more.

use crate::common::{Pilot, accepted_event, deadline, deadline_state, event};
use postamat::workflows::pilot_end::PilotEndReport;
use serde_json::json;

/// Wednesday 30 December 2026: one envelope packed and kept, one packed and signed for by the
/// State courier on Thursday 31 December, one application not executed. At 00:00 of 1 January
/// 2027 in Almaty the kept envelope goes to the issuance sector; the courier's goes on to
/// Kaspi in January and is placed and collected with every deadline in 2027; the application
/// executed on 4 January is made for the ЦОН; a postamat is no longer chosen.
#[actix_web::test]
async fn at_the_pilots_end_what_has_not_gone_to_kaspi_goes_to_the_con_and_the_rest_completes() {
    let p = Pilot::new().await;
    p.set_clock("2026-12-30T05:00:00Z");
    p.register("PE-A", "postamat").await;
    let kept = p.packed_on("PE-B", "2026-12-30").await;
    let sent = p.packed_on("PE-C", "2026-12-30").await;
    p.set_clock("2026-12-31T04:00:00Z");
    let (_, registry) = p.hand_over(&["PE-C"]).await;
    assert_eq!(p.shipment(&sent).await["state"], "handed_to_courier");

    // The supervisors' outlook the day before: the packed envelope would go to the ЦОН, the
    // courier's completes after the end, the application not executed is counted.
    let supervisor = p
        .app
        .token(postamat::domain::role::Role::Supervisor, None)
        .await;
    let outlook = p
        .app
        .get("/api/v1/reports/pilot-end", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(outlook["last_day"], "2026-12-31");
    assert_eq!(outlook["ends_at"], "2026-12-31T19:00:00Z");
    assert_eq!(outlook["to_the_con"], 1, "{outlook}");
    assert_eq!(outlook["completes_with_kaspi"], 1, "{outlook}");
    let listed: Vec<(String, String)> = outlook["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["application_number"].as_str().unwrap().to_owned(),
                d["at_the_end"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("PE-B".to_owned(), "to_the_con".to_owned()),
            ("PE-C".to_owned(), "completes_with_kaspi".to_owned())
        ]
    );
    assert_eq!(
        outlook["awaiting_execution"],
        json!([{"branch": "ALM01", "postamat": 1, "con": 0}])
    );
    let branch = p
        .app
        .token(postamat::domain::role::Role::Supervisor, Some("AST01"))
        .await;
    let theirs = p
        .app
        .get("/api/v1/reports/pilot-end", Some(&branch))
        .await
        .assert_status(200);
    assert_eq!(theirs["to_the_con"], 0);

    // Before the end, in Almaty's 23:59 of 31 December: nothing moves.
    assert_eq!(
        p.pilot_end_round("2026-12-31T18:59:59Z").await,
        PilotEndReport::default()
    );
    assert_eq!(p.shipment(&kept).await["state"], "packed");

    // On the end, 00:00 of 1 January: the packed envelope goes to the ЦОН, once.
    p.set_clock("2026-12-31T19:00:00Z");
    assert_eq!(
        p.pilot_end_round("2026-12-31T19:00:00Z")
            .await
            .rerouted_to_con,
        1
    );
    assert_eq!(
        p.pilot_end_round("2026-12-31T19:05:00Z").await,
        PilotEndReport::default()
    );
    let shipment = p.shipment(&kept).await;
    assert_eq!(shipment["state"], "at_issuance_sector");
    assert_eq!(shipment["delivery_method"], "con");
    let line = shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "rerouted_to_con")
        .unwrap()
        .clone();
    assert_eq!(line["details"]["reason"], "pilot_ended");
    assert_eq!(line["occurred_at"], "2026-12-31T19:00:00Z");
    // The month at the issuance sector counts from the end, 00:00 of 1 January, which ends
    // 31 December (DOMAIN.md §5): to 24:00 of 31 January 2027.
    assert_eq!(
        deadline(&shipment, "issuance_storage")["due_local"],
        "2027-02-01T00:00:00+05:00"
    );
    let told = p.told(&kept, "rerouted_to_con").await;
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told.iter()
            .all(|n| n.body.contains("Kaspi постаматтары арқылы беру аяқталды")),
        "{told:?}"
    );
    // The courier's envelope is not touched.
    assert_eq!(p.shipment(&sent).await["state"], "handed_to_courier");

    // After the end: no postamat is chosen.
    p.set_clock("2027-01-04T04:00:00Z");
    let mut late = Pilot::application("PE-E", "postamat");
    late["submitted_at"] = json!("2027-01-04T09:00:00+05:00");
    p.app
        .post(
            "/api/v1/integrations/kaspi/applications",
            Some(&p.kaspi),
            &late,
        )
        .await
        .assert_problem(422, "outside_pilot_window");

    // Executed after the end: made for the ЦОН, and Kaspi is not asked for an order.
    let executed = p.executed_at("PE-A", "2027-01-04T09:00:00+05:00").await;
    let a = executed["shipment_id"].as_str().unwrap().to_owned();
    let view = p
        .app
        .get("/api/v1/applications/PE-A", Some(&p.clerk))
        .await
        .assert_status(200);
    assert_eq!(view["delivery_method"], "con");
    let told = p.told(&a, "rerouted_to_con").await;
    assert_eq!(told.len(), 2, "{told:?}");
    let taken = p.intake(&["PE-A"], Some("РАГС-реестр 1/2027")).await;
    assert_eq!(taken["items"][0]["state"], "at_issuance_sector");

    // Kaspi holds the courier's envelope from 4 January and completes as in the pilot.
    let mut accepted = accepted_event("pe-c-a", &registry, &["WB-PE-C"]);
    accepted["occurred_at"] = json!("2027-01-04T10:00:00+05:00");
    p.kaspi_event(accepted).await;
    let shipment = p.shipment(&sent).await;
    assert_eq!(shipment["state"], "accepted_at_kaspi_point");
    // п.11: 3 working days after Monday 4 January — 5, 6 and 8 January, as 7 January
    // (Orthodox Christmas) is no working day: to 24:00 of Friday 8 January.
    assert_eq!(
        deadline(&shipment, "point_wait")["due_local"],
        "2027-01-09T00:00:00+05:00"
    );
    p.kaspi_event(json!({"event_id": "pe-c-p", "type": "placed_in_cell", "waybill": "WB-PE-C",
                         "occurred_at": "2027-01-05T15:00:00+05:00", "postamat_id": "PST-ALA-1", "cell": "A-01"}))
        .await;
    let placed = p.told(&sent, "placed_in_cell").await;
    assert!(placed[0].body.contains("08.01.2027"), "{placed:?}");
    p.kaspi_event(event(
        "pe-c-c",
        "collected",
        "WB-PE-C",
        "2027-01-06T12:00:00+05:00",
    ))
    .await;
    let shipment = p.shipment(&sent).await;
    assert_eq!(shipment["state"], "collected");
    assert_eq!(deadline_state(&shipment, "storage"), "met");
    assert_eq!(deadline_state(&shipment, "point_wait"), "met");
}
