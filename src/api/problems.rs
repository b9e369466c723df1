//! Which problem codes each operation can answer with, documented in one place: every error
//! status an operation lists carries the exact set of codes it can give under that status, as
//! an `enum` on the problem's `code` (so a client, or a fuzzer checking responses against the
//! document, knows them), and in the description.
//!
//! Codes that follow from an operation's shape are added from that shape: a key
//! (`missing_token`, `invalid_token`, `role_forbidden`), path and query parameters
//! (`invalid_path`, `invalid_query`), a JSON body (`malformed_json`, `invalid_body`,
//! `payload_too_large`, `unsupported_media_type`), a write (`concurrent_update`: a busy or
//! conflicting database), and our own failures everywhere (`internal`, `database_unavailable`,
//! `storage_full`). The rest each handler declares beside its `#[utoipa::path]`, as the
//! extension [`CODES`] (`extensions(("x-problem-codes" = json!([Reason::NotFound])))`), which
//! [`document`] takes out of the published document. The API tests check every problem they
//! receive against this document, and CI's fuzz pass checks every response.

use crate::api::error::ErrorCode::{self, *};
use crate::api::error::PROBLEM_CONTENT_TYPE;
use crate::workflows::Reason;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{
    AllOfBuilder, ContentBuilder, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Schema, Type,
};

/// The extension in which a handler declares the codes particular to it.
pub const CODES: &str = "x-problem-codes";

/// The codes an operation declares in [`CODES`], if it declares them. A name that is no code
/// is a mistake of ours, and stops the document being built.
pub fn declared(operation: &Operation) -> Option<Vec<ErrorCode>> {
    let declared = operation.extensions.as_ref()?.get(CODES)?;
    let names = declared.as_array().expect("x-problem-codes is a list");
    Some(
        names
            .iter()
            .map(|name| {
                name.as_str()
                    .and_then(ErrorCode::parse)
                    .unwrap_or_else(|| panic!("{name} in x-problem-codes is no problem code"))
            })
            .collect(),
    )
}

/// Every code an operation can answer with: those its shape implies and those it declares.
pub fn codes_of(operation: &Operation, method: &str) -> BTreeSet<ErrorCode> {
    let mut codes: BTreeSet<ErrorCode> = [Internal, DatabaseUnavailable, StorageFull].into();
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        codes.extend([MissingToken, InvalidToken, Refused(Reason::RoleForbidden)]);
    }
    let located = |place: ParameterIn| {
        operation.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    if located(ParameterIn::Path) {
        codes.insert(InvalidPath);
    }
    if located(ParameterIn::Query) {
        codes.insert(InvalidQuery);
    }
    if operation.request_body.is_some() {
        codes.extend([
            MalformedJson,
            InvalidBody,
            PayloadTooLarge,
            UnsupportedMediaType,
        ]);
    }
    if method != "get" {
        codes.insert(ConcurrentUpdate);
    }
    codes.extend(declared(operation).unwrap_or_default());
    codes
}

/// Documents every operation's problem answers, by status, from [`codes_of`]. A description an
/// operation gives for an error status is kept, ahead of the list of codes.
pub fn document(api: &mut OpenApi) {
    for item in api.paths.paths.values_mut() {
        let operations = [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            // OpenAPI requires a description on every response.
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("Response")
                        .to_owned();
                }
            }
            let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
            for code in codes_of(operation, method) {
                by_status
                    .entry(code.status().as_u16())
                    .or_default()
                    .push(code);
            }
            // The declaration has done its work: the published document lists the codes.
            if let Some(extensions) = operation.extensions.as_mut() {
                extensions.remove(CODES);
                if extensions.is_empty() {
                    operation.extensions = None;
                }
            }
            for (status, codes) in by_status {
                let responses = &mut operation.responses.responses;
                let given = match responses.get(&status.to_string()) {
                    Some(RefOr::T(response)) => Some(response.description.clone()),
                    _ => None,
                };
                responses.insert(
                    status.to_string(),
                    RefOr::T(response(status, &codes, given)),
                );
            }
        }
    }
}

fn response(status: u16, codes: &[ErrorCode], given: Option<String>) -> utoipa::openapi::Response {
    let list = codes
        .iter()
        .map(|c| format!("`{}` ({})", c.as_str(), c.title()))
        .collect::<Vec<_>>()
        .join(", ");
    let description = match given.filter(|d| !d.is_empty()) {
        Some(given) => format!("{given}. Codes: {list}"),
        None => format!("Codes: {list}"),
    };
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(problem_schema(status, codes)))
                .build(),
        )
        .build()
}

/// `Problem`, with `status` and `code` narrowed to this answer's.
fn problem_schema(status: u16, codes: &[ErrorCode]) -> Schema {
    let narrowed = ObjectBuilder::new()
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([status])),
        )
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes.iter().map(|c| c.as_str()))),
        );
    AllOfBuilder::new()
        .item(Ref::from_schema_name("Problem"))
        .item(narrowed)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation as declared, with its path and method.
    fn operations(api: &utoipa::openapi::OpenApi) -> Vec<(String, &'static str, &Operation)> {
        let mut all = Vec::new();
        for (path, item) in &api.paths.paths {
            let methods = [
                ("get", &item.get),
                ("post", &item.post),
                ("put", &item.put),
                ("delete", &item.delete),
                ("patch", &item.patch),
            ];
            for (method, operation) in methods {
                if let Some(operation) = operation {
                    all.push((path.clone(), method, operation));
                }
            }
        }
        all
    }

    /// A handler says which codes it gives, even when it gives none of its own: a new handler
    /// that forgets cannot pass for one that has nothing to declare.
    #[test]
    fn every_handler_declares_its_codes_and_the_document_keeps_no_declaration() {
        let api = crate::api::operations();
        let undeclared: Vec<_> = operations(&api)
            .into_iter()
            .filter(|(_, _, operation)| declared(operation).is_none())
            .map(|(path, method, _)| format!("{method} {path}"))
            .collect();
        assert!(
            undeclared.is_empty(),
            "add extensions((\"{CODES}\" = json!([...]))) to the #[utoipa::path] of {undeclared:?}"
        );
        let published = serde_json::to_string(&crate::api::openapi()).unwrap();
        assert!(!published.contains(CODES));
    }

    /// One list of codes: each has one name that reads back as itself, and each is one that
    /// some operation documents, save the router's own (no such route, no such method).
    #[test]
    fn every_code_has_one_name_and_some_operation_answers_with_it() {
        let mut names = BTreeSet::new();
        for code in ErrorCode::all() {
            assert!(names.insert(code.as_str()), "{} twice", code.as_str());
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert!(!code.title().is_empty());
        }
        for reason in Reason::ALL {
            assert_eq!(ErrorCode::from(reason).as_str(), reason.code());
        }
        let api = crate::api::operations();
        let documented: BTreeSet<ErrorCode> = operations(&api)
            .into_iter()
            .flat_map(|(_, method, operation)| codes_of(operation, method))
            .collect();
        let nowhere: Vec<_> = ErrorCode::all()
            .filter(|code| !documented.contains(code))
            .filter(|code| ![RouteNotFound, MethodNotAllowed].contains(code))
            .map(ErrorCode::as_str)
            .collect();
        assert!(
            nowhere.is_empty(),
            "no handler declares {nowhere:?}: declare it where it is given, or retire it"
        );
    }

    #[test]
    fn a_description_names_only_codes_its_status_can_give() {
        let api = serde_json::to_value(crate::api::openapi()).unwrap();
        let backticked = regex::Regex::new(r"`([a-z_]+)`").unwrap();
        for (path, item) in api["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    if !status.starts_with('4') && !status.starts_with('5') {
                        continue;
                    }
                    let allowed = response["content"][PROBLEM_CONTENT_TYPE]["schema"]["allOf"]
                        [1]["properties"]["code"]["enum"]
                        .as_array()
                        .unwrap_or_else(|| {
                            panic!(
                                "{method} {path} documents {status}, but no code of it answers \
                                 with {status}: declare the code in the handler's x-problem-codes"
                            )
                        });
                    let description = response["description"].as_str().unwrap();
                    for named in backticked.captures_iter(description) {
                        assert!(
                            allowed.iter().any(|c| c == &named[1]),
                            "{method} {path} {status} names `{}`, which it cannot give",
                            &named[1]
                        );
                    }
                }
            }
        }
    }
}
