//! Runs the sweep (`workflows::sweep`) inside `serve` on an interval, counting each applied
//! deadline and its lag in the metrics.

use crate::db::{DbConnection, DbPool};
use crate::domain::application::PilotWindow;
use crate::domain::calendar::CalendarSnapshot;
use crate::jobs::Stop;
use crate::jobs::calendar_refresh::CalendarCache;
use crate::observability::Metrics;
use crate::workflows::pilot_end::reroute_after_end;
use crate::workflows::sweep::{SweepReport, sweep_with};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// One sweep at `as_of`, each applied deadline counted in `metrics`.
pub fn sweep_observed(
    conn: &mut DbConnection,
    as_of: DateTime<Utc>,
    calendar: &CalendarSnapshot,
    metrics: &Metrics,
) -> anyhow::Result<SweepReport> {
    Ok(sweep_with(conn, as_of, calendar, |due| {
        let lag = (as_of - due.due_at).to_std().unwrap_or_default();
        metrics.observe_sweep(due.kind.as_str(), lag);
    })?)
}

/// Sweeps every `every` until asked to stop; the round in hand is finished first.
pub async fn run(
    pool: DbPool,
    cache: Arc<CalendarCache>,
    clock: crate::clock::Clock,
    metrics: Metrics,
    pilot: PilotWindow,
    every: Duration,
    mut stop: Stop,
) {
    let mut ticks = actix_web::rt::time::interval(every);
    while stop.next_tick(&mut ticks).await {
        let (pool, cache, now, observed) =
            (pool.clone(), cache.clone(), clock.now(), metrics.clone());
        let started = std::time::Instant::now();
        let outcome = actix_web::web::block(move || -> anyhow::Result<SweepReport> {
            let metrics = observed;
            let mut conn = pool.get()?;
            let report = sweep_observed(&mut conn, now, &cache.current(), &metrics)?;
            // Order п.6 (issue 25): after the pilot's end, what has not gone to Kaspi goes to
            // the ЦОН. Its failure is not the sweep's either.
            match reroute_after_end(&mut conn, now, pilot, &cache.current()) {
                Ok(ended) if ended.rerouted_to_con > 0 || ended.failed > 0 => {
                    tracing::info!(?ended, "pilot's end: documents re-routed to the ЦОН");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e.chain(), "pilot's end round failed; the next sweep retries")
                }
            }
            // Housekeeping: console sessions that are over. Its failure is not the sweep's.
            if let Err(e) = crate::workflows::console::purge_expired(&mut conn, now) {
                tracing::warn!(error = %e, "expired console sessions not deleted; the next sweep retries");
            }
            Ok(report)
        })
        .await;
        let round = match &outcome {
            Ok(Ok(report)) if report.failed > 0 => "partial",
            Ok(Ok(_)) => "ok",
            _ => "failed",
        };
        metrics.observe_sweep_run(round, started.elapsed());
        match outcome {
            Ok(Ok(report)) if report.due > 0 || report.reminders > 0 => {
                tracing::info!(?report, "sweep");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(
                error = format!("{e:#}"),
                "sweep failed; the next one retries"
            ),
            Err(e) => tracing::error!(error = %e, "sweep task failed"),
        }
    }
}
