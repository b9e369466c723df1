//! An application (п.3–5): what the citizen asked for, and the registry office's status of it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The registry office's status of an application (п.5, 8, 24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    AwaitingExecution,
    Executed,
    Refused,
    Cancelled,
}

names!(ApplicationStatus {
    AwaitingExecution => "awaiting_execution",
    Executed => "executed",
    Refused => "refused",
    Cancelled => "cancelled",
});

/// The final status the registry office gives an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinalStatus {
    /// Executed: the certificate exists and waits for the State courier (п.6, 8).
    Executed,
    /// Refused: no document will be delivered.
    Refused,
    /// Cancelled after the document was lost and its loss act received (п.24): the citizen is
    /// told how to get a free duplicate (п.25).
    Cancelled,
}

names!(FinalStatus {
    Executed => "executed",
    Refused => "refused",
    Cancelled => "cancelled",
});

impl ApplicationStatus {
    /// п.5, 8: an application awaiting execution takes the registry office's final status once;
    /// a cancellation comes only after a loss (п.24), which the shipment decides.
    pub fn after(self, status: FinalStatus) -> Option<ApplicationStatus> {
        match (self, status) {
            (ApplicationStatus::AwaitingExecution, FinalStatus::Executed) => {
                Some(ApplicationStatus::Executed)
            }
            (ApplicationStatus::AwaitingExecution, FinalStatus::Refused) => {
                Some(ApplicationStatus::Refused)
            }
            (_, FinalStatus::Cancelled) => Some(ApplicationStatus::Cancelled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_status_is_given_once_and_a_cancellation_waits_for_the_loss() {
        use ApplicationStatus as A;
        use FinalStatus as F;
        assert_eq!(A::AwaitingExecution.after(F::Executed), Some(A::Executed));
        assert_eq!(A::AwaitingExecution.after(F::Refused), Some(A::Refused));
        assert_eq!(A::Executed.after(F::Executed), None);
        assert_eq!(A::Refused.after(F::Executed), None);
        assert_eq!(A::Executed.after(F::Cancelled), Some(A::Cancelled));
        for status in A::ALL {
            assert_eq!(A::parse(status.as_str()), Some(*status));
        }
    }
}
