//! The stored calendar: the years we hold data for, with their Kurban Ait date, and every
//! supervisor edit. The calendar itself is rebuilt from these by the domain core; its version
//! is the number of the last edit (0 for the seeded rules alone).

use super::{from_db_time, to_db_time};
use crate::db::models::api_key::Principal;
use crate::db::schema::{calendar_edits, calendar_years};
use crate::db::{DbConnection, Id, write_transaction};
use crate::domain::calendar::{
    Amendment, Calendar, DayKind, DayName, EditError, YearCalendar, YearEdit,
};
use crate::domain::reference::Text;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What an edit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EditAction {
    AddYear,
    SetKurbanAit,
    AddDayOff,
    RemoveDayOff,
    AddWorkingDay,
    RemoveWorkingDay,
}

impl EditAction {
    const ALL: [EditAction; 6] = [
        EditAction::AddYear,
        EditAction::SetKurbanAit,
        EditAction::AddDayOff,
        EditAction::RemoveDayOff,
        EditAction::AddWorkingDay,
        EditAction::RemoveWorkingDay,
    ];

    fn as_str(self) -> &'static str {
        match self {
            EditAction::AddYear => "add_year",
            EditAction::SetKurbanAit => "set_kurban_ait",
            EditAction::AddDayOff => "add_day_off",
            EditAction::RemoveDayOff => "remove_day_off",
            EditAction::AddWorkingDay => "add_working_day",
            EditAction::RemoveWorkingDay => "remove_working_day",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = calendar_edits)]
struct EditRow {
    version: i64,
    year: i32,
    action: String,
    date: Option<NaiveDate>,
    kind: Option<String>,
    name_kk: Option<String>,
    name_ru: Option<String>,
    reason: String,
    key_id: Id,
    actor_name: String,
    created_at: NaiveDateTime,
}

/// One edit of the calendar, as kept for audit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarEditRecord {
    /// The calendar version this edit created.
    pub version: i64,
    pub year: i32,
    pub action: EditAction,
    pub date: Option<NaiveDate>,
    pub kind: Option<DayKind>,
    pub name_kk: Option<String>,
    pub name_ru: Option<String>,
    /// Why: the decree or correction it records.
    pub reason: String,
    /// The API key that made it.
    pub key_id: Id,
    pub actor_name: String,
    pub created_at: DateTime<Utc>,
}

fn corrupt(what: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(what.into())
}

impl EditRow {
    fn action(&self) -> QueryResult<EditAction> {
        EditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == self.action)
            .ok_or_else(|| corrupt(format!("unknown calendar edit action {}", self.action)))
    }

    fn kind(&self) -> QueryResult<Option<DayKind>> {
        self.kind
            .as_deref()
            .map(|k| DayKind::parse(k).ok_or_else(|| corrupt(format!("unknown day kind {k}"))))
            .transpose()
    }

    fn date(&self) -> QueryResult<NaiveDate> {
        self.date
            .ok_or_else(|| corrupt(format!("calendar edit {} has no date", self.version)))
    }

    fn name(&self) -> DayName {
        DayName::new(
            self.name_kk.clone().unwrap_or_default(),
            self.name_ru.clone().unwrap_or_default(),
        )
    }

    /// The amendment this row records, if it is one (not a year or Kurban Ait edit).
    fn amendment(&self) -> QueryResult<Option<Amendment>> {
        Ok(Some(match self.action()? {
            EditAction::AddYear | EditAction::SetKurbanAit => return Ok(None),
            EditAction::AddDayOff => Amendment::AddDayOff {
                date: self.date()?,
                kind: self.kind()?.unwrap_or(DayKind::GovernmentSwap),
                name: self.name(),
            },
            EditAction::RemoveDayOff => Amendment::RemoveDayOff { date: self.date()? },
            EditAction::AddWorkingDay => Amendment::AddWorkingDay {
                date: self.date()?,
                name: self.name(),
            },
            EditAction::RemoveWorkingDay => Amendment::RemoveWorkingDay { date: self.date()? },
        }))
    }

    fn record(self) -> QueryResult<CalendarEditRecord> {
        Ok(CalendarEditRecord {
            action: self.action()?,
            kind: self.kind()?,
            version: self.version,
            year: self.year,
            date: self.date,
            name_kk: self.name_kk,
            name_ru: self.name_ru,
            reason: self.reason,
            key_id: self.key_id,
            actor_name: self.actor_name,
            created_at: from_db_time(self.created_at),
        })
    }
}

/// Loads the whole calendar. Stored edits that the current rules make meaningless are skipped
/// with a warning rather than keeping the service from starting.
pub fn load(conn: &mut DbConnection) -> QueryResult<Calendar> {
    // Edits first: every year an edit refers to was committed before it, so the years read
    // next include it even if another edit commits in between.
    let edits: Vec<EditRow> = calendar_edits::table
        .select(EditRow::as_select())
        .order(calendar_edits::version)
        .load(conn)?;
    let years: Vec<(i32, Option<NaiveDate>)> = calendar_years::table
        .select((calendar_years::year, calendar_years::kurban_ait))
        .order(calendar_years::year)
        .load(conn)?;
    let version = edits.last().map_or(0, |e| e.version);
    let mut amendments: BTreeMap<i32, Vec<Amendment>> = BTreeMap::new();
    for edit in &edits {
        if let Some(amendment) = edit.amendment()? {
            amendments.entry(edit.year).or_default().push(amendment);
        }
    }
    let years = years.into_iter().map(|(year, kurban_ait)| {
        let stored = amendments.remove(&year).unwrap_or_default();
        let (calendar, skipped) = YearCalendar::build(year, kurban_ait, &stored);
        for (amendment, reason) in skipped {
            tracing::warn!(year, ?amendment, %reason, "stored calendar edit no longer applies; skipped");
        }
        calendar
    });
    Ok(Calendar::new(version, years.collect::<Vec<_>>()))
}

pub fn edits(conn: &mut DbConnection, year: i32) -> QueryResult<Vec<CalendarEditRecord>> {
    calendar_edits::table
        .filter(calendar_edits::year.eq(year))
        .select(EditRow::as_select())
        .order(calendar_edits::version)
        .load(conn)?
        .into_iter()
        .map(EditRow::record)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum EditFailure {
    #[error(transparent)]
    Refused(#[from] EditError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Validates `edit` against the current calendar with the domain core and records it as the
/// next version, in one transaction.
pub fn apply_edit(
    conn: &mut DbConnection,
    year: i32,
    edit: YearEdit,
    reason: &Text,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<CalendarEditRecord, EditFailure> {
    write_transaction(conn, |conn| {
        let calendar = load(conn)?;
        calendar.edited(year, &edit)?;
        let (action, date, kind, name) = match &edit {
            YearEdit::AddYear { kurban_ait } => {
                diesel::insert_into(calendar_years::table)
                    .values((
                        calendar_years::year.eq(year),
                        calendar_years::kurban_ait.eq(*kurban_ait),
                        calendar_years::created_at.eq(to_db_time(now)),
                    ))
                    .execute(conn)?;
                (EditAction::AddYear, *kurban_ait, None, None)
            }
            YearEdit::SetKurbanAit { date } => {
                diesel::update(calendar_years::table.find(year))
                    .set(calendar_years::kurban_ait.eq(Some(*date)))
                    .execute(conn)?;
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
            version: calendar.version() + 1,
            year,
            action: action.as_str().to_owned(),
            date,
            kind: kind.map(|k| k.as_str().to_owned()),
            name_kk: name.as_ref().map(|n| n.kk.clone()),
            name_ru: name.map(|n| n.ru),
            reason: reason.to_string(),
            key_id: actor.key_id,
            actor_name: actor.name.clone(),
            created_at: to_db_time(now),
        };
        diesel::insert_into(calendar_edits::table)
            .values(&row)
            .execute(conn)?;
        Ok(row.record()?)
    })
}
