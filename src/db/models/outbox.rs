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
    // In a savepoint: a twin written at the same moment elsewhere wins the unique dedup key,
    // and this one is simply not needed.
    let inserted = conn.transaction(|conn| {
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
            .execute(conn)
    });
    written_unless_twin(inserted)
}

/// An insert made in a savepoint against a unique dedup key: a twin written at the same moment
/// elsewhere wins the key, and this one is simply not needed (`Ok(false)`).
fn written_unless_twin(inserted: QueryResult<usize>) -> QueryResult<bool> {
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What a citizen is told: the notification kind, the text, and the dedup key of its cause.
pub struct CitizenMessage<'a> {
    pub kind: &'a str,
    pub body: &'a str,
    pub dedup: &'a str,
}

/// Tells the citizen of an application something on each of `channels` (one message per
/// channel, each deduplicated by the cause's key and the channel).
pub fn tell_citizen(
    conn: &mut DbConnection,
    application: &crate::db::models::application::ApplicationRow,
    shipment_id: Id,
    channels: &[&str],
    message: CitizenMessage<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    for channel in channels {
        let key = format!("{}:{channel}", message.dedup);
        notify(
            conn,
            NewNotification {
                application_id: application.id,
                shipment_id: Some(shipment_id),
                kind: message.kind,
                channel,
                recipient: &application.phone,
                language: &application.language,
                body: message.body,
                dedup_key: &key,
            },
            now,
        )?;
    }
    Ok(())
}

/// The messages that send the citizen to their branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchNotice {
    /// п.34: the document is back at the State Corporation.
    Returned,
    /// п.25: the application is cancelled after a loss; a free duplicate awaits.
    Cancelled,
}

/// Tells the citizen, in the Kaspi app and by SMS 1414, in their language, with their branch's
/// address (п.25, п.34).
pub fn tell_where_to_collect(
    conn: &mut DbConnection,
    row: &crate::db::models::shipment::ShipmentRow,
    notice: BranchNotice,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    use crate::domain::notification::{self, Facts, Language};
    let app = crate::db::models::application::find(conn, row.application_id)?;
    let (address_kk, address_ru): (String, String) = crate::db::schema::branches::table
        .find(row.branch_id)
        .select((
            crate::db::schema::branches::address_kk,
            crate::db::schema::branches::address_ru,
        ))
        .first(conn)?;
    let language = Language::parse(&app.language).unwrap_or(Language::Ru);
    let branch_address = if language == Language::Kk {
        &address_kk
    } else {
        &address_ru
    };
    let application_number = &app.number;
    let facts = match notice {
        BranchNotice::Returned => Facts::ReturnedToStateCorporation {
            application_number,
            branch_address,
        },
        BranchNotice::Cancelled => Facts::CancelledAfterLoss {
            application_number,
            branch_address,
        },
    };
    let body = notification::render(&facts, language);
    let kind = facts.kind().as_str();
    let dedup = format!("{}:{kind}", row.id);
    let message = CitizenMessage {
        kind,
        body: &body,
        dedup: &dedup,
    };
    tell_citizen(conn, &app, row.id, &["kaspi_app", "sms_1414"], message, now)
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
    let inserted = conn.transaction(|conn| {
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
            .execute(conn)
    });
    written_unless_twin(inserted)
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

/// The two outboxes the dispatcher delivers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Outbox {
    /// Messages to citizens (SMS 1414, Kaspi app).
    Notifications,
    /// Messages to other systems (Kaspi, the registry office).
    Outbound,
}

/// A message claimed for delivery.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Id,
    /// `sms_1414` or `kaspi_app` for notifications; `kaspi` or `registry_office` otherwise.
    pub channel: String,
    pub kind: String,
    /// The citizen's phone, for notifications.
    pub recipient: Option<String>,
    /// The text, or the JSON payload for other systems.
    pub body: String,
    pub dedup_key: String,
    /// Attempts including this one (counted when claimed, so a message that crashes the
    /// dispatcher still reaches the dead letters).
    pub attempts: i32,
    pub application_id: Option<Id>,
    /// This claim's lease: only its holder settles the message.
    pub lease: String,
}

/// Claims up to `limit` pending messages due by `now`, leasing them until `lease_until` so that
/// another dispatcher skips them (and takes them again if this one dies). PostgreSQL locks the
/// rows `FOR UPDATE SKIP LOCKED`; SQLite's IMMEDIATE transaction runs one claimer at a time.
/// Must be called inside a transaction.
pub fn claim(
    conn: &mut DbConnection,
    outbox: Outbox,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    let claimed: Vec<Claimed> = match outbox {
        Outbox::Notifications => {
            let query = notifications::table
                .filter(notifications::state.eq("pending"))
                .filter(notifications::next_attempt_at.le(to_db_time(now)))
                .order(notifications::next_attempt_at)
                .limit(limit)
                .select((
                    notifications::id,
                    notifications::channel,
                    notifications::kind,
                    notifications::recipient,
                    notifications::body,
                    notifications::dedup_key,
                    notifications::attempts,
                    notifications::application_id,
                ));
            type Row = (Id, String, String, String, String, String, i32, Id);
            let rows: Vec<Row> = match conn {
                DbConnection::Postgres(pg) => query.for_update().skip_locked().load(pg)?,
                DbConnection::Sqlite(_) => query.load(conn)?,
            };
            rows.into_iter()
                .map(
                    |(id, channel, kind, recipient, body, dedup_key, attempts, app)| Claimed {
                        id,
                        channel,
                        kind,
                        recipient: Some(recipient),
                        body,
                        dedup_key,
                        attempts: attempts + 1,
                        application_id: Some(app),
                        lease: Id::new().to_string(),
                    },
                )
                .collect()
        }
        Outbox::Outbound => {
            let query = outbound_messages::table
                .filter(outbound_messages::state.eq("pending"))
                .filter(outbound_messages::next_attempt_at.le(to_db_time(now)))
                .order(outbound_messages::next_attempt_at)
                .limit(limit)
                .select((
                    outbound_messages::id,
                    outbound_messages::destination,
                    outbound_messages::kind,
                    outbound_messages::payload,
                    outbound_messages::dedup_key,
                    outbound_messages::attempts,
                ));
            type Row = (Id, String, String, String, String, i32);
            let rows: Vec<Row> = match conn {
                DbConnection::Postgres(pg) => query.for_update().skip_locked().load(pg)?,
                DbConnection::Sqlite(_) => query.load(conn)?,
            };
            rows.into_iter()
                .map(|(id, channel, kind, body, dedup_key, attempts)| Claimed {
                    id,
                    channel,
                    kind,
                    recipient: None,
                    body,
                    dedup_key,
                    attempts: attempts + 1,
                    application_id: None,
                    lease: Id::new().to_string(),
                })
                .collect()
        }
    };
    for message in &claimed {
        match outbox {
            Outbox::Notifications => diesel::update(notifications::table.find(message.id))
                .set((
                    notifications::attempts.eq(message.attempts),
                    notifications::next_attempt_at.eq(to_db_time(lease_until)),
                    notifications::lease_token.eq(Some(&message.lease)),
                ))
                .execute(conn)?,
            Outbox::Outbound => diesel::update(outbound_messages::table.find(message.id))
                .set((
                    outbound_messages::attempts.eq(message.attempts),
                    outbound_messages::next_attempt_at.eq(to_db_time(lease_until)),
                    outbound_messages::lease_token.eq(Some(&message.lease)),
                ))
                .execute(conn)?,
        };
    }
    Ok(claimed)
}

/// Releases a claimed message to be tried again at `at`; false if the lease was lost (another
/// dispatcher took the message over), in which case nothing is changed.
pub fn reschedule(
    conn: &mut DbConnection,
    outbox: Outbox,
    message: &Claimed,
    attempts: i32,
    at: DateTime<Utc>,
    last_error: Option<&str>,
) -> QueryResult<bool> {
    let changed = match outbox {
        Outbox::Notifications => diesel::update(
            notifications::table
                .find(message.id)
                .filter(notifications::lease_token.eq(&message.lease)),
        )
        .set((
            notifications::attempts.eq(attempts),
            notifications::next_attempt_at.eq(to_db_time(at)),
            notifications::last_error.eq(last_error),
            notifications::lease_token.eq(None::<String>),
        ))
        .execute(conn)?,
        Outbox::Outbound => diesel::update(
            outbound_messages::table
                .find(message.id)
                .filter(outbound_messages::lease_token.eq(&message.lease)),
        )
        .set((
            outbound_messages::attempts.eq(attempts),
            outbound_messages::next_attempt_at.eq(to_db_time(at)),
            outbound_messages::last_error.eq(last_error),
            outbound_messages::lease_token.eq(None::<String>),
        ))
        .execute(conn)?,
    };
    Ok(changed == 1)
}

/// Settles a claimed message: `sent`, or `dead` (dead-lettered, for a supervisor to look at);
/// false if the lease was lost.
pub fn settle(
    conn: &mut DbConnection,
    outbox: Outbox,
    message: &Claimed,
    state: &str,
    last_error: Option<&str>,
) -> QueryResult<bool> {
    let changed = match outbox {
        Outbox::Notifications => diesel::update(
            notifications::table
                .find(message.id)
                .filter(notifications::lease_token.eq(&message.lease)),
        )
        .set((
            notifications::state.eq(state),
            notifications::last_error.eq(last_error),
            notifications::lease_token.eq(None::<String>),
        ))
        .execute(conn)?,
        Outbox::Outbound => diesel::update(
            outbound_messages::table
                .find(message.id)
                .filter(outbound_messages::lease_token.eq(&message.lease)),
        )
        .set((
            outbound_messages::state.eq(state),
            outbound_messages::last_error.eq(last_error),
            outbound_messages::lease_token.eq(None::<String>),
        ))
        .execute(conn)?,
    };
    Ok(changed == 1)
}

/// A dead-lettered message, for supervisors.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    pub outbox: Outbox,
    pub id: Id,
    pub channel: String,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Dead letters a supervisor may see: their branch's citizens' messages, and for national
/// supervisors everything (messages to other systems have no branch).
pub fn dead_letters(
    conn: &mut DbConnection,
    scope: &crate::db::models::branch::BranchScope,
) -> QueryResult<Vec<DeadLetter>> {
    use crate::db::models::branch::BranchScope;
    use crate::db::schema::applications;
    let mut notes_query = notifications::table
        .inner_join(applications::table)
        .filter(notifications::state.eq("dead"))
        .into_boxed();
    if let BranchScope::Only { id, .. } = scope {
        notes_query = notes_query.filter(applications::branch_id.eq(*id));
    }
    let notes = notes_query
        .select((
            notifications::id,
            notifications::channel,
            notifications::kind,
            notifications::attempts,
            notifications::last_error,
            notifications::created_at,
        ))
        .load::<(
            Id,
            String,
            String,
            i32,
            Option<String>,
            chrono::NaiveDateTime,
        )>(conn)?;
    // Messages to other systems have no branch: national supervisors only.
    let outbound = if !matches!(scope, BranchScope::All) {
        Vec::new()
    } else {
        outbound_messages::table
            .filter(outbound_messages::state.eq("dead"))
            .select((
                outbound_messages::id,
                outbound_messages::destination,
                outbound_messages::kind,
                outbound_messages::attempts,
                outbound_messages::last_error,
                outbound_messages::created_at,
            ))
            .load::<(
                Id,
                String,
                String,
                i32,
                Option<String>,
                chrono::NaiveDateTime,
            )>(conn)?
    };
    let tag = |outbox: Outbox| {
        move |(id, channel, kind, attempts, last_error, created_at): (
            Id,
            String,
            String,
            i32,
            Option<String>,
            chrono::NaiveDateTime,
        )| DeadLetter {
            outbox,
            id,
            channel,
            kind,
            attempts,
            last_error,
            created_at: super::from_db_time(created_at),
        }
    };
    Ok(notes
        .into_iter()
        .map(tag(Outbox::Notifications))
        .chain(outbound.into_iter().map(tag(Outbox::Outbound)))
        .collect())
}

/// Puts a dead-lettered message back in the queue; false if it is not dead-lettered.
pub fn requeue(
    conn: &mut DbConnection,
    outbox: Outbox,
    id: Id,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = match outbox {
        Outbox::Notifications => diesel::update(
            notifications::table
                .find(id)
                .filter(notifications::state.eq("dead")),
        )
        .set((
            notifications::state.eq("pending"),
            notifications::attempts.eq(0),
            notifications::next_attempt_at.eq(to_db_time(now)),
        ))
        .execute(conn)?,
        Outbox::Outbound => diesel::update(
            outbound_messages::table
                .find(id)
                .filter(outbound_messages::state.eq("dead")),
        )
        .set((
            outbound_messages::state.eq("pending"),
            outbound_messages::attempts.eq(0),
            outbound_messages::next_attempt_at.eq(to_db_time(now)),
        ))
        .execute(conn)?,
    };
    Ok(changed == 1)
}
