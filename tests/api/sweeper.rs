//! The sweeper: each due deadline's consequence applied once, on both backends, even with two
//! sweepers at the same moment.

use crate::common::{Pilot, accepted_event, placed_event};
use actix_web::web;
use chrono::{DateTime, Utc};
use postamat::domain::role::Role;
use postamat::workflows::revisions;
use postamat::workflows::sweep::{self, SweepReport};

fn kinds(notes: &[crate::common::Note]) -> Vec<&str> {
    notes.iter().map(|n| n.kind.as_str()).collect()
}

#[actix_web::test]
async fn each_due_deadline_has_its_consequence_once() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    // A: packed on Friday 20 Mar and never handed over; Kaspi never accepted it.
    let a = p.packed("SW-A").await;
    // B: in a cell since Friday 27 Mar 15:00 → storage ends 24:00 of Monday 30 Mar.
    let (b, registry_b) = p.handed_over("SW-B").await;
    p.kaspi_event(accepted_event("b1", &registry_b, &["WB-SW-B"]))
        .await;
    p.kaspi_event(placed_event("b2", "WB-SW-B", "PST-ALA-1"))
        .await;
    // C: accepted at the point on 26 Mar 10:00 → waits until 24:00 of Tuesday 31 Mar (п.11).
    let (c, registry_c) = p.handed_over("SW-C").await;
    p.kaspi_event(accepted_event("c1", &registry_c, &["WB-SW-C"]))
        .await;

    let first = p.sweep("2026-03-30T10:00:00Z").await;
    assert_eq!(
        first,
        SweepReport {
            due: 2,
            escalated: 1,
            delay_notified: 1,
            reminders: 1,
            ..Default::default()
        },
        "A's handoff escalated and its Kaspi arrival late; B reminded a day before"
    );
    assert_eq!(
        p.sweep("2026-03-30T10:00:00Z").await,
        SweepReport::default(),
        "a second run changes nothing"
    );
    assert_eq!(kinds(&p.notifications(&a).await), ["delivery_late"]);
    assert_eq!(
        kinds(&p.notifications(&b).await),
        ["placed_in_cell", "storage_reminder"]
    );

    let second = p.sweep("2026-04-01T00:00:00Z").await;
    assert_eq!(
        second,
        SweepReport {
            due: 2,
            storage_expired: 1,
            delay_notified: 1,
            ..Default::default()
        }
    );
    // п.30 (issue 22 item 2): the return B's expiry started is due at 24:00 of Tuesday 31 Mar
    // (one working day counted from Monday, the day storage ended), so at 05:00 on 1 Apr the
    // next round finds it overdue; a round after that changes nothing.
    assert_eq!(
        p.sweep("2026-04-01T00:00:00Z").await,
        SweepReport {
            due: 1,
            escalated: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        p.sweep("2026-04-01T00:00:00Z").await,
        SweepReport::default()
    );
    let b_now = p.shipment(&b).await;
    assert_eq!(b_now["state"], "storage_expired");
    let expiry = b_now["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "storage_expired")
        .unwrap()
        .clone();
    assert_eq!(expiry["source"], "sweeper");
    assert_eq!(expiry["actor_role"], serde_json::Value::Null);
    assert_eq!(
        expiry["occurred_at"], "2026-03-30T19:00:00Z",
        "storage ended at its due instant"
    );
    let states: Vec<(String, String)> = b_now["deadlines"]
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
        states.contains(&("storage".into(), "breached".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("return".into(), "breached".into())),
        "Kaspi had to remove it by 24:00 of Tuesday 31 Mar: {states:?}"
    );
    let ret = b_now["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "return")
        .unwrap()
        .clone();
    assert_eq!(ret["due_local"], "2026-04-01T00:00:00+05:00");
    assert_eq!(kinds(&p.notifications(&c).await), ["delivery_late"]);

    // The exception queue and the SLA report see what happened.
    let supervisor = p.app.token(Role::Supervisor, Some("ALM01")).await;
    let queue = p
        .app
        .get("/api/v1/exceptions?kind=overdue", Some(&supervisor))
        .await
        .assert_status(200);
    let overdue: Vec<(&str, &str)> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["application_number"].as_str().unwrap(),
                e["reason"].as_str().unwrap().split(' ').next().unwrap(),
            )
        })
        .collect();
    // Oldest first; C's wait and B's return fall due at the same instant, in either order.
    assert_eq!(
        overdue[..2],
        [("SW-A", "kaspi_arrival"), ("SW-A", "handoff")]
    );
    let mut last = overdue[2..].to_vec();
    last.sort();
    assert_eq!(last, [("SW-B", "return"), ("SW-C", "point_wait")]);
    // Issue 22 item 9: each names the side by where the document was at the due instant. A's
    // Kaspi arrival (п.10) was missed while the envelope was still packed at the ЦОН: ours.
    let sides: Vec<(&str, &str, &str)> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["application_number"].as_str().unwrap(),
                e["reason"].as_str().unwrap().split(' ').next().unwrap(),
                e["side"].as_str().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("SW-A", "kaspi_arrival", "state_corporation"),
        ("SW-A", "handoff", "state_corporation"),
        ("SW-B", "return", "kaspi"),
        ("SW-C", "point_wait", "kaspi"),
    ] {
        assert!(sides.contains(&expected), "{expected:?} not in {sides:?}");
    }
    assert!(queue[0]["age_hours"].as_i64().unwrap() > 0);
    let other = p.app.token(Role::Supervisor, Some("AST01")).await;
    let none = p
        .app
        .get("/api/v1/exceptions", Some(&other))
        .await
        .assert_status(200);
    assert_eq!(
        none,
        serde_json::json!([]),
        "another branch's supervisor sees none of them"
    );

    let sla = p
        .app
        .get(
            "/api/v1/reports/sla?from=2026-03-01&to=2026-04-30",
            Some(&supervisor),
        )
        .await
        .assert_status(200);
    let handoff = sla
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["deadline"] == "handoff")
        .unwrap()
        .clone();
    assert_eq!(
        (
            handoff["met_on_time"].as_i64(),
            handoff["breached_open"].as_i64()
        ),
        (Some(2), Some(1))
    );
    let csv = p
        .app
        .get(
            "/api/v1/reports/sla?from=2026-03-01&to=2026-04-30&format=csv",
            Some(&supervisor),
        )
        .await;
    assert!(csv.content_type().starts_with("text/csv"));
    assert!(csv.text.starts_with(
        "branch,deadline,met_on_time,met_late,breached_open,pending,cancelled,\
         missed_by_state_corporation,missed_by_kaspi,missed_by_registry_office\n"
    ));
    assert!(
        csv.text.contains("ALM01,handoff,2,0,1,0,0,1,0,0\n"),
        "{}",
        csv.text
    );
    assert!(
        csv.text.contains("ALM01,kaspi_arrival,0,2,1,0,0,3,0,0\n"),
        "ordered 19 Mar, due 20 Mar 13:00 while each document still waited for our courier at \
         the registry office (п.6), or A still packed at the ЦОН: ours: {}",
        csv.text
    );
    assert!(
        csv.text.contains("ALM01,return,0,0,1,0,0,0,1,0\n"),
        "{}",
        csv.text
    );
    p.app
        .get(
            "/api/v1/reports/sla?from=2026-04-30&to=2026-03-01",
            Some(&supervisor),
        )
        .await
        .assert_problem(400, "invalid_query");
    let c_note = &p.notifications(&c).await[0];
    // Breached on 1 Apr (Wednesday, Almaty) → the next working day, Thursday 2 Apr.
    assert!(c_note.body.contains("02.04.2026"), "{}", c_note.body);
}

#[actix_web::test]
async fn two_sweepers_at_once_apply_each_consequence_once() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    for n in 0..6 {
        p.packed(&format!("TWO-{n}")).await;
    }
    // Each packed document has a handoff and a Kaspi-arrival deadline due by 27 Mar.
    let as_of: DateTime<Utc> = "2026-03-27T00:00:00Z".parse().unwrap();
    let runs: Vec<std::thread::JoinHandle<SweepReport>> = (0..2)
        .map(|_| {
            let (pool, cache) = (p.app.pool.clone(), p.app.calendar.clone());
            std::thread::spawn(move || {
                sweep::sweep(&mut pool.get().unwrap(), as_of, &cache.current()).unwrap()
            })
        })
        .collect();
    let reports: Vec<SweepReport> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(reports.iter().map(|r| r.due).sum::<usize>(), 12);
    assert_eq!(reports.iter().map(|r| r.escalated).sum::<usize>(), 6);
    assert_eq!(reports.iter().map(|r| r.delay_notified).sum::<usize>(), 6);
    assert_eq!(
        p.sweep("2026-03-27T00:00:00Z").await,
        SweepReport::default()
    );
}

#[actix_web::test]
async fn sweeps_are_counted_in_the_metrics() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    p.packed("MET-1").await;
    let metrics = postamat::observability::Metrics::new();
    let (pool, cache, m) = (p.app.pool.clone(), p.app.calendar.clone(), metrics.clone());
    let as_of: DateTime<Utc> = "2026-03-27T00:00:00Z".parse().unwrap();
    web::block(move || {
        postamat::jobs::sweeper::sweep_observed(
            &mut pool.get().unwrap(),
            as_of,
            &cache.current(),
            &m,
        )
        .unwrap()
    })
    .await
    .unwrap();
    let text = metrics.render(&p.app.pool);
    assert!(
        text.contains("postamat_sweep_deadlines_total{kind=\"handoff\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("postamat_sweep_lag_seconds_count{kind=\"kaspi_arrival\"} 1"),
        "{text}"
    );
}

#[actix_web::test]
async fn a_force_majeure_period_postpones_what_it_covers() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let a = p.packed("FM-1").await;
    // A flood closes ALM01 from 25 Mar to 28 Mar while the handoff (due 26 Mar 12:00) is
    // pending; Kaspi's arrival deadline (20 Mar 13:00) had already passed.
    let national = p.app.token(Role::Supervisor, None).await;
    p.app
        .post(
            "/api/v1/force-majeure",
            Some(&national),
            &serde_json::json!({"branch": "ALM01", "starts_at": "2026-03-25T00:00:00+05:00",
                                "ends_at": "2026-03-28T00:00:00+05:00", "reason": "Паводок"}),
        )
        .await
        .assert_status(201);
    // Recording the period already moved the handoff (п.37): only Kaspi's arrival is due.
    let report = p.sweep("2026-03-27T00:00:00Z").await;
    assert_eq!(
        (report.due, report.postponed, report.escalated),
        (1, 0, 0),
        "{report:?}"
    );
    let shipment = p.shipment(&a).await;
    let handoff = shipment["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "handoff")
        .unwrap()
        .clone();
    assert_eq!(handoff["state"], "pending");
    // Extended by the period's 3 days: 29 Mar 12:00 in Almaty.
    assert_eq!(handoff["due_at"], "2026-03-29T07:00:00Z");
    assert_eq!(p.sweep("2026-03-29T08:00:00Z").await.escalated, 1);
}

#[actix_web::test]
async fn recording_a_force_majeure_period_extends_its_branchs_pending_deadlines_at_once() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let a = p.packed("FX-1").await;
    let national = p.app.token(Role::Supervisor, None).await;
    // Another branch's document is not touched.
    let admin = p.app.admin().await;
    p.app
        .put(
            "/api/v1/postamats/PST-AST-2",
            Some(&admin),
            &serde_json::json!({"city": "Астана", "city_code": "710000000", "address_kk": "a", "address_ru": "b"}),
        )
        .await
        .assert_status(201);
    let handoff_due = |s: &serde_json::Value| {
        s["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "handoff")
            .unwrap()["due_at"]
            .clone()
    };
    assert_eq!(handoff_due(&p.shipment(&a).await), "2026-03-26T07:00:00Z");

    // Open-ended, from 25 Mar: the pending handoff keeps its instant while the period lasts.
    let open = p
        .app
        .post(
            "/api/v1/force-majeure",
            Some(&national),
            &serde_json::json!({"branch": "ALM01", "starts_at": "2026-03-25T00:00:00+05:00", "reason": "Паводок"}),
        )
        .await
        .assert_status(201);
    assert_eq!(handoff_due(&p.shipment(&a).await), "2026-03-26T07:00:00Z");
    // Ended on 27 Mar: the 2 days are added and the history says so (п.37).
    let id = open["id"].as_str().unwrap();
    p.app
        .post(
            &format!("/api/v1/force-majeure/{id}/end"),
            Some(&national),
            &serde_json::json!({"ends_at": "2026-03-27T00:00:00+05:00"}),
        )
        .await
        .assert_status(200);
    let shipment = p.shipment(&a).await;
    assert_eq!(handoff_due(&shipment), "2026-03-28T07:00:00Z");
    let entry = shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "force_majeure")
        .unwrap()
        .clone();
    assert_eq!(entry["details"]["deadlines"][0]["deadline"], "handoff");
    assert_eq!(
        entry["details"]["deadlines"][0]["due_after"],
        "2026-03-28T07:00:00Z"
    );
}

/// Issue 22 item 2: a return the old rule counted from the day after storage ended is re-counted
/// once after the migrations: placed on Friday 27 March 2026, storage ended at 24:00 of Monday
/// 30 March, and the return is due at 24:00 of Tuesday 31 March, not Wednesday 1 April.
#[actix_web::test]
async fn a_return_stored_by_the_old_rule_is_re_counted_once() {
    use diesel::connection::SimpleConnection;
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let (b, registry) = p.handed_over("RV-1").await;
    p.kaspi_event(accepted_event("rv-a", &registry, &["WB-RV-1"]))
        .await;
    p.kaspi_event(placed_event("rv-p", "WB-RV-1", "PST-ALA-1"))
        .await;
    let swept = p.sweep("2026-03-31T00:00:00Z").await;
    assert_eq!(swept.storage_expired, 1, "{swept:?}");
    let due_local = |shipment: &serde_json::Value| {
        shipment["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "return")
            .unwrap()["due_local"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        due_local(&p.shipment(&b).await),
        "2026-04-01T00:00:00+05:00"
    );

    // As the old rule stored it, in a database not revised yet.
    let (pool, cache, now) = (
        p.app.pool.clone(),
        p.app.calendar.clone(),
        p.app.clock.now(),
    );
    let (first, again) = web::block(move || {
        let mut conn = pool.get().unwrap();
        conn.batch_execute(
            "UPDATE deadlines SET due_at = '2026-04-01 19:00:00' WHERE kind = 'return'; \
             DELETE FROM data_revisions",
        )
        .unwrap();
        let snapshot = cache.current();
        let first = revisions::apply_pending(&mut conn, &snapshot, now).unwrap();
        let again = revisions::apply_pending(&mut conn, &snapshot, now).unwrap();
        (first, again)
    })
    .await
    .unwrap();
    assert_eq!((first, again), (1, 0), "once");
    let shipment = p.shipment(&b).await;
    assert_eq!(due_local(&shipment), "2026-04-01T00:00:00+05:00");
    let revised = shipment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "deadline_revised")
        .unwrap()
        .clone();
    assert_eq!(revised["details"]["due_before"], "2026-04-01T19:00:00Z");
    assert_eq!(revised["details"]["due_after"], "2026-03-31T19:00:00Z");
}

/// Issue 22 item 2 with п.37: a force-majeure period ending at 00:00 of Friday 27 March 2026
/// ends with Thursday, so a handoff whose counting restarts at its end is due at 12:00 of that
/// Friday (the next working day after Thursday); the old count said Monday 30 March. A stored
/// deadline extended the old way is re-counted by the revision too.
#[actix_web::test]
async fn a_deadline_extended_by_a_period_ending_at_midnight_is_re_counted() {
    use diesel::connection::SimpleConnection;
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let a = p.packed("RV-2").await;
    let national = p.app.token(Role::Supervisor, None).await;
    p.app
        .post(
            "/api/v1/force-majeure",
            Some(&national),
            &serde_json::json!({"branch": "ALM01", "starts_at": "2026-03-19T10:00:00+05:00",
                "ends_at": "2026-03-27T00:00:00+05:00", "reason": "Паводок"}),
        )
        .await
        .assert_status(201);
    let handoff = |shipment: &serde_json::Value| {
        shipment["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "handoff")
            .unwrap()["due_local"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(handoff(&p.shipment(&a).await), "2026-03-27T12:00:00+05:00");

    let (pool, cache, now) = (
        p.app.pool.clone(),
        p.app.calendar.clone(),
        p.app.clock.now(),
    );
    let moved = web::block(move || {
        let mut conn = pool.get().unwrap();
        conn.batch_execute(
            "UPDATE deadlines SET due_at = '2026-03-30 07:00:00' WHERE kind = 'handoff'; \
             DELETE FROM data_revisions",
        )
        .unwrap();
        revisions::apply_pending(&mut conn, &cache.current(), now).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(handoff(&p.shipment(&a).await), "2026-03-27T12:00:00+05:00");
}

/// Issue 22 item 5 (п.39): "Отсутствие своевременного уведомления … лишает возможности ссылаться
/// на них". Taken in Friday 20 Mar 2026, the handoff is due Thursday 26 Mar 12:00; a period of
/// 25–27 Mar moves it to Sunday 29 Mar, and the bag reaches the Kaspi point on Saturday 28 Mar.
/// The period's notice is due by the end of Monday 30 Mar (25 Mar is a day off): while it may
/// still come, the SLA counts the handoff met; noticed on Wednesday 1 Apr (2 working days late)
/// the period cannot be invoked and the SLA judges the handoff against Thursday 26 Mar: met
/// late. The operational extension stays (the branch was closed).
#[actix_web::test]
async fn a_period_noticed_late_does_not_excuse_the_deadlines_it_moved_in_the_sla() {
    let p = Pilot::new().await;
    p.set_clock("2026-03-20T12:00:00Z");
    let id = p.packed("FL-1").await;
    let (registry, number) = p.seal(&["FL-1"]).await;
    let national = p.app.token(Role::Supervisor, None).await;
    let period = p
        .app
        .post(
            "/api/v1/force-majeure",
            Some(&national),
            &serde_json::json!({"branch": "ALM01", "starts_at": "2026-03-25T00:00:00+05:00",
                                "ends_at": "2026-03-28T00:00:00+05:00", "reason": "Паводок"}),
        )
        .await
        .assert_status(201);
    assert_eq!(period["notice"]["state"], "awaited");
    assert_eq!(period["notice"]["due_by"], "2026-03-30");
    p.set_clock("2026-03-28T04:00:00Z");
    p.sign_for(&registry).await.assert_status(200);
    let mut accepted = accepted_event("fl-a", &number, &["WB-FL-1"]);
    accepted["occurred_at"] = serde_json::json!("2026-03-28T10:00:00+05:00");
    p.kaspi_event(accepted).await;
    let handoff = |shipment: &serde_json::Value| {
        shipment["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "handoff")
            .unwrap()
            .clone()
    };
    let stored = handoff(&p.shipment(&id).await);
    assert_eq!(
        (stored["state"].as_str(), stored["due_at"].as_str()),
        (Some("met"), Some("2026-03-29T07:00:00Z"))
    );
    let sla_handoff = || async {
        let sla = p
            .app
            .get(
                "/api/v1/reports/sla?from=2026-03-01&to=2026-04-30",
                Some(&national),
            )
            .await
            .assert_status(200);
        let line = sla
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["deadline"] == "handoff")
            .unwrap()
            .clone();
        (
            line["met_on_time"].as_i64(),
            line["met_late"].as_i64(),
            line["missed_by_state_corporation"].as_i64(),
        )
    };
    assert_eq!(
        sla_handoff().await,
        (Some(1), Some(0), Some(0)),
        "the notice may still come"
    );

    p.set_clock("2026-04-01T05:00:00Z");
    let noticed = p
        .app
        .post(
            &format!(
                "/api/v1/force-majeure/{}/notice",
                period["id"].as_str().unwrap()
            ),
            Some(&national),
            &serde_json::json!({"reference": "Письмо № 7"}),
        )
        .await
        .assert_status(200);
    assert_eq!(
        noticed["notice"]["standing"],
        "not invocable, notice late by 2 working days (п.39)"
    );
    // Late, and ours: on 26 Mar 12:00 the bag was still packed at the ЦОН.
    assert_eq!(sla_handoff().await, (Some(0), Some(1), Some(1)));
    // Operationally nothing moved back.
    assert_eq!(handoff(&p.shipment(&id).await), stored);
}
