//! A report reads one moment of the database (issue 25): every statement of one report sees the
//! same rows, and on PostgreSQL its second connection sees exactly what the first one does.

use crate::common::TestApp;
use actix_web::web;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use postamat::db::{self, DbConnection};

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn revisions(conn: &mut DbConnection) -> i64 {
    diesel::sql_query("SELECT COUNT(*) AS n FROM data_revisions")
        .get_result::<Counted>(conn)
        .unwrap()
        .n
}

fn add_revision(conn: &mut DbConnection, name: &str) {
    let sql = match conn {
        DbConnection::Postgres(_) => {
            "INSERT INTO data_revisions (name, applied_at) VALUES ($1, CURRENT_TIMESTAMP)"
        }
        DbConnection::Sqlite(_) => {
            "INSERT INTO data_revisions (name, applied_at) VALUES (?, CURRENT_TIMESTAMP)"
        }
    };
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Text, _>(name)
        .execute(conn)
        .unwrap();
}

#[actix_web::test]
async fn a_report_reads_one_snapshot_on_each_of_its_connections() {
    let app = TestApp::new().await;
    let backend = app.backend();
    let pool = app.pool.clone();
    web::block(move || {
        let (mut first, mut second, mut writer) = (
            pool.get().unwrap(),
            pool.get().unwrap(),
            pool.get().unwrap(),
        );
        let before = revisions(&mut writer);
        let seen = db::snapshot_read(&mut first, |first| {
            let seen = revisions(first);
            let snapshot = db::export_snapshot(first)?;
            assert_eq!(snapshot.is_some(), backend == "postgres", "{backend}");
            // Written and committed while the report reads.
            add_revision(&mut writer, "written while a report reads");
            assert_eq!(
                revisions(first),
                seen,
                "{backend}: the first connection's snapshot"
            );
            if snapshot.is_some() {
                let on_second = db::snapshot_read_from(&mut second, snapshot.as_ref(), |second| {
                    Ok::<_, diesel::result::Error>(revisions(second))
                })?;
                assert_eq!(
                    on_second, seen,
                    "the second connection reads the same snapshot"
                );
            }
            Ok::<_, diesel::result::Error>(seen)
        })
        .unwrap();
        assert_eq!(seen, before);
        assert_eq!(
            revisions(&mut writer),
            before + 1,
            "the write is there for the next read"
        );
        assert_eq!(revisions(&mut second), before + 1);
    })
    .await
    .unwrap();
}

#[actix_web::test]
async fn a_report_inside_a_transaction_reads_in_it() {
    let app = TestApp::new().await;
    let pool = app.pool.clone();
    web::block(move || {
        let mut conn = pool.get().unwrap();
        conn.transaction(|conn| {
            add_revision(conn, "in the caller's transaction");
            // The caller's transaction stands: its own write is seen, nothing is refused for
            // setting a snapshot too late.
            let seen =
                db::snapshot_read(conn, |conn| Ok::<_, diesel::result::Error>(revisions(conn)))?;
            assert!(seen >= 1);
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        })
        .unwrap_err();
    })
    .await
    .unwrap();
}
