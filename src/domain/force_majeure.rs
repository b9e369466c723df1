//! Force majeure (п.37–38): obligations are suspended while the circumstances last and the
//! deadlines are extended by the same period.
//!
//! Our reading, as a pure function of a deadline and the suspensions covering its branch:
//! - a deadline still pending when a suspension starts is extended by the suspension's length
//!   (the time left at its start resumes when it ends);
//! - a deadline whose counting would start inside a suspension starts counting when it ends;
//! - while a suspension is open-ended, a deadline it covers has no due instant yet.
//!
//! Overlapping suspensions (a national one and a branch one) are merged first, so the same
//! hours never extend a deadline twice.

use crate::domain::calendar::{Calendar, YearMissing};
use crate::domain::deadline::{DeadlineKind, Due, Rule, due};
use crate::domain::ids::{BranchId, PeriodId};
use crate::domain::reference::BranchTimeZone;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// A recorded force-majeure period, as deadlines see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForceMajeure {
    pub id: PeriodId,
    /// `None`: the whole country.
    pub branch: Option<BranchId>,
    pub suspension: Suspension,
}

impl ForceMajeure {
    /// Whether it covers a branch (`None`: only national periods count).
    pub fn covers(&self, branch: Option<BranchId>) -> bool {
        self.branch.is_none() || self.branch == branch
    }
}

/// A period of suspension: `end` is `None` while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suspension {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// A deadline after force majeure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extended {
    /// Due at this instant (the original one if no suspension touched it).
    Due(Due),
    /// Covered by a suspension that has not ended: no due instant until it does.
    Suspended { since: DateTime<Utc> },
}

/// Sorted, merged suspensions; an open-ended one absorbs everything after it.
fn merge(suspensions: &[Suspension]) -> Vec<Suspension> {
    let mut sorted: Vec<Suspension> = suspensions
        .iter()
        .copied()
        .filter(|s| s.end.is_none_or(|end| end > s.start))
        .collect();
    sorted.sort_by_key(|s| s.start);
    let mut merged: Vec<Suspension> = Vec::with_capacity(sorted.len());
    for s in sorted {
        match merged.last_mut() {
            Some(last) if last.end.is_none_or(|end| s.start <= end) => {
                last.end = match (last.end, s.end) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            _ => merged.push(s),
        }
    }
    merged
}

/// The deadline of `rule` started at `start`, extended by the suspensions covering it.
pub fn extended_due(
    rule: Rule,
    start: DateTime<Utc>,
    tz: Tz,
    calendar: &Calendar,
    suspensions: &[Suspension],
) -> Result<Extended, YearMissing> {
    let mut current = due(rule, start, tz, calendar)?;
    let mut counting_from = start;
    for suspension in merge(suspensions) {
        let ended_before_counting = suspension.end.is_some_and(|end| end <= counting_from);
        if ended_before_counting {
            continue;
        }
        if suspension.start >= current.at {
            // The deadline had already fallen due: nothing pending to extend.
            break;
        }
        let Some(end) = suspension.end else {
            return Ok(Extended::Suspended {
                since: suspension.start.max(counting_from),
            });
        };
        if suspension.start <= counting_from {
            // Counting would start inside the suspension: it starts when the suspension ends.
            counting_from = end;
            current = due(rule, end, tz, calendar)?;
        } else {
            current.at += end - suspension.start;
        }
    }
    Ok(Extended::Due(current))
}

/// п.38–39: the responsible bodies are notified within 3 working days of the start (counted in
/// the national zone, as periods may be national); without timely notice the circumstances
/// cannot be relied on.
pub fn notice_due(starts_at: DateTime<Utc>, calendar: &Calendar) -> Result<Due, YearMissing> {
    due(
        DeadlineKind::ForceMajeureNotice.rule(),
        starts_at,
        BranchTimeZone::default().tz(),
        calendar,
    )
}

/// п.38–39: where a period's notice stands. "Отсутствие своевременного уведомления … лишает
/// возможности ссылаться на них": a period noticed after its 3 working days, or not at all once
/// they have passed, cannot be invoked. The branch was still closed, so its deadlines keep the
/// operational extension (the sweeper does not chase a closed branch); the SLA judges the
/// deadlines it moved against their original due times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStanding {
    /// Recorded by the end of its last day.
    InTime { last_day: NaiveDate },
    /// Not recorded yet; its last day has not passed.
    Awaited { last_day: NaiveDate },
    /// Recorded after its last day, on the `late_by`-th working day after it.
    Late { last_day: NaiveDate, late_by: u32 },
    /// Not recorded, `late_by` working days after its last day (so far).
    Missing { last_day: NaiveDate, late_by: u32 },
}

impl NoticeStanding {
    /// Whether the period may be relied on (one still awaited may yet be noticed in time).
    pub fn invocable(self) -> bool {
        matches!(
            self,
            NoticeStanding::InTime { .. } | NoticeStanding::Awaited { .. }
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStanding::InTime { .. } => "in_time",
            NoticeStanding::Awaited { .. } => "awaited",
            NoticeStanding::Late { .. } => "late",
            NoticeStanding::Missing { .. } => "missing",
        }
    }

    /// The last day of the 3 working days (п.38).
    pub fn last_day(self) -> NaiveDate {
        match self {
            NoticeStanding::InTime { last_day }
            | NoticeStanding::Awaited { last_day }
            | NoticeStanding::Late { last_day, .. }
            | NoticeStanding::Missing { last_day, .. } => last_day,
        }
    }

    /// Working days the notice is (or was) late by; `None` while it is not late.
    pub fn late_by(self) -> Option<u32> {
        match self {
            NoticeStanding::Late { late_by, .. } | NoticeStanding::Missing { late_by, .. } => {
                Some(late_by)
            }
            NoticeStanding::InTime { .. } | NoticeStanding::Awaited { .. } => None,
        }
    }

    /// What the period's record says about it.
    pub fn describe(self) -> String {
        let days = |n: u32| {
            if n == 1 {
                "working day"
            } else {
                "working days"
            }
        };
        match self {
            NoticeStanding::InTime { .. } => "invocable, notice recorded in time (п.38)".into(),
            NoticeStanding::Awaited { last_day } => {
                format!("notice due by the end of {last_day} (п.38)")
            }
            NoticeStanding::Late { late_by, .. } => format!(
                "not invocable, notice late by {late_by} {} (п.39)",
                days(late_by)
            ),
            NoticeStanding::Missing { last_day, late_by } => format!(
                "not invocable, no notice recorded; due by the end of {last_day}, late by {late_by} {} (п.39)",
                days(late_by)
            ),
        }
    }
}

/// Where the notice of a period that started at `starts_at` stands at `now`, recorded at
/// `recorded_at` if it was. Lateness is counted in working days after the last day up to the
/// day of the notice (or today), at least 1: a notice on a day off after the last day is as
/// late as one on the next working day.
pub fn notice_standing(
    starts_at: DateTime<Utc>,
    recorded_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> Result<NoticeStanding, YearMissing> {
    let due = notice_due(starts_at, calendar)?;
    let last_day = due.last_day;
    let late_by = |at: DateTime<Utc>| -> Result<u32, YearMissing> {
        let day = at
            .with_timezone(&BranchTimeZone::default().tz())
            .date_naive();
        let mut count = 0;
        let mut next = calendar.next_working_day(last_day)?;
        while next <= day {
            count += 1;
            next = calendar.next_working_day(next)?;
        }
        Ok(count.max(1))
    };
    Ok(match recorded_at {
        Some(at) if at <= due.at => NoticeStanding::InTime { last_day },
        Some(at) => NoticeStanding::Late {
            last_day,
            late_by: late_by(at)?,
        },
        None if now <= due.at => NoticeStanding::Awaited { last_day },
        None => NoticeStanding::Missing {
            last_day,
            late_by: late_by(now)?,
        },
    })
}

/// What force majeure does to one deadline (п.37): the one decision every path takes — when a
/// deadline starts, when a period is recorded or ended, when the sweeper finds it due, and in
/// the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing covers it: it stays due at `current`.
    Keep,
    /// A period that has ended extends it: due at this instant instead.
    MoveTo(Due),
    /// An open-ended period covers it: no due instant until the period ends; it waits.
    Hold { since: DateTime<Utc> },
}

/// Decides for the deadline of `rule` started at `start`, now due at `current`.
pub fn decide(
    rule: Rule,
    start: DateTime<Utc>,
    current: DateTime<Utc>,
    tz: Tz,
    calendar: &Calendar,
    suspensions: &[Suspension],
) -> Result<Decision, YearMissing> {
    if suspensions.is_empty() {
        return Ok(Decision::Keep);
    }
    Ok(
        match extended_due(rule, start, tz, calendar, suspensions)? {
            Extended::Due(extended) if extended.at == current => Decision::Keep,
            Extended::Due(extended) => Decision::MoveTo(extended),
            Extended::Suspended { since } => Decision::Hold { since },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::rules::generate;
    use crate::domain::deadline::DeadlineKind;
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};

    const ALMATY: Tz = chrono_tz::Asia::Almaty;

    fn calendar() -> Calendar {
        Calendar::new(1, [generate(2026, NaiveDate::from_ymd_opt(2026, 5, 27))])
    }

    fn almaty(s: &str) -> DateTime<Utc> {
        ALMATY
            .from_local_datetime(&NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
            .unwrap()
            .with_timezone(&Utc)
    }

    fn local(e: Extended) -> String {
        match e {
            Extended::Due(d) => {
                d.at.with_timezone(&ALMATY)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            }
            Extended::Suspended { since } => format!(
                "suspended since {}",
                since.with_timezone(&ALMATY).format("%Y-%m-%d %H:%M")
            ),
        }
    }

    fn period(start: &str, end: Option<&str>) -> Suspension {
        Suspension {
            start: almaty(start),
            end: end.map(almaty),
        }
    }

    fn handoff(start: &str, suspensions: &[Suspension]) -> String {
        local(
            extended_due(
                DeadlineKind::Handoff.rule(),
                almaty(start),
                ALMATY,
                &calendar(),
                suspensions,
            )
            .unwrap(),
        )
    }

    /// Issue 22 item 5 (п.38–39): a period starting Monday 2 November 2026 must be noticed by
    /// the end of Thursday 5 November. Noticed on Friday 6 it is late by 1 working day; on
    /// Monday 9 (after the weekend) by 2; on Saturday 7 by 1; never noticed, on Tuesday 10, by 3.
    #[test]
    fn a_notice_after_its_three_working_days_makes_the_period_not_invocable() {
        let cal = calendar();
        let starts = almaty("2026-11-02 09:00");
        let standing = |recorded: Option<&str>, now: &str| {
            notice_standing(starts, recorded.map(almaty), almaty(now), &cal).unwrap()
        };
        let last_day = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap();
        assert_eq!(
            standing(Some("2026-11-05 23:59"), "2026-11-20 00:00"),
            NoticeStanding::InTime { last_day }
        );
        assert_eq!(
            standing(None, "2026-11-06 00:00"),
            NoticeStanding::Awaited { last_day },
            "00:00 of Friday ends Thursday"
        );
        for (recorded, late_by) in [
            ("2026-11-06 10:00", 1),
            ("2026-11-07 10:00", 1),
            ("2026-11-09 10:00", 2),
        ] {
            let late = standing(Some(recorded), "2026-11-20 00:00");
            assert_eq!(
                late,
                NoticeStanding::Late { last_day, late_by },
                "{recorded}"
            );
            assert!(!late.invocable());
        }
        assert_eq!(
            standing(Some("2026-11-06 10:00"), "2026-11-20 00:00").describe(),
            "not invocable, notice late by 1 working day (п.39)"
        );
        let missing = standing(None, "2026-11-10 12:00");
        assert_eq!(
            missing,
            NoticeStanding::Missing {
                last_day,
                late_by: 3
            }
        );
        assert!(!missing.invocable());
        assert!(standing(None, "2026-11-04 12:00").invocable());
    }

    #[test]
    fn a_pending_deadline_is_extended_by_the_suspension_length() {
        // Intake Mon 2 Nov 2026 10:00 → due Tue 3 Nov 12:00; a flood stops work Tue 08:00–14:00.
        assert_eq!(handoff("2026-11-02 10:00", &[]), "2026-11-03 12:00");
        assert_eq!(
            handoff(
                "2026-11-02 10:00",
                &[period("2026-11-03 08:00", Some("2026-11-03 14:00"))]
            ),
            "2026-11-03 18:00"
        );
    }

    #[test]
    fn a_deadline_starting_inside_a_suspension_counts_from_its_end() {
        // Intake during a suspension that ends Wed 4 Nov 09:00 → 12:00 of the next working day
        // after Wed, Thu 5 Nov.
        assert_eq!(
            handoff(
                "2026-11-02 10:00",
                &[period("2026-11-02 09:00", Some("2026-11-04 09:00"))]
            ),
            "2026-11-05 12:00"
        );
    }

    #[test]
    fn suspensions_before_or_after_the_deadline_change_nothing() {
        let before = period("2026-10-01 00:00", Some("2026-10-02 00:00"));
        let after = period("2026-11-03 12:00", Some("2026-11-06 00:00"));
        assert_eq!(
            handoff("2026-11-02 10:00", &[before, after]),
            "2026-11-03 12:00"
        );
    }

    #[test]
    fn overlapping_national_and_branch_suspensions_count_once() {
        let national = period("2026-11-03 08:00", Some("2026-11-03 14:00"));
        let branch = period("2026-11-03 10:00", Some("2026-11-03 16:00"));
        // Merged: 08:00–16:00, 8 hours.
        assert_eq!(
            handoff("2026-11-02 10:00", &[branch, national]),
            "2026-11-03 20:00"
        );
    }

    #[test]
    fn an_extension_that_reaches_a_later_suspension_is_extended_again() {
        let first = period("2026-11-03 08:00", Some("2026-11-03 14:00")); // → 18:00
        let second = period("2026-11-03 16:00", Some("2026-11-03 17:00")); // → 19:00
        assert_eq!(
            handoff("2026-11-02 10:00", &[second, first]),
            "2026-11-03 19:00"
        );
    }

    #[test]
    fn an_open_ended_suspension_leaves_the_deadline_without_a_due_instant() {
        assert_eq!(
            handoff("2026-11-02 10:00", &[period("2026-11-03 08:00", None)]),
            "suspended since 2026-11-03 08:00"
        );
        assert_eq!(
            handoff("2026-11-02 10:00", &[period("2026-11-01 08:00", None)]),
            "suspended since 2026-11-02 10:00"
        );
    }

    #[test]
    fn one_decision_keeps_moves_or_holds_a_deadline() {
        let rule = DeadlineKind::Handoff.rule();
        let start = almaty("2026-11-02 10:00");
        let plain = almaty("2026-11-03 12:00");
        let decide = |current, suspensions: &[Suspension]| {
            decide(rule, start, current, ALMATY, &calendar(), suspensions).unwrap()
        };
        assert_eq!(decide(plain, &[]), Decision::Keep);
        let flood = period("2026-11-03 08:00", Some("2026-11-03 14:00"));
        let Decision::MoveTo(moved) = decide(plain, &[flood]) else {
            panic!("an ended period moves the deadline");
        };
        assert_eq!(moved.at, almaty("2026-11-03 18:00"));
        assert_eq!(decide(moved.at, &[flood]), Decision::Keep, "already moved");
        assert_eq!(
            decide(plain, &[period("2026-11-03 08:00", None)]),
            Decision::Hold {
                since: almaty("2026-11-03 08:00")
            }
        );
    }
}
