//! What supervisors and operators read across the service: the exception queue's sources, the
//! SLA counts, the backlog, and whole-history passes; each a file.

mod backlog;
mod history;
mod queue;
mod sla;

pub use backlog::{Backlog, Depth, OutboxLine, backlog, depth};
pub use history::{
    BranchEvent, Handover, Move, ShipmentNow, events_by_branch, for_each_move_between,
    for_each_shipments_page, for_each_submission_between, handovers, moves_of, shipments_now,
};
pub use queue::{
    Overdue, Waiting, awaiting_execution, cancelled_without_duplicate, loss_acts_waiting, overdue,
    registries_waiting, waiting_in_state,
};
pub use sla::{SlaCounts, sla, sla_period};

use crate::domain::ids::BranchId;
use chrono::{DateTime, Utc};

/// The sweeper's note on a deadline a force-majeure period holds back: a wait, not a failure.
pub const SUSPENDED_NOTE: &str = "suspended by force majeure";

/// Which items of the exception queue one read returns (security review, issue 28 finding 6:
/// every call read the whole national backlog before filtering). Each source of the queue
/// applies it in SQL: its branch, its age, its order (oldest first) and its `LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `Some`: that branch's items only. `None`: every branch's, and the items that have no
    /// branch (an event not matched to anything, a message to another system).
    pub branch: Option<BranchId>,
    /// Only items that began at or before this instant (the queue's `min_age_hours`).
    pub began_by: Option<DateTime<Utc>>,
    /// At most this many items from each source.
    pub limit: i64,
}

impl Window {
    /// The latest beginning an item may have (later than any when the age is not asked).
    pub fn began_by(&self) -> DateTime<Utc> {
        self.began_by.unwrap_or_else(crate::db::time::latest)
    }

    /// Whether items without a branch are in it.
    pub fn unbranched(&self) -> bool {
        self.branch.is_none()
    }
}
