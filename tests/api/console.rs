//! The operations console over HTTP: sign-in and its cookies, CSRF on every form, session
//! expiry and revocation, the same role and branch rules as the API, masking, and the pages'
//! numbers against the API's. The browser tests (`browser.rs`) drive the same pages in Chromium.

use crate::common::{Pilot, Response, TestApp, iin};
use actix_web::test::TestRequest;
use chrono::Duration;
use postamat::api::console::i18n::Lang;
use postamat::api::console::{SESSION_COOKIE, SIGN_IN_COOKIE};
use postamat::domain::deadline::{DeadlineKind, DeadlineState};
use postamat::domain::role::Role;
use postamat::domain::shipment::{ShipmentEvent, ShipmentState};
use postamat::reports::exceptions::ExceptionKind;
use serde_json::json;

/// The `Set-Cookie` line for `name`, if the response sets it.
pub fn set_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(line: &str) -> String {
    line.split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A browser's view of the console: its cookies, and the form token of the last page.
pub struct Browser<'a> {
    app: &'a TestApp,
    session: Option<String>,
    https: bool,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            session: None,
            https: false,
        }
    }

    fn with_cookies(&self, mut req: TestRequest) -> TestRequest {
        if let Some(s) = &self.session {
            req = req.insert_header(("Cookie", format!("{SESSION_COOKIE}={s}")));
        }
        if self.https {
            req = req.insert_header(("X-Forwarded-Proto", "https"));
        }
        req
    }

    pub async fn get(&self, path: &str) -> Response {
        self.app
            .send(self.with_cookies(TestRequest::get().uri(path)))
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        extra_cookie: Option<String>,
    ) -> Response {
        let body = serde_urlencoded::to_string(form).unwrap();
        let mut req = self
            .with_cookies(TestRequest::post().uri(path))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(body);
        if let Some(c) = extra_cookie {
            let existing = self
                .session
                .as_ref()
                .map(|s| format!("; {SESSION_COOKIE}={s}"))
                .unwrap_or_default();
            req = req.insert_header(("Cookie", format!("{c}{existing}")));
        }
        self.app.send(req).await
    }

    /// Signs in with `key` through the form, as a browser does; the answer to the POST.
    pub async fn sign_in(&mut self, key: &str) -> Response {
        let form = self.get("/console/sign-in?next=/console/exceptions").await;
        assert_eq!(form.status, 200, "{}", form.text);
        let line = set_cookie(&form, SIGN_IN_COOKIE).expect("the form sets its CSRF cookie");
        let csrf = hidden(&form.text, "csrf");
        assert_eq!(cookie_value(&line), csrf);
        let res = self
            .post(
                "/console/sign-in",
                &[
                    ("key", key),
                    ("csrf", &csrf),
                    ("next", "/console/shipments"),
                ],
                Some(format!("{SIGN_IN_COOKIE}={csrf}")),
            )
            .await;
        if let Some(line) = set_cookie(&res, SESSION_COOKIE) {
            self.session = Some(cookie_value(&line));
        }
        res
    }

    /// The session's form token, read off a page.
    pub async fn csrf(&self) -> String {
        hidden(&self.get("/console/shipments").await.text, "csrf")
    }
}

fn location(res: &Response) -> String {
    res.header("location").unwrap_or_default()
}

#[actix_web::test]
async fn sign_in_gives_an_http_only_strict_session_cookie_and_sign_out_ends_it() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    let clerk = app.token(Role::AccumulationClerk, Some("ALM01")).await;

    // Not signed in: every page sends to the sign-in form, and back after it.
    let mut browser = Browser::new(&app);
    let res = browser.get("/console/shipments?by=waybill&q=X").await;
    assert_eq!(res.status, 303);
    assert_eq!(
        location(&res),
        "/console/sign-in?next=%2Fconsole%2Fshipments%3Fby%3Dwaybill%26q%3DX"
    );

    let res = browser.sign_in(&clerk).await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert_eq!(location(&res), "/console/shipments");
    let line = set_cookie(&res, SESSION_COOKIE).unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=32400",
    ] {
        assert!(line.contains(attribute), "{attribute} missing: {line}");
    }
    // Over plain HTTP the cookie cannot be Secure (the browser would drop it)…
    assert!(!line.contains("Secure"), "{line}");
    // …and the token is not the API key.
    assert!(!line.contains(&clerk));
    let page = browser.get("/console/shipments").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Алматы") || page.text.contains("ALM01"));
    for header in [
        "content-security-policy",
        "x-content-type-options",
        "cache-control",
        "x-frame-options",
    ] {
        assert!(page.header(header).is_some(), "{header} missing");
    }
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(!page.text.contains("<script"), "the console runs no script");

    // Sign-out needs the form token; without it the session stands.
    let res = browser
        .post("/console/sign-out", &[("csrf", "forged")], None)
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(browser.get("/console/shipments").await.status, 200);
    let csrf = browser.csrf().await;
    let res = browser
        .post("/console/sign-out", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(res.status, 303);
    assert!(
        set_cookie(&res, SESSION_COOKIE)
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old token is refused even if a browser keeps it.
    let res = browser.get("/console/shipments").await;
    assert_eq!(res.status, 303);
    assert!(location(&res).starts_with("/console/sign-in"));
}

#[actix_web::test]
async fn over_tls_the_session_cookie_is_secure() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let mut browser = Browser::new(&app);
    browser.https = true;
    let res = browser.sign_in(&admin).await;
    assert_eq!(res.status, 303);
    assert!(set_cookie(&res, SESSION_COOKIE).unwrap().contains("Secure"));
}

#[actix_web::test]
async fn behind_a_proxy_that_does_not_say_tls_the_cookies_can_be_set_secure() {
    // POSTAMAT_CONSOLE_SECURE_COOKIES=always
    let app = TestApp::with(|state| state.secure_cookies = true).await;
    let admin = app.admin().await;
    let mut browser = Browser::new(&app);
    let res = browser.sign_in(&admin).await;
    assert_eq!(res.status, 303);
    assert!(set_cookie(&res, SESSION_COOKIE).unwrap().contains("Secure"));
}

#[actix_web::test]
async fn sign_in_refuses_a_forged_form_and_a_bad_key_and_keeps_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let browser = Browser::new(&app);

    // A form posted from elsewhere has no matching CSRF cookie (login CSRF).
    let res = browser
        .post("/console/sign-in", &[("key", &admin), ("csrf", "x")], None)
        .await;
    assert_eq!(res.status, 403);
    assert!(set_cookie(&res, SESSION_COOKIE).is_none());
    let res = browser
        .post(
            "/console/sign-in",
            &[("key", &admin), ("csrf", "x")],
            Some(format!("{SIGN_IN_COOKIE}=y")),
        )
        .await;
    assert_eq!(res.status, 403);
    assert!(set_cookie(&res, SESSION_COOKIE).is_none());

    // A wrong or revoked key.
    let mut browser = Browser::new(&app);
    let res = browser.sign_in("pst_not-a-key").await;
    assert_eq!(res.status, 401);
    assert!(set_cookie(&res, SESSION_COOKIE).is_none());
    assert!(res.text.contains("role=\"alert\""));

    // An open redirect is not followed.
    let form = browser
        .get("/console/sign-in?next=https://evil.example/")
        .await;
    assert!(
        form.text.contains("name=\"next\" value=\"/console\""),
        "{}",
        form.text
    );
}

#[actix_web::test]
async fn a_session_expires_when_idle_at_its_end_and_when_its_key_is_revoked() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let supervisor = app.token(Role::Supervisor, None).await;

    // Idle for 30 minutes: over.
    let mut browser = Browser::new(&app);
    browser.sign_in(&supervisor).await;
    app.clock.set(app.clock.now() + Duration::minutes(29));
    assert_eq!(browser.get("/console/exceptions").await.status, 200);
    app.clock.set(app.clock.now() + Duration::minutes(29));
    assert_eq!(
        browser.get("/console/exceptions").await.status,
        200,
        "use keeps it alive"
    );
    app.clock.set(app.clock.now() + Duration::minutes(30));
    assert_eq!(browser.get("/console/exceptions").await.status, 303);

    // Used all along, it still ends 9 hours after sign-in.
    let mut browser = Browser::new(&app);
    browser.sign_in(&supervisor).await;
    let start = app.clock.now();
    while app.clock.now() < start + Duration::hours(9) - Duration::minutes(20) {
        app.clock.set(app.clock.now() + Duration::minutes(20));
        assert_eq!(browser.get("/console/exceptions").await.status, 200);
    }
    app.clock.set(start + Duration::hours(9));
    assert_eq!(browser.get("/console/exceptions").await.status, 303);

    // Revoking the key ends its sessions at once.
    let mut browser = Browser::new(&app);
    browser.sign_in(&supervisor).await;
    assert_eq!(browser.get("/console/exceptions").await.status, 200);
    let keys = app
        .get("/api/v1/admin/keys", Some(&admin))
        .await
        .assert_status(200);
    let id = keys["items"]
        .as_array()
        .or_else(|| keys.as_array())
        .unwrap()
        .iter()
        .find(|k| k["role"] == "supervisor")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/api/v1/admin/keys/{id}/revoke"),
        Some(&admin),
        &json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(browser.get("/console/exceptions").await.status, 303);
}

#[actix_web::test]
async fn pages_keep_the_apis_role_and_branch_rules() {
    let pilot = Pilot::new().await;
    let app = &pilot.app;
    let id = pilot.packed("CON-1").await;
    let other_supervisor = app.token(Role::Supervisor, Some("AST01")).await;
    let own_supervisor = app.token(Role::Supervisor, Some("ALM01")).await;

    // The branch clerk finds the envelope by waybill and sees its page.
    let mut clerk = Browser::new(app);
    clerk.sign_in(&pilot.clerk).await;
    let csrf = clerk.csrf().await;
    let res = clerk
        .post(
            "/console/shipments",
            &[("csrf", "forged"), ("by", "waybill"), ("q", "WB-CON-1")],
            None,
        )
        .await;
    assert_eq!(res.status, 403, "a search form needs its token too");
    let found = clerk
        .post(
            "/console/shipments",
            &[("csrf", &csrf), ("by", "waybill"), ("q", "WB-CON-1")],
            None,
        )
        .await;
    assert!(found.text.contains(&format!("/console/shipments/{id}")));
    let found = clerk.get("/console/shipments?by=waybill&q=WB-CON-1").await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert!(found.text.contains(&format!("/console/shipments/{id}")));
    let page = clerk.get(&format!("/console/shipments/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("CON-1"));
    // A clerk is no supervisor: the exception queue is refused as the API refuses it.
    assert_eq!(clerk.get("/console/exceptions").await.status, 403);
    assert_eq!(
        app.get("/api/v1/exceptions", Some(&pilot.clerk))
            .await
            .status,
        403
    );

    // Another branch's supervisor neither finds nor opens it.
    let mut other = Browser::new(app);
    other.sign_in(&other_supervisor).await;
    let found = other.get("/console/shipments?by=waybill&q=WB-CON-1").await;
    assert_eq!(found.status, 200);
    assert!(!found.text.contains(&id));
    assert_eq!(
        other.get(&format!("/console/shipments/{id}")).await.status,
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/shipments/{id}"), Some(&other_supervisor))
            .await
            .status,
        404
    );
    // The own branch's supervisor does.
    let mut own = Browser::new(app);
    own.sign_in(&own_supervisor).await;
    assert_eq!(
        own.get(&format!("/console/shipments/{id}")).await.status,
        200
    );

    // Kaspi's key may sign in, but no page of branch staff opens for it.
    let mut kaspi = Browser::new(app);
    kaspi.sign_in(&pilot.kaspi).await;
    assert_eq!(
        kaspi.get(&format!("/console/shipments/{id}")).await.status,
        403
    );

    // Bad input is a clear answer, never a 5xx.
    assert_eq!(clerk.get("/console/shipments/not-an-id").await.status, 404);
    let csrf = clerk.csrf().await;
    let bad = clerk
        .post(
            "/console/shipments",
            &[("csrf", &csrf), ("by", "iin"), ("q", "123")],
            None,
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.text.contains("role=\"alert\""));
    assert_eq!(
        clerk.get("/console/shipments?by=nonsense&q=1").await.status,
        422
    );
    assert_eq!(clerk.get("/console/shipments?extra=1").await.status, 400);
    assert_eq!(clerk.get("/console/no-such-page").await.status, 404);
}

#[actix_web::test]
async fn a_citizens_iin_and_phone_are_shown_masked() {
    let pilot = Pilot::new().await;
    let app = &pilot.app;
    let id = pilot.packed("MASK-1").await;
    let mut clerk = Browser::new(app);
    clerk.sign_in(&pilot.clerk).await;
    let full = iin(12);
    // Not in a link: an IIN would stay in the browser's history and proxies' logs.
    let refused = clerk
        .get(&format!("/console/shipments?by=iin&q={full}"))
        .await;
    assert_eq!(refused.status, 422);
    let csrf = clerk.csrf().await;
    let found = clerk
        .post(
            "/console/shipments",
            &[("csrf", &csrf), ("by", "iin"), ("q", &full)],
            None,
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert!(found.text.contains(&format!("/console/shipments/{id}")));
    assert!(!found.text.contains(&full), "the full IIN is on the page");
    assert!(found.text.contains(&full[8..]));
    let page = clerk.get(&format!("/console/shipments/{id}")).await;
    assert!(!page.text.contains(&full));
    assert!(
        !page.text.contains("7011234567"),
        "the full phone is on the page"
    );
}

#[actix_web::test]
async fn the_shipment_page_shows_deadlines_in_local_time_with_their_consequence() {
    let pilot = Pilot::new().await;
    let app = &pilot.app;
    let id = pilot.packed("TL-1").await;
    let mut clerk = Browser::new(app);
    clerk.sign_in(&pilot.clerk).await;
    let detail = app
        .get(&format!("/api/v1/shipments/{id}"), Some(&pilot.clerk))
        .await
        .assert_status(200);
    let page = clerk.get(&format!("/console/shipments/{id}?lang=ru")).await;
    assert_eq!(page.status, 200);
    // The language is remembered.
    assert!(set_cookie(&page, "postamat_lang").unwrap().contains("ru"));
    // Every deadline, due in Almaty time as people there write it.
    for d in detail["deadlines"].as_array().unwrap() {
        let due: chrono::DateTime<chrono::FixedOffset> =
            chrono::DateTime::parse_from_rfc3339(d["due_local"].as_str().unwrap()).unwrap();
        let shown = due.format("%d.%m.%Y %H:%M").to_string();
        assert!(page.text.contains(&shown), "{shown} missing");
    }
    assert!(page.text.contains("Передача в Kaspi"));
    assert!(page.text.contains("передаётся руководителю филиала"));
    // The timeline, every step of the history.
    assert_eq!(
        page.text.matches("<time datetime=").count(),
        detail["timeline"].as_array().unwrap().len()
    );
    let kk = clerk.get(&format!("/console/shipments/{id}?lang=kk")).await;
    assert!(kk.text.contains("lang=\"kk\""));
    assert!(kk.text.contains("Kaspi-ге тапсыру"));
}

#[actix_web::test]
async fn the_sla_page_and_its_csv_are_the_apis_numbers() {
    let pilot = Pilot::new().await;
    let app = &pilot.app;
    pilot.packed("SLA-1").await;
    let supervisor = app.token(Role::Supervisor, None).await;
    let mut browser = Browser::new(app);
    browser.sign_in(&supervisor).await;
    let period = "from=2026-03-01&to=2026-12-31";
    let csv = browser.get(&format!("/console/sla.csv?{period}")).await;
    assert_eq!(csv.status, 200);
    let api = app
        .get(
            &format!("/api/v1/reports/sla?{period}&format=csv"),
            Some(&supervisor),
        )
        .await;
    assert_eq!(csv.text, api.text);
    assert!(csv.text.lines().count() > 1, "{}", csv.text);
    let page = browser.get(&format!("/console/sla?{period}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("<svg role=\"img\""),
        "the chart is inline SVG"
    );
    assert!(page.text.contains("viewBox"));
    // A period the API refuses, the page refuses the same way.
    let bad = browser
        .get("/console/sla?from=2026-05-01&to=2026-04-01")
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(browser.get("/console/sla?from=yesterday").await.status, 400);
    // Dates at chrono's ends: refused, not a panic or a 500 (API and page alike).
    for period in [
        "from=%2B262142-12-31&to=%2B262142-12-31",
        "from=-262143-01-01&to=-262143-01-02",
        "from=1999-12-31&to=2000-01-01",
    ] {
        assert_eq!(
            browser.get(&format!("/console/sla?{period}")).await.status,
            400,
            "{period}"
        );
        assert_eq!(
            browser
                .get(&format!("/console/sla.csv?{period}"))
                .await
                .status,
            400,
            "{period}"
        );
        app.get(&format!("/api/v1/reports/sla?{period}"), Some(&supervisor))
            .await
            .assert_problem(400, "invalid_query");
    }
}

#[actix_web::test]
async fn a_national_supervisor_edits_the_calendar_through_the_same_workflow() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    let national = app.token(Role::Supervisor, None).await;
    let branch_supervisor = app.token(Role::Supervisor, Some("ALM01")).await;

    let mut browser = Browser::new(&app);
    browser.sign_in(&national).await;
    let page = browser.get("/console/calendar/2026").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let csrf = hidden(&page.text, "csrf");
    let edit = [
        ("csrf", csrf.as_str()),
        ("action", "add_day_off"),
        ("date", "2026-12-31"),
        ("name_kk", ""),
        ("name_ru", "Тестовый выходной"),
        ("reason", "Постановление №1"),
    ];
    // Without the form token nothing changes.
    let mut forged = edit;
    forged[0] = ("csrf", "forged");
    let res = browser
        .post("/console/calendar/2026/edits", &forged, None)
        .await;
    assert_eq!(res.status, 403);
    let edits = app
        .get("/api/v1/calendar/2026/edits", Some(&national))
        .await
        .assert_status(200);
    assert_eq!(edits.as_array().unwrap().len(), 0);

    let res = browser
        .post("/console/calendar/2026/edits", &edit, None)
        .await;
    assert_eq!(res.status, 303, "{}", res.text);
    let edits = app
        .get("/api/v1/calendar/2026/edits", Some(&national))
        .await
        .assert_status(200);
    assert_eq!(edits.as_array().unwrap().len(), 1);
    assert_eq!(edits[0]["reason"], "Постановление №1");
    let year = app
        .get("/api/v1/calendar/2026", Some(&national))
        .await
        .assert_status(200);
    assert!(
        year["days"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["date"] == "2026-12-31" && d["working"] == false)
    );
    let page = browser.get("/console/calendar/2026").await;
    assert!(page.text.contains("Постановление №1"));

    // The same day again: the workflow's refusal, as a page.
    let csrf = hidden(&page.text, "csrf");
    let mut again = edit;
    again[0] = ("csrf", csrf.as_str());
    let res = browser
        .post("/console/calendar/2026/edits", &again, None)
        .await;
    assert_eq!(res.status, 409, "{}", res.text);

    // A branch supervisor sees the history but may not edit: no form, and a post is refused.
    let mut branch = Browser::new(&app);
    branch.sign_in(&branch_supervisor).await;
    let page = branch.get("/console/calendar/2026").await;
    assert!(!page.text.contains("/edits\""));
    let csrf = branch.csrf().await;
    let mut other = edit;
    other[0] = ("csrf", csrf.as_str());
    other[2] = ("date", "2026-12-30");
    let res = branch
        .post("/console/calendar/2026/edits", &other, None)
        .await;
    assert_eq!(res.status, 403);
    let edits = app
        .get("/api/v1/calendar/2026/edits", Some(&national))
        .await
        .assert_status(200);
    assert_eq!(edits.as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_courier_sees_no_citizens_messages_and_does_not_search_by_iin() {
    let pilot = Pilot::new().await;
    let app = &pilot.app;
    let id = pilot.packed("CUR-1").await;
    let mut courier = Browser::new(app);
    courier.sign_in(&pilot.courier).await;
    let page = courier.get(&format!("/console/shipments/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("id=\"messages\""));
    let csrf = courier.csrf().await;
    let res = courier
        .post(
            "/console/shipments",
            &[("csrf", &csrf), ("by", "iin"), ("q", &iin(12))],
            None,
        )
        .await;
    assert_eq!(res.status, 403);
    // The clerk sees the messages section.
    let mut clerk = Browser::new(app);
    clerk.sign_in(&pilot.clerk).await;
    let page = clerk.get(&format!("/console/shipments/{id}")).await;
    assert!(page.text.contains("id=\"messages\""));
}

#[actix_web::test]
async fn signing_in_again_ends_the_old_session_and_ended_ones_are_cleared() {
    let app = TestApp::new().await;
    let supervisor = app.token(Role::Supervisor, None).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&supervisor).await;
    let first = browser.session.clone().unwrap();
    browser.sign_in(&supervisor).await;
    assert_ne!(browser.session.as_deref(), Some(first.as_str()));
    assert_eq!(browser.get("/console/exceptions").await.status, 200);
    let old = Browser {
        app: &app,
        session: Some(first),
        https: false,
    };
    assert_eq!(
        old.get("/console/exceptions").await.status,
        303,
        "the old session ended"
    );

    // Over (idle), it is still stored until the sweeper's housekeeping deletes it.
    app.clock.set(app.clock.now() + Duration::hours(1));
    let pool = app.pool.clone();
    let now = app.clock.now();
    let purged = actix_web::web::block(move || {
        let mut conn = pool.get().unwrap();
        postamat::workflows::console::purge_expired(&mut conn, now).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(purged, 1);
}

#[test]
fn every_name_the_domain_has_is_translated() {
    let mut names: Vec<&str> = Vec::new();
    names.extend(ShipmentState::ALL.iter().map(|s| s.as_str()));
    names.extend(ShipmentEvent::ALL.iter().map(|e| e.as_str()));
    names.extend(DeadlineKind::ALL.iter().map(|k| k.as_str()));
    names.extend(DeadlineKind::ALL.iter().map(|k| k.on_breach().as_str()));
    names.extend(ExceptionKind::ALL.iter().map(|k| k.as_str()));
    for state in [
        DeadlineState::Pending,
        DeadlineState::Met,
        DeadlineState::MetLate,
        DeadlineState::Breached,
        DeadlineState::Cancelled,
    ] {
        names.push(state.as_str());
    }
    // The history's own lines (the registry office's execution and refusal, a duplicate).
    names.extend(["executed", "duplicate_requested", "registered", "refused"]);
    // Who is signed in.
    names.extend([
        "supervisor",
        "accumulation_clerk",
        "issuance_clerk",
        "state_courier",
    ]);
    for name in names {
        assert!(Lang::knows(name), "no Kazakh and Russian name for {name}");
        assert_ne!(
            Lang::Kk.name_of(name),
            Lang::Ru.name_of(name).to_owned() + "x"
        );
    }
}
