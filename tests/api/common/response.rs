//! An answer as the tests read it, and the check every answer gets against the OpenAPI
//! document.

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use postamat::api;
use serde_json::Value;
use std::sync::OnceLock;

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a problem document with this status and code, and returns it.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["code"], code, "code; body: {}", self.text);
        assert_eq!(body["status"], status);
        assert_eq!(body["type"], format!("urn:postamat:problem:{code}"));
        assert!(body["title"].is_string() && body["detail"].is_string());
        body
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

/// The OpenAPI document, as served.
fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(api::openapi()).unwrap())
}

/// Every test's every answer is checked against the document: a problem's status must be one
/// its operation lists, with its code among those listed for that status. (Answers outside any
/// operation — no such route, a method the path does not take — are not an operation's.)
#[track_caller]
pub(super) fn assert_documented(method: &str, path: &str, response: &Response) {
    if response.content_type() != "application/problem+json" {
        return;
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let operation = document()["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .map(|(_, item)| &item[method]);
    let Some(operation) = operation.filter(|op| !op.is_null()) else {
        return;
    };
    let body = response.json();
    let status = response.status.as_str();
    let documented = &operation["responses"][status]["content"]["application/problem+json"]["schema"]
        ["allOf"][1]["properties"]["code"]["enum"];
    assert!(
        documented
            .as_array()
            .is_some_and(|codes| codes.iter().any(|c| c == &body["code"])),
        "{method} {path} answered {status} `{}`, which its operation does not document ({documented}); body: {}",
        body["code"].as_str().unwrap_or("?"),
        response.text
    );
}
