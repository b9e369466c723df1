//! No token, IIN or full phone number reaches a log line.

use crate::common::{TestApp, captured_logs, with_token};
use actix_web::test::TestRequest;
use serde_json::json;

const IIN: &str = "870412300129";
const PHONE: &str = "+77011234567";
static REAL_IIN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| crate::common::iin(77));

#[actix_web::test]
async fn logs_never_contain_tokens_iins_or_phone_numbers() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    // Sensitive values in a body the service refuses (its detail quotes the value back), in a
    // query string, in a path and in headers.
    let body = json!({"name": format!("{IIN} {PHONE}"), "role": IIN});
    app.post("/api/v1/admin/keys", Some(&admin), &body)
        .await
        .assert_problem(400, "invalid_body");
    app.get(
        &format!("/api/v1/postamats?phone={PHONE}&iin={IIN}"),
        Some(&admin),
    )
    .await
    .assert_problem(400, "invalid_query");
    app.get(&format!("/api/v1/branches/{IIN}"), Some(&admin))
        .await;
    app.send(
        with_token(TestRequest::get().uri("/api/v1/me"), Some(&admin))
            .insert_header(("X-Request-Id", IIN)),
    )
    .await;
    app.get("/api/v1/me", Some("pst_forged-token-value")).await;
    // A real registration carrying an IIN and a phone number through the whole service.
    let pilot = crate::common::Pilot::new().await;
    let mut application = crate::common::Pilot::application("LOG-1", "postamat");
    application["applicant_iin"] = json!(REAL_IIN.as_str());
    application["phone"] = json!(PHONE);
    pilot
        .app
        .post(
            "/api/v1/integrations/kaspi/applications",
            Some(&pilot.kaspi),
            &application,
        )
        .await
        .assert_status(201);
    // And a careless log line of our own.
    tracing::info!(iin = IIN, phone = PHONE, token = %admin, "careless line with 8 (701) 123-45-67");

    let logs = captured_logs();
    assert!(logs.contains("\"request\""), "requests are logged at all");
    for secret in [
        REAL_IIN.as_str(),
        admin.as_str(),
        &admin[4..],
        IIN,
        PHONE,
        &PHONE[1..],
        "7011234567",
        "123-45-67",
        "forged-token-value",
    ] {
        assert!(!logs.contains(secret), "the log contains {secret}");
    }
}

#[actix_web::test]
async fn an_internal_failure_inside_a_workflow_is_a_500_logged_once_with_its_cause() {
    let p = crate::common::Pilot::new().await;
    p.packed("ERR-1").await;
    let (registry, _) = p.seal(&["ERR-1"]).await;
    // The handover replays the Kaspi events that waited for it; their table is gone.
    p.app
        .rename_table("kaspi_events", "kaspi_events_away")
        .await;
    let failed = p.sign_for(&registry).await;
    let problem = failed.assert_problem(500, "internal");
    assert!(
        !problem["detail"].as_str().unwrap().contains("kaspi_events"),
        "the cause is for the log, not the caller: {problem}"
    );
    let request_id = failed
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let logs = captured_logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(&request_id) && l.contains("request failed"))
        .collect();
    assert_eq!(lines.len(), 1, "logged once: {lines:?}");
    assert!(
        lines[0].contains("\"code\":\"internal\"") && lines[0].contains("kaspi_events"),
        "with its cause: {}",
        lines[0]
    );
    let sealed = p
        .app
        .get(&format!("/api/v1/registries/{registry}"), Some(&p.clerk))
        .await;
    assert_eq!(
        sealed.json()["state"],
        "sealed",
        "nothing of the handover remains"
    );
    p.app
        .rename_table("kaspi_events_away", "kaspi_events")
        .await;
    p.sign_for(&registry).await.assert_status(200);
}
