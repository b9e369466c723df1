//! Events from the registry office and Kaspi, kept by their own event id: a repeat gets the
//! first answer and changes nothing; the same id with a different payload is refused.

use crate::db::DbConnection;
use crate::db::schema::integration_events;
use crate::db::time::At;
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

/// The stored answer to an event id.
pub struct StoredResponse {
    pub payload_hash: String,
    pub status: u16,
    pub body: serde_json::Value,
}

pub fn find(
    conn: &mut DbConnection,
    source: &str,
    event_id: &str,
) -> QueryResult<Option<StoredResponse>> {
    integration_events::table
        .filter(integration_events::source.eq(source))
        .filter(integration_events::event_id.eq(event_id))
        .select((
            integration_events::payload_hash,
            integration_events::response_status,
            integration_events::response,
        ))
        .first::<(String, i32, String)>(conn)
        .optional()?
        .map(|(payload_hash, status, body)| {
            let corrupt = |e: Box<dyn std::error::Error + Send + Sync>| {
                diesel::result::Error::DeserializationError(e)
            };
            Ok(StoredResponse {
                payload_hash,
                status: u16::try_from(status).map_err(|e| corrupt(Box::new(e)))?,
                body: serde_json::from_str(&body).map_err(|e| corrupt(Box::new(e)))?,
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
    pub status: u16,
    pub body: &'a serde_json::Value,
    pub received_at: DateTime<Utc>,
}

pub fn store(conn: &mut DbConnection, event: NewEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(integration_events::table)
        .values((
            integration_events::source.eq(event.source),
            integration_events::event_id.eq(event.event_id),
            integration_events::kind.eq(event.kind),
            integration_events::application_number.eq(event.application_number),
            integration_events::payload_hash.eq(event.payload_hash),
            integration_events::response_status.eq(i32::from(event.status)),
            integration_events::response.eq(event.body.to_string()),
            integration_events::received_at.eq(At(event.received_at)),
        ))
        .execute(conn)
        .map(|_| ())
}
