//! Work the service does on its own, beside requests.

pub mod calendar_refresh;
pub mod dispatcher;
pub mod sweeper;

use actix_web::rt::time::Interval;
use futures_util::future::{Either, select};
use tokio::sync::watch;

/// Tells the background jobs to stop once the work in hand is done (graceful shutdown): a job
/// checks it between rounds, never in the middle of one.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

/// Asks every [`Stop`] made with it to stop.
#[derive(Debug)]
pub struct StopHandle(watch::Sender<bool>);

impl StopHandle {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Stop {
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = watch::channel(false);
        (StopHandle(tx), Stop(rx))
    }

    fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits for the next tick of `ticks`; `false` when a stop is asked for first (or was
    /// already, or nobody can ask any more).
    pub async fn next_tick(&mut self, ticks: &mut Interval) -> bool {
        if self.requested() {
            return false;
        }
        let ticked = {
            let tick = std::pin::pin!(ticks.tick());
            let asked = std::pin::pin!(self.0.changed());
            matches!(select(tick, asked).await, Either::Left(_))
        };
        ticked && !self.requested()
    }
}
