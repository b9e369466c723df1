//! The workflows' error: a refusal the caller can act on, with a stable reason, or a failure of
//! ours that keeps its cause. Which is which is decided here and nowhere else.

use crate::domain::calendar::{AmendmentError, EditError, YearMissing};
use crate::domain::shipment::Refusal;

/// Which kind of refusal a [`Reason`] is: the API answers each kind with one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonKind {
    /// The request, as sent, breaks a rule (422).
    Invalid,
    /// The request clashes with what is stored or with a record's state (409).
    Conflict,
    /// The caller may not do this (403).
    Forbidden,
    /// What the request names does not exist, or is not the caller's to see (404).
    NotFound,
}

/// Declares [`Reason`] from one list: each refusal once, with its stable code, its kind and its
/// title for a person. The API's problem codes are these plus its transport's (`api::error`).
macro_rules! reasons {
    ($($(#[doc = $doc:literal])+ $variant:ident => $code:literal, $kind:ident, $title:literal;)+) => {
        /// Why a request is refused: a stable problem code of the API, stored with a rejected
        /// Kaspi event. Adding a refusal is one line of [`reasons!`] and the code that gives it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Reason {
            $($(#[doc = $doc])+ $variant,)+
        }

        crate::domain::names!(Reason { $($variant => $code),+ });

        /// By its code (a handler declares the codes it can answer with as a list of them).
        impl serde::Serialize for Reason {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl Reason {
            /// The stable problem code.
            pub fn code(self) -> &'static str {
                self.as_str()
            }

            pub fn kind(self) -> ReasonKind {
                match self {
                    $(Reason::$variant => ReasonKind::$kind,)+
                }
            }

            /// The problem's title: the reason in a few words.
            pub fn title(self) -> &'static str {
                match self {
                    $(Reason::$variant => $title,)+
                }
            }
        }
    };
}

reasons! {
    /// The request is understood but breaks a rule.
    ValidationFailed => "validation_failed", Invalid, "Request breaks a rule";
    /// The record exists already (a second duplicate, a drawn act, a recorded notice, a
    /// calendar year).
    AlreadyExists => "already_exists", Conflict, "Already exists";
    /// The record is still referenced by other records.
    InUse => "in_use", Conflict, "Still in use";
    /// An application with this number exists with different data.
    ApplicationConflict => "application_conflict", Conflict, "Application exists with other data";
    /// The same event id was sent before with a different payload.
    EventIdReused => "event_id_reused", Conflict, "Event id reused";
    /// Postamat delivery is offered only inside the pilot window (п.6).
    OutsidePilotWindow => "outside_pilot_window", Invalid, "Outside the pilot window";
    /// The chosen postamat is not in the Kaspi postamat list.
    UnknownPostamat => "unknown_postamat", Invalid, "Unknown postamat";
    /// The chosen postamat is not in the city of the applicant's branch (п.4).
    PostamatNotInCity => "postamat_not_in_city", Invalid, "Postamat in another city";
    /// The shipment has no Kaspi order (and so no waybill) yet.
    NoKaspiOrder => "no_kaspi_order", Conflict, "No Kaspi order yet";
    /// The scanned waybill is not the waybill of the shipment's Kaspi order (п.16).
    WaybillMismatch => "waybill_mismatch", Invalid, "Waybill does not match";
    /// A different Kaspi order was already reported for this shipment.
    OrderConflict => "order_conflict", Conflict, "Another Kaspi order";
    /// The registry is sealed (or handed over) and never changes.
    RegistrySealed => "registry_sealed", Conflict, "Registry sealed";
    /// The shipment is already on a registry of this kind.
    AlreadyInRegistry => "already_in_registry", Conflict, "Already on a registry";
    /// The person receiving the document is not the applicant named.
    RecipientMismatch => "recipient_mismatch", Invalid, "Recipient does not match";
    /// The force-majeure period or dispute has already ended.
    AlreadyEnded => "already_ended", Conflict, "Already ended";
    /// The record belongs to another branch than the caller's.
    BranchForbidden => "branch_forbidden", Forbidden, "Another branch's record";
    /// Not allowed in the record's current state (the detail names it).
    InvalidTransition => "invalid_transition", Conflict, "Not allowed in the current state";
    /// The caller's role may not do this (the state machine's actors, an endpoint's roles).
    RoleForbidden => "role_forbidden", Forbidden, "Role not allowed";
    /// What the request names does not exist, or is not the caller's to see.
    NotFound => "not_found", NotFound, "Not found";
    /// Revoking this key would leave no active admin key to administer the service over HTTP
    /// (the CLI can, with `--force`).
    LastAdminKey => "last_admin_key", Conflict, "Last active admin key";
    /// A calendar date outside the year being edited.
    DateOutsideYear => "date_outside_year", Invalid, "Date outside the year";
    /// A day off can only be added on a weekday (weekends are off already).
    NotAWeekday => "not_a_weekday", Invalid, "Not a weekday";
    /// A working day can only be added on a Saturday or Sunday.
    NotAWeekendDay => "not_a_weekend_day", Invalid, "Not a weekend day";
    /// The day is already a day off (or already a working weekend day, or already the date set).
    DuplicateDay => "duplicate_day", Conflict, "Day already set";
    /// The day to remove is not in the calendar.
    NoSuchDay => "no_such_day", Invalid, "No such day";
    /// The working-day calendar holds no data for the year the caller named.
    CalendarYearMissing => "calendar_year_missing", Invalid, "No calendar data for the year";
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

    /// Why the caller is refused, as a stable reason (`None` for our own failures). Its detail
    /// for the caller is the error's text.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            WorkflowError::Rejected { reason, .. } => Some(*reason),
            WorkflowError::Refused(Refusal::NotAllowedActor { .. }) => Some(Reason::RoleForbidden),
            WorkflowError::Refused(_) => Some(Reason::InvalidTransition),
            WorkflowError::NotFound(_) => Some(Reason::NotFound),
            WorkflowError::CalendarEdit(refusal) => Some(match refusal {
                EditError::Amendment(AmendmentError::OutsideYear { .. }) => Reason::DateOutsideYear,
                EditError::Amendment(AmendmentError::NotAWeekday(_)) => Reason::NotAWeekday,
                EditError::Amendment(AmendmentError::NotAWeekendDay(_)) => Reason::NotAWeekendDay,
                EditError::Amendment(
                    AmendmentError::AlreadyDayOff(_) | AmendmentError::AlreadyWorkingDay(_),
                )
                | EditError::KurbanAitUnchanged { .. } => Reason::DuplicateDay,
                EditError::Amendment(
                    AmendmentError::NotADayOff(_) | AmendmentError::NotAWorkingDay(_),
                ) => Reason::NoSuchDay,
                EditError::YearMissing(_) => Reason::CalendarYearMissing,
                EditError::YearExists(_) => Reason::AlreadyExists,
                EditError::OutOfRange(_) => Reason::ValidationFailed,
            }),
            WorkflowError::Conflict(_)
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
