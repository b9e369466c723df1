//! The SLA report (DOMAIN.md §5): per branch and kind of deadline, those falling due in a period
//! met on time, met late, breached and still open, with the side that answers for each one
//! missed. The API's report, the console's page and `postamat simulate`'s `sla.csv`.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::report::{self, SlaCounts};
use crate::domain::calendar::Calendar;
use crate::domain::deadline::DeadlineKind;
use crate::domain::shipment::Side;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One line of the SLA report: how one branch did on one kind of deadline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaLine {
    pub branch: String,
    pub deadline: DeadlineKind,
    pub met_on_time: i64,
    pub met_late: i64,
    /// Passed unmet and not met since.
    pub breached_open: i64,
    /// Not yet due (or due but not swept yet).
    pub pending: i64,
    /// Ended by a loss or cancellation.
    pub cancelled: i64,
    /// Of the met late and breached: those the State Corporation answers for, by where the
    /// document was at the due instant (DOMAIN.md §5; п.36).
    pub missed_by_state_corporation: i64,
    /// … those Kaspi answers for.
    pub missed_by_kaspi: i64,
    /// … those the registry office answers for (the document was still there).
    pub missed_by_registry_office: i64,
}

impl From<SlaCounts> for SlaLine {
    fn from(c: SlaCounts) -> Self {
        let by = |side| c.missed_by.get(&side).copied().unwrap_or(0);
        SlaLine {
            missed_by_state_corporation: by(Side::StateCorporation),
            missed_by_kaspi: by(Side::Kaspi),
            missed_by_registry_office: by(Side::RegistryOffice),
            branch: c.branch,
            deadline: c.deadline,
            met_on_time: c.met_on_time,
            met_late: c.met_late,
            breached_open: c.breached_open,
            pending: c.pending,
            cancelled: c.cancelled,
        }
    }
}

/// The report as CSV (header line first); also `postamat simulate`'s `sla.csv`.
pub fn sla_csv(lines: &[SlaLine]) -> String {
    let mut out = String::from(
        "branch,deadline,met_on_time,met_late,breached_open,pending,cancelled,\
         missed_by_state_corporation,missed_by_kaspi,missed_by_registry_office\n",
    );
    for l in lines {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            l.branch,
            l.deadline.as_str(),
            l.met_on_time,
            l.met_late,
            l.breached_open,
            l.pending,
            l.cancelled,
            l.missed_by_state_corporation,
            l.missed_by_kaspi,
            l.missed_by_registry_office
        ));
    }
    out
}

/// A report's period refused: more than a year, backwards, or outside 2000–2100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("from must not be after to, the period at most a year, and both in the years 2000 to 2100")]
pub struct PeriodRefused;

/// The instants of the days `first` to `last` (Almaty), if the period is one a report reads.
pub fn period(
    first: NaiveDate,
    last: NaiveDate,
) -> Result<(DateTime<Utc>, DateTime<Utc>), PeriodRefused> {
    if last < first
        || (last - first).num_days() > 366
        || !(2000..=2100).contains(&first.year())
        || !(2000..=2100).contains(&last.year())
    {
        return Err(PeriodRefused);
    }
    report::sla_period(first, last).ok_or(PeriodRefused)
}

/// The SLA report's lines for the days `first` to `last` (Almaty), as the scope may see them,
/// judged at `now`.
pub fn lines(
    conn: &mut DbConnection,
    scope: &BranchScope,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> diesel::QueryResult<Vec<SlaLine>> {
    Ok(report::sla(conn, scope, from, to, now, calendar)?
        .into_iter()
        .map(SlaLine::from)
        .collect())
}

/// How a report is answered.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Json,
    Csv,
}
