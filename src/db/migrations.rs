//! The schema: migrations per backend, applied by one instance at a time, and what operators
//! ask of it (its state, whether it is current, a SQLite backup).

use super::DbConnection;
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Serialises schema migrations across service instances that start at the same time.
const MIGRATION_LOCK_KEY: i64 = 0x706f_7374_616d_6174; // "postamat"

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
