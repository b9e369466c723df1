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
pub mod postamat;
pub mod registry;
pub mod report;
pub mod shipment;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Timestamps are stored as UTC without a zone (the one type both backends share).
pub fn to_db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub fn from_db_time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
