//! Transactions: a write that takes its lock up front, reads from one exported snapshot (shared
//! by a report's parallel readers), and advisory locks by key.

use super::DbConnection;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

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
