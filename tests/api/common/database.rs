//! The database a test owns: SQLite by default, PostgreSQL when `TEST_POSTGRES_URL` is set.

use diesel::{Connection, RunQueryDsl};
use postamat::db::DatabaseLocation;
use std::path::PathBuf;

/// The database a test owns; removed when the test ends.
pub enum TestDatabase {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    pub(super) fn create() -> (Self, DatabaseLocation) {
        match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) => {
                let name = format!("postamat_test_{}", uuid::Uuid::now_v7().simple());
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .expect("TEST_POSTGRES_URL must point at a reachable PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .expect("create the test database");
                let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                (
                    TestDatabase::Postgres { admin_url, name },
                    DatabaseLocation::Postgres(url.to_string()),
                )
            }
            Err(_) => {
                let dir = std::env::temp_dir()
                    .join(format!("postamat-test-{}", uuid::Uuid::now_v7().simple()));
                let file = dir.join("test.db");
                (TestDatabase::Sqlite(dir), DatabaseLocation::Sqlite(file))
            }
        }
    }
}

impl TestDatabase {
    /// A database and its `POSTAMAT_DATABASE_URL`, for tests of the command.
    pub fn create_url() -> (Self, String) {
        let (db, location) = Self::create();
        (db, url_of(&location))
    }
}

/// The `POSTAMAT_DATABASE_URL` of a location.
pub(super) fn url_of(location: &DatabaseLocation) -> String {
    match location {
        DatabaseLocation::Postgres(url) => url.clone(),
        DatabaseLocation::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            TestDatabase::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDatabase::Postgres { admin_url, name } => {
                if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(&mut admin);
                }
            }
        }
    }
}
