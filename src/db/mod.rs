//! Storage: one code base for PostgreSQL (production, several instances share one database)
//! and SQLite (the embedded default). Backend-specific work is a `match` on [`DbConnection`]
//! in this module and nowhere else.

pub mod column;
pub mod id;
pub mod key_cache;
mod location;
mod migrations;
pub mod models;
mod pool;
pub mod schema;
mod storage;
pub mod time;
mod transaction;
pub mod writer;

pub use location::{DatabaseLocation, PgTimeouts, mask_url};
pub use migrations::{
    SchemaState, autovacuum_off, backup_sqlite, migrations_current, run_migrations, schema_state,
};
pub use pool::{ConnectionManager, POOL_WAIT, connect};
pub use storage::{StorageWatch, storage_full};
pub use transaction::{
    SnapshotId, export_snapshot, in_transaction, lock_key, snapshot_read, snapshot_read_from,
    write_transaction,
};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self};

/// A connection to either backend; a backend-specific query is a `match` on it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = r2d2::Pool<ConnectionManager>;

pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

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
