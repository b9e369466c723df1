//! Whole-history reads for the simulation's report and the CLI: every move, shipment, handover
//! and submission, paged so memory stays flat.

use crate::db::DbConnection;
use crate::db::schema::{
    applications, branches, registries, registry_items, shipments, status_events,
};
use crate::db::time::At;
use crate::domain::ids::{ApplicationId, HistoryId, RegistryId, ShipmentId};
use crate::domain::registry::RegistryKind;
use crate::domain::shipment::{DeliveryMethod, ShipmentKind, ShipmentState};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::BTreeMap;

/// The history lines of shipments with their branch and route, as [`Move`]s.
macro_rules! moves {
    () => {
        status_events::table
            .inner_join(
                shipments::table.on(status_events::shipment_id.eq(shipments::id.nullable())),
            )
            .inner_join(branches::table.on(branches::id.eq(shipments::branch_id)))
            .select((
                status_events::id,
                status_events::shipment_id,
                branches::code,
                shipments::delivery_method,
                status_events::event,
                status_events::from_status,
                status_events::to_status,
                status_events::actor_role,
                status_events::occurred_at,
            ))
    };
}

/// One line of a shipment's history that changed (or set) its state.
#[derive(Debug, Clone, Queryable)]
pub struct Move {
    pub id: HistoryId,
    pub shipment_id: Option<ShipmentId>,
    pub branch: String,
    pub delivery_method: DeliveryMethod,
    pub event: String,
    pub from: Option<String>,
    pub to: String,
    pub actor_role: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// Rows a paged pass reads at a time.
const PAGE: i64 = 20_000;

/// Each history line of a shipment that happened in `[from, to)` and changed a state, read a
/// page at a time in the order of its id: a national year of the pilot writes millions, and a
/// query per day would read them all again every day (nothing indexes a line's time). Each
/// page is a range of the primary key, so the pass reads the history once and holds one page.
pub fn for_each_move_between(
    conn: &mut DbConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut each: impl FnMut(Move),
) -> QueryResult<()> {
    by_pages(
        conn,
        PAGE,
        |conn, after: Option<HistoryId>| {
            let mut query = moves!()
                .filter(status_events::occurred_at.ge(At(from)))
                .filter(status_events::occurred_at.lt(At(to)))
                .order(status_events::id)
                .limit(PAGE)
                .into_boxed();
            if let Some(last) = after {
                query = query.filter(status_events::id.gt(last));
            }
            query.load(conn)
        },
        |m: &Move| m.id,
        |_, page| {
            for m in page {
                if m.from.as_deref() != Some(m.to.as_str()) {
                    each(m);
                }
            }
            Ok(())
        },
    )
}

/// A paged pass in the order of a key: `load` reads the page of `size` rows after the key it is
/// given (none: the first page), `each` takes each page in turn; it ends at a page not full.
fn by_pages<K, R>(
    conn: &mut DbConnection,
    size: i64,
    mut load: impl FnMut(&mut DbConnection, Option<K>) -> QueryResult<Vec<R>>,
    key: impl Fn(&R) -> K,
    mut each: impl FnMut(&mut DbConnection, Vec<R>) -> QueryResult<()>,
) -> QueryResult<()> {
    let mut after = None;
    loop {
        let page = load(conn, after)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(key(last));
        let full = page.len() as i64 == size;
        each(conn, page)?;
        if !full {
            return Ok(());
        }
    }
}

/// The state-changing history of these shipments, each in the order it happened.
pub fn moves_of(conn: &mut DbConnection, ids: &[ShipmentId]) -> QueryResult<Vec<Move>> {
    let ids: Vec<Option<ShipmentId>> = ids.iter().copied().map(Some).collect();
    let rows: Vec<Move> = moves!()
        .filter(status_events::shipment_id.eq_any(ids))
        // The id (time-ordered) settles lines of one instant — a step and those it implied, or
        // an intake and the label that followed in the same second — in the order written.
        .order((
            status_events::shipment_id,
            status_events::occurred_at,
            status_events::recorded_at,
            status_events::id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|m| m.from.as_deref() != Some(m.to.as_str()))
        .collect())
}

/// A history event counted by branch: (branch code, event, the state it left).
pub type BranchEvent = (String, String, Option<String>);

/// How many history lines of each of `events` there are, by branch and the state they left:
/// the paths off the usual one (a postamat changed, a document re-routed or brought back).
pub fn events_by_branch(
    conn: &mut DbConnection,
    events: &[&str],
) -> QueryResult<BTreeMap<BranchEvent, u64>> {
    let rows: Vec<BranchEvent> = status_events::table
        .inner_join(applications::table.on(applications::id.eq(status_events::application_id)))
        .inner_join(branches::table.on(branches::id.eq(applications::branch_id)))
        .filter(status_events::event.eq_any(events))
        .select((
            branches::code,
            status_events::event,
            status_events::from_status,
        ))
        .load(conn)?;
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row).or_default() += 1;
    }
    Ok(counts)
}

/// A shipment as it is now, with its branch.
#[derive(Debug, Clone, Queryable)]
pub struct ShipmentNow {
    pub id: ShipmentId,
    pub branch: String,
    pub kind: ShipmentKind,
    pub delivery_method: DeliveryMethod,
    pub state: ShipmentState,
}

/// Every shipment: its id, branch, kind, route and state now.
pub fn shipments_now(conn: &mut DbConnection) -> QueryResult<Vec<ShipmentNow>> {
    let mut all = Vec::new();
    for_each_shipments_page(conn, PAGE, |_, page| {
        all.extend(page);
        Ok(())
    })?;
    Ok(all)
}

/// Every shipment as [`shipments_now`] reads it, handed to `each` a page of `size` at a time in
/// the order of their ids, so a national year's ~400,000 are never held at once.
pub fn for_each_shipments_page(
    conn: &mut DbConnection,
    size: i64,
    each: impl FnMut(&mut DbConnection, Vec<ShipmentNow>) -> QueryResult<()>,
) -> QueryResult<()> {
    by_pages(
        conn,
        size,
        |conn, after: Option<ShipmentId>| {
            let mut query = shipments::table
                .inner_join(branches::table)
                .select((
                    shipments::id,
                    branches::code,
                    shipments::kind,
                    shipments::delivery_method,
                    shipments::status,
                ))
                .order(shipments::id)
                .limit(size)
                .into_boxed();
            if let Some(last) = after {
                query = query.filter(shipments::id.gt(last));
            }
            query.load(conn)
        },
        |s: &ShipmentNow| s.id,
        each,
    )
}

/// A registry handed to a State courier.
#[derive(Debug, Clone)]
pub struct Handover {
    pub branch: String,
    pub kind: RegistryKind,
    pub number: String,
    pub at: DateTime<Utc>,
    pub envelopes: i64,
}

/// A registry as [`handovers`] reads it.
type RegistryLine = (
    RegistryId,
    String,
    RegistryKind,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// Registries handed to a State courier: branch, kind, number, when, and how many envelopes.
pub fn handovers(conn: &mut DbConnection) -> QueryResult<Vec<Handover>> {
    let rows: Vec<RegistryLine> = registries::table
        .inner_join(branches::table.on(branches::id.eq(registries::branch_id)))
        .filter(registries::handed_over_at.is_not_null())
        .select((
            registries::id,
            branches::code,
            registries::kind,
            registries::number,
            registries::handed_over_at,
        ))
        .load(conn)?;
    let mut counts: BTreeMap<RegistryId, i64> = BTreeMap::new();
    for id in registry_items::table
        .select(registry_items::registry_id)
        .load::<RegistryId>(conn)?
    {
        *counts.entry(id).or_default() += 1;
    }
    let mut out: Vec<Handover> = rows
        .into_iter()
        .filter_map(|(id, branch, kind, number, at)| {
            Some(Handover {
                branch,
                kind,
                number: number?,
                at: at?,
                envelopes: counts.get(&id).copied().unwrap_or(0),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.at, &a.branch, &a.number).cmp(&(b.at, &b.branch, &b.number)));
    Ok(out)
}

/// The branch and the time of each application submitted in `[from, to)`, read a page at a time
/// in the order of its id (as [`for_each_move_between`]).
pub fn for_each_submission_between(
    conn: &mut DbConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut each: impl FnMut(String, DateTime<Utc>),
) -> QueryResult<()> {
    let mut after: Option<ApplicationId> = None;
    loop {
        let mut query = applications::table
            .inner_join(branches::table)
            .filter(applications::submitted_at.ge(At(from)))
            .filter(applications::submitted_at.lt(At(to)))
            .select((applications::id, branches::code, applications::submitted_at))
            .order(applications::id)
            .limit(PAGE)
            .into_boxed();
        if let Some(last) = after {
            query = query.filter(applications::id.gt(last));
        }
        let page: Vec<(ApplicationId, String, DateTime<Utc>)> = query.load(conn)?;
        let Some((last, _, _)) = page.last() else {
            return Ok(());
        };
        after = Some(*last);
        let full = page.len() as i64 == PAGE;
        for (_, branch, at) in page {
            each(branch, at);
        }
        if !full {
            return Ok(());
        }
    }
}
