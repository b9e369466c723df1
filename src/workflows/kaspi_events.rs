//! Receiving Kaspi's delivery-status events (п.9, 18–20, 27–31). Every event with an id is kept
//! with its outcome — applied, out of order, rejected, or unmatched until its waybill or
//! registry is known — so a repeat gets the first outcome and nothing Kaspi was told we
//! received is ever lost. An event that arrives before the ones it follows implies them.
//!
//! Each event is first planned from what is read (the shipment with its application, branch
//! zone and chosen postamat, in one statement), and only then written: a refusal is decided
//! before anything is written, so no savepoint is needed to undo one. The event is kept last,
//! with `INSERT … ON CONFLICT DO NOTHING`; finding it kept already (a repeat, or a twin that
//! committed first) rolls the work back and answers from what was kept.

use super::loss::{Loss, open_act};
use super::notify::{Notice, kaspi_delays, notify_citizen};
use super::shipment::{Applied, apply, note};
use super::{Actor, EventContext, Reason, Source, WorkflowError, WorkflowResult};
use crate::db::models::integration_event::fingerprint;
use crate::db::models::kaspi_event::{self as stored, DiscrepancyRow, KaspiEventRow};
use crate::db::models::registry::{self, ItemWithShipment, RegistryRow};
use crate::db::models::shipment::{self as shipments, Loaded, ShipmentRow};
use crate::db::models::{deadline, history, postamat};
use crate::db::{DbConnection, lock_key, write_transaction};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::deadline::{self as rules, DeadlineKind, DeadlineState};
use crate::domain::identifiers::{ExternalId, Waybill};
use crate::domain::ids::{DiscrepancyId, ShipmentId};
use crate::domain::kaspi::{
    DiscrepancyKind, KaspiEvent, KaspiEventBody, Outcome, registry_wait_key,
};
use crate::domain::loss::LossSide;
use crate::domain::notification::{Bilingual, NotificationKind, kaspi_delay_date};
use crate::domain::reference::BranchTimeZone;
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::domain::shipment::{
    Event, KaspiPlan, Reported, ShipmentEvent, ShipmentState, Transition,
    collection_supersedes_expiry, judge_removal, kaspi_may_be_ahead, kaspi_plan,
    kaspi_report_is_new, kaspi_report_may_be_old,
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Events received in one transaction at the most: a batch is received in chunks, each
/// committed before the next, so a failure of ours late in a batch keeps the chunks before it
/// (the failing chunk is undone whole).
pub const CHUNK: usize = 100;

/// The answer for one event.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
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

/// The events delivered together (one call or one batch) in the order they are to be received:
/// the order things happened, which a batch may list otherwise. Returns their positions.
pub fn order(events: &[&KaspiEvent]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].occurred_at);
    order
}

/// Why a chunk's transaction is rolled back.
enum Stop {
    /// An event of the chunk was kept meanwhile by another transaction: receive the chunk again.
    Seen,
    Failed(WorkflowError),
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Failed(e.into())
    }
}

impl From<WorkflowError> for Stop {
    fn from(e: WorkflowError) -> Self {
        Stop::Failed(e)
    }
}

/// Receives `events` (at most [`CHUNK`], in the order given) in one transaction; a failure of
/// ours receives none of them. Another transaction changing the same shipments or keeping the
/// same events first makes the chunk be received again: the events are then duplicates, or
/// apply to the new state.
pub fn receive_chunk(
    conn: &mut DbConnection,
    events: &[&KaspiEvent],
    delivery: Delivery<'_>,
) -> WorkflowResult<Vec<Received>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = write_transaction(conn, |conn| receive_in(conn, events, delivery));
        match outcome {
            Ok(received) => return Ok(received),
            // A single event's twin committed first: it is a duplicate (or a reused id).
            Err(Stop::Seen) if events.len() == 1 => return Ok(vec![repeat(conn, events[0])?]),
            // A single event is not looked up before it is tried: one that fails on our side
            // may be a repeat, which is answered from what was kept, as always.
            Err(Stop::Failed(e)) if events.len() == 1 && !e.is_retryable() => {
                return match stored::find(conn, events[0].event_id.as_str())? {
                    Some(first) => Ok(vec![answer_repeat(
                        conn,
                        events[0],
                        &fingerprint(events[0]),
                        &first,
                    )?]),
                    None => Err(e),
                };
            }
            Err(Stop::Seen) if attempt < 3 => {}
            Err(Stop::Failed(e)) if e.is_retryable() && attempt < 3 => {}
            Err(Stop::Seen) => {
                return Err(WorkflowError::Conflict(
                    "the same Kaspi events are being received by another request; retry".into(),
                ));
            }
            Err(Stop::Failed(e)) => return Err(e),
        }
    }
}

fn receive_in(
    conn: &mut DbConnection,
    events: &[&KaspiEvent],
    delivery: Delivery<'_>,
) -> Result<Vec<Received>, Stop> {
    // A single event is tried straight away (a repeat is found when it is kept); a chunk looks
    // its events up first, so that a batch sent again is not received one rollback at a time.
    let mut kept: HashMap<String, KaspiEventRow> = if events.len() > 1 {
        let ids: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
        stored::find_many(conn, &ids)?
            .into_iter()
            .map(|row| (row.event_id.clone(), row))
            .collect()
    } else {
        HashMap::new()
    };
    let mut received = Vec::with_capacity(events.len());
    for event in events {
        let hash = fingerprint(*event);
        if let Some(first) = kept.get(event.event_id.as_str()) {
            received.push(answer_repeat(conn, event, &hash, first)?);
            continue;
        }
        let ctx = delivery.context(event);
        let done = process(conn, event, &ctx)?;
        let row = KaspiEventRow {
            event_id: event.event_id.to_string(),
            event_type: event.body.type_name().to_owned(),
            waybill: Some(event.body.wait_key()),
            occurred_at: event.occurred_at,
            payload: serde_json::to_string(event)
                .map_err(|e| WorkflowError::internal("keeping a Kaspi event", e))?,
            payload_hash: hash,
            outcome: done.outcome,
            reason_code: done.reason.clone(),
            detail: done.detail.clone(),
            shipment_id: done.shipment_id,
            received_at: ctx.recorded_at,
            resolved_at: (done.outcome != Outcome::Unmatched).then_some(ctx.recorded_at),
        };
        if !stored::insert_new(conn, &row)? {
            return Err(Stop::Seen);
        }
        received.push(Received {
            event_id: row.event_id.clone(),
            outcome: done.outcome,
            first_outcome: None,
            reason: done.reason,
            detail: done.detail,
            shipment_id: done.shipment_id,
            state: done.state,
        });
        // The same event twice in one chunk: the second is a duplicate of the first.
        kept.insert(row.event_id.clone(), row);
    }
    Ok(received)
}

/// The answer to an event seen before: a duplicate with the first outcome, or refused if the
/// same id came with another payload.
fn answer_repeat(
    conn: &mut DbConnection,
    event: &KaspiEvent,
    hash: &str,
    first: &KaspiEventRow,
) -> WorkflowResult<Received> {
    let event_id = event.event_id.to_string();
    if first.payload_hash != hash {
        return Ok(Received {
            event_id,
            outcome: Outcome::Rejected,
            first_outcome: None,
            reason: Some(Reason::EventIdReused.code().to_owned()),
            detail: Some("this event id was received before with a different payload".into()),
            shipment_id: None,
            state: None,
        });
    }
    let state = match first.shipment_id {
        Some(id) => shipments::find(conn, id)?.map(|s| s.status),
        None => None,
    };
    Ok(Received {
        event_id,
        outcome: Outcome::Duplicate,
        first_outcome: Some(first.outcome),
        reason: first.reason_code.clone(),
        detail: first.detail.clone(),
        shipment_id: first.shipment_id,
        state,
    })
}

/// A single event whose twin was kept first.
fn repeat(conn: &mut DbConnection, event: &KaspiEvent) -> WorkflowResult<Received> {
    let first = stored::find(conn, event.event_id.as_str())?.ok_or_else(|| {
        WorkflowError::internal(
            "answering a repeated Kaspi event",
            anyhow::anyhow!("event {} was kept and is gone", event.event_id),
        )
    })?;
    answer_repeat(conn, event, &fingerprint(event), &first)
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

/// Whether a collection reported after the expiry contradicts Kaspi's own removal report
/// ([`collection_supersedes_expiry`]); reads the history only in that case.
fn contradicts_removal(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    event: &KaspiEvent,
) -> WorkflowResult<bool> {
    if shipment.status != ShipmentState::StorageExpired
        || !matches!(event.body, KaspiEventBody::Collected { .. })
    {
        return Ok(false);
    }
    let removed: Vec<_> =
        history::kaspi_reports(conn, shipment.id, ShipmentEvent::RemovedFromCell.as_str())?
            .into_iter()
            .map(|(at, _)| at)
            .collect();
    Ok(!collection_supersedes_expiry(&removed, event.occurred_at))
}

/// Issue 23: in a cell, or on its way back after an early removal, a Kaspi report is of a new
/// step only if it is later than where the document is now ([`kaspi_report_is_new`]); reads
/// the history only in those states.
fn report_is_new(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    event: &KaspiEvent,
) -> WorkflowResult<bool> {
    if !kaspi_report_may_be_old(shipment.status, event.body.shipment_event()) {
        return Ok(true);
    }
    let reported = Reported {
        event: event.body.shipment_event(),
        at: event.occurred_at,
        cell: match &event.body {
            KaspiEventBody::PlacedInCell { cell, .. } => Some(cell.as_str()),
            _ => None,
        },
    };
    let since = history::entered_at(conn, shipment.id, shipment.status.as_str())?;
    Ok(kaspi_report_is_new(
        shipment.status,
        since,
        shipment.postamat_cell.as_deref(),
        reported,
    ))
}

/// Issue 23, п.29: a removal from the cell before the storage the citizen was told of ended is
/// an early removal ([`judge_removal`]), and flagged; so is one reported only after the sweeper
/// expired the storage. Reads the storage's due instant only for a removal from a cell we have
/// the document in, or after its expiry. Returns the steps and whether to flag the removal.
fn judge_early_removal(
    conn: &mut DbConnection,
    loaded: &Loaded,
    steps: Vec<Transition>,
    event: &KaspiEvent,
) -> WorkflowResult<(Vec<Transition>, bool)> {
    let removal = steps
        .iter()
        .any(|t| t.event == ShipmentEvent::RemovedFromCell);
    let storage = match loaded.shipment.status {
        ShipmentState::PlacedInCell if removal => Some(DeadlineState::Pending),
        ShipmentState::StorageExpired if removal => Some(DeadlineState::Breached),
        _ => None,
    };
    let Some(storage) = storage else {
        return Ok((steps, false));
    };
    let storage_ends = deadline::of_shipment(conn, loaded.shipment.id)?
        .into_iter()
        .filter(|d| d.kind == DeadlineKind::Storage && d.state == storage)
        .map(|d| d.due_at)
        .max();
    if loaded.shipment.status == ShipmentState::StorageExpired {
        // Recorded where it is; the flag says the cell did not keep the citizen's days.
        let early = storage_ends.is_some_and(|ends| event.occurred_at < ends);
        return Ok((steps, early));
    }
    let judged = judge_removal(
        steps,
        loaded.shipment.delivery_method,
        event.occurred_at,
        storage_ends,
    );
    let early = judged
        .iter()
        .any(|t| t.event == ShipmentEvent::RemovedEarly);
    Ok((judged, early))
}

/// An early removal is flagged for the supervisors as a discrepancy (Kaspi's side): the citizen
/// was told a day to collect by that the cell did not keep.
fn flag_early_removal(
    conn: &mut DbConnection,
    loaded: &Loaded,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    let row = &loaded.shipment;
    let local = ctx
        .occurred_at
        .with_timezone(&loaded.time_zone.tz())
        .format("%d.%m.%Y %H:%M");
    let detail = format!(
        "taken out of cell {} of its postamat at {local}, before the storage the citizen was told of ended (п.29)",
        row.postamat_cell.as_deref().unwrap_or("-")
    );
    discrepancy(
        conn,
        Found {
            registry: None,
            shipment: Some(row),
            kind: DiscrepancyKind::RemovedEarly,
            waybill: row.waybill.as_ref().map(Waybill::as_str),
            detail,
        },
        ctx,
    )
}

/// How an event fits a shipment, decided from what was read.
enum Plan {
    Apply(Vec<Transition>),
    /// Older than the shipment's position.
    Stale,
    /// Kaspi is ahead of our records: wait for the State courier's handover.
    Wait,
    Refused(WorkflowError),
}

fn plan(shipment: &ShipmentRow, body: &KaspiEventBody) -> Plan {
    match kaspi_plan(
        shipment.status,
        body.shipment_event(),
        shipment.delivery_method,
    ) {
        KaspiPlan::Apply(steps) => Plan::Apply(steps),
        KaspiPlan::Stale => Plan::Stale,
        KaspiPlan::Refused(_) if kaspi_may_be_ahead(shipment.status) => Plan::Wait,
        KaspiPlan::Refused(refusal) => Plan::Refused(WorkflowError::rejected(
            Reason::InvalidTransition,
            refusal.to_string(),
        )),
    }
}

enum Planned {
    Go(Box<Loaded>, Plan),
    Unknown,
}

/// Loads the shipment of `waybill` and plans the event. Before an event is kept to wait — its
/// waybill unknown, or its shipment not yet with Kaspi in our records — the waybill's lock is
/// taken and the shipment read again: an order or a handover that would make it applicable
/// takes the same lock before it replays the waiting events, so neither misses the other.
fn plan_for_waybill(
    conn: &mut DbConnection,
    waybill: &str,
    body: &KaspiEventBody,
) -> WorkflowResult<Planned> {
    let mut locked = false;
    loop {
        let decided = match shipments::find_by_waybill(conn, waybill)? {
            None => Planned::Unknown,
            Some(loaded) => {
                let plan = plan(&loaded.shipment, body);
                Planned::Go(Box::new(loaded), plan)
            }
        };
        let would_wait = matches!(decided, Planned::Unknown | Planned::Go(_, Plan::Wait));
        if !would_wait || locked {
            return Ok(decided);
        }
        lock_key(conn, waybill)?;
        locked = true;
    }
}

fn waiting(shipment: &ShipmentRow) -> Processed {
    Processed::on(
        Outcome::Unmatched,
        Some(shipment),
        Some(format!(
            "waiting: the shipment is still '{}' in our records",
            shipment.status
        )),
    )
}

/// Keeps an event older than the shipment's position in its history, with its true time.
fn record_stale(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Processed> {
    let details = serde_json::json!({ "out_of_order": true, "reported": history_details(body) });
    note(conn, shipment, body.shipment_event().as_str(), details, ctx)?;
    Ok(Processed::on(
        Outcome::OutOfOrderRecorded,
        Some(shipment),
        Some(format!("the shipment is already '{}'", shipment.status)),
    ))
}

/// The event as a shipment event with its data.
fn reported_event(body: &KaspiEventBody) -> Event {
    match body {
        KaspiEventBody::AcceptedAtPoint { .. } => Event::AcceptedAtKaspiPoint,
        KaspiEventBody::OutForDelivery { .. } => Event::OutForDelivery,
        KaspiEventBody::PlacedInCell { cell, .. } => Event::PlacedInCell {
            cell: Some(cell.to_string()),
        },
        KaspiEventBody::Collected { .. } => Event::Collected,
        KaspiEventBody::RemovedFromCell { .. } => Event::RemovedFromCell,
        KaspiEventBody::ReturnedToPoint { .. } => Event::ReturnedToKaspiPoint,
        KaspiEventBody::Lost { .. } => Event::Lost,
        KaspiEventBody::Delayed { .. } => Event::Delayed,
    }
}

/// Applies an event along Kaspi's plan: the steps it implies first, each noted as implied by
/// it, then the event itself with what Kaspi reported. Returns the last step applied.
fn apply_steps(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    zone: BranchTimeZone,
    steps: &[Transition],
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Applied> {
    let (last, implied) = steps.split_last().expect("a plan has at least one step");
    let mut now = shipment.clone();
    for step in implied {
        let event = Event::bare(step.event).ok_or_else(|| {
            WorkflowError::internal(
                "applying a Kaspi event",
                anyhow::anyhow!("Kaspi's plan implies {} without its data", step.event),
            )
        })?;
        let details = serde_json::json!({ "implied_by": ctx.external_event_id });
        now = apply(conn, &now, Some(zone), event, ctx, Some(details))?.shipment;
    }
    // The event as reported, unless the plan judged it otherwise (a removal before the
    // storage ended is an early removal, issue 23).
    let event = if last.event == body.shipment_event() {
        reported_event(body)
    } else {
        Event::bare(last.event).ok_or_else(|| {
            WorkflowError::internal(
                "applying a Kaspi event",
                anyhow::anyhow!("Kaspi's plan judged {} as {}", body.type_name(), last.event),
            )
        })?
    };
    apply(
        conn,
        &now,
        Some(zone),
        event,
        ctx,
        Some(history_details(body)),
    )
}

/// What a shipment's history keeps of a Kaspi event: the event as reported, except an
/// acceptance's list of every waybill on the registry, which is kept once, with the event
/// (`kaspi_events`). Copied into each envelope's history it made the history of a registry
/// of n envelopes grow as n² (73 kB a line for 2,000 envelopes).
fn history_details(body: &KaspiEventBody) -> serde_json::Value {
    match body {
        KaspiEventBody::AcceptedAtPoint {
            handoff_registry,
            kaspi_registry_number,
            accepted_waybills,
        } => serde_json::json!({
            "type": "accepted_at_point",
            "handoff_registry": handoff_registry,
            "kaspi_registry_number": kaspi_registry_number,
            "accepted_envelopes": accepted_waybills.len(),
        }),
        other => serde_json::to_value(other).unwrap_or(serde_json::Value::Null),
    }
}

/// What an event does beyond the state: the loss act, discrepancies and the citizen's messages
/// (written here, sent by the dispatcher).
fn effects(
    conn: &mut DbConnection,
    loaded: &Loaded,
    applied: &Applied,
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    let row = &applied.shipment;
    let app = &loaded.application;
    let notifies = applied.transition.notifies;
    match body {
        KaspiEventBody::PlacedInCell { postamat_id, .. } => {
            let chosen = loaded.chosen_postamat.as_ref();
            let in_chosen = chosen.is_some_and(|p| p.kaspi_id == postamat_id.as_str());
            if !in_chosen {
                let detail = format!(
                    "placed in postamat {postamat_id}, but the citizen chose {}",
                    chosen.map_or("none", |p| p.kaspi_id.as_str())
                );
                discrepancy(
                    conn,
                    Found {
                        registry: None,
                        shipment: Some(row),
                        kind: DiscrepancyKind::WrongPostamat,
                        waybill: row.waybill.as_ref().map(Waybill::as_str),
                        detail,
                    },
                    ctx,
                )?;
            }
            if notifies.contains(&NotificationKind::PlacedInCell) {
                // Where it actually is; a postamat missing from our list is named by its id.
                let address = match chosen.filter(|_| in_chosen) {
                    Some(p) => p.address(),
                    None => postamat::find(conn, postamat_id.as_str())?
                        .map(|p| p.address())
                        .unwrap_or_else(|| Bilingual {
                            kk: postamat_id.to_string(),
                            ru: postamat_id.to_string(),
                        }),
                };
                // п.28: collect by the last day of the 3-calendar-day storage (п.21, 29).
                let storage = rules::due(
                    DeadlineKind::Storage.rule(),
                    ctx.occurred_at,
                    loaded.time_zone.tz(),
                    &ctx.calendar.calendar,
                )?;
                // Placed again after an early removal (issue 23): told again, with its own day.
                let again = (applied.transition.from == ShipmentState::ReturningToKaspiPoint)
                    .then(|| ctx.occurred_at.to_rfc3339());
                let notice = Notice::PlacedInCell {
                    postamat: &address,
                    collect_by: storage.last_day,
                    cause: again.as_deref(),
                };
                notify_citizen(conn, app, row.id, notice, ctx.recorded_at)?;
            }
        }
        KaspiEventBody::Lost { loss_act, .. } => {
            let loss = Loss {
                side: LossSide::Kaspi,
                kaspi_act_number: Some(loss_act.number.to_string()),
                cause: loss_act.cause.to_string(),
                circumstances: loss_act.circumstances.to_string(),
                responsible_employee: loss_act.responsible_employee.to_string(),
            };
            open_act(conn, row, loss, ctx)?;
        }
        KaspiEventBody::Delayed {
            new_expected_date, ..
        } if notifies.contains(&NotificationKind::DeliveryLate) => {
            // One date per citizen (п.27): not from a report older than one already received,
            // nor a date already past. This report is in the history already.
            let newer = kaspi_delays(conn, row.id)?
                .first()
                .is_some_and(|(occurred_at, _)| *occurred_at > ctx.occurred_at);
            let today = ctx
                .recorded_at
                .with_timezone(&loaded.time_zone.tz())
                .date_naive();
            if let Some(new_date) = kaspi_delay_date(*new_expected_date, newer, today) {
                let cause = new_date.to_string();
                let notice = Notice::DeliveryLate {
                    new_date,
                    cause: &cause,
                };
                notify_citizen(conn, app, row.id, notice, ctx.recorded_at)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A difference found while applying an event.
struct Found<'a> {
    registry: Option<&'a RegistryRow>,
    shipment: Option<&'a ShipmentRow>,
    kind: DiscrepancyKind,
    waybill: Option<&'a str>,
    detail: String,
}

fn discrepancy(
    conn: &mut DbConnection,
    found: Found<'_>,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    let branch = found
        .registry
        .map(|r| r.branch_id)
        .or(found.shipment.map(|s| s.branch_id));
    stored::insert_discrepancy(
        conn,
        &DiscrepancyRow {
            id: DiscrepancyId::new(),
            branch_id: branch,
            registry_id: found.registry.map(|r| r.id),
            shipment_id: found.shipment.map(|s| s.id),
            kind: found.kind,
            waybill: found.waybill.map(str::to_owned),
            detail: found.detail,
            kaspi_event_id: ctx.external_event_id.clone(),
            detected_at: ctx.recorded_at,
            resolved_at: None,
        },
    )?;
    Ok(())
}

/// Kaspi's registry of accepted envelopes (п.18).
struct Acceptance<'a> {
    handoff_registry: &'a ExternalId,
    kaspi_registry_number: &'a ExternalId,
    accepted: &'a [Waybill],
    body: &'a KaspiEventBody,
}

/// A handed-over registry with its envelopes, loaded for Kaspi's acceptance.
type ToAccept = (RegistryRow, Vec<ItemWithShipment>);

/// The handoff registry an acceptance names with its envelopes, if it is handed over: `Err`
/// with the outcome otherwise. Before an acceptance is kept to wait, the registry's lock is
/// taken and it is read again (the handover takes the same lock before it replays the waiting
/// events).
fn registry_to_accept(
    conn: &mut DbConnection,
    number: &str,
) -> WorkflowResult<Result<ToAccept, Processed>> {
    let mut locked = false;
    loop {
        let found = registry::find_with_shipments(conn, number)?
            .filter(|(r, _)| r.kind == RegistryKind::KaspiHandoff);
        let waiting = match found {
            None => format!("no handoff registry {number} yet"),
            Some((registry, items)) => match registry.state {
                RegistryState::HandedOver => return Ok(Ok((registry, items))),
                RegistryState::Accepted | RegistryState::AcceptedWithDiscrepancies => {
                    let detail = format!("registry {number} was already accepted");
                    return Ok(Err(Processed::on(
                        Outcome::OutOfOrderRecorded,
                        None,
                        Some(detail),
                    )));
                }
                // Kaspi can be ahead of our records: the acceptance waits for the handover.
                other => format!(
                    "registry {number} is '{other}' in our records: waiting for the State courier's handover"
                ),
            },
        };
        if locked {
            return Ok(Err(Processed::on(Outcome::Unmatched, None, Some(waiting))));
        }
        lock_key(conn, &registry_wait_key(number))?;
        locked = true;
    }
}

/// п.18: reconciles Kaspi's registry of accepted envelopes with our handoff registry.
fn accept_registry(
    conn: &mut DbConnection,
    acceptance: &Acceptance<'_>,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Processed> {
    let number = acceptance.handoff_registry.as_str();
    let (registry, items) = match registry_to_accept(conn, number)? {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let kaspi_number = acceptance.kaspi_registry_number;
    let accepted: Vec<&str> = acceptance.accepted.iter().map(Waybill::as_str).collect();
    let mut mismatches = 0;
    // An envelope withdrawn from the registry before the courier signed for it (re-routed to
    // the ЦОН, issue 23) never went to the point; one brought back after it (п.18) did.
    let went = |item: &registry::ItemRow| {
        item.withdrawn_at
            .is_none_or(|at| registry.handed_over_at.is_some_and(|handed| handed <= at))
    };
    for (item, shipment, time_zone) in items.iter().filter(|(i, _, _)| went(i)) {
        let waybill = item.waybill.as_str();
        let found = |kind, detail| Found {
            registry: Some(&registry),
            shipment: Some(shipment),
            kind,
            waybill: Some(waybill),
            detail,
        };
        if !accepted.contains(&waybill) {
            mismatches += 1;
            let detail = format!(
                "envelope {waybill} is on registry {number} but not on Kaspi's registry {kaspi_number}"
            );
            discrepancy(conn, found(DiscrepancyKind::NotAccepted, detail), ctx)?;
            continue;
        }
        match plan(shipment, acceptance.body) {
            // The acceptance has no effects beyond the state.
            Plan::Apply(steps) => {
                apply_steps(conn, shipment, *time_zone, &steps, acceptance.body, ctx)?;
            }
            Plan::Stale => {
                record_stale(conn, shipment, acceptance.body, ctx)?;
            }
            Plan::Wait => {}
            // One envelope that cannot be accepted (lost meanwhile, say) is a discrepancy of
            // its own; the rest of the registry is accepted.
            Plan::Refused(refusal) => {
                mismatches += 1;
                let detail =
                    format!("envelope {waybill} was accepted by Kaspi but cannot be: {refusal}");
                discrepancy(conn, found(DiscrepancyKind::EnvelopeRefused, detail), ctx)?;
            }
        }
    }
    for waybill in accepted.iter().filter(|w| {
        !items
            .iter()
            .any(|(item, _, _)| item.waybill.as_str() == **w && went(item))
    }) {
        mismatches += 1;
        let detail = format!(
            "envelope {waybill} is on Kaspi's registry {kaspi_number} but not on registry {number}"
        );
        let found = Found {
            registry: Some(&registry),
            shipment: None,
            kind: DiscrepancyKind::UnexpectedEnvelope,
            waybill: Some(waybill),
            detail,
        };
        discrepancy(conn, found, ctx)?;
    }
    let state = if mismatches == 0 {
        RegistryState::Accepted
    } else {
        RegistryState::AcceptedWithDiscrepancies
    };
    // Another acceptance of the same registry committed first: this transaction's work is
    // undone and it is received again, finding the registry accepted.
    if !registry::accept(
        conn,
        registry.id,
        state,
        kaspi_number.as_str(),
        ctx.occurred_at,
    )? {
        return Err(WorkflowError::Conflict(format!(
            "registry {number} was accepted by another event meanwhile"
        )));
    }
    Ok(Processed::on(
        Outcome::Applied,
        None,
        (mismatches > 0).then(|| format!("{mismatches} discrepancies recorded")),
    ))
}

/// Applies the events that waited on `wait_key` (a waybill unknown until now, a shipment not yet
/// with Kaspi, a registry not yet handed over), oldest first, each with its own id and time as
/// if it had just arrived. Those that still cannot apply keep waiting. Runs inside the caller's
/// transaction, which must hold the key's lock.
pub fn replay_waiting(
    conn: &mut DbConnection,
    wait_key: &str,
    base: &EventContext<'_>,
) -> WorkflowResult<usize> {
    let mut resolved = 0;
    for mut kept in stored::waiting(conn, wait_key)? {
        let event: KaspiEvent = serde_json::from_str(&kept.payload).map_err(|e| {
            WorkflowError::internal(format!("reading kept Kaspi event {}", kept.event_id), e)
        })?;
        let ctx = EventContext::reported(
            Actor::kaspi("Kaspi (event applied when it could be)"),
            Source::Kaspi,
            kept.event_id.clone(),
            event.occurred_at,
            base.recorded_at,
            base.calendar,
        );
        let done = process(conn, &event, &ctx)?;
        if done.outcome != Outcome::Unmatched {
            resolved += 1;
            kept.resolved_at = Some(ctx.recorded_at);
        }
        kept.outcome = done.outcome;
        kept.reason_code = done.reason;
        kept.detail = done.detail;
        kept.shipment_id = done.shipment_id;
        stored::set_outcome(conn, &kept)?;
    }
    Ok(resolved)
}
