//! The test harness: `TestApp`, a fresh database per test (SQLite by default, PostgreSQL when
//! `TEST_POSTGRES_URL` is set), the whole application in process and requests in one line; and
//! `Pilot`, the pilot's branches, postamats and keys on it with the steps the tests take.

mod app;
mod database;
mod logs;
mod pilot;
mod reference;
mod response;

pub use app::{BODY_LIMIT, KASPI_NEXT_SECRET, KASPI_SECRET, TestApp, with_token};
pub use database::TestDatabase;
pub use logs::captured_logs;
pub use pilot::{
    EVENTS, Note, Pilot, accepted_event, applied, deadline, deadline_state, event, iin,
    placed_event,
};
pub use reference::{branch_body, kato};
pub use response::Response;
