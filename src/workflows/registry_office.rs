//! The registry office (РАГС, ИС ЗАГС) gives an application its final status (п.5, 8), or
//! cancels it after its document was lost (п.24–25).

use super::notify::{Notice, notify_citizen};
use super::shipment::{self, Line};
use super::{EventContext, Reason, WorkflowError, WorkflowResult, delivery};
use crate::db::models::application::{self, ApplicationRow};
use crate::db::models::branch;
use crate::db::models::postamat;
use crate::db::models::shipment::{self as shipments, ShipmentRow};
use crate::db::models::{history, loss_act, outbox};
use crate::db::{DbConnection, write_transaction};
use crate::domain::application::{DeliveryChangeReason, FinalStatus, PilotWindow};
use crate::domain::loss::LossActState;
use crate::domain::notification::{Destination, KaspiRequest, LostWhere, NotificationKind};
use crate::domain::shipment::{DeliveryMethod, Event, ShipmentKind, ShipmentState};

/// What the status did.
pub struct StatusApplied {
    pub application: ApplicationRow,
    /// The document `executed` created, or the one `cancelled` cancelled.
    pub shipment: Option<ShipmentRow>,
}

/// Applies the registry office's `status` to the application `number`; `pilot` is the window
/// postamat delivery runs in (order п.6): an execution reported after it ends makes the
/// document for the ЦОН.
pub fn apply_status(
    conn: &mut DbConnection,
    number: &str,
    status: FinalStatus,
    pilot: PilotWindow,
    ctx: &EventContext<'_>,
) -> WorkflowResult<StatusApplied> {
    write_transaction(conn, |conn| {
        let mut app = application::find_by_number(conn, number)?
            .ok_or_else(|| WorkflowError::not_found(format!("application {number} not found")))?;
        let Some(to) = app.status.after(status) else {
            return Err(WorkflowError::rejected(
                Reason::InvalidTransition,
                format!("application {} is already '{}'", app.number, app.status),
            ));
        };
        let shipment = match status {
            FinalStatus::Cancelled => Some(cancel(conn, &app, ctx)?),
            FinalStatus::Executed => {
                let (executed, document) = execute(conn, app, pilot, ctx)?;
                app = executed;
                Some(document)
            }
            FinalStatus::Refused => {
                shipment::record(
                    conn,
                    Line {
                        application_id: app.id,
                        shipment_id: None,
                        event: "refused",
                        from: Some(app.status.as_str()),
                        to: to.as_str(),
                        details: None,
                    },
                    ctx,
                )?;
                None
            }
        };
        if !application::set_status(conn, &app, to, ctx.recorded_at)? {
            return Err(WorkflowError::Conflict(
                "the application changed meanwhile; retry".into(),
            ));
        }
        Ok(StatusApplied {
            application: ApplicationRow {
                status: to,
                version: app.version + 1,
                ..app
            },
            shipment,
        })
    })
}

/// п.8: the document exists; Kaspi creates the delivery order once the final status is known
/// (the request is written with the change and delivered by the dispatcher). After the pilot's
/// end (order п.6, issue 25) a postamat application is re-routed to the ЦОН first: no new
/// delivery starts through Kaspi. A citizen whose application was re-routed before execution
/// is told now where to collect the document, and why.
fn execute(
    conn: &mut DbConnection,
    app: ApplicationRow,
    pilot: PilotWindow,
    ctx: &EventContext<'_>,
) -> WorkflowResult<(ApplicationRow, ShipmentRow)> {
    let tz = branch::time_zone(conn, app.branch_id)?.tz();
    let app =
        if app.delivery_method == DeliveryMethod::Postamat && pilot.is_over(ctx.recorded_at, tz) {
            delivery::reroute(conn, app, None, DeliveryChangeReason::PilotEnded, ctx)?
        } else {
            app
        };
    let app = &app;
    let created = shipment::create(
        conn,
        app.id,
        app.branch_id,
        app.delivery_method,
        ShipmentKind::Original,
        ctx,
    )?;
    if app.delivery_method == DeliveryMethod::Postamat {
        let postamat = match app.postamat_id {
            Some(id) => postamat::find_by_id(conn, id)?,
            None => None,
        };
        let request = KaspiRequest::CreateOrder {
            application_number: app.number.to_string(),
            postamat_id: postamat.map(|p| p.kaspi_id),
            executed_at: ctx.occurred_at,
        };
        outbox::insert_outbound(
            conn,
            Destination::Kaspi,
            request.kind(),
            &request,
            &format!("create_order:{}", app.number),
            ctx.recorded_at,
        )?;
    } else {
        delivery::tell_rerouted_before_execution(conn, app, created.id, ctx)?;
    }
    Ok((app.clone(), created))
}

/// п.24–25: the lost document is cancelled and the citizen told where to get a free duplicate.
fn cancel(
    conn: &mut DbConnection,
    app: &ApplicationRow,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ShipmentRow> {
    let lost = shipments::of_application(conn, app.id)?
        .into_iter()
        .rev()
        .find(|s| s.status == ShipmentState::Lost)
        .ok_or_else(|| {
            WorkflowError::rejected(
                Reason::InvalidTransition,
                format!(
                    "application {} has no lost document to cancel it for (it is '{}')",
                    app.number, app.status
                ),
            )
        })?;
    // п.24: the registry office cancels "according to the act": the accumulation sector draws
    // it in two copies and sends one first. A cancellation before that is refused (issue 22,
    // item 7), naming the missing act; refusals are not kept, so the registry office sends the
    // same event again once the act has reached it. Refused rather than recorded and flagged:
    // a cancellation without its act has no basis under п.24, and the citizen's message (п.25)
    // must not go out before the State Corporation has even drawn the act.
    let act = loss_act::of_shipment(conn, lost.id)?;
    if act.as_ref().is_none_or(|a| a.state != LossActState::Drawn) {
        return Err(WorkflowError::rejected(
            Reason::InvalidTransition,
            format!(
                "application {} cannot be cancelled yet: the accumulation sector has not drawn the loss act of its document and sent its copy (п.24); send the cancellation again once the act has arrived",
                app.number
            ),
        ));
    }
    // п.25: where it was lost, from the state the loss moved it out of (its history).
    let lost_from = history::of_shipment(conn, lost.id)?
        .into_iter()
        .rev()
        .find(|e| e.to_status == ShipmentState::Lost.as_str())
        .and_then(|e| e.from_status)
        .and_then(|s| ShipmentState::parse(&s));
    let applied = shipment::apply(conn, &lost, None, Event::Cancelled, ctx, None)?;
    if applied
        .transition
        .notifies
        .contains(&NotificationKind::CancelledAfterLoss)
    {
        let lost_where = lost_from.map_or(LostWhere::InDelivery, LostWhere::from_state);
        notify_citizen(
            conn,
            app,
            lost.id,
            Notice::CancelledAfterLoss { lost: lost_where },
            ctx.recorded_at,
        )?;
    }
    Ok(applied.shipment)
}
