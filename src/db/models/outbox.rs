//! The outboxes: messages to citizens and to other systems, written in the same transaction as
//! the change that causes them and delivered later by the dispatcher. A unique dedup key makes
//! the same cause, written twice, one message.

use crate::db::models::branch::BranchScope;
use crate::db::models::report::Window;
use crate::db::schema::{applications, notifications, outbound_messages};
use crate::db::time::At;
use crate::db::{DbConnection, insert_or_ignore};
use crate::domain::identifiers::ApplicationNumber;
use crate::domain::ids::{ApplicationId, BranchId, MessageId, ShipmentId};
use crate::domain::notification::{
    Channel, DeliveryState, Destination, Language, NotificationKind, OutboundKind, Outbox,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications)]
#[diesel(treat_none_as_default_value = false)]
pub struct NotificationRow {
    pub id: MessageId,
    pub application_id: ApplicationId,
    pub shipment_id: Option<ShipmentId>,
    pub kind: NotificationKind,
    pub channel: Channel,
    /// The citizen's phone (+77XXXXXXXXX); the Kaspi app finds its user by it.
    pub recipient: String,
    pub language: Language,
    pub body: String,
    pub dedup_key: String,
    pub state: DeliveryState,
    pub attempts: i32,
    #[diesel(serialize_as = At)]
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub lease_token: Option<String>,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbound_messages)]
#[diesel(treat_none_as_default_value = false)]
pub struct OutboundRow {
    pub id: MessageId,
    pub destination: Destination,
    pub kind: OutboundKind,
    /// JSON.
    pub payload: String,
    pub dedup_key: String,
    pub state: DeliveryState,
    pub attempts: i32,
    #[diesel(serialize_as = At)]
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub lease_token: Option<String>,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
}

/// A citizen's message, ready to be written.
pub struct NewNotification<'a> {
    pub application_id: ApplicationId,
    pub shipment_id: Option<ShipmentId>,
    pub kind: NotificationKind,
    pub channel: Channel,
    pub recipient: &'a str,
    pub language: Language,
    pub body: &'a str,
    pub dedup_key: &'a str,
}

/// Writes a notification unless one with the same dedup key exists (a twin written at the same
/// moment elsewhere wins the key, and this one is simply not needed); says whether it wrote.
pub fn insert_notification(
    conn: &mut DbConnection,
    n: NewNotification<'_>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let row = NotificationRow {
        id: MessageId::new(),
        application_id: n.application_id,
        shipment_id: n.shipment_id,
        kind: n.kind,
        channel: n.channel,
        recipient: n.recipient.to_owned(),
        language: n.language,
        body: n.body.to_owned(),
        dedup_key: n.dedup_key.to_owned(),
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        lease_token: None,
        created_at: now,
    };
    Ok(insert_or_ignore!(conn, notifications::table, row)? == 1)
}

/// Writes a message for another system unless one with the same dedup key exists.
pub fn insert_outbound(
    conn: &mut DbConnection,
    destination: Destination,
    kind: OutboundKind,
    payload: &impl serde::Serialize,
    dedup_key: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let payload = serde_json::to_string(payload)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let row = OutboundRow {
        id: MessageId::new(),
        destination,
        kind,
        payload,
        dedup_key: dedup_key.to_owned(),
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        lease_token: None,
        created_at: now,
    };
    Ok(insert_or_ignore!(conn, outbound_messages::table, row)? == 1)
}

/// A shipment's messages to its citizen, oldest first.
pub fn notifications_of(
    conn: &mut DbConnection,
    shipment_id: ShipmentId,
) -> QueryResult<Vec<NotificationRow>> {
    notifications::table
        .filter(notifications::shipment_id.eq(shipment_id))
        .order(notifications::created_at)
        .select(NotificationRow::as_select())
        .load(conn)
}

/// Where a claimed message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Citizen(Channel),
    System(Destination),
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Citizen(channel) => channel.as_str(),
            Route::System(destination) => destination.as_str(),
        }
    }
}

/// A message claimed for delivery.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: MessageId,
    pub route: Route,
    /// The notification or message kind, for the log and metrics.
    pub kind: &'static str,
    /// The citizen's phone, for notifications.
    pub recipient: Option<String>,
    /// The text, or the JSON payload for other systems.
    pub body: String,
    pub dedup_key: String,
    /// Attempts including this one (counted when claimed, so a message that crashes the
    /// dispatcher still reaches the dead letters).
    pub attempts: i32,
    pub application_id: Option<ApplicationId>,
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
    let lease = || MessageId::new().to_string();
    let claimed: Vec<Claimed> = match outbox {
        Outbox::Notifications => {
            let query = notifications::table
                .filter(notifications::state.eq(DeliveryState::Pending))
                .filter(notifications::next_attempt_at.le(At(now)))
                .order(notifications::next_attempt_at)
                .limit(limit);
            let rows: Vec<NotificationRow> = match conn {
                DbConnection::Postgres(pg) => query
                    .select(NotificationRow::as_select())
                    .for_update()
                    .skip_locked()
                    .load(pg)?,
                DbConnection::Sqlite(_) => query.select(NotificationRow::as_select()).load(conn)?,
            };
            rows.into_iter()
                .map(|row| Claimed {
                    id: row.id,
                    route: Route::Citizen(row.channel),
                    kind: row.kind.as_str(),
                    recipient: Some(row.recipient),
                    body: row.body,
                    dedup_key: row.dedup_key,
                    attempts: row.attempts + 1,
                    application_id: Some(row.application_id),
                    lease: lease(),
                })
                .collect()
        }
        Outbox::Outbound => {
            let query = outbound_messages::table
                .filter(outbound_messages::state.eq(DeliveryState::Pending))
                .filter(outbound_messages::next_attempt_at.le(At(now)))
                .order(outbound_messages::next_attempt_at)
                .limit(limit);
            let rows: Vec<OutboundRow> = match conn {
                DbConnection::Postgres(pg) => query
                    .select(OutboundRow::as_select())
                    .for_update()
                    .skip_locked()
                    .load(pg)?,
                DbConnection::Sqlite(_) => query.select(OutboundRow::as_select()).load(conn)?,
            };
            rows.into_iter()
                .map(|row| Claimed {
                    id: row.id,
                    route: Route::System(row.destination),
                    kind: row.kind.as_str(),
                    recipient: None,
                    body: row.payload,
                    dedup_key: row.dedup_key,
                    attempts: row.attempts + 1,
                    application_id: None,
                    lease: lease(),
                })
                .collect()
        }
    };
    for message in &claimed {
        match outbox {
            Outbox::Notifications => diesel::update(notifications::table.find(message.id))
                .set((
                    notifications::attempts.eq(message.attempts),
                    notifications::next_attempt_at.eq(At(lease_until)),
                    notifications::lease_token.eq(Some(&message.lease)),
                ))
                .execute(conn)?,
            Outbox::Outbound => diesel::update(outbound_messages::table.find(message.id))
                .set((
                    outbound_messages::attempts.eq(message.attempts),
                    outbound_messages::next_attempt_at.eq(At(lease_until)),
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
            notifications::next_attempt_at.eq(At(at)),
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
            outbound_messages::next_attempt_at.eq(At(at)),
            outbound_messages::last_error.eq(last_error),
            outbound_messages::lease_token.eq(None::<String>),
        ))
        .execute(conn)?,
    };
    Ok(changed == 1)
}

/// Settles a claimed message (`sent` or `dead`); false if the lease was lost.
pub fn settle(
    conn: &mut DbConnection,
    outbox: Outbox,
    message: &Claimed,
    state: DeliveryState,
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

/// A dead-lettered message.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub outbox: Outbox,
    pub id: MessageId,
    /// The channel, or the system it was for.
    pub route: &'static str,
    pub kind: &'static str,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The citizen's branch and application number; `None` for messages to other systems.
    pub branch_id: Option<BranchId>,
    pub application_number: Option<ApplicationNumber>,
}

/// Dead letters within `window`, oldest first: its branch's citizens' messages, and when it
/// takes in the whole country the messages to other systems too (they have no branch).
pub fn dead_letters(conn: &mut DbConnection, window: &Window) -> QueryResult<Vec<DeadLetter>> {
    let mut notes = notifications::table
        .inner_join(applications::table)
        .filter(notifications::state.eq(DeliveryState::Dead))
        .filter(notifications::created_at.le(At(window.began_by())))
        .select((
            NotificationRow::as_select(),
            applications::branch_id,
            applications::number,
        ))
        .order(notifications::created_at)
        .limit(window.limit)
        .into_boxed();
    if let Some(id) = window.branch {
        notes = notes.filter(applications::branch_id.eq(id));
    }
    let notes: Vec<(NotificationRow, BranchId, ApplicationNumber)> = notes.load(conn)?;
    let outbound: Vec<OutboundRow> = if window.unbranched() {
        outbound_messages::table
            .filter(outbound_messages::state.eq(DeliveryState::Dead))
            .filter(outbound_messages::created_at.le(At(window.began_by())))
            .select(OutboundRow::as_select())
            .order(outbound_messages::created_at)
            .limit(window.limit)
            .load(conn)?
    } else {
        Vec::new()
    };
    Ok(notes
        .into_iter()
        .map(|(n, branch, number)| DeadLetter {
            outbox: Outbox::Notifications,
            id: n.id,
            route: n.channel.as_str(),
            kind: n.kind.as_str(),
            attempts: n.attempts,
            last_error: n.last_error,
            created_at: n.created_at,
            branch_id: Some(branch),
            application_number: Some(number),
        })
        .chain(outbound.into_iter().map(|m| DeadLetter {
            outbox: Outbox::Outbound,
            id: m.id,
            route: m.destination.as_str(),
            kind: m.kind.as_str(),
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            branch_id: None,
            application_number: None,
        }))
        .collect())
}

/// Puts a dead-lettered message back in the queue; false if it is not dead-lettered.
///
/// Only what `scope` may see: a branch's citizens' messages for its branch, messages to other
/// systems for national staff.
pub fn requeue(
    conn: &mut DbConnection,
    outbox: Outbox,
    id: MessageId,
    scope: &BranchScope,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = match outbox {
        Outbox::Notifications => {
            let dead = notifications::table
                .find(id)
                .filter(notifications::state.eq(DeliveryState::Dead));
            let again = (
                notifications::state.eq(DeliveryState::Pending),
                notifications::attempts.eq(0),
                notifications::next_attempt_at.eq(At(now)),
            );
            match scope.branch() {
                Some(branch) => diesel::update(
                    dead.filter(
                        notifications::application_id.eq_any(
                            applications::table
                                .filter(applications::branch_id.eq(branch))
                                .select(applications::id),
                        ),
                    ),
                )
                .set(again)
                .execute(conn)?,
                None => diesel::update(dead).set(again).execute(conn)?,
            }
        }
        Outbox::Outbound if scope.branch().is_some() => 0,
        Outbox::Outbound => diesel::update(
            outbound_messages::table
                .find(id)
                .filter(outbound_messages::state.eq(DeliveryState::Dead)),
        )
        .set((
            outbound_messages::state.eq(DeliveryState::Pending),
            outbound_messages::attempts.eq(0),
            outbound_messages::next_attempt_at.eq(At(now)),
        ))
        .execute(conn)?,
    };
    Ok(changed == 1)
}
