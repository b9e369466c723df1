//! The working-day calendar of a year, and the supervisors' edits to it.

use super::sla::today;
use super::{api_error, local, national_zone, path_value};
use crate::api::AppState;
use crate::api::auth::{AnyRole, Supervisors};
use crate::api::console::i18n::Lang;
use crate::api::console::{
    ConsoleError, PageResult, check_csrf, layout, parse_form, respond, see_other, signed_in,
};
use crate::api::error::ApiError;
use crate::db::models::calendar;
use crate::domain::reference::Text;
use crate::domain::role::Role;
use crate::workflows::calendar as calendar_edit;
use crate::workflows::calendar::CalendarEditRequest;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use chrono::{Datelike, Days, NaiveDate};
use maud::html;
use serde::Deserialize;

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
    let record = state
        .act(&auth.principal, move |conn, ctx| {
            Ok(calendar_edit::edit(conn, year, edit, &reason, ctx)?)
        })
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
