//! Revoking an API key. The service is administered over HTTP with admin keys; revoking the
//! last active one would lock that out, so it is refused unless forced (the CLI, which reaches
//! the database directly, can force it).

use super::{Reason, WorkflowError, WorkflowResult};
use crate::db::models::api_key::{self, ApiKey};
use crate::db::{DbConnection, lock_key, write_transaction};
use crate::domain::ids::KeyId;
use crate::domain::role::Role;
use chrono::{DateTime, Utc};

/// Whether revoking the last active admin key is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastAdmin {
    Refuse,
    Allow,
}

/// Revokes key `id` at `now`; revoking a revoked key keeps its first revocation time. Returns
/// the key and whether this call revoked it (false if it was revoked before).
pub fn revoke(
    conn: &mut DbConnection,
    id: KeyId,
    last_admin: LastAdmin,
    now: DateTime<Utc>,
) -> WorkflowResult<(ApiKey, bool)> {
    write_transaction(conn, |conn| {
        // Two admins revoking each other's keys at once must not both pass the check.
        lock_key(conn, "api_keys:admins")?;
        let key = api_key::find(conn, id)?
            .ok_or_else(|| WorkflowError::not_found(format!("API key {id}")))?;
        let active_admin = key.role == Role::Admin && key.revoked_at.is_none();
        if active_admin && last_admin == LastAdmin::Refuse && api_key::active_admins(conn)? <= 1 {
            return Err(WorkflowError::rejected(
                Reason::LastAdminKey,
                format!(
                    "key {id} is the last active admin key: create another admin key first \
                     (or revoke it with `postamat keys revoke --force`)"
                ),
            ));
        }
        let revoked = api_key::revoke(conn, id, now)?
            .ok_or_else(|| WorkflowError::not_found(format!("API key {id}")))?;
        Ok((revoked, key.revoked_at.is_none()))
    })
}
