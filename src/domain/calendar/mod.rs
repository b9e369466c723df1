//! Kazakhstan's working-day calendar (DOMAIN.md §6): per-year data — the weekdays that are not
//! worked and the weekend days that are — generated from the rules ([`rules`]) and then amended
//! by data (government decree swaps, corrections). Pure: no I/O, no clock.

pub mod rules;
mod snapshot;

pub use snapshot::CalendarSnapshot;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Why a day differs from the Monday–Friday week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A state holiday (Law "On holidays", art. 1).
    StateHoliday,
    /// A national holiday (Republic Day).
    NationalHoliday,
    /// A religious day off (Labour Code): Orthodox Christmas, the first day of Kurban Ait.
    ReligiousHoliday,
    /// The day off of a state or national holiday that fell on a weekend (Law "On holidays",
    /// art. 5).
    TransferredDayOff,
    /// A day moved by government decree: a weekday off or a weekend day worked.
    GovernmentSwap,
}

names!(DayKind {
    StateHoliday => "state_holiday",
    NationalHoliday => "national_holiday",
    ReligiousHoliday => "religious_holiday",
    TransferredDayOff => "transferred_day_off",
    GovernmentSwap => "government_swap",
});

/// What a supervisor's edit of the calendar did (kept for audit).
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

names!(EditAction {
    AddYear => "add_year",
    SetKurbanAit => "set_kurban_ait",
    AddDayOff => "add_day_off",
    RemoveDayOff => "remove_day_off",
    AddWorkingDay => "add_working_day",
    RemoveWorkingDay => "remove_working_day",
});

/// A named day in Kazakh and Russian.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DayName {
    pub kk: String,
    pub ru: String,
}

impl DayName {
    pub fn new(kk: impl Into<String>, ru: impl Into<String>) -> Self {
        DayName {
            kk: kk.into(),
            ru: ru.into(),
        }
    }
}

/// One exception to the Monday–Friday week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    pub kind: DayKind,
    pub name: DayName,
    /// Whether it came from the rules or from an edit.
    pub edited: bool,
}

/// A change to a year after it was generated from the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amendment {
    /// Makes a weekday a day off.
    AddDayOff {
        date: NaiveDate,
        kind: DayKind,
        name: DayName,
    },
    /// Makes a non-working weekday a working day again.
    RemoveDayOff { date: NaiveDate },
    /// Makes a Saturday or Sunday a working day (the other half of a decree swap).
    AddWorkingDay { date: NaiveDate, name: DayName },
    /// Makes a worked weekend day a day off again.
    RemoveWorkingDay { date: NaiveDate },
}

impl Amendment {
    pub fn date(&self) -> NaiveDate {
        match self {
            Amendment::AddDayOff { date, .. }
            | Amendment::RemoveDayOff { date }
            | Amendment::AddWorkingDay { date, .. }
            | Amendment::RemoveWorkingDay { date } => *date,
        }
    }
}

/// Why an edit is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmendmentError {
    #[error("{date} is not in {year}")]
    OutsideYear { date: NaiveDate, year: i32 },
    #[error("{0} is a Saturday or Sunday, already a day off; only a weekday can be made a day off")]
    NotAWeekday(NaiveDate),
    #[error("{0} is a weekday; only a Saturday or Sunday can be made a working day")]
    NotAWeekendDay(NaiveDate),
    #[error("{0} is already a day off")]
    AlreadyDayOff(NaiveDate),
    #[error("{0} is already a working weekend day")]
    AlreadyWorkingDay(NaiveDate),
    #[error("{0} is not a day off in this calendar")]
    NotADayOff(NaiveDate),
    #[error("{0} is not a working weekend day in this calendar")]
    NotAWorkingDay(NaiveDate),
}

/// The calendar data of one year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    pub year: i32,
    /// The first day of Kurban Ait, once announced.
    pub kurban_ait: Option<NaiveDate>,
    /// Weekdays that are not worked.
    days_off: BTreeMap<NaiveDate, SpecialDay>,
    /// Saturdays and Sundays that are worked.
    working_weekend_days: BTreeMap<NaiveDate, SpecialDay>,
    /// The edits applied on top of the rules, in order.
    amendments: Vec<Amendment>,
}

pub fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl YearCalendar {
    /// The year from the rules with `amendments` applied in order. An amendment that no longer
    /// makes sense (the rules changed under a stored edit) is skipped and returned, so stored
    /// data can always be loaded.
    pub fn build(
        year: i32,
        kurban_ait: Option<NaiveDate>,
        amendments: &[Amendment],
    ) -> (YearCalendar, Vec<(Amendment, AmendmentError)>) {
        let mut calendar = rules::generate(year, kurban_ait);
        let skipped = amendments
            .iter()
            .filter_map(|a| calendar.apply(a).err().map(|e| (a.clone(), e)))
            .collect();
        (calendar, skipped)
    }

    pub fn amendments(&self) -> &[Amendment] {
        &self.amendments
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if is_weekend(date) {
            self.working_weekend_days.contains_key(&date)
        } else {
            !self.days_off.contains_key(&date)
        }
    }

    pub fn days_off(&self) -> impl Iterator<Item = (NaiveDate, &SpecialDay)> {
        self.days_off.iter().map(|(d, s)| (*d, s))
    }

    pub fn working_weekend_days(&self) -> impl Iterator<Item = (NaiveDate, &SpecialDay)> {
        self.working_weekend_days.iter().map(|(d, s)| (*d, s))
    }

    /// Applies one edit, or says why it makes no sense.
    pub fn apply(&mut self, amendment: &Amendment) -> Result<(), AmendmentError> {
        let date = amendment.date();
        if date.year() != self.year {
            return Err(AmendmentError::OutsideYear {
                date,
                year: self.year,
            });
        }
        match amendment {
            Amendment::AddDayOff { kind, name, .. } => {
                if is_weekend(date) {
                    return Err(AmendmentError::NotAWeekday(date));
                }
                if self.days_off.contains_key(&date) {
                    return Err(AmendmentError::AlreadyDayOff(date));
                }
                self.days_off.insert(
                    date,
                    SpecialDay {
                        kind: *kind,
                        name: name.clone(),
                        edited: true,
                    },
                );
            }
            Amendment::RemoveDayOff { .. } => {
                self.days_off
                    .remove(&date)
                    .ok_or(AmendmentError::NotADayOff(date))?;
            }
            Amendment::AddWorkingDay { name, .. } => {
                if !is_weekend(date) {
                    return Err(AmendmentError::NotAWeekendDay(date));
                }
                if self.working_weekend_days.contains_key(&date) {
                    return Err(AmendmentError::AlreadyWorkingDay(date));
                }
                self.working_weekend_days.insert(
                    date,
                    SpecialDay {
                        kind: DayKind::GovernmentSwap,
                        name: name.clone(),
                        edited: true,
                    },
                );
            }
            Amendment::RemoveWorkingDay { .. } => {
                self.working_weekend_days
                    .remove(&date)
                    .ok_or(AmendmentError::NotAWorkingDay(date))?;
            }
        }
        self.amendments.push(amendment.clone());
        Ok(())
    }
}

/// A supervisor's edit of one year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YearEdit {
    /// Adds a year generated from the rules.
    AddYear { kurban_ait: Option<NaiveDate> },
    /// Sets (or corrects) the first day of Kurban Ait, announced yearly.
    SetKurbanAit { date: NaiveDate },
    /// A day off or a working weekend day added or removed.
    Amend(Amendment),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Amendment(#[from] AmendmentError),
    #[error(transparent)]
    YearMissing(#[from] YearMissing),
    #[error("the calendar already has data for {0}")]
    YearExists(i32),
    #[error(transparent)]
    OutOfRange(#[from] OutOfYears),
    #[error("Kurban Ait of {year} is already {date}")]
    KurbanAitUnchanged { year: i32, date: NaiveDate },
}

/// The years the service reasons about: every date and year it accepts lies within them
/// (security review, issue 28 finding 4: a year like 262143 overflowed the date arithmetic).
/// The pilot runs in 2026 (order п.6); the bound leaves room for back-dated records and for an
/// extended pilot while keeping every computed date far from chrono's limits.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// A date or year outside [`YEARS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must lie within the years 2000–2100; {value} does not")]
pub struct OutOfYears {
    pub what: &'static str,
    pub value: String,
}

/// `value` if `year` (its year) lies within [`YEARS`]; `what` names it in the refusal.
fn within<T: std::fmt::Display>(value: T, year: i32, what: &'static str) -> Result<T, OutOfYears> {
    if YEARS.contains(&year) {
        Ok(value)
    } else {
        Err(OutOfYears {
            what,
            value: value.to_string(),
        })
    }
}

/// `year` if it lies within [`YEARS`].
pub fn supported_year(year: i32) -> Result<i32, OutOfYears> {
    within(year, year, "a calendar year")
}

/// `date` if its year lies within [`YEARS`]; `what` names it in the refusal.
pub fn supported_date(date: NaiveDate, what: &'static str) -> Result<NaiveDate, OutOfYears> {
    within(date, date.year(), what)
}

/// `t` if its year (in UTC) lies within [`YEARS`]; `what` names it in the refusal.
pub fn supported_instant(
    t: chrono::DateTime<chrono::Utc>,
    what: &'static str,
) -> Result<chrono::DateTime<chrono::Utc>, OutOfYears> {
    within(t, t.year(), what)
}

impl Calendar {
    /// The year as it would be after `edit`, or why the edit is refused.
    pub fn edited(&self, year: i32, edit: &YearEdit) -> Result<YearCalendar, EditError> {
        let in_year = |date: NaiveDate| {
            if date.year() == year {
                Ok(date)
            } else {
                Err(AmendmentError::OutsideYear { date, year })
            }
        };
        match edit {
            YearEdit::AddYear { kurban_ait } => {
                supported_year(year)?;
                if self.years.contains_key(&year) {
                    return Err(EditError::YearExists(year));
                }
                let kurban_ait = kurban_ait.map(in_year).transpose()?;
                Ok(rules::generate(year, kurban_ait))
            }
            YearEdit::SetKurbanAit { date } => {
                let current = self.years.get(&year).ok_or(YearMissing(year))?;
                let date = in_year(*date)?;
                if current.kurban_ait == Some(date) {
                    return Err(EditError::KurbanAitUnchanged { year, date });
                }
                let (rebuilt, skipped) = YearCalendar::build(year, Some(date), &current.amendments);
                match skipped.into_iter().next() {
                    Some((_, conflict)) => Err(conflict.into()),
                    None => Ok(rebuilt),
                }
            }
            YearEdit::Amend(amendment) => {
                let mut edited = self.years.get(&year).ok_or(YearMissing(year))?.clone();
                edited.apply(amendment)?;
                Ok(edited)
            }
        }
    }
}

/// The working-day calendar of every year we hold data for, at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    version: i64,
    years: BTreeMap<i32, YearCalendar>,
}

/// A date in a year the calendar holds no data for: never guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the working-day calendar has no data for {0}; a supervisor must add the year before deadlines in it can be computed"
)]
pub struct YearMissing(pub i32);

impl Calendar {
    pub fn new(version: i64, years: impl IntoIterator<Item = YearCalendar>) -> Self {
        Calendar {
            version,
            years: years.into_iter().map(|y| (y.year, y)).collect(),
        }
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn year(&self, year: i32) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    pub fn years(&self) -> impl Iterator<Item = &YearCalendar> {
        self.years.values()
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, YearMissing> {
        self.years
            .get(&date.year())
            .map(|y| y.is_working_day(date))
            .ok_or(YearMissing(date.year()))
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate) -> Result<NaiveDate, YearMissing> {
        let mut day = date;
        loop {
            day = day.succ_opt().ok_or(YearMissing(date.year() + 1))?;
            if self.is_working_day(day)? {
                return Ok(day);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn year_2026() -> YearCalendar {
        rules::generate(2026, Some(d(2026, 5, 27)))
    }

    fn swap_name() -> DayName {
        DayName::new("Ауыстыру", "Перенос")
    }

    #[test]
    fn edits_that_make_no_sense_are_refused() {
        let mut year = year_2026();
        let before = year.clone();
        let cases = [
            (
                Amendment::AddWorkingDay {
                    date: d(2026, 3, 18),
                    name: swap_name(),
                },
                AmendmentError::NotAWeekendDay(d(2026, 3, 18)),
            ),
            (
                Amendment::AddDayOff {
                    date: d(2026, 3, 21),
                    kind: DayKind::GovernmentSwap,
                    name: swap_name(),
                },
                AmendmentError::NotAWeekday(d(2026, 3, 21)),
            ),
            (
                Amendment::AddDayOff {
                    date: d(2026, 3, 23),
                    kind: DayKind::GovernmentSwap,
                    name: swap_name(),
                },
                AmendmentError::AlreadyDayOff(d(2026, 3, 23)),
            ),
            (
                Amendment::AddDayOff {
                    date: d(2027, 1, 5),
                    kind: DayKind::GovernmentSwap,
                    name: swap_name(),
                },
                AmendmentError::OutsideYear {
                    date: d(2027, 1, 5),
                    year: 2026,
                },
            ),
            (
                Amendment::RemoveDayOff {
                    date: d(2026, 3, 18),
                },
                AmendmentError::NotADayOff(d(2026, 3, 18)),
            ),
            (
                Amendment::RemoveWorkingDay {
                    date: d(2026, 3, 21),
                },
                AmendmentError::NotAWorkingDay(d(2026, 3, 21)),
            ),
        ];
        for (amendment, error) in cases {
            assert_eq!(year.apply(&amendment), Err(error));
        }
        assert_eq!(year, before, "a refused edit changes nothing");
    }

    #[test]
    fn a_decree_swap_makes_a_saturday_worked_and_a_weekday_free() {
        let mut year = year_2026();
        year.apply(&Amendment::AddWorkingDay {
            date: d(2026, 12, 19),
            name: swap_name(),
        })
        .unwrap();
        year.apply(&Amendment::AddDayOff {
            date: d(2026, 12, 18),
            kind: DayKind::GovernmentSwap,
            name: swap_name(),
        })
        .unwrap();
        assert!(year.is_working_day(d(2026, 12, 19)));
        assert!(!year.is_working_day(d(2026, 12, 18)));
        assert_eq!(
            year.apply(&Amendment::AddWorkingDay {
                date: d(2026, 12, 19),
                name: swap_name()
            }),
            Err(AmendmentError::AlreadyWorkingDay(d(2026, 12, 19)))
        );
        year.apply(&Amendment::RemoveWorkingDay {
            date: d(2026, 12, 19),
        })
        .unwrap();
        assert!(!year.is_working_day(d(2026, 12, 19)));
    }

    #[test]
    fn setting_kurban_ait_regenerates_the_year_and_keeps_its_edits() {
        let mut year = year_2026();
        year.apply(&Amendment::AddWorkingDay {
            date: d(2026, 12, 19),
            name: swap_name(),
        })
        .unwrap();
        let calendar = Calendar::new(3, [year]);
        let edited = calendar
            .edited(
                2026,
                &YearEdit::SetKurbanAit {
                    date: d(2026, 5, 26),
                },
            )
            .unwrap();
        assert!(!edited.is_working_day(d(2026, 5, 26)));
        assert!(edited.is_working_day(d(2026, 5, 27)));
        assert!(edited.is_working_day(d(2026, 12, 19)), "the swap survives");
        assert_eq!(
            calendar.edited(
                2026,
                &YearEdit::SetKurbanAit {
                    date: d(2026, 5, 27)
                }
            ),
            Err(EditError::KurbanAitUnchanged {
                year: 2026,
                date: d(2026, 5, 27)
            })
        );
        assert_eq!(
            calendar.edited(
                2026,
                &YearEdit::SetKurbanAit {
                    date: d(2025, 5, 27)
                }
            ),
            Err(EditError::Amendment(AmendmentError::OutsideYear {
                date: d(2025, 5, 27),
                year: 2026
            }))
        );
        assert_eq!(
            calendar.edited(2026, &YearEdit::AddYear { kurban_ait: None }),
            Err(EditError::YearExists(2026))
        );
        assert_eq!(
            calendar.edited(
                2031,
                &YearEdit::SetKurbanAit {
                    date: d(2031, 3, 28)
                }
            ),
            Err(EditError::YearMissing(YearMissing(2031)))
        );
        let added = calendar
            .edited(2028, &YearEdit::AddYear { kurban_ait: None })
            .unwrap();
        assert!(
            !added.is_working_day(d(2028, 1, 3)),
            "2 Jan 2028 is a Sunday → Monday 3 Jan"
        );
    }

    #[test]
    fn stored_edits_that_no_longer_apply_are_skipped_when_loading() {
        let stale = Amendment::AddDayOff {
            date: d(2026, 3, 23),
            kind: DayKind::GovernmentSwap,
            name: swap_name(),
        };
        let (year, skipped) = YearCalendar::build(2026, None, std::slice::from_ref(&stale));
        assert_eq!(
            skipped,
            vec![(stale, AmendmentError::AlreadyDayOff(d(2026, 3, 23)))]
        );
        assert!(!year.is_working_day(d(2026, 3, 23)));
    }

    #[test]
    fn a_year_without_data_is_an_error_not_a_guess() {
        let calendar = Calendar::new(0, [year_2026()]);
        assert_eq!(
            calendar.is_working_day(d(2028, 1, 4)),
            Err(YearMissing(2028))
        );
        assert_eq!(
            calendar.next_working_day(d(2026, 12, 31)),
            Err(YearMissing(2027))
        );
        assert_eq!(
            calendar.next_working_day(d(2026, 12, 30)),
            Ok(d(2026, 12, 31))
        );
    }
}
