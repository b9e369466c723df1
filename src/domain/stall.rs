//! Steps nobody has taken (issue 23): where a document, an act or a registry waits for its next
//! step, how long that step may wait, and which side must take it. The order names a term for
//! some (п.6–7, 17, 24, 32); where it names none, the term is ours and written here.

use crate::domain::calendar::Calendar;
use crate::domain::deadline::{Rule, due};
use crate::domain::registry::RegistryState;
use crate::domain::shipment::{ShipmentState, Side};
use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;

/// A step that is late once its term has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// An application the registry office has not executed within its term, in working days
    /// (the service's Rules no. 112; a setting).
    ExecutionOverdue { working_days: u32 },
    /// Lost, and the loss act not drawn (п.24): 1 working day.
    LossActNotDrawn,
    /// The act drawn, and the registry office has not cancelled (п.24): 3 working days.
    CancellationAwaited,
    /// Executed, and not taken in by the accumulation sector (п.6–7): by the end of the next
    /// working day.
    NotTakenIn,
    /// Back at the Kaspi point, and no return pickup registry (п.32): by the end of the next
    /// working day.
    ReturnRegistryNotFormed,
    /// A handoff registry drafted and not sealed: by the end of its day.
    RegistryNotSealed,
    /// A handoff registry sealed and not signed for: by 12:00 of the next working day (п.17).
    RegistryNotHandedOver,
    /// Cancelled after its loss, and no free duplicate requested (п.25–26): the notice asks
    /// the citizen to come within 3 working days; after them the issuance sector follows up.
    DuplicateNotRequested,
}

/// What waits, and since when (the read side finds the rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waits {
    /// An application awaiting execution, since it was submitted.
    AwaitingExecution,
    /// A document in this state, since it entered it.
    InState(ShipmentState),
    /// A loss act still recorded (since the loss), or drawn (since its drawing) while its
    /// document is still lost.
    LossAct { drawn: bool },
    /// A Kaspi handoff registry in this state (a draft since drawn, a sealed one since sealed).
    Registry(RegistryState),
    /// An original cancelled after its loss with no duplicate of its application, since the
    /// cancellation.
    NoDuplicate,
}

/// How long a step may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Rule(Rule),
    /// Until 24:00 of the day it began.
    EndOfDay,
}

impl Stall {
    pub fn waits(self) -> Waits {
        match self {
            Stall::ExecutionOverdue { .. } => Waits::AwaitingExecution,
            Stall::LossActNotDrawn => Waits::LossAct { drawn: false },
            Stall::CancellationAwaited => Waits::LossAct { drawn: true },
            Stall::NotTakenIn => Waits::InState(ShipmentState::ReadyAtRegistryOffice),
            Stall::ReturnRegistryNotFormed => Waits::InState(ShipmentState::ReturnedToKaspiPoint),
            Stall::RegistryNotSealed => Waits::Registry(RegistryState::Draft),
            Stall::RegistryNotHandedOver => Waits::Registry(RegistryState::Sealed),
            Stall::DuplicateNotRequested => Waits::NoDuplicate,
        }
    }

    pub fn term(self) -> Term {
        match self {
            Stall::ExecutionOverdue { working_days } => Term::Rule(Rule::WorkingDays(working_days)),
            Stall::LossActNotDrawn | Stall::NotTakenIn | Stall::ReturnRegistryNotFormed => {
                Term::Rule(Rule::WorkingDays(1))
            }
            Stall::CancellationAwaited | Stall::DuplicateNotRequested => {
                Term::Rule(Rule::WorkingDays(3))
            }
            Stall::RegistryNotSealed => Term::EndOfDay,
            Stall::RegistryNotHandedOver => Term::Rule(Rule::NextWorkingDayAt(
                NaiveTime::from_hms_opt(12, 0, 0).expect("noon"),
            )),
        }
    }

    /// The side that must take the step: the registry office cancels (п.24); every other step
    /// is the State Corporation's (its courier collects from the registry office, п.6; its
    /// accumulation sector draws acts and registries, п.13, 24, 32).
    pub fn side(self) -> Side {
        match self {
            Stall::ExecutionOverdue { .. } | Stall::CancellationAwaited => Side::RegistryOffice,
            _ => Side::StateCorporation,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Stall::ExecutionOverdue { .. } => {
                "awaiting execution by the registry office beyond its term (Rules no. 112)"
            }
            Stall::LossActNotDrawn => "lost; the loss act is not drawn (п.24)",
            Stall::CancellationAwaited => {
                "the loss act is drawn; the registry office has not cancelled the application (п.24)"
            }
            Stall::NotTakenIn => "executed; not taken in by the accumulation sector (п.6–7)",
            Stall::ReturnRegistryNotFormed => {
                "back at the Kaspi point; no return pickup registry formed (п.32)"
            }
            Stall::RegistryNotSealed => {
                "handoff registry drafted; not sealed by the end of its day"
            }
            Stall::RegistryNotHandedOver => {
                "handoff registry sealed; not signed for by the State courier by 12:00 of the next working day (п.17)"
            }
            Stall::DuplicateNotRequested => {
                "cancelled after its loss; no free duplicate requested 3 working days after the notice (п.25–26)"
            }
        }
    }

    /// When a wait that began at `since` (in a branch of zone `tz`) becomes a late step; `None`
    /// when the calendar lacks the year (it is then not judged).
    pub fn late_from(
        self,
        since: DateTime<Utc>,
        tz: Tz,
        calendar: &Calendar,
    ) -> Option<DateTime<Utc>> {
        match self.term() {
            Term::Rule(rule) => due(rule, since, tz, calendar).ok().map(|d| d.at),
            Term::EndOfDay => {
                let next = since.with_timezone(&tz).date_naive().succ_opt()?;
                next.and_time(NaiveTime::MIN)
                    .and_local_timezone(tz)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::rules::generate;
    use chrono::{NaiveDate, TimeZone};

    /// Monday 23 November 2026, 10:00 in Almaty.
    #[test]
    fn each_step_has_its_term_in_working_days_or_hours() {
        let cal = Calendar::new(1, [generate(2026, NaiveDate::from_ymd_opt(2026, 5, 27))]);
        let tz = chrono_tz::Asia::Almaty;
        let since = tz
            .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
            .unwrap()
            .to_utc();
        let local = |s: Stall| {
            s.late_from(since, tz, &cal)
                .unwrap()
                .with_timezone(&tz)
                .format("%a %d %H:%M")
                .to_string()
        };
        assert_eq!(local(Stall::NotTakenIn), "Wed 25 00:00");
        assert_eq!(local(Stall::CancellationAwaited), "Fri 27 00:00");
        assert_eq!(local(Stall::RegistryNotSealed), "Tue 24 00:00");
        assert_eq!(local(Stall::RegistryNotHandedOver), "Tue 24 12:00");
        assert_eq!(
            local(Stall::ExecutionOverdue { working_days: 3 }),
            "Fri 27 00:00"
        );
    }
}
