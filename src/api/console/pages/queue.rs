//! The exception queue: what is overdue, stuck or failing, oldest first, with whose side it is.

use super::{api_error, local, national_zone};
use crate::api::AppState;
use crate::api::auth::Supervisors;
use crate::api::console::{ConsoleError, PageResult, layout, parse_query, respond, signed_in};
use crate::api::error::ApiError;
use crate::reports::exceptions::{self, ExceptionFilter, ExceptionKind};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use maud::html;

// ----- the exception queue -------------------------------------------------------------------

pub async fn exceptions(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (auth, ctx) = signed_in::<Supervisors>(&req, &state).await?;
    let t = ctx.t();
    let filter: ExceptionFilter = parse_query(&ctx)?;
    filter
        .check()
        .map_err(|e| ConsoleError::from_api(&ctx, ApiError::validation(e)))?;
    let scope = auth.scope().clone();
    let now = state.clock.now();
    let calendar = state.calendar.current();
    let term = state.execution_term;
    let asked = filter.clone();
    let items = state
        .db(move |conn| {
            Ok(exceptions::exceptions(
                conn,
                &scope,
                &asked,
                now,
                &calendar.calendar,
                term,
            )?)
        })
        .await
        .map_err(api_error(&ctx))?;
    let zone = national_zone();
    let national = auth.scope().branch().is_none();
    let body = html! {
        form.filters method="get" action="/console/exceptions" {
            div {
                label for="kind" { (t.kind) }
                select #kind name="kind" {
                    option value="" { (t.all) }
                    @for kind in ExceptionKind::ALL {
                        option value=(kind.as_str()) selected[filter.kind == Some(kind)] {
                            (ctx.lang.name_of(kind.as_str()))
                        }
                    }
                }
            }
            @if national {
                div {
                    label for="branch" { (t.branch) }
                    input #branch type="text" name="branch" maxlength="16"
                        value=(filter.branch.as_ref().map(|b| b.as_str()).unwrap_or(""));
                }
            }
            div {
                label for="min_age_hours" { (t.min_age_hours) }
                input #min_age_hours type="number" min="0" name="min_age_hours"
                    value=(filter.min_age_hours.map(|h| h.to_string()).unwrap_or_default());
            }
            button type="submit" { (t.apply_filter) }
        }
        @if items.is_empty() {
            p { (t.queue_empty) }
        } @else {
            @if i64::try_from(items.len()).is_ok_and(|n| n >= filter.limit()) {
                p role="status" { (t.queue_truncated) }
            }
            table {
                caption { (t.nav_exceptions) ": " (items.len()) }
                thead { tr {
                    th scope="col" { (t.kind) }
                    th scope="col" { (t.branch) }
                    th scope="col" { (t.reason) }
                    th scope="col" { (t.side) }
                    th scope="col" { (t.reference) }
                    th scope="col" { (t.since) }
                    th scope="col" class="num" { (t.age_hours) }
                } }
                tbody {
                    @for e in &items {
                        tr {
                            td { (ctx.lang.name_of(e.kind.as_str())) }
                            td { (e.branch.as_deref().unwrap_or("—")) }
                            td { (e.reason) }
                            td { (e.side.map(|s| ctx.lang.name_of(s.as_str())).unwrap_or("—")) }
                            td {
                                @if e.kind.is_about_a_shipment() {
                                    a href={ "/console/shipments/" (e.reference) } {
                                        (e.application_number.as_deref().unwrap_or(&e.reference))
                                    }
                                } @else {
                                    code { (e.reference) }
                                }
                            }
                            td { (local(e.since, zone)) }
                            td.num { (e.age_hours) }
                        }
                    }
                }
            }
        }
    };
    let page = layout(&ctx, t.nav_exceptions, body);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}
