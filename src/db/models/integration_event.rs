//! Events from the registry office and Kaspi, kept by their own event id: a repeat gets the
//! first answer and changes nothing; the same id with a different payload is refused.

use crate::db::schema::integration_events;
use crate::db::time::At;
use crate::db::{DbConnection, insert_or_ignore};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

/// A stable fingerprint of a request body as we parsed it.
pub fn fingerprint(value: &impl serde::Serialize) -> String {
    let canonical = serde_json::to_vec(value).expect("request bodies serialise");
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What was kept of an event: its payload's fingerprint and the answer it got.
pub struct Kept {
    pub payload_hash: String,
    pub answer: serde_json::Value,
}

/// Every kept event was answered 200 OK; the column keeps that status, as rows before the inbox
/// recorded it.
const ANSWERED_OK: i32 = 200;

pub fn find(conn: &mut DbConnection, source: &str, event_id: &str) -> QueryResult<Option<Kept>> {
    integration_events::table
        .filter(integration_events::source.eq(source))
        .filter(integration_events::event_id.eq(event_id))
        .select((
            integration_events::payload_hash,
            integration_events::response,
        ))
        .first::<(String, String)>(conn)
        .optional()?
        .map(|(payload_hash, answer)| {
            Ok(Kept {
                payload_hash,
                answer: serde_json::from_str(&answer)
                    .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?,
            })
        })
        .transpose()
}

pub struct NewEvent<'a> {
    pub source: &'a str,
    pub event_id: &'a str,
    pub kind: &'a str,
    pub application_number: &'a str,
    pub payload_hash: &'a str,
    pub answer: &'a serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// Keeps an event seen for the first time; false if an event with its source and id is kept
/// already (a twin committed by another transaction).
pub fn insert_new(conn: &mut DbConnection, event: NewEvent<'_>) -> QueryResult<bool> {
    let answer = event.answer.to_string();
    let values = (
        integration_events::source.eq(event.source),
        integration_events::event_id.eq(event.event_id),
        integration_events::kind.eq(event.kind),
        integration_events::application_number.eq(event.application_number),
        integration_events::payload_hash.eq(event.payload_hash),
        integration_events::response_status.eq(ANSWERED_OK),
        integration_events::response.eq(&answer),
        integration_events::received_at.eq(At(event.received_at)),
    );
    Ok(insert_or_ignore!(conn, integration_events::table, values)? == 1)
}
