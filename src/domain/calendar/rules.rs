//! Generating a year from the rules of DOMAIN.md §6:
//! - state holidays 1–2 Jan, 8 Mar, 21–23 Mar (Nauryz), 1 May, 7 May, 9 May, 6 Jul, 16 Dec and
//!   Constitution Day (30 Aug up to 2025, none in 2026, 15 Mar from 2027); national holiday
//!   25 Oct (Republic Day);
//! - a state or national holiday on a Saturday or Sunday moves its day off to the next working
//!   day (Law "On holidays", art. 5);
//! - religious days off (Labour Code) — 7 Jan and the first day of Kurban Ait, a per-year date —
//!   never move.
//!
//! Government decree swaps are not rules: a supervisor records them as amendments (or imports a
//! year's list). Those published before the service started are part of its data here
//! ([`DECREE_SWAPS`]), so every database computes those years the same way.

use super::{DayKind, DayName, SpecialDay, YearCalendar, is_weekend};
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;

/// A fixed-date holiday and the years it is in force.
struct FixedHoliday {
    month: u32,
    day: u32,
    kind: DayKind,
    kk: &'static str,
    ru: &'static str,
    first_year: Option<i32>,
    last_year: Option<i32>,
}

const fn state(month: u32, day: u32, kk: &'static str, ru: &'static str) -> FixedHoliday {
    FixedHoliday {
        month,
        day,
        kind: DayKind::StateHoliday,
        kk,
        ru,
        first_year: None,
        last_year: None,
    }
}

const NEW_YEAR: (&str, &str) = ("Жаңа жыл", "Новый год");
const NAURYZ: (&str, &str) = ("Наурыз мейрамы", "Праздник Наурыз");
const CONSTITUTION: (&str, &str) = (
    "Қазақстан Республикасының Конституциясы күні",
    "День Конституции Республики Казахстан",
);

const FIXED: [FixedHoliday; 15] = [
    state(1, 1, NEW_YEAR.0, NEW_YEAR.1),
    state(1, 2, NEW_YEAR.0, NEW_YEAR.1),
    FixedHoliday {
        kind: DayKind::ReligiousHoliday,
        ..state(1, 7, "Православиелік Рождество", "Православное Рождество")
    },
    state(
        3,
        8,
        "Халықаралық әйелдер күні",
        "Международный женский день",
    ),
    // The new Constitution (adopted 15 Mar 2026) moves Constitution Day to 15 Mar from 2027.
    FixedHoliday {
        first_year: Some(2027),
        ..state(3, 15, CONSTITUTION.0, CONSTITUTION.1)
    },
    state(3, 21, NAURYZ.0, NAURYZ.1),
    state(3, 22, NAURYZ.0, NAURYZ.1),
    state(3, 23, NAURYZ.0, NAURYZ.1),
    state(
        5,
        1,
        "Қазақстан халқының бірлігі мерекесі",
        "Праздник единства народа Казахстана",
    ),
    state(5, 7, "Отан қорғаушы күні", "День защитника Отечества"),
    state(5, 9, "Жеңіс күні", "День Победы"),
    state(7, 6, "Астана күні", "День Столицы"),
    // 30 Aug was Constitution Day up to 2025; 2026 has none.
    FixedHoliday {
        last_year: Some(2025),
        ..state(8, 30, CONSTITUTION.0, CONSTITUTION.1)
    },
    FixedHoliday {
        kind: DayKind::NationalHoliday,
        ..state(10, 25, "Республика күні", "День Республики")
    },
    state(12, 16, "Тәуелсіздік күні", "День Независимости"),
];

/// A Government decree swap published before the service started: a weekday off, worked on a
/// weekend day instead.
pub struct DecreeSwap {
    pub day_off: (i32, u32, u32),
    pub working_day: (i32, u32, u32),
}

/// 2025: 3 January (Friday) off, worked on Sunday 5 January (Government decree on the transfer
/// of days off in 2025). None are known for 2026 (DOMAIN.md §6).
pub const DECREE_SWAPS: &[DecreeSwap] = &[DecreeSwap {
    day_off: (2025, 1, 3),
    working_day: (2025, 1, 5),
}];

fn swap_name(date: NaiveDate, other: NaiveDate, off: bool) -> DayName {
    let (d, o) = (date.format("%d.%m"), other.format("%d.%m.%Y"));
    if off {
        DayName::new(
            format!("Үкімет қаулысымен ауыстырылған демалыс күні ({d}, {o} орнына)"),
            format!("Выходной по постановлению Правительства ({d}, перенесён с {o})"),
        )
    } else {
        DayName::new(
            format!("Үкімет қаулысымен жұмыс күні ({d}, {o} орнына)"),
            format!("Рабочий день по постановлению Правительства ({d}, вместо {o})"),
        )
    }
}

fn kurban_ait() -> DayName {
    DayName::new("Құрбан айт", "Курбан айт")
}

/// The year as the rules make it, with Kurban Ait if its date is known.
pub fn generate(year: i32, kurban_ait_date: Option<NaiveDate>) -> YearCalendar {
    // Every holiday of the year, by date (a weekday or not).
    let mut holidays: BTreeMap<NaiveDate, SpecialDay> = FIXED
        .iter()
        .filter(|h| h.first_year.is_none_or(|first| year >= first))
        .filter(|h| h.last_year.is_none_or(|last| year <= last))
        .filter_map(|h| {
            let date = NaiveDate::from_ymd_opt(year, h.month, h.day)?;
            let day = SpecialDay {
                kind: h.kind,
                name: DayName::new(h.kk, h.ru),
                edited: false,
            };
            Some((date, day))
        })
        .collect();
    if let Some(date) = kurban_ait_date.filter(|d| d.year() == year) {
        holidays.insert(
            date,
            SpecialDay {
                kind: DayKind::ReligiousHoliday,
                name: kurban_ait(),
                edited: false,
            },
        );
    }

    let mut days_off: BTreeMap<NaiveDate, SpecialDay> = holidays
        .iter()
        .filter(|(date, _)| !is_weekend(**date))
        .map(|(date, day)| (*date, day.clone()))
        .collect();

    // In date order, each state or national holiday on a weekend takes the first weekday
    // after it that is neither a holiday nor already taken by an earlier transfer (21–22 Mar
    // 2026 on a weekend, with 23 Mar a holiday itself, give 24 and 25 Mar).
    for (date, holiday) in &holidays {
        let moves = matches!(
            holiday.kind,
            DayKind::StateHoliday | DayKind::NationalHoliday
        );
        if !moves || !is_weekend(*date) {
            continue;
        }
        let mut day = *date;
        let target = loop {
            day = day
                .succ_opt()
                .expect("a holiday's transfer stays within the calendar range");
            if !is_weekend(day) && !days_off.contains_key(&day) {
                break day;
            }
        };
        days_off.insert(
            target,
            SpecialDay {
                kind: DayKind::TransferredDayOff,
                name: DayName::new(
                    format!(
                        "{} ({}) орнына демалыс күні",
                        holiday.name.kk,
                        date.format("%d.%m")
                    ),
                    format!(
                        "Перенесённый выходной: {} ({})",
                        holiday.name.ru,
                        date.format("%d.%m")
                    ),
                ),
                edited: false,
            },
        );
    }

    let mut working_weekend_days = BTreeMap::new();
    let date = |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d);
    for swap in DECREE_SWAPS {
        let (Some(off), Some(worked)) = (date(swap.day_off), date(swap.working_day)) else {
            continue;
        };
        if off.year() == year && !is_weekend(off) {
            let day = SpecialDay {
                kind: DayKind::GovernmentSwap,
                name: swap_name(off, worked, true),
                edited: false,
            };
            days_off.entry(off).or_insert(day);
        }
        if worked.year() == year && is_weekend(worked) {
            let day = SpecialDay {
                kind: DayKind::GovernmentSwap,
                name: swap_name(worked, off, false),
                edited: false,
            };
            working_weekend_days.insert(worked, day);
        }
    }

    YearCalendar {
        year,
        kurban_ait: kurban_ait_date,
        days_off,
        working_weekend_days,
        amendments: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn days_off(year: &YearCalendar) -> Vec<(u32, u32)> {
        year.days_off().map(|(d, _)| (d.month(), d.day())).collect()
    }

    #[test]
    #[rustfmt::skip]
    fn non_working_weekdays_of_2026_are_exactly_the_published_list() {
        let year = generate(2026, Some(d(2026, 5, 27)));
        assert_eq!(
            days_off(&year),
            [
                (1, 1), (1, 2), (1, 7),
                (3, 9), (3, 23), (3, 24), (3, 25),
                (5, 1), (5, 7), (5, 11), (5, 27),
                (7, 6),
                (10, 26),
                (12, 16),
            ]
        );
    }

    #[test]
    #[rustfmt::skip]
    fn year_2025_follows_the_rules_with_constitution_day_on_30_august() {
        let year = generate(2025, Some(d(2025, 6, 6)));
        assert_eq!(
            days_off(&year),
            [
                // 3 Jan off by the decree swap, worked on Sunday 5 Jan instead.
                (1, 1), (1, 2), (1, 3), (1, 7),
                // 8 Mar is a Saturday → Monday 10 Mar; Nauryz 21 (Fri), 22 (Sat) → 24, 23 (Sun) → 25.
                (3, 10), (3, 21), (3, 24), (3, 25),
                (5, 1), (5, 7), (5, 9),
                (6, 6),
                // 6 Jul is a Sunday → 7 Jul; Constitution Day 30 Aug (Sat) → 1 Sep.
                (7, 7), (9, 1),
                // Republic Day 25 Oct (Sat) → 27 Oct.
                (10, 27),
                (12, 16),
            ]
        );
    }

    #[test]
    fn the_2025_decree_swap_makes_3_january_off_and_5_january_worked() {
        let year = generate(2025, Some(d(2025, 6, 6)));
        assert!(!year.is_working_day(d(2025, 1, 3)));
        assert!(year.is_working_day(d(2025, 1, 5)));
        assert!(!year.is_working_day(d(2025, 1, 4)));
        let (_, swap) = year
            .days_off()
            .find(|(day, _)| *day == d(2025, 1, 3))
            .unwrap();
        assert_eq!(swap.kind, DayKind::GovernmentSwap);
        assert!(!swap.edited);
        assert!(generate(2026, None).working_weekend_days().next().is_none());
    }

    #[test]
    #[rustfmt::skip]
    fn year_2027_has_constitution_day_on_15_march_and_no_kurban_ait_until_announced() {
        let year = generate(2027, None);
        assert_eq!(
            days_off(&year),
            [
                // 2 Jan is a Saturday → Monday 4 Jan.
                (1, 1), (1, 4), (1, 7),
                (3, 8), (3, 15),
                // 21 Mar is a Sunday; 22 and 23 are holidays → Wednesday 24 Mar.
                (3, 22), (3, 23), (3, 24),
                // 1 May (Sat) → 3 May; 9 May (Sun) → 10 May.
                (5, 3), (5, 7), (5, 10),
                (7, 6),
                (10, 25),
                (12, 16),
            ]
        );
        assert_eq!(year.kurban_ait, None);
    }

    #[test]
    fn religious_days_never_move() {
        // Kurban Ait on a Sunday gives no weekday off; 7 Jan 2029 is a Sunday too.
        let year = generate(2029, Some(d(2029, 4, 22)));
        assert!(
            !year
                .days_off()
                .any(|(_, day)| day.name.ru.contains("Курбан"))
        );
        assert!(
            !year
                .days_off()
                .any(|(_, day)| day.name.ru.contains("Рождество"))
        );
    }

    #[test]
    fn kinds_and_names_are_given_in_both_languages() {
        let year = generate(2026, Some(d(2026, 5, 27)));
        let kinds: BTreeMap<NaiveDate, DayKind> =
            year.days_off().map(|(d, s)| (d, s.kind)).collect();
        assert_eq!(kinds[&d(2026, 1, 7)], DayKind::ReligiousHoliday);
        assert_eq!(kinds[&d(2026, 5, 27)], DayKind::ReligiousHoliday);
        assert_eq!(kinds[&d(2026, 3, 9)], DayKind::TransferredDayOff);
        assert_eq!(kinds[&d(2026, 10, 26)], DayKind::TransferredDayOff);
        assert_eq!(kinds[&d(2026, 12, 16)], DayKind::StateHoliday);
        let transferred = year
            .days_off()
            .find(|(d, _)| *d == NaiveDate::from_ymd_opt(2026, 10, 26).unwrap())
            .unwrap()
            .1;
        assert!(
            transferred.name.ru.contains("День Республики")
                && transferred.name.ru.contains("25.10")
        );
        assert!(transferred.name.kk.contains("Республика күні"));
    }
}
