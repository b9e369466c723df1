//! The connection pool, and how each new connection is set up on its backend.

use super::location::DatabaseLocation;
use super::{DbConnection, DbPool};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use std::time::Duration;

/// Opens connections of the backend the URL names, and sets SQLite up the way we need it.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    location: DatabaseLocation,
}

impl ConnectionManager {
    pub fn new(location: DatabaseLocation) -> Self {
        ConnectionManager { location }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.location {
            DatabaseLocation::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseLocation::Sqlite(path) => {
                plan_sqlite_without_bound_values();
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the one writer; the busy timeout makes a writer
                // wait for the lock instead of failing; foreign keys are off by default in SQLite.
                // The busy timeout comes first: switching to WAL needs a lock that the pool's
                // other connections, opening at the same moment, may hold.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; \
                     PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection whose transaction state is broken, or dropped mid-panic, is not reused.
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// Turns on SQLite's query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`) for
/// every SQLite connection this process opens from now on.
///
/// Without it SQLite (3.47 and later) plans a statement with the values bound to it: a bound
/// `LIMIT` — diesel binds the `1` of every `.first()` — or a bound value compared with a partial
/// index's condition. It then marks the statement to be compiled again whenever that parameter
/// is bound anew, so diesel's cached statements were re-parsed and re-planned on every use: a
/// quarter of the simulation's time on SQLite went into `sqlite3Reprepare` (perf, 5 national
/// days). With the guarantee a statement is planned once. No plan here needs a bound value:
/// each partial index (`shipments_one_original_idx`, `kaspi_events_unmatched_idx`) has a full
/// index on the same columns beside it, and SQLite is never given statistics (`ANALYZE`).
fn plan_sqlite_without_bound_values() {
    use libsqlite3_sys as ffi;
    use std::os::raw::{c_char, c_int};

    /// Called by SQLite for each new connection, before `establish` returns it.
    unsafe extern "C" fn stable_plans(
        db: *mut ffi::sqlite3,
        _error: *mut *mut c_char,
        _api: *const ffi::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: `db` is the connection SQLite is opening, valid for this call; the option
        // takes an int and a nullable int pointer to write the new setting to.
        unsafe {
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            )
        }
    }

    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `stable_plans` has the entry point's signature and lives for the whole process;
        // SQLite keeps the pointer in its list of automatic extensions.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(stable_plans)) };
        if rc != ffi::SQLITE_OK {
            tracing::warn!(rc, "SQLite refused the query planner stability setting");
        }
    });
}

/// How long a request waits for a database connection before it answers 503
/// `database_unavailable`. With the database refusing connections, every request still answers
/// within 5 s (issue 27, checked by tests/faults): at most this waiting, then the answer. A
/// database that stops answering without refusing (a network partition, a stalled server) is
/// bounded by [`PgTimeouts`] on the connections that are already in use.
pub const POOL_WAIT: Duration = Duration::from_secs(4);

/// Builds the pool. For SQLite the file's folder is created first, so a fresh checkout works.
pub fn connect(location: &DatabaseLocation, pool_size: u32) -> anyhow::Result<DbPool> {
    if let DatabaseLocation::Sqlite(path) = location {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("cannot create the database folder {}: {e}", dir.display())
            })?;
        }
        // WAL is a property of the file: switched on once here, before the pool opens its
        // connections all at once (they would race for the lock the switch needs).
        ConnectionManager::new(location.clone())
            .connect()
            .map_err(|e| anyhow::anyhow!("cannot open the sqlite database: {e}"))?;
    }
    let pool = r2d2::Pool::builder()
        .max_size(pool_size)
        .connection_timeout(POOL_WAIT)
        .test_on_check_out(false)
        .build(ConnectionManager::new(location.clone()))
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to the {} database: {e}",
                location.backend_name()
            )
        })?;
    Ok(pool)
}

#[cfg(test)]
mod stable_plan_tests {
    use super::*;
    use libsqlite3_sys as ffi;
    use std::os::raw::c_int;

    /// Once the pool has opened a SQLite connection, every SQLite connection of the process
    /// plans without bound values, so diesel's cached statements are not compiled again at
    /// each new binding of a `LIMIT`.
    #[test]
    fn sqlite_connections_have_the_planner_stability_guarantee() {
        let manager = ConnectionManager::new(DatabaseLocation::Sqlite(":memory:".into()));
        manager.connect().expect("an in-memory database");
        let mut db = std::ptr::null_mut();
        // SAFETY: a NUL-terminated name and an out-pointer for the handle, closed below.
        let opened = unsafe { ffi::sqlite3_open(c":memory:".as_ptr(), &mut db) };
        assert_eq!(opened, ffi::SQLITE_OK);
        let mut on: c_int = -1;
        // SAFETY: `db` is open; -1 reads the setting without changing it, into `on`.
        let read = unsafe {
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                -1 as c_int,
                &mut on as *mut c_int,
            )
        };
        // SAFETY: closed once, with nothing prepared on it.
        unsafe { ffi::sqlite3_close(db) };
        assert_eq!(read, ffi::SQLITE_OK);
        assert_eq!(
            on, 1,
            "SQLite would re-plan statements at each new LIMIT binding"
        );
    }
}
