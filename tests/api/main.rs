//! HTTP and command-line tests. They run on SQLite by default and on PostgreSQL when
//! `TEST_POSTGRES_URL` is set; every test has its own database.

mod auth;
mod browser;
mod calendar;
mod cli;
mod common;
mod console;
mod delivery_changes;
mod dispatcher;
mod errors;
mod kaspi_events;
mod late_truths;
mod layers;
mod lifecycle;
mod logs;
mod losses;
mod openapi;
mod pilot_end;
mod printed;
mod reference_data;
mod returns;
mod simulate;
mod snapshots;
mod statements;
mod stuck;
mod sweeper;
mod tls;
