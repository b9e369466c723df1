//! The issuance sector (п.14, 34–35): a document is issued at the ЦОН to the applicant or a
//! representative, or handed on after a month of storage.

use super::shipment::{apply, find_scoped};
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::shipment::ShipmentRow;
use crate::db::models::{application, deadline};
use crate::db::{DbConnection, write_transaction};
use crate::domain::deadline::DeadlineKind;
use crate::domain::identifiers::Iin;
use crate::domain::ids::ShipmentId;
use crate::domain::reference::Text;
use crate::domain::shipment::{Event, Recipient, transfer_allowed};

/// Who came for the document.
#[derive(Debug, Clone)]
pub enum Receiver {
    /// The applicant, identified by IIN.
    Applicant { iin: Iin },
    /// A representative with a power of attorney.
    Representative {
        iin: Iin,
        name: Text,
        power_of_attorney: Text,
    },
}

/// Issues the document to `receiver`: the applicant must be the application's.
pub fn issue(
    conn: &mut DbConnection,
    id: ShipmentId,
    receiver: Receiver,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ShipmentRow> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let row = find_scoped(conn, id, scope)?;
        let app = application::get(conn, row.application_id)?;
        let recipient = match receiver {
            Receiver::Applicant { iin } => {
                if iin != app.applicant_iin {
                    return Err(WorkflowError::rejected(
                        Reason::RecipientMismatch,
                        "the IIN is not the applicant's; a representative needs a power of attorney",
                    ));
                }
                Recipient::Applicant {
                    iin,
                    name: app.applicant_name.clone(),
                }
            }
            Receiver::Representative {
                iin,
                name,
                power_of_attorney,
            } => Recipient::Representative {
                iin,
                name: name.into(),
                power_of_attorney: power_of_attorney.into(),
            },
        };
        let details = match &recipient {
            Recipient::Applicant { .. } => {
                serde_json::json!({ "issued_to": "applicant", "power_of_attorney": null })
            }
            Recipient::Representative {
                power_of_attorney, ..
            } => serde_json::json!({
                "issued_to": "representative",
                "power_of_attorney": power_of_attorney,
            }),
        };
        let event = Event::Issued { recipient };
        Ok(apply(conn, &row, None, event, ctx, Some(details))?.shipment)
    })
}

/// To whom, and on what paper, a document kept a month is handed on (п.35).
#[derive(Debug, Clone)]
pub struct Transfer {
    pub to_whom: Text,
    pub reference: Text,
}

/// Records the transfer of a document whose month of storage is over (п.35).
pub fn transfer(
    conn: &mut DbConnection,
    id: ShipmentId,
    transfer: &Transfer,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ShipmentRow> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let row = find_scoped(conn, id, scope)?;
        let storage_ends = deadline::of_shipment(conn, row.id)?
            .into_iter()
            .find(|d| d.kind == DeadlineKind::IssuanceStorage)
            .map(|d| d.due_at);
        transfer_allowed(storage_ends, ctx.occurred_at).map_err(|ends| {
            WorkflowError::rejected(
                Reason::InvalidTransition,
                format!("the issuance sector keeps the document until {ends} (п.35)"),
            )
        })?;
        let details = serde_json::json!({
            "to_whom": transfer.to_whom,
            "reference": transfer.reference,
        });
        Ok(apply(
            conn,
            &row,
            None,
            Event::TransferredAfterStorage,
            ctx,
            Some(details),
        )?
        .shipment)
    })
}
