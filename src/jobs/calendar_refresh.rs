//! The calendar held in memory: deadlines are computed from it without touching the database.
//! An edit on this instance reloads it at once; this job reloads it periodically so that edits
//! made through other instances sharing the database arrive within the refresh interval.

use crate::db::models::branch::BranchScope;
use crate::db::models::force_majeure::ForceMajeurePeriod;
use crate::db::models::{calendar, force_majeure};
use crate::db::{DbConnection, DbPool, Id};
use crate::domain::calendar::Calendar;
use crate::domain::force_majeure::Suspension;
use diesel::QueryResult;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The calendar and force-majeure periods at one moment.
#[derive(Debug)]
pub struct CalendarSnapshot {
    pub calendar: Calendar,
    pub force_majeure: Vec<ForceMajeurePeriod>,
}

impl CalendarSnapshot {
    fn load(conn: &mut DbConnection) -> QueryResult<Self> {
        Ok(CalendarSnapshot {
            calendar: calendar::load(conn)?,
            force_majeure: force_majeure::list(conn, &BranchScope::All)?,
        })
    }

    /// The suspensions that cover a branch (`None`: national ones only).
    pub fn suspensions_for(&self, branch_id: Option<Id>) -> Vec<Suspension> {
        self.force_majeure
            .iter()
            .filter(|p| p.covers(branch_id))
            .map(ForceMajeurePeriod::suspension)
            .collect()
    }
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
            snapshot: RwLock::new(Arc::new(CalendarSnapshot::load(conn)?)),
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
        let fresh = Arc::new(CalendarSnapshot::load(conn)?);
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

/// Reloads the calendar every `every` until the process ends.
pub async fn run(cache: Arc<CalendarCache>, pool: DbPool, every: Duration) {
    let mut ticks = actix_web::rt::time::interval(every);
    ticks.tick().await;
    loop {
        ticks.tick().await;
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
