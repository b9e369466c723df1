//! API keys: random bearer tokens shown once and stored only as a SHA-256 hash. The tokens are
//! 256-bit random values, so a fast hash is enough (a slow password hash protects guessable
//! secrets, which these are not) and lets every request find its key through a unique index.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::schema::{api_keys, branches, service_bootstrap};
use crate::db::time::{At, MaybeAt};
use crate::domain::ids::{BranchId, KeyId};
use crate::domain::reference::{BranchCode, Text};
use crate::domain::role::{Role, RoleBranchMismatch};
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Every token starts with this, so a leaked one is recognisable (and redacted from logs).
pub const TOKEN_PREFIX: &str = "pst_";
/// How much of a token is kept in clear to tell keys apart in listings.
const SHOWN_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 6;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
#[diesel(treat_none_as_default_value = false)]
struct ApiKeyRow {
    id: KeyId,
    name: String,
    role: Role,
    branch_id: Option<BranchId>,
    token_prefix: String,
    token_hash: String,
    #[diesel(serialize_as = At)]
    created_at: DateTime<Utc>,
    #[diesel(serialize_as = MaybeAt)]
    revoked_at: Option<DateTime<Utc>>,
}

/// A key as listed to operators: never its token.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: KeyId,
    pub name: String,
    pub role: Role,
    /// Branch code for branch staff and branch supervisors.
    pub branch: Option<String>,
    /// The first characters of the token, to recognise it.
    pub token_prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: KeyId,
    pub name: String,
    pub role: Role,
    pub scope: BranchScope,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateKeyError {
    #[error(transparent)]
    RoleBranch(#[from] RoleBranchMismatch),
    #[error("branch {0} does not exist")]
    UnknownBranch(BranchCode),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub struct NewKey<'a> {
    pub name: &'a Text,
    pub role: Role,
    pub branch: Option<&'a BranchCode>,
}

/// A token's stored form.
pub(crate) fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// 256 random bits, URL-safe base64, after `prefix` (keys' tokens, console sessions and their
/// CSRF tokens).
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn generate_token() -> String {
    random_token(TOKEN_PREFIX)
}

/// Creates a key and returns it with its token: the only time the token exists in clear.
pub fn create(
    conn: &mut DbConnection,
    new: NewKey<'_>,
    now: DateTime<Utc>,
) -> Result<(ApiKey, String), CreateKeyError> {
    new.role.check_branch(new.branch.is_some())?;
    let branch_id = match new.branch {
        Some(code) => Some(
            branches::table
                .filter(branches::code.eq(code.as_str()))
                .select(branches::id)
                .first::<BranchId>(conn)
                .optional()?
                .ok_or_else(|| CreateKeyError::UnknownBranch(code.clone()))?,
        ),
        None => None,
    };
    let token = generate_token();
    let row = ApiKeyRow {
        id: KeyId::new(),
        name: new.name.to_string(),
        role: new.role,
        branch_id,
        token_prefix: token[..SHOWN_PREFIX_LEN].to_owned(),
        token_hash: hash_token(&token),
        created_at: now,
        revoked_at: None,
    };
    diesel::insert_into(api_keys::table)
        .values(row.clone())
        .execute(conn)?;
    let key = ApiKey {
        id: row.id,
        name: row.name,
        role: new.role,
        branch: new.branch.map(|b| b.to_string()),
        token_prefix: row.token_prefix,
        created_at: now,
        revoked_at: None,
    };
    Ok((key, token))
}

fn to_view(row: ApiKeyRow, branch: Option<String>) -> ApiKey {
    ApiKey {
        id: row.id,
        name: row.name,
        role: row.role,
        branch,
        token_prefix: row.token_prefix,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    }
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<ApiKey>> {
    Ok(api_keys::table
        .left_join(branches::table)
        .select((ApiKeyRow::as_select(), branches::code.nullable()))
        .order(api_keys::id)
        .load::<(ApiKeyRow, Option<String>)>(conn)?
        .into_iter()
        .map(|(row, branch)| to_view(row, branch))
        .collect())
}

pub fn find(conn: &mut DbConnection, id: KeyId) -> QueryResult<Option<ApiKey>> {
    Ok(api_keys::table
        .left_join(branches::table)
        .filter(api_keys::id.eq(id))
        .select((ApiKeyRow::as_select(), branches::code.nullable()))
        .first::<(ApiKeyRow, Option<String>)>(conn)
        .optional()?
        .map(|(row, branch)| to_view(row, branch)))
}

/// A key's name, to say who did something.
pub fn name_of(conn: &mut DbConnection, id: KeyId) -> QueryResult<Option<String>> {
    api_keys::table
        .find(id)
        .select(api_keys::name)
        .first(conn)
        .optional()
}

/// Revokes a key at once; revoking a revoked key keeps its first revocation time.
pub fn revoke(
    conn: &mut DbConnection,
    id: KeyId,
    now: DateTime<Utc>,
) -> QueryResult<Option<ApiKey>> {
    diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(At(now)))
    .execute(conn)?;
    find(conn, id)
}

/// How many admin keys are not revoked.
pub fn active_admins(conn: &mut DbConnection) -> QueryResult<i64> {
    api_keys::table
        .filter(api_keys::role.eq(Role::Admin))
        .filter(api_keys::revoked_at.is_null())
        .count()
        .get_result(conn)
}

/// Finds the live key a bearer token belongs to.
pub fn authenticate(conn: &mut DbConnection, token: &str) -> QueryResult<Option<Principal>> {
    live_principal(conn, Which::Token(token))
}

/// The live (not revoked) key with this id, as a caller (a console session's key).
pub fn principal(conn: &mut DbConnection, id: KeyId) -> QueryResult<Option<Principal>> {
    live_principal(conn, Which::Id(id))
}

enum Which<'a> {
    Token(&'a str),
    Id(KeyId),
}

fn live_principal(conn: &mut DbConnection, which: Which<'_>) -> QueryResult<Option<Principal>> {
    let query = api_keys::table
        .left_join(branches::table)
        .filter(api_keys::revoked_at.is_null())
        .into_boxed();
    let query = match which {
        Which::Token(token) => query.filter(api_keys::token_hash.eq(hash_token(token))),
        Which::Id(id) => query.filter(api_keys::id.eq(id)),
    };
    let found = query
        .select((
            api_keys::id,
            api_keys::name,
            api_keys::role,
            api_keys::branch_id,
            branches::code.nullable(),
        ))
        .first::<(KeyId, String, Role, Option<BranchId>, Option<String>)>(conn)
        .optional()?;
    let Some((key_id, name, role, branch_id, branch_code)) = found else {
        return Ok(None);
    };
    let scope = match (branch_id, branch_code) {
        (Some(id), Some(code)) => BranchScope::Only {
            id,
            code: code
                .parse()
                .map_err(|e: crate::domain::reference::InvalidValue| {
                    diesel::result::Error::DeserializationError(e.to_string().into())
                })?,
        },
        (None, _) => BranchScope::All,
        // A key bound to a branch that cannot be read authenticates nobody (fail closed).
        (Some(_), None) => return Ok(None),
    };
    Ok(Some(Principal {
        key_id,
        name,
        role,
        scope,
    }))
}

/// On the very first start (no key at all, never bootstrapped) creates one `admin` key and
/// returns its token. Runs in one transaction; the single-row `service_bootstrap` table makes
/// it happen once even when several instances start together.
pub fn bootstrap_admin(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> QueryResult<Option<(ApiKey, String)>> {
    let outcome = crate::db::write_transaction(conn, |conn| {
        let keys: i64 = api_keys::table.count().get_result(conn)?;
        let done: i64 = service_bootstrap::table.count().get_result(conn)?;
        if keys > 0 || done > 0 {
            return Ok(None);
        }
        let name = Text::try_from("bootstrap admin".to_owned()).expect("static name is valid");
        let created = create(
            conn,
            NewKey {
                name: &name,
                role: Role::Admin,
                branch: None,
            },
            now,
        );
        let (key, token) = match created {
            Ok(created) => created,
            Err(CreateKeyError::Database(e)) => return Err(e),
            Err(other) => unreachable!("an admin key without branch is always valid: {other}"),
        };
        diesel::insert_into(service_bootstrap::table)
            .values((
                service_bootstrap::id.eq(1),
                service_bootstrap::admin_key_id.eq(key.id),
                service_bootstrap::created_at.eq(At(now)),
            ))
            .execute(conn)?;
        Ok(Some((key, token)))
    });
    match outcome {
        // Another instance bootstrapped between our count and our insert; its key stands.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(None),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed_deterministically() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(hash_token(&a).len(), 64);
    }
}
