//! What an applied event writes: its steps with their history lines, then its effects beyond
//! the state (the loss act, discrepancies, the citizen's messages).

use super::plan::reported_event;
use crate::db::DbConnection;
use crate::db::models::kaspi_event::{self as stored, DiscrepancyRow};
use crate::db::models::postamat;
use crate::db::models::registry::RegistryRow;
use crate::db::models::shipment::{Loaded, ShipmentRow};
use crate::domain::deadline::{self as rules, DeadlineKind};
use crate::domain::identifiers::Waybill;
use crate::domain::ids::DiscrepancyId;
use crate::domain::kaspi::{DiscrepancyKind, KaspiEventBody};
use crate::domain::loss::LossSide;
use crate::domain::notification::{Bilingual, NotificationKind, kaspi_delay_date};
use crate::domain::reference::BranchTimeZone;
use crate::domain::shipment::{Event, ShipmentState, Transition};
use crate::workflows::loss::{Loss, open_act};
use crate::workflows::notify::{Notice, kaspi_delays, notify_citizen};
use crate::workflows::shipment::{Applied, apply};
use crate::workflows::{EventContext, WorkflowError, WorkflowResult};

/// Applies an event along Kaspi's plan: the steps it implies first, each noted as implied by
/// it, then the event itself with what Kaspi reported. Returns the last step applied.
pub(super) fn apply_steps(
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
pub(super) fn history_details(body: &KaspiEventBody) -> serde_json::Value {
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
pub(super) fn effects(
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
pub(super) struct Found<'a> {
    pub(super) registry: Option<&'a RegistryRow>,
    pub(super) shipment: Option<&'a ShipmentRow>,
    pub(super) kind: DiscrepancyKind,
    pub(super) waybill: Option<&'a str>,
    pub(super) detail: String,
}

pub(super) fn discrepancy(
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
