//! A citizen's way of delivery changing before placement (issue 23): another postamat in the
//! same city (п.4) — the citizen's choice in the Kaspi app, or the chosen postamat out of
//! service — reported by Kaspi; or the ЦОН instead of the postamat (п.3, 14), asked in the Kaspi
//! app (Kaspi reports it) or at the ЦОН (the accumulation sector records it).
//!
//! The application keeps the way of delivery the clerk sees by its number (п.12), and its
//! document follows through the state machine (`postamat_changed`, `rerouted_to_con`): what a
//! document already with Kaspi does, and which deadlines become moot, is the table's. The
//! citizen is told of the change once; Kaspi is asked to stop delivering when the change was
//! made at the ЦОН.

use super::notify::{Notice, notify_citizen};
use super::register::in_branch_city;
use super::shipment::{Line, apply, record};
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::application::{self, ApplicationRow};
use crate::db::models::branch::{self, BranchScope};
use crate::db::models::registry;
use crate::db::models::shipment::{self as shipments, ShipmentRow};
use crate::db::models::{history, outbox, postamat};
use crate::db::{DbConnection, write_transaction};
use crate::domain::application::DeliveryChangeReason;
use crate::domain::ids::ShipmentId;
use crate::domain::notification::{Destination, KaspiRequest};
use crate::domain::reference::KaspiPostamatId;
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::domain::role::Role;
use crate::domain::shipment::{DeliveryMethod, Event, ShipmentState};

/// The application with its original document, if it may still change its way of delivery.
fn changeable(
    conn: &mut DbConnection,
    number: &str,
    scope: &BranchScope,
) -> WorkflowResult<(ApplicationRow, Option<ShipmentRow>)> {
    let app = application::find_scoped(conn, number, scope)?
        .ok_or_else(|| WorkflowError::not_found(format!("application {number} not found")))?;
    if !app.status.delivery_may_change() {
        return Err(WorkflowError::rejected(
            Reason::InvalidTransition,
            format!(
                "application {number} is '{}': its way of delivery no longer changes",
                app.status
            ),
        ));
    }
    if app.delivery_method != DeliveryMethod::Postamat {
        return Err(WorkflowError::rejected(
            Reason::InvalidTransition,
            format!("application {number} is delivered at the ЦОН already"),
        ));
    }
    let original = shipments::find_original(conn, app.id)?;
    Ok((app, original))
}

/// Records the change on the document (the state machine judges it) or, before the registry
/// office executed the application, on the application itself.
fn record_change(
    conn: &mut DbConnection,
    app: &ApplicationRow,
    original: Option<&ShipmentRow>,
    event: Event,
    details: serde_json::Value,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Option<ShipmentRow>> {
    match original {
        Some(document) => Ok(Some(
            apply(conn, document, None, event, ctx, Some(details))?.shipment,
        )),
        None => {
            let status = app.status.as_str();
            let line = Line {
                application_id: app.id,
                shipment_id: None,
                event: event.kind().as_str(),
                from: Some(status),
                to: status,
                details: Some(details),
            };
            record(conn, line, ctx)?;
            Ok(None)
        }
    }
}

fn set_delivery(
    conn: &mut DbConnection,
    app: &ApplicationRow,
    method: DeliveryMethod,
    postamat: Option<crate::domain::ids::PostamatId>,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ApplicationRow> {
    if !application::set_delivery(conn, app, method, postamat, ctx.recorded_at)? {
        return Err(WorkflowError::Conflict(
            "the application changed meanwhile; retry".into(),
        ));
    }
    Ok(ApplicationRow {
        delivery_method: method,
        postamat_id: postamat,
        version: app.version + 1,
        updated_at: ctx.recorded_at,
        ..app.clone()
    })
}

/// Kaspi reports that the document of application `number` goes to postamat `to` (п.4: in the
/// city of the application's branch), any time before it is placed. The same postamat again
/// changes nothing. Returns the application as it is now.
pub fn change_postamat(
    conn: &mut DbConnection,
    number: &str,
    to: &KaspiPostamatId,
    reason: DeliveryChangeReason,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ApplicationRow> {
    write_transaction(conn, |conn| {
        let (app, original) = changeable(conn, number, &BranchScope::All)?;
        let chosen = postamat::find(conn, to.as_str())?.ok_or_else(|| {
            WorkflowError::rejected(
                Reason::UnknownPostamat,
                format!("postamat {to} is not in the postamat list"),
            )
        })?;
        if app.postamat_id == Some(chosen.id) {
            return Ok(app);
        }
        in_branch_city(&branch::get(conn, app.branch_id)?, &chosen)?;
        let before = match app.postamat_id {
            Some(id) => postamat::find_by_id(conn, id)?.map(|p| p.kaspi_id),
            None => None,
        };
        let details = serde_json::json!({ "from": before, "to": to, "reason": reason });
        let document = record_change(
            conn,
            &app,
            original.as_ref(),
            Event::PostamatChanged,
            details,
            ctx,
        )?;
        let app = set_delivery(conn, &app, DeliveryMethod::Postamat, Some(chosen.id), ctx)?;
        // Before execution there is no document to speak of yet: the placement message (п.28)
        // will name the new postamat.
        if let Some(document) = document {
            let address = chosen.address();
            // Each change is told, a change back included: the cause is the report's own id.
            let cause = ctx.external_event_id.as_deref().unwrap_or(to.as_str());
            let notice = Notice::PostamatChanged {
                postamat: &address,
                cause,
            };
            notify_citizen(conn, &app, document.id, notice, ctx.recorded_at)?;
        }
        Ok(app)
    })
}

/// The document of application `number` (in `scope`) is to be issued at the ЦОН instead of a
/// postamat, any time before it is placed: asked in the Kaspi app (Kaspi's call) or at the ЦОН
/// (the accumulation sector's, in its own branch). With the State courier it must be brought
/// back first (`POST /shipments/{id}/bring-back`). Returns the application as it is now.
pub fn reroute_to_con(
    conn: &mut DbConnection,
    number: &str,
    reason: DeliveryChangeReason,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ApplicationRow> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let (app, original) = changeable(conn, number, scope)?;
        reroute(conn, app, original, reason, ctx)
    })
}

/// The re-route of [`reroute_to_con`], inside the caller's transaction.
pub(super) fn reroute(
    conn: &mut DbConnection,
    app: ApplicationRow,
    original: Option<ShipmentRow>,
    reason: DeliveryChangeReason,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ApplicationRow> {
    let number = app.number.as_str();
    if let Some(document) = &original {
        match document.status {
            ShipmentState::HandedToCourier => {
                return Err(WorkflowError::rejected(
                    Reason::InvalidTransition,
                    format!(
                        "the document of application {number} is with the State courier: it is brought back first (POST /api/v1/shipments/{}/bring-back), or re-routed once the Kaspi point has accepted it",
                        document.id
                    ),
                ));
            }
            ShipmentState::Packed => take_off_unsigned_registry(conn, document, ctx)?,
            _ => {}
        }
    }
    let details =
        serde_json::json!({ "reason": reason, "from_state": original.as_ref().map(|d| d.status) });
    let document = record_change(
        conn,
        &app,
        original.as_ref(),
        Event::ReroutedToCon,
        details,
        ctx,
    )?;
    let app = set_delivery(conn, &app, DeliveryMethod::Con, None, ctx)?;
    if let Some(document) = &document {
        // Not asked in the Kaspi app (at the ЦОН, or at the pilot's end): Kaspi, which was asked
        // for an order when the document was executed (п.8) and may have made it or hold the
        // envelope, hears it from us. Asked in the app: Kaspi knows.
        if ctx.actor.role() != Some(Role::Kaspi) {
            let request = KaspiRequest::CancelDelivery {
                application_number: app.number.to_string(),
                kaspi_order_id: document.kaspi_order_id.clone(),
                waybill: document.waybill.clone().map(String::from),
                reason,
                return_to_point: matches!(
                    document.status,
                    ShipmentState::ReturnedToKaspiPoint | ShipmentState::ReturningToKaspiPoint
                ),
                requested_at: ctx.occurred_at,
            };
            outbox::insert_outbound(
                conn,
                Destination::Kaspi,
                request.kind(),
                &request,
                &format!("cancel_delivery:{}", app.number),
                ctx.recorded_at,
            )?;
        }
        let pilot_ended = reason == DeliveryChangeReason::PilotEnded;
        notify_citizen(
            conn,
            &app,
            document.id,
            Notice::ReroutedToCon { pilot_ended },
            ctx.recorded_at,
        )?;
    }
    Ok(app)
}

/// A document made for the ЦОН whose application was re-routed before the registry office
/// executed it (the citizen asked, or the pilot ended): the citizen is told now that there is a
/// document, and why.
pub(super) fn tell_rerouted_before_execution(
    conn: &mut DbConnection,
    app: &ApplicationRow,
    document: ShipmentId,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    let Some(details) = history::application_line(conn, app.id, "rerouted_to_con")? else {
        return Ok(());
    };
    let reason = serde_json::from_str::<serde_json::Value>(&details)
        .ok()
        .and_then(|d| {
            d.get("reason")?
                .as_str()
                .and_then(DeliveryChangeReason::parse)
        });
    let pilot_ended = reason == Some(DeliveryChangeReason::PilotEnded);
    notify_citizen(
        conn,
        app,
        document,
        Notice::ReroutedToCon { pilot_ended },
        ctx.recorded_at,
    )?;
    Ok(())
}

/// A packed envelope re-routed to the ЦОН leaves the handoff registry it is on: a draft simply
/// loses it; a sealed registry not yet signed for is a signed document and keeps the line,
/// marked withdrawn, and the courier's signature takes the others (п.17).
fn take_off_unsigned_registry(
    conn: &mut DbConnection,
    document: &ShipmentRow,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    let withdraw = |conn: &mut DbConnection| {
        registry::withdraw_item(
            conn,
            document.id,
            RegistryKind::KaspiHandoff,
            ctx.recorded_at,
        )
    };
    match registry::live_of(conn, document.id, RegistryKind::KaspiHandoff)? {
        // Claimed first, as every change of a draft is: a seal committing meanwhile makes it
        // a signed registry, whose line is withdrawn instead.
        Some((id, RegistryState::Draft)) => {
            if registry::claim_draft(conn, id)? {
                registry::delete_item(conn, id, document.id)?;
            } else {
                withdraw(conn)?;
            }
        }
        Some((_, RegistryState::Sealed)) => {
            withdraw(conn)?;
        }
        Some(_) | None => {}
    }
    Ok(())
}
