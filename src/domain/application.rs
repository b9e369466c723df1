//! An application (п.3–5): what the citizen asked for, and the registry office's status of it.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The days (in the branch's local time) on which postamat delivery may be chosen. The order
/// "вводится в действие по истечении десяти календарных дней после дня его первого официального
/// опубликования и действует до 31 декабря 2026 года" (order п.6): both ends are settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PilotWindow {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

impl PilotWindow {
    /// The first instant after the pilot in a branch of zone `tz`: 00:00 of the day after its
    /// last day (order п.6, "действует до 31 декабря 2026 года").
    pub fn ends_at(self, tz: Tz) -> DateTime<Utc> {
        let next = self.ends_on.succ_opt().unwrap_or(self.ends_on);
        next.and_time(NaiveTime::MIN)
            .and_local_timezone(tz)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| next.and_time(NaiveTime::MIN).and_utc())
    }

    /// Whether the pilot is over at `at` in a branch of zone `tz`.
    pub fn is_over(self, at: DateTime<Utc>, tz: Tz) -> bool {
        at >= self.ends_at(tz)
    }

    /// Why an application submitted on `day` may not choose a postamat, if it may not.
    pub fn refuses(self, day: NaiveDate) -> Option<String> {
        if day < self.starts_on {
            Some(format!(
                "postamat delivery is offered from {}; the application was submitted on {day}",
                self.starts_on
            ))
        } else if day > self.ends_on {
            Some(format!(
                "postamat delivery is offered until {}; the application was submitted on {day}",
                self.ends_on
            ))
        } else {
            None
        }
    }
}

/// The registry office's status of an application (п.5, 8, 24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    AwaitingExecution,
    Executed,
    Refused,
    Cancelled,
}

names!(ApplicationStatus {
    AwaitingExecution => "awaiting_execution",
    Executed => "executed",
    Refused => "refused",
    Cancelled => "cancelled",
});

/// Why a citizen's way of delivery changes before placement (issue 23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryChangeReason {
    /// The citizen asked (in the Kaspi app, or at the ЦОН).
    CitizenRequest,
    /// The chosen postamat is out of service.
    PostamatOutOfService,
    /// The pilot ended (order п.6) before the document was handed to the State courier for
    /// Kaspi: it is issued at the ЦОН (issue 25).
    PilotEnded,
}

names!(DeliveryChangeReason {
    CitizenRequest => "citizen_request",
    PostamatOutOfService => "postamat_out_of_service",
    PilotEnded => "pilot_ended",
});

impl ApplicationStatus {
    /// Issue 23, п.3–4: the way of delivery may change while a document is still to come or on
    /// its way: not once the application was refused or cancelled (a duplicate is issued at
    /// the ЦОН, п.26).
    pub fn delivery_may_change(self) -> bool {
        matches!(
            self,
            ApplicationStatus::AwaitingExecution | ApplicationStatus::Executed
        )
    }
}

/// The final status the registry office gives an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinalStatus {
    /// Executed: the certificate exists and waits for the State courier (п.6, 8).
    Executed,
    /// Refused: no document will be delivered.
    Refused,
    /// Cancelled after the document was lost and its loss act received (п.24): the citizen is
    /// told how to get a free duplicate (п.25).
    Cancelled,
}

names!(FinalStatus {
    Executed => "executed",
    Refused => "refused",
    Cancelled => "cancelled",
});

impl ApplicationStatus {
    /// п.5, 8: an application awaiting execution takes the registry office's final status once;
    /// a cancellation comes only after a loss (п.24), which the shipment decides.
    pub fn after(self, status: FinalStatus) -> Option<ApplicationStatus> {
        match (self, status) {
            (ApplicationStatus::AwaitingExecution, FinalStatus::Executed) => {
                Some(ApplicationStatus::Executed)
            }
            (ApplicationStatus::AwaitingExecution, FinalStatus::Refused) => {
                Some(ApplicationStatus::Refused)
            }
            (_, FinalStatus::Cancelled) => Some(ApplicationStatus::Cancelled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Order п.6: in force until 31 December 2026 — to 24:00 of that day in the branch's zone.
    #[test]
    fn the_pilot_is_over_from_midnight_after_its_last_day() {
        let pilot = PilotWindow {
            starts_on: NaiveDate::from_ymd_opt(2026, 2, 13).unwrap(),
            ends_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        };
        let almaty = chrono_tz::Asia::Almaty;
        let end: DateTime<Utc> = "2026-12-31T19:00:00Z".parse().unwrap();
        assert_eq!(pilot.ends_at(almaty), end);
        assert!(!pilot.is_over(end - chrono::Duration::seconds(1), almaty));
        assert!(pilot.is_over(end, almaty));
    }

    #[test]
    fn a_final_status_is_given_once_and_a_cancellation_waits_for_the_loss() {
        use ApplicationStatus as A;
        use FinalStatus as F;
        assert_eq!(A::AwaitingExecution.after(F::Executed), Some(A::Executed));
        assert_eq!(A::AwaitingExecution.after(F::Refused), Some(A::Refused));
        assert_eq!(A::Executed.after(F::Executed), None);
        assert_eq!(A::Refused.after(F::Executed), None);
        assert_eq!(A::Executed.after(F::Cancelled), Some(A::Cancelled));
        for status in A::ALL {
            assert_eq!(A::parse(status.as_str()), Some(status));
        }
    }

    /// Issue 22 item 10 (order п.6): the window has a start as well as an end, both inclusive.
    #[test]
    fn the_pilot_window_refuses_days_before_its_start_and_after_its_end() {
        let day = |d: u32, m: u32, y: i32| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let window = PilotWindow {
            starts_on: day(13, 2, 2026),
            ends_on: day(31, 12, 2026),
        };
        assert_eq!(window.refuses(day(13, 2, 2026)), None);
        assert_eq!(window.refuses(day(31, 12, 2026)), None);
        assert_eq!(
            window.refuses(day(12, 2, 2026)).as_deref(),
            Some(
                "postamat delivery is offered from 2026-02-13; the application was submitted on 2026-02-12"
            )
        );
        assert!(window.refuses(day(1, 1, 2027)).is_some());
    }
}
