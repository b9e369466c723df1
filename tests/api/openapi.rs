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
    // Where the start-up log points, with or without the slash, and the root says where to go.
    let bare = app.send(TestRequest::get().uri("/docs")).await;
    assert_eq!(bare.status.as_u16(), 308);
    assert_eq!(bare.header("location").as_deref(), Some("/docs/"));
    let root = app.get("/", None).await.assert_status(200);
    assert_eq!(root["docs"], "/docs/");
    assert_eq!(root["openapi"], "/api-docs/openapi.json");
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

#[test]
fn path_parameters_are_in_the_path_and_filters_in_the_query() {
    let api = serde_json::to_value(postamat::api::openapi()).unwrap();
    let mut query_params = 0;
    for (path, item) in api["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                match param["in"].as_str().unwrap() {
                    "path" => assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: '{name}' is declared in the path but is not in it"
                    ),
                    "query" => {
                        query_params += 1;
                        assert!(
                            !param["required"].as_bool().unwrap_or(false)
                                || ["outcome", "from", "to", "rule", "city"].contains(&name),
                            "{method} {path}: query '{name}' marked required"
                        );
                    }
                    "header" => {}
                    other => panic!("{method} {path}: '{name}' in {other}"),
                }
            }
        }
    }
    assert!(
        query_params >= 19,
        "only {query_params} query parameters documented"
    );
}

/// docs/api.md names the SLA report's fields; they are the report's, in JSON (the document's
/// `SlaLine`) and in CSV (the header).
#[actix_web::test]
async fn the_readme_names_the_sla_reports_fields() {
    let readme = include_str!("../../docs/api.md");
    let sentence = readme
        .split("deadline kind with the fields ")
        .nth(1)
        .and_then(|rest| rest.split("; the CSV").next())
        .expect("docs/api.md describes the SLA report's fields");
    let mut named: Vec<String> = regex::Regex::new(r"`([a-z_]+)`")
        .unwrap()
        .captures_iter(sentence)
        .map(|c| c[1].to_owned())
        .collect();
    named.sort();
    let document: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    let mut documented: Vec<String> = document["components"]["schemas"]["SlaLine"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    documented.sort();
    assert_eq!(named, documented, "docs/api.md vs the document's SlaLine");

    let app = TestApp::new().await;
    let supervisor = app
        .token(postamat::domain::role::Role::Supervisor, None)
        .await;
    let csv = app
        .get(
            "/api/v1/reports/sla?from=2026-03-01&to=2026-03-31&format=csv",
            Some(&supervisor),
        )
        .await;
    assert_eq!(csv.status.as_u16(), 200, "{}", csv.text);
    let mut header: Vec<String> = csv
        .text
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    header.sort();
    assert_eq!(
        header, documented,
        "the CSV header vs the document's SlaLine"
    );
}
