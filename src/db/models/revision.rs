//! Data revisions (migration `data_revisions`): re-reads of stored rows a change of rule
//! requires, each applied once.

use crate::db::schema::data_revisions;
use crate::db::time::At;
use crate::db::{DbConnection, insert_or_ignore};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// Claims revision `name` for this transaction; false if it was applied already (by this or
/// another instance: PostgreSQL holds a second claimant until the first commits).
pub fn claim(conn: &mut DbConnection, name: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let inserted = insert_or_ignore!(
        conn,
        data_revisions::table,
        (
            data_revisions::name.eq(name),
            data_revisions::applied_at.eq(At(now)),
        )
    )?;
    Ok(inserted == 1)
}
