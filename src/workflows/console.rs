//! Sessions of the operations console: signing in exchanges an API key (checked exactly as a
//! bearer token is, so the console grants nothing the API does not) for a session, signing out
//! ends it, a session in use is marked so an idle one expires, and the sweeper clears the ones
//! that are over.

use super::WorkflowResult;
use crate::db::models::api_key::Principal;
use crate::db::models::console_session::{self, Opened, Session};
use crate::db::{DbConnection, write_transaction};
use crate::domain::ids::SessionId;
use chrono::{DateTime, Utc};

/// Opens a session for a key already authenticated (on a reading connection, so a flood of
/// wrong keys never queues on SQLite's one writer), ending `replaced` (the session the same
/// browser held before).
pub fn sign_in(
    conn: &mut DbConnection,
    principal: Principal,
    replaced: Option<SessionId>,
    now: DateTime<Utc>,
) -> WorkflowResult<Opened> {
    write_transaction(conn, |conn| {
        if let Some(old) = replaced {
            console_session::close(conn, old)?;
        }
        Ok(console_session::open(conn, principal, now)?)
    })
}

/// Deletes sessions that are over (the sweeper's housekeeping); how many.
pub fn purge_expired(conn: &mut DbConnection, now: DateTime<Utc>) -> WorkflowResult<usize> {
    write_transaction(conn, |conn| Ok(console_session::purge_expired(conn, now)?))
}

/// Ends a session.
pub fn sign_out(conn: &mut DbConnection, id: SessionId) -> WorkflowResult<()> {
    write_transaction(conn, |conn| Ok(console_session::close(conn, id)?))
}

/// Marks a session used at `now`, which keeps it from expiring idle.
pub fn touch(conn: &mut DbConnection, session: &Session, now: DateTime<Utc>) -> WorkflowResult<()> {
    write_transaction(conn, |conn| {
        Ok(console_session::touch(conn, session.id, now)?)
    })
}
