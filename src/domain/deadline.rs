//! Deadline rules (DOMAIN.md §5) as pure functions of (start instant, zone, calendar).
//!
//! Period semantics (our reading of the Civil Code's rules on periods):
//! - a period of N days starts on the day after the event and ends at 24:00 of its last day,
//!   which we represent as 00:00 local of the following day;
//! - N working days: the Nth working day after the event's local date;
//! - "HH:MM of the next working day": the first working day strictly after the event's local
//!   date, at HH:MM;
//! - N calendar days: the Nth calendar day after the event's local date (postamats work every
//!   day, so no shift to a working day);
//! - N months: the same date N months later (or that month's last day).

use crate::domain::calendar::{Calendar, YearMissing};
use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// How a due instant is computed from a start instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    NextWorkingDayAt(NaiveTime),
    WorkingDays(u32),
    CalendarDays(u32),
    Months(u32),
}

/// The deadlines of the pilot, with the clause each comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// п.17: the State courier hands the bag to the Kaspi point by 12:00 next working day.
    Handoff,
    /// п.10: orders created during a day reach the Kaspi point by 13:00 next working day.
    KaspiArrival,
    /// п.11: an order waits at the Kaspi point at most 3 working days.
    PointWait,
    /// п.21, 29: a document stays in the cell 3 calendar days.
    Storage,
    /// п.30: an uncollected document is back at the Kaspi point within 1 working day.
    Return,
    /// п.33: the State courier collects returns by 12:00 next working day.
    ReturnPickup,
    /// п.35: the issuance sector keeps a document 1 month.
    IssuanceStorage,
    /// п.35: once the month is over, the issuance sector hands the document on. The order names
    /// no period for it ("после чего передает"); we give it the pilot's period for a step that
    /// follows the end of a storage (п.30): 1 working day.
    Transfer,
    /// п.26: a duplicate is issued within 3 working days.
    Duplicate,
    /// п.38: force majeure is notified within 3 working days.
    ForceMajeureNotice,
}

names!(DeadlineKind {
    Handoff => "handoff",
    KaspiArrival => "kaspi_arrival",
    PointWait => "point_wait",
    Storage => "storage",
    Return => "return",
    ReturnPickup => "return_pickup",
    IssuanceStorage => "issuance_storage",
    Transfer => "transfer",
    Duplicate => "duplicate",
    ForceMajeureNotice => "force_majeure_notice",
});

impl DeadlineKind {
    pub fn rule(self) -> Rule {
        let at = |h| Rule::NextWorkingDayAt(NaiveTime::from_hms_opt(h, 0, 0).expect("valid hour"));
        match self {
            DeadlineKind::Handoff | DeadlineKind::ReturnPickup => at(12),
            DeadlineKind::KaspiArrival => at(13),
            DeadlineKind::PointWait
            | DeadlineKind::Duplicate
            | DeadlineKind::ForceMajeureNotice => Rule::WorkingDays(3),
            DeadlineKind::Storage => Rule::CalendarDays(3),
            DeadlineKind::Return | DeadlineKind::Transfer => Rule::WorkingDays(1),
            DeadlineKind::IssuanceStorage => Rule::Months(1),
        }
    }

    pub fn clause(self) -> &'static str {
        match self {
            DeadlineKind::Handoff => "п.17",
            DeadlineKind::KaspiArrival => "п.10",
            DeadlineKind::PointWait => "п.11",
            DeadlineKind::Storage => "п.21, п.29",
            DeadlineKind::Return => "п.30",
            DeadlineKind::ReturnPickup => "п.33",
            DeadlineKind::IssuanceStorage | DeadlineKind::Transfer => "п.35",
            DeadlineKind::Duplicate => "п.26",
            DeadlineKind::ForceMajeureNotice => "п.38",
        }
    }
}

/// Where a deadline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    Pending,
    Met,
    MetLate,
    Breached,
    Cancelled,
}

names!(DeadlineState {
    Pending => "pending",
    Met => "met",
    MetLate => "met_late",
    Breached => "breached",
    Cancelled => "cancelled",
});

impl DeadlineState {
    /// Still to be met: pending, or breached but the document is still on its way.
    pub const OPEN: [DeadlineState; 2] = [DeadlineState::Pending, DeadlineState::Breached];
}

/// п.39: how a deadline in `state` stands when judged against `due` rather than the instant it
/// was given (a force-majeure period that cannot be invoked moved it): met on time only if it
/// was met by `due`; still pending past `due` is a breach. Breached and cancelled stand.
pub fn judged_against(
    state: DeadlineState,
    resolved_at: Option<DateTime<Utc>>,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DeadlineState {
    match state {
        DeadlineState::Met | DeadlineState::MetLate => {
            if resolved_at.is_some_and(|at| at <= due) {
                DeadlineState::Met
            } else {
                DeadlineState::MetLate
            }
        }
        DeadlineState::Pending if now > due => DeadlineState::Breached,
        other => other,
    }
}

/// What the sweeper does when a deadline passes unmet (DOMAIN.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBreach {
    /// п.29–30: the document was not collected: `storage_expired`, Kaspi must remove it.
    ExpireStorage,
    /// п.27: the citizen is told of the delay with a new expected date.
    NotifyDelay,
    /// Overdue: escalated to the branch supervisor through the exception queue.
    Escalate,
    /// п.35: storage at the issuance sector is over: listed for transfer after storage.
    ListForTransfer,
}

names!(OnBreach {
    ExpireStorage => "expire_storage",
    NotifyDelay => "notify_delay",
    Escalate => "escalate",
    ListForTransfer => "list_for_transfer",
});

impl DeadlineKind {
    pub fn on_breach(self) -> OnBreach {
        match self {
            DeadlineKind::Storage => OnBreach::ExpireStorage,
            DeadlineKind::PointWait | DeadlineKind::KaspiArrival => OnBreach::NotifyDelay,
            DeadlineKind::IssuanceStorage => OnBreach::ListForTransfer,
            DeadlineKind::Handoff
            | DeadlineKind::ReturnPickup
            | DeadlineKind::Return
            | DeadlineKind::Transfer
            | DeadlineKind::Duplicate
            | DeadlineKind::ForceMajeureNotice => OnBreach::Escalate,
        }
    }

    /// A period whose end is the rule's outcome, not a failure, and the deadline that follows.
    /// п.35: the issuance sector keeps a document 1 month "после чего передает": a document
    /// still there at the month's end has been kept as the order asks — the storage is met at
    /// its end — and the hand-on begins then.
    pub fn runs_into(self) -> Option<DeadlineKind> {
        match self {
            DeadlineKind::IssuanceStorage => Some(DeadlineKind::Transfer),
            _ => None,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::NextWorkingDayAt(t) => write!(f, "next_working_day_at:{}", t.format("%H:%M")),
            Rule::WorkingDays(n) => write!(f, "working_days:{n}"),
            Rule::CalendarDays(n) => write!(f, "calendar_days:{n}"),
            Rule::Months(n) => write!(f, "months:{n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown rule '{0}': use a deadline name (handoff, kaspi_arrival, point_wait, storage, return, return_pickup, issuance_storage, transfer, duplicate, force_majeure_notice) or next_working_day_at:HH:MM, working_days:N, calendar_days:N, months:N (N from 1 to 366)"
)]
pub struct UnknownRule(pub String);

impl FromStr for Rule {
    type Err = UnknownRule;

    /// A deadline name (`handoff`) or a rule (`working_days:3`, `next_working_day_at:12:00`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnknownRule(s.chars().take(60).collect());
        if let Some(kind) = DeadlineKind::parse(s) {
            return Ok(kind.rule());
        }
        let (name, arg) = s.split_once(':').ok_or_else(err)?;
        let count = || {
            arg.parse::<u32>()
                .ok()
                .filter(|n| (1..=366).contains(n))
                .ok_or_else(err)
        };
        match name {
            "next_working_day_at" => NaiveTime::parse_from_str(arg, "%H:%M")
                .map(Rule::NextWorkingDayAt)
                .map_err(|_| err()),
            "working_days" => count().map(Rule::WorkingDays),
            "calendar_days" => count().map(Rule::CalendarDays),
            "months" => count().and_then(|n| {
                if n <= 120 {
                    Ok(Rule::Months(n))
                } else {
                    Err(err())
                }
            }),
            _ => Err(err()),
        }
    }
}

/// A computed deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The instant the deadline falls due.
    pub at: DateTime<Utc>,
    /// The local date of its last day: for "by 24:00" rules the day before `at`'s local date,
    /// for "HH:MM" rules the date of `at`.
    pub last_day: NaiveDate,
    /// The calendar version that computed it.
    pub calendar_version: i64,
}

/// The local start of `date` in `tz` (the first valid instant if midnight is skipped).
fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    local_instant(date.and_time(NaiveTime::MIN), tz)
}

fn local_instant(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        // An hour repeated by a clock change: the earlier, so the deadline is never late.
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        // An hour skipped by a clock change: the first instant after the gap.
        LocalResult::None => (1..=180)
            .find_map(|m| {
                let later = local.checked_add_signed(chrono::Duration::minutes(m))?;
                tz.from_local_datetime(&later).earliest()
            })
            .expect("no clock change skips three hours")
            .with_timezone(&Utc),
    }
}

/// Computes when a deadline started at `start` falls due, in the zone `tz`. A start outside
/// [`crate::domain::calendar::YEARS`] has no calendar, whatever the rule: it is refused as a
/// missing year, and every step of the arithmetic is checked (issue 28 finding 4).
pub fn due(
    rule: Rule,
    start: DateTime<Utc>,
    tz: Tz,
    calendar: &Calendar,
) -> Result<Due, YearMissing> {
    // Checked in UTC first: at chrono's limits even the local date cannot be formed.
    if !crate::domain::calendar::YEARS.contains(&start.year()) {
        return Err(YearMissing(start.year()));
    }
    // DOMAIN.md §5 (issue 22 item 2): an instant at exactly 00:00 local time ends the day
    // before it. Storage ending at 24:00 of Monday expires at 00:00 of Tuesday, and п.30's one
    // working day is counted from Monday: the return is due at 24:00 of Tuesday, not Wednesday.
    let local = start.with_timezone(&tz);
    let event_day = if local.time() == NaiveTime::MIN {
        local
            .date_naive()
            .pred_opt()
            .ok_or(YearMissing(start.year()))?
    } else {
        local.date_naive()
    };
    let beyond = || YearMissing(event_day.year());
    let end_of = |last_day: NaiveDate| -> Result<Due, YearMissing> {
        Ok(Due {
            at: start_of_day(last_day.succ_opt().ok_or_else(beyond)?, tz),
            last_day,
            calendar_version: calendar.version(),
        })
    };
    match rule {
        Rule::NextWorkingDayAt(time) => {
            let day = calendar.next_working_day(event_day)?;
            Ok(Due {
                at: local_instant(day.and_time(time), tz),
                last_day: day,
                calendar_version: calendar.version(),
            })
        }
        Rule::WorkingDays(n) => {
            let mut day = event_day;
            for _ in 0..n {
                day = calendar.next_working_day(day)?;
            }
            end_of(day)
        }
        Rule::CalendarDays(n) => end_of(
            event_day
                .checked_add_days(Days::new(u64::from(n)))
                .ok_or_else(beyond)?,
        ),
        Rule::Months(n) => end_of(
            event_day
                .checked_add_months(Months::new(n))
                .ok_or_else(beyond)?,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::rules::generate;
    use chrono::{Datelike, Duration, Offset};
    use proptest::prelude::*;

    #[test]
    fn a_start_beyond_the_supported_years_is_refused_not_a_panic() {
        let cal = Calendar::new(1, []);
        let rule: Rule = "calendar_days:366".parse().unwrap();
        for start in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            assert_eq!(
                due(rule, start, ALMATY, &cal),
                Err(YearMissing(start.year()))
            );
        }
        let months: Rule = "months:120".parse().unwrap();
        assert!(due(months, DateTime::<Utc>::MAX_UTC, ALMATY, &cal).is_err());
    }

    const ALMATY: Tz = chrono_tz::Asia::Almaty;

    fn calendar() -> Calendar {
        let kurban = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        Calendar::new(
            7,
            [
                generate(2025, kurban(2025, 6, 6)),
                generate(2026, kurban(2026, 5, 27)),
                generate(2027, None),
            ],
        )
    }

    /// A local Almaty time as UTC.
    fn almaty(s: &str) -> DateTime<Utc> {
        local_instant(
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap(),
            ALMATY,
        )
    }

    fn local(t: DateTime<Utc>) -> String {
        t.with_timezone(&ALMATY)
            .format("%Y-%m-%d %H:%M:%S %a")
            .to_string()
    }

    #[test]
    fn almaty_is_utc_plus_five_in_2026() {
        let offset = ALMATY
            .offset_from_utc_datetime(&almaty("2026-06-01 12:00:00").naive_utc())
            .fix();
        assert_eq!(offset.local_minus_utc(), 5 * 3600);
        // Before the 2024-03-01 change Almaty was UTC+06:00.
        let before = ALMATY
            .offset_from_utc_datetime(
                &NaiveDate::from_ymd_opt(2023, 6, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            )
            .fix();
        assert_eq!(before.local_minus_utc(), 6 * 3600);
    }

    #[test]
    fn the_pilot_deadlines_on_the_real_2026_edges() {
        let cal = calendar();
        let cases = [
            // Intake on Friday before Nauryz: 21–22 weekend, 23–25 Mar off → Thursday 12:00 (п.17).
            (
                DeadlineKind::Handoff.rule(),
                "2026-03-20 17:00:00",
                "2026-03-26 12:00:00 Thu",
            ),
            // 3 working days from Friday 20 Mar: 26, 27, 30 Mar → 24:00 of Monday 30 Mar (п.11).
            (
                DeadlineKind::PointWait.rule(),
                "2026-03-20 17:00:00",
                "2026-03-31 00:00:00 Tue",
            ),
            // Placed 30 Dec 15:00: 31 Dec, 1 Jan, 2 Jan → 24:00 of 2 Jan 2027 (п.21).
            (
                DeadlineKind::Storage.rule(),
                "2026-12-30 15:00:00",
                "2027-01-03 00:00:00 Sun",
            ),
            // Kaspi order on the eve of the Victory Day transfer: 9 May Sat → 11 May off (п.10).
            (
                DeadlineKind::KaspiArrival.rule(),
                "2026-05-08 10:00:00",
                "2026-05-12 13:00:00 Tue",
            ),
            // Return within 1 working day after expiry on a Sunday before Republic Day's transfer.
            (
                DeadlineKind::Return.rule(),
                "2026-10-25 00:00:00",
                "2026-10-28 00:00:00 Wed",
            ),
            // 1 month from 31 Jan → last day of February (п.35).
            (
                DeadlineKind::IssuanceStorage.rule(),
                "2026-01-31 09:00:00",
                "2026-03-01 00:00:00 Sun",
            ),
            // Duplicate requested on the eve of Independence Day (п.26): 17, 18, 21 Dec.
            (
                DeadlineKind::Duplicate.rule(),
                "2026-12-15 11:00:00",
                "2026-12-22 00:00:00 Tue",
            ),
            // Over the New Year: 1 Jan (Fri) off, 2 Jan (Sat) moves to Mon 4 Jan, 7 Jan off →
            // 5, 6, 8 Jan.
            (
                Rule::WorkingDays(3),
                "2026-12-31 18:00:00",
                "2027-01-09 00:00:00 Sat",
            ),
        ];
        for (rule, start, expected) in cases {
            let due = due(rule, almaty(start), ALMATY, &cal).unwrap();
            assert_eq!(local(due.at), expected, "{rule} from {start}");
            assert_eq!(due.calendar_version, 7);
        }
    }

    /// DOMAIN.md §5 (issue 22 item 2): an instant at exactly 00:00 local ends the day before
    /// it, so it counts as one at 23:59:59 of that day does; one second later counts from its
    /// own day.
    #[test]
    fn an_event_at_midnight_ends_the_day_before_it_as_one_at_23_59_59_does() {
        let cal = calendar();
        let rule = DeadlineKind::Handoff.rule();
        let late = due(rule, almaty("2026-03-19 23:59:59"), ALMATY, &cal).unwrap();
        let midnight = due(rule, almaty("2026-03-20 00:00:00"), ALMATY, &cal).unwrap();
        let after = due(rule, almaty("2026-03-20 00:00:01"), ALMATY, &cal).unwrap();
        assert_eq!(local(late.at), "2026-03-20 12:00:00 Fri");
        assert_eq!(local(midnight.at), "2026-03-20 12:00:00 Fri");
        assert_eq!(local(after.at), "2026-03-26 12:00:00 Thu");
        let storage = DeadlineKind::Storage.rule();
        for start in ["2026-12-30 23:59:59", "2026-12-31 00:00:00"] {
            assert_eq!(
                local(due(storage, almaty(start), ALMATY, &cal).unwrap().at),
                "2027-01-03 00:00:00 Sun",
                "{start}"
            );
        }
        assert_eq!(
            local(
                due(storage, almaty("2026-12-31 00:00:01"), ALMATY, &cal)
                    .unwrap()
                    .at
            ),
            "2027-01-04 00:00:00 Mon"
        );
    }

    /// п.30, the order's own example (issue 22 item 2): placed on Friday 27 March 2026, storage
    /// ends at 24:00 of Monday 30 March (recorded as 00:00 of Tuesday 31 March); one working day
    /// from Monday makes the return due at 24:00 of Tuesday 31 March, not Wednesday 1 April.
    #[test]
    fn storage_ending_monday_midnight_makes_the_return_due_tuesday() {
        let cal = calendar();
        let storage = due(
            DeadlineKind::Storage.rule(),
            almaty("2026-03-27 15:00:00"),
            ALMATY,
            &cal,
        )
        .unwrap();
        assert_eq!(local(storage.at), "2026-03-31 00:00:00 Tue");
        assert_eq!(
            storage.last_day,
            NaiveDate::from_ymd_opt(2026, 3, 30).unwrap()
        );
        let ret = due(DeadlineKind::Return.rule(), storage.at, ALMATY, &cal).unwrap();
        assert_eq!(local(ret.at), "2026-04-01 00:00:00 Wed");
        assert_eq!(ret.last_day, NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    }

    #[test]
    fn the_last_day_is_the_day_that_ends_at_24_00() {
        let due = due(
            Rule::WorkingDays(3),
            almaty("2026-03-20 17:00:00"),
            ALMATY,
            &calendar(),
        )
        .unwrap();
        assert_eq!(due.last_day, NaiveDate::from_ymd_opt(2026, 3, 30).unwrap());
    }

    #[test]
    fn a_deadline_in_a_year_without_data_is_an_error() {
        let err = due(
            Rule::WorkingDays(3),
            almaty("2027-12-29 10:00:00"),
            ALMATY,
            &calendar(),
        );
        assert_eq!(err, Err(YearMissing(2028)));
    }

    #[test]
    fn rules_parse_from_names_and_forms() {
        assert_eq!(
            "handoff".parse::<Rule>().unwrap(),
            DeadlineKind::Handoff.rule()
        );
        assert_eq!(
            "working_days:5".parse::<Rule>().unwrap(),
            Rule::WorkingDays(5)
        );
        assert_eq!(
            "next_working_day_at:09:30".parse::<Rule>().unwrap(),
            Rule::NextWorkingDayAt(NaiveTime::from_hms_opt(9, 30, 0).unwrap())
        );
        for bad in [
            "",
            "fortnight",
            "working_days:0",
            "working_days:x",
            "months:500",
            "next_working_day_at:25:00",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad}");
        }
        for kind in DeadlineKind::ALL {
            assert_eq!(
                kind.rule().to_string().parse::<Rule>().unwrap(),
                kind.rule()
            );
        }
    }

    fn instant_2025_to_2027() -> impl Strategy<Value = DateTime<Utc>> {
        // 2025-01-01 .. 2027-11-01 local, to the second, leaving room for a later start (up to
        // 20 days) and the rules to land inside the seeded data.
        let from = almaty("2025-01-01 00:00:00").timestamp();
        let to = almaty("2027-11-01 00:00:00").timestamp();
        (from..to).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    fn any_rule() -> impl Strategy<Value = Rule> {
        prop_oneof![
            (0u32..24, 0u32..60).prop_map(|(h, m)| Rule::NextWorkingDayAt(
                NaiveTime::from_hms_opt(h, m, 0).unwrap()
            )),
            (1u32..6).prop_map(Rule::WorkingDays),
            (1u32..10).prop_map(Rule::CalendarDays),
            (1u32..3).prop_map(Rule::Months),
        ]
    }

    proptest! {
        #[test]
        fn a_working_day_result_always_lands_on_a_working_day(start in instant_2025_to_2027(), n in 1u32..6) {
            let cal = calendar();
            let d = due(Rule::WorkingDays(n), start, ALMATY, &cal).unwrap();
            prop_assert!(cal.is_working_day(d.last_day).unwrap());
            let at = due(DeadlineKind::Handoff.rule(), start, ALMATY, &cal).unwrap();
            prop_assert!(cal.is_working_day(at.last_day).unwrap());
            prop_assert!(at.at.with_timezone(&ALMATY).date_naive().weekday().num_days_from_monday() < 7);
        }

        #[test]
        fn results_never_move_backwards_when_the_start_moves_forward(
            start in instant_2025_to_2027(),
            step in 0i64..(20 * 24 * 3600),
            rule in any_rule(),
        ) {
            let cal = calendar();
            let a = due(rule, start, ALMATY, &cal).unwrap();
            let b = due(rule, start + Duration::seconds(step), ALMATY, &cal).unwrap();
            prop_assert!(b.at >= a.at, "{rule}: {} then {}", a.at, b.at);
            prop_assert!(a.at > start, "a deadline is after its start");
        }

        #[test]
        fn one_more_working_day_is_always_later(start in instant_2025_to_2027(), n in 1u32..6) {
            let cal = calendar();
            let a = due(Rule::WorkingDays(n), start, ALMATY, &cal).unwrap();
            let b = due(Rule::WorkingDays(n + 1), start, ALMATY, &cal).unwrap();
            prop_assert!(b.at > a.at);
        }
    }
}
