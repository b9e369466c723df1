//! The workflows' error: a refusal the caller can act on, with a stable reason, or a failure of
//! ours that keeps its cause. Which is which is decided here and nowhere else.

use crate::domain::calendar::{EditError, YearMissing};
use crate::domain::shipment::Refusal;

/// Why a request is refused: each reason is a stable problem code of the API (the API maps
/// them one to one) and is stored with a rejected Kaspi event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request is understood but breaks a rule.
    ValidationFailed,
    /// The record exists already (a second duplicate, a drawn act, a recorded notice).
    AlreadyExists,
    /// An application with this number exists with different data.
    ApplicationConflict,
    /// The same event id was sent before with a different payload.
    EventIdReused,
    /// Postamat delivery is offered only inside the pilot window (п.6).
    OutsidePilotWindow,
    /// The chosen postamat is not in the Kaspi postamat list.
    UnknownPostamat,
    /// The chosen postamat is not in the city of the applicant's branch (п.4).
    PostamatNotInCity,
    /// The shipment has no Kaspi order (and so no waybill) yet.
    NoKaspiOrder,
    /// The scanned waybill is not the waybill of the shipment's Kaspi order (п.16).
    WaybillMismatch,
    /// A different Kaspi order was already reported for this shipment.
    OrderConflict,
    /// The registry is sealed (or handed over) and never changes.
    RegistrySealed,
    /// The shipment is already on a registry of this kind.
    AlreadyInRegistry,
    /// The person receiving the document is not the applicant named.
    RecipientMismatch,
    /// The force-majeure period or dispute has already ended.
    AlreadyEnded,
    /// The record belongs to another branch than the caller's.
    BranchForbidden,
    /// Not allowed in the record's current state.
    InvalidTransition,
    /// The actor may not cause this event (the state machine's actors).
    RoleForbidden,
    /// What the request names does not exist, or is not the caller's to see.
    NotFound,
    /// Revoking this key would leave no active admin key to administer the service over HTTP.
    LastAdminKey,
}

impl Reason {
    /// The stable problem code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::ValidationFailed => "validation_failed",
            Reason::AlreadyExists => "already_exists",
            Reason::ApplicationConflict => "application_conflict",
            Reason::EventIdReused => "event_id_reused",
            Reason::OutsidePilotWindow => "outside_pilot_window",
            Reason::UnknownPostamat => "unknown_postamat",
            Reason::PostamatNotInCity => "postamat_not_in_city",
            Reason::NoKaspiOrder => "no_kaspi_order",
            Reason::WaybillMismatch => "waybill_mismatch",
            Reason::OrderConflict => "order_conflict",
            Reason::RegistrySealed => "registry_sealed",
            Reason::AlreadyInRegistry => "already_in_registry",
            Reason::RecipientMismatch => "recipient_mismatch",
            Reason::AlreadyEnded => "already_ended",
            Reason::BranchForbidden => "branch_forbidden",
            Reason::InvalidTransition => "invalid_transition",
            Reason::RoleForbidden => "role_forbidden",
            Reason::NotFound => "not_found",
            Reason::LastAdminKey => "last_admin_key",
        }
    }

    pub const ALL: [Reason; 19] = [
        Reason::ValidationFailed,
        Reason::AlreadyExists,
        Reason::ApplicationConflict,
        Reason::EventIdReused,
        Reason::OutsidePilotWindow,
        Reason::UnknownPostamat,
        Reason::PostamatNotInCity,
        Reason::NoKaspiOrder,
        Reason::WaybillMismatch,
        Reason::OrderConflict,
        Reason::RegistrySealed,
        Reason::AlreadyInRegistry,
        Reason::RecipientMismatch,
        Reason::AlreadyEnded,
        Reason::BranchForbidden,
        Reason::InvalidTransition,
        Reason::RoleForbidden,
        Reason::NotFound,
        Reason::LastAdminKey,
    ];
}

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The request breaks a rule of the order or of the service.
    #[error("{detail}")]
    Rejected { reason: Reason, detail: String },
    /// The state machine refuses the event in the shipment's state.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The domain core refuses a calendar edit.
    #[error(transparent)]
    CalendarEdit(#[from] EditError),
    /// What the request names does not exist (or is not the caller's to see).
    #[error("{0}")]
    NotFound(String),
    /// Another transaction changed the same record first; the same request again can succeed.
    #[error("{0}")]
    Conflict(String),
    /// A deadline falls in a year the calendar holds no data for: a supervisor must add it.
    #[error(transparent)]
    CalendarYearMissing(#[from] YearMissing),
    #[error("database error")]
    Database(#[from] diesel::result::Error),
    /// Anything else that went wrong on our side.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: anyhow::Error,
    },
}

impl WorkflowError {
    pub fn rejected(reason: Reason, detail: impl Into<String>) -> Self {
        WorkflowError::Rejected {
            reason,
            detail: detail.into(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        WorkflowError::NotFound(detail.into())
    }

    pub fn internal(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        WorkflowError::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Whether the failure is ours rather than the caller's: an integration must not be told
    /// its event was handled (it sends it again), a batch must stop rather than report the item
    /// refused, and the answer is a 5xx or a retryable 409, never a refusal.
    pub fn is_ours(&self) -> bool {
        match self {
            WorkflowError::Rejected { .. }
            | WorkflowError::Refused(_)
            | WorkflowError::CalendarEdit(_)
            | WorkflowError::NotFound(_) => false,
            WorkflowError::Conflict(_)
            | WorkflowError::CalendarYearMissing(_)
            | WorkflowError::Database(_)
            | WorkflowError::Internal { .. } => true,
        }
    }

    /// The error with its causes, for a log line or a note a person reads later.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// Whether the same request again can succeed: another transaction changed the same data
    /// first, or the database was busy.
    pub fn is_retryable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as Kind, Error as DieselError};
        match self {
            WorkflowError::Conflict(_) => true,
            WorkflowError::Database(DieselError::DatabaseError(
                Kind::UniqueViolation | Kind::SerializationFailure,
                _,
            )) => true,
            // SQLite's writer lock still held after the busy timeout; PostgreSQL ending one of
            // two transactions that wait on each other (diesel has no kind for 40P01).
            WorkflowError::Database(DieselError::DatabaseError(_, info)) => {
                info.message().contains("database is locked")
                    || info.message().contains("deadlock detected")
            }
            _ => false,
        }
    }

    /// Why the caller is refused, as a stable reason (`None` for our own failures, and for a
    /// refused calendar edit, whose codes only the API gives).
    pub fn reason(&self) -> Option<Reason> {
        match self {
            WorkflowError::Rejected { reason, .. } => Some(*reason),
            WorkflowError::Refused(Refusal::NotAllowedActor { .. }) => Some(Reason::RoleForbidden),
            WorkflowError::Refused(_) => Some(Reason::InvalidTransition),
            WorkflowError::NotFound(_) => Some(Reason::NotFound),
            WorkflowError::CalendarEdit(_)
            | WorkflowError::Conflict(_)
            | WorkflowError::CalendarYearMissing(_)
            | WorkflowError::Database(_)
            | WorkflowError::Internal { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_the_callers_and_everything_else_is_ours() {
        let refused = WorkflowError::rejected(Reason::WaybillMismatch, "another waybill");
        assert!(!refused.is_ours());
        assert_eq!(refused.reason(), Some(Reason::WaybillMismatch));
        assert!(!WorkflowError::not_found("shipment").is_ours());
        assert!(WorkflowError::Conflict("retry".into()).is_ours());
        assert!(WorkflowError::CalendarYearMissing(YearMissing(2031)).is_ours());
        let db = WorkflowError::from(diesel::result::Error::NotFound);
        assert!(db.is_ours());
        assert_eq!(db.reason(), None);
    }

    #[test]
    fn an_internal_failure_keeps_its_cause() {
        let err = WorkflowError::internal(
            "replaying Kaspi events",
            anyhow::anyhow!("no such table: kaspi_events"),
        );
        let chain = format!("{:#}", anyhow::Error::from(err));
        assert!(chain.contains("replaying Kaspi events"), "{chain}");
        assert!(chain.contains("no such table: kaspi_events"), "{chain}");
    }
}
