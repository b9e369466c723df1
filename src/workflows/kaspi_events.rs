//! Receiving Kaspi's delivery-status events (п.9, 18–20, 27–31). Every event with an id is kept
//! with its outcome — applied, out of order, rejected, or unmatched until its waybill or
//! registry is known — so a repeat gets the first outcome and nothing Kaspi was told we
//! received is ever lost. An event that arrives before the ones it follows implies them.

use super::loss::{Loss, open_act};
use super::notify::{Notice, notify_citizen};
use super::shipment::{Applied, apply, note};
use super::{Actor, EventContext, Reason, Source, WorkflowError, WorkflowResult};
use crate::db::models::integration_event::fingerprint;
use crate::db::models::kaspi_event::{self as stored, DiscrepancyRow, KaspiEventRow};
use crate::db::models::registry::{self, RegistryRow};
use crate::db::models::shipment::{self as shipments, ShipmentRow};
use crate::db::models::{application, branch, postamat, to_db_time};
use crate::db::{DbConnection, lock_key, write_transaction};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::deadline::{self as rules, DeadlineKind};
use crate::domain::identifiers::{ExternalId, Waybill};
use crate::domain::ids::{DiscrepancyId, ShipmentId};
use crate::domain::kaspi::{DiscrepancyKind, KaspiEvent, KaspiEventBody, Outcome};
use crate::domain::loss::LossSide;
use crate::domain::notification::{Bilingual, NotificationKind};
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::domain::shipment::{Event, KaspiPlan, ShipmentState, kaspi_may_be_ahead, kaspi_plan};
use chrono::{DateTime, Utc};
use diesel::Connection;

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

/// What processing an event against the current data gave.
struct Processed {
    outcome: Outcome,
    shipment: Option<ShipmentRow>,
    detail: Option<String>,
    reason: Option<String>,
}

impl Processed {
    fn applied(shipment: Option<ShipmentRow>) -> Self {
        Processed {
            outcome: Outcome::Applied,
            shipment,
            detail: None,
            reason: None,
        }
    }

    fn waiting(shipment: Option<ShipmentRow>, detail: String) -> Self {
        Processed {
            outcome: Outcome::Unmatched,
            shipment,
            detail: Some(detail),
            reason: None,
        }
    }
}

/// Receives events delivered together (one call or one batch): each in its own transaction, in
/// the order things happened (a batch may list them otherwise); the answers are in the order
/// given. The first failure of ours stops and fails the call, so Kaspi sends again and what
/// was already stored answers `duplicate`.
pub fn receive_all(
    conn: &mut DbConnection,
    events: &[&KaspiEvent],
    actor: &Actor,
    now: DateTime<Utc>,
    calendar: &CalendarSnapshot,
) -> WorkflowResult<Vec<Received>> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].occurred_at);
    let mut results: Vec<Option<Received>> = vec![None; events.len()];
    for i in order {
        let event = events[i];
        let ctx = EventContext::reported(
            actor.clone(),
            Source::Kaspi,
            event.event_id.as_str(),
            event.occurred_at,
            now,
            calendar,
        );
        results[i] = Some(receive(conn, event, &ctx)?);
    }
    Ok(results.into_iter().flatten().collect())
}

/// Receives one event in its own transaction. If the same event (or another for the same
/// shipment) committed first on another connection, it is received once more: it is then a
/// duplicate, or applies to the new state.
pub fn receive(
    conn: &mut DbConnection,
    event: &KaspiEvent,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Received> {
    let once =
        |conn: &mut DbConnection| write_transaction(conn, |conn| receive_in(conn, event, ctx));
    match once(conn) {
        Err(e) if e.is_retryable() => once(conn),
        other => other,
    }
}

fn receive_in(
    conn: &mut DbConnection,
    event: &KaspiEvent,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Received> {
    let hash = fingerprint(event);
    let event_id = event.event_id.to_string();
    // Serialised with the order or handover that would make a waiting event applicable, so
    // neither can miss the other.
    lock_key(conn, &event.body.wait_key())?;
    if let Some(first) = stored::find(conn, &event_id)? {
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
        return Ok(Received {
            event_id,
            outcome: Outcome::Duplicate,
            first_outcome: Some(first.outcome),
            reason: first.reason_code,
            detail: first.detail,
            shipment_id: first.shipment_id,
            state,
        });
    }
    let done = attempt(conn, event, ctx)?;
    let resolved = (done.outcome != Outcome::Unmatched).then(|| to_db_time(ctx.recorded_at));
    stored::insert(
        conn,
        &KaspiEventRow {
            event_id: event_id.clone(),
            event_type: event.body.type_name().to_owned(),
            waybill: Some(event.body.wait_key()),
            occurred_at: to_db_time(event.occurred_at),
            payload: serde_json::to_string(event)
                .map_err(|e| WorkflowError::internal("keeping a Kaspi event", e))?,
            payload_hash: hash,
            outcome: done.outcome,
            reason_code: done.reason.clone(),
            detail: done.detail.clone(),
            shipment_id: done.shipment.as_ref().map(|s| s.id),
            received_at: to_db_time(ctx.recorded_at),
            resolved_at: resolved,
        },
    )?;
    Ok(Received {
        event_id,
        outcome: done.outcome,
        first_outcome: None,
        reason: done.reason,
        detail: done.detail,
        shipment_id: done.shipment.as_ref().map(|s| s.id),
        state: done.shipment.map(|s| s.status),
    })
}

/// Processes the event in a savepoint: a refusal leaves no trace but its record; a failure of
/// ours propagates, so the whole event is not acknowledged.
fn attempt(
    conn: &mut DbConnection,
    event: &KaspiEvent,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Processed> {
    match conn.transaction(|conn| process(conn, event, ctx)) {
        Ok(done) => Ok(done),
        Err(e) if e.is_ours() => Err(e),
        Err(e) => Ok(Processed {
            outcome: Outcome::Rejected,
            shipment: None,
            reason: e.reason().map(|r| r.code().to_owned()),
            detail: Some(e.to_string()),
        }),
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
        return accept_registry(
            conn,
            handoff_registry,
            kaspi_registry_number,
            accepted_waybills,
            &event.body,
            ctx,
        );
    }
    let waybill = event
        .body
        .waybill()
        .expect("every other event names its waybill");
    match shipments::find_by_waybill(conn, waybill.as_str())? {
        Some(row) => apply_to_shipment(conn, &row, &event.body, ctx),
        None => Ok(Processed::waiting(
            None,
            format!("waybill {waybill} is not known yet; the event is kept and applied when it is"),
        )),
    }
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

/// Applies an event to one shipment along Kaspi's plan, with the event's own effects.
fn apply_to_shipment(
    conn: &mut DbConnection,
    row: &ShipmentRow,
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Processed> {
    let current = row.status;
    let steps = match kaspi_plan(current, body.shipment_event(), row.delivery_method) {
        KaspiPlan::Apply(steps) => steps,
        KaspiPlan::Stale => {
            let details = serde_json::json!({ "out_of_order": true, "reported": body });
            note(conn, row, body.shipment_event().as_str(), details, ctx)?;
            return Ok(Processed {
                outcome: Outcome::OutOfOrderRecorded,
                shipment: Some(row.clone()),
                detail: Some(format!("the shipment is already '{current}'")),
                reason: None,
            });
        }
        KaspiPlan::Refused(_) if kaspi_may_be_ahead(current) => {
            return Ok(Processed::waiting(
                Some(row.clone()),
                format!("waiting: the shipment is still '{current}' in our records"),
            ));
        }
        KaspiPlan::Refused(refusal) => {
            return Err(WorkflowError::rejected(
                Reason::InvalidTransition,
                refusal.to_string(),
            ));
        }
    };
    let mut now = row.clone();
    let last = steps.len() - 1;
    for (i, step) in steps.iter().enumerate() {
        let (event, details) = if i == last {
            (reported_event(body), serde_json::to_value(body).ok())
        } else {
            let implied = Event::bare(step.event).ok_or_else(|| {
                WorkflowError::internal(
                    "applying a Kaspi event",
                    anyhow::anyhow!("Kaspi's plan implies {} without its data", step.event),
                )
            })?;
            let details = serde_json::json!({ "implied_by": ctx.external_event_id });
            (implied, Some(details))
        };
        let applied = apply(conn, &now, event, ctx, details)?;
        if i == last {
            effects(conn, &applied, body, ctx)?;
        }
        now = applied.shipment;
    }
    Ok(Processed::applied(Some(now)))
}

/// What an event does beyond the state: the loss act, discrepancies and the citizen's messages
/// (written here, sent by the dispatcher).
fn effects(
    conn: &mut DbConnection,
    applied: &Applied,
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    let row = &applied.shipment;
    let notifies = applied.transition.notifies;
    match body {
        KaspiEventBody::PlacedInCell { postamat_id, .. } => {
            let app = application::get(conn, row.application_id)?;
            let chosen = match app.postamat_id {
                Some(id) => postamat::find_by_id(conn, id)?,
                None => None,
            };
            if chosen
                .as_ref()
                .is_none_or(|p| p.kaspi_id != postamat_id.as_str())
            {
                let detail = format!(
                    "placed in postamat {postamat_id}, but the citizen chose {}",
                    chosen.as_ref().map_or("none", |p| p.kaspi_id.as_str())
                );
                discrepancy(
                    conn,
                    Found {
                        registry: None,
                        shipment: Some(row),
                        kind: DiscrepancyKind::WrongPostamat,
                        waybill: row.waybill.as_deref(),
                        detail,
                    },
                    ctx,
                )?;
            }
            if notifies.contains(&NotificationKind::PlacedInCell) {
                // Where it actually is; a postamat missing from our list is named by its id.
                let address = postamat::find(conn, postamat_id.as_str())?
                    .map(|p| p.address())
                    .unwrap_or_else(|| Bilingual {
                        kk: postamat_id.to_string(),
                        ru: postamat_id.to_string(),
                    });
                // п.28: collect by the last day of the 3-calendar-day storage (п.21, 29).
                let tz = branch::time_zone(conn, row.branch_id)?.tz();
                let storage = rules::due(
                    DeadlineKind::Storage.rule(),
                    ctx.occurred_at,
                    tz,
                    &ctx.calendar.calendar,
                )?;
                let notice = Notice::PlacedInCell {
                    postamat: &address,
                    collect_by: storage.last_day,
                };
                notify_citizen(conn, &app, row.id, notice, ctx.recorded_at)?;
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
            let app = application::get(conn, row.application_id)?;
            let cause = new_expected_date.to_string();
            let notice = Notice::DeliveryLate {
                new_date: *new_expected_date,
                cause: &cause,
            };
            notify_citizen(conn, &app, row.id, notice, ctx.recorded_at)?;
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
            detected_at: to_db_time(ctx.recorded_at),
            resolved_at: None,
        },
    )?;
    Ok(())
}

/// п.18: reconciles Kaspi's registry of accepted envelopes with our handoff registry.
fn accept_registry(
    conn: &mut DbConnection,
    handoff_registry: &ExternalId,
    kaspi_registry_number: &ExternalId,
    accepted: &[Waybill],
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Processed> {
    let registry = registry::find_by_number(conn, handoff_registry.as_str())?
        .filter(|r| r.kind == RegistryKind::KaspiHandoff);
    let Some(registry) = registry else {
        return Ok(Processed::waiting(
            None,
            format!("no handoff registry {handoff_registry} yet"),
        ));
    };
    match registry.state {
        RegistryState::HandedOver => {}
        RegistryState::Accepted | RegistryState::AcceptedWithDiscrepancies => {
            return Ok(Processed {
                outcome: Outcome::OutOfOrderRecorded,
                shipment: None,
                detail: Some(format!("registry {handoff_registry} was already accepted")),
                reason: None,
            });
        }
        // Kaspi can be ahead of our records: the acceptance waits for the handover.
        other => {
            return Ok(Processed::waiting(
                None,
                format!(
                    "registry {handoff_registry} is '{other}' in our records: waiting for the State courier's handover"
                ),
            ));
        }
    }
    let items = registry::items(conn, registry.id)?;
    let accepted: Vec<&str> = accepted.iter().map(Waybill::as_str).collect();
    let mut mismatches = 0;
    for (item, _) in &items {
        let waybill = item.waybill.as_str();
        let shipment = shipments::find(conn, item.shipment_id)?
            .ok_or_else(|| WorkflowError::not_found(format!("shipment {}", item.shipment_id)))?;
        if !accepted.contains(&waybill) {
            mismatches += 1;
            let detail = format!(
                "envelope {waybill} is on registry {handoff_registry} but not on Kaspi's registry {kaspi_registry_number}"
            );
            let found = Found {
                registry: Some(&registry),
                shipment: Some(&shipment),
                kind: DiscrepancyKind::NotAccepted,
                waybill: Some(waybill),
                detail,
            };
            discrepancy(conn, found, ctx)?;
            continue;
        }
        // One envelope that cannot be accepted (lost meanwhile, say) is a discrepancy of its
        // own; the rest of the registry is accepted.
        match conn.transaction(|conn| apply_to_shipment(conn, &shipment, body, ctx)) {
            Ok(_) => {}
            Err(e) if e.is_ours() => return Err(e),
            Err(e) => {
                mismatches += 1;
                let detail = format!("envelope {waybill} was accepted by Kaspi but cannot be: {e}");
                let found = Found {
                    registry: Some(&registry),
                    shipment: Some(&shipment),
                    kind: DiscrepancyKind::EnvelopeRefused,
                    waybill: Some(waybill),
                    detail,
                };
                discrepancy(conn, found, ctx)?;
            }
        }
    }
    for waybill in accepted
        .iter()
        .filter(|w| !items.iter().any(|(item, _)| item.waybill == **w))
    {
        mismatches += 1;
        let detail = format!(
            "envelope {waybill} is on Kaspi's registry {kaspi_registry_number} but not on registry {handoff_registry}"
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
    registry::accept(
        conn,
        registry.id,
        state,
        kaspi_registry_number.as_str(),
        ctx.occurred_at,
    )?;
    Ok(Processed {
        outcome: Outcome::Applied,
        shipment: None,
        detail: (mismatches > 0).then(|| format!("{mismatches} discrepancies recorded")),
        reason: None,
    })
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
        let done = attempt(conn, &event, &ctx)?;
        if done.outcome != Outcome::Unmatched {
            resolved += 1;
            kept.resolved_at = Some(to_db_time(ctx.recorded_at));
        }
        kept.outcome = done.outcome;
        kept.reason_code = done.reason;
        kept.detail = done.detail;
        kept.shipment_id = done.shipment.map(|s| s.id);
        stored::set_outcome(conn, &kept)?;
    }
    Ok(resolved)
}
