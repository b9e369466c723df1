//! Force majeure (п.37–39): a period, national or for one branch, suspends the obligations it
//! covers; recording it and recording its end move the stored deadlines it covers, each
//! shipment with a line of history. Its notice is due within 3 working days of its start.

use super::shipment::note;
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::branch::{self, BranchScope};
use crate::db::models::deadline;
use crate::db::models::force_majeure::{self as periods, Period, PeriodRow};
use crate::db::models::shipment as shipments;
use crate::db::{DbConnection, write_transaction};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::force_majeure::{Decision, decide, notice_due};
use crate::domain::ids::{PeriodId, ShipmentId};
use crate::domain::reference::{BranchCode, Text};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A period as a supervisor records it.
#[derive(Debug, Clone)]
pub struct NewPeriod {
    /// `None`: the whole country (national supervisors only).
    pub branch: Option<BranchCode>,
    pub starts_at: DateTime<Utc>,
    /// `None` while the circumstances last.
    pub ends_at: Option<DateTime<Utc>>,
    pub reason: Text,
    /// The document that confirms the circumstances (п.38).
    pub document_ref: Option<Text>,
}

/// Records a period and extends the deadlines it covers at once (п.37).
pub fn record(
    conn: &mut DbConnection,
    new: &NewPeriod,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Period> {
    let (scope, key, now) = (&ctx.scope, ctx.key()?, ctx.recorded_at);
    if new.ends_at.is_some_and(|end| end <= new.starts_at) {
        return Err(WorkflowError::rejected(
            Reason::ValidationFailed,
            "ends_at must be after starts_at",
        ));
    }
    write_transaction(conn, |conn| {
        let branch_id = match &new.branch {
            None => {
                if let BranchScope::Only { code, .. } = scope {
                    return Err(WorkflowError::rejected(
                        Reason::BranchForbidden,
                        format!(
                            "a national force-majeure period concerns the whole country; a key bound to branch {code} may not change it"
                        ),
                    ));
                }
                None
            }
            Some(code) => {
                let found = branch::find_by_code(conn, code.as_str())?.ok_or_else(|| {
                    WorkflowError::rejected(
                        Reason::ValidationFailed,
                        format!("branch {code} does not exist"),
                    )
                })?;
                if !scope.allows(found.id) {
                    return Err(WorkflowError::rejected(
                        Reason::BranchForbidden,
                        format!("branch {code} is not your branch"),
                    ));
                }
                Some(found.id)
            }
        };
        // п.38–39: notice is due within 3 working days of the start; a period recorded later would
        // extend deadlines already missed, so only a national supervisor may record it late.
        if *scope != BranchScope::All {
            let notice = notice_due(new.starts_at, &ctx.calendar.calendar)?;
            if now > notice.at {
                return Err(WorkflowError::rejected(
                    Reason::ValidationFailed,
                    format!(
                        "force majeure must be recorded within 3 working days of its start (п.38–39), by {}; a national supervisor can record it later",
                        notice.last_day
                    ),
                ));
            }
        }
        let row = PeriodRow {
            id: PeriodId::new(),
            branch_id,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            reason: new.reason.to_string(),
            document_ref: new.document_ref.as_ref().map(Text::to_string),
            created_by: key,
            created_at: now,
            ended_by: new.ends_at.map(|_| key),
            end_recorded_at: new.ends_at.map(|_| now),
            notice_reference: None,
            notice_recorded_at: None,
            notice_recorded_by: None,
        };
        periods::insert(conn, &row)?;
        extend_deadlines(conn, &row, ctx)?;
        find(conn, row.id)
    })
}

fn find(conn: &mut DbConnection, id: PeriodId) -> WorkflowResult<Period> {
    periods::find(conn, id)?
        .ok_or_else(|| WorkflowError::not_found(format!("force-majeure period {id} not found")))
}

/// Records the end of an open period; the extension of the deadlines it covered is then fixed.
/// Who may act on it: [`may_act_on`].
pub fn end(
    conn: &mut DbConnection,
    id: PeriodId,
    ends_at: DateTime<Utc>,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Period> {
    let key = ctx.key()?;
    write_transaction(conn, |conn| {
        let (period, _) = find(conn, id)?;
        may_act_on(&period, &ctx.scope)?;
        let ended = || {
            WorkflowError::rejected(
                Reason::AlreadyEnded,
                format!("force-majeure period {id} has already ended"),
            )
        };
        if period.ends_at.is_some() {
            return Err(ended());
        }
        let starts_at = period.force_majeure().suspension.start;
        if ends_at <= starts_at {
            return Err(WorkflowError::rejected(
                Reason::ValidationFailed,
                format!("the end must be after the start ({starts_at})"),
            ));
        }
        // Another request ended it between our read and this update.
        if !periods::set_end(conn, id, ends_at, key, ctx.recorded_at)? {
            return Err(ended());
        }
        let (period, code) = find(conn, id)?;
        extend_deadlines(conn, &period, ctx)?;
        Ok((period, code))
    })
}

/// The one scope rule for every action on a recorded period (its end, its notice): a branch's
/// period is its branch's or a national supervisor's; a national one only a national
/// supervisor's (security review, issue 28 finding 2: a branch key recorded a national notice,
/// which hid the national `unnotified_force_majeure` exception). A branch key sees national
/// periods (they cover its deadlines), so the refusal is 403, not 404.
fn may_act_on(period: &PeriodRow, scope: &BranchScope) -> WorkflowResult<()> {
    let allowed = match period.branch_id {
        Some(branch) => scope.allows(branch),
        None => *scope == BranchScope::All,
    };
    if allowed {
        return Ok(());
    }
    let whose = if period.branch_id.is_some() {
        "another branch's"
    } else {
        "national: only a national supervisor may act on it"
    };
    Err(WorkflowError::rejected(
        Reason::BranchForbidden,
        format!("force-majeure period {} is {whose}", period.id),
    ))
}

/// п.38: records that the responsible bodies were notified, and who recorded it.
pub fn record_notice(
    conn: &mut DbConnection,
    id: PeriodId,
    reference: &Text,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Period> {
    let key = ctx.key()?;
    write_transaction(conn, |conn| {
        let (period, _) = find(conn, id)?;
        may_act_on(&period, &ctx.scope)?;
        if !periods::record_notice(conn, id, reference.as_str(), key, ctx.recorded_at)? {
            return Err(WorkflowError::rejected(
                Reason::AlreadyExists,
                "the notice is already recorded",
            ));
        }
        find(conn, id)
    })
}

/// п.37: gives each pending deadline of the shipments `period` covers the due instant the
/// periods give it (a deadline under a period still open keeps its instant: the sweeper holds
/// it back), with one history line per shipment changed. Returns how many deadlines moved.
fn extend_deadlines(
    conn: &mut DbConnection,
    period: &PeriodRow,
    ctx: &EventContext<'_>,
) -> WorkflowResult<usize> {
    let calendar = &ctx.calendar.calendar;
    let all = periods::all(conn)?;
    let mut changed: BTreeMap<ShipmentId, Vec<serde_json::Value>> = BTreeMap::new();
    for (due, branch_id, tz) in deadline::pending_with_zone(conn, period.branch_id)? {
        let suspensions: Vec<_> = all
            .iter()
            .filter(|p| p.covers(Some(branch_id)))
            .map(|p| p.suspension)
            .collect();
        let decision = decide(
            due.kind.rule(),
            due.started_at,
            due.due_at,
            tz.tz(),
            calendar,
            &suspensions,
        )?;
        let Decision::MoveTo(extended) = decision else {
            continue;
        };
        // Only while still pending: the sweeper or the shipment may have settled it since it
        // was read, and a settled deadline keeps the due time it was settled against.
        if deadline::move_due(conn, due.id, extended.at)? {
            changed
                .entry(due.shipment_id)
                .or_default()
                .push(serde_json::json!({
                    "deadline": due.kind,
                    "due_before": due.due_at,
                    "due_after": extended.at,
                }));
        }
    }
    let snapshot = CalendarSnapshot {
        calendar: calendar.clone(),
        force_majeure: all,
    };
    // The history lines are written with the periods as they now stand.
    let ctx = EventContext {
        calendar: &snapshot,
        ..ctx.clone()
    };
    let moved = changed.values().map(Vec::len).sum();
    for (shipment_id, deadlines) in changed {
        let Some(row) = shipments::find(conn, shipment_id)? else {
            continue;
        };
        let details = serde_json::json!({
            "period": period.id,
            "reason": period.reason,
            "deadlines": deadlines,
        });
        note(conn, &row, "force_majeure", details, &ctx)?;
    }
    Ok(moved)
}
