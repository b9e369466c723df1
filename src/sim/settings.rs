//! What a run is asked to simulate: its period, branches, volume, seed and the rates of
//! what goes wrong, and the force-majeure periods to declare.

use super::local;
use super::model::Rates;
use crate::config::DispatchConfig;
use crate::domain::application::PilotWindow;
use crate::domain::reference::BranchCode;
use anyhow::{anyhow, bail};
use chrono::{DateTime, Days, NaiveDate, Utc};
use std::str::FromStr;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Settings {
    pub from: NaiveDate,
    pub days: u32,
    pub branches: Vec<BranchCode>,
    /// Applications a day, over all branches (split evenly).
    pub per_day: u32,
    pub seed: u64,
    pub rates: Rates,
    pub force_majeure: Vec<ForceMajeureSpec>,
    /// The days postamat delivery may be chosen (the service's settings, order п.6).
    pub pilot: PilotWindow,
    /// How the dispatcher delivers: quiet hours, attempts (gateways are never used: the run's
    /// messages go to the local sink).
    pub dispatch: DispatchConfig,
    /// Lanes on PostgreSQL: the branches are dealt out to this many connections, which act
    /// side by side between the run's shared moments. The outcome does not depend on it.
    /// SQLite runs one lane.
    pub lanes: u32,
}

impl Settings {
    /// The first instant after the period (midnight, Almaty).
    pub fn end(&self) -> DateTime<Utc> {
        local(self.from + Days::new(u64::from(self.days)), 0, 0)
    }

    /// The period's last day.
    pub fn last_day(&self) -> NaiveDate {
        self.from + Days::new(u64::from(self.days.max(1)) - 1)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        self.rates.check().map_err(|e| anyhow!(e))?;
        if self.days == 0 || self.days > 366 {
            bail!("--days must be from 1 to 366, got {}", self.days);
        }
        if self.branches.is_empty() {
            bail!("--branches names no branch");
        }
        if !(1..=16).contains(&self.lanes) {
            bail!("--lanes must be from 1 to 16, got {}", self.lanes);
        }
        if self.per_day == 0 {
            bail!("--per-day must be at least 1");
        }
        if self.last_day() > self.pilot.ends_on {
            bail!(
                "the period ends on {}, after the pilot window (postamat delivery until {}, \
                 POSTAMAT_PILOT_ENDS_ON): simulate an earlier period or move the window",
                self.last_day(),
                self.pilot.ends_on
            );
        }
        if self.from < self.pilot.starts_on {
            bail!(
                "the period starts on {}, before the pilot window (postamat delivery from {}, \
                 POSTAMAT_PILOT_STARTS_ON): simulate a later period or move the window",
                self.from,
                self.pilot.starts_on
            );
        }
        for fm in &self.force_majeure {
            if !self.branches.contains(&fm.branch) {
                bail!(
                    "--force-majeure names {}, which is not simulated",
                    fm.branch
                );
            }
        }
        Ok(())
    }
}

/// A force-majeure period of one branch, whole days: `ALM01:2026-03-10..2026-03-11`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForceMajeureSpec {
    pub branch: BranchCode,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl FromStr for ForceMajeureSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage =
            || format!("'{s}': expected BRANCH:FIRST..LAST, e.g. ALM01:2026-03-10..2026-03-11");
        let (branch, days) = s.split_once(':').ok_or_else(usage)?;
        let (first, last) = days.split_once("..").ok_or_else(usage)?;
        let spec = ForceMajeureSpec {
            branch: branch.parse().map_err(|e| format!("{}: {e}", usage()))?,
            first: first.parse().map_err(|_| usage())?,
            last: last.parse().map_err(|_| usage())?,
        };
        if spec.last < spec.first {
            return Err(format!("'{s}': the last day is before the first"));
        }
        Ok(spec)
    }
}

impl ForceMajeureSpec {
    pub(super) fn starts(&self) -> DateTime<Utc> {
        local(self.first, 0, 0)
    }

    pub(super) fn ends(&self) -> DateTime<Utc> {
        local(self.last + Days::new(1), 0, 0)
    }
}
