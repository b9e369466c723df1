//! What is waiting: deadlines due and not yet swept, messages not yet sent or dead, active
//! keys (`postamat doctor`, and the outboxes' depth for the metrics).

use super::SUSPENDED_NOTE;
use crate::db::DbConnection;
use crate::db::schema::deadlines;
use crate::db::time::At;
use crate::domain::deadline::DeadlineState;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// What is waiting, for an operator's first look (`postamat doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub pending_deadlines: i64,
    /// Pending and already due: the sweeper's backlog.
    pub due_deadlines: i64,
    pub oldest_due: Option<DateTime<Utc>>,
    pub notifications_pending: i64,
    pub notifications_dead: i64,
    pub outbound_pending: i64,
    pub outbound_dead: i64,
    pub active_keys: i64,
    pub active_admin_keys: i64,
}

pub fn backlog(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Backlog> {
    use crate::db::schema::{api_keys, notifications, outbound_messages};
    use crate::domain::notification::DeliveryState;
    use crate::domain::role::Role;
    let pending = deadlines::table.filter(deadlines::state.eq(DeadlineState::Pending));
    let due = pending.filter(deadlines::due_at.le(At(now)));
    let notifications_in = |conn: &mut DbConnection, state: DeliveryState| {
        notifications::table
            .filter(notifications::state.eq(state))
            .count()
            .get_result::<i64>(conn)
    };
    let outbound_in = |conn: &mut DbConnection, state: DeliveryState| {
        outbound_messages::table
            .filter(outbound_messages::state.eq(state))
            .count()
            .get_result::<i64>(conn)
    };
    let active_keys = api_keys::table.filter(api_keys::revoked_at.is_null());
    Ok(Backlog {
        pending_deadlines: pending.count().get_result(conn)?,
        due_deadlines: due.count().get_result(conn)?,
        oldest_due: due
            .select(diesel::dsl::min(deadlines::due_at))
            .get_result(conn)?,
        notifications_pending: notifications_in(conn, DeliveryState::Pending)?,
        notifications_dead: notifications_in(conn, DeliveryState::Dead)?,
        outbound_pending: outbound_in(conn, DeliveryState::Pending)?,
        outbound_dead: outbound_in(conn, DeliveryState::Dead)?,
        active_keys: active_keys.count().get_result(conn)?,
        active_admin_keys: active_keys
            .filter(api_keys::role.eq(Role::Admin))
            .count()
            .get_result(conn)?,
    })
}

/// One outbox's waiting or dead messages on one channel (or destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxLine {
    /// `citizens` (SMS and Kaspi-app messages) or `systems` (requests to Kaspi and the registry
    /// office).
    pub outbox: &'static str,
    pub channel: String,
    /// `pending` or `dead`.
    pub state: String,
    pub n: i64,
}

/// What an on-call alerts on (`/metrics`): the outboxes' depth and how long ago the oldest
/// pending deadline fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    pub outboxes: Vec<OutboxLine>,
    /// Zero when nothing is due. A deadline force majeure holds back is waiting, not late for
    /// the sweeper, and is left out.
    pub oldest_due_age: std::time::Duration,
}

pub fn depth(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Depth> {
    use crate::db::schema::{notifications, outbound_messages};
    use crate::domain::notification::DeliveryState;
    let states = [DeliveryState::Pending, DeliveryState::Dead];
    let citizens: Vec<(String, String, i64)> = notifications::table
        .filter(notifications::state.eq_any(states))
        .group_by((notifications::channel, notifications::state))
        .select((
            notifications::channel,
            notifications::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let systems: Vec<(String, String, i64)> = outbound_messages::table
        .filter(outbound_messages::state.eq_any(states))
        .group_by((outbound_messages::destination, outbound_messages::state))
        .select((
            outbound_messages::destination,
            outbound_messages::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let line = |outbox| {
        move |(channel, state, n)| OutboxLine {
            outbox,
            channel,
            state,
            n,
        }
    };
    let oldest: Option<DateTime<Utc>> = deadlines::table
        .filter(deadlines::state.eq(DeadlineState::Pending))
        .filter(deadlines::due_at.le(At(now)))
        .filter(
            deadlines::sweep_error
                .is_null()
                .or(deadlines::sweep_error.ne(SUSPENDED_NOTE)),
        )
        .select(diesel::dsl::min(deadlines::due_at))
        .get_result(conn)?;
    Ok(Depth {
        outboxes: citizens
            .into_iter()
            .map(line("citizens"))
            .chain(systems.into_iter().map(line("systems")))
            .collect(),
        oldest_due_age: oldest
            .and_then(|due| (now - due).to_std().ok())
            .unwrap_or_default(),
    })
}
