//! Sweeping due deadlines (DOMAIN.md §5): each deadline that fell due has its consequence
//! applied once — storage expiry, the delay message, escalation, listing for transfer — and a
//! document still in its cell is reminded a day before its storage ends. Each batch is one
//! transaction: a sweeper that dies mid-batch leaves nothing half-applied and the next run does
//! the work. Several sweepers may run at once against one PostgreSQL database.

use super::notify::{Notice, kaspi_delays, notify_citizen};
use super::shipment::{apply, run_out};
use super::{EventContext, WorkflowResult};
use crate::db::models::deadline::{self, DeadlineRow};
use crate::db::models::report::SUSPENDED_NOTE;
use crate::db::models::shipment as shipments;
use crate::db::models::{application, branch};
use crate::db::{DbConnection, write_transaction};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::deadline::{DeadlineKind, DeadlineState, OnBreach};
use crate::domain::force_majeure::{Decision, decide};
use crate::domain::notification::{backoff, sweeper_delay_date};
use crate::domain::shipment::{DeliveryMethod, Event, ShipmentState};
use chrono::{DateTime, Days, Utc};
use diesel::Connection;
use serde::Serialize;

/// Deadlines handled per transaction.
pub const BATCH: i64 = 200;

/// Sweeps before a consequence that keeps failing is given up (the deadline is then breached
/// with the error, and shows in the exception queue).
const MAX_SWEEP_ATTEMPTS: i32 = 10;

/// What one sweep did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// Due deadlines found and resolved.
    pub due: usize,
    pub storage_expired: usize,
    pub delay_notified: usize,
    pub escalated: usize,
    pub listed_for_transfer: usize,
    /// Consequences that failed this time (logged, tried again later).
    pub failed: usize,
    /// Due deadlines left for later: extended by force majeure, or their shipment busy.
    pub postponed: usize,
    pub reminders: usize,
}

/// What became of a due deadline in this sweep.
enum Fate {
    Applied,
    /// Left pending for a later sweep (force majeure, a busy shipment).
    Postponed,
}

/// One sweep at `as_of`: every due deadline, batch by batch, then the reminders.
pub fn sweep(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    calendar: &CalendarSnapshot,
) -> WorkflowResult<SweepReport> {
    sweep_with(conn, as_of, calendar, |_| {})
}

/// [`sweep`], telling `on_applied` of each deadline whose consequence was applied.
pub fn sweep_with(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    calendar: &CalendarSnapshot,
    mut on_applied: impl FnMut(&DeadlineRow),
) -> WorkflowResult<SweepReport> {
    let mut report = SweepReport::default();
    loop {
        let (claimed, applied) = write_transaction(conn, |conn| {
            let batch = deadline::claim_due(conn, as_of, BATCH)?;
            let mut applied = Vec::with_capacity(batch.len());
            for due in batch.iter() {
                match conn.transaction(|conn| consequence(conn, due, as_of, calendar, &mut report))
                {
                    Ok(Fate::Applied) => applied.push(due.clone()),
                    Ok(Fate::Postponed) => report.postponed += 1,
                    Err(e) => {
                        // Logged by kind and ids only. Tried again later with a growing wait;
                        // after MAX_SWEEP_ATTEMPTS it is closed with the error for a person.
                        let error = e.chain();
                        tracing::error!(deadline = %due.id, kind = due.kind.as_str(), error = %error, "sweeper consequence failed");
                        let attempts = due.sweep_attempts + 1;
                        if attempts >= MAX_SWEEP_ATTEMPTS {
                            deadline::resolve(conn, due.id, DeadlineState::Breached, as_of)?;
                        }
                        let wait = backoff(attempts as u32, 1.0) * 30;
                        let until = as_of
                            + chrono::Duration::from_std(wait)
                                .unwrap_or(chrono::Duration::hours(6));
                        deadline::postpone(conn, due.id, until, attempts, Some(&error))?;
                        report.failed += 1;
                    }
                }
            }
            Ok::<_, super::WorkflowError>((batch.len(), applied))
        })?;
        applied.iter().for_each(&mut on_applied);
        report.due += applied.len();
        if claimed < BATCH as usize {
            break;
        }
    }
    remind(conn, as_of, &mut report)?;
    Ok(report)
}

/// A due deadline and the consequence a sweep would apply.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WouldApply {
    pub deadline: crate::domain::ids::DeadlineId,
    pub kind: &'static str,
    pub shipment_id: crate::domain::ids::ShipmentId,
    pub due_at: DateTime<Utc>,
    pub consequence: &'static str,
}

/// What a sweep at some instant would do.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DryRun {
    pub as_of: DateTime<Utc>,
    #[serde(flatten)]
    pub report: SweepReport,
    pub would_apply: Vec<WouldApply>,
}

/// The sweep at `as_of` exactly as it would run — same claims, same consequences, same
/// messages — inside one transaction that is then rolled back: nothing is written.
pub fn dry_run(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    calendar: &CalendarSnapshot,
) -> WorkflowResult<DryRun> {
    /// Carries the outcome out of the transaction it rolls back.
    enum Outcome {
        Done(DryRun),
        Failed(super::WorkflowError),
    }
    impl From<diesel::result::Error> for Outcome {
        fn from(e: diesel::result::Error) -> Self {
            Outcome::Failed(e.into())
        }
    }
    let result = write_transaction(conn, |conn| {
        let mut would_apply = Vec::new();
        let report = sweep_with(conn, as_of, calendar, |due| {
            would_apply.push(WouldApply {
                deadline: due.id,
                kind: due.kind.as_str(),
                shipment_id: due.shipment_id,
                due_at: due.due_at,
                consequence: due.kind.on_breach().as_str(),
            })
        })
        .map_err(Outcome::Failed)?;
        Err::<(), _>(Outcome::Done(DryRun {
            as_of,
            report,
            would_apply,
        }))
    });
    match result {
        Err(Outcome::Done(dry_run)) => Ok(dry_run),
        Err(Outcome::Failed(e)) => Err(e),
        Ok(()) => unreachable!("a dry run always rolls back"),
    }
}

/// Applies the consequence of one due deadline (inside a savepoint).
fn consequence(
    conn: &mut DbConnection,
    due: &DeadlineRow,
    as_of: DateTime<Utc>,
    calendar: &CalendarSnapshot,
    report: &mut SweepReport,
) -> WorkflowResult<Fate> {
    // The shipment first, as every other writer takes it first: a Kaspi event changing it right
    // now means this deadline is looked at again shortly rather than a deadlock.
    let Some(row) = shipments::lock(conn, due.shipment_id)? else {
        let later = as_of + chrono::Duration::minutes(1);
        deadline::postpone(conn, due.id, later, due.sweep_attempts, None)?;
        return Ok(Fate::Postponed);
    };
    let tz = branch::time_zone(conn, row.branch_id)?.tz();
    // п.37: a force-majeure period of the branch extends the deadline; while one is open the
    // deadline waits.
    let suspensions = calendar.suspensions_for(Some(row.branch_id));
    let decision = decide(
        due.kind.rule(),
        due.started_at,
        due.due_at,
        tz,
        &calendar.calendar,
        &suspensions,
    )?;
    match decision {
        Decision::MoveTo(extended) if extended.at > as_of => {
            deadline::move_due(conn, due.id, extended.at)?;
            return Ok(Fate::Postponed);
        }
        Decision::Hold { .. } => {
            let later = as_of + chrono::Duration::hours(1);
            deadline::postpone(
                conn,
                due.id,
                later,
                due.sweep_attempts,
                Some(SUSPENDED_NOTE),
            )?;
            return Ok(Fate::Postponed);
        }
        Decision::Keep | Decision::MoveTo(_) => {}
    }
    if due.kind.runs_into().is_some() {
        // п.35: the month's end is the rule's outcome, not a breach: the document was kept as
        // the order asks, and from now on it is to be handed on. Its end is extended by any
        // force-majeure period that has passed since it was stored.
        let end = match decision {
            Decision::MoveTo(extended) => extended.at,
            Decision::Keep | Decision::Hold { .. } => due.due_at,
        };
        let ctx = EventContext::sweeper(end, as_of, calendar);
        if run_out(conn, row.id, row.branch_id, None, due, end, &ctx)? {
            report.listed_for_transfer += 1;
        }
        return Ok(Fate::Applied);
    }
    deadline::resolve(conn, due.id, DeadlineState::Breached, as_of)?;
    match due.kind.on_breach() {
        OnBreach::ExpireStorage => {
            if row.status == ShipmentState::PlacedInCell {
                // п.29–30: storage ended at the due instant, whenever we noticed.
                let ctx = EventContext::sweeper(due.due_at, as_of, calendar);
                apply(conn, &row, None, Event::StorageExpired, &ctx, None)?;
                report.storage_expired += 1;
            }
        }
        // A document re-routed to the ЦОН (issue 23) is not late for a postamat: the citizen was
        // told where to collect it instead.
        OnBreach::NotifyDelay if row.delivery_method == DeliveryMethod::Con => {}
        OnBreach::NotifyDelay => {
            // п.27: unless Kaspi has given the citizen a date still ahead, the new expected
            // date is the next working day after the breach.
            let today = as_of.with_timezone(&tz).date_naive();
            let kaspi_latest = kaspi_delays(conn, row.id)?.first().map(|(_, date)| *date);
            let next = calendar.calendar.next_working_day(today)?;
            if let Some(new_date) = sweeper_delay_date(kaspi_latest, today, next) {
                let app = application::get(conn, row.application_id)?;
                let notice = Notice::DeliveryLate {
                    new_date,
                    cause: due.kind.as_str(),
                };
                if notify_citizen(conn, &app, row.id, notice, as_of)? > 0 {
                    report.delay_notified += 1;
                }
            }
        }
        OnBreach::Escalate => report.escalated += 1,
        OnBreach::ListForTransfer => report.listed_for_transfer += 1,
    }
    Ok(Fate::Applied)
}

/// A day before storage ends, a reminder (once: its dedup key) — only while the document is
/// still in its cell. One transaction each; a failure is logged and the next sweep retries.
fn remind(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    report: &mut SweepReport,
) -> WorkflowResult<()> {
    for (shipment_id, due_at) in deadline::storage_ending(conn, as_of, chrono::Duration::days(1))? {
        let reminded = write_transaction(conn, |conn| -> WorkflowResult<bool> {
            let Some(row) = shipments::find(conn, shipment_id)? else {
                return Ok(false);
            };
            if row.status != ShipmentState::PlacedInCell {
                return Ok(false);
            }
            let tz = branch::time_zone(conn, row.branch_id)?.tz();
            // The storage period ends at 24:00 of its last day, i.e. 00:00 of the next.
            let collect_by = due_at.with_timezone(&tz).date_naive() - Days::new(1);
            let app = application::get(conn, row.application_id)?;
            // A storage after a placement again (issue 23, п.29: 3 days from the placement the
            // citizen was told of) is reminded of on its own.
            let storages = deadline::of_shipment(conn, row.id)?
                .iter()
                .filter(|d| d.kind == DeadlineKind::Storage)
                .count();
            let again = (storages > 1).then(|| collect_by.to_string());
            let notice = Notice::StorageReminder {
                collect_by,
                cause: again.as_deref(),
            };
            Ok(notify_citizen(conn, &app, row.id, notice, as_of)? > 0)
        });
        match reminded {
            Ok(true) => report.reminders += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(shipment = %shipment_id, error = %e.chain(), "storage reminder failed; the next sweep retries")
            }
        }
    }
    Ok(())
}
