//! The database a run owns, made and dropped by it, and the pools the harness opens on it.

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use postamat::db::{self, DatabaseLocation, DbPool};
use std::time::Instant;

/// The database the run owns.
pub enum Database {
    Sqlite(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Database {
    pub fn create(url: Option<&str>) -> (Database, String) {
        match url {
            Some(admin) if admin.starts_with("postgres") => {
                let name = format!("postamat_bench_{}", std::process::id());
                let mut conn = diesel::PgConnection::establish(admin).expect("admin connection");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\""))
                    .execute(&mut conn)
                    .unwrap();
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .unwrap();
                let mut url = url::Url::parse(admin).unwrap();
                url.set_path(&name);
                let db = Database::Postgres {
                    admin: admin.to_owned(),
                    name,
                };
                (db, url.to_string())
            }
            Some(other) => panic!("--database-url must be a postgres:// URL, got {other}"),
            None => {
                let dir =
                    std::env::temp_dir().join(format!("postamat-ingest-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join("bench.db");
                let url = format!("sqlite://{}", file.display());
                (Database::Sqlite(dir), url)
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        match self {
            Database::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Database::Postgres { admin, name } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(&mut conn);
                }
            }
        }
    }
}

/// What autovacuum would have done by now on a server that runs it (issue 26): seeding rewrites
/// every shipment a dozen times, and without it the dead rows and empty statistics of a server
/// with autovacuum off (as this machine's) are measured instead of the service. PostgreSQL:
/// `VACUUM (ANALYZE)`; SQLite: `ANALYZE`. Says so.
pub fn settle(url: &str, when: &str) {
    let mut conn = pool(url, 1).get().unwrap();
    let (sql, what) = match &*conn {
        db::DbConnection::Postgres(_) => ("VACUUM (ANALYZE)", "VACUUM (ANALYZE)"),
        db::DbConnection::Sqlite(_) => ("ANALYZE", "ANALYZE"),
    };
    let t = Instant::now();
    conn.batch_execute(sql).unwrap();
    println!(
        "{what} {when}, as autovacuum would ({:.1} s)",
        t.elapsed().as_secs_f64()
    );
}

pub fn pool(url: &str, size: u32) -> DbPool {
    db::connect(&DatabaseLocation::parse(url).unwrap(), size).unwrap()
}
