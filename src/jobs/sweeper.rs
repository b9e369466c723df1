//! The sweeper (issue 6): finds the deadlines that fell due and applies each consequence once
//! (DOMAIN.md §5) — storage expiry, the delay message, escalation, transfer after storage —
//! and sends the reminder a day before storage ends. Runs inside `serve` on an interval and as
//! `postamat sweep [--as-of]`. Each batch is one transaction: a sweeper that dies mid-batch
//! leaves nothing half-applied and the next run does the work.

use crate::db::models::application;
use crate::db::models::outbox::{self, NewNotification};
use crate::db::models::shipment::{self, ActorRef, DeadlineState, DueDeadline, EventContext};
use crate::db::schema::branches;
use crate::db::{DbConnection, DbPool, write_transaction};
use crate::domain::deadline::OnBreach;
use crate::domain::force_majeure::{Extended, extended_due};
use crate::domain::notification::backoff;
use crate::domain::notification::{self, Facts, Language};
use crate::domain::reference::BranchTimeZone;
use crate::domain::shipment::{Actor, ShipmentEvent, ShipmentState};
use crate::error::ApiError;
use crate::jobs::calendar_refresh::{CalendarCache, CalendarSnapshot};
use crate::observability::Metrics;
use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Deadlines handled per transaction.
pub const BATCH: i64 = 200;

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

fn sweeper() -> ActorRef {
    ActorRef {
        actor: Actor::Sweeper,
        key_id: None,
        name: "sweeper".to_owned(),
    }
}

fn zone(conn: &mut DbConnection, branch_id: crate::db::Id) -> Result<chrono_tz::Tz, ApiError> {
    let name: String = branches::table
        .find(branch_id)
        .select(branches::time_zone)
        .first(conn)?;
    BranchTimeZone::try_from(name)
        .map(BranchTimeZone::tz)
        .map_err(ApiError::internal)
}

/// The sweeper's messages to the citizen.
enum Message {
    /// п.27: delayed, expected on this date.
    Delay(NaiveDate),
    /// A day before storage ends: collect by this date.
    Reminder(NaiveDate),
}

/// Writes a Kaspi-app message to the shipment's citizen.
fn tell(
    conn: &mut DbConnection,
    row: &shipment::ShipmentRow,
    message: Message,
    dedup_key: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let app = application::find(conn, row.application_id)?;
    let language = Language::parse(&app.language).unwrap_or(Language::Ru);
    let facts = match message {
        Message::Delay(new_date) => Facts::DeliveryLate {
            application_number: &app.number,
            new_date,
        },
        Message::Reminder(collect_by) => Facts::StorageReminder {
            application_number: &app.number,
            collect_by,
        },
    };
    let body = notification::render(&facts, language);
    Ok(outbox::notify(
        conn,
        NewNotification {
            application_id: app.id,
            shipment_id: Some(row.id),
            kind: facts.kind().as_str(),
            channel: "kaspi_app",
            recipient: &app.phone,
            language: language.as_str(),
            body: &body,
            dedup_key,
        },
        now,
    )?)
}

/// Applies the consequence of one due deadline (inside a savepoint).
/// What became of a due deadline in this sweep.
enum Fate {
    Applied,
    /// Left pending for a later sweep (force majeure, a busy shipment).
    Postponed,
}

/// Applies the consequence of one due deadline (inside a savepoint).
fn consequence(
    conn: &mut DbConnection,
    due: &DueDeadline,
    as_of: DateTime<Utc>,
    calendar: &CalendarSnapshot,
    report: &mut SweepReport,
) -> Result<Fate, ApiError> {
    // The shipment first, as every other writer takes it first: a Kaspi event changing it right
    // now means this deadline is looked at again shortly rather than a deadlock.
    let Some(row) = shipment::lock_shipment(conn, due.shipment_id)? else {
        shipment::postpone_deadline(
            conn,
            due.id,
            as_of + chrono::Duration::minutes(1),
            due.sweep_attempts,
            None,
        )?;
        return Ok(Fate::Postponed);
    };
    let tz = zone(conn, row.branch_id)?;
    // п.37: a force-majeure period of the branch extends the deadline; while one is open the
    // deadline waits.
    let suspensions = calendar.suspensions_for(Some(row.branch_id));
    if !suspensions.is_empty() {
        match extended_due(
            due.kind.rule(),
            due.started_at,
            tz,
            &calendar.calendar,
            &suspensions,
        )? {
            Extended::Due(extended) if extended.at > as_of => {
                shipment::move_due(conn, due.id, extended.at)?;
                return Ok(Fate::Postponed);
            }
            Extended::Suspended { .. } => {
                let note = Some("suspended by force majeure");
                shipment::postpone_deadline(
                    conn,
                    due.id,
                    as_of + chrono::Duration::hours(1),
                    due.sweep_attempts,
                    note,
                )?;
                return Ok(Fate::Postponed);
            }
            Extended::Due(_) => {}
        }
    }
    shipment::resolve_deadline(conn, due.id, DeadlineState::Breached, as_of)?;
    match due.kind.on_breach() {
        OnBreach::ExpireStorage => {
            if row.state()? == ShipmentState::PlacedInCell {
                let ctx = EventContext {
                    actor: sweeper(),
                    source: "sweeper",
                    external_event_id: None,
                    // п.29–30: storage ended at the due instant, whenever we noticed.
                    occurred_at: due.due_at,
                    recorded_at: as_of,
                    calendar,
                };
                shipment::apply_event(conn, &row, ShipmentEvent::StorageExpired, &ctx, None)?;
                report.storage_expired += 1;
            }
        }
        OnBreach::NotifyDelay => {
            // п.27: the new expected date is the next working day after the breach.
            let new_date = calendar
                .calendar
                .next_working_day(as_of.with_timezone(&tz).date_naive())?;
            let dedup = format!("{}:delivery_late:{}", row.id, due.kind.as_str());
            if tell(conn, &row, Message::Delay(new_date), &dedup, as_of)? {
                report.delay_notified += 1;
            }
        }
        OnBreach::Escalate => report.escalated += 1,
        OnBreach::ListForTransfer => report.listed_for_transfer += 1,
    }
    Ok(Fate::Applied)
}

/// Sweeps before a consequence that keeps failing is given up (the deadline is then breached
/// with the error, and shows in the exception queue).
const MAX_SWEEP_ATTEMPTS: i32 = 10;

/// One sweep at `as_of`: every due deadline, batch by batch, then the reminders.
pub fn sweep(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    calendar: &CalendarSnapshot,
) -> Result<SweepReport, ApiError> {
    sweep_observed(conn, as_of, calendar, None)
}

/// [`sweep`], recording each applied deadline and its lag in `metrics`.
pub fn sweep_observed(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    calendar: &CalendarSnapshot,
    metrics: Option<&Metrics>,
) -> Result<SweepReport, ApiError> {
    let mut report = SweepReport::default();
    loop {
        let handled = write_transaction(conn, |conn| {
            let batch = shipment::claim_due_deadlines(conn, as_of, BATCH)?;
            let mut applied = Vec::with_capacity(batch.len());
            for due in &batch {
                match conn.transaction(|conn| consequence(conn, due, as_of, calendar, &mut report))
                {
                    Ok(Fate::Applied) => applied.push(due.clone()),
                    Ok(Fate::Postponed) => report.postponed += 1,
                    Err(e) => {
                        // Logged by kind and ids only. Tried again later with a growing wait;
                        // after MAX_SWEEP_ATTEMPTS it is closed with the error for a person.
                        tracing::error!(deadline = %due.id, kind = due.kind.as_str(), error = %e, "sweeper consequence failed");
                        let attempts = due.sweep_attempts + 1;
                        let error = e.detail().to_owned();
                        if attempts >= MAX_SWEEP_ATTEMPTS {
                            shipment::resolve_deadline(
                                conn,
                                due.id,
                                DeadlineState::Breached,
                                as_of,
                            )?;
                        }
                        let wait = backoff(attempts as u32, 1.0) * 30;
                        let until = as_of
                            + chrono::Duration::from_std(wait)
                                .unwrap_or(chrono::Duration::hours(6));
                        shipment::postpone_deadline(conn, due.id, until, attempts, Some(&error))?;
                        report.failed += 1;
                    }
                }
            }
            Ok::<_, ApiError>((batch.len(), applied))
        })?;
        let (claimed, handled) = handled;
        if let Some(metrics) = metrics {
            for due in &handled {
                metrics.observe_sweep(
                    due.kind.as_str(),
                    (as_of - due.due_at).to_std().unwrap_or_default(),
                );
            }
        }
        report.due += handled.len();
        if claimed < BATCH as usize {
            break;
        }
    }
    // A day before storage ends, a reminder (once: the dedup key) — only while the document
    // is still in its cell.
    for (shipment_id, due_at) in shipment::storage_ending(conn, as_of, chrono::Duration::days(1))? {
        let reminded = write_transaction(conn, |conn| -> Result<bool, ApiError> {
            let Some(row) = shipment::find(conn, shipment_id)? else {
                return Ok(false);
            };
            if row.state()? != ShipmentState::PlacedInCell {
                return Ok(false);
            }
            let tz = zone(conn, row.branch_id)?;
            // The storage period ends at 24:00 of its last day, i.e. 00:00 of the next.
            let collect_by = due_at.with_timezone(&tz).date_naive() - Days::new(1);
            let dedup = shipment::storage_reminder_key(shipment_id);
            tell(conn, &row, Message::Reminder(collect_by), &dedup, as_of)
        });
        match reminded {
            Ok(true) => report.reminders += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(shipment = %shipment_id, error = %e, "storage reminder failed; the next sweep retries")
            }
        }
    }
    Ok(report)
}

/// Sweeps every `every` until the process ends.
pub async fn run(
    pool: DbPool,
    cache: Arc<CalendarCache>,
    clock: crate::clock::Clock,
    metrics: Metrics,
    every: Duration,
) {
    let mut ticks = actix_web::rt::time::interval(every);
    loop {
        ticks.tick().await;
        let (pool, cache, now, metrics) =
            (pool.clone(), cache.clone(), clock.now(), metrics.clone());
        let outcome = actix_web::web::block(move || -> Result<SweepReport, ApiError> {
            let mut conn = pool.get()?;
            sweep_observed(&mut conn, now, &cache.current(), Some(&metrics))
        })
        .await;
        match outcome {
            Ok(Ok(report)) if report.due > 0 || report.reminders > 0 => {
                tracing::info!(?report, "sweep");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "sweep failed; the next one retries"),
            Err(e) => tracing::error!(error = %e, "sweep task failed"),
        }
    }
}
