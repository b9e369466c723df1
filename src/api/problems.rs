//! Which problem codes each operation can answer with, documented in one place: every error
//! status an operation lists carries the exact set of codes it can give under that status, as
//! an `enum` on the problem's `code` (so a client, or a fuzzer checking responses against the
//! document, knows them), and in the description.
//!
//! Codes that follow from an operation's shape are added from that shape: a key
//! (`missing_token`, `invalid_token`, `role_forbidden`), path and query parameters
//! (`invalid_path`, `invalid_query`), a JSON body (`malformed_json`, `invalid_body`,
//! `payload_too_large`, `unsupported_media_type`), a write (`concurrent_update`: a busy or
//! conflicting database), and our own failures everywhere (`internal`, `database_unavailable`).
//! The rest are listed per operation in [`OPERATION_PROBLEMS`]. The API tests check every
//! problem they receive against this document, and CI's fuzz pass checks every response.

use crate::api::error::ErrorCode::{self, *};
use crate::api::error::PROBLEM_CONTENT_TYPE;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{
    AllOfBuilder, ContentBuilder, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Schema, Type,
};

/// Every code an operation can answer with.
pub fn codes_of(operation: &Operation, method: &str) -> BTreeSet<ErrorCode> {
    let mut codes: BTreeSet<ErrorCode> = [Internal, DatabaseUnavailable, StorageFull].into();
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        codes.extend([MissingToken, InvalidToken, RoleForbidden]);
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
    let id = operation.operation_id.as_deref().unwrap_or_default();
    if let Some((_, particular)) = OPERATION_PROBLEMS.iter().find(|(op, _)| *op == id) {
        codes.extend(particular.iter().copied());
    }
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

/// Operation id → the problem codes particular to it (those its shape implies are added by
/// [`codes_of`]).
pub const OPERATION_PROBLEMS: &[(&str, &[ErrorCode])] = &[
    // admin/branches.rs
    ("list_branches", &[]), // branch::list filters by scope; no own error
    ("get_branch", &[NotFound, BranchForbidden]), // NotFound: found(branch::find_by_code); BranchForbidden: auth.require_branch
    ("put_branch", &[AlreadyExists]), // AlreadyExists: branch::upsert insert UniqueViolation(branches_code_key), only when two first PUTs of one code race (PostgreSQL)
    ("delete_branch", &[NotFound, InUse]), // NotFound: found(branch::delete == false); InUse: branch::delete ForeignKeyViolation (keys, applications, shipments, ...)
    // admin/keys.rs
    ("create_key", &[ValidationFailed]), // api_key::create -> CreateKeyError::RoleBranch (Role::check_branch) / UnknownBranch
    ("list_keys", &[]),                  // api_key::list
    ("revoke_key", &[NotFound, LastAdminKey]), // keys::revoke: NotFound api_key::find None; LastAdminKey Reason::LastAdminKey (active_admins <= 1)
    // admin/postamats.rs
    ("list_postamats", &[]),                 // postamat::list
    ("get_postamat", &[NotFound]),           // found(postamat::find)
    ("put_postamat", &[AlreadyExists]), // AlreadyExists: postamat::upsert insert UniqueViolation(postamats_kaspi_id_key), only when two first PUTs of one id race (PostgreSQL)
    ("delete_postamat", &[NotFound, InUse]), // NotFound: found(postamat::delete == false); InUse: ForeignKeyViolation (applications.postamat_id)
    // clerks/calendar.rs
    ("get_year", &[NotFound]), // snapshot.calendar.year(year) None -> ApiError::not_found
    (
        "preview_deadline",
        &[
            ValidationFailed,
            NotFound,
            BranchForbidden,
            CalendarYearMissing,
        ],
    ), // ValidationFailed: supported_instant(from); NotFound: branch::find_by_code None; BranchForbidden: auth.require_branch; CalendarYearMissing: deadline::due / force_majeure::decide YearMissing (the caller's date)
    // clerks/documents.rs
    ("lookup_application", &[NotFound]), // application::find_scoped None
    ("intake", &[ValidationFailed, CalendarUnavailable]), // ValidationFailed: ApiError::validation (1..500 numbers); CalendarUnavailable: take_in_all -> take_in -> shipment::apply -> start_deadlines(Handoff) is_ours, fails the whole call (per-item NotFound/InvalidTransition/ValidationFailed are in the 200 body; own_branch cannot fail for AccumulationClerks)
    ("get_shipment", &[NotFound]),                        // views::shipment None
    ("list_shipments", &[ValidationFailed]), // ValidationFailed supported_instant(due_before/due_after); limit/offset out of range are InvalidQuery (PageQuery::limit)
    (
        "label_envelope",
        &[NotFound, InvalidTransition, NoKaspiOrder, WaybillMismatch],
    ), // label::label: NotFound shipment::find_scoped; InvalidTransition domain transition Refusal (state/route); NoKaspiOrder / WaybillMismatch Reason::*
    (
        "issue_document",
        &[NotFound, InvalidTransition, RecipientMismatch],
    ), // issuance::issue: NotFound find_scoped; RecipientMismatch Reason::RecipientMismatch; InvalidTransition shipment::apply(Issued) Refusal
    ("transfer_after_storage", &[NotFound, InvalidTransition]), // issuance::transfer: NotFound find_scoped; InvalidTransition transfer_allowed (storage not over) / shipment::apply Refusal
    (
        "request_duplicate",
        &[
            NotFound,
            InvalidTransition,
            AlreadyExists,
            CalendarUnavailable,
        ],
    ), // duplicate::request_duplicate: NotFound application::find_scoped; InvalidTransition not cancelled; AlreadyExists open duplicate; CalendarUnavailable shipment::create -> start_deadlines(Duplicate, 3 working days)
    // clerks/loss_acts.rs
    ("record_loss", &[NotFound, InvalidTransition]), // loss::record_state_loss: NotFound find_scoped; InvalidTransition shipment::apply(Lost) Refusal::NotInState (RoleForbidden for Kaspi-held states excluded)
    ("list_acts", &[]), // loss_act::list (limit/cursor errors are InvalidQuery)
    ("get_act", &[NotFound]), // found(loss_act::find_scoped)
    ("draw_act", &[NotFound, AlreadyExists]), // loss::draw_act: NotFound loss_act::find_scoped None; AlreadyExists Reason::AlreadyExists (already drawn)
    ("print_act", &[NotFound, InvalidTransition]), // NotFound found(loss_act::find_scoped); InvalidTransition ApiError::new (not drawn yet)
    // clerks/registries.rs
    (
        "create_registry",
        &[NotFound, InvalidTransition, AlreadyInRegistry],
    ), // registries::draft -> add: NotFound document_of (no application / no document); InvalidTransition envelope not in item_state; AlreadyInRegistry insert_item UniqueViolation (own_branch cannot fail for AccumulationClerks)
    ("list_registries", &[]), // registry::list (limit/cursor errors are InvalidQuery)
    ("get_registry", &[NotFound]), // found(registry::find_scoped)
    (
        "add_item",
        &[
            NotFound,
            RegistrySealed,
            InvalidTransition,
            AlreadyInRegistry,
        ],
    ), // registries::add_item: NotFound find / document_of / other branch; RegistrySealed claim_draft; InvalidTransition not in item_state; AlreadyInRegistry insert_item UniqueViolation
    ("remove_item", &[NotFound, RegistrySealed]), // registries::remove_item: NotFound find / delete_item false; RegistrySealed claim_draft
    (
        "seal_registry",
        &[
            NotFound,
            RegistrySealed,
            ValidationFailed,
            InvalidTransition,
            CalendarUnavailable,
        ],
    ), // registries::seal: NotFound find; RegistrySealed sealed(); ValidationFailed empty; InvalidTransition item state / apply Refusal; CalendarUnavailable apply(AddedToReturnRegistry) -> start_deadlines(ReturnPickup)
    (
        "hand_over",
        &[NotFound, InvalidTransition, CalendarUnavailable],
    ), // registries::hand_over: NotFound find; InvalidTransition not sealed / apply Refusal; CalendarUnavailable replay_waiting -> kaspi_events::process -> apply(AcceptedAtKaspiPoint) -> start_deadlines(PointWait) (own_branch cannot fail for Couriers)
    ("print_registry", &[NotFound]), // found(registry::find_scoped)
    ("pilot_report", &[NotFound]), // asked_branch: another's or unknown branch; InvalidQuery (period, table) from the query's shape
    ("pilot_end_outlook", &[NotFound]), // asked_branch
    ("track_application", &[NotFound]), // found application::find_by_number
    ("track_waybill", &[NotFound]), // found shipment::find_by_waybill
    (
        "reroute_to_con",
        &[NotFound, InvalidTransition, CalendarUnavailable],
    ), // delivery::reroute_to_con: NotFound find_scoped; InvalidTransition status/method/with the State courier/apply Refusal; CalendarUnavailable start_deadlines(Return)
    ("bring_back", &[NotFound, InvalidTransition]), // registries::bring_back: NotFound find_scoped; InvalidTransition apply(BroughtBack) Refusal (own_branch cannot fail for Couriers)
    // integrations/kaspi.rs
    (
        "change_postamat",
        &[
            ValidationFailed,
            NotFound,
            InvalidTransition,
            UnknownPostamat,
            PostamatNotInCity,
            EventIdReused,
        ],
    ), // ValidationFailed supported_instant(occurred_at); delivery::change_postamat: NotFound application; InvalidTransition status/method/apply Refusal (placed); UnknownPostamat; PostamatNotInCity; EventIdReused integrations::once
    (
        "reroute_to_con_by_kaspi",
        &[
            ValidationFailed,
            NotFound,
            InvalidTransition,
            CalendarUnavailable,
            EventIdReused,
        ],
    ), // ValidationFailed supported_instant(occurred_at); delivery::reroute_to_con: NotFound; InvalidTransition status/method/with the State courier/apply Refusal; CalendarUnavailable start_deadlines(Return); EventIdReused integrations::once
    (
        "register_application",
        &[
            ValidationFailed,
            UnknownPostamat,
            PostamatNotInCity,
            OutsidePilotWindow,
            ApplicationConflict,
        ],
    ), // register::register/insert: ValidationFailed (submitted_at in future, unknown branch, postamat_id vs method); UnknownPostamat; PostamatNotInCity; OutsidePilotWindow; ApplicationConflict (payload_hash differs)
    (
        "order_created",
        &[
            ValidationFailed,
            NotFound,
            InvalidTransition,
            OrderConflict,
            AlreadyExists,
            CalendarUnavailable,
            EventIdReused,
        ],
    ), // ValidationFailed supported_instant(occurred_at); kaspi_order::record_order: NotFound application; InvalidTransition no original / apply Refusal (state, ЦОН route); OrderConflict; OrderConflict also order_held_by_another (waybill/order id of another shipment); AlreadyExists shipment::save_change UniqueViolation only when two such orders race; CalendarUnavailable start_deadlines(KaspiArrival) or replay_waiting; EventIdReused integrations::once
    // integrations/kaspi_events.rs
    (
        "receive_event",
        &[InvalidSignature, SignatureExpired, CalendarUnavailable],
    ), // receive_chunk -> process -> apply -> start_deadlines(PointWait/Return) YearMissing is_ours, answered as HTTP (refusals go in the 200 body)
    (
        "receive_batch",
        &[
            InvalidSignature,
            SignatureExpired,
            ValidationFailed,
            CalendarUnavailable,
        ],
    ), // ValidationFailed: 1..MAX_BATCH events; CalendarUnavailable: as receive_event
    // integrations/registry_office.rs
    (
        "registry_office_event",
        &[
            ValidationFailed,
            NotFound,
            InvalidTransition,
            AlreadyExists,
            EventIdReused,
        ],
    ), // ValidationFailed supported_instant(occurred_at); registry_office::apply_status: NotFound application; InvalidTransition status.after None / no lost document (cancel); AlreadyExists shipment::create UniqueViolation(shipments_one_original_idx), only when two `executed` with different event ids race; EventIdReused integrations::once
    // supervisors/calendar_edits.rs
    (
        "edit_year",
        &[
            BranchForbidden,
            ValidationFailed,
            DateOutsideYear,
            NotAWeekday,
            NotAWeekendDay,
            DuplicateDay,
            NoSuchDay,
            CalendarYearMissing,
            AlreadyExists,
        ],
    ), // BranchForbidden auth.require_national; the rest calendar::edit -> Calendar::edited EditError (AlreadyExists = EditError::YearExists, ValidationFailed = EditError::OutOfRange)
    (
        "import_swaps",
        &[
            BranchForbidden,
            ValidationFailed,
            DateOutsideYear,
            NotAWeekday,
            NotAWeekendDay,
            DuplicateDay,
            CalendarYearMissing,
        ],
    ), // BranchForbidden auth.require_national; ValidationFailed ApiError::validation (1..50 swaps); the rest calendar::import_swaps -> edit -> Calendar::edited (AddDayOff/AddWorkingDay only)
    ("list_edits", &[]), // calendar::edits
    // supervisors/disputes.rs
    ("open_dispute", &[NotFound, ValidationFailed]), // supported_date(opened_on); disputes::open: NotFound find_scoped(shipment) / loss_act::find_scoped; ValidationFailed an act of another shipment
    (
        "settle_dispute",
        &[ValidationFailed, NotFound, AlreadyEnded],
    ), // ValidationFailed supported_date(settled_on); disputes::settle: NotFound dispute::find_scoped; AlreadyEnded dispute::settle false
    ("list_disputes", &[]), // dispute::list
    // supervisors/exceptions.rs
    ("kaspi_events", &[]),                    // kaspi_event::by_outcome
    ("discrepancies", &[]),                   // kaspi_event::discrepancies
    ("dead_letters", &[]),                    // outbox::dead_letters
    ("requeue", &[NotFound]), // not visible in outbox::dead_letters or outbox::requeue false -> ApiError::not_found
    ("exception_queue", &[ValidationFailed]), // ValidationFailed ExceptionFilter::check (limit); exceptions() (notice_due errors are ignored)
    ("sla_report", &[]),                      // report::sla (a bad period is InvalidQuery)
    // supervisors/force_majeure.rs
    (
        "create_period",
        &[ValidationFailed, BranchForbidden, CalendarUnavailable],
    ), // ValidationFailed plausible / force_majeure::record (ends<=starts, unknown branch, recorded too late); BranchForbidden record (national by branch key, other branch); CalendarUnavailable notice_due / extend_deadlines -> decide
    (
        "end_period",
        &[
            ValidationFailed,
            NotFound,
            BranchForbidden,
            AlreadyEnded,
            CalendarUnavailable,
        ],
    ), // ValidationFailed plausible / end <= start; force_majeure::end: NotFound find; BranchForbidden not allowed; AlreadyEnded; CalendarUnavailable extend_deadlines -> decide
    ("list_periods", &[]), // force_majeure::list
    ("record_notice", &[NotFound, BranchForbidden, AlreadyExists]), // force_majeure::record_notice: NotFound find; BranchForbidden may_act_on; AlreadyExists periods::record_notice false
    // system.rs
    ("healthz", &[]), // constant answer
    ("readyz", &[]),  // only DatabaseUnavailable / Internal (generic)
    ("metrics", &[]), // metrics.render
    ("me", &[]),      // Authorized<AnyRole> only
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_an_entry_and_every_entry_an_operation() {
        let api = crate::api::openapi();
        let mut ids: Vec<String> = api
            .paths
            .paths
            .values()
            .flat_map(|item| {
                [&item.get, &item.post, &item.put, &item.delete, &item.patch]
                    .into_iter()
                    .flatten()
                    .filter_map(|op| op.operation_id.clone())
            })
            .collect();
        ids.sort();
        let mut listed: Vec<String> = OPERATION_PROBLEMS
            .iter()
            .map(|(id, _)| (*id).to_owned())
            .collect();
        listed.sort();
        assert_eq!(ids, listed);
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
                                 with {status}: list the code in OPERATION_PROBLEMS"
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
