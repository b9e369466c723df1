//! SQLite takes one writer at a time. Rather than let concurrent requests queue on its lock
//! (each waiting in SQLite's busy handler, which sleeps and retries, so the slowest waits for
//! seconds), the service gives writes one connection of their own, on one thread, fed through a
//! queue: a write waits only for the writes queued before it. Readers keep the pool (WAL lets
//! them read beside the writer). PostgreSQL needs none of this.
//!
//! The writes waiting in the queue are committed together: one transaction holds them, each in
//! the savepoint its own transaction becomes, and each is answered only after that commit, so
//! nothing acknowledged is lost when the process is killed. Every write must keep its changes in
//! its own transaction (every workflow does), so that a write that fails leaves nothing behind;
//! a write that panics fails the writes committed with it (they are answered with an error and
//! may be sent again). Work that must see the write committed (reloading the calendar) runs
//! after the answer. The background jobs (sweeper, dispatcher) keep their pool connections and
//! take SQLite's lock between the writer's transactions.

use super::{ConnectionManager, DatabaseLocation, DbConnection};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::{ManageConnection, R2D2Connection};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

/// Writes committed together at the most.
const GROUP: usize = 64;

/// Answers a write once its group is committed (`Ok`) or rolled back (why).
type Deliver = Box<dyn FnOnce(Result<(), WriteLost>) + Send>;
type Job = Box<dyn FnOnce(&mut DbConnection) -> Deliver + Send>;

/// The queue to the one writing connection.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// A write that was not committed, and why. Nothing of it was kept, so a retry is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteLost {
    /// It, or another write committed with it, panicked: a bug.
    #[error("the write was not committed: a write of its group panicked")]
    Panicked,
    /// The group's commit found the disk full (SQLITE_FULL): an operator frees space.
    #[error("the write was not committed: the database's storage is full")]
    StorageFull,
    /// The group's commit failed otherwise (SQLite had already rolled it back, an I/O error).
    #[error("the write was not committed: the commit failed")]
    NotCommitted,
}

impl Writer {
    /// The writer a database needs: one for SQLite, none for PostgreSQL.
    pub fn for_location(location: &DatabaseLocation) -> anyhow::Result<Option<Writer>> {
        match location {
            DatabaseLocation::Postgres(_) => Ok(None),
            DatabaseLocation::Sqlite(_) => Writer::start(location.clone()).map(Some),
        }
    }

    fn start(location: DatabaseLocation) -> anyhow::Result<Writer> {
        let manager = ConnectionManager::new(location);
        let mut conn = manager
            .connect()
            .map_err(|e| anyhow::anyhow!("cannot open the database writer's connection: {e}"))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut group = vec![first];
                    group.extend(queue.try_iter().take(GROUP - 1));
                    let healthy = commit_together(&mut conn, group);
                    if !healthy || conn.is_broken() {
                        // Writes wait in the queue while the connection cannot be reopened.
                        conn = loop {
                            match manager.connect() {
                                Ok(fresh) => break fresh,
                                Err(e) => {
                                    tracing::error!(error = %e, "the database writer cannot reopen its connection; retrying");
                                    std::thread::sleep(std::time::Duration::from_secs(1));
                                }
                            }
                        };
                    }
                }
            })?;
        Ok(Writer { jobs })
    }

    /// Runs `work` on the writing connection after the writes queued before it, and answers
    /// once it is committed.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> T + Send + 'static,
    ) -> Result<T, WriteLost> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = work(conn);
            Box::new(move |committed: Result<(), WriteLost>| {
                let _ = answer.send(committed.map(|()| result));
            })
        });
        self.jobs.send(job).map_err(|_| WriteLost::Panicked)?;
        // No answer at all: the write itself panicked (its answer went with it).
        answered.await.map_err(|_| WriteLost::Panicked)?
    }
}

/// Runs a group of writes in one transaction and answers them; false if the connection must be
/// reopened (a write panicked, or the transaction could not be ended).
fn commit_together(conn: &mut DbConnection, group: Vec<Job>) -> bool {
    let DbConnection::Sqlite(sqlite) = conn else {
        unreachable!("the writer serves SQLite only")
    };
    if let Err(e) = AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "the database writer cannot begin a transaction");
        return false;
    }
    let mut deliveries = Vec::with_capacity(group.len());
    for job in group {
        match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok(deliver) => deliveries.push(deliver),
            // Its answer is dropped with it; the others are answered with a failure, and
            // dropping the connection rolls back what they did.
            Err(_) => {
                tracing::error!("a write panicked; the writes committed with it are rolled back");
                deliveries
                    .into_iter()
                    .for_each(|deliver| deliver(Err(WriteLost::Panicked)));
                return false;
            }
        }
    }
    let DbConnection::Sqlite(sqlite) = conn else {
        unreachable!("the connection does not change backend")
    };
    let committed = match AnsiTransactionManager::commit_transaction(sqlite) {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, "a group of writes could not be committed; each is answered with a failure");
            // SQLite may have rolled the transaction back itself (it does on SQLITE_FULL), so
            // this can find none; the connection is reopened either way.
            if let Err(e) = AnsiTransactionManager::rollback_transaction(sqlite) {
                tracing::warn!(error = %e, "the database writer's rollback after a failed commit");
            }
            Err(if super::storage_full(&e.to_string()) {
                WriteLost::StorageFull
            } else {
                WriteLost::NotCommitted
            })
        }
    };
    for deliver in deliveries {
        deliver(committed);
    }
    committed.is_ok()
}
