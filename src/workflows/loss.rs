//! Losses (п.22–24): recorded by whoever holds the document — Kaspi with its own act through
//! its status events, State Corporation staff here — and drawn by the accumulation sector as an
//! act in two copies under the branch's number, the second sent to the registry office.

use super::shipment::{apply, find_scoped};
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::branch::BranchScope;
use crate::db::models::loss_act::{self, LossAct, LossActRow};
use crate::db::models::numbering::{Series, next_number};
use crate::db::models::shipment::ShipmentRow;
use crate::db::models::{branch, outbox};
use crate::db::{DbConnection, write_transaction};
use crate::domain::ids::{LossActId, ShipmentId};
use crate::domain::loss::{LossActState, LossSide};
use crate::domain::notification::{Destination, LossActCopy, OutboundKind};
use crate::domain::reference::Text;
use crate::domain::shipment::Event;

/// What is known of a loss when it is recorded.
#[derive(Debug, Clone)]
pub struct Loss {
    pub side: LossSide,
    /// Kaspi's own act, for a Kaspi-side loss (п.22).
    pub kaspi_act_number: Option<String>,
    pub cause: String,
    pub circumstances: String,
    pub responsible_employee: String,
}

/// Opens the loss act of a lost shipment, to be drawn by the accumulation sector.
pub fn open_act(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    loss: Loss,
    ctx: &EventContext<'_>,
) -> WorkflowResult<LossActId> {
    let id = LossActId::new();
    loss_act::insert(
        conn,
        &LossActRow {
            id,
            shipment_id: shipment.id,
            branch_id: shipment.branch_id,
            side: loss.side,
            kaspi_act_number: loss.kaspi_act_number,
            number: None,
            state: LossActState::Recorded,
            cause: loss.cause,
            circumstances: loss.circumstances,
            responsible_employee: loss.responsible_employee,
            kaspi_event_id: match loss.side {
                LossSide::Kaspi => ctx.external_event_id.clone(),
                LossSide::StateCorporation => None,
            },
            recorded_by: ctx.actor.key_id,
            drawn_by: None,
            drawn_at: None,
            created_at: ctx.recorded_at,
        },
    )?;
    Ok(id)
}

/// What State Corporation staff report of a loss in their hands (п.23).
#[derive(Debug, Clone)]
pub struct StateLoss {
    pub cause: Text,
    pub circumstances: Text,
    /// The employee responsible for receiving and delivering the document.
    pub responsible_employee: Text,
}

/// п.23: a document lost while the State Corporation holds it; the state machine refuses it
/// while Kaspi holds the document (п.22: Kaspi reports that loss).
pub fn record_state_loss(
    conn: &mut DbConnection,
    id: ShipmentId,
    report: StateLoss,
    ctx: &EventContext<'_>,
) -> WorkflowResult<LossActId> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let row = find_scoped(conn, id, scope)?;
        let details =
            serde_json::json!({ "cause": report.cause, "side": LossSide::StateCorporation });
        let lost = apply(conn, &row, None, Event::Lost, ctx, Some(details))?.shipment;
        let loss = Loss {
            side: LossSide::StateCorporation,
            kaspi_act_number: None,
            cause: report.cause.into(),
            circumstances: report.circumstances.into(),
            responsible_employee: report.responsible_employee.into(),
        };
        open_act(conn, &lost, loss, ctx)
    })
}

/// п.24: draws the act — the branch's next loss-act number, two copies — and sends the second
/// copy to the registry office (written to the outbox in the same transaction).
pub fn draw_act(
    conn: &mut DbConnection,
    id: LossActId,
    ctx: &EventContext<'_>,
) -> WorkflowResult<LossAct> {
    let (drawn_by, now) = (ctx.key()?, ctx.recorded_at);
    write_transaction(conn, |conn| {
        let (act, application_number, _) = loss_act::find_scoped(conn, id, &ctx.scope)?
            .ok_or_else(|| WorkflowError::not_found(format!("loss act {id} not found")))?;
        if act.state != LossActState::Recorded {
            return Err(WorkflowError::rejected(
                Reason::AlreadyExists,
                format!(
                    "loss act {} is already drawn",
                    act.number.as_deref().unwrap_or("")
                ),
            ));
        }
        let branch = branch::get(conn, act.branch_id)?;
        let number = next_number(conn, &branch, Series::LossAct, now)?;
        if !loss_act::draw(conn, act.id, &number, drawn_by, now)? {
            return Err(WorkflowError::Conflict(
                "the loss act was drawn meanwhile; reload it".into(),
            ));
        }
        let second_copy = LossActCopy {
            loss_act_number: number.clone(),
            application_number: application_number.clone(),
            side: act.side,
            kaspi_act_number: act.kaspi_act_number.clone(),
            cause: act.cause.clone(),
            circumstances: act.circumstances.clone(),
            responsible_employee: act.responsible_employee.clone(),
            drawn_at: now,
        };
        outbox::insert_outbound(
            conn,
            Destination::RegistryOffice,
            OutboundKind::LossAct,
            &second_copy,
            &format!("loss_act:{number}"),
            now,
        )?;
        loss_act::find_scoped(conn, id, &BranchScope::All)?
            .ok_or_else(|| WorkflowError::not_found(format!("loss act {id} not found")))
    })
}
