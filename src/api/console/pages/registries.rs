//! Registries (п.11–18): the list, one registry with its envelopes, and its printed form.

use super::{PAGE_ROWS, api_error, local, national_zone, not_found, path_value};
use crate::api::AppState;
use crate::api::auth::BranchStaff;
use crate::api::console::{PageResult, layout, parse_query, respond, signed_in};
use crate::api::printed;
use crate::db::models::{branch, registry};
use crate::domain::ids::RegistryId;
use crate::reports::views;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

// ----- registries ----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryListQuery {
    before: Option<RegistryId>,
}

pub async fn registries(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (auth, ctx) = signed_in::<BranchStaff>(&req, &state).await?;
    let t = ctx.t();
    let query: RegistryListQuery = parse_query(&ctx)?;
    let scope = auth.scope().clone();
    let (rows, next) = state
        .db(move |conn| {
            let mut rows = registry::list(conn, &scope, None, query.before, PAGE_ROWS + 1)?;
            let next = views::next_page(&mut rows, PAGE_ROWS, |r| r.id.to_string());
            let rows = rows
                .into_iter()
                .map(|row| views::registry(conn, row))
                .collect::<diesel::QueryResult<Vec<_>>>()?;
            Ok((rows, next))
        })
        .await
        .map_err(api_error(&ctx))?;
    let zone = national_zone();
    let body = html! {
        table {
            caption { (t.nav_registries) }
            thead { tr {
                th scope="col" { (t.number) }
                th scope="col" { (t.kind) }
                th scope="col" { (t.branch) }
                th scope="col" { (t.state) }
                th scope="col" { (t.created) }
                th scope="col" class="num" { (t.envelopes) }
            } }
            tbody {
                @for r in &rows {
                    tr {
                        th scope="row" {
                            a href={ "/console/registries/" (r.id) } {
                                (r.number.clone().unwrap_or_else(|| format!("({})", t.draft)))
                            }
                        }
                        td { (ctx.lang.name_of(r.kind.as_str())) }
                        td { (r.branch) }
                        td { (ctx.lang.name_of(r.state.as_str())) }
                        td { (local(r.created_at, zone)) }
                        td.num { (r.items.len()) }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a href={ "/console/registries?before=" (next) } { (t.older) " →" } }
        }
    };
    let page = layout(&ctx, t.nav_registries, body);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}

pub async fn registry(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult {
    let (auth, ctx) = signed_in::<BranchStaff>(&req, &state).await?;
    let t = ctx.t();
    let id: RegistryId = path_value(&ctx, &path)?;
    let scope = auth.scope().clone();
    let found = state
        .db(move |conn| {
            let Some(row) = registry::find_scoped(conn, id, &scope)? else {
                return Ok(None);
            };
            let zone = branch::get(conn, row.branch_id)?.time_zone;
            Ok(Some((views::registry(conn, row)?, zone)))
        })
        .await
        .map_err(api_error(&ctx))?;
    let Some((r, zone)) = found else {
        return Err(not_found(&ctx, format!("registry {id}")));
    };
    let tz = zone.tz();
    let title = format!(
        "{} {}",
        t.registry,
        r.number.clone().unwrap_or_else(|| format!("({})", t.draft))
    );
    let body = html! {
        p { a.button href={ "/console/registries/" (r.id) "/print" } { (t.print) } }
        dl.facts {
            dt { (t.kind) } dd { (ctx.lang.name_of(r.kind.as_str())) }
            dt { (t.branch) } dd { (r.branch) }
            dt { (t.state) } dd { (ctx.lang.name_of(r.state.as_str())) }
            dt { (t.created) } dd { (local(r.created_at, tz)) " (" (r.created_by) ")" }
            @if let Some(at) = r.sealed_at {
                dt { (t.sealed) } dd { (local(at, tz)) " (" (r.sealed_by.as_deref().unwrap_or("")) ")" }
            }
            @if let Some(at) = r.handed_over_at {
                dt { (t.handed_over) } dd { (local(at, tz)) }
                dt { (t.courier) } dd { (r.courier_name.as_deref().unwrap_or("—")) }
            }
        }
        table {
            caption { (t.envelopes) ": " (r.items.len()) }
            thead { tr {
                th scope="col" { "№" }
                th scope="col" { (t.application_number) }
                th scope="col" { (t.waybill) }
                th scope="col" { (t.state) }
            } }
            tbody {
                @for (i, item) in r.items.iter().enumerate() {
                    tr {
                        td.num { (i + 1) }
                        th scope="row" {
                            a href={ "/console/shipments/" (item.shipment_id) } { (item.application_number) }
                        }
                        td { (item.waybill) }
                        td { (ctx.lang.name_of(item.state.as_str())) }
                    }
                }
            }
        }
    };
    let page = layout(&ctx, &title, body);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}

/// The printed registry: the same page as `GET /api/v1/registries/{id}/print`.
pub async fn print_registry(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult {
    let (auth, ctx) = signed_in::<BranchStaff>(&req, &state).await?;
    let id: RegistryId = path_value(&ctx, &path)?;
    let scope = auth.scope().clone();
    let page = state
        .db(move |conn| Ok(printed::registry_page(conn, id, &scope)?))
        .await
        .map_err(api_error(&ctx))?
        .ok_or_else(|| not_found(&ctx, format!("registry {id}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_SECURITY_POLICY,
            printed::content_security_policy(),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(page))
}
