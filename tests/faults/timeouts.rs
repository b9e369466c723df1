//! The PostgreSQL timeouts (issue 27) reach the server: a connection opened from the
//! configuration carries them as the session's settings, a statement that outlasts its timeout
//! is cancelled and answers 503 `database_unavailable`, and migrations run without it.

use crate::cluster::{Cluster, one_at_a_time};
use diesel::{QueryableByName, RunQueryDsl};
use postamat::api::error::{ApiError, ErrorCode};
use std::collections::HashMap;

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    setting: String,
}

fn show(conn: &mut postamat::db::DbConnection, name: &str) -> String {
    diesel::sql_query(format!("SELECT current_setting('{name}') AS setting"))
        .get_result::<Setting>(conn)
        .unwrap()
        .setting
}

#[test]
fn the_timeouts_are_the_sessions_settings_and_a_slow_statement_is_a_503() {
    let _one = one_at_a_time();
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // The cluster's URL without its own connect_timeout: the settings' values are tested.
    let url = cluster.url().replace("&connect_timeout=2", "");
    let vars = HashMap::from([
        ("POSTAMAT_DATABASE_URL".to_owned(), url),
        (
            "POSTAMAT_DB_STATEMENT_TIMEOUT_SECS".to_owned(),
            "1".to_owned(),
        ),
    ]);
    let config = postamat::config::Config::from_vars(vars).unwrap();
    let pool = postamat::db::connect(&config.database, 1).unwrap();
    let mut conn = pool.get().unwrap();
    assert_eq!(show(&mut conn, "statement_timeout"), "1s");
    assert_eq!(show(&mut conn, "idle_in_transaction_session_timeout"), "2s");
    assert_eq!(show(&mut conn, "tcp_keepalives_idle"), "2");
    assert_eq!(show(&mut conn, "tcp_keepalives_count"), "3");
    assert_eq!(show(&mut conn, "tcp_user_timeout"), "5000");

    let slow = diesel::sql_query("SELECT CAST(pg_sleep(3) AS TEXT) AS setting")
        .get_result::<Setting>(&mut conn)
        .map(|_| ())
        .unwrap_err();
    let answer = ApiError::from(slow);
    assert_eq!(answer.code(), ErrorCode::DatabaseUnavailable, "{answer:?}");
    // The connection is still good for the next request.
    assert_eq!(show(&mut conn, "statement_timeout"), "1s");

    // Migrations are exempt, and leave the session's own value behind them.
    postamat::db::run_migrations(&mut conn).unwrap();
    assert_eq!(show(&mut conn, "statement_timeout"), "1s");
}
