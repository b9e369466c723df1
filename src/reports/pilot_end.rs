//! The outlook ahead of the pilot's end (issue 25, order п.6): how many documents are at each
//! step now, and which would still be on their way at the end if nothing changed — were they
//! still where they are: those the end re-routes to the ЦОН (`workflows::pilot_end`), and
//! those that complete with Kaspi after it.

use crate::db::DbConnection;
use crate::db::models::pilot::{self as stored};
use crate::domain::application::PilotWindow;
use crate::domain::ids::BranchId;
use crate::domain::reference::BranchTimeZone;
use crate::domain::shipment::{AtPilotEnd, DeliveryMethod, ShipmentState, at_pilot_end};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The documents listed at most; the counts cover them all.
pub const LISTED: usize = 1000;

/// How many documents are at one step now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Step {
    pub branch: String,
    pub state: ShipmentState,
    pub postamat: i64,
    pub con: i64,
}

/// Applications not executed yet.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Awaiting {
    pub branch: String,
    pub postamat: i64,
    pub con: i64,
}

/// A document that would still be on its way at the end.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InFlight {
    pub application_number: String,
    pub branch: String,
    pub state: ShipmentState,
    pub delivery_method: DeliveryMethod,
    /// `to_the_con` or `completes_with_kaspi`.
    pub at_the_end: AtPilotEnd,
    /// Its latest pending deadline; `null` when nothing is due of it (it waits for a person).
    pub last_due: Option<DateTime<Utc>>,
}

/// The outlook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PilotEndOutlook {
    /// The pilot's last day (order п.6, `POSTAMAT_PILOT_ENDS_ON`).
    pub last_day: NaiveDate,
    /// Its end in Almaty's zone: 00:00 of the next day.
    pub ends_at: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    /// Documents on their way now, by branch and step.
    pub steps: Vec<Step>,
    pub awaiting_execution: Vec<Awaiting>,
    /// Postamat documents the end would re-route to the ЦОН if they were still where they are.
    pub to_the_con: i64,
    /// Postamat documents the State courier has taken or Kaspi holds: they would complete with
    /// Kaspi after the end, as in the pilot.
    pub completes_with_kaspi: i64,
    /// Documents on the ЦОН's side, which the end does not change.
    pub unaffected: i64,
    /// The documents of the first two, oldest application first (at most [`LISTED`]), with
    /// their latest pending deadline.
    pub documents: Vec<InFlight>,
}

/// The outlook at `as_of` for `branch` (or every branch).
pub fn outlook(
    conn: &mut DbConnection,
    pilot: PilotWindow,
    branch: Option<BranchId>,
    as_of: DateTime<Utc>,
) -> diesel::QueryResult<PilotEndOutlook> {
    let ends_at = pilot.ends_at(BranchTimeZone::default().tz());
    let mut steps: BTreeMap<(String, ShipmentState), Step> = BTreeMap::new();
    let (mut to_the_con, mut with_kaspi, mut unaffected) = (0, 0, 0);
    let mut documents = Vec::new();
    for doc in stored::on_its_way(conn, branch)? {
        let (Some(state), Some(method)) = (
            ShipmentState::parse(&doc.state),
            DeliveryMethod::parse(&doc.delivery_method),
        ) else {
            continue;
        };
        let step = steps
            .entry((doc.branch.clone(), state))
            .or_insert_with(|| Step {
                branch: doc.branch.clone(),
                state,
                postamat: 0,
                con: 0,
            });
        match method {
            DeliveryMethod::Postamat => step.postamat += 1,
            DeliveryMethod::Con => step.con += 1,
        }
        let last_due = doc.last_due;
        let judged = at_pilot_end(state, method);
        match judged {
            AtPilotEnd::ToTheCon => to_the_con += 1,
            AtPilotEnd::CompletesWithKaspi => with_kaspi += 1,
            AtPilotEnd::Unaffected => {
                unaffected += 1;
                continue;
            }
        }
        if documents.len() < LISTED {
            documents.push(InFlight {
                application_number: doc.application_number.into(),
                branch: doc.branch,
                state,
                delivery_method: method,
                at_the_end: judged,
                last_due,
            });
        }
    }
    let mut awaiting: BTreeMap<String, Awaiting> = BTreeMap::new();
    for c in stored::awaiting_execution(conn, branch)? {
        let row = awaiting
            .entry(c.branch.clone())
            .or_insert_with(|| Awaiting {
                branch: c.branch.clone(),
                ..Awaiting::default()
            });
        match c.a.as_str() {
            "postamat" => row.postamat += c.n,
            _ => row.con += c.n,
        }
    }
    Ok(PilotEndOutlook {
        last_day: pilot.ends_on,
        ends_at,
        as_of,
        steps: steps.into_values().collect(),
        awaiting_execution: awaiting.into_values().collect(),
        to_the_con,
        completes_with_kaspi: with_kaspi,
        unaffected,
        documents,
    })
}
