//! Force-majeure periods (п.37–38): national or for one branch, open until ended.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::schema::{branches, force_majeure_periods};
use crate::db::time::{At, MaybeAt};
use crate::domain::force_majeure::{ForceMajeure, Suspension};
use crate::domain::ids::{BranchId, KeyId, PeriodId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = force_majeure_periods)]
#[diesel(treat_none_as_default_value = false)]
pub struct PeriodRow {
    pub id: PeriodId,
    pub branch_id: Option<BranchId>,
    #[diesel(serialize_as = At)]
    pub starts_at: DateTime<Utc>,
    #[diesel(serialize_as = MaybeAt)]
    pub ends_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub document_ref: Option<String>,
    pub created_by: KeyId,
    #[diesel(serialize_as = At)]
    pub created_at: DateTime<Utc>,
    pub ended_by: Option<KeyId>,
    #[diesel(serialize_as = MaybeAt)]
    pub end_recorded_at: Option<DateTime<Utc>>,
    pub notice_reference: Option<String>,
    #[diesel(serialize_as = MaybeAt)]
    pub notice_recorded_at: Option<DateTime<Utc>>,
    /// The key that recorded the notice (`None` before issue 28 kept it).
    pub notice_recorded_by: Option<KeyId>,
}

impl PeriodRow {
    pub fn force_majeure(&self) -> ForceMajeure {
        ForceMajeure {
            id: self.id,
            branch: self.branch_id,
            suspension: Suspension {
                start: self.starts_at,
                end: self.ends_at,
            },
        }
    }
}

/// A period with its branch's code (`None` for a national one).
pub type Period = (PeriodRow, Option<String>);

pub fn insert(conn: &mut DbConnection, row: &PeriodRow) -> QueryResult<()> {
    diesel::insert_into(force_majeure_periods::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// Every period the scope may see: national ones and, for a branch, its own.
pub fn list(conn: &mut DbConnection, scope: &BranchScope) -> QueryResult<Vec<Period>> {
    let mut query = force_majeure_periods::table
        .left_join(branches::table)
        .select((PeriodRow::as_select(), branches::code.nullable()))
        .order(force_majeure_periods::starts_at.desc())
        .into_boxed();
    if let Some(id) = scope.branch() {
        query = query.filter(
            force_majeure_periods::branch_id
                .is_null()
                .or(force_majeure_periods::branch_id.eq(id)),
        );
    }
    query.load(conn)
}

/// Every period, as deadlines see them.
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<ForceMajeure>> {
    Ok(force_majeure_periods::table
        .select(PeriodRow::as_select())
        .load(conn)?
        .iter()
        .map(PeriodRow::force_majeure)
        .collect())
}

pub fn find(conn: &mut DbConnection, id: PeriodId) -> QueryResult<Option<Period>> {
    force_majeure_periods::table
        .left_join(branches::table)
        .filter(force_majeure_periods::id.eq(id))
        .select((PeriodRow::as_select(), branches::code.nullable()))
        .first(conn)
        .optional()
}

/// Records the end of a period still open; false if it had ended meanwhile.
pub fn set_end(
    conn: &mut DbConnection,
    id: PeriodId,
    ends_at: DateTime<Utc>,
    ended_by: KeyId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        force_majeure_periods::table
            .find(id)
            .filter(force_majeure_periods::ends_at.is_null()),
    )
    .set((
        force_majeure_periods::ends_at.eq(Some(ends_at)),
        force_majeure_periods::ended_by.eq(Some(ended_by)),
        force_majeure_periods::end_recorded_at.eq(Some(now)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// п.38: records that the responsible bodies were notified; false if already recorded.
pub fn record_notice(
    conn: &mut DbConnection,
    id: PeriodId,
    reference: &str,
    recorded_by: KeyId,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        force_majeure_periods::table
            .find(id)
            .filter(force_majeure_periods::notice_recorded_at.is_null()),
    )
    .set((
        force_majeure_periods::notice_reference.eq(Some(reference)),
        force_majeure_periods::notice_recorded_at.eq(Some(now)),
        force_majeure_periods::notice_recorded_by.eq(Some(recorded_by)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
