//! Every failure is `application/problem+json` with its own stable code.

use crate::common::{TestApp, branch_body, with_token};
use actix_web::test::TestRequest;
use postamat::domain::role::Role;
use serde_json::json;
use std::collections::HashSet;

#[actix_web::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let req = with_token(
        TestRequest::put().uri("/api/v1/branches/ALM01"),
        Some(&admin),
    )
    .insert_header(("content-type", "application/json"))
    .set_payload(r#"{"name_kk": "ХҚКО""#);
    app.send(req).await.assert_problem(400, "malformed_json");
}

#[actix_web::test]
async fn a_field_of_the_wrong_type_is_named_in_the_problem() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let mut body = branch_body("Алматы");
    body["city"] = json!(42);
    let problem = app
        .put("/api/v1/branches/ALM01", Some(&admin), &body)
        .await
        .assert_problem(400, "invalid_body");
    assert!(
        problem["detail"].as_str().unwrap().starts_with("city:"),
        "{problem}"
    );

    body["city"] = json!("Алматы");
    body["time_zone"] = json!("Europe/Moscow");
    let problem = app
        .put("/api/v1/branches/ALM01", Some(&admin), &body)
        .await
        .assert_problem(400, "invalid_body");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("time_zone:"),
        "{problem}"
    );

    body["time_zone"] = json!("Asia/Almaty");
    body["colour"] = json!("red");
    app.put("/api/v1/branches/ALM01", Some(&admin), &body)
        .await
        .assert_problem(400, "invalid_body");
    // Nothing was stored by the refused requests.
    app.get("/api/v1/branches/ALM01", Some(&admin))
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn requests_without_a_valid_key_are_401_before_their_body_is_judged() {
    let app = TestApp::new().await;
    app.get("/api/v1/branches", None)
        .await
        .assert_problem(401, "missing_token");
    let res = app
        .get("/api/v1/branches", Some("pst_not-a-real-token"))
        .await;
    res.assert_problem(401, "invalid_token");
    let req = TestRequest::get()
        .uri("/api/v1/branches")
        .insert_header(("Authorization", "Basic YWRtaW46YWRtaW4="));
    app.send(req).await.assert_problem(401, "invalid_token");
    // A broken body from an unauthenticated caller is still a 401.
    let req = TestRequest::put()
        .uri("/api/v1/branches/ALM01")
        .insert_header(("content-type", "application/json"))
        .set_payload("{");
    app.send(req).await.assert_problem(401, "missing_token");
}

#[actix_web::test]
async fn a_role_without_permission_gets_403_role_forbidden() {
    let app = TestApp::new().await;
    let kaspi = app.token(Role::Kaspi, None).await;
    let problem = app
        .put(
            "/api/v1/branches/ALM01",
            Some(&kaspi),
            &branch_body("Алматы"),
        )
        .await
        .assert_problem(403, "role_forbidden");
    assert!(problem["detail"].as_str().unwrap().contains("admin"));
    app.get("/api/v1/admin/keys", Some(&kaspi))
        .await
        .assert_problem(403, "role_forbidden");
}

#[actix_web::test]
async fn unknown_routes_are_404_and_wrong_methods_are_405_with_allow() {
    let app = TestApp::new().await;
    app.get("/api/v1/nothing-here", None)
        .await
        .assert_problem(404, "route_not_found");
    let res = app.delete("/api/v1/branches", None).await;
    res.assert_problem(405, "method_not_allowed");
    assert_eq!(res.headers.get("allow").unwrap(), "GET");
    let res = app
        .send(TestRequest::post().uri("/api/v1/branches/ALM01"))
        .await;
    res.assert_problem(405, "method_not_allowed");
    let allow = res
        .headers
        .get("allow")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        allow.contains("GET") && allow.contains("PUT") && allow.contains("DELETE"),
        "{allow}"
    );
}

#[actix_web::test]
async fn an_oversized_body_is_413_and_a_non_json_body_is_415() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let mut body = branch_body("Алматы");
    body["name_ru"] = json!("Я".repeat(crate::common::BODY_LIMIT));
    app.put("/api/v1/branches/ALM01", Some(&admin), &body)
        .await
        .assert_problem(413, "payload_too_large");

    let req = with_token(
        TestRequest::put().uri("/api/v1/branches/ALM01"),
        Some(&admin),
    )
    .insert_header(("content-type", "text/plain"))
    .set_payload("name=ЦОН");
    app.send(req)
        .await
        .assert_problem(415, "unsupported_media_type");
}

#[actix_web::test]
async fn invalid_path_and_query_parameters_are_400() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.get("/api/v1/branches/AL-01", Some(&admin))
        .await
        .assert_problem(400, "invalid_path");
    app.get("/api/v1/postamats?city=%20", Some(&admin))
        .await
        .assert_problem(400, "invalid_query");
    let unknown = app
        .get("/api/v1/postamats?town=Almaty", Some(&admin))
        .await
        .assert_problem(400, "invalid_query");
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap()
            .starts_with("town: no such query parameter"),
        "{unknown}"
    );
    // The parameter and the form it takes, not the parser's words alone.
    let supervisor = app
        .token(postamat::domain::role::Role::Supervisor, None)
        .await;
    let bad_date = app
        .get(
            "/api/v1/reports/sla?from=2026-13-01&to=2026-03-31",
            Some(&supervisor),
        )
        .await
        .assert_problem(400, "invalid_query");
    assert!(
        bad_date["detail"]
            .as_str()
            .unwrap()
            .starts_with("from: input is out of range; expected a date such as 2026-03-01"),
        "{bad_date}"
    );
    let missing = app
        .get("/api/v1/reports/sla?to=2026-03-31", Some(&supervisor))
        .await
        .assert_problem(400, "invalid_query");
    assert_eq!(missing["detail"], "from: this query parameter is required");
    app.post(
        "/api/v1/admin/keys/not-a-uuid/revoke",
        Some(&admin),
        &json!({}),
    )
    .await
    .assert_problem(400, "invalid_path");
}

#[actix_web::test]
async fn every_failure_kind_has_its_own_code() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let clerk_branch = "ALM01";
    app.branch(&admin, clerk_branch, "Алматы").await;
    app.branch(&admin, "AST01", "Астана").await;
    let clerk = app.token(Role::AccumulationClerk, Some(clerk_branch)).await;

    let mut codes = Vec::new();
    let malformed = with_token(TestRequest::put().uri("/api/v1/branches/X1"), Some(&admin))
        .insert_header(("content-type", "application/json"))
        .set_payload("{");
    codes.push(
        app.send(malformed)
            .await
            .assert_problem(400, "malformed_json")["code"]
            .clone(),
    );
    codes.push(
        app.get("/api/v1/me", None)
            .await
            .assert_problem(401, "missing_token")["code"]
            .clone(),
    );
    codes.push(
        app.get("/api/v1/me", Some("pst_x"))
            .await
            .assert_problem(401, "invalid_token")["code"]
            .clone(),
    );
    codes.push(
        app.get("/api/v1/admin/keys", Some(&clerk))
            .await
            .assert_problem(403, "role_forbidden")["code"]
            .clone(),
    );
    codes.push(
        app.get("/api/v1/branches/AST01", Some(&clerk))
            .await
            .assert_problem(403, "branch_forbidden")["code"]
            .clone(),
    );
    codes.push(
        app.get("/nope", None)
            .await
            .assert_problem(404, "route_not_found")["code"]
            .clone(),
    );
    codes.push(
        app.get("/api/v1/branches/ZZZ99", Some(&admin))
            .await
            .assert_problem(404, "not_found")["code"]
            .clone(),
    );
    codes.push(
        app.delete("/healthz", None)
            .await
            .assert_problem(405, "method_not_allowed")["code"]
            .clone(),
    );
    let unique: HashSet<String> = codes.iter().map(|c| c.to_string()).collect();
    assert_eq!(unique.len(), codes.len());
}

#[actix_web::test]
async fn the_request_id_is_honoured_or_generated_and_always_echoed() {
    let app = TestApp::new().await;
    let res = app
        .send(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("X-Request-Id", "kaspi-batch-42")),
        )
        .await;
    assert_eq!(res.headers.get("x-request-id").unwrap(), "kaspi-batch-42");
    let res = app
        .send(
            TestRequest::get()
                .uri("/nope")
                .insert_header(("X-Request-Id", "bad id with spaces")),
        )
        .await;
    let generated = res.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

#[actix_web::test]
async fn health_and_readiness_answer_on_the_backend_under_test() {
    let app = TestApp::new().await;
    app.get("/healthz", None).await.assert_status(200);
    let ready = app.get("/readyz", None).await.assert_status(200);
    assert_eq!(ready["database"], app.backend());
    assert_eq!(ready["status"], "ready");
}
