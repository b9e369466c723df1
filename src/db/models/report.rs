//! Supervisors' views across the service: the exception queue and the SLA report (issue 6).

use super::{from_db_time, to_db_time};
use crate::db::models::branch::BranchScope;
use crate::db::schema::{
    applications, branches, deadlines, discrepancies, kaspi_events, notifications,
    outbound_messages, shipments,
};
use crate::db::{DbConnection, Id};
use crate::domain::deadline::DeadlineKind;
use crate::domain::shipment::ShipmentState;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// A deadline passed unmet and the document is still on its way.
    Overdue,
    /// Kaspi's report differs from ours.
    Discrepancy,
    /// A Kaspi event waiting for its waybill or shipment.
    UnmatchedEvent,
    /// A message the dispatcher gave up on.
    DeadLetter,
    /// A force-majeure period whose notice (п.38) was not recorded within 3 working days.
    UnnotifiedForceMajeure,
}

/// Something that needs a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Exception {
    pub kind: ExceptionKind,
    pub branch: Option<String>,
    /// What is wrong.
    pub reason: String,
    /// The shipment, event or message concerned.
    pub reference: String,
    pub application_number: Option<String>,
    /// Since when.
    pub since: DateTime<Utc>,
    pub age_hours: i64,
}

fn branch_allowed(scope: &BranchScope, branch_id: Option<Id>) -> bool {
    match (scope, branch_id) {
        (BranchScope::All, _) => true,
        (BranchScope::Only { id, .. }, Some(b)) => *id == b,
        // Items without a branch (an event not matched to anything) are for national staff.
        (BranchScope::Only { .. }, None) => false,
    }
}

/// An overdue deadline: kind, due, shipment, branch, shipment state, application, sweep error.
type OverdueRow = (
    String,
    NaiveDateTime,
    Id,
    Id,
    String,
    String,
    Option<String>,
);

const OVERDUE_COLUMNS: (
    deadlines::kind,
    deadlines::due_at,
    shipments::id,
    shipments::branch_id,
    shipments::status,
    applications::number,
    deadlines::sweep_error,
) = (
    deadlines::kind,
    deadlines::due_at,
    shipments::id,
    shipments::branch_id,
    shipments::status,
    applications::number,
    deadlines::sweep_error,
);

/// A dead-lettered notification: id, channel, kind, last error, created, branch, application.
type DeadNote = (
    Id,
    String,
    String,
    Option<String>,
    NaiveDateTime,
    Id,
    String,
);

/// Everything overdue or needing a person, oldest first.
pub fn exceptions(
    conn: &mut DbConnection,
    scope: &BranchScope,
    now: DateTime<Utc>,
    calendar: &crate::domain::calendar::Calendar,
) -> QueryResult<Vec<Exception>> {
    let codes: BTreeMap<Id, String> = branches::table
        .select((branches::id, branches::code))
        .load(conn)?
        .into_iter()
        .collect();
    let code = |id: Option<Id>| id.and_then(|i| codes.get(&i).cloned());
    let mut found = Vec::new();
    let mut push = |kind,
                    branch_id: Option<Id>,
                    reason: String,
                    reference: String,
                    number: Option<String>,
                    since: NaiveDateTime| {
        if branch_allowed(scope, branch_id) {
            let since = from_db_time(since);
            found.push(Exception {
                kind,
                branch: code(branch_id),
                reason,
                reference,
                application_number: number,
                age_hours: (now - since).num_hours(),
                since,
            });
        }
    };

    let active: Vec<&str> = ShipmentState::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .map(ShipmentState::as_str)
        .collect();
    let overdue: Vec<OverdueRow> = deadlines::table
        .inner_join(shipments::table.inner_join(applications::table))
        .filter(deadlines::state.eq("breached"))
        // An expired storage period is not anyone's fault to chase (the return deadline is),
        // unless the sweeper could not apply its consequence.
        .filter(
            deadlines::kind
                .ne(DeadlineKind::Storage.as_str())
                .or(deadlines::sweep_error.is_not_null()),
        )
        .filter(shipments::status.eq_any(&active))
        .select(OVERDUE_COLUMNS)
        .load(conn)?;
    // Due deadlines the sweeper keeps failing to apply (force-majeure waits are not failures).
    let failing: Vec<OverdueRow> = deadlines::table
        .inner_join(shipments::table.inner_join(applications::table))
        .filter(deadlines::state.eq("pending"))
        .filter(deadlines::sweep_error.is_not_null())
        .filter(deadlines::sweep_error.ne("suspended by force majeure"))
        .select(OVERDUE_COLUMNS)
        .load(conn)?;
    for (kind, due_at, shipment, branch, state, number, error) in overdue.into_iter().chain(failing)
    {
        let clause = DeadlineKind::parse(&kind).map_or("", DeadlineKind::clause);
        let mut reason = format!("{kind} ({clause}) passed; the document is '{state}'");
        if let Some(error) = error {
            reason.push_str(&format!("; the sweeper could not apply it: {error}"));
        }
        push(
            ExceptionKind::Overdue,
            Some(branch),
            reason,
            shipment.to_string(),
            Some(number),
            due_at,
        );
    }
    let open: Vec<(Id, Option<Id>, String, String, NaiveDateTime)> = discrepancies::table
        .filter(discrepancies::resolved_at.is_null())
        .select((
            discrepancies::id,
            discrepancies::branch_id,
            discrepancies::kind,
            discrepancies::detail,
            discrepancies::detected_at,
        ))
        .load(conn)?;
    for (id, branch, kind, detail, at) in open {
        push(
            ExceptionKind::Discrepancy,
            branch,
            format!("{kind}: {detail}"),
            id.to_string(),
            None,
            at,
        );
    }
    let waiting: Vec<(String, String, Option<String>, NaiveDateTime)> = kaspi_events::table
        .filter(kaspi_events::outcome.eq("unmatched"))
        .select((
            kaspi_events::event_id,
            kaspi_events::event_type,
            kaspi_events::detail,
            kaspi_events::received_at,
        ))
        .load(conn)?;
    for (event_id, kind, detail, at) in waiting {
        let reason = format!("Kaspi {kind} event waiting: {}", detail.unwrap_or_default());
        push(
            ExceptionKind::UnmatchedEvent,
            None,
            reason,
            event_id,
            None,
            at,
        );
    }
    let dead: Vec<DeadNote> = notifications::table
        .inner_join(applications::table)
        .filter(notifications::state.eq("dead"))
        .select((
            notifications::id,
            notifications::channel,
            notifications::kind,
            notifications::last_error,
            notifications::created_at,
            applications::branch_id,
            applications::number,
        ))
        .load(conn)?;
    for (id, channel, kind, error, at, branch, number) in dead {
        let reason = format!(
            "{kind} via {channel} undelivered: {}",
            error.unwrap_or_default()
        );
        push(
            ExceptionKind::DeadLetter,
            Some(branch),
            reason,
            id.to_string(),
            Some(number),
            at,
        );
    }
    let dead_out: Vec<(Id, String, String, Option<String>, NaiveDateTime)> =
        outbound_messages::table
            .filter(outbound_messages::state.eq("dead"))
            .select((
                outbound_messages::id,
                outbound_messages::destination,
                outbound_messages::kind,
                outbound_messages::last_error,
                outbound_messages::created_at,
            ))
            .load(conn)?;
    for (id, destination, kind, error, at) in dead_out {
        let reason = format!(
            "{kind} to {destination} undelivered: {}",
            error.unwrap_or_default()
        );
        push(
            ExceptionKind::DeadLetter,
            None,
            reason,
            id.to_string(),
            None,
            at,
        );
    }
    // п.38–39: without timely notice the circumstances cannot be relied on.
    for period in crate::db::models::force_majeure::list(conn, scope)? {
        if period.notice_recorded_at.is_some() {
            continue;
        }
        let notice = crate::domain::deadline::due(
            DeadlineKind::ForceMajeureNotice.rule(),
            period.starts_at,
            crate::domain::reference::BranchTimeZone::default().tz(),
            calendar,
        );
        if notice.is_ok_and(|due| due.at <= now) {
            let reason = format!(
                "no notice recorded within 3 working days (п.38): {}",
                period.reason
            );
            let since = crate::db::models::to_db_time(period.starts_at);
            push(
                ExceptionKind::UnnotifiedForceMajeure,
                period.branch_id,
                reason,
                period.id.to_string(),
                None,
                since,
            );
        }
    }
    found.sort_by_key(|e| e.since);
    Ok(found)
}

/// One line of the SLA report: how one branch did on one kind of deadline.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SlaLine {
    pub branch: String,
    #[schema(example = "handoff")]
    pub deadline: String,
    pub met_on_time: i64,
    pub met_late: i64,
    /// Passed unmet and not met since.
    pub breached_open: i64,
    /// Not yet due (or due but not swept yet).
    pub pending: i64,
    /// Ended by a loss or cancellation.
    pub cancelled: i64,
}

/// Deadlines falling due in `[from, to)`, by branch and kind.
pub fn sla(
    conn: &mut DbConnection,
    scope: &BranchScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<SlaLine>> {
    let mut query = deadlines::table
        .inner_join(shipments::table.inner_join(branches::table))
        .filter(deadlines::due_at.ge(to_db_time(from)))
        .filter(deadlines::due_at.lt(to_db_time(to)))
        .select((branches::code, deadlines::kind, deadlines::state))
        .into_boxed();
    if let BranchScope::Only { id, .. } = scope {
        query = query.filter(shipments::branch_id.eq(*id));
    }
    let mut lines: BTreeMap<(String, String), SlaLine> = BTreeMap::new();
    for (branch, kind, state) in query.load::<(String, String, String)>(conn)? {
        let line = lines
            .entry((branch.clone(), kind.clone()))
            .or_insert_with(|| SlaLine {
                branch,
                deadline: kind,
                ..Default::default()
            });
        match state.as_str() {
            "met" => line.met_on_time += 1,
            "met_late" => line.met_late += 1,
            "breached" => line.breached_open += 1,
            "cancelled" => line.cancelled += 1,
            _ => line.pending += 1,
        }
    }
    Ok(lines.into_values().collect())
}

/// The report as CSV (header line first).
pub fn sla_csv(lines: &[SlaLine]) -> String {
    let mut out =
        String::from("branch,deadline,met_on_time,met_late,breached_open,pending,cancelled\n");
    for l in lines {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            l.branch,
            l.deadline,
            l.met_on_time,
            l.met_late,
            l.breached_open,
            l.pending,
            l.cancelled
        ));
    }
    out
}
