//! The working-day calendar as it is read (DOMAIN.md §6): a year's days that differ from the
//! Monday–Friday week, with the version every deadline records.

use crate::domain::calendar::{DayKind, YearCalendar};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

fn full_weekday(date: NaiveDate) -> String {
    date.format("%A").to_string().to_lowercase()
}

/// A day that differs from the Monday–Friday week.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarDay {
    pub date: NaiveDate,
    #[schema(example = "monday")]
    pub weekday: String,
    /// `false` for a weekday off, `true` for a worked Saturday or Sunday.
    pub working: bool,
    pub kind: DayKind,
    pub name_kk: String,
    pub name_ru: String,
    /// Whether it comes from a supervisor's edit rather than from the rules.
    pub edited: bool,
}

/// A year of the calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarYear {
    pub year: i32,
    /// The calendar version: it goes up with every edit, and every deadline records it.
    pub calendar_version: i64,
    /// The first day of Kurban Ait; `null` until announced (then only the rules' days apply).
    pub kurban_ait: Option<NaiveDate>,
    /// Every non-working weekday and every working weekend day, by date.
    pub days: Vec<CalendarDay>,
}

pub fn year_view(year: &YearCalendar, version: i64) -> CalendarYear {
    let day = |date: NaiveDate, working: bool, special: &crate::domain::calendar::SpecialDay| {
        CalendarDay {
            date,
            weekday: full_weekday(date),
            working,
            kind: special.kind,
            name_kk: special.name.kk.clone(),
            name_ru: special.name.ru.clone(),
            edited: special.edited,
        }
    };
    let mut days: Vec<CalendarDay> = year
        .days_off()
        .map(|(date, s)| day(date, false, s))
        .chain(
            year.working_weekend_days()
                .map(|(date, s)| day(date, true, s)),
        )
        .collect();
    days.sort_by_key(|d| d.date);
    CalendarYear {
        year: year.year,
        calendar_version: version,
        kurban_ait: year.kurban_ait,
        days,
    }
}
