//! Record ids, one type per entity: time-ordered UUIDs (v7), so ids sort by creation and index
//! well, and a `ShipmentId` cannot be passed where a `BranchId` is expected. Their storage
//! (`uuid` on PostgreSQL, text on SQLite) is `db::id`'s business.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new id, ordered after every id made before it.
            pub fn new() -> Self {
                $name(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map($name)
            }
        }
    )*};
}

ids! {
    /// An application (п.3–5).
    ApplicationId,
    /// A shipment: one physical document on its way.
    ShipmentId,
    /// A State Corporation branch.
    BranchId,
    /// A Kaspi postamat in our reference data.
    PostamatId,
    /// An API key (and so the person or system acting with it).
    KeyId,
    /// A session of the operations console.
    SessionId,
    /// A registry (п.13, 32).
    RegistryId,
    /// A loss act (п.22–24).
    LossActId,
    /// A dispute (п.36).
    DisputeId,
    /// A force-majeure period (п.37–38).
    PeriodId,
    /// A deadline of a shipment.
    DeadlineId,
    /// A message in one of the outboxes.
    MessageId,
    /// A line of history.
    HistoryId,
    /// A difference between our registries and Kaspi's reports.
    DiscrepancyId,
}
