//! Finding a document by application number, waybill or IIN.

use super::shipment::kind_name;
use super::{PAGE_ROWS, api_error};
use crate::api::AppState;
use crate::api::auth::BranchStaff;
use crate::api::console::{
    ConsoleError, Ctx, PageResult, check_csrf, layout, parse_form, parse_query, respond, signed_in,
};
use crate::api::error::{ApiError, ErrorCode};
use crate::db::models::shipment::{self as shipments, SearchTerm};
use crate::domain::identifiers::{ApplicationNumber, Iin, Waybill};
use crate::workflows::Reason;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use maud::html;
use serde::Deserialize;

// ----- shipments -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    by: Option<String>,
    q: Option<String>,
}

/// The search term a form asks for, checked as the API checks each kind of value.
fn term(by: &str, q: &str) -> Result<SearchTerm, String> {
    let q = q.trim().to_owned();
    match by {
        "number" => ApplicationNumber::try_from(q)
            .map(|n| SearchTerm::ApplicationNumber(n.to_string()))
            .map_err(|e| e.to_string()),
        "waybill" => Waybill::try_from(q)
            .map(|w| SearchTerm::Waybill(w.to_string()))
            .map_err(|e| e.to_string()),
        "iin" => Iin::try_from(q)
            .map(|i| SearchTerm::Iin(i.to_string()))
            .map_err(|e| e.to_string()),
        other => Err(format!("unknown search kind {other:?}")),
    }
}

/// Search by a link (`?by=number|waybill&q=…`): an IIN is refused here, so that it never
/// stands in a URL (history, proxies' logs); the form posts it.
pub async fn search(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (auth, ctx) = signed_in::<BranchStaff>(&req, &state).await?;
    let query: SearchQuery = parse_query(&ctx)?;
    search_page(&req, &state, auth, ctx, query, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchForm {
    csrf: String,
    by: String,
    q: String,
}

/// Search by the form (any kind, the IIN included).
pub async fn search_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> PageResult {
    let (auth, ctx) = signed_in::<BranchStaff>(&req, &state).await?;
    let form: SearchForm = parse_form(&ctx, &body)?;
    check_csrf(&ctx, &form.csrf)?;
    let query = SearchQuery {
        by: Some(form.by),
        q: Some(form.q),
    };
    search_page(&req, &state, auth, ctx, query, true).await
}

async fn search_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    auth: crate::api::auth::Authorized<BranchStaff>,
    ctx: Ctx,
    query: SearchQuery,
    posted: bool,
) -> PageResult {
    let t = ctx.t();
    let by = query.by.clone().unwrap_or_else(|| "number".to_owned());
    let asked = query.q.clone().filter(|q| !q.trim().is_empty());
    let (found, problem) = match &asked {
        None => (None, None),
        Some(_) if by == "iin" && !posted => (None, Some(t.iin_by_form.to_owned())),
        // A citizen is looked up by IIN at the sectors' desks, not by the State courier
        // (`domain::personal_data`).
        Some(_) if by == "iin" && !auth.disclosure().reaches_the_citizen() => {
            return Err(ConsoleError::from_api(
                &ctx,
                ApiError::new(
                    ErrorCode::Refused(Reason::RoleForbidden),
                    "a State courier does not search by IIN",
                ),
            ));
        }
        Some(q) => match term(&by, q) {
            Err(problem) => (None, Some(problem)),
            Ok(term) => {
                let scope = auth.scope().clone();
                let rows = state
                    .db(move |conn| Ok(shipments::search(conn, &term, &scope, PAGE_ROWS)?))
                    .await
                    .map_err(api_error(&ctx))?;
                (Some(rows), None)
            }
        },
    };
    let disclosure = auth.disclosure();
    let csrf = ctx
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default();
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let body = html! {
        form.filters method="post" action="/console/shipments" role="search" {
            input type="hidden" name="csrf" value=(csrf);
            div {
                label for="by" { (t.search_by) }
                select #by name="by" {
                    @for (value, label) in [("number", t.by_number), ("waybill", t.by_waybill), ("iin", t.by_iin)] {
                        option value=(value) selected[by == value] { (label) }
                    }
                }
            }
            div {
                label for="q" { (t.search_value) }
                // An IIN searched for is not written back onto the page.
                input #q type="search" name="q" required maxlength="64" autocomplete="off"
                    value=(if by == "iin" { "" } else { asked.as_deref().unwrap_or("") });
            }
            button type="submit" { (t.search) }
        }
        @if let Some(problem) = &problem {
            p.problem role="alert" { (problem) }
        }
        @if let Some(found) = &found {
            @if found.is_empty() {
                p role="status" { (t.nothing_found) }
            } @else {
                table {
                    caption { (t.nav_search) ": " (found.len()) }
                    thead { tr {
                        th scope="col" { (t.application_number) }
                        th scope="col" { (t.document_kind) }
                        th scope="col" { (t.delivery) }
                        th scope="col" { (t.state) }
                        th scope="col" { (t.waybill) }
                        th scope="col" { (t.iin) }
                    } }
                    tbody {
                        @for f in found {
                            tr {
                                th scope="row" {
                                    a href={ "/console/shipments/" (f.shipment.id) } { (f.application_number) }
                                }
                                td { (kind_name(&ctx, f.shipment.kind)) }
                                td { (ctx.lang.name_of(f.shipment.delivery_method.as_str())) }
                                td { (ctx.lang.name_of(f.shipment.status.as_str())) }
                                td { (f.shipment.waybill.as_ref().map_or("—", Waybill::as_str)) }
                                td { (disclosure.iin(f.applicant_iin.as_str()).as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
    };
    let page = layout(&ctx, t.nav_search, body);
    Ok(respond(req, &ctx, status, page))
}
