//! Sessions of the operations console: an API key, exchanged once at sign-in for a random
//! session token that lives in an HttpOnly cookie. Like keys, tokens are 256-bit random values
//! stored only as a SHA-256 hash. A session is good until its absolute expiry, until it has
//! been idle too long, until sign-out, or until its key is revoked: every lookup joins the key.

use super::api_key::{self, Principal};
use crate::db::DbConnection;
use crate::db::schema::console_sessions;
use crate::db::time::At;
use crate::domain::ids::{KeyId, SessionId};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

/// How long a session lasts at most: one working shift.
pub const ABSOLUTE_LIFETIME: Duration = Duration::hours(9);
/// How long a session may go unused.
pub const IDLE_LIFETIME: Duration = Duration::minutes(30);
/// A session's last use is written at most this often (a page view is otherwise read-only).
const TOUCH_EVERY: Duration = Duration::minutes(1);

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_sessions)]
#[diesel(treat_none_as_default_value = false)]
struct SessionRow {
    id: SessionId,
    token_hash: String,
    api_key_id: KeyId,
    csrf_token: String,
    #[diesel(serialize_as = At)]
    created_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    last_seen_at: DateTime<Utc>,
    #[diesel(serialize_as = At)]
    expires_at: DateTime<Utc>,
}

/// A live session: who it is, and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: SessionId,
    pub principal: Principal,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A session just opened, with its token: the only time the token exists in clear.
pub struct Opened {
    pub session: Session,
    pub token: String,
}

/// Opens a session for an authenticated key.
pub fn open(
    conn: &mut DbConnection,
    principal: Principal,
    now: DateTime<Utc>,
) -> QueryResult<Opened> {
    let token = api_key::random_token("");
    let row = SessionRow {
        id: SessionId::new(),
        token_hash: api_key::hash_token(&token),
        api_key_id: principal.key_id,
        csrf_token: api_key::random_token(""),
        created_at: now,
        last_seen_at: now,
        expires_at: now + ABSOLUTE_LIFETIME,
    };
    diesel::insert_into(console_sessions::table)
        .values(row.clone())
        .execute(conn)?;
    Ok(Opened {
        session: Session {
            id: row.id,
            principal,
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        },
        token,
    })
}

/// The live session a cookie's token belongs to, with its key's principal, and whether its
/// last use should be written ([`touch`]); `None` when the token is unknown, the session has
/// expired (absolutely or by idling) or its key is revoked. Reads only.
pub fn find(
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<(Session, bool)>> {
    let found = console_sessions::table
        .filter(console_sessions::token_hash.eq(api_key::hash_token(token)))
        .select(SessionRow::as_select())
        .first::<SessionRow>(conn)
        .optional()?;
    let Some(row) = found else {
        return Ok(None);
    };
    let last_seen = row.last_seen_at;
    if now >= row.expires_at || now - last_seen >= IDLE_LIFETIME {
        return Ok(None);
    }
    let Some(principal) = api_key::principal(conn, row.api_key_id)? else {
        return Ok(None);
    };
    let session = Session {
        id: row.id,
        principal,
        csrf_token: row.csrf_token,
        expires_at: row.expires_at,
    };
    Ok(Some((session, now - last_seen >= TOUCH_EVERY)))
}

/// Records a session's use at `now`.
pub fn touch(conn: &mut DbConnection, id: SessionId, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(console_sessions::table.find(id))
        .set(console_sessions::last_seen_at.eq(At(now)))
        .execute(conn)
        .map(|_| ())
}

/// Ends a session (sign-out). Ending an ended one is not an error.
pub fn close(conn: &mut DbConnection, id: SessionId) -> QueryResult<()> {
    diesel::delete(console_sessions::table.find(id))
        .execute(conn)
        .map(|_| ())
}

/// Deletes sessions past their absolute expiry, or idle for longer than allowed, as of `now`;
/// returns how many (the sweeper's housekeeping).
pub fn purge_expired(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        console_sessions::table.filter(
            console_sessions::expires_at
                .le(At(now))
                .or(console_sessions::last_seen_at.le(At(now - IDLE_LIFETIME))),
        ),
    )
    .execute(conn)
}
