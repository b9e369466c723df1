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
