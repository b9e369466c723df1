//! The calendar held in memory: deadlines are computed from it without touching the database.
//! An edit on this instance reloads it at once; this job reloads it periodically so that edits
//! made through other instances sharing the database arrive within the refresh interval.

use crate::db::models::{calendar, force_majeure};
use crate::db::{DbConnection, DbPool};
use crate::domain::calendar::CalendarSnapshot;
use crate::jobs::Stop;
use diesel::QueryResult;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Reads the calendar and the force-majeure periods as they are stored now.
pub fn load_snapshot(conn: &mut DbConnection) -> QueryResult<CalendarSnapshot> {
    Ok(CalendarSnapshot {
        calendar: calendar::load(conn)?,
        force_majeure: force_majeure::all(conn)?,
    })
}

pub struct CalendarCache {
    snapshot: RwLock<Arc<CalendarSnapshot>>,
    /// Serialises reloads: a reload that read before an edit committed must not replace one
    /// that read after it.
    reloading: Mutex<()>,
}

impl CalendarCache {
    pub fn load(conn: &mut DbConnection) -> QueryResult<Self> {
        Ok(CalendarCache {
            snapshot: RwLock::new(Arc::new(load_snapshot(conn)?)),
            reloading: Mutex::new(()),
        })
    }

    pub fn current(&self) -> Arc<CalendarSnapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn reload(&self, conn: &mut DbConnection) -> QueryResult<()> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = Arc::new(load_snapshot(conn)?);
        let mut current = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        if current.calendar.version() != fresh.calendar.version() {
            tracing::info!(
                from = current.calendar.version(),
                to = fresh.calendar.version(),
                "calendar version changed"
            );
        }
        *current = fresh;
        Ok(())
    }
}

/// Reloads after a committed change. The change stands whatever happens here, so a failure is
/// logged (the periodic refresh picks the change up) rather than reported as the request's
/// failure.
pub fn reload_after_commit(cache: &CalendarCache, conn: &mut DbConnection) {
    if let Err(e) = cache.reload(conn) {
        tracing::warn!(error = %e, "calendar reload after an edit failed; the next refresh retries");
    }
}

/// Reloads the calendar every `every` until asked to stop; the round in hand is finished first.
pub async fn run(cache: Arc<CalendarCache>, pool: DbPool, every: Duration, mut stop: Stop) {
    let mut ticks = actix_web::rt::time::interval(every);
    ticks.tick().await;
    while stop.next_tick(&mut ticks).await {
        let cache = cache.clone();
        let pool = pool.clone();
        let outcome = actix_web::web::block(move || -> anyhow::Result<()> {
            let mut conn = pool.get()?;
            cache.reload(&mut conn)?;
            Ok(())
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "calendar refresh failed; keeping the loaded calendar")
            }
            Err(e) => tracing::warn!(error = %e, "calendar refresh task failed"),
        }
    }
}
