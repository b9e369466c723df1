//! `Authorization: Bearer <token>` and "which roles may call this endpoint", in one extractor:
//! a handler takes `Authorized<Admins>` (or another policy) and never checks roles itself.

use super::AppState;
use crate::api::error::{ApiError, ErrorCode};
use crate::db::models::api_key::Principal;
use crate::db::models::branch::BranchScope;
use crate::domain::role::Role;
use crate::workflows::Reason;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use std::marker::PhantomData;

/// Which roles may call an endpoint.
pub trait Policy {
    const ROLES: &'static [Role];
}

/// Every authenticated caller.
pub struct AnyRole;
impl Policy for AnyRole {
    const ROLES: &'static [Role] = &Role::ALL;
}

/// Operators: keys and reference data.
pub struct Admins;
impl Policy for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Branch and national supervisors.
pub struct Supervisors;
impl Policy for Supervisors {
    const ROLES: &'static [Role] = &[Role::Supervisor];
}

/// Kaspi's integration.
pub struct KaspiIntegration;
impl Policy for KaspiIntegration {
    const ROLES: &'static [Role] = &[Role::Kaspi];
}

/// The registry office's integration (ИС ЗАГС).
pub struct RegistryOffice;
impl Policy for RegistryOffice {
    const ROLES: &'static [Role] = &[Role::RegistryOffice];
}

/// The accumulation sector.
pub struct AccumulationClerks;
impl Policy for AccumulationClerks {
    const ROLES: &'static [Role] = &[Role::AccumulationClerk];
}

/// The issuance sector.
pub struct IssuanceClerks;
impl Policy for IssuanceClerks {
    const ROLES: &'static [Role] = &[Role::IssuanceClerk];
}

/// Who signs for envelopes: the State courier, or the clerk recording it for them (п.17, 33).
pub struct Couriers;
impl Policy for Couriers {
    const ROLES: &'static [Role] = &[Role::StateCourier, Role::AccumulationClerk];
}

/// Everyone who works with a branch's documents.
pub struct BranchStaff;
impl Policy for BranchStaff {
    const ROLES: &'static [Role] = &[
        Role::AccumulationClerk,
        Role::IssuanceClerk,
        Role::StateCourier,
        Role::Supervisor,
    ];
}

/// The caller, known to hold one of `P`'s roles.
pub struct Authorized<P> {
    pub principal: Principal,
    _policy: PhantomData<P>,
}

impl<P: Policy> Authorized<P> {
    /// The caller, if its role is one of `P`'s: the one check every endpoint and every console
    /// page makes.
    pub fn for_principal(principal: Principal) -> Result<Self, ApiError> {
        if !P::ROLES.contains(&principal.role) {
            return Err(ApiError::new(
                ErrorCode::Refused(Reason::RoleForbidden),
                format!(
                    "role {} may not call this endpoint; allowed: {}",
                    principal.role,
                    P::ROLES
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(Authorized {
            principal,
            _policy: PhantomData,
        })
    }
}

impl<P> Authorized<P> {
    /// Which branches' records this caller may read and change.
    pub fn scope(&self) -> &BranchScope {
        &self.principal.scope
    }

    /// How much of a citizen's personal data this caller is shown.
    pub fn disclosure(&self) -> crate::domain::personal_data::Disclosure {
        crate::domain::personal_data::Disclosure::of(self.principal.role)
    }

    /// For what concerns the whole country (the national calendar, national force majeure):
    /// a key bound to a branch may not.
    pub fn require_national(&self, what: &str) -> Result<(), ApiError> {
        match &self.principal.scope {
            BranchScope::All => Ok(()),
            BranchScope::Only { code, .. } => Err(ApiError::new(
                ErrorCode::Refused(Reason::BranchForbidden),
                format!(
                    "{what} concerns the whole country; a key bound to branch {code} may not change it"
                ),
            )),
        }
    }

    /// The caller's own branch (branch staff always have one).
    pub fn own_branch(&self) -> Result<crate::domain::ids::BranchId, ApiError> {
        match &self.principal.scope {
            BranchScope::Only { id, .. } => Ok(*id),
            BranchScope::All => Err(ApiError::new(
                ErrorCode::Refused(Reason::BranchForbidden),
                "this action is done by staff of a branch; the key is not bound to one",
            )),
        }
    }

    /// For a record of one branch.
    pub fn require_branch(
        &self,
        branch_id: crate::domain::ids::BranchId,
        code: &str,
    ) -> Result<(), ApiError> {
        if self.principal.scope.allows(branch_id) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Refused(Reason::BranchForbidden),
                format!("branch {code} is not your branch"),
            ))
        }
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingToken,
            "send an API key as 'Authorization: Bearer <token>'",
        )
    })?;
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidToken,
            "the API key is malformed, unknown or revoked",
        )
    };
    let value = value.to_str().map_err(|_| invalid())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(invalid)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > 256 {
        return Err(invalid());
    }
    Ok(token.to_owned())
}

impl<P: Policy + 'static> FromRequest for Authorized<P> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            let state = state
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
            let principal = state.authenticate(token).await?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidToken,
                    "the API key is malformed, unknown or revoked",
                )
            })?;
            let span = tracing::Span::current();
            span.record("key_id", tracing::field::display(principal.key_id));
            span.record("role", principal.role.as_str());
            Authorized::for_principal(principal)
        })
    }
}
