//! The one place a shipment changes state: [`apply`] asks the state machine, writes the row
//! under its optimistic lock together with what the event brings, writes the history and
//! starts, meets or cancels deadlines — all inside the caller's transaction.

use super::{EventContext, WorkflowError, WorkflowResult};
use crate::db::DbConnection;
use crate::db::models::deadline::{Cancel, DeadlineRow};
use crate::db::models::history::{self, HistoryRow};
use crate::db::models::shipment::ShipmentRow;
use crate::db::models::{branch, deadline, shipment};
use crate::domain::deadline::{self as rules, DeadlineKind, DeadlineState};
use crate::domain::force_majeure::{Decision, decide};
use crate::domain::ids::{ApplicationId, BranchId, DeadlineId, HistoryId, ShipmentId};
use crate::domain::reference::BranchTimeZone;
use crate::domain::shipment::{
    DeliveryMethod, Event, Recipient, ShipmentKind, ShipmentState, Transition, transition,
};

/// What [`apply`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The shipment as it is now.
    pub shipment: ShipmentRow,
    pub transition: Transition,
}

/// Applies `event` to `row`: the state machine decides, this writes. `zone` is the zone of the
/// shipment's branch when the caller loaded it with the shipment (it is read otherwise, when a
/// deadline starts); `details` is what history keeps of the event (what was reported, or by
/// whom).
pub fn apply(
    conn: &mut DbConnection,
    row: &ShipmentRow,
    zone: Option<BranchTimeZone>,
    event: Event,
    ctx: &EventContext<'_>,
    details: Option<serde_json::Value>,
) -> WorkflowResult<Applied> {
    let t = transition(
        row.status,
        event.kind(),
        row.delivery_method,
        ctx.actor.kind,
    )?;
    let mut next = row.clone();
    next.status = t.to;
    next.version += 1;
    next.updated_at = ctx.recorded_at;
    match event {
        Event::KaspiOrderCreated { order_id, waybill } => {
            next.kaspi_order_id = Some(order_id);
            next.waybill = Some(waybill);
        }
        Event::RouteToIssuance {
            registry_office_registry,
        } => next.registry_office_registry = Some(registry_office_registry),
        Event::PlacedInCell { cell: Some(cell) } => next.postamat_cell = Some(cell),
        // Issue 23: from here on the document is on the ЦОН route.
        Event::ReroutedToCon => next.delivery_method = DeliveryMethod::Con,
        Event::Issued { recipient } => {
            next.issued_to = Some(recipient.issued_to());
            let (iin, name, power_of_attorney) = match recipient {
                Recipient::Applicant { iin, name } => (iin, name, None),
                Recipient::Representative {
                    iin,
                    name,
                    power_of_attorney,
                } => (iin, name, Some(power_of_attorney)),
            };
            next.recipient_iin = Some(iin);
            next.recipient_name = Some(name);
            next.power_of_attorney = power_of_attorney;
        }
        _ => {}
    }
    // History says what a late fact replaced (its consequences are cancelled below).
    let details = if t.supersedes {
        let mut merged = serde_json::json!({
            "supersedes": row.status.as_str(),
            "superseded_recorded_at": row.updated_at,
        });
        if let Some(serde_json::Value::Object(reported)) = details {
            merged["reported"] = serde_json::Value::Object(reported);
        }
        Some(merged)
    } else {
        details
    };
    let line = history_row(
        Line {
            application_id: row.application_id,
            shipment_id: Some(row.id),
            event: t.event.as_str(),
            from: Some(row.status.as_str()),
            to: t.to.as_str(),
            details,
        },
        ctx,
    );
    // The deadlines met go into the same write as the change when nothing else touches the
    // shipment's deadlines first (a storage that ran out, cancellations, withdrawals): the
    // order of those stays as it was.
    let runs_out = t.meets.iter().any(|k| k.runs_into().is_some());
    let simple = !runs_out && !t.cancels_pending && t.cancels.is_empty() && t.withdraws.is_empty();
    let meeting = simple.then_some(shipment::Meeting {
        kinds: t.meets,
        at: ctx.occurred_at,
    });
    // The deadlines it starts are reckoned first (reading the branch's zone if not given); one
    // goes into the same write, as its insert comes last either way.
    let starts = planned_deadlines(conn, row.id, row.branch_id, zone, t.starts, ctx)?;
    let folded = simple && starts.len() <= 1;
    let start = starts.first().filter(|_| folded);
    if !shipment::save_transition(conn, &next, &line, meeting, start)? {
        return Err(WorkflowError::Conflict(
            "the shipment was changed by another request at the same time; reload and retry".into(),
        ));
    }
    if !simple {
        settle_deadlines(conn, row, zone, &t, ctx)?;
    }
    if !folded {
        for started in &starts {
            deadline::insert(conn, started)?;
        }
    }
    Ok(Applied {
        shipment: next,
        transition: t,
    })
}

/// What a change does to a shipment's deadlines besides starting new ones, in this order: a
/// storage that ran out before the event (п.35) is met at its end, then cancellations and
/// withdrawals, then the deadlines the change meets.
fn settle_deadlines(
    conn: &mut DbConnection,
    row: &ShipmentRow,
    zone: Option<BranchTimeZone>,
    t: &Transition,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    // п.35: a month of storage that ended before this event ran its course, whether or not the
    // sweeper has seen it yet: it is met at its end and the hand-on is counted from there.
    if t.meets.iter().any(|k| k.runs_into().is_some()) {
        for ended in deadline::of_shipment(conn, row.id)? {
            let ran_out = ended.kind.runs_into().is_some()
                && ended.state == DeadlineState::Pending
                && ended.due_at <= ctx.occurred_at;
            if ran_out && t.meets.contains(&ended.kind) {
                run_out(conn, row.id, row.branch_id, zone, &ended, ended.due_at, ctx)?;
            }
        }
    }
    if t.cancels_pending {
        deadline::cancel_pending(conn, row.id, Cancel::All, ctx.occurred_at)?;
    }
    if !t.cancels.is_empty() {
        deadline::cancel_pending(conn, row.id, Cancel::Kinds(t.cancels), ctx.recorded_at)?;
    }
    if !t.withdraws.is_empty() {
        let moot = Cancel::NotDueBy(t.withdraws, ctx.occurred_at);
        deadline::cancel_pending(conn, row.id, moot, ctx.occurred_at)?;
    }
    deadline::meet(conn, row.id, t.meets, ctx.occurred_at)?;
    Ok(())
}

/// One line of history.
pub struct Line<'a> {
    pub application_id: ApplicationId,
    /// `None` for events of an application without a document (registered, refused).
    pub shipment_id: Option<ShipmentId>,
    pub event: &'a str,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub details: Option<serde_json::Value>,
}

/// Appends one line of history.
pub fn record(
    conn: &mut DbConnection,
    line: Line<'_>,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    history::insert(conn, &history_row(line, ctx))?;
    Ok(())
}

/// A line of history as it is stored: who, when, from which source.
fn history_row(line: Line<'_>, ctx: &EventContext<'_>) -> HistoryRow {
    HistoryRow {
        id: HistoryId::new(),
        application_id: line.application_id,
        shipment_id: line.shipment_id,
        event: line.event.to_owned(),
        from_status: line.from.map(str::to_owned),
        to_status: line.to.to_owned(),
        actor_role: ctx.actor.role(),
        actor_key_id: ctx.actor.key_id,
        actor_name: ctx.actor.name.clone(),
        source: ctx.source.as_str().to_owned(),
        external_event_id: ctx.external_event_id.clone(),
        details: line.details.map(|d| d.to_string()),
        occurred_at: ctx.occurred_at,
        recorded_at: ctx.recorded_at,
    }
}

/// A history line on a shipment that does not change its state (force majeure, a dispute, a
/// Kaspi event older than the shipment's position).
pub fn note(
    conn: &mut DbConnection,
    row: &ShipmentRow,
    event: &str,
    details: serde_json::Value,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    record(
        conn,
        Line {
            application_id: row.application_id,
            shipment_id: Some(row.id),
            event,
            from: Some(row.status.as_str()),
            to: row.status.as_str(),
            details: Some(details),
        },
        ctx,
    )
}

/// A new document of an application, ready at the registry office: the original once it is
/// executed (п.8), or a free duplicate after a loss (п.26) with its 3-working-day deadline.
pub fn create(
    conn: &mut DbConnection,
    application_id: ApplicationId,
    branch_id: BranchId,
    method: DeliveryMethod,
    kind: ShipmentKind,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ShipmentRow> {
    let now = ctx.recorded_at;
    let row = ShipmentRow {
        id: ShipmentId::new(),
        application_id,
        kind,
        branch_id,
        delivery_method: method,
        status: ShipmentState::ReadyAtRegistryOffice,
        kaspi_order_id: None,
        waybill: None,
        registry_office_registry: None,
        issued_to: None,
        recipient_iin: None,
        recipient_name: None,
        power_of_attorney: None,
        postamat_cell: None,
        version: 0,
        created_at: now,
        updated_at: now,
    };
    shipment::insert(conn, &row)?;
    let (event, deadlines): (&str, &[DeadlineKind]) = match kind {
        ShipmentKind::Original => ("executed", &[]),
        ShipmentKind::Duplicate => ("duplicate_requested", &[DeadlineKind::Duplicate]),
    };
    record(
        conn,
        Line {
            application_id,
            shipment_id: Some(row.id),
            event,
            from: None,
            to: row.status.as_str(),
            details: None,
        },
        ctx,
    )?;
    start_deadlines(conn, row.id, branch_id, None, deadlines, ctx)?;
    Ok(row)
}

/// A period whose end is its outcome ([`DeadlineKind::runs_into`], п.35) reached that end
/// (`end`: its due instant, or later when force majeure extended it): it is met there and the
/// deadline that follows starts there. `false` when another writer settled it first.
pub fn run_out(
    conn: &mut DbConnection,
    shipment_id: ShipmentId,
    branch_id: BranchId,
    zone: Option<BranchTimeZone>,
    ended: &DeadlineRow,
    end: chrono::DateTime<chrono::Utc>,
    ctx: &EventContext<'_>,
) -> WorkflowResult<bool> {
    let Some(next) = ended.kind.runs_into() else {
        return Ok(false);
    };
    if !deadline::resolve(conn, ended.id, DeadlineState::Met, end)? {
        return Ok(false);
    }
    let at_end = EventContext {
        occurred_at: end,
        ..ctx.clone()
    };
    start_deadlines(conn, shipment_id, branch_id, zone, &[next], &at_end)?;
    Ok(true)
}

/// Starts deadlines of a shipment at the event's time, in its branch's zone, extended by any
/// force-majeure period covering the branch (п.37).
pub(super) fn start_deadlines(
    conn: &mut DbConnection,
    shipment_id: ShipmentId,
    branch_id: BranchId,
    zone: Option<BranchTimeZone>,
    kinds: &[DeadlineKind],
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    for row in planned_deadlines(conn, shipment_id, branch_id, zone, kinds, ctx)? {
        deadline::insert(conn, &row)?;
    }
    Ok(())
}

/// The deadlines [`start_deadlines`] writes, reckoned (the branch's zone is read when not
/// given).
fn planned_deadlines(
    conn: &mut DbConnection,
    shipment_id: ShipmentId,
    branch_id: BranchId,
    zone: Option<BranchTimeZone>,
    kinds: &[DeadlineKind],
    ctx: &EventContext<'_>,
) -> WorkflowResult<Vec<DeadlineRow>> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let tz = match zone {
        Some(zone) => zone,
        None => branch::time_zone(conn, branch_id)?,
    }
    .tz();
    let suspensions = ctx.calendar.suspensions_for(Some(branch_id));
    let calendar = &ctx.calendar.calendar;
    let mut planned = Vec::with_capacity(kinds.len());
    for &kind in kinds {
        let plain = rules::due(kind.rule(), ctx.occurred_at, tz, calendar)?;
        // Counting that would start inside a force-majeure period starts after it. While a
        // period is open-ended the plain due instant stands; the sweeper holds it back.
        let due = match decide(
            kind.rule(),
            ctx.occurred_at,
            plain.at,
            tz,
            calendar,
            &suspensions,
        )? {
            Decision::MoveTo(extended) => extended,
            Decision::Keep | Decision::Hold { .. } => plain,
        };
        planned.push(DeadlineRow {
            id: DeadlineId::new(),
            shipment_id,
            kind,
            started_at: ctx.occurred_at,
            due_at: due.at,
            calendar_version: due.calendar_version,
            state: DeadlineState::Pending,
            resolved_at: None,
            sweep_attempts: 0,
            sweep_after: None,
            sweep_error: None,
            created_at: ctx.recorded_at,
        });
    }
    Ok(planned)
}

/// The shipment of `id` in the scope, or "not found".
pub fn find_scoped(
    conn: &mut DbConnection,
    id: ShipmentId,
    scope: &crate::db::models::branch::BranchScope,
) -> WorkflowResult<ShipmentRow> {
    shipment::find_scoped(conn, id, scope)?
        .ok_or_else(|| WorkflowError::not_found(format!("shipment {id} not found")))
}
