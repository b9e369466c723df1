//! Sessions of the operations console: signing in exchanges an API key for a session (the key
//! is checked exactly as a bearer token is, so the console grants nothing the API does not),
//! signing out ends it, and a session in use is marked so an idle one expires.

use super::WorkflowResult;
use crate::db::models::api_key;
use crate::db::models::console_session::{self, Opened, Session};
use crate::db::{DbConnection, write_transaction};
use crate::domain::ids::SessionId;
use chrono::{DateTime, Utc};

/// Opens a session for the key whose token this is; `None` when the token is unknown or
/// revoked (the caller says so without telling which).
pub fn sign_in(
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> WorkflowResult<Option<Opened>> {
    write_transaction(conn, |conn| {
        let Some(principal) = api_key::authenticate(conn, token)? else {
            return Ok(None);
        };
        // Old sessions are cleared as new ones open, so the table holds live ones only.
        console_session::purge_expired(conn, now)?;
        Ok(Some(console_session::open(conn, principal, now)?))
    })
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
