//! Disputes (п.36) about a lost or late document, recorded so the shipment's history shows how
//! they were settled.

use super::shipment::{find_scoped, note};
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::dispute::{self, DisputeRow, NewDispute};
use crate::db::models::loss_act;
use crate::db::models::shipment as shipments;
use crate::db::{DbConnection, write_transaction};
use crate::domain::ids::{DisputeId, LossActId, ShipmentId};
use crate::domain::reference::Text;
use chrono::NaiveDate;

#[derive(Debug, Clone)]
pub struct OpenDispute {
    pub shipment_id: ShipmentId,
    pub loss_act_id: Option<LossActId>,
    pub parties: Text,
    pub subject: Text,
    pub opened_on: NaiveDate,
}

pub fn open(
    conn: &mut DbConnection,
    new: &OpenDispute,
    ctx: &EventContext<'_>,
) -> WorkflowResult<DisputeRow> {
    let scope = &ctx.scope;
    let recorded_by = ctx.key()?;
    write_transaction(conn, |conn| {
        let row = find_scoped(conn, new.shipment_id, scope)?;
        // The act a dispute is about is one the caller can see, drawn up for this shipment.
        if let Some(act_id) = new.loss_act_id {
            let (act, _, _) = loss_act::find_scoped(conn, act_id, scope)?
                .ok_or_else(|| WorkflowError::not_found(format!("loss act {act_id} not found")))?;
            if act.shipment_id != row.id {
                return Err(WorkflowError::rejected(
                    Reason::ValidationFailed,
                    format!("loss act {act_id} is about another shipment"),
                ));
            }
        }
        let opened = dispute::open(
            conn,
            NewDispute {
                shipment_id: row.id,
                branch_id: row.branch_id,
                loss_act_id: new.loss_act_id,
                parties: new.parties.as_str(),
                subject: new.subject.as_str(),
                opened_on: new.opened_on,
                recorded_by,
            },
            ctx.recorded_at,
        )?;
        let details = serde_json::json!({
            "dispute": opened.id,
            "parties": opened.parties,
            "subject": opened.subject,
        });
        note(conn, &row, "dispute_opened", details, ctx)?;
        Ok(opened)
    })
}

/// How a dispute was settled: the commission's signed protocol or a court decision (п.36).
#[derive(Debug, Clone)]
pub struct Settlement {
    pub commission_protocol: Text,
    pub outcome: Text,
    pub settled_on: NaiveDate,
}

pub fn settle(
    conn: &mut DbConnection,
    id: DisputeId,
    settlement: &Settlement,
    ctx: &EventContext<'_>,
) -> WorkflowResult<DisputeRow> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let found = dispute::find_scoped(conn, id, scope)?
            .ok_or_else(|| WorkflowError::not_found(format!("dispute {id} not found")))?;
        let settled = dispute::settle(
            conn,
            id,
            settlement.commission_protocol.as_str(),
            settlement.outcome.as_str(),
            settlement.settled_on,
            ctx.recorded_at,
        )?;
        if !settled {
            return Err(WorkflowError::rejected(
                Reason::AlreadyEnded,
                "the dispute is already settled",
            ));
        }
        let row = shipments::find(conn, found.shipment_id)?
            .ok_or_else(|| WorkflowError::not_found("shipment"))?;
        let details = serde_json::json!({
            "dispute": id,
            "commission_protocol": settlement.commission_protocol,
            "outcome": settlement.outcome,
            "settled_on": settlement.settled_on,
        });
        note(conn, &row, "dispute_settled", details, ctx)?;
        dispute::find_scoped(conn, id, scope)?
            .ok_or_else(|| WorkflowError::not_found(format!("dispute {id} not found")))
    })
}
