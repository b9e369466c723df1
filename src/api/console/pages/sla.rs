//! The SLA page and its CSV: each deadline's met and breached counts over a period, with charts.

use super::{api_error, national_zone};
use crate::api::AppState;
use crate::api::auth::Supervisors;
use crate::api::console::named_svg;
use crate::api::console::{ConsoleError, Ctx, PageResult, layout, parse_query, respond, signed_in};
use crate::api::error::ApiError;
use crate::domain::deadline::DeadlineKind;
use crate::reports::charts::{self, SlaChartText};
use crate::reports::sla::{SlaLine, sla_csv as render_sla_csv};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

// ----- the SLA report ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Period {
    pub(super) from: Option<NaiveDate>,
    pub(super) to: Option<NaiveDate>,
}

impl Period {
    /// The period asked for; the current month to date when not given.
    pub(super) fn days(&self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let first_of_month = today.with_day(1).unwrap_or(today);
        (
            self.from.unwrap_or(first_of_month),
            self.to.unwrap_or(today),
        )
    }
}

pub(super) fn today(state: &AppState) -> NaiveDate {
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
            (named_svg(&chart, t.chart_title))
            figcaption { (t.chart_title) ", " (from) " — " (to) }
        }
    };
    let page = layout(&ctx, t.nav_sla, body);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
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
