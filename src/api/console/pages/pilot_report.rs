//! The pilot's report (issue 25) as a console page and as a printed document.

use super::api_error;
use super::sla::{Period, today};
use crate::api::AppState;
use crate::api::auth::Supervisors;
use crate::api::console::{ConsoleError, Ctx, PageResult, layout, parse_query, respond, signed_in};
use crate::api::error::ApiError;
use crate::domain::reference::BranchCode;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use chrono::NaiveDate;
use maud::{PreEscaped, html};
use serde::Deserialize;

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
    let body = crate::api::console::pilot::body(&report, ctx.lang)
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
        p { a href=(print) { (crate::api::console::pilot::print_label(ctx.lang)) } }
        (body)
    };
    let page = layout(&ctx, crate::api::console::pilot::title(ctx.lang), page);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}

/// The same figures as a page of its own to print.
pub async fn pilot_report_print(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (ctx, _, report) = pilot_figures(&req, &state).await?;
    let page = crate::api::console::pilot::page(
        &report,
        ctx.lang,
        crate::api::console::pilot::Styled::Console,
    )
    .map_err(|e| ConsoleError::from_api(&ctx, ApiError::internal(e)))?;
    Ok(respond(&req, &ctx, StatusCode::OK, PreEscaped(page)))
}
