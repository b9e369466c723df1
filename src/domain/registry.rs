//! The two kinds of registries the State Corporation draws (DOMAIN.md §3): what may go on them
//! and what sealing and handing them over do to the envelopes.

use crate::domain::shipment::{ShipmentEvent, ShipmentState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistryKind {
    /// п.13, 17: packed envelopes the State courier takes to the Kaspi point.
    KaspiHandoff,
    /// п.32–33: uncollected documents the State courier takes back from the Kaspi point.
    ReturnPickup,
}

names!(RegistryKind {
    KaspiHandoff => "kaspi_handoff",
    ReturnPickup => "return_pickup",
});

/// Where a registry stands: a draft is edited; sealing numbers and freezes it; the State
/// courier signs for it; Kaspi's point reports what it accepted (п.13, 17, 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistryState {
    Draft,
    Sealed,
    HandedOver,
    /// Kaspi's point accepted every envelope on it (п.18).
    Accepted,
    /// Kaspi's registry differs from ours: see the discrepancies.
    AcceptedWithDiscrepancies,
}

names!(RegistryState {
    Draft => "draft",
    Sealed => "sealed",
    HandedOver => "handed_over",
    Accepted => "accepted",
    AcceptedWithDiscrepancies => "accepted_with_discrepancies",
});

impl RegistryKind {
    /// The state an envelope must be in to go on (and stay on) a draft.
    pub fn item_state(self) -> ShipmentState {
        match self {
            RegistryKind::KaspiHandoff => ShipmentState::Packed,
            RegistryKind::ReturnPickup => ShipmentState::ReturnedToKaspiPoint,
        }
    }

    /// What sealing does to each envelope (п.32: the return registry is formed).
    pub fn on_seal(self) -> Option<ShipmentEvent> {
        match self {
            RegistryKind::KaspiHandoff => None,
            RegistryKind::ReturnPickup => Some(ShipmentEvent::AddedToReturnRegistry),
        }
    }

    /// What the State courier's signature does to each envelope (п.17, 33).
    pub fn on_handover(self) -> ShipmentEvent {
        match self {
            RegistryKind::KaspiHandoff => ShipmentEvent::HandOverToCourier,
            RegistryKind::ReturnPickup => ShipmentEvent::ReturnPickedUp,
        }
    }

    /// The printed title, in Kazakh and in Russian.
    pub fn title(self) -> (&'static str, &'static str) {
        match self {
            RegistryKind::KaspiHandoff => (
                "Kaspi қабылдау пунктіне құжаттарды беру тізілімі",
                "Реестр передачи документов в пункт приема Kaspi",
            ),
            RegistryKind::ReturnPickup => (
                "Kaspi қабылдау пунктінен талап етілмеген құжаттарды алу тізілімі",
                "Реестр изъятия невостребованных документов из пункта приема Kaspi",
            ),
        }
    }
}
