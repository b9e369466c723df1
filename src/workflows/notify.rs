//! The one way a citizen is told something (DOMAIN.md §7): in the language of their application,
//! with the address in that language, on the channels the order names for the message, each
//! message written once per cause (one dedup-key constructor,
//! [`crate::domain::notification::dedup_key`]) in the transaction of the change that causes it.

use super::WorkflowResult;
use crate::db::DbConnection;
use crate::db::models::application::ApplicationRow;
use crate::db::models::outbox::{self, NewNotification};
use crate::db::models::{branch, history};
use crate::domain::ids::ShipmentId;
use crate::domain::notification::{self, Bilingual, Facts, LostWhere, ReturnedWhy, dedup_key};
use chrono::{DateTime, NaiveDate, Utc};

/// What to tell the citizen.
#[derive(Debug, Clone)]
pub enum Notice<'a> {
    /// п.28: in this postamat, collect by this day. `cause` tells a placement after an early
    /// removal (issue 23) from the first, which keeps the key it always had.
    PlacedInCell {
        postamat: &'a Bilingual,
        collect_by: NaiveDate,
        cause: Option<&'a str>,
    },
    /// п.27: delayed; expected on this day. `cause` tells apart delays meant to be separate
    /// messages.
    DeliveryLate { new_date: NaiveDate, cause: &'a str },
    /// п.25: cancelled after a loss; a free duplicate at the branch.
    CancelledAfterLoss { lost: LostWhere },
    /// п.34: back at the State Corporation; collect it at the branch; why it came back.
    ReturnedToStateCorporation { why: ReturnedWhy },
    /// A day before storage ends (п.29): collect by this day. `cause` as for the placement.
    StorageReminder {
        collect_by: NaiveDate,
        cause: Option<&'a str>,
    },
    /// Issue 23, п.4: it now goes to this postamat (`cause`: its Kaspi id, so that each change
    /// is told).
    PostamatChanged {
        postamat: &'a Bilingual,
        cause: &'a str,
    },
    /// Issue 23, п.14: it will be issued at the branch instead; `pilot_ended`: because the
    /// pilot ended (issue 25).
    ReroutedToCon { pilot_ended: bool },
}

/// Writes `notice` for the citizen of `application` about `shipment`; returns how many messages
/// were new (a cause already told is not told again).
pub fn notify_citizen(
    conn: &mut DbConnection,
    application: &ApplicationRow,
    shipment: ShipmentId,
    notice: Notice<'_>,
    now: DateTime<Utc>,
) -> WorkflowResult<usize> {
    let language = application.language;
    let application_number = application.number.as_str();
    let branch_address = match notice {
        Notice::CancelledAfterLoss { .. }
        | Notice::ReturnedToStateCorporation { .. }
        | Notice::ReroutedToCon { .. } => Some(branch::get(conn, application.branch_id)?.address()),
        _ => None,
    };
    let branch_address = branch_address.as_ref().map_or("", |a| a.get(language));
    let (facts, cause) = match notice {
        Notice::PlacedInCell {
            postamat,
            collect_by,
            cause,
        } => (
            Facts::PlacedInCell {
                application_number,
                postamat_address: postamat.get(language),
                collect_by,
            },
            cause,
        ),
        Notice::DeliveryLate { new_date, cause } => (
            Facts::DeliveryLate {
                application_number,
                new_date,
            },
            Some(cause),
        ),
        Notice::CancelledAfterLoss { lost } => (
            Facts::CancelledAfterLoss {
                application_number,
                branch_address,
                lost,
            },
            None,
        ),
        Notice::ReturnedToStateCorporation { why } => (
            Facts::ReturnedToStateCorporation {
                application_number,
                branch_address,
                why,
            },
            None,
        ),
        Notice::StorageReminder { collect_by, cause } => (
            Facts::StorageReminder {
                application_number,
                collect_by,
            },
            cause,
        ),
        Notice::PostamatChanged { postamat, cause } => (
            Facts::PostamatChanged {
                application_number,
                postamat_address: postamat.get(language),
            },
            Some(cause),
        ),
        Notice::ReroutedToCon { pilot_ended } => (
            Facts::ReroutedToCon {
                application_number,
                branch_address,
                pilot_ended,
            },
            None,
        ),
    };
    let kind = facts.kind();
    let body = notification::render(&facts, language);
    let mut written = 0;
    for &channel in kind.channels() {
        let key = dedup_key(shipment, kind, cause, channel);
        let new = outbox::insert_notification(
            conn,
            NewNotification {
                application_id: application.id,
                shipment_id: Some(shipment),
                kind,
                channel,
                recipient: application.phone.as_str(),
                language,
                body: &body,
                dedup_key: &key,
            },
            now,
        )?;
        written += usize::from(new);
    }
    Ok(written)
}

/// The delays Kaspi reported for a shipment (п.27): when each happened and the date it gave,
/// newest first. Applied reports keep the event in their details; reports recorded out of
/// order keep it under `reported`.
pub fn kaspi_delays(
    conn: &mut DbConnection,
    shipment: ShipmentId,
) -> WorkflowResult<Vec<(DateTime<Utc>, NaiveDate)>> {
    let mut delays: Vec<(DateTime<Utc>, NaiveDate)> =
        history::kaspi_reports(conn, shipment, "delayed")?
            .into_iter()
            .filter_map(|(occurred_at, details)| {
                let details: serde_json::Value = serde_json::from_str(details.as_deref()?).ok()?;
                let reported = details.get("reported").unwrap_or(&details);
                let date = reported.get("new_expected_date")?.as_str()?.parse().ok()?;
                Some((occurred_at, date))
            })
            .collect();
    delays.sort_by_key(|d| std::cmp::Reverse(d.0));
    Ok(delays)
}
