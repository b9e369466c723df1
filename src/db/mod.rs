//! Storage: one code base for PostgreSQL (production, several instances share one database)
//! and SQLite (the embedded default). Backend-specific work is a `match` on [`DbConnection`]
//! in this module and nowhere else.

pub mod column;
pub mod id;
pub mod key_cache;
pub mod models;
pub mod schema;
pub mod time;
pub mod writer;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::path::PathBuf;
use std::time::Duration;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Serialises schema migrations across service instances that start at the same time.
const MIGRATION_LOCK_KEY: i64 = 0x706f_7374_616d_6174; // "postamat"

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Where the database lives, parsed from `POSTAMAT_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// `postgres://…` or `postgresql://…`, passed to libpq as it is.
    Postgres(String),
    /// `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
}

/// How long the service gives PostgreSQL before it gives up (issue 27): these bound every
/// answer when the database is slow, stalled or behind a network that lost it, so a request
/// never waits forever on a half-open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimeouts {
    /// Opening a connection (libpq's `connect_timeout`).
    pub connect: Duration,
    /// One statement on the server (`statement_timeout`; migrations are exempt), and twice it
    /// for a session left idle inside a transaction (`idle_in_transaction_session_timeout`), so
    /// a client the network lost mid-transaction does not hold its row locks for long.
    pub statement: Duration,
    /// A connection that acknowledges nothing for about this long is closed, on both ends:
    /// TCP keepalives probe an idle-waiting one (from half of it, every second, three times;
    /// libpq's and the server's `tcp_keepalives_*`), and `tcp_user_timeout` closes one whose
    /// sent data stays unacknowledged this long.
    pub network: Duration,
}

impl PgTimeouts {
    /// libpq's parameters for these timeouts (values as they go in the URL).
    fn parameters(&self) -> Vec<(&'static str, String)> {
        let network = self.network.as_secs().max(2);
        vec![
            // libpq takes 1 as 2: the smallest it honours.
            ("connect_timeout", self.connect.as_secs().max(2).to_string()),
            ("keepalives", "1".into()),
            ("keepalives_idle", (network / 2).to_string()),
            ("keepalives_interval", "1".into()),
            ("keepalives_count", "3".into()),
            ("tcp_user_timeout", (network * 1000).to_string()),
        ]
    }

    /// The server's settings for the session, as `-c name=value` in libpq's `options`.
    fn server_settings(&self) -> Vec<(&'static str, String)> {
        let network = self.network.as_secs().max(2);
        let statement = self.statement.as_millis();
        vec![
            ("statement_timeout", statement.to_string()),
            (
                "idle_in_transaction_session_timeout",
                (statement * 2).to_string(),
            ),
            ("tcp_keepalives_idle", (network / 2).to_string()),
            ("tcp_keepalives_interval", "1".into()),
            ("tcp_keepalives_count", "3".into()),
            ("tcp_user_timeout", (network * 1000).to_string()),
        ]
    }
}

/// `url` with the timeouts' libpq parameters added, each only where the URL does not set it
/// already (the operator's URL wins), and the server's settings added to `options` (the URL's
/// own, if it has one) unless it names them. The query starts at the first `?` after the
/// credentials (libpq allows an unencoded `?` in a password); libpq decodes `%XX`, not `+`.
fn with_pg_timeouts(url: &str, timeouts: PgTimeouts) -> String {
    let after_credentials = url.rfind('@').map_or(0, |at| at + 1);
    let (base, query) = match url[after_credentials..].find('?') {
        Some(at) => (
            &url[..after_credentials + at],
            &url[after_credentials + at + 1..],
        ),
        None => (url, ""),
    };
    let mut segments: Vec<String> = query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let name_of = |segment: &str| segment.split('=').next().unwrap_or("").to_owned();
    for (name, value) in timeouts.parameters() {
        if !segments.iter().any(|s| name_of(s) == name) {
            segments.push(format!("{name}={value}"));
        }
    }
    let options = match segments.iter().position(|s| name_of(s) == "options") {
        Some(at) => at,
        None => {
            segments.push("options=".to_owned());
            segments.len() - 1
        }
    };
    for (name, value) in timeouts.server_settings() {
        let own = &mut segments[options];
        if !own.contains(name) {
            let separator = if own.ends_with('=') { "" } else { "%20" };
            own.push_str(&format!("{separator}-c%20{name}%3D{value}"));
        }
    }
    format!("{base}?{}", segments.join("&"))
}

impl DatabaseLocation {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseLocation::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "a sqlite URL needs a file path, e.g. sqlite://data/postamat.db".into(),
                );
            }
            Ok(DatabaseLocation::Sqlite(PathBuf::from(path)))
        } else {
            Err("must start with postgres://, postgresql:// or sqlite://".into())
        }
    }

    /// The location with PostgreSQL's timeouts applied to its URL; SQLite's is unchanged (a
    /// local file has no network, and its busy timeout is fixed at 10 s).
    pub fn with_timeouts(self, timeouts: PgTimeouts) -> Self {
        match self {
            DatabaseLocation::Postgres(url) => {
                DatabaseLocation::Postgres(with_pg_timeouts(&url, timeouts))
            }
            sqlite => sqlite,
        }
    }

    /// Where the data is, for a log line or an operator: SQLite's file as an absolute path
    /// (a relative one depends on the folder the service started in), PostgreSQL's URL with
    /// its secrets masked ([`mask_url`]).
    pub fn describe(&self) -> String {
        match self {
            DatabaseLocation::Sqlite(path) => std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
            DatabaseLocation::Postgres(url) => mask_url(url),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseLocation::Postgres(_) => "postgres",
            DatabaseLocation::Sqlite(_) => "sqlite",
        }
    }
}

/// libpq parameters that name how to connect, never a secret: shown as they are.
const PLAIN_POSTGRES_PARAMETERS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    // The server settings of the session (`-c statement_timeout=…`): no secret goes there.
    "options",
];

/// A URL as an operator or a log line may show it (security review, issue 28 finding 5):
/// the password, every query value and the fragment replaced by `****`, and the user name too
/// unless the URL is a database's (`https://TOKEN@host` carries a token where a database URL
/// carries its role). A database URL keeps the libpq parameters that only say how to connect
/// (`sslmode`, `connect_timeout`, …). Used for every URL setting: in `doctor`, in logs, in
/// errors.
pub fn mask_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "(not a URL)".to_owned();
    };
    let database = matches!(url.scheme(), "postgres" | "postgresql" | "sqlite");
    if url.password().is_some() {
        let _ = url.set_password(Some("****"));
    }
    if !database && !url.username().is_empty() {
        let _ = url.set_username("****");
    }
    if url.query().is_some() {
        let shown = |k: &str| {
            database
                && PLAIN_POSTGRES_PARAMETERS
                    .iter()
                    .any(|p| k.eq_ignore_ascii_case(p))
        };
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| match (shown(&k), v.is_empty()) {
                (true, _) => (k.into_owned(), v.into_owned()),
                // `?TOKEN`: the key itself is the secret.
                (false, true) => ("****".to_owned(), String::new()),
                (false, false) => (k.into_owned(), "****".to_owned()),
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if url.fragment().is_some() {
        url.set_fragment(Some("****"));
    }
    url.to_string()
}

#[cfg(test)]
mod storage_watch_tests {
    use super::*;

    #[test]
    fn a_refusal_is_reported_until_a_write_succeeds() {
        let watch = StorageWatch::default();
        assert_eq!(watch.recently_full(), None);
        watch.full();
        assert!(watch.recently_full().is_some());
        watch.room();
        assert_eq!(watch.recently_full(), None);
    }

    #[test]
    fn a_refusal_older_than_the_window_is_not_reported() {
        let watch = StorageWatch::default();
        watch.full();
        let at = watch.lock().unwrap();
        let just_before = at + StorageWatch::WINDOW - Duration::from_millis(1);
        assert!(watch.full_as_of(just_before).is_some());
        assert_eq!(watch.full_as_of(at + StorageWatch::WINDOW), None);
    }
}

#[cfg(test)]
mod timeout_tests {
    use super::*;

    const TIMEOUTS: PgTimeouts = PgTimeouts {
        connect: Duration::from_secs(3),
        statement: Duration::from_secs(15),
        network: Duration::from_secs(5),
    };

    const SERVER: &str = "options=-c%20statement_timeout%3D15000\
        %20-c%20idle_in_transaction_session_timeout%3D30000%20-c%20tcp_keepalives_idle%3D2\
        %20-c%20tcp_keepalives_interval%3D1%20-c%20tcp_keepalives_count%3D3\
        %20-c%20tcp_user_timeout%3D5000";

    #[test]
    fn the_timeouts_are_added_as_libpq_parameters() {
        let url = with_pg_timeouts("postgres://u:p@db:5432/postamat?sslmode=require", TIMEOUTS);
        assert_eq!(
            url,
            format!(
                "postgres://u:p@db:5432/postamat?sslmode=require&connect_timeout=3&keepalives=1\
                 &keepalives_idle=2&keepalives_interval=1&keepalives_count=3\
                 &tcp_user_timeout=5000&{SERVER}"
            )
        );
        let bare = with_pg_timeouts("postgres://db/postamat", TIMEOUTS);
        assert!(
            bare.starts_with("postgres://db/postamat?connect_timeout=3&"),
            "{bare}"
        );
    }

    #[test]
    fn the_operators_own_parameters_win() {
        let url = with_pg_timeouts(
            "postgres://db/p?connect_timeout=10&options=-c%20search_path%3Dx&tcp_user_timeout=0",
            TIMEOUTS,
        );
        assert!(url.contains("connect_timeout=10&"), "{url}");
        assert!(!url.contains("connect_timeout=3"), "{url}");
        assert!(url.contains("&tcp_user_timeout=0&"), "{url}");
        assert!(
            url.contains("options=-c%20search_path%3Dx%20-c%20statement_timeout%3D15000%20"),
            "{url}"
        );
        let own = with_pg_timeouts(
            "postgres://db/p?options=-c%20statement_timeout%3D0",
            TIMEOUTS,
        );
        assert!(
            own.contains("?options=-c%20statement_timeout%3D0%20-c%20idle_"),
            "{own}"
        );
        assert_eq!(own.matches("statement_timeout").count(), 1, "{own}");
    }

    #[test]
    fn a_question_mark_in_the_password_is_not_the_query() {
        let url = with_pg_timeouts("postgres://u:pa?ss@db/p?sslmode=require", TIMEOUTS);
        assert!(
            url.starts_with("postgres://u:pa?ss@db/p?sslmode=require&connect_timeout=3&"),
            "{url}"
        );
        let no_query = with_pg_timeouts("postgres://u:pa?ss@db/p", TIMEOUTS);
        assert!(
            no_query.starts_with("postgres://u:pa?ss@db/p?connect_timeout=3&"),
            "{no_query}"
        );
    }

    #[test]
    fn sqlite_has_no_network_to_time_out() {
        let sqlite = DatabaseLocation::Sqlite("data/p.db".into());
        assert_eq!(sqlite.clone().with_timeouts(TIMEOUTS), sqlite);
    }
}

#[cfg(test)]
mod mask_tests {
    use super::mask_url;

    #[test]
    fn every_secret_a_url_can_hold_is_masked() {
        for (raw, shown) in [
            (
                "postgres://app:s3cret@db:5432/p?sslmode=require&password=s3cret",
                "postgres://app:****@db:5432/p?sslmode=require&password=****",
            ),
            (
                "postgres://app@db/p?sslpassword=x&connect_timeout=5",
                "postgres://app@db/p?sslpassword=****&connect_timeout=5",
            ),
            (
                "https://TOKEN@gw.example/send?api_key=abc&token=def#frag",
                "https://****@gw.example/send?api_key=****&token=****#****",
            ),
            (
                "https://user:pw@gw.example/?SECRETKEY",
                "https://****:****@gw.example/?****=",
            ),
            ("https://gw.example/send", "https://gw.example/send"),
            ("not a url", "(not a URL)"),
        ] {
            let masked = mask_url(raw);
            assert_eq!(masked, shown, "{raw}");
            for secret in ["s3cret", "TOKEN", "abc", "def", "frag", "SECRETKEY", "pw"] {
                assert!(!masked.contains(secret), "{raw} -> {masked}");
            }
        }
    }
}

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

/// Whether `conn` is inside a transaction already (a nested one is a savepoint).
pub fn in_transaction(conn: &mut DbConnection) -> bool {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let status = match conn {
        DbConnection::Postgres(pg) => AnsiTransactionManager::transaction_manager_status_mut(pg),
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        }
    };
    status
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some())
}

/// A transaction that reads and then writes. On SQLite it begins `IMMEDIATE`, taking the write
/// lock up front: a deferred transaction that read first would fail with "database is locked"
/// when another writer got in between, instead of waiting for the busy timeout.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    // Inside a transaction already (one command calling another): a savepoint, as usual.
    if in_transaction(conn) {
        return conn.transaction(work);
    }
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = work(conn);
    let DbConnection::Sqlite(sqlite) = conn else {
        unreachable!("the connection does not change backend")
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(sqlite)?;
            Ok(value)
        }
        Err(err) => {
            // The original error is the one worth reporting; a failed rollback is logged (the
            // transaction manager then marks the connection broken and the pool drops it).
            if let Err(rollback) = AnsiTransactionManager::rollback_transaction(sqlite) {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}

/// Reads that must all see one moment of the database (a report): one read-only transaction.
/// On PostgreSQL it is `REPEATABLE READ` — one snapshot for every statement — with JIT
/// compilation off: a report's statements run for well under a second, and compiling them
/// cost more than it saved (measured for issue 25: 0.1–1 s per statement on the pilot report).
/// On SQLite a transaction on one connection already reads one snapshot.
pub fn snapshot_read<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    snapshot_read_from(conn, None, work)
}

/// [`snapshot_read`] on a second PostgreSQL connection, reading the snapshot another
/// transaction exported with [`export_snapshot`] (the two see exactly the same rows).
pub fn snapshot_read_from<T, E>(
    conn: &mut DbConnection,
    snapshot: Option<&SnapshotId>,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    // Inside a transaction already: its snapshot and settings stand (they can only be set
    // before its first statement).
    if in_transaction(conn) {
        return conn.transaction(work);
    }
    conn.transaction(|conn| {
        if let DbConnection::Postgres(_) = conn {
            // The isolation level first: a snapshot is imported only into REPEATABLE READ.
            let import = snapshot
                .map(|SnapshotId(id)| format!("SET TRANSACTION SNAPSHOT '{id}'; "))
                .unwrap_or_default();
            conn.batch_execute(&format!(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
                 {import}SET LOCAL jit = off;"
            ))?;
        }
        work(conn)
    })
}

/// A PostgreSQL snapshot exported by a transaction, for another to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotId(String);

/// The snapshot of the PostgreSQL transaction `conn` is in (within [`snapshot_read`]), for
/// [`snapshot_read_from`] on another connection; `None` on SQLite, which cannot share one.
pub fn export_snapshot(conn: &mut DbConnection) -> QueryResult<Option<SnapshotId>> {
    #[derive(QueryableByName)]
    struct Exported {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let DbConnection::Postgres(_) = conn else {
        return Ok(None);
    };
    let exported: Exported =
        diesel::sql_query("SELECT pg_export_snapshot() AS id").get_result(conn)?;
    // PostgreSQL's identifiers are hex digits and dashes; nothing else is written into SQL.
    if exported.id.is_empty()
        || !exported
            .id
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '-')
    {
        return Err(diesel::result::Error::QueryBuilderError(
            format!("unexpected snapshot identifier {:?}", exported.id).into(),
        ));
    }
    Ok(Some(SnapshotId(exported.id)))
}

/// Serialises transactions that concern one key (a waybill, a registry) until the caller's
/// transaction ends. PostgreSQL takes a transaction-scoped advisory lock; SQLite's IMMEDIATE
/// transactions already run one writer at a time.
pub fn lock_key(conn: &mut DbConnection, key: &str) -> QueryResult<()> {
    use sha2::{Digest, Sha256};
    match conn {
        DbConnection::Postgres(pg) => {
            let digest = Sha256::digest(key.as_bytes());
            let id = i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(id)
                .execute(pg)
                .map(|_| ())
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// `INSERT … ON CONFLICT DO NOTHING` of `values` into `table` on either backend (diesel's
/// connection over both cannot express it); evaluates to the number of rows inserted, 0 when a
/// row with the same unique key exists.
macro_rules! insert_or_ignore {
    ($conn:expr, $table:expr, $values:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres(pg) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(pg),
            $crate::db::DbConnection::Sqlite(sqlite) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(sqlite),
        }
    };
}
pub(crate) use insert_or_ignore;

/// Applies pending migrations of the connection's backend; returns how many ran. A database
/// that a newer binary has migrated (a migration this binary does not know is applied) is
/// refused before anything runs: this binary would read and write tables it does not know the
/// shape of, and two versions would each think they own the schema.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    fn apply<C: MigrationHarness<B>, B: diesel::backend::Backend>(
        conn: &mut C,
        source: EmbeddedMigrations,
    ) -> anyhow::Result<usize>
    where
        EmbeddedMigrations: MigrationSource<B>,
    {
        let unknown = unknown_applied(conn, &source)
            .map_err(|e| anyhow::anyhow!("cannot read the migration state: {e}"))?;
        if !unknown.is_empty() {
            anyhow::bail!(
                "the database's schema is newer than this binary (postamat {}): migration(s) {} \
                 are applied but unknown to it. Run the release that made them (or a later one); \
                 this binary neither serves nor migrates this database",
                env!("CARGO_PKG_VERSION"),
                unknown.join(", ")
            );
        }
        conn.run_pending_migrations(source)
            .map(|v| v.len())
            .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))
    }
    match conn {
        DbConnection::Postgres(pg) => {
            // Several instances may start at once against one database.
            // A migration may rewrite a large table, and another instance's may hold the lock
            // meanwhile: the statement timeout (PgTimeouts) is for requests. RESET returns to
            // the connection's own value afterwards.
            pg.batch_execute("SET statement_timeout = 0")?;
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .execute(pg)?;
            let result = apply(pg, POSTGRES_MIGRATIONS);
            // Both run whatever happened; the migration's own error is the one worth reporting.
            let unlocked =
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                    .execute(pg);
            let reset = pg.batch_execute("RESET statement_timeout");
            let applied = result?;
            unlocked?;
            reset?;
            Ok(applied)
        }
        DbConnection::Sqlite(sqlite) => apply(sqlite, SQLITE_MIGRATIONS),
    }
}

/// Whether a database error's message says its storage is full: SQLite's SQLITE_FULL, or
/// PostgreSQL's disk_full (53100, "could not extend file …: No space left on device"). The
/// statement's transaction was rolled back; nothing of it was kept.
pub fn storage_full(message: &str) -> bool {
    message.contains("database or disk is full") || message.contains("No space left on device")
}

/// When a write last found the database's storage full, for `/readyz` (issue 27): the service
/// reports itself not ready from such a refusal until a write succeeds again, or for
/// [`StorageWatch::WINDOW`] after the last refusal (so an instance taken out of rotation by it
/// is tried again once an operator may have freed space).
#[derive(Debug, Default)]
pub struct StorageWatch {
    last_full: std::sync::Mutex<Option<std::time::Instant>>,
}

impl StorageWatch {
    pub const WINDOW: Duration = Duration::from_secs(30);

    /// A write was refused for a full storage.
    pub fn full(&self) {
        *self.lock() = Some(std::time::Instant::now());
    }

    /// A write was committed: there is room again.
    pub fn room(&self) {
        *self.lock() = None;
    }

    /// How long ago the last refusal was, while it is within the window.
    pub fn recently_full(&self) -> Option<Duration> {
        self.full_as_of(std::time::Instant::now())
    }

    fn full_as_of(&self, now: std::time::Instant) -> Option<Duration> {
        self.lock()
            .map(|at| now.saturating_duration_since(at))
            .filter(|ago| *ago < Self::WINDOW)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<std::time::Instant>> {
        // The guarded value is a plain instant: a panic elsewhere cannot leave it half-made.
        self.last_full
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The applied migrations (versions) this binary's `source` does not have.
fn unknown_applied<C: MigrationHarness<B>, B: diesel::backend::Backend>(
    conn: &mut C,
    source: &EmbeddedMigrations,
) -> diesel::migration::Result<Vec<String>>
where
    EmbeddedMigrations: MigrationSource<B>,
{
    let known: std::collections::BTreeSet<String> = MigrationSource::<B>::migrations(source)?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let mut unknown: Vec<String> = conn
        .applied_migrations()?
        .iter()
        .map(|v| v.to_string())
        .filter(|v| !known.contains(v))
        .collect();
    unknown.sort();
    Ok(unknown)
}

/// True on a PostgreSQL server whose autovacuum is off (worth a warning at start-up).
pub fn autovacuum_off(conn: &mut DbConnection) -> bool {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        setting: String,
    }
    match conn {
        DbConnection::Postgres(pg) => {
            diesel::sql_query("SELECT current_setting('autovacuum') AS setting")
                .get_result::<Setting>(pg)
                .is_ok_and(|s| s.setting == "off")
        }
        DbConnection::Sqlite(_) => false,
    }
}

/// The schema's migrations: applied (versions) and pending (names), for an operator.
pub struct SchemaState {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
}

pub fn schema_state(conn: &mut DbConnection) -> anyhow::Result<SchemaState> {
    fn state<C: MigrationHarness<B>, B: diesel::backend::Backend>(
        conn: &mut C,
        source: EmbeddedMigrations,
    ) -> diesel::migration::Result<SchemaState> {
        let mut applied: Vec<String> = conn
            .applied_migrations()?
            .iter()
            .map(|v| v.to_string())
            .collect();
        applied.sort();
        let pending = conn
            .pending_migrations(source)?
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        Ok(SchemaState { applied, pending })
    }
    match conn {
        DbConnection::Postgres(pg) => state(pg, POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(sqlite) => state(sqlite, SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("cannot read the migration state: {e}"))
}

/// Writes a consistent copy of the SQLite database to `file` (`VACUUM INTO`: a snapshot of one
/// read transaction, so writers may go on meanwhile) and checks the copy; returns its size.
pub fn backup_sqlite(conn: &mut DbConnection, file: &std::path::Path) -> anyhow::Result<u64> {
    let DbConnection::Sqlite(sqlite) = conn else {
        anyhow::bail!("only a SQLite database is copied this way");
    };
    let target = file
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(target)
        .execute(sqlite)
        .map_err(|e| anyhow::anyhow!("backup to {target} failed: {e}"))?;
    // The copy must open and pass SQLite's own check before we call it a backup.
    let mut copy = diesel::SqliteConnection::establish(target)
        .map_err(|e| anyhow::anyhow!("the backup at {target} does not open: {e}"))?;
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let check: Check = diesel::sql_query("PRAGMA integrity_check")
        .get_result(&mut copy)
        .map_err(|e| anyhow::anyhow!("cannot check the backup at {target}: {e}"))?;
    if check.integrity_check != "ok" {
        anyhow::bail!(
            "the backup at {target} fails its integrity check: {}",
            check.integrity_check
        );
    }
    Ok(std::fs::metadata(file)?.len())
}

/// True when every embedded migration has been applied (readiness).
pub fn migrations_current(conn: &mut DbConnection) -> anyhow::Result<bool> {
    let pending = match conn {
        DbConnection::Postgres(pg) => pg.has_pending_migration(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(sqlite) => sqlite.has_pending_migration(SQLITE_MIGRATIONS),
    };
    pending
        .map(|p| !p)
        .map_err(|e| match e.downcast::<diesel::result::Error>() {
            // A database error stays one (a lost connection is the caller's 503, not a bug).
            Ok(database) => anyhow::Error::new(*database),
            Err(other) => anyhow::anyhow!("cannot read migration state: {other}"),
        })
}
