//! One file per stored entity: its rows and the queries the rest of the service needs. Nothing
//! here knows about HTTP, jobs or the workflows that use it.

pub mod api_key;
pub mod application;
pub mod branch;
pub mod calendar;
pub mod console_session;
pub mod deadline;
pub mod dispute;
pub mod force_majeure;
pub mod history;
pub mod integration_event;
pub mod kaspi_event;
pub mod loss_act;
pub mod numbering;
pub mod outbox;
pub mod pilot;
pub mod postamat;
pub mod registry;
pub mod report;
pub mod revision;
pub mod shipment;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Timestamps are stored as UTC without a zone (the one type both backends share).
pub fn to_db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub fn from_db_time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A raw statement written in portable SQL with PostgreSQL's parameters `$1`, `$2`, … (SQLite
/// reads the same numbers as `?1`, `?2`, …). The text must hold no other `$`.
pub fn portable_query(
    conn: &crate::db::DbConnection,
    sql: &str,
) -> diesel::query_builder::SqlQuery {
    diesel::sql_query(match conn {
        crate::db::DbConnection::Sqlite(_) => sql.replace('$', "?"),
        crate::db::DbConnection::Postgres(_) => sql.to_owned(),
    })
}

/// Bounds that compare below and above every stored instant on both backends, for a filter
/// whose bound was not asked for. Not chrono's `MIN`/`MAX`: SQLite compares timestamps as
/// text, and `+262142-…` sorts before `2026-…`.
pub fn earliest_db_time() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(1000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid instant")
}

/// See [`earliest_db_time`].
pub fn latest_db_time() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .expect("a valid instant")
}
