//! Force-majeure periods (п.37–38): national or for one branch, open until ended.

use super::{from_db_time, to_db_time};
use crate::db::models::api_key::Principal;
use crate::db::models::branch::BranchScope;
use crate::db::schema::{branches, force_majeure_periods};
use crate::db::{DbConnection, Id, write_transaction};
use crate::domain::force_majeure::Suspension;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = force_majeure_periods)]
struct PeriodRow {
    id: Id,
    branch_id: Option<Id>,
    starts_at: NaiveDateTime,
    ends_at: Option<NaiveDateTime>,
    reason: String,
    document_ref: Option<String>,
    created_by: Id,
    created_at: NaiveDateTime,
    ended_by: Option<Id>,
    end_recorded_at: Option<NaiveDateTime>,
    notice_reference: Option<String>,
    notice_recorded_at: Option<NaiveDateTime>,
}

/// A force-majeure period as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ForceMajeurePeriod {
    pub id: Id,
    /// The branch it covers; `null` for the whole country.
    pub branch: Option<String>,
    #[serde(skip)]
    pub branch_id: Option<Id>,
    pub starts_at: DateTime<Utc>,
    /// `null` while it lasts.
    pub ends_at: Option<DateTime<Utc>>,
    pub reason: String,
    /// The document that confirms the circumstances (п.38).
    pub document_ref: Option<String>,
    pub created_by: Id,
    pub created_at: DateTime<Utc>,
    pub ended_by: Option<Id>,
    pub end_recorded_at: Option<DateTime<Utc>>,
    /// п.38: the notice to the responsible bodies, once recorded.
    pub notice_reference: Option<String>,
    pub notice_recorded_at: Option<DateTime<Utc>>,
}

impl ForceMajeurePeriod {
    pub fn suspension(&self) -> Suspension {
        Suspension {
            start: self.starts_at,
            end: self.ends_at,
        }
    }

    /// Whether it covers a branch: national periods cover every branch.
    pub fn covers(&self, branch_id: Option<Id>) -> bool {
        self.branch_id.is_none() || self.branch_id == branch_id
    }
}

fn view(row: PeriodRow, branch: Option<String>) -> ForceMajeurePeriod {
    ForceMajeurePeriod {
        id: row.id,
        branch,
        branch_id: row.branch_id,
        starts_at: from_db_time(row.starts_at),
        ends_at: row.ends_at.map(from_db_time),
        reason: row.reason,
        document_ref: row.document_ref,
        created_by: row.created_by,
        created_at: from_db_time(row.created_at),
        ended_by: row.ended_by,
        end_recorded_at: row.end_recorded_at.map(from_db_time),
        notice_reference: row.notice_reference,
        notice_recorded_at: row.notice_recorded_at.map(from_db_time),
    }
}

pub struct NewPeriod {
    pub branch_id: Option<Id>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub document_ref: Option<String>,
}

pub fn create(
    conn: &mut DbConnection,
    new: NewPeriod,
    actor: &Principal,
    now: DateTime<Utc>,
) -> QueryResult<ForceMajeurePeriod> {
    let id = Id::new();
    diesel::insert_into(force_majeure_periods::table)
        .values(&PeriodRow {
            id,
            branch_id: new.branch_id,
            starts_at: to_db_time(new.starts_at),
            ends_at: new.ends_at.map(to_db_time),
            reason: new.reason,
            document_ref: new.document_ref,
            created_by: actor.key_id,
            created_at: to_db_time(now),
            ended_by: new.ends_at.map(|_| actor.key_id),
            end_recorded_at: new.ends_at.map(|_| to_db_time(now)),
            notice_reference: None,
            notice_recorded_at: None,
        })
        .execute(conn)?;
    find(conn, id)?.ok_or(diesel::result::Error::NotFound)
}

/// Every period the scope may see: national ones and, for a branch, its own.
pub fn list(conn: &mut DbConnection, scope: &BranchScope) -> QueryResult<Vec<ForceMajeurePeriod>> {
    let mut query = force_majeure_periods::table
        .left_join(branches::table)
        .select((PeriodRow::as_select(), branches::code.nullable()))
        .order(force_majeure_periods::starts_at.desc())
        .into_boxed();
    if let BranchScope::Only { id, .. } = scope {
        query = query.filter(
            force_majeure_periods::branch_id
                .is_null()
                .or(force_majeure_periods::branch_id.eq(*id)),
        );
    }
    Ok(query
        .load::<(PeriodRow, Option<String>)>(conn)?
        .into_iter()
        .map(|(row, code)| view(row, code))
        .collect())
}

pub fn find(conn: &mut DbConnection, id: Id) -> QueryResult<Option<ForceMajeurePeriod>> {
    Ok(force_majeure_periods::table
        .left_join(branches::table)
        .filter(force_majeure_periods::id.eq(id))
        .select((PeriodRow::as_select(), branches::code.nullable()))
        .first::<(PeriodRow, Option<String>)>(conn)
        .optional()?
        .map(|(row, code)| view(row, code)))
}

#[derive(Debug, thiserror::Error)]
pub enum EndFailure {
    #[error("force-majeure period {0} not found")]
    NotFound(Id),
    #[error("force-majeure period {0} has already ended")]
    AlreadyEnded(Id),
    #[error("the end must be after the start ({0})")]
    EndsBeforeStart(DateTime<Utc>),
    #[error("force-majeure period {0} is not your branch's")]
    OtherBranch(Id),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Records the end of an open period; the extension of deadlines it covered is then fixed.
pub fn end(
    conn: &mut DbConnection,
    id: Id,
    ends_at: DateTime<Utc>,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<ForceMajeurePeriod, EndFailure> {
    write_transaction(conn, |conn| {
        let period = find(conn, id)?.ok_or(EndFailure::NotFound(id))?;
        // A branch's period is ended by its branch or a national supervisor; a national period
        // only by a national supervisor.
        let allowed = match period.branch_id {
            Some(branch) => actor.scope.allows(branch),
            None => actor.scope == BranchScope::All,
        };
        if !allowed {
            return Err(EndFailure::OtherBranch(id));
        }
        if period.ends_at.is_some() {
            return Err(EndFailure::AlreadyEnded(id));
        }
        if ends_at <= period.starts_at {
            return Err(EndFailure::EndsBeforeStart(period.starts_at));
        }
        let ended = diesel::update(
            force_majeure_periods::table
                .find(id)
                .filter(force_majeure_periods::ends_at.is_null()),
        )
        .set((
            force_majeure_periods::ends_at.eq(Some(to_db_time(ends_at))),
            force_majeure_periods::ended_by.eq(Some(actor.key_id)),
            force_majeure_periods::end_recorded_at.eq(Some(to_db_time(now))),
        ))
        .execute(conn)?;
        // Another request ended it between our read and this update.
        if ended == 0 {
            return Err(EndFailure::AlreadyEnded(id));
        }
        find(conn, id)?.ok_or(EndFailure::NotFound(id))
    })
}

/// п.37: applies the force-majeure periods to the stored deadlines a period covers — when it is
/// recorded and again when it ends, which fixes the extension. Each pending deadline of the
/// covered shipments gets the due instant the periods give it; a deadline under a period still
/// open keeps its instant (the sweeper holds it back). One history line per shipment changed.
/// Returns how many deadlines moved.
pub fn apply_to_deadlines(
    conn: &mut DbConnection,
    period: &ForceMajeurePeriod,
    calendar: &crate::domain::calendar::Calendar,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<usize, crate::db::models::shipment::CommandError> {
    use crate::db::models::shipment::{self, ActorRef, Change, EventContext};
    use crate::db::schema::{deadlines, shipments};
    use crate::domain::deadline::DeadlineKind;
    use crate::domain::force_majeure::{Extended, extended_due};
    use crate::domain::reference::BranchTimeZone;
    use std::collections::BTreeMap;

    let periods = list(conn, &BranchScope::All)?;
    let mut query = deadlines::table
        .inner_join(shipments::table.inner_join(branches::table))
        .filter(deadlines::state.eq("pending"))
        .select((
            deadlines::id,
            deadlines::kind,
            deadlines::started_at,
            deadlines::due_at,
            shipments::id,
            shipments::branch_id,
            branches::time_zone,
        ))
        .into_boxed();
    if let Some(branch) = period.branch_id {
        query = query.filter(shipments::branch_id.eq(branch));
    }
    type Row = (Id, String, NaiveDateTime, NaiveDateTime, Id, Id, String);
    let rows: Vec<Row> = query.load(conn)?;
    let mut changed: BTreeMap<Id, Vec<serde_json::Value>> = BTreeMap::new();
    for (id, kind, started_at, due_at, shipment_id, branch_id, zone) in rows {
        let Some(kind) = DeadlineKind::parse(&kind) else {
            continue;
        };
        let tz = BranchTimeZone::try_from(zone).unwrap_or_default().tz();
        let suspensions: Vec<_> = periods
            .iter()
            .filter(|p| p.covers(Some(branch_id)))
            .map(ForceMajeurePeriod::suspension)
            .collect();
        let Extended::Due(extended) = extended_due(
            kind.rule(),
            from_db_time(started_at),
            tz,
            calendar,
            &suspensions,
        )?
        else {
            continue;
        };
        if extended.at != from_db_time(due_at) {
            // Only while still pending: the sweeper or the shipment may have settled it since
            // it was read, and a settled deadline keeps the due time it was settled against.
            let moved = diesel::update(
                deadlines::table
                    .find(id)
                    .filter(deadlines::state.eq("pending")),
            )
            .set(deadlines::due_at.eq(to_db_time(extended.at)))
            .execute(conn)?;
            if moved == 0 {
                continue;
            }
            changed
                .entry(shipment_id)
                .or_default()
                .push(serde_json::json!({
                    "deadline": kind.as_str(),
                    "due_before": from_db_time(due_at),
                    "due_after": extended.at,
                }));
        }
    }
    let ctx_calendar = crate::jobs::calendar_refresh::CalendarSnapshot {
        calendar: calendar.clone(),
        force_majeure: periods,
    };
    let ctx = EventContext {
        actor: ActorRef::from(actor),
        source: "api",
        external_event_id: None,
        occurred_at: now,
        recorded_at: now,
        calendar: &ctx_calendar,
    };
    let moved = changed.values().map(Vec::len).sum();
    for (shipment_id, deadlines) in changed {
        let Some(row) = shipment::find(conn, shipment_id)? else {
            continue;
        };
        let change = Change {
            application_id: row.application_id,
            shipment_id: Some(row.id),
            event: "force_majeure",
            from: Some(&row.status),
            to: &row.status,
            details: Some(
                serde_json::json!({ "period": period.id, "reason": period.reason, "deadlines": deadlines }),
            ),
        };
        shipment::record_history(conn, change, &ctx)?;
    }
    Ok(moved)
}

/// п.38: records that the responsible bodies were notified; false if already recorded.
pub fn record_notice(
    conn: &mut DbConnection,
    id: Id,
    reference: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        force_majeure_periods::table
            .find(id)
            .filter(force_majeure_periods::notice_recorded_at.is_null()),
    )
    .set((
        force_majeure_periods::notice_reference.eq(Some(reference)),
        force_majeure_periods::notice_recorded_at.eq(Some(to_db_time(now))),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
