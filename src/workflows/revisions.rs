//! Re-reads of stored deadlines that a change of rule requires and SQL alone cannot compute,
//! each applied once after the migrations (`postamat migrate`, `serve`), in one transaction,
//! with a history line on every shipment it changes.

use super::shipment::note;
use super::{Actor, EventContext, WorkflowResult};
use crate::db::models::deadline;
use crate::db::models::revision;
use crate::db::models::shipment as shipments;
use crate::db::{DbConnection, write_transaction};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::force_majeure::{Extended, extended_due};
use chrono::{DateTime, NaiveTime, Utc};

/// Issue 22 item 2 (DOMAIN.md §5): an instant at exactly 00:00 local time ends the day before
/// it. Deadlines counted from such an instant were counted from the next day, one day late: one
/// started then (a return started by storage expiring at 24:00, п.30), or one whose counting
/// restarted when a force-majeure period ended at midnight (п.37).
pub const MIDNIGHT_ENDS_THE_DAY_BEFORE: &str = "midnight_ends_the_day_before";

/// Applies the revisions not applied yet; returns how many deadlines moved.
pub fn apply_pending(
    conn: &mut DbConnection,
    snapshot: &CalendarSnapshot,
    now: DateTime<Utc>,
) -> WorkflowResult<usize> {
    write_transaction(conn, |conn| {
        if !revision::claim(conn, MIDNIGHT_ENDS_THE_DAY_BEFORE, now)? {
            return Ok(0);
        }
        midnight_ends_the_day_before(conn, snapshot, now)
    })
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
        let started = pending.started_at();
        let suspensions = snapshot.suspensions_for(Some(branch_id));
        if !midnight(started) && !suspensions.iter().any(|s| s.end.is_some_and(midnight)) {
            continue;
        }
        let rule = pending.kind.rule();
        let target = match extended_due(rule, started, tz, &snapshot.calendar, &suspensions)? {
            Extended::Due(extended) => extended.at,
            Extended::Suspended { .. } => continue,
        };
        if target == pending.due_at() || !deadline::move_due(conn, pending.id, target)? {
            continue;
        }
        moved += 1;
        if let Some(row) = shipments::find(conn, pending.shipment_id)? {
            let details = serde_json::json!({
                "deadline": pending.kind,
                "due_before": pending.due_at(),
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
