//! The console's pages. Each takes the reader through [`signed_in`] with the policy of the API
//! endpoint it mirrors, reads through the same functions, and renders HTML.

use super::i18n::Lang;
use super::{
    ConsoleError, Ctx, PageResult, check_csrf, layout, parse_form, parse_query, respond, see_other,
    signed_in,
};
use crate::api::AppState;
use crate::api::auth::{AnyRole, BranchStaff, Supervisors};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::printed;
use crate::db::models::shipment::{self as shipments, SearchTerm};
use crate::db::models::{branch, calendar, outbox, registry};
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::identifiers::{ApplicationNumber, Iin, Waybill};
use crate::domain::ids::{RegistryId, ShipmentId};
use crate::domain::reference::{BranchCode, Text};
use crate::domain::role::Role;
use crate::domain::shipment::ShipmentKind;
use crate::reports::charts::{self, SlaChartText};
use crate::reports::exceptions::{self, ExceptionFilter, ExceptionKind};
use crate::reports::sla::{SlaLine, sla_csv as render_sla_csv};
use crate::reports::views;
use crate::workflows::calendar as calendar_edit;
use crate::workflows::calendar::CalendarEditRequest;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

/// How many rows a search or a list shows.
const PAGE_ROWS: i64 = 50;

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    printed::local_time(t, tz)
}

/// The time zone of national pages (Almaty), as the API's reports use it.
fn national_zone() -> Tz {
    crate::domain::reference::BranchTimeZone::default().tz()
}

fn api_error(ctx: &Ctx) -> impl Fn(ApiError) -> ConsoleError + '_ {
    move |e| ConsoleError::from_api(ctx, e)
}

fn not_found(ctx: &Ctx, what: String) -> ConsoleError {
    ConsoleError::from_api(ctx, ApiError::not_found(what))
}

fn path_value<T: std::str::FromStr>(ctx: &Ctx, raw: &str) -> Result<T, ConsoleError> {
    raw.parse()
        .map_err(|_| not_found(ctx, format!("{raw} is not a record here")))
}

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

// ----- the SLA report ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Period {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl Period {
    /// The period asked for; the current month to date when not given.
    fn days(&self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let first_of_month = today.with_day(1).unwrap_or(today);
        (
            self.from.unwrap_or(first_of_month),
            self.to.unwrap_or(today),
        )
    }
}

fn today(state: &AppState) -> NaiveDate {
    state
        .clock
        .now()
        .with_timezone(&national_zone())
        .date_naive()
}

/// The reader, the period asked for and the report's lines (the page's and its CSV's).
async fn sla_report(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<(Ctx, NaiveDate, NaiveDate, Vec<SlaLine>), ConsoleError> {
    let (auth, ctx) = signed_in::<Supervisors>(req, state).await?;
    let period: Period = parse_query(&ctx)?;
    let (from, to) = period.days(today(state));
    let lines = state
        .sla_lines(auth.scope().clone(), from, to)
        .await
        .map_err(api_error(&ctx))?;
    Ok((ctx, from, to, lines))
}

pub async fn sla(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (ctx, from, to, lines) = sla_report(&req, &state).await?;
    let t = ctx.t();
    let lang = ctx.lang;
    let kind_name = move |k: DeadlineKind| lang.name_of(k.as_str());
    let text = SlaChartText {
        caption: t.chart_title,
        y_desc: t.deadlines,
        parts: [
            t.met_on_time,
            t.met_late,
            t.breached_open,
            t.pending,
            t.cancelled,
        ],
        kind_name: &kind_name,
    };
    let chart = charts::sla_chart(&lines, &text)
        .map_err(|e| ConsoleError::from_api(&ctx, ApiError::internal(e)))?;
    let csv_link = format!("/console/sla.csv?from={from}&to={to}");
    let body = html! {
        form.filters method="get" action="/console/sla" {
            div {
                label for="from" { (t.period_from) }
                input #from type="date" name="from" value=(from) required;
            }
            div {
                label for="to" { (t.period_to) }
                input #to type="date" name="to" value=(to) required;
            }
            button type="submit" { (t.show) }
        }
        p { a href=(csv_link) download="sla.csv" { (t.download_csv) } }
        (sla_table(&ctx, &lines))
        figure.chart {
            (PreEscaped(named_svg(&chart, t.chart_title)))
            figcaption { (t.chart_title) ", " (from) " — " (to) }
        }
    };
    let page = layout(&ctx, t.nav_sla, body);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}

/// plotters' SVG (which has a `viewBox`, so CSS scales it with the page and zoom), named for
/// screen readers.
fn named_svg(svg: &str, name: &str) -> String {
    match svg.strip_prefix("<svg ") {
        Some(rest) => format!(
            "<svg role=\"img\" aria-label=\"{}\" {rest}",
            printed::escape(name)
        ),
        None => svg.to_owned(),
    }
}

fn sla_table(ctx: &Ctx, lines: &[SlaLine]) -> Markup {
    let t = ctx.t();
    html! {
        table {
            caption { (t.nav_sla) }
            thead { tr {
                th scope="col" { (t.branch) }
                th scope="col" { (t.deadline) }
                th scope="col" class="num" { (t.met_on_time) }
                th scope="col" class="num" { (t.met_late) }
                th scope="col" class="num" { (t.breached_open) }
                th scope="col" class="num" { (t.pending) }
                th scope="col" class="num" { (t.cancelled) }
                th scope="col" class="num" { (t.missed_by_state_corporation) }
                th scope="col" class="num" { (t.missed_by_kaspi) }
                th scope="col" class="num" { (t.missed_by_registry_office) }
            } }
            tbody {
                @for l in lines {
                    tr {
                        th scope="row" { (l.branch) }
                        td { (ctx.lang.name_of(l.deadline.as_str())) " (" (l.deadline.clause()) ")" }
                        td.num { (l.met_on_time) }
                        td.num { (l.met_late) }
                        td.num.breached[l.breached_open > 0] { (l.breached_open) }
                        td.num { (l.pending) }
                        td.num { (l.cancelled) }
                        td.num { (l.missed_by_state_corporation) }
                        td.num { (l.missed_by_kaspi) }
                        td.num { (l.missed_by_registry_office) }
                    }
                }
            }
        }
    }
}

pub async fn sla_csv(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (_ctx, from, to, lines) = sla_report(&req, &state).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"sla-{from}-{to}.csv\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(render_sla_csv(&lines)))
}

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
                    ErrorCode::RoleForbidden,
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

/// A deadline's state: "cancelled" is said of a deadline, not of a document.
fn deadline_state(ctx: &Ctx, state: DeadlineState) -> &str {
    if state == DeadlineState::Cancelled {
        ctx.t().cancelled
    } else {
        ctx.lang.name_of(state.as_str())
    }
}

fn kind_name(ctx: &Ctx, kind: ShipmentKind) -> &'static str {
    if kind == ShipmentKind::Duplicate {
        ctx.t().duplicate
    } else {
        ctx.t().original
    }
}

pub async fn shipment(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult {
    let (auth, ctx) = signed_in::<BranchStaff>(&req, &state).await?;
    let t = ctx.t();
    let id: ShipmentId = path_value(&ctx, &path)?;
    let scope = auth.scope().clone();
    // The messages sent to the citizen are for the sectors and supervisors, not the courier.
    let disclosure = auth.disclosure();
    let found = state
        .db(move |conn| {
            let Some((detail, zone)) = views::shipment_in_zone(conn, id, &scope, disclosure)?
            else {
                return Ok(None);
            };
            let messages = if disclosure.reaches_the_citizen() {
                Some(outbox::notifications_of(conn, id)?)
            } else {
                None
            };
            Ok(Some((detail, zone, messages)))
        })
        .await
        .map_err(api_error(&ctx))?;
    let Some((detail, zone, messages)) = found else {
        return Err(not_found(&ctx, format!("shipment {id}")));
    };
    let tz = zone.tz();
    let title = format!("{} {}", t.shipment, detail.application_number);
    let body = html! {
        dl.facts {
            dt { (t.application_number) } dd { (detail.application_number) }
            dt { (t.document_kind) } dd { (kind_name(&ctx, detail.kind)) }
            dt { (t.delivery) } dd { (ctx.lang.name_of(detail.delivery_method.as_str())) }
            dt { (t.state) } dd.state { (ctx.lang.name_of(detail.state.as_str())) }
            dt { (t.waybill) } dd { (detail.waybill.as_deref().unwrap_or("—")) }
            @if let Some(p) = &detail.postamat {
                dt { "Kaspi" } dd { (p.kaspi_id) ", " (p.city) ", " (match ctx.lang { Lang::Kk => &p.address_kk, Lang::Ru => &p.address_ru }) }
            }
        }
        section aria-labelledby="deadlines" {
            h2 #deadlines { (t.deadlines) }
            table {
                thead { tr {
                    th scope="col" { (t.deadline) }
                    th scope="col" { (t.clause) }
                    th scope="col" { (t.due_local) }
                    th scope="col" { (t.state) }
                    th scope="col" { (t.on_breach) }
                } }
                tbody {
                    @for d in &detail.deadlines {
                        tr {
                            th scope="row" { (ctx.lang.name_of(d.kind.as_str())) }
                            td { (d.clause) }
                            td { (local(d.due_at, tz)) }
                            td { (deadline_state(&ctx, d.state)) }
                            td { (ctx.lang.name_of(d.kind.on_breach().as_str())) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="timeline" {
            h2 #timeline { (t.timeline) }
            ol.timeline {
                @for e in &detail.timeline {
                    li {
                        time datetime=(e.occurred_at.to_rfc3339()) { (local(e.occurred_at, tz)) }
                        " — " strong { (ctx.lang.name_of(&e.event)) }
                        ": " (e.from.as_deref().map(|f| ctx.lang.name_of(f)).unwrap_or("—"))
                        " → " (ctx.lang.name_of(&e.to))
                        " (" (e.actor_name) ")"
                    }
                }
            }
        }
        @if let Some(messages) = &messages {
        section aria-labelledby="messages" {
            h2 #messages { (t.messages) }
            @if messages.is_empty() {
                p { (t.no_messages) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (t.when_local) }
                        th scope="col" { (t.channel) }
                        th scope="col" { (t.delivery_state) }
                        th scope="col" { (t.text) }
                    } }
                    tbody {
                        @for m in messages {
                            tr {
                                td { (local(m.created_at, tz)) }
                                td { (ctx.lang.name_of(m.channel.as_str())) " " (disclosure.phone(&m.recipient).unwrap_or_default()) }
                                td { (ctx.lang.name_of(m.state.as_str())) }
                                td { (m.body) }
                            }
                        }
                    }
                }
            }
        }
        }
    };
    let page = layout(&ctx, &title, body);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}

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

// ----- the calendar --------------------------------------------------------------------------

pub async fn calendar_now(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (_auth, _ctx) = signed_in::<AnyRole>(&req, &state).await?;
    Ok(see_other(&format!("/console/calendar/{}", today(&state).year())).finish())
}

pub async fn calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult {
    let (auth, ctx) = signed_in::<AnyRole>(&req, &state).await?;
    let t = ctx.t();
    let year: i32 = path_value(&ctx, &path)?;
    let snapshot = state.calendar.current();
    let Some(data) = snapshot.calendar.year(year) else {
        return Err(ConsoleError::from_api(
            &ctx,
            ApiError::not_found(format!("the calendar has no data for {year}")),
        ));
    };
    let view = crate::reports::calendar::year_view(data, snapshot.calendar.version());
    let supervisor = auth.principal.role == Role::Supervisor;
    let edits = if supervisor {
        Some(
            state
                .db(move |conn| Ok(calendar::edits(conn, year)?))
                .await
                .map_err(api_error(&ctx))?,
        )
    } else {
        None
    };
    let may_edit = supervisor && auth.require_national("the calendar").is_ok();
    let special = |date: NaiveDate| view.days.iter().find(|d| d.date == date);
    let zone = national_zone();
    let body = html! {
        p {
            (t.calendar_version) ": " (view.calendar_version)
            " · "
            @if snapshot.calendar.year(year - 1).is_some() {
                a href={ "/console/calendar/" (year - 1) } { "← " (year - 1) } " "
            }
            @if snapshot.calendar.year(year + 1).is_some() {
                a href={ "/console/calendar/" (year + 1) } { (year + 1) " →" }
            }
        }
        p.legend {
            span.day.off { (t.day_off) } " " span.day.work { (t.working_day) }
        }
        div.months {
            @for month in 1..=12u32 {
                @let first = NaiveDate::from_ymd_opt(year, month, 1).expect("a month's first day");
                table.month {
                    caption { (t.months[month as usize - 1]) " " (year) }
                    thead { tr { @for w in t.weekdays { th scope="col" { (w) } } } }
                    tbody {
                        @for week in weeks(first) {
                            tr {
                                @for day in week {
                                    @match day {
                                        None => td {},
                                        Some(date) => {
                                            @let off = !data.is_working_day(date);
                                            @let named = special(date);
                                            td.day.off[off].work[!off]
                                                title=[named.map(|d| if ctx.lang == Lang::Kk { d.name_kk.clone() } else { d.name_ru.clone() })] {
                                                (date.day())
                                                @if off { span.visually-hidden { " " (t.day_off) } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="special" {
            h2 #special { (t.day_off) " / " (t.working_day) }
            ul {
                @for d in &view.days {
                    li {
                        time datetime=(d.date) { (d.date.format("%d.%m.%Y")) } " — "
                        (if d.working { t.working_day } else { t.day_off }) ": "
                        (if ctx.lang == Lang::Kk { &d.name_kk } else { &d.name_ru })
                    }
                }
            }
        }
        @if let Some(edits) = &edits {
            section aria-labelledby="history" {
                h2 #history { (t.edit_history) }
                @if edits.is_empty() {
                    p { (t.no_edits) }
                } @else {
                    table {
                        thead { tr {
                            th scope="col" { (t.calendar_version) }
                            th scope="col" { (t.date) }
                            th scope="col" { (t.kind) }
                            th scope="col" { (t.edit_reason) }
                            th scope="col" { (t.edited_by) }
                            th scope="col" { (t.when_local) }
                        } }
                        tbody {
                            @for e in edits {
                                tr {
                                    td.num { (e.version) }
                                    td { (e.date.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default()) }
                                    td { (e.action.as_str()) }
                                    td { (e.reason) }
                                    td { (e.actor_name) }
                                    td { (local(e.created_at, zone)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_edit {
            @if let Some(session) = &ctx.session {
                section aria-labelledby="edit" {
                    h2 #edit { (t.edit_day) }
                    form.edit method="post" action={ "/console/calendar/" (year) "/edits" } {
                        input type="hidden" name="csrf" value=(session.csrf_token);
                        div {
                            label for="action" { (t.kind) }
                            select #action name="action" {
                                option value="add_day_off" { (t.make_day_off) }
                                option value="add_working_day" { (t.make_working) }
                                option value="remove_day_off" { "− " (t.day_off) }
                                option value="remove_working_day" { "− " (t.working_day) }
                            }
                        }
                        div {
                            label for="date" { (t.date) }
                            input #date type="date" name="date" required
                                min={ (year) "-01-01" } max={ (year) "-12-31" };
                        }
                        div {
                            label for="name_kk" { (t.day_name_kk) }
                            input #name_kk type="text" name="name_kk" maxlength="200" lang="kk";
                        }
                        div {
                            label for="name_ru" { (t.day_name_ru) }
                            input #name_ru type="text" name="name_ru" maxlength="200" lang="ru";
                        }
                        div {
                            label for="reason" { (t.edit_reason) }
                            input #reason type="text" name="reason" required maxlength="500";
                        }
                        button type="submit" { (t.save) }
                    }
                }
            }
        }
    };
    let title = format!("{} {year}", t.nav_calendar);
    let page = layout(&ctx, &title, body);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}

/// The weeks of `first`'s month, Monday first; days of other months are `None`.
fn weeks(first: NaiveDate) -> Vec<[Option<NaiveDate>; 7]> {
    let mut weeks = Vec::new();
    let mut week = [None; 7];
    let mut day = first;
    while day.month() == first.month() {
        let i = day.weekday().num_days_from_monday() as usize;
        week[i] = Some(day);
        if i == 6 {
            weeks.push(week);
            week = [None; 7];
        }
        day = match day.checked_add_days(Days::new(1)) {
            Some(next) => next,
            None => break,
        };
    }
    if week.iter().any(Option::is_some) {
        weeks.push(week);
    }
    weeks
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarEditForm {
    csrf: String,
    action: String,
    date: NaiveDate,
    #[serde(default)]
    name_kk: String,
    #[serde(default)]
    name_ru: String,
    reason: String,
}

impl CalendarEditForm {
    /// The same request the API takes; an empty name means the default one.
    fn request(self) -> Result<CalendarEditRequest, String> {
        let text = |s: String| -> Result<Option<Text>, String> {
            let s = s.trim().to_owned();
            if s.is_empty() {
                Ok(None)
            } else {
                Text::try_from(s).map(Some).map_err(|e| e.to_string())
            }
        };
        let reason = text(self.reason)?.ok_or("a reason is required")?;
        let date = self.date;
        Ok(match self.action.as_str() {
            "add_day_off" => CalendarEditRequest::AddDayOff {
                date,
                kind: None,
                name_kk: text(self.name_kk)?,
                name_ru: text(self.name_ru)?,
                reason,
            },
            "remove_day_off" => CalendarEditRequest::RemoveDayOff { date, reason },
            "add_working_day" => CalendarEditRequest::AddWorkingDay {
                date,
                name_kk: text(self.name_kk)?,
                name_ru: text(self.name_ru)?,
                reason,
            },
            "remove_working_day" => CalendarEditRequest::RemoveWorkingDay { date, reason },
            other => return Err(format!("unknown edit {other:?}")),
        })
    }
}

/// A supervisor's edit of a day: the same workflow and checks as
/// `POST /api/v1/calendar/{year}/edits` (national supervisors only), then back to the year.
pub async fn edit_calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> PageResult {
    let (auth, ctx) = signed_in::<Supervisors>(&req, &state).await?;
    let form: CalendarEditForm = parse_form(&ctx, &body)?;
    check_csrf(&ctx, &form.csrf)?;
    auth.require_national("the working-day calendar")
        .map_err(api_error(&ctx))?;
    let year: i32 = path_value(&ctx, &path)?;
    let (edit, reason) = form
        .request()
        .map_err(|e| ConsoleError::from_api(&ctx, ApiError::validation(e)))?
        .into_edit();
    let now = state.clock.now();
    let actor = auth.principal.clone();
    let record = state
        .write(move |conn| Ok(calendar_edit::edit(conn, year, edit, &reason, &actor, now)?))
        .await
        .map_err(api_error(&ctx))?;
    tracing::info!(
        version = record.version,
        year,
        "calendar edited in the console"
    );
    state.year_after_edit(year).await;
    Ok(see_other(&format!("/console/calendar/{year}#history")).finish())
}

/// The pilot report's filter: the period (the current month to date when not given) and a
/// branch.
#[derive(Deserialize)]
struct PilotFilter {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    branch: Option<BranchCode>,
}

async fn pilot_figures(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<(Ctx, PilotFilter, crate::reports::pilot::PilotReport), ConsoleError> {
    let (auth, ctx) = signed_in::<Supervisors>(req, state).await?;
    let filter: PilotFilter = parse_query(&ctx)?;
    let (from, to) = Period {
        from: filter.from,
        to: filter.to,
    }
    .days(today(state));
    let report = state
        .pilot_report(auth.scope().clone(), from, to, filter.branch.clone())
        .await
        .map_err(api_error(&ctx))?;
    Ok((ctx, filter, report))
}

/// Issue 25: the pilot's results for a period, with a printable page of its own.
pub async fn pilot_report(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (ctx, filter, report) = pilot_figures(&req, &state).await?;
    let t = ctx.t();
    let body = super::pilot::body(&report, ctx.lang)
        .map_err(|e| ConsoleError::from_api(&ctx, ApiError::internal(e)))?;
    let branch = filter
        .branch
        .as_ref()
        .map(|b| b.to_string())
        .unwrap_or_default();
    let print = format!(
        "/console/reports/pilot/print?from={}&to={}&branch={branch}&lang={}",
        report.from,
        report.to,
        ctx.lang.code()
    );
    let page = html! {
        form.filters method="get" action="/console/reports/pilot" {
            div {
                label for="from" { (t.period_from) }
                input #from type="date" name="from" value=(report.from) required;
            }
            div {
                label for="to" { (t.period_to) }
                input #to type="date" name="to" value=(report.to) required;
            }
            div {
                label for="branch" { (t.branch) }
                input #branch type="text" name="branch" value=(branch) maxlength="16";
            }
            button type="submit" { (t.show) }
        }
        p { a href=(print) { (super::pilot::print_label(ctx.lang)) } }
        (body)
    };
    let page = layout(&ctx, super::pilot::title(ctx.lang), page);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}

/// The same figures as a page of its own to print.
pub async fn pilot_report_print(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (ctx, _, report) = pilot_figures(&req, &state).await?;
    let page = super::pilot::page(&report, ctx.lang, super::pilot::Styled::Console)
        .map_err(|e| ConsoleError::from_api(&ctx, ApiError::internal(e)))?;
    Ok(respond(&req, &ctx, StatusCode::OK, PreEscaped(page)))
}
