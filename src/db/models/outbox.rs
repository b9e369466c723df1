//! The outboxes: messages to citizens and to other systems, written in the same transaction as
//! the change that causes them and delivered later by the dispatcher. A dedup key makes the
//! same cause, written twice, one message.

use super::to_db_time;
use crate::db::schema::{notifications, outbound_messages};
use crate::db::{DbConnection, Id};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

pub struct NewNotification<'a> {
    pub application_id: Id,
    pub shipment_id: Option<Id>,
    /// The notification kind, e.g. `placed_in_cell`.
    pub kind: &'a str,
    /// `kaspi_app` or `sms_1414`.
    pub channel: &'a str,
    /// The citizen's phone (+77XXXXXXXXX); the Kaspi app finds its user by it.
    pub recipient: &'a str,
    pub language: &'a str,
    pub body: &'a str,
    pub dedup_key: &'a str,
}

/// Writes a notification unless one with the same dedup key exists; says whether it wrote.
pub fn notify(
    conn: &mut DbConnection,
    n: NewNotification<'_>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let exists: i64 = notifications::table
        .filter(notifications::dedup_key.eq(n.dedup_key))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(Id::new()),
            notifications::application_id.eq(n.application_id),
            notifications::shipment_id.eq(n.shipment_id),
            notifications::kind.eq(n.kind),
            notifications::channel.eq(n.channel),
            notifications::recipient.eq(n.recipient),
            notifications::language.eq(n.language),
            notifications::body.eq(n.body),
            notifications::dedup_key.eq(n.dedup_key),
            notifications::state.eq("pending"),
            notifications::attempts.eq(0),
            notifications::next_attempt_at.eq(to_db_time(now)),
            notifications::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Writes a message for another system unless one with the same dedup key exists.
pub fn send_later(
    conn: &mut DbConnection,
    destination: &str,
    kind: &str,
    payload: &serde_json::Value,
    dedup_key: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let exists: i64 = outbound_messages::table
        .filter(outbound_messages::dedup_key.eq(dedup_key))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(outbound_messages::table)
        .values((
            outbound_messages::id.eq(Id::new()),
            outbound_messages::destination.eq(destination),
            outbound_messages::kind.eq(kind),
            outbound_messages::payload.eq(payload.to_string()),
            outbound_messages::dedup_key.eq(dedup_key),
            outbound_messages::state.eq("pending"),
            outbound_messages::attempts.eq(0),
            outbound_messages::next_attempt_at.eq(to_db_time(now)),
            outbound_messages::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(true)
}

/// A pending notification, for supervisors and tests.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: Id,
    pub shipment_id: Option<Id>,
    pub kind: String,
    pub channel: String,
    pub language: String,
    pub body: String,
    pub state: String,
    pub attempts: i32,
}

pub fn notifications_of(
    conn: &mut DbConnection,
    shipment_id: Id,
) -> QueryResult<Vec<Notification>> {
    Ok(notifications::table
        .filter(notifications::shipment_id.eq(shipment_id))
        .order(notifications::created_at)
        .select((
            notifications::id,
            notifications::shipment_id,
            notifications::kind,
            notifications::channel,
            notifications::language,
            notifications::body,
            notifications::state,
            notifications::attempts,
        ))
        .load::<(Id, Option<Id>, String, String, String, String, String, i32)>(conn)?
        .into_iter()
        .map(
            |(id, shipment_id, kind, channel, language, body, state, attempts)| Notification {
                id,
                shipment_id,
                kind,
                channel,
                language,
                body,
                state,
                attempts,
            },
        )
        .collect())
}
