//! A national supervisor's edit of the working-day calendar (DOMAIN.md §6): checked against the
//! current calendar by the domain core and recorded as the next version, with who and why.

use super::{EventContext, WorkflowError, WorkflowResult};
use crate::db::models::calendar::{self, EditRow};
use crate::db::{DbConnection, write_transaction};
use crate::domain::calendar::{Amendment, DayKind, DayName, EditAction, YearEdit};
use crate::domain::reference::Text;
use chrono::NaiveDate;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn edit(
    conn: &mut DbConnection,
    year: i32,
    edit: YearEdit,
    reason: &Text,
    ctx: &EventContext<'_>,
) -> WorkflowResult<EditRow> {
    let (key_id, now) = (ctx.key()?, ctx.recorded_at);
    let recorded = write_transaction(conn, |conn| {
        let current = calendar::load(conn)?;
        current.edited(year, &edit)?;
        let (action, date, kind, name) = match &edit {
            YearEdit::AddYear { kurban_ait } => {
                calendar::insert_year(conn, year, *kurban_ait, now)?;
                (EditAction::AddYear, *kurban_ait, None, None)
            }
            YearEdit::SetKurbanAit { date } => {
                calendar::set_kurban_ait(conn, year, *date)?;
                (EditAction::SetKurbanAit, Some(*date), None, None)
            }
            YearEdit::Amend(Amendment::AddDayOff { date, kind, name }) => (
                EditAction::AddDayOff,
                Some(*date),
                Some(*kind),
                Some(name.clone()),
            ),
            YearEdit::Amend(Amendment::RemoveDayOff { date }) => {
                (EditAction::RemoveDayOff, Some(*date), None, None)
            }
            YearEdit::Amend(Amendment::AddWorkingDay { date, name }) => (
                EditAction::AddWorkingDay,
                Some(*date),
                Some(DayKind::GovernmentSwap),
                Some(name.clone()),
            ),
            YearEdit::Amend(Amendment::RemoveWorkingDay { date }) => {
                (EditAction::RemoveWorkingDay, Some(*date), None, None)
            }
        };
        let row = EditRow {
            version: current.version() + 1,
            year,
            action,
            date,
            kind,
            name_kk: name.as_ref().map(|n| n.kk.clone()),
            name_ru: name.map(|n| n.ru),
            reason: reason.to_string(),
            key_id,
            actor_name: ctx.actor.name.clone(),
            created_at: now,
        };
        calendar::insert_edit(conn, &row)?;
        Ok(row)
    });
    match recorded {
        // Two supervisors editing at the same moment took the same version number.
        Err(WorkflowError::Database(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _,
        ))) => Err(WorkflowError::Conflict(
            "another edit of the calendar was recorded at the same moment; retry".into(),
        )),
        other => other,
    }
}

/// One Government decree swap: a weekday off, worked on a weekend day instead.
#[derive(Debug, Clone)]
pub struct DecreeSwap {
    pub day_off: NaiveDate,
    pub working_day: NaiveDate,
    pub name: DayName,
}

/// Imports a year's decree swaps: each becomes two edits (the day off, the worked weekend day),
/// recorded in order with the same reason and author, in one transaction — all of them or,
/// when one makes no sense, none (the error names it).
pub fn import_swaps(
    conn: &mut DbConnection,
    year: i32,
    swaps: &[DecreeSwap],
    reason: &Text,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Vec<EditRow>> {
    write_transaction(conn, |conn| {
        let mut recorded = Vec::with_capacity(swaps.len() * 2);
        for swap in swaps {
            let halves = [
                Amendment::AddDayOff {
                    date: swap.day_off,
                    kind: DayKind::GovernmentSwap,
                    name: swap.name.clone(),
                },
                Amendment::AddWorkingDay {
                    date: swap.working_day,
                    name: swap.name.clone(),
                },
            ];
            for half in halves {
                // A refusal names the date, which names the swap.
                recorded.push(edit(conn, year, YearEdit::Amend(half), reason, ctx)?);
            }
        }
        Ok(recorded)
    })
}

/// One edit. `reason` names the decree or correction; it is kept with who made the edit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CalendarEditRequest {
    /// Add a year generated from the rules (Kurban Ait if announced).
    AddYear {
        kurban_ait: Option<NaiveDate>,
        reason: Text,
    },
    /// Set or correct the first day of Kurban Ait.
    SetKurbanAit { date: NaiveDate, reason: Text },
    /// Make a weekday a day off (by default a government swap).
    AddDayOff {
        date: NaiveDate,
        kind: Option<DayKind>,
        name_kk: Option<Text>,
        name_ru: Option<Text>,
        reason: Text,
    },
    /// Make a non-working weekday a working day again.
    RemoveDayOff { date: NaiveDate, reason: Text },
    /// Make a Saturday or Sunday a working day (the other half of a decree swap).
    AddWorkingDay {
        date: NaiveDate,
        name_kk: Option<Text>,
        name_ru: Option<Text>,
        reason: Text,
    },
    /// Make a worked weekend day a day off again.
    RemoveWorkingDay { date: NaiveDate, reason: Text },
}

/// A day's name in both languages, or the defaults.
pub fn name(kk: Option<Text>, ru: Option<Text>, default_kk: &str, default_ru: &str) -> DayName {
    DayName::new(
        kk.map_or_else(|| default_kk.to_owned(), String::from),
        ru.map_or_else(|| default_ru.to_owned(), String::from),
    )
}

impl CalendarEditRequest {
    pub fn into_edit(self) -> (YearEdit, Text) {
        use CalendarEditRequest::*;
        match self {
            AddYear { kurban_ait, reason } => (YearEdit::AddYear { kurban_ait }, reason),
            SetKurbanAit { date, reason } => (YearEdit::SetKurbanAit { date }, reason),
            AddDayOff {
                date,
                kind,
                name_kk,
                name_ru,
                reason,
            } => (
                YearEdit::Amend(Amendment::AddDayOff {
                    date,
                    kind: kind.unwrap_or(DayKind::GovernmentSwap),
                    name: name(
                        name_kk,
                        name_ru,
                        "Демалыс күні (Үкімет қаулысы)",
                        "Выходной день (постановление Правительства)",
                    ),
                }),
                reason,
            ),
            RemoveDayOff { date, reason } => {
                (YearEdit::Amend(Amendment::RemoveDayOff { date }), reason)
            }
            AddWorkingDay {
                date,
                name_kk,
                name_ru,
                reason,
            } => (
                YearEdit::Amend(Amendment::AddWorkingDay {
                    date,
                    name: name(
                        name_kk,
                        name_ru,
                        "Жұмыс күні (Үкімет қаулысы)",
                        "Рабочий день (постановление Правительства)",
                    ),
                }),
                reason,
            ),
            RemoveWorkingDay { date, reason } => (
                YearEdit::Amend(Amendment::RemoveWorkingDay { date }),
                reason,
            ),
        }
    }
}
