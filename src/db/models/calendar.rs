//! The stored calendar: the years we hold data for, with their Kurban Ait date, and every
//! supervisor edit. The calendar itself is rebuilt from these by the domain core; its version
//! is the number of the last edit (0 for the seeded rules alone).

use crate::db::DbConnection;
use crate::db::schema::{calendar_edits, calendar_years};
use crate::db::time::At;
use crate::domain::calendar::{Amendment, Calendar, DayKind, DayName, EditAction, YearCalendar};
use crate::domain::ids::KeyId;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use std::collections::BTreeMap;

/// One edit of the calendar, as kept for audit.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = calendar_edits)]
#[diesel(treat_none_as_default_value = false)]
pub struct EditRow {
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
    pub key_id: KeyId,
    pub actor_name: String,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
}

impl EditRow {
    fn date(&self) -> QueryResult<NaiveDate> {
        self.date.ok_or_else(|| {
            diesel::result::Error::DeserializationError(
                format!("calendar edit {} has no date", self.version).into(),
            )
        })
    }

    fn name(&self) -> DayName {
        DayName::new(
            self.name_kk.clone().unwrap_or_default(),
            self.name_ru.clone().unwrap_or_default(),
        )
    }

    /// The amendment this row records, if it is one (not a year or Kurban Ait edit).
    fn amendment(&self) -> QueryResult<Option<Amendment>> {
        Ok(Some(match self.action {
            EditAction::AddYear | EditAction::SetKurbanAit => return Ok(None),
            EditAction::AddDayOff => Amendment::AddDayOff {
                date: self.date()?,
                // A day off added without a kind is a decree's.
                kind: self.kind.unwrap_or(DayKind::GovernmentSwap),
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

pub fn edits(conn: &mut DbConnection, year: i32) -> QueryResult<Vec<EditRow>> {
    calendar_edits::table
        .filter(calendar_edits::year.eq(year))
        .select(EditRow::as_select())
        .order(calendar_edits::version)
        .load(conn)
}

pub fn insert_year(
    conn: &mut DbConnection,
    year: i32,
    kurban_ait: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(calendar_years::table)
        .values((
            calendar_years::year.eq(year),
            calendar_years::kurban_ait.eq(kurban_ait),
            calendar_years::created_at.eq(At(now)),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn set_kurban_ait(conn: &mut DbConnection, year: i32, date: NaiveDate) -> QueryResult<()> {
    diesel::update(calendar_years::table.find(year))
        .set(calendar_years::kurban_ait.eq(Some(date)))
        .execute(conn)
        .map(|_| ())
}

pub fn insert_edit(conn: &mut DbConnection, row: &EditRow) -> QueryResult<()> {
    diesel::insert_into(calendar_edits::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}
