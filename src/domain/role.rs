//! Who may act in the pilot (DOMAIN.md §2) and whether a role is bound to a branch.

use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Kaspi integration (machine).
    Kaspi,
    /// Registry office / ИС ЗАГС (machine).
    RegistryOffice,
    /// State Corporation accumulation sector clerk.
    AccumulationClerk,
    /// State Corporation issuance sector clerk.
    IssuanceClerk,
    /// State Corporation courier.
    StateCourier,
    /// Branch or national supervisor.
    Supervisor,
    /// Operator: keys and reference data.
    Admin,
}

names!(Role {
    Kaspi => "kaspi",
    RegistryOffice => "registry_office",
    AccumulationClerk => "accumulation_clerk",
    IssuanceClerk => "issuance_clerk",
    StateCourier => "state_courier",
    Supervisor => "supervisor",
    Admin => "admin",
});

/// Whether a key of a role carries a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchBinding {
    /// Branch staff: every key names its branch (DOMAIN.md §2, last line).
    Required,
    /// A supervisor is either a branch supervisor or a national one.
    Optional,
    /// Integrations and operators act for the whole country.
    Forbidden,
}

impl Role {
    pub fn branch_binding(self) -> BranchBinding {
        match self {
            Role::AccumulationClerk | Role::IssuanceClerk | Role::StateCourier => {
                BranchBinding::Required
            }
            Role::Supervisor => BranchBinding::Optional,
            Role::Kaspi | Role::RegistryOffice | Role::Admin => BranchBinding::Forbidden,
        }
    }

    /// Checks that a key of this role may be issued with (or without) a branch.
    pub fn check_branch(self, has_branch: bool) -> Result<(), RoleBranchMismatch> {
        match (self.branch_binding(), has_branch) {
            (BranchBinding::Required, false) => Err(RoleBranchMismatch::BranchRequired(self)),
            (BranchBinding::Forbidden, true) => Err(RoleBranchMismatch::BranchNotAllowed(self)),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleBranchMismatch {
    #[error("role {0} is branch staff: a key for it must name its branch")]
    BranchRequired(Role),
    #[error("role {0} acts for the whole country: a key for it cannot name a branch")]
    BranchNotAllowed(Role),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role '{0}'; expected one of: kaspi, registry_office, accumulation_clerk, issuance_clerk, state_courier, supervisor, admin"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn branch_staff_keys_must_name_a_branch() {
        assert!(Role::AccumulationClerk.check_branch(false).is_err());
        assert!(Role::StateCourier.check_branch(true).is_ok());
        assert!(Role::Supervisor.check_branch(false).is_ok());
        assert!(Role::Supervisor.check_branch(true).is_ok());
        assert!(Role::Kaspi.check_branch(true).is_err());
        assert!(Role::Admin.check_branch(false).is_ok());
    }
}
