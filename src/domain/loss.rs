//! Loss acts (п.22–24): who lost the document, and where the act stands.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whose hands the document was lost in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LossSide {
    /// п.22: Kaspi's, with Kaspi's own act.
    Kaspi,
    /// п.23: the State Corporation's.
    StateCorporation,
}

names!(LossSide {
    Kaspi => "kaspi",
    StateCorporation => "state_corporation",
});

/// A loss act is recorded with the loss, then drawn in two copies under the branch's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LossActState {
    Recorded,
    /// Two copies; the second sent to the registry office (п.24).
    Drawn,
}

names!(LossActState {
    Recorded => "recorded",
    Drawn => "drawn",
});
