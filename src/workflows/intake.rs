//! The accumulation sector takes in executed documents from the registry office (п.7); a
//! ЦОН-route document goes on to the issuance sector with the registry office's registry (п.14).

use super::shipment::apply;
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::application;
use crate::db::models::branch::BranchScope;
use crate::db::models::shipment::{self as shipments, ShipmentRow};
use crate::db::{DbConnection, write_transaction};
use crate::domain::identifiers::ApplicationNumber;
use crate::domain::reference::Text;
use crate::domain::shipment::{DeliveryMethod, Event};
use diesel::Connection;

/// Takes in each document on its own: one that cannot be taken in (its refusal is returned with
/// it) leaves the others be. A failure of ours fails the whole intake and nothing is stored.
pub fn take_in_all(
    conn: &mut DbConnection,
    numbers: &[ApplicationNumber],
    registry_office_registry: Option<&Text>,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Vec<Result<ShipmentRow, WorkflowError>>> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let mut items = Vec::with_capacity(numbers.len());
        for number in numbers {
            // A savepoint each, so that a refusal leaves no trace.
            match conn
                .transaction(|conn| take_in(conn, number, registry_office_registry, scope, ctx))
            {
                Err(e) if e.is_ours() => return Err(e),
                outcome => items.push(outcome),
            }
        }
        Ok(items)
    })
}

fn take_in(
    conn: &mut DbConnection,
    number: &ApplicationNumber,
    registry_office_registry: Option<&Text>,
    scope: &BranchScope,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ShipmentRow> {
    // Another branch's application is "not found", as everywhere else.
    let app = application::find_scoped(conn, number.as_str(), scope)?
        .ok_or_else(|| WorkflowError::not_found(format!("application {number} not found")))?;
    // The latest document of the application: the original, or a duplicate after a loss.
    let document = shipments::of_application(conn, app.id)?
        .pop()
        .ok_or_else(|| {
            WorkflowError::rejected(
                Reason::InvalidTransition,
                format!(
                    "application {number} is '{}': the registry office has not executed it",
                    app.status
                ),
            )
        })?;
    let method = document.delivery_method;
    let registry = match (method, registry_office_registry) {
        (DeliveryMethod::Con, None) => {
            return Err(WorkflowError::rejected(
                Reason::ValidationFailed,
                format!(
                    "application {number} is for the ЦОН route: give registry_office_registry (п.14)"
                ),
            ));
        }
        (_, registry) => registry,
    };
    let taken = apply(conn, &document, None, Event::Intake, ctx, None)?.shipment;
    let (DeliveryMethod::Con, Some(registry)) = (method, registry) else {
        return Ok(taken);
    };
    // п.14: the ЦОН route goes on to the issuance sector with the registry office's registry.
    let details = serde_json::json!({ "registry_office_registry": registry });
    let event = Event::RouteToIssuance {
        registry_office_registry: registry.to_string(),
    };
    Ok(apply(conn, &taken, None, event, ctx, Some(details))?.shipment)
}
