//! Receiving Kaspi's delivery-status events (п.9, 18–20, 27–31). Every event with an id is kept
//! with its outcome — applied, out of order, rejected, or unmatched until its waybill or
//! registry is known — so a repeat gets the first outcome and nothing Kaspi was told we
//! received is ever lost. An event that arrives before the ones it follows implies them.
//!
//! The events come through the workflows' one inbox (`inbox::receive`, which states what is
//! kept); what is particular to them is here, as its [`Integration`]. Each event is first
//! planned from what is read (the shipment with its application, branch zone and chosen
//! postamat, in one statement), and only then written: a refusal is decided before anything is
//! written, so no savepoint is needed to undo one. The event is kept last, with `INSERT … ON
//! CONFLICT DO NOTHING`; finding it kept already (a repeat, or a twin that committed first)
//! rolls the work back and answers from what was kept.
//!
//! Receiving is here; delivering events together (`batch`), planning, the writes an event
//! makes, the removal rules (п.29–30), the reconciliation of registries (п.18) and the replay
//! of waiting events each have a file.

mod batch;
mod consequences;
mod plan;
mod reconciliation;
mod removal;
mod replay;

pub use batch::{Answered, Batch, Chunk, Unreadable};
pub use replay::replay_waiting;

use super::inbox::{self, Integration};
use super::{Actor, EventContext, Reason, Source, WorkflowError, WorkflowResult};
use crate::db::DbConnection;
use crate::db::models::integration_event::fingerprint;
use crate::db::models::kaspi_event::{self as stored, KaspiEventRow};
use crate::db::models::shipment::{self as shipments, ShipmentRow};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::ids::ShipmentId;
use crate::domain::kaspi::{KaspiEvent, KaspiEventBody, Outcome};
use crate::domain::shipment::ShipmentState;
use chrono::{DateTime, Utc};
use consequences::{apply_steps, effects};
use plan::{Plan, Planned, plan_for_waybill, record_stale, waiting};
use reconciliation::{Acceptance, accept_registry};
use removal::{contradicts_removal, flag_early_removal, judge_early_removal, report_is_new};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// Events received in one transaction at the most: a batch is received in chunks, each
/// committed before the next, so a failure of ours late in a batch keeps the chunks before it
/// (the failing chunk is undone whole).
pub const CHUNK: usize = 100;

/// The answer for one event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventResult {
    pub event_id: Option<String>,
    pub outcome: Outcome,
    /// For a duplicate: what the event got the first time.
    pub first_outcome: Option<Outcome>,
    /// A problem code, for rejected events.
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub shipment_id: Option<ShipmentId>,
    /// Where the shipment is now.
    pub state: Option<ShipmentState>,
}

/// Who delivered the events, when they arrived, and the calendar their deadlines use.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    pub actor: &'a Actor,
    pub now: DateTime<Utc>,
    pub calendar: &'a CalendarSnapshot,
}

impl<'a> Delivery<'a> {
    fn context(&self, event: &KaspiEvent) -> EventContext<'a> {
        EventContext::reported(
            self.actor.clone(),
            Source::Kaspi,
            event.event_id.as_str(),
            event.occurred_at,
            self.now,
            self.calendar,
        )
    }
}

/// Receives `events` (at most [`CHUNK`], in the order given) through the inbox, in one
/// transaction; a failure of ours receives none of them. Callers deliver events as a [`Batch`].
fn receive_chunk(
    conn: &mut DbConnection,
    events: &[&KaspiEvent],
    delivery: Delivery<'_>,
) -> WorkflowResult<Vec<EventResult>> {
    inbox::receive(conn, &mut StatusEvents { delivery }, events)
}

/// Kaspi's delivery-status events in the inbox: kept in `kaspi_events` with every outcome.
struct StatusEvents<'a> {
    delivery: Delivery<'a>,
}

impl Integration for StatusEvents<'_> {
    type Event = KaspiEvent;
    type Kept = KaspiEventRow;
    type Answer = EventResult;

    const TRY_FIRST: bool = true;

    fn id(event: &KaspiEvent) -> &str {
        event.event_id.as_str()
    }

    fn fingerprint(event: &KaspiEvent) -> String {
        fingerprint(event)
    }

    fn kept_fingerprint(kept: &KaspiEventRow) -> &str {
        &kept.payload_hash
    }

    fn find(
        &self,
        conn: &mut DbConnection,
        ids: &[&str],
    ) -> WorkflowResult<HashMap<String, KaspiEventRow>> {
        let rows = match ids {
            [id] => stored::find(conn, id)?.into_iter().collect(),
            ids => {
                let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
                stored::find_many(conn, &ids)?
            }
        };
        Ok(rows
            .into_iter()
            .map(|row| (row.event_id.clone(), row))
            .collect())
    }

    /// A duplicate, with the first outcome and where the shipment is now.
    fn repeat(
        conn: &mut DbConnection,
        event: &KaspiEvent,
        first: &KaspiEventRow,
    ) -> WorkflowResult<EventResult> {
        let state = match first.shipment_id {
            Some(id) => shipments::find(conn, id)?.map(|s| s.status),
            None => None,
        };
        Ok(EventResult {
            event_id: Some(event.event_id.to_string()),
            outcome: Outcome::Duplicate,
            first_outcome: Some(first.outcome),
            reason: first.reason_code.clone(),
            detail: first.detail.clone(),
            shipment_id: first.shipment_id,
            state,
        })
    }

    /// Rejected in the answer; what was kept stays as it was.
    fn reused(event: &KaspiEvent) -> WorkflowResult<EventResult> {
        Ok(EventResult {
            event_id: Some(event.event_id.to_string()),
            outcome: Outcome::Rejected,
            first_outcome: None,
            reason: Some(Reason::EventIdReused.code().to_owned()),
            detail: Some("this event id was received before with a different payload".into()),
            shipment_id: None,
            state: None,
        })
    }

    fn run(
        &mut self,
        conn: &mut DbConnection,
        event: &KaspiEvent,
    ) -> WorkflowResult<Option<(EventResult, KaspiEventRow)>> {
        let ctx = self.delivery.context(event);
        let done = process(conn, event, &ctx)?;
        let row = KaspiEventRow {
            event_id: event.event_id.to_string(),
            event_type: event.body.type_name().to_owned(),
            waybill: Some(event.body.wait_key()),
            occurred_at: event.occurred_at,
            payload: serde_json::to_string(event)
                .map_err(|e| WorkflowError::internal("keeping a Kaspi event", e))?,
            payload_hash: fingerprint(event),
            outcome: done.outcome,
            reason_code: done.reason.clone(),
            detail: done.detail.clone(),
            shipment_id: done.shipment_id,
            received_at: ctx.recorded_at,
            resolved_at: (done.outcome != Outcome::Unmatched).then_some(ctx.recorded_at),
        };
        if !stored::insert_new(conn, &row)? {
            return Ok(None);
        }
        let answer = EventResult {
            event_id: Some(row.event_id.clone()),
            outcome: done.outcome,
            first_outcome: None,
            reason: done.reason,
            detail: done.detail,
            shipment_id: done.shipment_id,
            state: done.state,
        };
        Ok(Some((answer, row)))
    }
}

/// What processing an event against the current data gave.
struct Processed {
    outcome: Outcome,
    shipment_id: Option<ShipmentId>,
    state: Option<ShipmentState>,
    detail: Option<String>,
    reason: Option<String>,
}

impl Processed {
    fn on(outcome: Outcome, shipment: Option<&ShipmentRow>, detail: Option<String>) -> Self {
        Processed {
            outcome,
            shipment_id: shipment.map(|s| s.id),
            state: shipment.map(|s| s.status),
            detail,
            reason: None,
        }
    }

    /// Refused; kept with its shipment when it has one, so its branch sees it.
    fn rejected(refusal: &WorkflowError, shipment: Option<&ShipmentRow>) -> Self {
        Processed {
            outcome: Outcome::Rejected,
            shipment_id: shipment.map(|s| s.id),
            state: shipment.map(|s| s.status),
            reason: refusal.reason().map(|r| r.code().to_owned()),
            detail: Some(refusal.to_string()),
        }
    }
}

/// Processes an event against the current data; `Unmatched` while it cannot apply yet.
fn process(
    conn: &mut DbConnection,
    event: &KaspiEvent,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Processed> {
    if let KaspiEventBody::AcceptedAtPoint {
        handoff_registry,
        kaspi_registry_number,
        accepted_waybills,
    } = &event.body
    {
        let acceptance = Acceptance {
            handoff_registry,
            kaspi_registry_number,
            accepted: accepted_waybills,
            body: &event.body,
        };
        return accept_registry(conn, &acceptance, ctx);
    }
    let waybill = event
        .body
        .waybill()
        .expect("every other event names its waybill")
        .as_str();
    let (loaded, plan) = match plan_for_waybill(conn, waybill, &event.body)? {
        Planned::Go(loaded, plan) => (loaded, plan),
        Planned::Unknown => {
            return Ok(Processed::on(
                Outcome::Unmatched,
                None,
                Some(format!(
                    "waybill {waybill} is not known yet; the event is kept and applied when it is"
                )),
            ));
        }
    };
    let mut early = false;
    let plan = match plan {
        Plan::Apply(_) if contradicts_removal(conn, &loaded.shipment, event)? => Plan::Stale,
        Plan::Apply(_) if !report_is_new(conn, &loaded.shipment, event)? => Plan::Stale,
        Plan::Apply(steps) => {
            let (steps, flagged) = judge_early_removal(conn, &loaded, steps, event)?;
            early = flagged;
            Plan::Apply(steps)
        }
        plan => plan,
    };
    Ok(match plan {
        Plan::Apply(steps) => {
            let applied = apply_steps(
                conn,
                &loaded.shipment,
                loaded.time_zone,
                &steps,
                &event.body,
                ctx,
            )?;
            if early {
                flag_early_removal(conn, &loaded, ctx)?;
            }
            effects(conn, &loaded, &applied, &event.body, ctx)?;
            Processed::on(Outcome::Applied, Some(&applied.shipment), None)
        }
        Plan::Stale => record_stale(conn, &loaded.shipment, &event.body, ctx)?,
        Plan::Wait => waiting(&loaded.shipment),
        Plan::Refused(refusal) => Processed::rejected(&refusal, Some(&loaded.shipment)),
    })
}
