//! Re-reads of stored deadlines that a change of rule requires and SQL alone cannot compute,
//! each applied once after the migrations (`postamat migrate`, `serve`), in one transaction,
//! with a history line on every shipment it changes.

use super::shipment::{note, start_deadlines};
use super::{Actor, EventContext, WorkflowResult};
use crate::db::models::deadline::{self, Cancel};
use crate::db::models::history;
use crate::db::models::revision;
use crate::db::models::shipment as shipments;
use crate::db::{DbConnection, write_transaction};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::force_majeure::{Extended, extended_due};
use crate::domain::shipment::ShipmentState;
use chrono::{DateTime, NaiveTime, Utc};

/// Issue 22 item 2 (DOMAIN.md §5): an instant at exactly 00:00 local time ends the day before
/// it. Deadlines counted from such an instant were counted from the next day, one day late: one
/// started then (a return started by storage expiring at 24:00, п.30), or one whose counting
/// restarted when a force-majeure period ended at midnight (п.37).
pub const MIDNIGHT_ENDS_THE_DAY_BEFORE: &str = "midnight_ends_the_day_before";

/// Issue 22 item 4 (п.35): the end of the month at the issuance sector is the rule's outcome,
/// not a breach. The old rule left such a month breached (still there) or met late (handed on
/// or issued after it).
pub const ISSUANCE_MONTH_RUNS_OUT: &str = "issuance_month_runs_out";

type Revision = fn(&mut DbConnection, &CalendarSnapshot, DateTime<Utc>) -> WorkflowResult<usize>;

/// Every revision, in the order they are applied.
const REVISIONS: [(&str, Revision); 2] = [
    (MIDNIGHT_ENDS_THE_DAY_BEFORE, midnight_ends_the_day_before),
    (ISSUANCE_MONTH_RUNS_OUT, issuance_month_runs_out),
];

/// Applies the revisions not applied yet, each in its own transaction; returns how many
/// deadlines they changed.
pub fn apply_pending(
    conn: &mut DbConnection,
    snapshot: &CalendarSnapshot,
    now: DateTime<Utc>,
) -> WorkflowResult<usize> {
    let mut changed = 0;
    for (name, revise) in REVISIONS {
        changed += write_transaction(conn, |conn| {
            if !revision::claim(conn, name, now)? {
                return Ok(0);
            }
            revise(conn, snapshot, now)
        })?;
    }
    Ok(changed)
}

/// Reads every month the old rule breached or met late as the new one does: met at its end,
/// the hand-on started there (with force majeure, as the sweeper would have started it), and
/// the hand-on settled by what the document did after the month — met (or met late) by its
/// transfer, cancelled by its issue or its loss, open while it is still at the sector.
fn issuance_month_runs_out(
    conn: &mut DbConnection,
    snapshot: &CalendarSnapshot,
    now: DateTime<Utc>,
) -> WorkflowResult<usize> {
    let ctx = EventContext::now(Actor::sweeper(), now, snapshot);
    let old = [DeadlineState::Breached, DeadlineState::MetLate];
    let mut revised = 0;
    for ended in deadline::of_kind(conn, DeadlineKind::IssuanceStorage, &old)? {
        let Some(row) = shipments::find(conn, ended.shipment_id)? else {
            continue;
        };
        let end = ended.due_at;
        deadline::settle(conn, ended.id, DeadlineState::Met, end)?;
        let at_end = EventContext {
            occurred_at: end,
            ..ctx.clone()
        };
        let transfer = [DeadlineKind::Transfer];
        start_deadlines(conn, row.id, row.branch_id, None, &transfer, &at_end)?;
        // The document's first move after the month (a line that changed its state: a note
        // recorded late keeps the state it found).
        let after = history::of_shipment(conn, row.id)?
            .into_iter()
            .filter(|line| line.occurred_at >= end)
            .filter(|line| line.from_status.as_deref() != Some(line.to_status.as_str()))
            .find_map(|line| {
                ShipmentState::parse(&line.to_status).map(|to| (to, line.occurred_at))
            });
        match after {
            Some((ShipmentState::TransferredAfterStorage, at)) => {
                deadline::meet(conn, row.id, &transfer, at)?;
            }
            // Issued before the hand-on fell due: nothing left to hand on (as `Issued` does).
            Some((ShipmentState::IssuedAtCon, at)) => {
                deadline::cancel_pending(conn, row.id, Cancel::NotDueBy(&transfer, at), at)?;
            }
            Some((ShipmentState::Lost, at)) => {
                deadline::cancel_pending(conn, row.id, Cancel::All, at)?;
            }
            _ => {}
        }
        let details = serde_json::json!({
            "deadline": DeadlineKind::IssuanceStorage,
            "state_before": ended.state,
            "state_after": DeadlineState::Met,
            "revision": ISSUANCE_MONTH_RUNS_OUT,
        });
        note(conn, &row, "deadline_revised", details, &ctx)?;
        revised += 1;
    }
    if revised > 0 {
        tracing::info!(
            revised,
            "months at the issuance sector re-read as run out, with their hand-on"
        );
    }
    Ok(revised)
}

/// Gives every pending deadline counted from a 00:00 local instant (its start, or the end of a
/// period covering it) the due instant the rules give it now, force majeure included (one an
/// open period holds keeps its instant, as the sweeper holds it back). Others keep theirs, and
/// settled deadlines keep what they were settled against.
fn midnight_ends_the_day_before(
    conn: &mut DbConnection,
    snapshot: &CalendarSnapshot,
    now: DateTime<Utc>,
) -> WorkflowResult<usize> {
    let ctx = EventContext::now(Actor::sweeper(), now, snapshot);
    let mut moved = 0;
    for (pending, branch_id, zone) in deadline::pending_with_zone(conn, None)? {
        let tz = zone.tz();
        let midnight = |t: DateTime<Utc>| t.with_timezone(&tz).time() == NaiveTime::MIN;
        let started = pending.started_at;
        let suspensions = snapshot.suspensions_for(Some(branch_id));
        if !midnight(started) && !suspensions.iter().any(|s| s.end.is_some_and(midnight)) {
            continue;
        }
        let rule = pending.kind.rule();
        let target = match extended_due(rule, started, tz, &snapshot.calendar, &suspensions)? {
            Extended::Due(extended) => extended.at,
            Extended::Suspended { .. } => continue,
        };
        if target == pending.due_at || !deadline::move_due(conn, pending.id, target)? {
            continue;
        }
        moved += 1;
        if let Some(row) = shipments::find(conn, pending.shipment_id)? {
            let details = serde_json::json!({
                "deadline": pending.kind,
                "due_before": pending.due_at,
                "due_after": target,
                "revision": MIDNIGHT_ENDS_THE_DAY_BEFORE,
            });
            note(conn, &row, "deadline_revised", details, &ctx)?;
        }
    }
    if moved > 0 {
        tracing::info!(
            moved,
            "pending deadlines that started at midnight re-counted"
        );
    }
    Ok(moved)
}
