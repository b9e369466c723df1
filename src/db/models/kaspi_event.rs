//! Kaspi's delivery-status events (п.9, 18–20, 27–31). Every event with an id is kept with its
//! outcome — applied, out of order, rejected, or unmatched until its waybill is known — so a
//! repeat gets the first outcome and nothing Kaspi was told we received is ever lost.

use super::{from_db_time, to_db_time};
use crate::db::models::application;
use crate::db::models::branch::BranchScope;
use crate::db::models::integration_event::fingerprint;
use crate::db::models::outbox::{self, NewNotification};
use crate::db::models::registry::{RegistryRow, RegistryState};
use crate::db::models::shipment::{self, ActorRef, Change, EventContext, ShipmentRow};
use crate::db::schema::{
    discrepancies, kaspi_events, postamats, registries, registry_items, shipments,
};
use crate::db::{DbConnection, Id};
use crate::domain::deadline::{self, DeadlineKind};
use crate::domain::identifiers::{ExternalId, Waybill};
use crate::domain::notification::{self, Facts, Language};
use crate::domain::reference::{BranchTimeZone, KaspiPostamatId, Text};
use crate::domain::role::Role;
use crate::domain::shipment::Actor;
use crate::domain::shipment::{
    KaspiPlan, NotificationKind, ShipmentEvent, ShipmentState, kaspi_plan,
};
use crate::error::{ApiError, ErrorCode};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The wait key of an acceptance event naming a handoff registry.
pub fn registry_key(number: &str) -> String {
    format!("registry:{number}")
}

/// Kaspi's loss act (п.22).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KaspiLossAct {
    #[schema(value_type = String, example = "KSP-LA-2026-0042")]
    pub number: ExternalId,
    pub cause: Text,
    pub circumstances: Text,
    /// The employee bearing material responsibility.
    pub responsible_employee: Text,
}

/// What happened, by event type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KaspiEventBody {
    /// The point accepted envelopes against our handoff registry and made its own (п.18).
    AcceptedAtPoint {
        /// Our handoff registry number, e.g. `ALM01-2026-000001`.
        #[schema(value_type = String)]
        handoff_registry: ExternalId,
        /// Kaspi's registry of accepted documents.
        #[schema(value_type = String)]
        kaspi_registry_number: ExternalId,
        #[schema(value_type = Vec<String>)]
        accepted_waybills: Vec<Waybill>,
    },
    /// A Kaspi courier took it to the postamat (п.19).
    OutForDelivery {
        #[schema(value_type = String)]
        waybill: Waybill,
    },
    /// Placed in a cell (п.19, 21).
    PlacedInCell {
        #[schema(value_type = String)]
        waybill: Waybill,
        #[schema(value_type = String)]
        postamat_id: KaspiPostamatId,
        #[schema(value_type = String)]
        cell: ExternalId,
    },
    /// The citizen collected it (п.29).
    Collected {
        #[schema(value_type = String)]
        waybill: Waybill,
    },
    /// Removed from the cell after storage expired (п.30).
    RemovedFromCell {
        #[schema(value_type = String)]
        waybill: Waybill,
    },
    /// Back at the Kaspi point (п.31).
    ReturnedToPoint {
        #[schema(value_type = String)]
        waybill: Waybill,
    },
    /// Lost on Kaspi's side, with its loss act (п.22).
    Lost {
        #[schema(value_type = String)]
        waybill: Waybill,
        loss_act: KaspiLossAct,
    },
    /// Late, with a new expected delivery date (п.27).
    Delayed {
        #[schema(value_type = String)]
        waybill: Waybill,
        new_expected_date: NaiveDate,
    },
}

/// One event from Kaspi.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KaspiEvent {
    /// Kaspi's id of the event: unique; a repeat changes nothing.
    #[schema(value_type = String, example = "kaspi-evt-000123")]
    pub event_id: ExternalId,
    /// When it happened (not when it was sent).
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: KaspiEventBody,
}

impl KaspiEventBody {
    fn type_name(&self) -> &'static str {
        match self {
            KaspiEventBody::AcceptedAtPoint { .. } => "accepted_at_point",
            KaspiEventBody::OutForDelivery { .. } => "out_for_delivery",
            KaspiEventBody::PlacedInCell { .. } => "placed_in_cell",
            KaspiEventBody::Collected { .. } => "collected",
            KaspiEventBody::RemovedFromCell { .. } => "removed_from_cell",
            KaspiEventBody::ReturnedToPoint { .. } => "returned_to_point",
            KaspiEventBody::Lost { .. } => "lost",
            KaspiEventBody::Delayed { .. } => "delayed",
        }
    }

    fn waybill(&self) -> Option<&Waybill> {
        match self {
            KaspiEventBody::AcceptedAtPoint { .. } => None,
            KaspiEventBody::OutForDelivery { waybill }
            | KaspiEventBody::PlacedInCell { waybill, .. }
            | KaspiEventBody::Collected { waybill }
            | KaspiEventBody::RemovedFromCell { waybill }
            | KaspiEventBody::ReturnedToPoint { waybill }
            | KaspiEventBody::Lost { waybill, .. }
            | KaspiEventBody::Delayed { waybill, .. } => Some(waybill),
        }
    }

    /// What the event waits on while it cannot apply: its waybill, or for an acceptance the
    /// handoff registry it names.
    fn wait_key(&self) -> String {
        match self {
            KaspiEventBody::AcceptedAtPoint {
                handoff_registry, ..
            } => registry_key(handoff_registry.as_str()),
            _ => self.waybill().map(|w| w.to_string()).unwrap_or_default(),
        }
    }

    fn shipment_event(&self) -> ShipmentEvent {
        match self {
            KaspiEventBody::AcceptedAtPoint { .. } => ShipmentEvent::AcceptedAtKaspiPoint,
            KaspiEventBody::OutForDelivery { .. } => ShipmentEvent::OutForDelivery,
            KaspiEventBody::PlacedInCell { .. } => ShipmentEvent::PlacedInCell,
            KaspiEventBody::Collected { .. } => ShipmentEvent::Collected,
            KaspiEventBody::RemovedFromCell { .. } => ShipmentEvent::RemovedFromCell,
            KaspiEventBody::ReturnedToPoint { .. } => ShipmentEvent::ReturnedToKaspiPoint,
            KaspiEventBody::Lost { .. } => ShipmentEvent::Lost,
            KaspiEventBody::Delayed { .. } => ShipmentEvent::Delayed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The shipment moved (or the event was recorded where it applies).
    Applied,
    /// Seen before: the first outcome is in `first_outcome`; nothing changed.
    Duplicate,
    /// Older than the shipment's position: recorded in its history with its true time.
    OutOfOrderRecorded,
    /// It does not fit; `reason` says why. Kept, and a repeat gets the same answer.
    Rejected,
    /// Its waybill is not known yet: kept and applied when it becomes known.
    Unmatched,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::OutOfOrderRecorded => "out_of_order_recorded",
            Outcome::Rejected => "rejected",
            Outcome::Unmatched => "unmatched",
        }
    }

    fn parse(s: &str) -> Outcome {
        [
            Outcome::Applied,
            Outcome::OutOfOrderRecorded,
            Outcome::Rejected,
            Outcome::Unmatched,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .unwrap_or(Outcome::Rejected)
    }
}

/// The answer for one event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventResult {
    pub event_id: Option<String>,
    pub outcome: Outcome,
    /// For a duplicate: what the event got the first time.
    pub first_outcome: Option<Outcome>,
    /// A problem code, for rejected events.
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub shipment_id: Option<Id>,
    /// Where the shipment is now.
    pub state: Option<ShipmentState>,
}

struct Processed {
    outcome: Outcome,
    shipment_id: Option<Id>,
    detail: Option<String>,
}

fn waiting(detail: String) -> Processed {
    Processed {
        outcome: Outcome::Unmatched,
        shipment_id: None,
        detail: Some(detail),
    }
}

fn applied(shipment_id: Option<Id>) -> Processed {
    Processed {
        outcome: Outcome::Applied,
        shipment_id,
        detail: None,
    }
}

/// Errors that are ours (the database), not the event's: the event is not acknowledged and
/// Kaspi sends it again.
fn is_ours(e: &ApiError) -> bool {
    matches!(
        e.code(),
        ErrorCode::Internal
            | ErrorCode::DatabaseUnavailable
            | ErrorCode::ConcurrentUpdate
            | ErrorCode::AlreadyExists
            // A calendar year a supervisor has not added yet: the event is fine, we are not.
            | ErrorCode::CalendarYearMissing
    )
}

/// A difference found while applying an event.
struct Found<'a> {
    branch_id: Option<Id>,
    registry_id: Option<Id>,
    shipment_id: Option<Id>,
    /// `not_accepted`, `unexpected_envelope` or `wrong_postamat`.
    kind: &'a str,
    waybill: Option<&'a str>,
    detail: String,
}

fn record_discrepancy(
    conn: &mut DbConnection,
    found: Found<'_>,
    ctx: &EventContext<'_>,
) -> QueryResult<()> {
    diesel::insert_into(discrepancies::table)
        .values((
            discrepancies::id.eq(Id::new()),
            discrepancies::branch_id.eq(found.branch_id),
            discrepancies::registry_id.eq(found.registry_id),
            discrepancies::shipment_id.eq(found.shipment_id),
            discrepancies::kind.eq(found.kind),
            discrepancies::waybill.eq(found.waybill),
            discrepancies::detail.eq(found.detail),
            discrepancies::kaspi_event_id.eq(ctx.external_event_id.clone()),
            discrepancies::detected_at.eq(to_db_time(ctx.recorded_at)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Applies an event to one shipment along Kaspi's plan, with the event's own effects.
fn apply_to_shipment(
    conn: &mut DbConnection,
    row: &ShipmentRow,
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> Result<Processed, ApiError> {
    let event = body.shipment_event();
    let current = row.state()?;
    let steps = match kaspi_plan(current, event, row.method()?) {
        KaspiPlan::Apply(steps) => steps,
        KaspiPlan::Stale => {
            let change = Change {
                application_id: row.application_id,
                shipment_id: Some(row.id),
                event: event.as_str(),
                from: Some(current.as_str()),
                to: current.as_str(),
                details: Some(serde_json::json!({ "out_of_order": true, "reported": body })),
            };
            shipment::record_history(conn, change, ctx)?;
            return Ok(Processed {
                outcome: Outcome::OutOfOrderRecorded,
                shipment_id: Some(row.id),
                detail: Some(format!("the shipment is already '{current}'")),
            });
        }
        // Kaspi can be ahead of our records (the courier's handover not recorded yet): the event
        // waits for the shipment to reach Kaspi, like one whose waybill is unknown.
        KaspiPlan::Refused(_)
            if matches!(
                current,
                ShipmentState::ReadyAtRegistryOffice
                    | ShipmentState::AtAccumulationSector
                    | ShipmentState::Packed
            ) =>
        {
            return Ok(Processed {
                outcome: Outcome::Unmatched,
                shipment_id: Some(row.id),
                detail: Some(format!(
                    "waiting: the shipment is still '{current}' in our records"
                )),
            });
        }
        KaspiPlan::Refused(refusal) => {
            return Err(ApiError::new(
                ErrorCode::InvalidTransition,
                refusal.to_string(),
            ));
        }
    };
    let mut current_row = row.clone();
    let last = steps.len() - 1;
    for (i, step) in steps.iter().enumerate() {
        let details = if i == last {
            serde_json::to_value(body).ok()
        } else {
            Some(serde_json::json!({ "implied_by": ctx.external_event_id }))
        };
        let (next, transition) =
            shipment::apply_event(conn, &current_row, step.event, ctx, details)?;
        current_row = next;
        if i == last {
            effects(conn, &current_row, body, transition.notifies, ctx)?;
        }
    }
    Ok(applied(Some(row.id)))
}

/// What an event does beyond the state: the cell, the loss act, discrepancies and the
/// citizen's messages (written here, sent by the dispatcher).
fn effects(
    conn: &mut DbConnection,
    row: &ShipmentRow,
    body: &KaspiEventBody,
    notifies: &[NotificationKind],
    ctx: &EventContext<'_>,
) -> Result<(), ApiError> {
    let app = application::find(conn, row.application_id)?;
    match body {
        KaspiEventBody::PlacedInCell {
            postamat_id, cell, ..
        } => {
            diesel::update(shipments::table.find(row.id))
                .set(shipments::postamat_cell.eq(Some(cell.as_str())))
                .execute(conn)?;
            let chosen = application::chosen_postamat(conn, app.postamat_id)?;
            if chosen
                .as_ref()
                .is_none_or(|p| p.kaspi_id != postamat_id.as_str())
            {
                let detail = format!(
                    "placed in postamat {postamat_id}, but the citizen chose {}",
                    chosen.as_ref().map_or("none", |p| p.kaspi_id.as_str())
                );
                record_discrepancy(
                    conn,
                    Found {
                        branch_id: Some(row.branch_id),
                        registry_id: None,
                        shipment_id: Some(row.id),
                        kind: "wrong_postamat",
                        waybill: row.waybill.as_deref(),
                        detail,
                    },
                    ctx,
                )?;
            }
        }
        KaspiEventBody::Lost { loss_act, .. } => {
            let loss = crate::db::models::loss_act::NewLoss {
                side: "kaspi",
                kaspi_act_number: Some(loss_act.number.as_str()),
                cause: loss_act.cause.as_str(),
                circumstances: loss_act.circumstances.as_str(),
                responsible_employee: loss_act.responsible_employee.as_str(),
                kaspi_event_id: ctx.external_event_id.as_deref(),
                recorded_by: None,
            };
            crate::db::models::loss_act::record(conn, row, loss, ctx.recorded_at)?;
        }
        _ => {}
    }
    let language = Language::parse(&app.language).unwrap_or(Language::Ru);
    for kind in notifies {
        let (facts, dedup) = match (kind, body) {
            (NotificationKind::PlacedInCell, KaspiEventBody::PlacedInCell { postamat_id, .. }) => {
                let (address_kk, address_ru): (String, String) = postamats::table
                    .filter(postamats::kaspi_id.eq(postamat_id.as_str()))
                    .select((postamats::address_kk, postamats::address_ru))
                    .first(conn)
                    .optional()?
                    .unwrap_or_else(|| (postamat_id.to_string(), postamat_id.to_string()));
                let tz = branch_tz(conn, row.branch_id)?;
                // п.28: collect by the last day of the 3-calendar-day storage (п.21, 29).
                let storage = deadline::due(
                    DeadlineKind::Storage.rule(),
                    ctx.occurred_at,
                    tz,
                    &ctx.calendar.calendar,
                )?;
                let address = if language == Language::Kk {
                    address_kk
                } else {
                    address_ru
                };
                let text = notification::render(
                    &Facts::PlacedInCell {
                        application_number: &app.number,
                        postamat_address: &address,
                        collect_by: storage.last_day,
                    },
                    language,
                );
                (text, format!("{}:placed_in_cell", row.id))
            }
            (
                NotificationKind::DeliveryLate,
                KaspiEventBody::Delayed {
                    new_expected_date, ..
                },
            ) => {
                let text = notification::render(
                    &Facts::DeliveryLate {
                        application_number: &app.number,
                        new_date: *new_expected_date,
                    },
                    language,
                );
                (
                    text,
                    format!("{}:delivery_late:{new_expected_date}", row.id),
                )
            }
            _ => continue,
        };
        let kind_name = kind.as_str();
        outbox::notify(
            conn,
            NewNotification {
                application_id: app.id,
                shipment_id: Some(row.id),
                kind: kind_name,
                channel: "kaspi_app",
                recipient: &app.phone,
                language: language.as_str(),
                body: &facts,
                dedup_key: &dedup,
            },
            ctx.recorded_at,
        )?;
    }
    Ok(())
}

fn branch_tz(conn: &mut DbConnection, branch_id: Id) -> Result<chrono_tz::Tz, ApiError> {
    let zone: String = crate::db::schema::branches::table
        .find(branch_id)
        .select(crate::db::schema::branches::time_zone)
        .first(conn)?;
    BranchTimeZone::try_from(zone)
        .map(BranchTimeZone::tz)
        .map_err(ApiError::internal)
}

/// п.18: reconciles Kaspi's registry of accepted envelopes with our handoff registry.
fn accept_registry(
    conn: &mut DbConnection,
    handoff_registry: &ExternalId,
    kaspi_registry_number: &ExternalId,
    accepted: &[Waybill],
    body: &KaspiEventBody,
    ctx: &EventContext<'_>,
) -> Result<Processed, ApiError> {
    let registry: Option<RegistryRow> = registries::table
        .filter(registries::number.eq(handoff_registry.as_str()))
        .select(RegistryRow::as_select())
        .first(conn)
        .optional()?;
    let Some(registry) = registry.filter(|r| r.kind == crate::db::models::registry::KASPI_HANDOFF)
    else {
        return Ok(waiting(format!(
            "no handoff registry {handoff_registry} yet"
        )));
    };
    match registry.state()? {
        RegistryState::HandedOver => {}
        RegistryState::Accepted | RegistryState::AcceptedWithDiscrepancies => {
            return Ok(Processed {
                outcome: Outcome::OutOfOrderRecorded,
                shipment_id: None,
                detail: Some(format!("registry {handoff_registry} was already accepted")),
            });
        }
        // Kaspi can be ahead of our records: the acceptance waits for the handover.
        other => {
            return Ok(waiting(format!(
                "registry {handoff_registry} is '{}' in our records: waiting for the State courier's handover",
                other.as_str()
            )));
        }
    }
    let items: Vec<(Id, String)> = registry_items::table
        .filter(registry_items::registry_id.eq(registry.id))
        .select((registry_items::shipment_id, registry_items::waybill))
        .load(conn)?;
    let accepted: Vec<&str> = accepted.iter().map(Waybill::as_str).collect();
    let mut mismatches = 0;
    for (shipment_id, waybill) in &items {
        if accepted.contains(&waybill.as_str()) {
            let row = shipment::find(conn, *shipment_id)?
                .ok_or_else(|| ApiError::not_found("shipment"))?;
            // One envelope that cannot be accepted (lost meanwhile, say) is a discrepancy of
            // its own; the rest of the registry is accepted.
            match conn.transaction(|conn| apply_to_shipment(conn, &row, body, ctx)) {
                Ok(_) => {}
                Err(e) if is_ours(&e) => return Err(e),
                Err(e) => {
                    mismatches += 1;
                    let detail = format!(
                        "envelope {waybill} was accepted by Kaspi but cannot be: {}",
                        e.detail()
                    );
                    let found = Found {
                        branch_id: Some(registry.branch_id),
                        registry_id: Some(registry.id),
                        shipment_id: Some(*shipment_id),
                        kind: "envelope_refused",
                        waybill: Some(waybill),
                        detail,
                    };
                    record_discrepancy(conn, found, ctx)?;
                }
            }
        } else {
            mismatches += 1;
            let detail = format!(
                "envelope {waybill} is on registry {handoff_registry} but not on Kaspi's registry {kaspi_registry_number}"
            );
            record_discrepancy(
                conn,
                Found {
                    branch_id: Some(registry.branch_id),
                    registry_id: Some(registry.id),
                    shipment_id: Some(*shipment_id),
                    kind: "not_accepted",
                    waybill: Some(waybill),
                    detail,
                },
                ctx,
            )?;
        }
    }
    for waybill in accepted
        .iter()
        .filter(|w| !items.iter().any(|(_, ours)| ours == *w))
    {
        mismatches += 1;
        let detail = format!(
            "envelope {waybill} is on Kaspi's registry {kaspi_registry_number} but not on registry {handoff_registry}"
        );
        record_discrepancy(
            conn,
            Found {
                branch_id: Some(registry.branch_id),
                registry_id: Some(registry.id),
                shipment_id: None,
                kind: "unexpected_envelope",
                waybill: Some(waybill),
                detail,
            },
            ctx,
        )?;
    }
    let state = if mismatches == 0 {
        RegistryState::Accepted
    } else {
        RegistryState::AcceptedWithDiscrepancies
    };
    diesel::update(
        registries::table
            .find(registry.id)
            .filter(registries::state.eq(RegistryState::HandedOver.as_str())),
    )
    .set((
        registries::state.eq(state.as_str()),
        registries::kaspi_registry_number.eq(Some(kaspi_registry_number.as_str())),
        registries::accepted_at.eq(Some(to_db_time(ctx.occurred_at))),
        registries::version.eq(registries::version + 1),
    ))
    .execute(conn)?;
    Ok(Processed {
        outcome: Outcome::Applied,
        shipment_id: None,
        detail: (mismatches > 0).then(|| format!("{mismatches} discrepancies recorded")),
    })
}

/// Processes an event against the current data; `Unmatched` when its waybill is unknown.
fn process(
    conn: &mut DbConnection,
    event: &KaspiEvent,
    ctx: &EventContext<'_>,
) -> Result<Processed, ApiError> {
    if let KaspiEventBody::AcceptedAtPoint {
        handoff_registry,
        kaspi_registry_number,
        accepted_waybills,
    } = &event.body
    {
        return accept_registry(
            conn,
            handoff_registry,
            kaspi_registry_number,
            accepted_waybills,
            &event.body,
            ctx,
        );
    }
    let waybill = event
        .body
        .waybill()
        .expect("every other event names its waybill");
    let row = shipments::table
        .filter(shipments::waybill.eq(waybill.as_str()))
        .select(ShipmentRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => apply_to_shipment(conn, &row, &event.body, ctx),
        None => Ok(Processed {
            outcome: Outcome::Unmatched,
            shipment_id: None,
            detail: Some(format!(
                "waybill {waybill} is not known yet; the event is kept and applied when it is"
            )),
        }),
    }
}

/// Runs `process` in a savepoint: a rejection leaves no trace but its record; our own failure
/// propagates so the whole event is not acknowledged.
fn attempt(
    conn: &mut DbConnection,
    event: &KaspiEvent,
    ctx: &EventContext<'_>,
) -> Result<(Processed, Option<String>), ApiError> {
    match conn.transaction(|conn| process(conn, event, ctx)) {
        Ok(done) => Ok((done, None)),
        Err(e) if is_ours(&e) => Err(e),
        Err(e) => Ok((
            Processed {
                outcome: Outcome::Rejected,
                shipment_id: None,
                detail: Some(e.detail().to_owned()),
            },
            Some(e.code().as_str().to_owned()),
        )),
    }
}

fn state_of(conn: &mut DbConnection, id: Option<Id>) -> QueryResult<Option<ShipmentState>> {
    let Some(id) = id else { return Ok(None) };
    Ok(shipment::find(conn, id)?.and_then(|s| s.state().ok()))
}

/// What a kept event got: payload hash, outcome, reason, detail, shipment.
type StoredOutcome = (String, String, Option<String>, Option<String>, Option<Id>);

/// Receives one event, inside the caller's transaction.
pub fn receive(
    conn: &mut DbConnection,
    event: &KaspiEvent,
    ctx: &EventContext<'_>,
) -> Result<EventResult, ApiError> {
    let hash = fingerprint(event);
    // Serialised with the order or handover that would make a waiting event applicable, so
    // neither can miss the other.
    crate::db::lock_key(conn, &event.body.wait_key())?;
    let stored: Option<StoredOutcome> = kaspi_events::table
        .find(event.event_id.as_str())
        .select((
            kaspi_events::payload_hash,
            kaspi_events::outcome,
            kaspi_events::reason_code,
            kaspi_events::detail,
            kaspi_events::shipment_id,
        ))
        .first(conn)
        .optional()?;
    if let Some((stored_hash, outcome, reason, detail, shipment_id)) = stored {
        if stored_hash != hash {
            return Ok(EventResult {
                event_id: Some(event.event_id.to_string()),
                outcome: Outcome::Rejected,
                first_outcome: None,
                reason: Some(ErrorCode::EventIdReused.as_str().to_owned()),
                detail: Some("this event id was received before with a different payload".into()),
                shipment_id: None,
                state: None,
            });
        }
        return Ok(EventResult {
            event_id: Some(event.event_id.to_string()),
            outcome: Outcome::Duplicate,
            first_outcome: Some(Outcome::parse(&outcome)),
            reason,
            detail,
            state: state_of(conn, shipment_id)?,
            shipment_id,
        });
    }
    let (done, reason) = attempt(conn, event, ctx)?;
    diesel::insert_into(kaspi_events::table)
        .values((
            kaspi_events::event_id.eq(event.event_id.as_str()),
            kaspi_events::event_type.eq(event.body.type_name()),
            kaspi_events::waybill.eq(Some(event.body.wait_key())),
            kaspi_events::occurred_at.eq(to_db_time(event.occurred_at)),
            kaspi_events::payload.eq(serde_json::to_string(event).map_err(ApiError::internal)?),
            kaspi_events::payload_hash.eq(&hash),
            kaspi_events::outcome.eq(done.outcome.as_str()),
            kaspi_events::reason_code.eq(&reason),
            kaspi_events::detail.eq(&done.detail),
            kaspi_events::shipment_id.eq(done.shipment_id),
            kaspi_events::received_at.eq(to_db_time(ctx.recorded_at)),
            kaspi_events::resolved_at
                .eq((done.outcome != Outcome::Unmatched).then(|| to_db_time(ctx.recorded_at))),
        ))
        .execute(conn)?;
    Ok(EventResult {
        event_id: Some(event.event_id.to_string()),
        outcome: done.outcome,
        first_outcome: None,
        reason,
        detail: done.detail,
        state: state_of(conn, done.shipment_id)?,
        shipment_id: done.shipment_id,
    })
}

/// Applies the events that waited for `waybill` (unknown until now, or its shipment not yet
/// with Kaspi), oldest first, each with its own id and time as if it had just arrived. Those
/// that still cannot apply keep waiting.
pub fn apply_unmatched(
    conn: &mut DbConnection,
    waybill: &str,
    base: &EventContext<'_>,
) -> Result<usize, ApiError> {
    let waiting: Vec<(String, String)> = kaspi_events::table
        .filter(kaspi_events::waybill.eq(waybill))
        .filter(kaspi_events::outcome.eq(Outcome::Unmatched.as_str()))
        .order(kaspi_events::occurred_at)
        .select((kaspi_events::event_id, kaspi_events::payload))
        .load(conn)?;
    let mut resolved = 0;
    for (event_id, payload) in &waiting {
        let event: KaspiEvent = serde_json::from_str(payload).map_err(ApiError::internal)?;
        let ctx = EventContext {
            actor: ActorRef {
                actor: Actor::Role(Role::Kaspi),
                key_id: None,
                name: "Kaspi (event applied when it could be)".to_owned(),
            },
            source: "kaspi",
            external_event_id: Some(event_id.clone()),
            occurred_at: event.occurred_at,
            recorded_at: base.recorded_at,
            calendar: base.calendar,
        };
        let (done, reason) = attempt(conn, &event, &ctx)?;
        if done.outcome != Outcome::Unmatched {
            resolved += 1;
        }
        diesel::update(kaspi_events::table.find(event_id))
            .set((
                kaspi_events::outcome.eq(done.outcome.as_str()),
                kaspi_events::reason_code.eq(reason),
                kaspi_events::detail.eq(done.detail),
                kaspi_events::shipment_id.eq(done.shipment_id),
                kaspi_events::resolved_at
                    .eq((done.outcome != Outcome::Unmatched).then(|| to_db_time(ctx.recorded_at))),
            ))
            .execute(conn)?;
    }
    Ok(resolved)
}

/// A kept event, for supervisors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredEvent {
    pub event_id: String,
    #[schema(example = "placed_in_cell")]
    pub event_type: String,
    pub waybill: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Events by outcome (the unmatched inbox, the rejected ones), oldest first.
pub fn by_outcome(conn: &mut DbConnection, outcome: Outcome) -> QueryResult<Vec<StoredEvent>> {
    Ok(kaspi_events::table
        .filter(kaspi_events::outcome.eq(outcome.as_str()))
        .order(kaspi_events::received_at)
        .limit(500)
        .select((
            kaspi_events::event_id,
            kaspi_events::event_type,
            kaspi_events::waybill,
            kaspi_events::occurred_at,
            kaspi_events::outcome,
            kaspi_events::reason_code,
            kaspi_events::detail,
            kaspi_events::received_at,
        ))
        .load::<(
            String,
            String,
            Option<String>,
            NaiveDateTime,
            String,
            Option<String>,
            Option<String>,
            NaiveDateTime,
        )>(conn)?
        .into_iter()
        .map(
            |(event_id, event_type, waybill, occurred_at, outcome, reason, detail, received_at)| {
                StoredEvent {
                    event_id,
                    event_type,
                    waybill,
                    occurred_at: from_db_time(occurred_at),
                    outcome: Outcome::parse(&outcome),
                    reason,
                    detail,
                    received_at: from_db_time(received_at),
                }
            },
        )
        .collect())
}

/// A difference between what we handed over and what Kaspi reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Discrepancy {
    pub id: Id,
    /// `not_accepted`, `unexpected_envelope` or `wrong_postamat`.
    pub kind: String,
    pub registry_id: Option<Id>,
    pub shipment_id: Option<Id>,
    pub waybill: Option<String>,
    pub detail: String,
    pub kaspi_event_id: Option<String>,
    pub detected_at: DateTime<Utc>,
}

pub fn discrepancies(
    conn: &mut DbConnection,
    scope: &BranchScope,
) -> QueryResult<Vec<Discrepancy>> {
    let mut query = discrepancies::table.into_boxed();
    if let BranchScope::Only { id, .. } = scope {
        query = query.filter(discrepancies::branch_id.eq(*id));
    }
    Ok(query
        .order(discrepancies::detected_at.desc())
        .limit(500)
        .select((
            discrepancies::id,
            discrepancies::kind,
            discrepancies::registry_id,
            discrepancies::shipment_id,
            discrepancies::waybill,
            discrepancies::detail,
            discrepancies::kaspi_event_id,
            discrepancies::detected_at,
        ))
        .load::<(
            Id,
            String,
            Option<Id>,
            Option<Id>,
            Option<String>,
            String,
            Option<String>,
            NaiveDateTime,
        )>(conn)?
        .into_iter()
        .map(
            |(id, kind, registry_id, shipment_id, waybill, detail, kaspi_event_id, detected_at)| {
                Discrepancy {
                    id,
                    kind,
                    registry_id,
                    shipment_id,
                    waybill,
                    detail,
                    kaspi_event_id,
                    detected_at: from_db_time(detected_at),
                }
            },
        )
        .collect())
}
