//! The calendar and the force-majeure periods at one moment: everything a deadline is computed
//! with, held in memory so that computing one never touches the database.

use super::Calendar;
use crate::domain::force_majeure::{ForceMajeure, Suspension};
use crate::domain::ids::BranchId;

#[derive(Debug, Clone)]
pub struct CalendarSnapshot {
    pub calendar: Calendar,
    pub force_majeure: Vec<ForceMajeure>,
}

impl CalendarSnapshot {
    /// The suspensions that cover a branch (`None`: national ones only).
    pub fn suspensions_for(&self, branch: Option<BranchId>) -> Vec<Suspension> {
        self.force_majeure
            .iter()
            .filter(|p| p.covers(branch))
            .map(|p| p.suspension)
            .collect()
    }
}
