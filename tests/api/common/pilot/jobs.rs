//! The background jobs run by hand at a chosen moment: the sweeper, the dispatcher and the
//! pilot's-end round.

use super::Pilot;
use actix_web::web;
use chrono::{DateTime, NaiveDate, Utc};
use postamat::domain::application::PilotWindow;
use postamat::jobs::dispatcher::{DispatchReport, Dispatcher};
use postamat::workflows::pilot_end::{PilotEndReport, reroute_after_end};
use postamat::workflows::sweep::{self, SweepReport};
use std::sync::Arc;

/// The window the test service runs with (`TestApp`).
fn pilot() -> PilotWindow {
    PilotWindow {
        starts_on: NaiveDate::from_ymd_opt(2026, 2, 13).unwrap(),
        ends_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
    }
}

impl Pilot {
    pub async fn sweep(&self, as_of: &str) -> SweepReport {
        let as_of: DateTime<Utc> = as_of.parse().unwrap();
        let (pool, cache) = (self.app.pool.clone(), self.app.calendar.clone());
        web::block(move || sweep::sweep(&mut pool.get().unwrap(), as_of, &cache.current()).unwrap())
            .await
            .unwrap()
    }

    pub async fn dispatch(&self, dispatcher: &Arc<Dispatcher>, at: &str) -> DispatchReport {
        let now: DateTime<Utc> = at.parse().unwrap();
        let (pool, dispatcher) = (self.app.pool.clone(), dispatcher.clone());
        web::block(move || dispatcher.dispatch(&mut pool.get().unwrap(), now).unwrap())
            .await
            .unwrap()
    }

    /// The sweeper's round at the pilot's end, at `as_of`.
    pub async fn pilot_end_round(&self, as_of: &str) -> PilotEndReport {
        let as_of: DateTime<Utc> = as_of.parse().unwrap();
        let (pool, cache) = (self.app.pool.clone(), self.app.calendar.clone());
        actix_web::web::block(move || {
            reroute_after_end(&mut pool.get().unwrap(), as_of, pilot(), &cache.current()).unwrap()
        })
        .await
        .unwrap()
    }
}
