//! The working-day calendar over HTTP: listing, deadline previews, supervisor edits and
//! force majeure.

use crate::common::TestApp;
use actix_web::web;
use postamat::domain::role::Role;
use serde_json::{Value, json};

fn non_working_weekdays(year: &Value) -> Vec<String> {
    year["days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["working"] == false)
        .map(|d| d["date"].as_str().unwrap().to_owned())
        .collect()
}

fn preview_url(rule: &str, from: &str, branch: Option<&str>) -> String {
    let from = from.replace('+', "%2B");
    match branch {
        Some(b) => format!("/api/v1/calendar/deadline?rule={rule}&from={from}&branch={b}"),
        None => format!("/api/v1/calendar/deadline?rule={rule}&from={from}"),
    }
}

#[actix_web::test]
async fn the_2026_listing_has_exactly_the_published_days_off() {
    let app = TestApp::new().await;
    let kaspi = app.token(Role::Kaspi, None).await;
    let year = app
        .get("/api/v1/calendar/2026", Some(&kaspi))
        .await
        .assert_status(200);
    assert_eq!(
        non_working_weekdays(&year),
        [
            "2026-01-01",
            "2026-01-02",
            "2026-01-07",
            "2026-03-09",
            "2026-03-23",
            "2026-03-24",
            "2026-03-25",
            "2026-05-01",
            "2026-05-07",
            "2026-05-11",
            "2026-05-27",
            "2026-07-06",
            "2026-10-26",
            "2026-12-16",
        ]
    );
    assert_eq!(year["calendar_version"], 0);
    assert_eq!(year["kurban_ait"], "2026-05-27");
    let nauryz = &year["days"][4];
    assert_eq!(nauryz["date"], "2026-03-23");
    assert_eq!(nauryz["kind"], "state_holiday");
    assert_eq!(nauryz["weekday"], "monday");
    assert!(nauryz["name_kk"].as_str().unwrap().contains("Наурыз"));
    assert_eq!(year["days"][5]["kind"], "transferred_day_off");
}

#[actix_web::test]
async fn years_2025_and_2027_follow_the_rules_and_other_years_have_no_data() {
    let app = TestApp::new().await;
    let clerk = app.token(Role::Supervisor, None).await;
    let y2025 = app
        .get("/api/v1/calendar/2025", Some(&clerk))
        .await
        .assert_status(200);
    let days = non_working_weekdays(&y2025);
    // The 2025 decree swap: Friday 3 Jan off, Sunday 5 Jan worked.
    let jan5 = y2025["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == "2025-01-05")
        .expect("5 Jan 2025 is listed as a worked weekend day");
    assert_eq!(jan5["working"], true);
    assert_eq!(jan5["kind"], "government_swap");
    for date in [
        "2025-01-03",
        "2025-03-10",
        "2025-06-06",
        "2025-07-07",
        "2025-09-01",
        "2025-10-27",
    ] {
        assert!(
            days.contains(&date.to_owned()),
            "{date} missing from {days:?}"
        );
    }
    let y2027 = app
        .get("/api/v1/calendar/2027", Some(&clerk))
        .await
        .assert_status(200);
    let days = non_working_weekdays(&y2027);
    for date in [
        "2027-01-04",
        "2027-03-15",
        "2027-03-24",
        "2027-05-03",
        "2027-05-10",
    ] {
        assert!(
            days.contains(&date.to_owned()),
            "{date} missing from {days:?}"
        );
    }
    assert!(
        !days.iter().any(|d| d.starts_with("2027-08")),
        "no Constitution Day in August 2027"
    );
    assert_eq!(y2027["kurban_ait"], Value::Null);
    app.get("/api/v1/calendar/2031", Some(&clerk))
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn the_deadline_preview_returns_the_documented_examples() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    let clerk = app.token(Role::AccumulationClerk, Some("ALM01")).await;

    let handoff = app
        .get(
            &preview_url("handoff", "2026-03-20T17:00:00+05:00", Some("ALM01")),
            Some(&clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(handoff["due_local"], "2026-03-26T12:00:00+05:00");
    assert_eq!(handoff["due_utc"], "2026-03-26T07:00:00Z");
    assert_eq!(handoff["rule"], "next_working_day_at:12:00");
    assert_eq!(handoff["clause"], "п.17");
    assert_eq!(handoff["time_zone"], "Asia/Almaty");
    assert_eq!(handoff["calendar_version"], 0);
    assert_eq!(handoff["force_majeure"], Value::Null);

    let three = app
        .get(
            &preview_url("working_days:3", "2026-03-20T12:00:00Z", None),
            Some(&clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(three["last_day"], "2026-03-30");
    assert_eq!(three["due_local"], "2026-03-31T00:00:00+05:00");

    let storage = app
        .get(
            &preview_url("storage", "2026-12-30T15:00:00+05:00", None),
            Some(&clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(storage["last_day"], "2027-01-02");
    assert_eq!(storage["due_local"], "2027-01-03T00:00:00+05:00");

    // 23:59:59 local counts from its own day, and so does midnight, which ends that day
    // (DOMAIN.md §5, issue 22 item 2); a second later counts from the next.
    let late = app
        .get(
            &preview_url("handoff", "2026-03-19T23:59:59+05:00", None),
            Some(&clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(late["due_local"], "2026-03-20T12:00:00+05:00");
    let midnight = app
        .get(
            &preview_url("handoff", "2026-03-20T00:00:00+05:00", None),
            Some(&clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(midnight["due_local"], "2026-03-20T12:00:00+05:00");
    let after = app
        .get(
            &preview_url("handoff", "2026-03-20T00:00:01+05:00", None),
            Some(&clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(after["due_local"], "2026-03-26T12:00:00+05:00");
}

#[actix_web::test]
async fn a_preview_defaults_to_now_and_refuses_what_it_cannot_compute() {
    let app = TestApp::new().await;
    let clerk = app.token(Role::Kaspi, None).await;
    // The test clock stands at Monday 2026-11-23 10:00 in Almaty.
    let now = app
        .get("/api/v1/calendar/deadline?rule=kaspi_arrival", Some(&clerk))
        .await
        .assert_status(200);
    assert_eq!(now["due_local"], "2026-11-24T13:00:00+05:00");

    app.get(
        &preview_url("working_days:3", "2027-12-30T10:00:00+05:00", None),
        Some(&clerk),
    )
    .await
    .assert_problem(422, "calendar_year_missing");
    app.get(
        &preview_url("fortnight", "2026-03-20T10:00:00+05:00", None),
        Some(&clerk),
    )
    .await
    .assert_problem(400, "invalid_query");
    app.get(
        "/api/v1/calendar/deadline?rule=handoff&from=2026-03-20T10:00:00",
        Some(&clerk),
    )
    .await
    .assert_problem(400, "invalid_query");
    app.get(
        &preview_url("handoff", "2026-03-20T10:00:00Z", Some("NOPE1")),
        Some(&clerk),
    )
    .await
    .assert_problem(404, "not_found");
    app.get("/api/v1/calendar/deadline?rule=handoff", None)
        .await
        .assert_problem(401, "missing_token");
}

#[actix_web::test]
async fn a_decree_swap_is_visible_at_once_with_a_new_version_and_an_audit_record() {
    let app = TestApp::new().await;
    let supervisor = app.token(Role::Supervisor, None).await;
    let before = app
        .get(
            &preview_url("handoff", "2026-12-17T15:00:00+05:00", None),
            Some(&supervisor),
        )
        .await
        .assert_status(200);
    assert_eq!(before["due_local"], "2026-12-18T12:00:00+05:00");

    let saturday = app
        .post(
            "/api/v1/calendar/2026/edits",
            Some(&supervisor),
            &json!({"action": "add_working_day", "date": "2026-12-19", "reason": "Постановление Правительства № 1 (перенос)"}),
        )
        .await
        .assert_status(201);
    assert_eq!(saturday["edit"]["version"], 1);
    let friday = app
        .post(
            "/api/v1/calendar/2026/edits",
            Some(&supervisor),
            &json!({
                "action": "add_day_off", "date": "2026-12-18",
                "name_kk": "Демалыс күні (19.12 орнына)", "name_ru": "Выходной (перенос с 19.12)",
                "reason": "Постановление Правительства № 1 (перенос)"
            }),
        )
        .await
        .assert_status(201);
    assert_eq!(friday["edit"]["version"], 2);
    assert_eq!(friday["calendar"]["calendar_version"], 2);

    let year = app
        .get("/api/v1/calendar/2026", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(year["calendar_version"], 2);
    let swapped: Vec<&Value> = year["days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["edited"] == true)
        .collect();
    assert_eq!(swapped.len(), 2);
    assert_eq!(swapped[0]["date"], "2026-12-18");
    assert_eq!(swapped[0]["working"], false);
    assert_eq!(swapped[0]["kind"], "government_swap");
    assert_eq!(swapped[1]["date"], "2026-12-19");
    assert_eq!(swapped[1]["working"], true);

    let after = app
        .get(
            &preview_url("handoff", "2026-12-17T15:00:00+05:00", None),
            Some(&supervisor),
        )
        .await
        .assert_status(200);
    assert_eq!(after["due_local"], "2026-12-19T12:00:00+05:00");
    assert_eq!(after["calendar_version"], 2);

    let audit = app
        .get("/api/v1/calendar/2026/edits", Some(&supervisor))
        .await
        .assert_status(200);
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1]["action"], "add_day_off");
    assert_eq!(
        audit[1]["reason"],
        "Постановление Правительства № 1 (перенос)"
    );
    assert_eq!(audit[1]["actor_name"], "test supervisor");
    assert!(audit[1]["key_id"].is_string() && audit[1]["created_at"].is_string());
}

#[actix_web::test]
async fn edits_that_make_no_sense_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let supervisor = app.token(Role::Supervisor, None).await;
    let cases = [
        (
            json!({"action": "add_working_day", "date": "2026-12-17", "reason": "x"}),
            422,
            "not_a_weekend_day",
        ),
        (
            json!({"action": "add_day_off", "date": "2026-12-19", "reason": "x"}),
            422,
            "not_a_weekday",
        ),
        (
            json!({"action": "add_day_off", "date": "2027-01-05", "reason": "x"}),
            422,
            "date_outside_year",
        ),
        (
            json!({"action": "add_day_off", "date": "2026-03-23", "reason": "x"}),
            409,
            "duplicate_day",
        ),
        (
            json!({"action": "remove_day_off", "date": "2026-03-18", "reason": "x"}),
            422,
            "no_such_day",
        ),
        (
            json!({"action": "remove_working_day", "date": "2026-03-21", "reason": "x"}),
            422,
            "no_such_day",
        ),
        (
            json!({"action": "set_kurban_ait", "date": "2026-05-27", "reason": "x"}),
            409,
            "duplicate_day",
        ),
        (
            json!({"action": "add_year", "reason": "x"}),
            409,
            "already_exists",
        ),
        (
            json!({"action": "add_day_off", "date": "2026-12-18"}),
            400,
            "invalid_body",
        ),
        (
            json!({"action": "abolish_weekends", "reason": "x"}),
            400,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let res = app
            .post("/api/v1/calendar/2026/edits", Some(&supervisor), &body)
            .await;
        res.assert_problem(status, code);
    }
    app.post(
        "/api/v1/calendar/2031/edits",
        Some(&supervisor),
        &json!({"action": "set_kurban_ait", "date": "2031-03-28", "reason": "x"}),
    )
    .await
    .assert_problem(422, "calendar_year_missing");
    let year = app
        .get("/api/v1/calendar/2026", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(year["calendar_version"], 0);
    let audit = app
        .get("/api/v1/calendar/2026/edits", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(audit, json!([]));
}

#[actix_web::test]
async fn only_national_supervisors_edit_the_calendar() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    let branch_supervisor = app.token(Role::Supervisor, Some("ALM01")).await;
    let clerk = app.token(Role::AccumulationClerk, Some("ALM01")).await;
    let body = json!({"action": "add_day_off", "date": "2026-12-18", "reason": "x"});
    app.post(
        "/api/v1/calendar/2026/edits",
        Some(&branch_supervisor),
        &body,
    )
    .await
    .assert_problem(403, "branch_forbidden");
    app.post("/api/v1/calendar/2026/edits", Some(&clerk), &body)
        .await
        .assert_problem(403, "role_forbidden");
}

#[actix_web::test]
async fn kurban_ait_and_new_years_are_set_by_supervisors() {
    let app = TestApp::new().await;
    let supervisor = app.token(Role::Supervisor, None).await;
    let edited = app
        .post(
            "/api/v1/calendar/2027/edits",
            Some(&supervisor),
            &json!({"action": "set_kurban_ait", "date": "2027-05-17", "reason": "Решение ДУМК"}),
        )
        .await
        .assert_status(201);
    assert_eq!(edited["calendar"]["kurban_ait"], "2027-05-17");
    assert!(non_working_weekdays(&edited["calendar"]).contains(&"2027-05-17".to_owned()));

    app.get(
        &preview_url("working_days:1", "2028-01-01T10:00:00+05:00", None),
        Some(&supervisor),
    )
    .await
    .assert_problem(422, "calendar_year_missing");
    let added = app
        .post(
            "/api/v1/calendar/2028/edits",
            Some(&supervisor),
            &json!({"action": "add_year", "reason": "Календарь на 2028 год"}),
        )
        .await
        .assert_status(201);
    assert_eq!(added["calendar"]["year"], 2028);
    let due = app
        .get(
            &preview_url("working_days:1", "2028-01-01T10:00:00+05:00", None),
            Some(&supervisor),
        )
        .await
        .assert_status(200);
    // 1 Jan 2028 is a Saturday, 2 Jan a Sunday: their days off are 3 and 4 Jan.
    assert_eq!(due["last_day"], "2028-01-05");
}

#[actix_web::test]
async fn an_edit_through_another_instance_arrives_with_the_next_refresh() {
    let app = TestApp::new().await;
    let supervisor = app.token(Role::Supervisor, None).await;
    let principal = {
        let pool = app.pool.clone();
        let token = supervisor.clone();
        web::block(move || {
            postamat::db::models::api_key::authenticate(&mut pool.get().unwrap(), &token)
                .unwrap()
                .unwrap()
        })
        .await
        .unwrap()
    };
    // Another instance writes the edit straight to the shared database.
    let pool = app.pool.clone();
    let now = app.clock.now();
    let snapshot = app.calendar.current();
    web::block(move || {
        use postamat::domain::calendar::{Amendment, DayKind, DayName, YearEdit};
        let edit = YearEdit::Amend(Amendment::AddDayOff {
            date: chrono::NaiveDate::from_ymd_opt(2026, 12, 18).unwrap(),
            kind: DayKind::GovernmentSwap,
            name: DayName::new("Демалыс", "Выходной"),
        });
        let reason = "другой экземпляр".to_owned().try_into().unwrap();
        postamat::workflows::calendar::edit(
            &mut pool.get().unwrap(),
            2026,
            edit,
            &reason,
            &postamat::workflows::EventContext::by(&principal, now, &snapshot),
        )
        .unwrap();
    })
    .await
    .unwrap();
    let stale = app
        .get("/api/v1/calendar/2026", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(
        stale["calendar_version"], 0,
        "deadlines are computed from memory"
    );

    let (pool, cache) = (app.pool.clone(), app.calendar.clone());
    web::block(move || cache.reload(&mut pool.get().unwrap()).unwrap())
        .await
        .unwrap();
    let fresh = app
        .get("/api/v1/calendar/2026", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(fresh["calendar_version"], 1);
    assert!(non_working_weekdays(&fresh).contains(&"2026-12-18".to_owned()));
}

#[actix_web::test]
async fn a_branch_force_majeure_period_extends_only_that_branchs_deadlines() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    app.branch(&admin, "AST01", "Астана").await;
    let national = app.token(Role::Supervisor, None).await;
    let astana_supervisor = app.token(Role::Supervisor, Some("AST01")).await;
    app.clock.set("2026-11-02T07:00:00Z".parse().unwrap());

    let period = app
        .post(
            "/api/v1/force-majeure",
            Some(&national),
            &json!({
                "branch": "ALM01",
                "starts_at": "2026-11-03T08:00:00+05:00",
                "ends_at": "2026-11-03T14:00:00+05:00",
                "reason": "Паводок",
                "document_ref": "Акт ЧС № 12"
            }),
        )
        .await
        .assert_status(201);
    assert_eq!(period["branch"], "ALM01");

    let almaty = app
        .get(
            &preview_url("handoff", "2026-11-02T10:00:00+05:00", Some("ALM01")),
            Some(&national),
        )
        .await
        .assert_status(200);
    assert_eq!(almaty["due_local"], "2026-11-03T12:00:00+05:00");
    assert_eq!(almaty["force_majeure"]["status"], "extended");
    assert_eq!(
        almaty["force_majeure"]["due_local"],
        "2026-11-03T18:00:00+05:00"
    );
    let astana = app
        .get(
            &preview_url("handoff", "2026-11-02T10:00:00+05:00", Some("AST01")),
            Some(&national),
        )
        .await
        .assert_status(200);
    assert_eq!(astana["force_majeure"], Value::Null);

    // A branch supervisor records periods for their own branch only, and no national ones.
    let elsewhere = json!({"branch": "ALM01", "starts_at": "2026-11-05T08:00:00Z", "reason": "x"});
    app.post(
        "/api/v1/force-majeure",
        Some(&astana_supervisor),
        &elsewhere,
    )
    .await
    .assert_problem(403, "branch_forbidden");
    let country = json!({"starts_at": "2026-11-05T08:00:00Z", "reason": "x"});
    app.post("/api/v1/force-majeure", Some(&astana_supervisor), &country)
        .await
        .assert_problem(403, "branch_forbidden");
    let own =
        json!({"branch": "AST01", "starts_at": "2026-11-02T12:00:00+05:00", "reason": "Буран"});
    let open = app
        .post("/api/v1/force-majeure", Some(&astana_supervisor), &own)
        .await
        .assert_status(201);
    let suspended = app
        .get(
            &preview_url("handoff", "2026-11-02T10:00:00+05:00", Some("AST01")),
            Some(&national),
        )
        .await
        .assert_status(200);
    assert_eq!(suspended["force_majeure"]["status"], "suspended");

    let listed = app
        .get("/api/v1/force-majeure", Some(&astana_supervisor))
        .await
        .assert_status(200);
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "a branch supervisor sees only their branch's"
    );
    let listed = app
        .get("/api/v1/force-majeure", Some(&national))
        .await
        .assert_status(200);
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let id = open["id"].as_str().unwrap();
    let end = format!("/api/v1/force-majeure/{id}/end");
    app.post(
        &end,
        Some(&astana_supervisor),
        &json!({"ends_at": "2026-11-02T11:00:00+05:00"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let ended = app
        .post(
            &end,
            Some(&astana_supervisor),
            &json!({"ends_at": "2026-11-03T12:00:00+05:00"}),
        )
        .await
        .assert_status(200);
    assert_eq!(ended["ends_at"], "2026-11-03T07:00:00Z");
    app.post(
        &end,
        Some(&astana_supervisor),
        &json!({"ends_at": "2026-11-04T12:00:00+05:00"}),
    )
    .await
    .assert_problem(409, "already_ended");
    let extended = app
        .get(
            &preview_url("handoff", "2026-11-02T10:00:00+05:00", Some("AST01")),
            Some(&national),
        )
        .await
        .assert_status(200);
    // Pending at 12:00 on the 2nd with 24 hours left; the period lasted 24 hours.
    assert_eq!(
        extended["force_majeure"]["due_local"],
        "2026-11-04T12:00:00+05:00"
    );

    app.post(
        "/api/v1/force-majeure",
        Some(&national),
        &json!({"starts_at": "2026-11-05T08:00:00Z", "ends_at": "2026-11-05T07:00:00Z", "reason": "x"}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn late_or_implausible_force_majeure_records_are_refused() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    let branch_supervisor = app.token(Role::Supervisor, Some("ALM01")).await;
    let national = app.token(Role::Supervisor, None).await;
    // The clock stands at Monday 23 Nov 2026; a start on Tue 17 Nov had its notice due by
    // 24:00 of Fri 20 Nov (п.38).
    let late =
        json!({"branch": "ALM01", "starts_at": "2026-11-17T09:00:00+05:00", "reason": "Паводок"});
    app.post("/api/v1/force-majeure", Some(&branch_supervisor), &late)
        .await
        .assert_problem(422, "validation_failed");
    app.post("/api/v1/force-majeure", Some(&national), &late)
        .await
        .assert_status(201);
    let in_time =
        json!({"branch": "ALM01", "starts_at": "2026-11-19T09:00:00+05:00", "reason": "Буран"});
    app.post("/api/v1/force-majeure", Some(&branch_supervisor), &in_time)
        .await
        .assert_status(201);
    let far = json!({"starts_at": "2026-11-23T09:00:00+05:00", "ends_at": "9999-12-31T23:59:59-23:59", "reason": "x"});
    app.post("/api/v1/force-majeure", Some(&national), &far)
        .await
        .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn branch_staff_preview_only_their_own_branch() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    app.branch(&admin, "AST01", "Астана").await;
    let clerk = app.token(Role::AccumulationClerk, Some("ALM01")).await;
    app.get(
        &preview_url("handoff", "2026-03-20T10:00:00Z", Some("AST01")),
        Some(&clerk),
    )
    .await
    .assert_problem(403, "branch_forbidden");
    // A bad path or query from a caller without a valid key is a 401 first.
    app.get(
        "/api/v1/calendar/deadline?rule=handoff&from=yesterday",
        Some("pst_forged"),
    )
    .await
    .assert_problem(401, "invalid_token");
    app.post(
        "/api/v1/force-majeure/not-a-uuid/end",
        None,
        &json!({"ends_at": "2026-11-23T00:00:00Z"}),
    )
    .await
    .assert_problem(401, "missing_token");
}

#[actix_web::test]
async fn a_years_decree_swaps_are_imported_all_or_none_with_their_audit_trail() {
    let app = TestApp::new().await;
    let supervisor = app.token(Role::Supervisor, None).await;
    let reason = "Постановление Правительства о переносе выходных дней в 2027 году";
    // One swap makes no sense (9 Jan 2027 is a Saturday): nothing is kept.
    let refused = app
        .post(
            "/api/v1/calendar/2027/decree-swaps",
            Some(&supervisor),
            &json!({"reason": reason, "swaps": [
                {"day_off": "2027-01-08", "working_day": "2027-01-10"},
                {"day_off": "2027-01-09", "working_day": "2027-01-16"},
            ]}),
        )
        .await
        .assert_problem(422, "not_a_weekday");
    assert!(refused["detail"].as_str().unwrap().contains("2027-01-09"));
    let audit = app
        .get("/api/v1/calendar/2027/edits", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(audit, json!([]));
    for (body, status, code) in [
        (
            json!({"reason": reason, "swaps": []}),
            422,
            "validation_failed",
        ),
        (json!({"reason": reason}), 400, "invalid_body"),
    ] {
        app.post(
            "/api/v1/calendar/2027/decree-swaps",
            Some(&supervisor),
            &body,
        )
        .await
        .assert_problem(status, code);
    }
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    let clerk = app.token(Role::AccumulationClerk, Some("ALM01")).await;
    app.post(
        "/api/v1/calendar/2027/decree-swaps",
        Some(&clerk),
        &json!({"reason": reason, "swaps": [{"day_off": "2027-01-08", "working_day": "2027-01-10"}]}),
    )
    .await
    .assert_problem(403, "role_forbidden");

    let imported = app
        .post(
            "/api/v1/calendar/2027/decree-swaps",
            Some(&supervisor),
            &json!({"reason": reason, "swaps": [
                {"day_off": "2027-01-08", "working_day": "2027-01-10", "name_ru": "Перенос с 10.01"},
            ]}),
        )
        .await
        .assert_status(201);
    let edits = imported["edits"].as_array().unwrap();
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[0]["action"], "add_day_off");
    assert_eq!(edits[1]["action"], "add_working_day");
    assert_eq!(imported["calendar"]["calendar_version"], 2);
    let audit = app
        .get("/api/v1/calendar/2027/edits", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(audit.as_array().unwrap().len(), 2);
    assert_eq!(audit[0]["reason"], reason);
    assert_eq!(audit[1]["actor_name"], "test supervisor");
    let year = app
        .get("/api/v1/calendar/2027", Some(&supervisor))
        .await
        .assert_status(200);
    let day = |date: &str| {
        year["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["date"] == date)
            .cloned()
            .unwrap_or_else(|| panic!("{date} not listed"))
    };
    assert_eq!(day("2027-01-08")["working"], false);
    assert_eq!(day("2027-01-08")["name_ru"], "Перенос с 10.01");
    assert_eq!(day("2027-01-10")["working"], true);
}

/// A deadline falling in a year the calendar lacks is our configuration, not the caller's
/// mistake: 503 `calendar_unavailable` with `Retry-After`, nothing kept, and the same request
/// succeeds once the year is added (a sender that stops at a 4xx would drop it).
#[actix_web::test]
async fn a_deadline_in_a_missing_year_is_a_retryable_503_that_keeps_nothing() {
    let pilot = crate::common::Pilot::new().await;
    let app = &pilot.app;
    pilot.register("Y2028-1", "postamat").await;
    pilot.execute("Y2028-1").await;
    pilot.order("Y2028-1", "2026-03-19T10:00:00+05:00").await;
    // Friday 31 December 2027: the handoff is due on the next working day, in 2028.
    pilot.set_clock("2027-12-31T10:00:00+05:00");
    let body = json!({"application_numbers": ["Y2028-1"]});
    let res = app.post("/api/v1/intake", Some(&pilot.clerk), &body).await;
    res.assert_problem(503, "calendar_unavailable");
    assert_eq!(res.header("retry-after").as_deref(), Some("60"));
    let listed = app
        .get(
            "/api/v1/shipments?application_number=Y2028-1",
            Some(&pilot.clerk),
        )
        .await
        .assert_status(200);
    assert_eq!(listed["items"][0]["state"], "ready_at_registry_office");

    let national = app.token(Role::Supervisor, None).await;
    app.post(
        "/api/v1/calendar/2028/edits",
        Some(&national),
        &json!({"action": "add_year", "reason": "Год 2028"}),
    )
    .await
    .assert_status(201);
    let taken = app
        .post("/api/v1/intake", Some(&pilot.clerk), &body)
        .await
        .assert_status(200);
    assert_eq!(taken["items"][0]["outcome"], "taken_in", "{taken}");
}

/// Security review, issue 28 finding 4: a date at chrono's limit panicked the deadline preview
/// (the connection closed with no answer), and a year beyond it could be added to the calendar
/// and never removed. Every date and year the API accepts now lies within 2000–2100, and an
/// answer names the bound.
#[actix_web::test]
async fn dates_and_years_beyond_the_supported_years_are_refused_with_the_bound() {
    use crate::common::Pilot;
    let p = Pilot::new().await;
    let supervisor = p.app.token(Role::Supervisor, None).await;
    for from in [
        "+262142-12-31T00:00:00Z",
        "-262143-01-01T00:00:00Z",
        "2101-01-01T00:00:00Z",
    ] {
        let refused = p
            .app
            .get(
                &preview_url("calendar_days:366", from, None),
                Some(&p.clerk),
            )
            .await
            .assert_problem(422, "validation_failed");
        assert!(
            refused["detail"].as_str().unwrap().contains("2000–2100"),
            "{refused}"
        );
    }
    for year in [262143, 2101, 1999] {
        p.app
            .post(
                &format!("/api/v1/calendar/{year}/edits"),
                Some(&supervisor),
                &json!({"action": "add_year", "reason": "Год"}),
            )
            .await
            .assert_problem(422, "validation_failed");
    }

    // The integrations' reported times are bounded too.
    p.register("FAR-1", "postamat").await;
    let mut far = Pilot::application("FAR-2", "postamat");
    far["submitted_at"] = json!("9999-01-01T00:00:00Z");
    p.app
        .post(
            "/api/v1/integrations/kaspi/applications",
            Some(&p.kaspi),
            &far,
        )
        .await
        .assert_problem(422, "validation_failed");
    p.app
        .post(
            "/api/v1/integrations/registry-office/events",
            Some(&p.registry_office),
            &json!({"event_id": "ro-far", "application_number": "FAR-1", "status": "executed", "occurred_at": "+262142-12-31T23:59:59Z"}),
        )
        .await
        .assert_problem(422, "validation_failed");
    p.execute("FAR-1").await;
    p.app
        .post(
            "/api/v1/integrations/kaspi/orders",
            Some(&p.kaspi),
            &json!({"event_id": "ord-far", "application_number": "FAR-1", "kaspi_order_id": "K-FAR", "waybill": "WB-FAR", "occurred_at": "2200-01-01T00:00:00Z"}),
        )
        .await
        .assert_problem(422, "validation_failed");
    let answer = p
        .kaspi_event(crate::common::event(
            "ev-far",
            "collected",
            "WB-FAR",
            "+262142-12-31T23:59:59Z",
        ))
        .await;
    assert_eq!(answer["outcome"], "rejected", "{answer}");
    assert_eq!(answer["reason"], "validation_failed", "{answer}");
    let mut delayed =
        crate::common::event("ev-far-2", "delayed", "WB-FAR", "2026-03-20T10:00:00+05:00");
    delayed["new_expected_date"] = json!("9999-01-01");
    let answer = p.kaspi_event(delayed).await;
    assert_eq!(answer["reason"], "validation_failed", "{answer}");
    // A filter's bound too: PostgreSQL refused it with a 500, SQLite compared it as text.
    for bound in [
        "due_before=-262143-01-01T00:00:00Z",
        "due_after=%2B10000-01-01T00:00:00Z",
    ] {
        p.app
            .get(&format!("/api/v1/shipments?{bound}"), Some(&p.clerk))
            .await
            .assert_problem(422, "validation_failed");
    }
}
