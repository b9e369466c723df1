//! The committed OpenAPI document is what the code generates and what the service serves.
//! `UPDATE_OPENAPI=1 cargo test` rewrites it.

use crate::common::TestApp;
use actix_web::test::TestRequest;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

fn generated() -> String {
    postamat::api::openapi().to_pretty_json().unwrap() + "\n"
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test` and commit it"
    );
}

#[actix_web::test]
async fn the_service_serves_the_same_document_and_swagger_ui() {
    let app = TestApp::new().await;
    let served = app
        .get("/api-docs/openapi.json", None)
        .await
        .assert_status(200);
    let committed: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(served, committed);

    let ui = app.send(TestRequest::get().uri("/docs/")).await;
    assert_eq!(ui.status.as_u16(), 200);
    assert!(
        ui.text.contains("swagger"),
        "{}",
        &ui.text[..ui.text.len().min(300)]
    );
    // Its own scripts only: the page holds no inline script the policy would block.
    let csp = ui.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !ui.text.contains("<script>") && ui.text.contains("<script src="),
        "{}",
        ui.text
    );
    assert_eq!(ui.header("x-frame-options").as_deref(), Some("DENY"));
    let json = app.get("/api-docs/openapi.json", None).await;
    assert_eq!(
        json.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
}

#[test]
fn every_operation_documents_its_problem_responses() {
    let api = postamat::api::openapi();
    for (path, item) in &api.paths.paths {
        for op in [&item.get, &item.post, &item.put, &item.delete]
            .into_iter()
            .flatten()
        {
            let responses = &op.responses.responses;
            assert!(responses.contains_key("500"), "{path}: no 500");
            if op.security.is_some() {
                assert!(responses.contains_key("401"), "{path}: no 401");
                assert!(responses.contains_key("403"), "{path}: no 403");
            }
        }
    }
}
