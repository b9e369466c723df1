//! Kaspi's status events against the table: how one fits a shipment (apply with the steps it
//! implies, stale, wait for the handover, refuse), early removals (п.29) and repeated reports.

use super::*;

/// How a Kaspi status event fits the shipment: Kaspi's events can arrive late, twice
/// or out of order, and none of that may move a shipment backwards or lose the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KaspiPlan {
    /// Apply these transitions in order. All but the last are steps Kaspi has not reported yet
    /// but that the event implies (placed in a cell implies accepted at the point).
    Apply(Vec<Transition>),
    /// The shipment is already past where this event would put it: record it in history with
    /// its true time, change nothing.
    Stale,
    /// Kaspi is ahead of our records: the envelope's handover to the State courier (п.17) is not
    /// recorded yet. Keep the event until it is, rather than refuse it.
    Wait,
    /// It does not fit at all.
    Refused(Refusal),
}

/// Kaspi's steps that move a document forward, in the order they happen.
const KASPI_FORWARD: [ShipmentEvent; 5] = [
    ShipmentEvent::AcceptedAtKaspiPoint,
    ShipmentEvent::OutForDelivery,
    ShipmentEvent::PlacedInCell,
    ShipmentEvent::RemovedFromCell,
    ShipmentEvent::ReturnedToKaspiPoint,
];

/// The states reachable from `from` by Kaspi's forward steps, each with the steps taken.
fn kaspi_reachable(
    from: ShipmentState,
    method: DeliveryMethod,
) -> Vec<(ShipmentState, Vec<Transition>)> {
    let kaspi = Actor::Role(Role::Kaspi);
    let mut found: Vec<(ShipmentState, Vec<Transition>)> = vec![(from, Vec::new())];
    let mut i = 0;
    while i < found.len() {
        let (state, path) = found[i].clone();
        for event in KASPI_FORWARD {
            if let Ok(t) = transition(state, event, method, kaspi)
                && t.to != state
                && !found.iter().any(|(s, _)| *s == t.to)
            {
                let mut next = path.clone();
                next.push(t);
                found.push((t.to, next));
            }
        }
        i += 1;
    }
    found
}

/// Plans a Kaspi event for a shipment in `current`.
pub fn kaspi_plan(
    current: ShipmentState,
    event: ShipmentEvent,
    method: DeliveryMethod,
) -> KaspiPlan {
    let kaspi = Actor::Role(Role::Kaspi);
    let refusal = match transition(current, event, method, kaspi) {
        Ok(t) => return KaspiPlan::Apply(vec![t]),
        Err(refusal) => refusal,
    };
    // Stale: the shipment is already past some state where the event applies (further along
    // Kaspi's path, back at the State Corporation, lost or done).
    let applies_in: Vec<ShipmentState> = ShipmentState::ALL
        .into_iter()
        .filter(|s| transition(*s, event, method, kaspi).is_ok())
        .collect();
    let stale = applies_in.iter().any(|s| s.rank() < current.rank());
    if stale {
        return KaspiPlan::Stale;
    }
    // Ahead: Kaspi's earlier steps have not arrived yet; the event implies them.
    let ahead = kaspi_reachable(current, method)
        .into_iter()
        .filter(|(state, _)| applies_in.contains(state))
        .min_by_key(|(_, path)| path.len());
    match ahead {
        Some((state, mut path)) => {
            let last = transition(state, event, method, kaspi).expect("applies in this state");
            path.push(last);
            KaspiPlan::Apply(path)
        }
        None if kaspi_may_be_ahead(current) => KaspiPlan::Wait,
        None => KaspiPlan::Refused(refusal),
    }
}

/// A collection reported while the document is `storage_expired` supersedes the expiry (п.29)
/// unless Kaspi itself reported removing the document from its cell (п.30) at or before the
/// collection: then the report contradicts Kaspi's own and is history only.
pub fn collection_supersedes_expiry(
    removed_at: &[chrono::DateTime<chrono::Utc>],
    collected_at: chrono::DateTime<chrono::Utc>,
) -> bool {
    !removed_at.iter().any(|removed| *removed <= collected_at)
}

/// Issue 23, п.29: Kaspi's steps with a removal from the cell before the storage the citizen
/// was told of ended (`storage_ends`, its due instant) take the early removal instead, and the
/// steps after it follow from there. Without a known end (a placement only implied by the
/// removal) nothing is judged early. Other plans are returned as they are.
pub fn judge_removal(
    steps: Vec<Transition>,
    method: DeliveryMethod,
    removed_at: chrono::DateTime<chrono::Utc>,
    storage_ends: Option<chrono::DateTime<chrono::Utc>>,
) -> Vec<Transition> {
    let kaspi = Actor::Role(Role::Kaspi);
    let Some(i) = steps
        .iter()
        .position(|t| t.event == ShipmentEvent::RemovedFromCell && t.from == S::PlacedInCell)
    else {
        return steps;
    };
    if storage_ends.is_none_or(|ends| removed_at >= ends) {
        return steps;
    }
    let mut judged = steps[..i].to_vec();
    let mut state = S::PlacedInCell;
    for event in
        std::iter::once(ShipmentEvent::RemovedEarly).chain(steps[i + 1..].iter().map(|t| t.event))
    {
        let t = transition(state, event, method, kaspi)
            .expect("every step after an early removal applies from where it leaves the document");
        state = t.to;
        judged.push(t);
    }
    judged
}

/// What Kaspi reported of a step, for [`kaspi_report_is_new`].
#[derive(Debug, Clone, Copy)]
pub struct Reported<'a> {
    pub event: ShipmentEvent,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The cell, for a placement.
    pub cell: Option<&'a str>,
}

/// Issue 23, п.19, 29: in a cell, or on its way back after an early removal, a Kaspi report is
/// of a new step only if it happened after the document got where it is (`since`): a placement
/// (in a cell still, in another cell — the first would not open), or a collection or removal
/// after a placement again whose report is late. Anything else is an older or repeated report
/// of a step we have: history only.
pub fn kaspi_report_is_new(
    current: ShipmentState,
    since: Option<chrono::DateTime<chrono::Utc>>,
    current_cell: Option<&str>,
    reported: Reported<'_>,
) -> bool {
    let later = since.is_none_or(|since| reported.at > since);
    match (current, reported.event) {
        (S::PlacedInCell, ShipmentEvent::PlacedInCell) => later && current_cell != reported.cell,
        _ if kaspi_report_may_be_old(current, reported.event) => later,
        _ => true,
    }
}

/// Whether [`kaspi_report_is_new`] needs to know when the document got where it is.
pub fn kaspi_report_may_be_old(current: ShipmentState, event: ShipmentEvent) -> bool {
    matches!(
        (current, event),
        (S::PlacedInCell, ShipmentEvent::PlacedInCell)
            | (
                S::ReturningToKaspiPoint,
                ShipmentEvent::PlacedInCell
                    | ShipmentEvent::Collected
                    | ShipmentEvent::RemovedFromCell
            )
    )
}

/// Kaspi can be ahead of our records: it reports on an envelope whose handover to the State
/// courier (п.17) is not recorded yet. Such an event waits for the handover rather than being
/// refused.
fn kaspi_may_be_ahead(current: ShipmentState) -> bool {
    matches!(
        current,
        ShipmentState::ReadyAtRegistryOffice
            | ShipmentState::AtAccumulationSector
            | ShipmentState::Packed
    )
}

impl ShipmentState {
    /// How far along the document is, for telling an old event from a new one.
    fn rank(self) -> u8 {
        match self {
            ShipmentState::ReadyAtRegistryOffice => 0,
            ShipmentState::AtAccumulationSector => 1,
            ShipmentState::Packed => 2,
            ShipmentState::HandedToCourier => 3,
            ShipmentState::AcceptedAtKaspiPoint => 4,
            ShipmentState::OutForDelivery => 5,
            // Taken out of its cell early, a document may be placed (and collected, or removed)
            // again: Kaspi's reports of those steps are not behind it.
            ShipmentState::PlacedInCell | ShipmentState::ReturningToKaspiPoint => 6,
            ShipmentState::Collected | ShipmentState::StorageExpired => 7,
            ShipmentState::ReturnedToKaspiPoint => 8,
            ShipmentState::InReturnRegistry => 9,
            ShipmentState::AtIssuanceSector => 10,
            ShipmentState::IssuedAtCon | ShipmentState::TransferredAfterStorage => 11,
            ShipmentState::Lost => 12,
            ShipmentState::Cancelled => 13,
        }
    }
}
