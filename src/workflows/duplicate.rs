//! A free duplicate of a cancelled application's lost certificate (п.26): a new document on the
//! ЦОН route, due within 3 working days; one open at a time.

use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::application::{self, ApplicationRow};
use crate::db::models::shipment as shipments;
use crate::db::{DbConnection, lock_key, write_transaction};
use crate::domain::application::ApplicationStatus;
use crate::domain::shipment::{DeliveryMethod, ShipmentKind};

pub fn request_duplicate(
    conn: &mut DbConnection,
    number: &str,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ApplicationRow> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let app = application::find_scoped(conn, number, scope)?
            .ok_or_else(|| WorkflowError::not_found(format!("application {number} not found")))?;
        // Two clerks asking at once: one duplicate.
        lock_key(conn, &format!("duplicate:{number}"))?;
        if app.status != ApplicationStatus::Cancelled {
            return Err(WorkflowError::rejected(
                Reason::InvalidTransition,
                format!(
                    "a duplicate is issued for a cancelled application; {number} is '{}'",
                    app.status
                ),
            ));
        }
        let open = shipments::of_application(conn, app.id)?
            .iter()
            .any(|s| s.kind == ShipmentKind::Duplicate && !s.status.is_terminal());
        if open {
            return Err(WorkflowError::rejected(
                Reason::AlreadyExists,
                format!("application {number} already has a duplicate on its way"),
            ));
        }
        super::shipment::create(
            conn,
            app.id,
            app.branch_id,
            DeliveryMethod::Con,
            ShipmentKind::Duplicate,
            ctx,
        )?;
        Ok(app)
    })
}
