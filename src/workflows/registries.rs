//! Registries (п.13, 16–18, 32–33): a draft is edited; sealing gives it the next gapless number
//! of its branch and year and freezes it; the State courier's signature moves every envelope on
//! it.

use super::kaspi_events::replay_waiting;
use super::notify::{Notice, notify_citizen};
use super::shipment::apply;
use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::branch::BranchScope;
use crate::db::models::kaspi_event;
use crate::db::models::numbering::{Series, next_number};
use crate::db::models::registry::{self, ItemRow, RegistryRow};
use crate::db::models::shipment::{self as shipments, ShipmentRow};
use crate::db::models::{application, branch, history};
use crate::db::{DbConnection, lock_key, write_transaction};
use crate::domain::identifiers::ApplicationNumber;
use crate::domain::ids::{BranchId, KeyId, RegistryId, ShipmentId};
use crate::domain::kaspi::registry_wait_key;
use crate::domain::notification::{NotificationKind, ReturnedWhy};
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::domain::shipment::{DeliveryMethod, Event, ShipmentEvent, ShipmentState};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

fn find(
    conn: &mut DbConnection,
    id: RegistryId,
    scope: &BranchScope,
) -> WorkflowResult<RegistryRow> {
    registry::find_scoped(conn, id, scope)?
        .ok_or_else(|| WorkflowError::not_found(format!("registry {id} not found")))
}

/// The document of an application in the caller's branch.
fn document_of(
    conn: &mut DbConnection,
    number: &ApplicationNumber,
    scope: &BranchScope,
) -> WorkflowResult<ShipmentRow> {
    let app = application::find_scoped(conn, number.as_str(), scope)?
        .ok_or_else(|| WorkflowError::not_found(format!("application {number} not found")))?;
    shipments::find_original(conn, app.id)?.ok_or_else(|| {
        WorkflowError::not_found(format!("application {number} has no document yet"))
    })
}

fn sealed(registry: &RegistryRow) -> WorkflowError {
    WorkflowError::rejected(
        Reason::RegistrySealed,
        format!(
            "registry {} is {}; a sealed registry never changes",
            registry.number.as_deref().unwrap_or("(unnumbered)"),
            registry.state
        ),
    )
}

/// Claims a draft for one edit (see [`registry::claim_draft`]).
fn claim_draft(conn: &mut DbConnection, registry: &RegistryRow) -> WorkflowResult<()> {
    if registry.state != RegistryState::Draft {
        return Err(sealed(registry));
    }
    if registry::claim_draft(conn, registry.id)? {
        Ok(())
    } else {
        Err(WorkflowError::rejected(
            Reason::RegistrySealed,
            "the registry was sealed meanwhile; a sealed registry never changes",
        ))
    }
}

/// Puts the document of application `number` on a draft: an envelope of the registry's branch
/// in the state its kind takes.
fn add(
    conn: &mut DbConnection,
    registry: &RegistryRow,
    number: &ApplicationNumber,
    added_by: KeyId,
    scope: &BranchScope,
    ctx: &EventContext<'_>,
) -> WorkflowResult<()> {
    let shipment = document_of(conn, number, scope)?;
    claim_draft(conn, registry)?;
    if shipment.branch_id != registry.branch_id {
        return Err(WorkflowError::not_found(format!(
            "no shipment of application {number} in this branch"
        )));
    }
    let state = shipment.status;
    let Some(waybill) = shipment
        .waybill
        .clone()
        .filter(|_| state == registry.kind.item_state())
    else {
        return Err(WorkflowError::rejected(
            Reason::InvalidTransition,
            format!(
                "only envelopes in state '{}' go on a {} registry; application {number} is in state '{state}'",
                registry.kind.item_state(),
                registry.kind.as_str()
            ),
        ));
    };
    let inserted = registry::insert_item(
        conn,
        &ItemRow {
            registry_id: registry.id,
            shipment_id: shipment.id,
            registry_kind: registry.kind,
            application_number: number.clone(),
            waybill,
            added_by,
            added_at: ctx.recorded_at,
            withdrawn_at: None,
        },
    );
    match inserted {
        Ok(()) => Ok(()),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Err(WorkflowError::rejected(
                Reason::AlreadyInRegistry,
                format!(
                    "application {number} is already on a {} registry",
                    registry.kind.as_str()
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Drafts a registry of `kind` for the caller's branch with the envelopes of `numbers`.
pub fn draft(
    conn: &mut DbConnection,
    kind: RegistryKind,
    branch_id: BranchId,
    numbers: &[ApplicationNumber],
    ctx: &EventContext<'_>,
) -> WorkflowResult<RegistryRow> {
    let scope = &ctx.scope;
    let created_by = ctx.key()?;
    write_transaction(conn, |conn| {
        let row = RegistryRow {
            id: RegistryId::new(),
            branch_id,
            kind,
            state: RegistryState::Draft,
            number: None,
            created_by,
            created_at: ctx.recorded_at,
            sealed_by: None,
            sealed_at: None,
            handed_over_by: None,
            handed_over_at: None,
            courier_name: None,
            kaspi_registry_number: None,
            accepted_at: None,
            version: 0,
        };
        registry::insert(conn, &row)?;
        for number in numbers {
            add(conn, &row, number, created_by, scope, ctx)?;
        }
        Ok(row)
    })
}

/// Puts an envelope on a draft. Two clerks adding the same envelope to two drafts: one wins,
/// the other is refused `already_in_registry`.
pub fn add_item(
    conn: &mut DbConnection,
    id: RegistryId,
    number: &ApplicationNumber,
    ctx: &EventContext<'_>,
) -> WorkflowResult<RegistryRow> {
    let scope = &ctx.scope;
    let added_by = ctx.key()?;
    write_transaction(conn, |conn| {
        let row = find(conn, id, scope)?;
        add(conn, &row, number, added_by, scope, ctx)?;
        Ok(row)
    })
}

/// Takes an envelope off a draft.
pub fn remove_item(
    conn: &mut DbConnection,
    id: RegistryId,
    shipment_id: ShipmentId,
    ctx: &EventContext<'_>,
) -> WorkflowResult<RegistryRow> {
    write_transaction(conn, |conn| {
        let row = find(conn, id, &ctx.scope)?;
        claim_draft(conn, &row)?;
        if !registry::delete_item(conn, row.id, shipment_id)? {
            return Err(WorkflowError::not_found(format!(
                "shipment {shipment_id} is not on this registry"
            )));
        }
        Ok(row)
    })
}

/// Seals a draft: it gets its number and never changes again. Sealing a return registry puts
/// its documents on it and starts the courier's pickup deadline (п.32–33).
pub fn seal(
    conn: &mut DbConnection,
    id: RegistryId,
    ctx: &EventContext<'_>,
) -> WorkflowResult<RegistryRow> {
    let scope = &ctx.scope;
    let sealed_by = ctx.key()?;
    write_transaction(conn, |conn| {
        let row = find(conn, id, scope)?;
        if row.state != RegistryState::Draft {
            return Err(sealed(&row));
        }
        let items = registry::items(conn, row.id)?;
        if items.is_empty() {
            return Err(WorkflowError::rejected(
                Reason::ValidationFailed,
                "an empty registry cannot be sealed",
            ));
        }
        if items
            .iter()
            .any(|(_, state)| *state != row.kind.item_state())
        {
            return Err(WorkflowError::rejected(
                Reason::InvalidTransition,
                format!(
                    "every envelope on the registry must still be '{}'; remove the others first",
                    row.kind.item_state()
                ),
            ));
        }
        let branch = branch::get(conn, row.branch_id)?;
        let number = next_number(conn, &branch, Series::Registry, ctx.recorded_at)?;
        if !registry::seal(conn, row.id, &number, sealed_by, ctx.recorded_at)? {
            return Err(WorkflowError::Conflict(
                "the registry changed meanwhile; reload it".into(),
            ));
        }
        if let Some(kind) = row.kind.on_seal() {
            let details = serde_json::json!({ "registry": number });
            for (item, _) in &items {
                let shipment = shipments::find(conn, item.shipment_id)?.ok_or_else(|| {
                    WorkflowError::not_found(format!("shipment {}", item.shipment_id))
                })?;
                let event = bare(kind)?;
                apply(conn, &shipment, None, event, ctx, Some(details.clone()))?;
            }
        }
        registry::find(conn, row.id)?
            .ok_or_else(|| WorkflowError::not_found(format!("registry {id} not found")))
    })
}

fn bare(kind: ShipmentEvent) -> WorkflowResult<Event> {
    Event::bare(kind).ok_or_else(|| {
        WorkflowError::internal(
            "a registry's effect on its envelopes",
            anyhow::anyhow!("event {kind} needs data a registry does not have"),
        )
    })
}

/// The State courier signs for a sealed registry (п.17, 33): every envelope on it is handed
/// over and its deadline met (or met late). Kaspi's events that came before the handover was
/// recorded apply now: the point's acceptance of the registry, then each envelope's own.
pub fn hand_over(
    conn: &mut DbConnection,
    id: RegistryId,
    courier_name: &str,
    ctx: &EventContext<'_>,
) -> WorkflowResult<RegistryRow> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let row = find(conn, id, scope)?;
        if row.state != RegistryState::Sealed {
            return Err(WorkflowError::rejected(
                Reason::InvalidTransition,
                format!(
                    "only a sealed registry is handed over; this one is {}",
                    row.state
                ),
            ));
        }
        let event = bare(row.kind.on_handover())?;
        // A document lost after the registry was sealed (п.22–23: Kaspi's loss of a document
        // waiting for the return pickup, or ours) is not there to sign for. The sealed registry
        // stays as it was signed; the courier takes the rest, and their history names the ones
        // missing.
        // Likewise an envelope re-routed to the ЦОН after sealing (issue 23): its line is
        // marked withdrawn and it stays at the accumulation sector.
        let mut present = Vec::new();
        let mut missing = Vec::new();
        let mut withdrawn = Vec::new();
        for (item, state) in registry::items(conn, row.id)? {
            if item.withdrawn_at.is_some() {
                withdrawn.push(item.waybill);
            } else if matches!(state, ShipmentState::Lost | ShipmentState::Cancelled) {
                missing.push(item.waybill);
            } else {
                present.push(item);
            }
        }
        if present.is_empty() {
            return Err(WorkflowError::rejected(
                Reason::InvalidTransition,
                "every document on this registry was lost or withdrawn after it was sealed; there is nothing to hand over",
            ));
        }
        let mut details = serde_json::json!({ "registry": row.number, "courier": courier_name });
        if !missing.is_empty() {
            details["lost_after_sealing"] = serde_json::json!(missing);
        }
        if !withdrawn.is_empty() {
            details["withdrawn_after_sealing"] = serde_json::json!(withdrawn);
        }
        let mut handed = Vec::new();
        for item in present {
            let shipment = shipments::find(conn, item.shipment_id)?.ok_or_else(|| {
                WorkflowError::not_found(format!("shipment {}", item.shipment_id))
            })?;
            let applied = apply(
                conn,
                &shipment,
                None,
                event.clone(),
                ctx,
                Some(details.clone()),
            )?;
            if applied
                .transition
                .notifies
                .contains(&NotificationKind::ReturnedToStateCorporation)
            {
                let app = application::get(conn, shipment.application_id)?;
                // A document re-routed to the ЦОН, or one Kaspi took out of its cell early
                // (issue 23), was not left uncollected.
                let why = if shipment.delivery_method == DeliveryMethod::Con {
                    ReturnedWhy::Rerouted
                } else if history::kaspi_reports(conn, shipment.id, "removed_early")?.is_empty() {
                    ReturnedWhy::NotCollected
                } else {
                    ReturnedWhy::RemovedEarly
                };
                notify_citizen(
                    conn,
                    &app,
                    shipment.id,
                    Notice::ReturnedToStateCorporation { why },
                    ctx.recorded_at,
                )?;
            }
            handed.extend(applied.shipment.waybill);
        }
        if !registry::hand_over(
            conn,
            row.id,
            ctx.actor.key_id,
            courier_name,
            ctx.occurred_at,
        )? {
            return Err(WorkflowError::Conflict(
                "the registry changed meanwhile; reload it".into(),
            ));
        }
        if row.kind == RegistryKind::KaspiHandoff {
            let keys = row.number.iter().map(|n| registry_wait_key(n));
            for key in keys.chain(handed.into_iter().map(String::from)) {
                lock_key(conn, &key)?;
                replay_waiting(conn, &key, ctx)?;
            }
        }
        registry::find(conn, row.id)?
            .ok_or_else(|| WorkflowError::not_found(format!("registry {id} not found")))
    })
}

/// п.18: the State courier brings back an envelope the Kaspi point did not accept (or that could
/// not be delivered). It is `packed` again at the accumulation sector, ready for a new registry;
/// the registry it was on stays as signed, its line there marked withdrawn; a "not accepted"
/// discrepancy of the envelope is settled by this (and stays on record). Its deadlines run on:
/// the courier's (п.17) and Kaspi's arrival (п.10) are met only when a point accepts it.
pub fn bring_back(
    conn: &mut DbConnection,
    id: ShipmentId,
    reason: &str,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ShipmentRow> {
    let scope = &ctx.scope;
    write_transaction(conn, |conn| {
        let shipment = super::shipment::find_scoped(conn, id, scope)?;
        let at = ctx.recorded_at;
        let from = registry::withdraw_item(conn, shipment.id, RegistryKind::KaspiHandoff, at)?;
        let settled = kaspi_event::settle_not_accepted(conn, shipment.id, at)?;
        let details = serde_json::json!({
            "registry": from.and_then(|(_, number)| number),
            "reason": reason,
            "discrepancies_settled": settled,
        });
        let event = bare(ShipmentEvent::BroughtBack)?;
        Ok(apply(conn, &shipment, None, event, ctx, Some(details))?.shipment)
    })
}
